/*
 * sp_token: API tokens. A token is "spool_" followed by 43 base64url characters (32 bytes
 * from the kernel's random source). Only its SHA-256 hash (lowercase hex) is stored, in
 * spool.api_tokens; the token itself is shown once, when it is created.
 *
 * sp_sha256 is a plain FIPS 180-4 implementation, here because the token hash is the only
 * cryptographic need of Spool and it does not justify a TLS library dependency.
 */
#ifndef SP_TOKEN_H
#define SP_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "sp_err.h"

#define SP_TOKEN_PREFIX "spool_"
#define SP_TOKEN_LEN 49 /* prefix + 43 characters, without the NUL */

/* SHA-256 of len bytes at data, into out (32 bytes). */
void sp_sha256(const void *data, size_t len, uint8_t out[32]);

/* SHA-256 of a string as 64 lowercase hex digits and a NUL. */
void sp_sha256_hex(const char *text, size_t len, char out_hex[65]);

/* A new random token into out (outlen >= SP_TOKEN_LEN + 1). SP_E_IO when the random
 * source fails, SP_E_RANGE when out is too small. */
SP_MUSTCHECK int sp_token_generate(char *out, size_t outlen);

/* The stored form of a token: its SHA-256 as lowercase hex. */
void sp_token_hash(const char *token, char out_hex[65]);

#endif

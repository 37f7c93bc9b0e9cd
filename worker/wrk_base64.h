/*
 * wrk_base64: decoding the base64 images that services put in JSON responses (A1111's
 * "images", OpenAI's "b64_json"). Accepts the standard and URL-safe alphabets, missing
 * padding, embedded white space and a leading "data:<type>;base64," prefix.
 */
#ifndef WRK_BASE64_H
#define WRK_BASE64_H

#include <stddef.h>

#include "sp_err.h"

/* Decodes text into an owned malloc'd buffer (*out, *outlen; free with free()). SP_E_PARSE
 * on a character outside the alphabet, SP_E_NOMEM when out of memory. When the text had a
 * data: prefix and media_type is non-NULL, the type is copied there (else "" is written). */
SP_MUSTCHECK int wrk_base64_decode(const char *text, unsigned char **out, size_t *outlen,
                                   char *media_type, size_t media_type_len);

#endif

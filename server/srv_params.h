/*
 * srv_params: strict parsers for the values spoold reads from query strings, headers and
 * path segments, and the opaque list cursor.
 *
 * Each parser accepts exactly the documented form (no sign, no spaces, no trailing bytes)
 * and reports anything else as SP_E_INVAL, so that a handler can answer 400/422 before the
 * database sees the value. Pure functions: no allocation, thread-safe.
 *
 * The cursor of GET /v1/jobs is opaque to clients: a version byte and the 16 bytes of the
 * last job id of a page, base64url-encoded without padding (SRV_PARAMS_CURSOR_LEN
 * characters). Only a cursor this encoder produced decodes.
 */
#ifndef SRV_PARAMS_H
#define SRV_PARAMS_H

#include <stdbool.h>
#include <stdint.h>

#include "sp_err.h"

#define SRV_PARAMS_UUID_LEN 36
#define SRV_PARAMS_CURSOR_LEN 23

/* Whether s is a UUID in its 8-4-4-4-12 hexadecimal text form (either case). */
bool srv_params_is_uuid(const char *s);

/* A decimal integer from lo to hi (digits only). NULL gives def. SP_E_INVAL otherwise. */
SP_MUSTCHECK int srv_params_int(const char *s, int64_t lo, int64_t hi, int64_t def, int64_t *out);

/* An event id (Last-Event-ID): a non-negative decimal integer; NULL or "" give -1 (none). */
SP_MUSTCHECK int srv_params_event_id(const char *s, int64_t *out);

/* Whether s names a job status (blocked, scheduled, pending, running, completed, failed,
 * dead, cancelled). */
bool srv_params_job_status(const char *s);

/* Encodes a job id (UUID text) as a cursor into out (NUL-terminated). SP_E_INVAL when uuid
 * is not a UUID. */
SP_MUSTCHECK int srv_params_cursor_encode(const char *uuid, char out[SRV_PARAMS_CURSOR_LEN + 1]);

/* Decodes a cursor into the job id's lowercase UUID text. SP_E_INVAL for anything the
 * encoder cannot have produced. */
SP_MUSTCHECK int srv_params_cursor_decode(const char *cursor, char uuid[SRV_PARAMS_UUID_LEN + 1]);

#endif

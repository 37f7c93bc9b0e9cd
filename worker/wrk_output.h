/*
 * wrk_output: the output store, where connectors put the files a job produces (images,
 * video) so that its result can carry URLs instead of bytes.
 *
 * Two kinds, chosen by output_store:
 *   local  files under output_dir/<job id>/<name>, written to a temporary name, fsynced and
 *          renamed; the URL is output_public_url/<job id>/<name> when that is set, else
 *          file://<absolute path>;
 *   s3     a PUT to an S3-compatible bucket signed with AWS SigV4 (libcurl
 *          CURLOPT_AWS_SIGV4), key <prefix><job id>/<name>; the URL is output_public_url/<key>
 *          when set, else the object's URL at the endpoint.
 *
 * Each stored output is described by {"url", "media_type", "size", "width", "height",
 * "name"}; media_type is detected from the bytes (wrk_media) when the caller gives none,
 * width and height are present for PNG, JPEG, GIF and WebP.
 *
 * Thread-safe after creation: job threads store outputs concurrently. Never logs secrets.
 */
#ifndef WRK_OUTPUT_H
#define WRK_OUTPUT_H

#include <stddef.h>

#include <json-c/json.h>

#include "sp_config.h"
#include "sp_err.h"

typedef struct wrk_output wrk_output;

/* Creates the store from the worker configuration (output_* settings). */
SP_MUSTCHECK int wrk_output_new(const sp_config *cfg, wrk_output **out, char *err, size_t errlen);
void wrk_output_free(wrk_output *o);

/* Reduces a name hint to a safe file name: letters, digits, '.', '-' and '_' only, no
 * leading dot, at most 100 bytes; "output" when nothing is left. */
void wrk_output_safe_name(const char *hint, char *out, size_t outlen);

/*
 * Stores len bytes for job_id as its seq-th output (1 for the first; later outputs get a
 * "<seq>-" prefix so names never collide). media_type NULL = detect. *descriptor is owned.
 * err explains a failure (never with a secret in it).
 */
SP_MUSTCHECK int wrk_output_store(wrk_output *o, const char *job_id, int seq, const void *data,
                                  size_t len, const char *name_hint, const char *media_type,
                                  json_object **descriptor, char *err, size_t errlen);

/* --check: whether the store is usable (the directory is writable; the bucket answers).
 * msg says what was found. 0 when healthy. */
SP_MUSTCHECK int wrk_output_check(wrk_output *o, char *msg, size_t msglen);

#endif

/*
 * wrk_http: the libcurl plumbing the worker's HTTP-speaking connectors share.
 *
 * One call, wrk_http_perform, runs one request to its end with the worker's rules applied:
 * connect and total timeouts, TLS verification on, http/https only, a bounded response body,
 * and a prompt abort (within about 100 ms) once the job must stop. The outcome helpers map
 * what happened to the connector contract (wrk_connector.h): 5xx, 408, 429, timeouts and
 * connection errors are retryable, other 4xx are permanent, a stop is a cancellation.
 *
 * Threading: call wrk_http_global_init once from the main thread before any job thread runs
 * (connectors do it from create()); after that every function is safe from any thread. A
 * request and its response belong to the calling thread.
 *
 * Ownership: wrk_http_request only borrows its strings. wrk_http_response owns its body
 * buffer; release it with wrk_http_response_free (safe on a zeroed or already freed one).
 * Secrets (bearer tokens, basic-auth credentials) are sent but never logged or copied into
 * error messages.
 */
#ifndef WRK_HTTP_H
#define WRK_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "sp_buf.h"
#include "sp_err.h"
#include "wrk_connector.h"

/* Defaults for requests that leave the matching field 0. */
#define WRK_HTTP_DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define WRK_HTTP_DEFAULT_TIMEOUT_MS 60000L
#define WRK_HTTP_DEFAULT_MAX_RESPONSE ((size_t)64 * 1024 * 1024)

/* Called on the requesting thread about every tick_interval_ms while a transfer runs (e.g.
 * to poll a progress endpoint). Returning non-zero aborts the transfer as stopped. */
typedef int (*wrk_http_tick_fn)(void *arg);

typedef struct {
    const char *method; /* "GET" when NULL; "POST", "PUT", "DELETE", … */
    const char *url;
    const char *const *headers; /* NULL-terminated "Name: value" list, or NULL */
    const char *bearer_token;   /* sent as "Authorization: Bearer …"; NULL = none */
    const char *basic_auth;     /* "user:password" for HTTP Basic; NULL = none */
    const void *body;           /* request body, or NULL */
    size_t body_len;
    const char *content_type; /* of the body; "application/json" when NULL and body set */
    long connect_timeout_ms;  /* 0 = WRK_HTTP_DEFAULT_CONNECT_TIMEOUT_MS */
    long timeout_ms;          /* whole request; 0 = WRK_HTTP_DEFAULT_TIMEOUT_MS */
    size_t max_response;      /* body bytes kept at most; 0 = WRK_HTTP_DEFAULT_MAX_RESPONSE */
    int follow_redirects;     /* follow up to 5 redirects (downloads) */
    wrk_job_ctx *ctx;         /* abort once wrk_job_should_stop(ctx); NULL = never */
    wrk_http_tick_fn tick;    /* optional, see wrk_http_tick_fn */
    void *tick_arg;
    long tick_interval_ms; /* 0 = 1000 */
} wrk_http_request;

/* How a request ended, before looking at the HTTP status. */
typedef enum {
    WRK_HTTP_DONE = 0,    /* a complete response arrived (any status) */
    WRK_HTTP_E_CONNECT,   /* could not resolve or connect */
    WRK_HTTP_E_TIMEOUT,   /* connect or total timeout passed */
    WRK_HTTP_E_TRANSFER,  /* connection closed or broken mid-response, bad framing */
    WRK_HTTP_E_TLS,       /* certificate or handshake failure */
    WRK_HTTP_E_TOO_LARGE, /* the body passed max_response */
    WRK_HTTP_E_STOPPED,   /* the job must stop (or a tick asked to) */
    WRK_HTTP_E_OTHER,     /* bad URL, unsupported protocol, out of memory, … */
} wrk_http_status;

typedef struct {
    wrk_http_status status;
    long code;              /* HTTP status; 0 when none arrived */
    sp_buf *body;           /* owned; the body as received (NUL-terminated) */
    char content_type[128]; /* Content-Type without parameters, lowercased; "" when absent */
    long retry_after_s;     /* Retry-After in seconds; -1 when absent */
    int should_retry;       /* x-should-retry: 1 true, 0 false, -1 absent */
    char error[256];        /* transport error text when status != WRK_HTTP_DONE */
} wrk_http_response;

/* Initializes libcurl once for the process (idempotent, thread-safe after the first call). */
SP_MUSTCHECK int wrk_http_global_init(void);

/*
 * Runs the request. Returns 0 when the request ran, whatever its outcome (read resp->status
 * and resp->code); a negative SP_E_* only for programmer or resource errors (SP_E_INVAL,
 * SP_E_NOMEM). resp is initialized by the call and must be released with
 * wrk_http_response_free in every case.
 */
SP_MUSTCHECK int wrk_http_perform(const wrk_http_request *req, wrk_http_response *resp);
void wrk_http_response_free(wrk_http_response *resp);

/* The body as a borrowed NUL-terminated string ("" when none) and its length. */
const char *wrk_http_body(const wrk_http_response *resp);
size_t wrk_http_body_len(const wrk_http_response *resp);

/* 1 for a complete 2xx response. */
int wrk_http_ok(const wrk_http_response *resp);

/* Parses the body as JSON into an owned *out (NULL for "null"). SP_E_PARSE when it is not. */
SP_MUSTCHECK int wrk_http_json(const wrk_http_response *resp, json_object **out);

/*
 * The outcome a failed request deserves: CONNECT, TIMEOUT, TRANSFER and TLS are retryable;
 * TOO_LARGE and OTHER are permanent; STOPPED maps through wrk_http_stop_outcome; for a
 * complete response, x-should-retry wins when present, then 408, 409, 425, 429 and 5xx are
 * retryable and everything else (other 4xx, unexpected 1xx/3xx) is permanent.
 */
wrk_outcome wrk_http_outcome(const wrk_http_response *resp, wrk_job_ctx *ctx);

/* The outcome for a job that stopped because wrk_job_should_stop said so: a timeout is
 * retryable (the job ran out of time), a cancellation or shutdown is WRK_OUTCOME_CANCELLED. */
wrk_outcome wrk_http_stop_outcome(wrk_job_ctx *ctx);

/*
 * Extracts the service's own error message from an error body into out: the shapes of
 * OpenAI and ComfyUI ({"error": {"message": …}}), A1111 ({"error": "…", "detail": "…",
 * "errors": "…"}), FastAPI ({"detail": "…"} or {"detail": [{"loc": […], "msg": …}]}),
 * {"message": …}, {"error": "…"}, else the first line of a text body. Writes "" when there
 * is nothing. Always NUL-terminates. Returns out.
 */
const char *wrk_http_error_message(const wrk_http_response *resp, char *out, size_t outlen);

/*
 * Fills res for a failed request: outcome from wrk_http_outcome and an error message
 * "<what>: HTTP 503: <service message> (retry after 20 s)" or "<what>: <transport error>".
 * When secret is non-NULL every occurrence of it in the message is replaced by "***".
 */
void wrk_http_fail(wrk_result *res, const wrk_http_response *resp, wrk_job_ctx *ctx,
                   const char *what, const char *secret);

/* Sets res->outcome and formats res->error; the message is cut to fit. */
void wrk_http_failf(wrk_result *res, wrk_outcome outcome, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Percent-encodes s for a URL query value or path segment into out (NUL-terminated).
 * SP_E_RANGE when it does not fit. */
SP_MUSTCHECK int wrk_http_escape(const char *s, char *out, size_t outlen);

/*
 * A media type for a downloaded file: content_type when it is specific (not empty,
 * application/octet-stream, binary/octet-stream or text/plain), else one guessed from the
 * filename's extension (png, jpg, jpeg, webp, gif, mp4, webm, mov, mkv, wav, mp3, flac, ogg,
 * glb, obj, json, txt), else NULL (let the output store detect it from the bytes).
 */
const char *wrk_http_media_type(const char *content_type, const char *filename);

/*
 * Stores one output through wrk_job_store_output and appends its descriptor to outputs (a
 * JSON array). On failure fills res (retryable: the store may come back) and returns a
 * negative SP_E_* code. extra, when non-NULL, is an owned object whose keys are merged into
 * the descriptor (e.g. the node that produced it); it is consumed in every case.
 */
SP_MUSTCHECK int wrk_http_store(wrk_job_ctx *ctx, const void *data, size_t len,
                                const char *name_hint, const char *media_type, json_object *extra,
                                json_object *outputs, wrk_result *res, const char *what);

/*
 * Downloads one output with GET (redirects followed; base supplies timeouts, the size bound,
 * the stop context and any credentials — leave them out for third-party URLs) and stores it
 * with wrk_http_store; the media type comes from wrk_http_media_type(Content-Type,
 * name_hint). On failure fills res and returns a negative SP_E_* code.
 */
SP_MUSTCHECK int wrk_http_fetch_output(const wrk_http_request *base, const char *url,
                                       const char *name_hint, json_object *extra,
                                       json_object *outputs, wrk_result *res, const char *what);

/* Sleeps up to ms milliseconds, waking early when the job must stop. Returns non-zero when
 * it stopped early because of ctx (ctx may be NULL: a plain sleep). */
int wrk_http_sleep(wrk_job_ctx *ctx, long ms);

/* Milliseconds on a monotonic clock. */
int64_t wrk_http_now_ms(void);

#endif

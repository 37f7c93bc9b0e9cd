/*
 * wrk_connector: the contract between the worker loop and the connectors that run jobs.
 *
 * A connector serves one service name (the job's service_required: "simulation", "http",
 * "openai", "comfyui", "a1111", "comfydeploy", "exec"). The loop creates each configured
 * connector once at start-up, asks it for the models it can serve (capabilities) and runs
 * jobs on it from up to `concurrency` job threads at once.
 *
 * Threading: create/destroy/models/check run on the main thread. run() runs on a job thread
 * and may block (network, child process); several run() calls of one connector may be in
 * flight at once, so a connector's shared state must be read-only or locked. The job
 * context functions below are thread-safe.
 *
 * Ownership: wrk_job and everything it points to is borrowed for the duration of run().
 * run() sets res->result to an owned json-c object (or leaves it NULL); the loop takes it.
 */
#ifndef WRK_CONNECTOR_H
#define WRK_CONNECTOR_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "sp_err.h"

/* Connector settings: a read-only view of the worker configuration scoped to one connector
 * (keys "<connector>_<key>" in worker.conf, e.g. comfyui_url). Getters return the default
 * when the key is unset. Strings are borrowed for the life of the worker. */
typedef struct wrk_connector_config wrk_connector_config;
const char *wrk_connector_config_string(const wrk_connector_config *cfg, const char *key,
                                        const char *def);
int64_t wrk_connector_config_int(const wrk_connector_config *cfg, const char *key, int64_t def);

/* One claimed job, as the connector sees it. */
typedef struct {
    const char *id;              /* job uuid */
    const char *type;            /* job type name */
    const char *worker_id;       /* this worker */
    int attempt;                 /* 1 on the first run */
    int timeout_seconds;         /* the job's run-time limit; the loop enforces it too */
    struct json_object *payload; /* borrowed; never NULL (an empty object at least) */
} wrk_job;

/* The loop's side of one running job. */
typedef struct wrk_job_ctx wrk_job_ctx;

/* Reports progress (0..100) and an optional message (may be NULL). Cheap: the loop
 * coalesces updates and sends them with its next heartbeat/progress call. */
void wrk_job_progress(wrk_job_ctx *ctx, int percent, const char *message);

/* Non-zero once the job must stop: cancellation requested (seen through heartbeat), its
 * timeout passed, or the worker is shutting down past its grace period. Connectors poll
 * it (e.g. from a libcurl progress callback, or between polls of a remote status). */
int wrk_job_should_stop(wrk_job_ctx *ctx);

/* Why should_stop became true; WRK_STOP_NONE while it is false. */
typedef enum {
    WRK_STOP_NONE = 0,
    WRK_STOP_CANCELLED,
    WRK_STOP_TIMEOUT,
    WRK_STOP_SHUTDOWN,
} wrk_stop_reason;
wrk_stop_reason wrk_job_stop_reason(wrk_job_ctx *ctx);

/* Stores one output (image, video, file) in the configured output store (a local directory
 * or an S3-compatible bucket) and returns an owned descriptor object:
 * {"url":…, "media_type":…, "size":N, "width":W, "height":H (when known), "name":…}.
 * media_type may be NULL: it is then detected from the bytes. */
SP_MUSTCHECK int wrk_job_store_output(wrk_job_ctx *ctx, const void *data, size_t len,
                                      const char *name_hint, const char *media_type,
                                      struct json_object **descriptor);

typedef enum {
    WRK_OUTCOME_COMPLETED = 0,    /* res->result is the job's result */
    WRK_OUTCOME_FAILED_RETRYABLE, /* 5xx, 429, timeouts, connection errors */
    WRK_OUTCOME_FAILED_PERMANENT, /* bad payload, other 4xx: retrying cannot help */
    WRK_OUTCOME_CANCELLED,        /* stopped because wrk_job_should_stop said so */
} wrk_outcome;

typedef struct {
    wrk_outcome outcome;
    struct json_object *result; /* owned; set on COMPLETED (may also carry partial output) */
    char error[1024];           /* a clear message on failure; never a secret */
} wrk_result;

typedef struct {
    const char *name; /* the service name it serves */
    /* Creates the connector's state from its settings; a clear message in err on failure. */
    int (*create)(const wrk_connector_config *cfg, void **state, char *err, size_t errlen);
    void (*destroy)(void *state);
    /* Models this connector can serve, as an owned JSON array of strings (for the worker's
     * capabilities, models.<service>). NULL function = none / configured list only. */
    int (*models)(void *state, struct json_object **models, char *err, size_t errlen);
    /* --check: reaches the service and says what it found (msg), 0 when healthy. */
    int (*check)(void *state, char *msg, size_t msglen);
    /* Runs one job to its end; blocking; fills res. */
    void (*run)(void *state, const wrk_job *job, wrk_job_ctx *ctx, wrk_result *res);
    /* Optional: non-zero when run() of this job returns at once without blocking (e.g. a
     * zero-duration simulation job), so the loop may call run() on its own thread with no
     * hand-off to a job thread. NULL = never. */
    int (*runs_inline)(void *state, const wrk_job *job);
} wrk_connector_ops;

/* The connectors built into spool-worker (each defined in worker/connectors/<name>.c). */
extern const wrk_connector_ops wrk_connector_simulation;
extern const wrk_connector_ops wrk_connector_http;
extern const wrk_connector_ops wrk_connector_exec;
extern const wrk_connector_ops wrk_connector_openai;
extern const wrk_connector_ops wrk_connector_comfyui;
extern const wrk_connector_ops wrk_connector_a1111;
extern const wrk_connector_ops wrk_connector_comfydeploy;

#endif

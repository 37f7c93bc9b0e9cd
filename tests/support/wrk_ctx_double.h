/*
 * wrk_ctx_double: a test double of the worker loop's side of wrk_connector.h, so that
 * connectors can be tested without the loop: the job context (progress, stop, output store)
 * and the connector configuration view.
 *
 * The context records every progress report and stored output, and can be told to stop on
 * its own: at a time, or once a progress at or above a percentage has been reported — which
 * is how tests cancel a job mid-run. Thread-safe like the real one.
 */
#ifndef WRK_CTX_DOUBLE_H
#define WRK_CTX_DOUBLE_H

#include <pthread.h>
#include <stdint.h>

#include <json-c/json.h>

#include "wrk_connector.h"

struct wrk_job_ctx {
    pthread_mutex_t mu;
    int stop;
    wrk_stop_reason reason;
    /* Stop plans: 0 / -1 = never. */
    int64_t stop_at_ms;  /* monotonic ms (wrk_http_now_ms clock) */
    int stop_at_percent; /* stop once a progress >= this is reported */
    wrk_stop_reason plan_reason;
    int64_t stopped_at_ms; /* when stop became true */
    /* What the connector reported. */
    int progress_calls;
    int first_pct;
    int last_pct;
    int max_pct;
    int backwards; /* a report lower than an earlier one */
    char last_msg[256];
    char msgs[4096];     /* every distinct message, '|'-separated */
    json_object *stored; /* array of descriptors handed out */
    size_t stored_bytes;
    int store_fail; /* make wrk_job_store_output fail */
};

void tctx_init(wrk_job_ctx *ctx);
void tctx_free(wrk_job_ctx *ctx);
/* Makes the context stop after ms milliseconds from now, with reason. */
void tctx_stop_after(wrk_job_ctx *ctx, int64_t ms, wrk_stop_reason reason);
/* Makes the context stop once a progress >= percent is reported. */
void tctx_stop_at_percent(wrk_job_ctx *ctx, int percent, wrk_stop_reason reason);

/* The configuration view: "key", "value" pairs ending with NULL (keys without the
 * connector prefix, as connectors ask for them). */
struct wrk_connector_config {
    const char *const *kv;
};

#endif

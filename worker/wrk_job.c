/* wrk_job: job records and the loop side of the connector contract; see wrk_job.h. */
#include "wrk_job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sp_log.h"

int64_t wrk_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int wrk_rec_new(wrk_claimed_job *cj, const char *worker_id, int conn, int64_t now_ms,
                wrk_output *store, wrk_rec **out)
{
    wrk_rec *rec = calloc(1, sizeof(*rec));
    if (rec == NULL)
        return SP_E_NOMEM;
    memcpy(rec->id, cj->id, sizeof(rec->id));
    memcpy(rec->lease, cj->lease, sizeof(rec->lease));
    rec->type = cj->type;
    rec->payload = cj->payload;
    cj->type = NULL;
    cj->payload = NULL;
    rec->conn = conn;
    rec->claimed_ms = now_ms;
    rec->deadline_ms =
        cj->timeout_seconds > 0 ? now_ms + (int64_t)cj->timeout_seconds * 1000 : INT64_MAX;
    rec->job.id = rec->id;
    rec->job.type = rec->type;
    rec->job.worker_id = worker_id;
    rec->job.attempt = cj->attempt;
    rec->job.timeout_seconds = cj->timeout_seconds;
    rec->job.payload = rec->payload;
    atomic_init(&rec->ctx.stop, WRK_STOP_NONE);
    atomic_init(&rec->ctx.outputs, 0);
    pthread_mutex_init(&rec->ctx.mu, NULL);
    rec->ctx.job_id = rec->id;
    rec->ctx.store = store;
    *out = rec;
    return 0;
}

void wrk_rec_free(wrk_rec *rec)
{
    if (rec == NULL)
        return;
    pthread_mutex_destroy(&rec->ctx.mu);
    free(rec->type);
    json_object_put(rec->payload);
    json_object_put(rec->res.result);
    free(rec->result_text);
    free(rec);
}

bool wrk_job_request_stop(wrk_job_ctx *ctx, wrk_stop_reason reason)
{
    int expected = WRK_STOP_NONE;
    return atomic_compare_exchange_strong(&ctx->stop, &expected, (int)reason);
}

bool wrk_job_take_progress(wrk_job_ctx *ctx, int *percent, char *message, size_t msglen,
                           bool *has_message)
{
    bool dirty;
    pthread_mutex_lock(&ctx->mu);
    dirty = ctx->dirty;
    if (dirty) {
        *percent = ctx->percent;
        *has_message = ctx->has_message;
        snprintf(message, msglen, "%s", ctx->message);
        ctx->dirty = false;
    }
    pthread_mutex_unlock(&ctx->mu);
    return dirty;
}

/* ---- the connector contract ----------------------------------------------------------- */

void wrk_job_progress(wrk_job_ctx *ctx, int percent, const char *message)
{
    if (ctx == NULL)
        return;
    if (percent < 0)
        percent = 0;
    if (percent > 100)
        percent = 100;
    pthread_mutex_lock(&ctx->mu);
    ctx->percent = percent;
    ctx->has_message = message != NULL;
    snprintf(ctx->message, sizeof(ctx->message), "%s", message != NULL ? message : "");
    ctx->dirty = true;
    pthread_mutex_unlock(&ctx->mu);
}

int wrk_job_should_stop(wrk_job_ctx *ctx)
{
    return ctx != NULL && atomic_load(&ctx->stop) != WRK_STOP_NONE;
}

wrk_stop_reason wrk_job_stop_reason(wrk_job_ctx *ctx)
{
    return ctx != NULL ? (wrk_stop_reason)atomic_load(&ctx->stop) : WRK_STOP_NONE;
}

int wrk_job_store_output(wrk_job_ctx *ctx, const void *data, size_t len, const char *name_hint,
                         const char *media_type, struct json_object **descriptor)
{
    char err[512];
    if (ctx == NULL || descriptor == NULL || (data == NULL && len > 0))
        return SP_E_INVAL;
    if (ctx->store == NULL)
        return SP_E_INVAL;
    int seq = atomic_fetch_add(&ctx->outputs, 1) + 1;
    int rc = wrk_output_store(ctx->store, ctx->job_id, seq, data, len, name_hint, media_type,
                              descriptor, err, sizeof(err));
    if (rc < 0) {
        char quoted[600];
        sp_log_warn("worker", "output_failed", "job=%s error=%s", ctx->job_id,
                    sp_log_quote(err, quoted, sizeof(quoted)));
    }
    return rc;
}

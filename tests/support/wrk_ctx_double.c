/* wrk_ctx_double: the loop side of wrk_connector.h for connector tests; see the header. */
#include "wrk_ctx_double.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t double_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void tctx_init(wrk_job_ctx *ctx)
{
    memset(ctx, 0, sizeof(*ctx));
    pthread_mutex_init(&ctx->mu, NULL);
    ctx->stop_at_percent = -1;
    ctx->first_pct = -1;
    ctx->last_pct = -1;
    ctx->max_pct = -1;
    ctx->stored = json_object_new_array();
}

void tctx_free(wrk_job_ctx *ctx)
{
    json_object_put(ctx->stored);
    pthread_mutex_destroy(&ctx->mu);
}

void tctx_stop_after(wrk_job_ctx *ctx, int64_t ms, wrk_stop_reason reason)
{
    pthread_mutex_lock(&ctx->mu);
    ctx->stop_at_ms = double_now_ms() + ms;
    ctx->plan_reason = reason;
    pthread_mutex_unlock(&ctx->mu);
}

void tctx_stop_at_percent(wrk_job_ctx *ctx, int percent, wrk_stop_reason reason)
{
    pthread_mutex_lock(&ctx->mu);
    ctx->stop_at_percent = percent;
    ctx->plan_reason = reason;
    pthread_mutex_unlock(&ctx->mu);
}

static void double_stop_locked(wrk_job_ctx *ctx)
{
    if (!ctx->stop) {
        ctx->stop = 1;
        ctx->reason = ctx->plan_reason ? ctx->plan_reason : WRK_STOP_CANCELLED;
        ctx->stopped_at_ms = double_now_ms();
    }
}

void wrk_job_progress(wrk_job_ctx *ctx, int percent, const char *message)
{
    pthread_mutex_lock(&ctx->mu);
    ctx->progress_calls++;
    if (ctx->first_pct < 0)
        ctx->first_pct = percent;
    if (percent < ctx->max_pct)
        ctx->backwards = 1;
    if (percent > ctx->max_pct)
        ctx->max_pct = percent;
    ctx->last_pct = percent;
    if (message != NULL) {
        snprintf(ctx->last_msg, sizeof(ctx->last_msg), "%s", message);
        if (strstr(ctx->msgs, message) == NULL) {
            size_t n = strlen(ctx->msgs);
            snprintf(ctx->msgs + n, sizeof(ctx->msgs) - n, "%s|", message);
        }
    }
    if (ctx->stop_at_percent >= 0 && percent >= ctx->stop_at_percent)
        double_stop_locked(ctx);
    pthread_mutex_unlock(&ctx->mu);
}

int wrk_job_should_stop(wrk_job_ctx *ctx)
{
    pthread_mutex_lock(&ctx->mu);
    if (!ctx->stop && ctx->stop_at_ms > 0 && double_now_ms() >= ctx->stop_at_ms)
        double_stop_locked(ctx);
    int stop = ctx->stop;
    pthread_mutex_unlock(&ctx->mu);
    return stop;
}

wrk_stop_reason wrk_job_stop_reason(wrk_job_ctx *ctx)
{
    pthread_mutex_lock(&ctx->mu);
    wrk_stop_reason r = ctx->stop ? ctx->reason : WRK_STOP_NONE;
    pthread_mutex_unlock(&ctx->mu);
    return r;
}

static const char *double_detect(const unsigned char *p, size_t len)
{
    if (len >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0)
        return "image/png";
    if (len >= 12 && memcmp(p + 4, "ftyp", 4) == 0)
        return "video/mp4";
    if (len >= 3 && memcmp(p, "\xff\xd8\xff", 3) == 0)
        return "image/jpeg";
    return "application/octet-stream";
}

int wrk_job_store_output(wrk_job_ctx *ctx, const void *data, size_t len, const char *name_hint,
                         const char *media_type, struct json_object **descriptor)
{
    const unsigned char *p = data;
    pthread_mutex_lock(&ctx->mu);
    if (ctx->store_fail) {
        pthread_mutex_unlock(&ctx->mu);
        return SP_E_IO;
    }
    size_t seq = json_object_array_length(ctx->stored) + 1;
    char url[256];
    snprintf(url, sizeof(url), "mem://outputs/%zu-%s", seq, name_hint ? name_hint : "output");
    json_object *d = json_object_new_object();
    json_object_object_add(d, "url", json_object_new_string(url));
    json_object_object_add(d, "media_type",
                           json_object_new_string(media_type ? media_type : double_detect(p, len)));
    json_object_object_add(d, "detected", json_object_new_string(double_detect(p, len)));
    json_object_object_add(d, "size", json_object_new_int64((int64_t)len));
    json_object_object_add(d, "name", json_object_new_string(name_hint ? name_hint : "output"));
    if (len >= 24 && strcmp(double_detect(p, len), "image/png") == 0) {
        int w = (p[16] << 24) | (p[17] << 16) | (p[18] << 8) | p[19];
        int h = (p[20] << 24) | (p[21] << 16) | (p[22] << 8) | p[23];
        json_object_object_add(d, "width", json_object_new_int(w));
        json_object_object_add(d, "height", json_object_new_int(h));
    }
    json_object_array_add(ctx->stored, json_object_get(d));
    ctx->stored_bytes += len;
    pthread_mutex_unlock(&ctx->mu);
    *descriptor = d;
    return 0;
}

const char *wrk_connector_config_string(const wrk_connector_config *cfg, const char *key,
                                        const char *def)
{
    for (size_t i = 0; cfg != NULL && cfg->kv != NULL && cfg->kv[i] != NULL; i += 2)
        if (strcmp(cfg->kv[i], key) == 0)
            return cfg->kv[i + 1];
    return def;
}

int64_t wrk_connector_config_int(const wrk_connector_config *cfg, const char *key, int64_t def)
{
    const char *v = wrk_connector_config_string(cfg, key, NULL);
    if (v == NULL)
        return def;
    char *end;
    long long n = strtoll(v, &end, 10);
    return end != v && *end == '\0' ? (int64_t)n : def;
}

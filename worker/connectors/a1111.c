/*
 * a1111: the connector for service_required = 'a1111' (Automatic1111 stable-diffusion-webui
 * started with --api).
 *
 * The payload is the body of POST /sdapi/v1/txt2img or /sdapi/v1/img2img, passed through
 * as it is (A1111 ignores fields it does not know), less three keys of ours:
 * payload.operation ("txt2img" or "img2img"; default img2img when init_images is present),
 * payload.model (a checkpoint title or name, sent as override_settings.sd_model_checkpoint)
 * and nothing else. force_task_id is set to "spool-<job id>-<attempt>" unless given.
 *
 * Generation is one synchronous request; while it runs the same thread polls
 * GET /sdapi/v1/progress every a1111_poll_interval ms (wrk_http's tick) and reports its
 * progress, step and ETA. The images in the answer (base64) are stored with
 * wrk_job_store_output. Result: {"images": [descriptor…], "seeds": [...], "info": {…}}
 * (info is A1111's JSON-in-a-string, parsed).
 *
 * Cancellation aborts the request and sends POST /sdapi/v1/interrupt when the running task
 * is ours (current_task matches our task id, or the server is too old to say). A1111 has no
 * way to drop a request still waiting for its generation lock, so a job cancelled while
 * another generation runs may still be generated later, unseen.
 *
 * Errors: 422 validation lists and A1111's {error, detail, errors} bodies keep their message;
 * other 4xx are permanent, 5xx/timeouts/connection errors retryable; an answer with no images
 * when images were asked for (interrupted by someone else) is retryable.
 *
 * Settings (worker.conf, "a1111_" + key): url (http://127.0.0.1:7860), timeout (600 s for a
 * generation request), connect_timeout (10 s), poll_interval (1000 ms), auth ("user:password"
 * for --api-auth), max_response_mb (256).
 *
 * Threading: the state is read-only after create.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sp_json.h"
#include "wrk_base64.h"
#include "wrk_connector.h"
#include "wrk_http.h"

#define WHAT "a1111"

typedef struct {
    char *url; /* without a trailing slash */
    char *auth;
    long timeout_ms;
    long connect_timeout_ms;
    long poll_ms;
    size_t max_response;
} a1111_state;

static void a1111_destroy(void *arg)
{
    a1111_state *st = arg;
    if (st == NULL)
        return;
    free(st->url);
    if (st->auth != NULL) {
        memset(st->auth, 0, strlen(st->auth));
        free(st->auth);
    }
    free(st);
}

static int a1111_create(const wrk_connector_config *cfg, void **state, char *err, size_t errlen)
{
    *state = NULL;
    if (wrk_http_global_init() < 0) {
        snprintf(err, errlen, "could not initialize libcurl");
        return SP_E_NOMEM;
    }
    a1111_state *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return SP_E_NOMEM;
    const char *auth = wrk_connector_config_string(cfg, "auth", NULL);
    st->url = strdup(wrk_connector_config_string(cfg, "url", "http://127.0.0.1:7860"));
    st->auth = auth != NULL && auth[0] ? strdup(auth) : NULL;
    st->timeout_ms = (long)wrk_connector_config_int(cfg, "timeout", 600) * 1000;
    st->connect_timeout_ms = (long)wrk_connector_config_int(cfg, "connect_timeout", 10) * 1000;
    st->poll_ms = (long)wrk_connector_config_int(cfg, "poll_interval", 1000);
    st->max_response = (size_t)wrk_connector_config_int(cfg, "max_response_mb", 256) << 20;
    if (st->url == NULL || (auth != NULL && auth[0] && st->auth == NULL)) {
        a1111_destroy(st);
        return SP_E_NOMEM;
    }
    size_t n = strlen(st->url);
    while (n > 0 && st->url[n - 1] == '/')
        st->url[--n] = '\0';
    if (st->timeout_ms <= 0 || st->connect_timeout_ms <= 0 || st->poll_ms <= 0 ||
        st->max_response == 0) {
        snprintf(err, errlen,
                 "a1111_timeout, a1111_connect_timeout, a1111_poll_interval and "
                 "a1111_max_response_mb must be positive");
        a1111_destroy(st);
        return SP_E_INVAL;
    }
    if (st->auth != NULL && strchr(st->auth, ':') == NULL) {
        snprintf(err, errlen, "a1111_auth must be user:password");
        a1111_destroy(st);
        return SP_E_INVAL;
    }
    *state = st;
    return 0;
}

static wrk_http_request a1111_request(const a1111_state *st, const char *method, const char *url,
                                      long timeout_ms, wrk_job_ctx *ctx)
{
    return (wrk_http_request){
        .method = method,
        .url = url,
        .basic_auth = st->auth,
        .connect_timeout_ms = st->connect_timeout_ms,
        .timeout_ms = timeout_ms,
        .max_response = st->max_response,
        .ctx = ctx,
    };
}

/* A short request for the side channel (progress, interrupt, models); ctx (may be NULL)
 * aborts it when the job must stop. */
static int a1111_small(const a1111_state *st, const char *method, const char *path,
                       wrk_job_ctx *ctx, wrk_http_response *resp, json_object **out)
{
    char url[1024];
    snprintf(url, sizeof(url), "%s%s", st->url, path);
    long t = st->poll_ms * 3 < 5000 ? 5000 : st->poll_ms * 3;
    if (t > st->timeout_ms)
        t = st->timeout_ms;
    wrk_http_request req = a1111_request(st, method, url, t, ctx);
    if (strcmp(method, "POST") == 0) {
        req.body = "{}";
        req.body_len = 2;
    }
    if (out != NULL)
        *out = NULL;
    int rc = wrk_http_perform(&req, resp);
    if (rc < 0)
        return rc;
    if (!wrk_http_ok(resp))
        return SP_E_IO;
    if (out != NULL && wrk_http_json(resp, out) < 0)
        return SP_E_PARSE;
    return 0;
}

/* What the progress poller learned; owned by the job's thread. */
typedef struct {
    const a1111_state *st;
    wrk_job_ctx *ctx;
    const char *task_id;
    int ours; /* the last poll showed our task running (or could not tell whose) */
    int last_pct;
} a1111_watch;

/* Reads /progress once and updates w; reports progress when the task is ours. ctx aborts
 * the read when the job must stop (NULL: read it anyway, as the interrupt path must). */
static void a1111_poll_progress(a1111_watch *w, wrk_job_ctx *ctx)
{
    wrk_http_response resp;
    json_object *p = NULL, *state = NULL;
    if (a1111_small(w->st, "GET", "/sdapi/v1/progress?skip_current_image=true", ctx, &resp, &p) !=
            0 ||
        !json_object_is_type(p, json_type_object))
        goto out;
    int64_t job_count = 0, step = 0, steps = 0;
    double progress = 0, eta = 0;
    const char *task = NULL;
    if (sp_json_get_object(p, "state", &state) == 0) {
        if (sp_json_get_int(state, "job_count", &job_count) < 0)
            job_count = 0;
        if (sp_json_get_int(state, "sampling_step", &step) < 0)
            step = 0;
        if (sp_json_get_int(state, "sampling_steps", &steps) < 0)
            steps = 0;
    }
    if (sp_json_get_double(p, "progress", &progress) < 0)
        progress = 0;
    if (sp_json_get_double(p, "eta_relative", &eta) < 0)
        eta = 0;
    int has_task = sp_json_get_string(p, "current_task", &task) == 0;
    if (has_task && strcmp(task, w->task_id) != 0) {
        w->ours = 0;
        if (w->last_pct != 0)
            wrk_job_progress(w->ctx, 0, "waiting for another generation to finish");
        w->last_pct = 0;
        goto out;
    }
    /* Old builds do not name the task: a busy server is then assumed to be running ours. */
    w->ours = has_task || job_count != 0;
    if (!w->ours)
        goto out;
    int pct = (int)(progress * 100);
    if (pct > 99)
        pct = 99;
    if (pct < 0)
        pct = 0;
    char msg[96];
    if (steps > 0)
        snprintf(msg, sizeof(msg), "step %lld/%lld, eta %.1f s", (long long)step, (long long)steps,
                 eta);
    else
        snprintf(msg, sizeof(msg), "running");
    wrk_job_progress(w->ctx, pct, msg);
    w->last_pct = pct;
out:
    json_object_put(p);
    wrk_http_response_free(&resp);
}

static int a1111_tick(void *arg)
{
    a1111_watch *w = arg;
    a1111_poll_progress(w, w->ctx);
    return 0;
}

/* Stops our generation on the server if it is the one running. */
static void a1111_interrupt(a1111_watch *w)
{
    a1111_poll_progress(w, NULL);
    if (!w->ours)
        return;
    wrk_http_response resp;
    (void)a1111_small(w->st, "POST", "/sdapi/v1/interrupt", NULL, &resp, NULL);
    wrk_http_response_free(&resp);
}

static void a1111_run(void *arg, const wrk_job *job, wrk_job_ctx *ctx, wrk_result *res)
{
    const a1111_state *st = arg;
    json_object *body = NULL, *answer = NULL, *info = NULL, *result = NULL;
    wrk_http_response resp = {0};
    const char *op = NULL, *model = NULL, *task = NULL;
    char task_id[160], url[1024];

    res->outcome = WRK_OUTCOME_FAILED_PERMANENT;
    if (sp_json_get_string(job->payload, "operation", &op) < 0)
        op = json_object_object_get_ex(job->payload, "init_images", NULL) ? "img2img" : "txt2img";
    if (strcmp(op, "txt2img") != 0 && strcmp(op, "img2img") != 0) {
        wrk_http_failf(res, WRK_OUTCOME_FAILED_PERMANENT,
                       WHAT ": payload.operation must be txt2img or img2img, not %.100s", op);
        goto out;
    }
    if (json_object_deep_copy(job->payload, &body, NULL) != 0) {
        wrk_http_failf(res, WRK_OUTCOME_FAILED_RETRYABLE, WHAT ": out of memory");
        goto out;
    }
    json_object_object_del(body, "operation");
    if (sp_json_get_string(job->payload, "model", &model) == 0) {
        json_object *ov;
        if (sp_json_get_object(body, "override_settings", &ov) < 0) {
            ov = json_object_new_object();
            json_object_object_add(body, "override_settings", ov);
        }
        if (!json_object_object_get_ex(ov, "sd_model_checkpoint", NULL))
            json_object_object_add(ov, "sd_model_checkpoint", json_object_new_string(model));
        json_object_object_del(body, "model");
    }
    if (sp_json_get_string(body, "force_task_id", &task) == 0) {
        snprintf(task_id, sizeof(task_id), "%s", task);
    } else {
        snprintf(task_id, sizeof(task_id), "spool-%s-%d", job->id, job->attempt);
        json_object_object_add(body, "force_task_id", json_object_new_string(task_id));
    }

    a1111_watch w = {.st = st, .ctx = ctx, .task_id = task_id, .ours = 0, .last_pct = -1};
    snprintf(url, sizeof(url), "%s/sdapi/v1/%s", st->url, op);
    wrk_http_request req = a1111_request(st, "POST", url, st->timeout_ms, ctx);
    req.body = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
                                                        JSON_C_TO_STRING_NOSLASHESCAPE);
    req.body_len = strlen(req.body);
    req.tick = a1111_tick;
    req.tick_arg = &w;
    req.tick_interval_ms = st->poll_ms;
    wrk_job_progress(ctx, 0, op);
    int rc = wrk_http_perform(&req, &resp);
    if (rc < 0) {
        wrk_http_failf(res, WRK_OUTCOME_FAILED_RETRYABLE, WHAT ": %s", sp_err_str(rc));
        goto out;
    }
    if (resp.status == WRK_HTTP_E_STOPPED ||
        (wrk_job_should_stop(ctx) && resp.status == WRK_HTTP_DONE)) {
        a1111_interrupt(&w);
        wrk_http_failf(res, wrk_http_stop_outcome(ctx), WHAT ": %s; generation interrupted",
                       wrk_http_stop_outcome(ctx) == WRK_OUTCOME_CANCELLED ? "cancelled"
                                                                           : "job timed out");
        goto out;
    }
    if (!wrk_http_ok(&resp)) {
        if (resp.status == WRK_HTTP_E_TIMEOUT)
            a1111_interrupt(&w); /* do not leave the GPU busy with a job we gave up on */
        char what[64];
        snprintf(what, sizeof(what), WHAT ": %s", op);
        wrk_http_fail(res, &resp, ctx, what, st->auth);
        goto out;
    }
    if (wrk_http_json(&resp, &answer) < 0 || !json_object_is_type(answer, json_type_object)) {
        wrk_http_failf(res, WRK_OUTCOME_FAILED_RETRYABLE,
                       WHAT ": the answer of %s is not a JSON object", op);
        goto out;
    }
    wrk_http_response_free(&resp);
    wrk_job_progress(ctx, 95, "storing images");

    /* info is a JSON document inside a string. */
    const char *info_text = NULL;
    int64_t first = 0;
    if (sp_json_get_string(answer, "info", &info_text) == 0) {
        char perr[64];
        if (sp_json_parse(info_text, &info, perr, sizeof(perr)) < 0)
            info = NULL;
    } else {
        json_object *io;
        if (sp_json_get_object(answer, "info", &io) == 0)
            info = json_object_get(io);
    }
    if (info != NULL && sp_json_get_int(info, "index_of_first_image", &first) < 0)
        first = 0;

    json_object *images_in;
    bool send_images = true;
    if (sp_json_get_bool(job->payload, "send_images", &send_images) < 0)
        send_images = true;
    if (sp_json_get_array(answer, "images", &images_in) < 0)
        images_in = NULL;
    size_t n = images_in ? json_object_array_length(images_in) : 0;
    if (first < 0 || (size_t)first > n)
        first = 0;
    if (send_images && n == (size_t)first) {
        wrk_http_failf(res, WRK_OUTCOME_FAILED_RETRYABLE,
                       WHAT ": %s returned no images (interrupted on the A1111 side?)", op);
        goto out;
    }
    result = json_object_new_object();
    json_object *images = json_object_new_array();
    json_object_object_add(result, "images", images);
    for (size_t i = (size_t)first; i < n; i++) {
        const char *b64 = json_object_get_string(json_object_array_get_idx(images_in, i));
        unsigned char *bytes = NULL;
        size_t len = 0;
        char media[64], name[64];
        if (b64 == NULL || wrk_base64_decode(b64, &bytes, &len, media, sizeof(media)) < 0) {
            wrk_http_failf(res, WRK_OUTCOME_FAILED_RETRYABLE,
                           WHAT ": image %zu is not valid base64", i + 1);
            goto out;
        }
        snprintf(name, sizeof(name), "image-%zu.png", i - (size_t)first + 1);
        rc =
            wrk_http_store(ctx, bytes, len, name, media[0] ? media : NULL, NULL, images, res, WHAT);
        free(bytes);
        if (rc < 0)
            goto out;
    }
    if (info != NULL) {
        json_object *seeds;
        if (sp_json_get_array(info, "all_seeds", &seeds) == 0)
            json_object_object_add(result, "seeds", json_object_get(seeds));
        json_object_object_add(result, "info", json_object_get(info));
    }
    wrk_job_progress(ctx, 100, NULL);
    res->outcome = WRK_OUTCOME_COMPLETED;
    res->result = result;
    result = NULL;
out:
    wrk_http_response_free(&resp);
    json_object_put(result);
    json_object_put(info);
    json_object_put(answer);
    json_object_put(body);
}

/* Fills msg from a failed side-channel call. */
static void a1111_describe_failure(const a1111_state *st, int rc, const wrk_http_response *resp,
                                   const char *path, char *msg, size_t msglen)
{
    if (rc == SP_E_PARSE) {
        snprintf(msg, msglen, "%s%s: the answer is not JSON", st->url, path);
        return;
    }
    wrk_result tmp = {0};
    char what[256];
    snprintf(what, sizeof(what), "%s%s", st->url, path);
    wrk_http_fail(&tmp, resp, NULL, what, st->auth);
    snprintf(msg, msglen, "%s%s", tmp.error,
             resp->status == WRK_HTTP_DONE && resp->code == 404 ? " (is the API on: --api?)" : "");
}

static int a1111_models(void *arg, json_object **models, char *err, size_t errlen)
{
    const a1111_state *st = arg;
    wrk_http_response resp;
    json_object *list = NULL;
    *models = NULL;
    int rc = a1111_small(st, "GET", "/sdapi/v1/sd-models", NULL, &resp, &list);
    if (rc != 0 || !json_object_is_type(list, json_type_array)) {
        if (rc == 0)
            rc = SP_E_PARSE;
        a1111_describe_failure(st, rc, &resp, "/sdapi/v1/sd-models", err, errlen);
        wrk_http_response_free(&resp);
        json_object_put(list);
        return rc == SP_E_IO ? SP_E_CONN : rc;
    }
    wrk_http_response_free(&resp);
    json_object *names = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        const char *title = NULL;
        if (sp_json_get_string(json_object_array_get_idx(list, i), "title", &title) < 0)
            continue;
        /* "v1-5-pruned-emaonly.safetensors [6ce0161689]" → the file name alone. */
        size_t n = strlen(title);
        const char *bracket = strrchr(title, '[');
        if (bracket != NULL && bracket > title && bracket[-1] == ' ' && title[n - 1] == ']')
            n = (size_t)(bracket - title) - 1;
        json_object_array_add(names, json_object_new_string_len(title, (int)n));
    }
    json_object_put(list);
    *models = names;
    return 0;
}

static int a1111_check(void *arg, char *msg, size_t msglen)
{
    const a1111_state *st = arg;
    wrk_http_response resp;
    json_object *p = NULL, *state;
    int rc = a1111_small(st, "GET", "/sdapi/v1/progress?skip_current_image=true", NULL, &resp, &p);
    if (rc != 0) {
        a1111_describe_failure(st, rc, &resp, "/sdapi/v1/progress", msg, msglen);
        rc = rc == SP_E_IO ? SP_E_CONN : rc;
    } else {
        int64_t job_count = 0;
        if (sp_json_get_object(p, "state", &state) < 0 ||
            sp_json_get_int(state, "job_count", &job_count) < 0)
            job_count = 0;
        snprintf(msg, msglen, "%s: A1111 API reachable, %s", st->url,
                 job_count != 0 ? "generating" : "idle");
    }
    wrk_http_response_free(&resp);
    json_object_put(p);
    return rc;
}

const wrk_connector_ops wrk_connector_a1111 = {
    .name = "a1111",
    .create = a1111_create,
    .destroy = a1111_destroy,
    .models = a1111_models,
    .check = a1111_check,
    .run = a1111_run,
};

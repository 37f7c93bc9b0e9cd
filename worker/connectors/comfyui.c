/*
 * comfyui: the connector for service_required = 'comfyui' (a ComfyUI server, no auth).
 *
 * A job's payload carries an API-format graph in payload.workflow (or payload.prompt) and
 * optionally payload.extra_data. The connector:
 *   1. queues it with POST /prompt and client_id "spool-<job id>";
 *   2. follows it by polling GET /history/{prompt_id} (empty until the run ends) and
 *      GET /queue (its place while pending; running or not), every comfyui_poll_interval ms.
 *      libcurl 7.88 has no usable WebSocket support, so the per-node progress events are not
 *      read: progress is 1% while queued and, while running, an estimate that approaches 90%
 *      as the run time nears comfyui_expected_seconds;
 *   3. on success fetches every file in the run's outputs (any list whose items have a
 *      filename: images, gifs, audio, …; "temp" previews only with comfyui_include_temp)
 *      through GET /view and stores each with wrk_job_store_output;
 *   4. when the job must stop, removes the prompt from the queue (POST /queue {"delete"})
 *      and interrupts it (POST /interrupt {"prompt_id"}) before reporting.
 *
 * Result: {"prompt_id", "status", "outputs": [descriptor + node, kind, filename], "text":
 * {node: [string…]} when nodes produced text, "node_errors" when some outputs were dropped
 * at validation}.
 *
 * Errors: a graph that fails validation (400) and an execution error are permanent, except
 * an out-of-memory error and an interrupt that did not come from us, which are retryable;
 * 5xx, timeouts and connection errors are retryable; polls tolerate comfyui_poll_errors
 * consecutive transient failures before giving up.
 *
 * Settings (worker.conf, "comfyui_" + key): url (http://127.0.0.1:8188), timeout (30 s per
 * request), connect_timeout (10 s), poll_interval (500 ms), poll_errors (5),
 * expected_seconds (60), include_temp (0), max_output_mb (512 per file).
 *
 * Threading: the state is read-only after create.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sp_json.h"
#include "wrk_connector.h"
#include "wrk_http.h"

#define WHAT "comfyui"

typedef struct {
    char *url; /* without a trailing slash */
    long timeout_ms;
    long connect_timeout_ms;
    long poll_ms;
    int poll_errors;
    long expected_ms;
    int include_temp;
    size_t max_output;
} comfy_state;

static void comfy_destroy(void *arg)
{
    comfy_state *st = arg;
    if (st == NULL)
        return;
    free(st->url);
    free(st);
}

static int comfy_create(const wrk_connector_config *cfg, void **state, char *err, size_t errlen)
{
    *state = NULL;
    if (wrk_http_global_init() < 0) {
        snprintf(err, errlen, "could not initialize libcurl");
        return SP_E_NOMEM;
    }
    comfy_state *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return SP_E_NOMEM;
    st->url = strdup(wrk_connector_config_string(cfg, "url", "http://127.0.0.1:8188"));
    st->timeout_ms = (long)wrk_connector_config_int(cfg, "timeout", 30) * 1000;
    st->connect_timeout_ms = (long)wrk_connector_config_int(cfg, "connect_timeout", 10) * 1000;
    st->poll_ms = (long)wrk_connector_config_int(cfg, "poll_interval", 500);
    st->poll_errors = (int)wrk_connector_config_int(cfg, "poll_errors", 5);
    st->expected_ms = (long)wrk_connector_config_int(cfg, "expected_seconds", 60) * 1000;
    st->include_temp = wrk_connector_config_int(cfg, "include_temp", 0) != 0;
    st->max_output = (size_t)wrk_connector_config_int(cfg, "max_output_mb", 512) << 20;
    if (st->url == NULL) {
        comfy_destroy(st);
        return SP_E_NOMEM;
    }
    size_t n = strlen(st->url);
    while (n > 0 && st->url[n - 1] == '/')
        st->url[--n] = '\0';
    if (st->timeout_ms <= 0 || st->connect_timeout_ms <= 0 || st->poll_ms <= 0 ||
        st->poll_errors < 0 || st->expected_ms <= 0 || st->max_output == 0) {
        snprintf(err, errlen,
                 "comfyui_timeout, comfyui_connect_timeout, comfyui_poll_interval, "
                 "comfyui_expected_seconds and comfyui_max_output_mb must be "
                 "positive");
        comfy_destroy(st);
        return SP_E_INVAL;
    }
    *state = st;
    return 0;
}

/* The request skeleton for the ComfyUI server; url is filled by the caller. */
static wrk_http_request comfy_request(const comfy_state *st, const char *method, const char *url,
                                      wrk_job_ctx *ctx)
{
    return (wrk_http_request){
        .method = method,
        .url = url,
        .connect_timeout_ms = st->connect_timeout_ms,
        .timeout_ms = st->timeout_ms,
        .ctx = ctx,
    };
}

/* GETs or POSTs {url}{path} and parses a 2xx answer as JSON into *out (may be NULL for an
 * empty body). Returns 0, or keeps the failed response in *resp for the caller (who frees
 * it in both cases) and returns non-zero. */
static int comfy_call(const comfy_state *st, const char *method, const char *path,
                      json_object *body, wrk_job_ctx *ctx, wrk_http_response *resp,
                      json_object **out)
{
    char url[2048];
    snprintf(url, sizeof(url), "%s%s", st->url, path);
    wrk_http_request req = comfy_request(st, method, url, ctx);
    if (body != NULL) {
        req.body = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
                                                            JSON_C_TO_STRING_NOSLASHESCAPE);
        req.body_len = strlen(req.body);
    }
    if (out != NULL)
        *out = NULL;
    int rc = wrk_http_perform(&req, resp);
    if (rc < 0)
        return rc;
    if (!wrk_http_ok(resp))
        return SP_E_IO;
    if (out != NULL && wrk_http_body_len(resp) > 0 && wrk_http_json(resp, out) < 0)
        return SP_E_PARSE;
    return 0;
}

/* Tells ComfyUI to forget the prompt: out of the pending queue, and interrupted if it is
 * the one running. Best effort, bounded, and deliberately not tied to the job's stop flag
 * (which is already set when this runs). */
static void comfy_stop_prompt(const comfy_state *st, const char *prompt_id)
{
    json_object *del = json_object_new_object();
    json_object *ids = json_object_new_array();
    json_object_array_add(ids, json_object_new_string(prompt_id));
    json_object_object_add(del, "delete", ids);
    json_object *intr = json_object_new_object();
    json_object_object_add(intr, "prompt_id", json_object_new_string(prompt_id));
    comfy_state quick = *st;
    if (quick.timeout_ms > 5000)
        quick.timeout_ms = 5000;
    wrk_http_response resp;
    (void)comfy_call(&quick, "POST", "/queue", del, NULL, &resp, NULL);
    wrk_http_response_free(&resp);
    (void)comfy_call(&quick, "POST", "/interrupt", intr, NULL, &resp, NULL);
    wrk_http_response_free(&resp);
    json_object_put(del);
    json_object_put(intr);
}

/* Builds the message for a rejected graph: the error's message and details, then the first
 * node error ("node 4 (CheckpointLoaderSimple): Value not in list: ckpt_name: …"). */
static void comfy_prompt_error(const wrk_http_response *resp, char *out, size_t outlen)
{
    json_object *root = NULL, *err, *nodes;
    const char *message = NULL, *details = NULL;
    out[0] = '\0';
    if (wrk_http_json(resp, &root) < 0 || !json_object_is_type(root, json_type_object)) {
        wrk_http_error_message(resp, out, outlen);
        goto out;
    }
    if (json_object_object_get_ex(root, "error", &err)) {
        if (json_object_is_type(err, json_type_string)) {
            message = json_object_get_string(err);
        } else if (json_object_is_type(err, json_type_object)) {
            if (sp_json_get_string(err, "message", &message) < 0)
                message = NULL;
            if (sp_json_get_string(err, "details", &details) < 0 || details[0] == '\0' ||
                (message != NULL && strcmp(details, message) == 0))
                details = NULL;
        }
    }
    size_t used = (size_t)snprintf(out, outlen, "%s%s%s", message ? message : "request rejected",
                                   details ? ": " : "", details ? details : "");
    if (used < outlen && json_object_object_get_ex(root, "node_errors", &nodes) &&
        json_object_is_type(nodes, json_type_object)) {
        json_object_object_foreach(nodes, node_id, node)
        {
            json_object *errors, *first;
            const char *cls = NULL, *m = NULL, *d = NULL;
            if (sp_json_get_array(node, "errors", &errors) < 0 ||
                json_object_array_length(errors) == 0)
                continue;
            first = json_object_array_get_idx(errors, 0);
            if (sp_json_get_string(node, "class_type", &cls) < 0)
                cls = "?";
            if (sp_json_get_string(first, "message", &m) < 0)
                m = "invalid";
            if (sp_json_get_string(first, "details", &d) < 0)
                d = "";
            snprintf(out + used, outlen - used, "; node %s (%s): %s%s%s", node_id, cls, m,
                     d[0] ? ": " : "", d);
            break;
        }
    }
out:
    json_object_put(root);
}

/* Where the prompt stands in GET /queue: 2 running, 1 pending (*position = 1-based place in
 * the pending list, which is heap order, so only roughly the order of execution), 0 absent,
 * -1 when the queue could not be read (resp then holds why). */
static int comfy_queue_state(const comfy_state *st, const char *prompt_id, wrk_job_ctx *ctx,
                             wrk_http_response *resp, int *position)
{
    json_object *q = NULL;
    int where = -1;
    *position = 0;
    if (comfy_call(st, "GET", "/queue", NULL, ctx, resp, &q) != 0 ||
        !json_object_is_type(q, json_type_object))
        goto out;
    where = 0;
    static const char *const lists[] = {"queue_running", "queue_pending"};
    for (int l = 0; l < 2 && where == 0; l++) {
        json_object *items;
        if (sp_json_get_array(q, lists[l], &items) < 0)
            continue;
        for (size_t i = 0; i < json_object_array_length(items); i++) {
            json_object *item = json_object_array_get_idx(items, i);
            json_object *id = json_object_is_type(item, json_type_array)
                                  ? json_object_array_get_idx(item, 1)
                                  : NULL;
            if (id != NULL && strcmp(json_object_get_string(id), prompt_id) == 0) {
                where = l == 0 ? 2 : 1;
                *position = (int)i + 1;
                break;
            }
        }
    }
out:
    json_object_put(q);
    return where;
}

/* Reads a finished run's failure from status.messages into res. */
static void comfy_run_failed(json_object *status, wrk_result *res)
{
    json_object *messages;
    const char *status_str = NULL;
    if (sp_json_get_string(status, "status_str", &status_str) < 0)
        status_str = "error";
    if (sp_json_get_array(status, "messages", &messages) == 0) {
        for (size_t i = json_object_array_length(messages); i-- > 0;) {
            json_object *pair = json_object_array_get_idx(messages, i);
            if (!json_object_is_type(pair, json_type_array) || json_object_array_length(pair) < 2)
                continue;
            const char *event = json_object_get_string(json_object_array_get_idx(pair, 0));
            json_object *data = json_object_array_get_idx(pair, 1);
            const char *node = NULL, *type = NULL, *msg = NULL, *exc = NULL;
            if (sp_json_get_string(data, "node_id", &node) < 0)
                node = "?";
            if (sp_json_get_string(data, "node_type", &type) < 0)
                type = "?";
            if (strcmp(event, "execution_error") == 0) {
                if (sp_json_get_string(data, "exception_message", &msg) < 0)
                    msg = "execution error";
                if (sp_json_get_string(data, "exception_type", &exc) < 0)
                    exc = "";
                /* Running out of GPU memory can go better on another try or another host;
                 * any other exception would repeat. */
                int oom = strstr(exc, "OutOfMemory") != NULL ||
                          strstr(msg, "out of memory") != NULL ||
                          strstr(msg, "Allocation on device") != NULL;
                wrk_http_failf(
                    res, oom ? WRK_OUTCOME_FAILED_RETRYABLE : WRK_OUTCOME_FAILED_PERMANENT,
                    WHAT ": node %s (%s) failed: %s%s%s", node, type, exc, exc[0] ? ": " : "", msg);
                return;
            }
            if (strcmp(event, "execution_interrupted") == 0) {
                wrk_http_failf(res, WRK_OUTCOME_FAILED_RETRYABLE,
                               WHAT ": interrupted on the ComfyUI side at node %s (%s)", node,
                               type);
                return;
            }
        }
    }
    wrk_http_failf(res, WRK_OUTCOME_FAILED_PERMANENT, WHAT ": run ended with status %s",
                   status_str);
}

/* Stores every file of the run's outputs and gathers text outputs. 0 or fills res. */
static int comfy_collect(const comfy_state *st, json_object *outputs_in, wrk_job_ctx *ctx,
                         json_object *result, wrk_result *res)
{
    json_object *outputs = json_object_new_array();
    json_object *texts = json_object_new_object();
    json_object_object_add(result, "outputs", outputs);
    size_t total = 0, done = 0;
    /* Count first so that progress can move from 90 to 100 as files arrive. */
    for (int pass = 0; pass < 2; pass++) {
        json_object_object_foreach(outputs_in, node_id, node)
        {
            if (!json_object_is_type(node, json_type_object))
                continue;
            json_object_object_foreach(node, kind, list)
            {
                if (!json_object_is_type(list, json_type_array))
                    continue;
                for (size_t i = 0; i < json_object_array_length(list); i++) {
                    json_object *item = json_object_array_get_idx(list, i);
                    if (json_object_is_type(item, json_type_string) && strcmp(kind, "text") == 0) {
                        if (pass == 0)
                            continue;
                        json_object *arr;
                        if (!json_object_object_get_ex(texts, node_id, &arr)) {
                            arr = json_object_new_array();
                            json_object_object_add(texts, node_id, arr);
                        }
                        json_object_array_add(arr, json_object_get(item));
                        continue;
                    }
                    const char *filename = NULL, *subfolder = NULL, *type = NULL;
                    if (!json_object_is_type(item, json_type_object) ||
                        sp_json_get_string(item, "filename", &filename) < 0)
                        continue;
                    if (sp_json_get_string(item, "subfolder", &subfolder) < 0)
                        subfolder = "";
                    if (sp_json_get_string(item, "type", &type) < 0)
                        type = "output";
                    if (strcmp(type, "temp") == 0 && !st->include_temp)
                        continue;
                    if (pass == 0) {
                        total++;
                        continue;
                    }
                    if (wrk_job_should_stop(ctx)) {
                        wrk_http_failf(res, wrk_http_stop_outcome(ctx), WHAT ": stopped");
                        goto fail;
                    }
                    char ef[768], es[768], et[64], url[2400];
                    if (wrk_http_escape(filename, ef, sizeof(ef)) < 0 ||
                        wrk_http_escape(subfolder, es, sizeof(es)) < 0 ||
                        wrk_http_escape(type, et, sizeof(et)) < 0) {
                        wrk_http_failf(res, WRK_OUTCOME_FAILED_PERMANENT,
                                       WHAT ": output name too long: %.200s", filename);
                        goto fail;
                    }
                    snprintf(url, sizeof(url), "%s/view?filename=%s&subfolder=%s&type=%s", st->url,
                             ef, es, et);
                    json_object *extra = json_object_new_object();
                    json_object_object_add(extra, "node", json_object_new_string(node_id));
                    json_object_object_add(extra, "kind", json_object_new_string(kind));
                    json_object_object_add(extra, "filename", json_object_new_string(filename));
                    wrk_http_request req = comfy_request(st, "GET", url, ctx);
                    req.max_response = st->max_output;
                    if (wrk_http_fetch_output(&req, url, filename, extra, outputs, res, WHAT) < 0)
                        goto fail;
                    done++;
                    wrk_job_progress(ctx, 90 + (int)(10 * done / total), "storing outputs");
                }
            }
        }
    }
    if (json_object_object_length(texts) > 0)
        json_object_object_add(result, "text", texts);
    else
        json_object_put(texts);
    return 0;
fail:
    json_object_put(texts);
    return SP_E_IO;
}

static void comfy_run(void *arg, const wrk_job *job, wrk_job_ctx *ctx, wrk_result *res)
{
    const comfy_state *st = arg;
    json_object *graph = NULL, *extra = NULL, *body = NULL, *answer = NULL, *history = NULL;
    json_object *result = NULL;
    wrk_http_response resp = {0};
    char prompt_id[256] = "";
    char client_id[128];

    res->outcome = WRK_OUTCOME_FAILED_PERMANENT;
    if ((!json_object_object_get_ex(job->payload, "workflow", &graph) &&
         !json_object_object_get_ex(job->payload, "prompt", &graph)) ||
        !json_object_is_type(graph, json_type_object)) {
        wrk_http_failf(res, WRK_OUTCOME_FAILED_PERMANENT,
                       WHAT ": the payload needs workflow (an API-format graph object)");
        goto out;
    }
    snprintf(client_id, sizeof(client_id), "spool-%s", job->id);
    body = json_object_new_object();
    json_object_object_add(body, "prompt", json_object_get(graph));
    json_object_object_add(body, "client_id", json_object_new_string(client_id));
    if (json_object_object_get_ex(job->payload, "extra_data", &extra) &&
        json_object_is_type(extra, json_type_object))
        json_object_object_add(body, "extra_data", json_object_get(extra));

    wrk_job_progress(ctx, 0, "submitting workflow");
    int rc = comfy_call(st, "POST", "/prompt", body, ctx, &resp, &answer);
    if (rc != 0) {
        if (rc == SP_E_IO && resp.status == WRK_HTTP_DONE && resp.code == 400) {
            char msg[900];
            comfy_prompt_error(&resp, msg, sizeof(msg));
            wrk_http_failf(res, WRK_OUTCOME_FAILED_PERMANENT, WHAT ": workflow rejected: %s", msg);
        } else if (rc == SP_E_IO || rc == SP_E_PARSE) {
            wrk_http_fail(res, &resp, ctx, WHAT ": could not queue the workflow", NULL);
            if (rc == SP_E_PARSE)
                wrk_http_failf(res, WRK_OUTCOME_FAILED_RETRYABLE,
                               WHAT ": POST /prompt answered with something other than JSON");
        } else {
            wrk_http_failf(res, WRK_OUTCOME_FAILED_RETRYABLE, WHAT ": %s", sp_err_str(rc));
        }
        goto out;
    }
    const char *pid = NULL;
    if (sp_json_get_string(answer, "prompt_id", &pid) < 0 || pid[0] == '\0' ||
        strlen(pid) >= sizeof(prompt_id)) {
        wrk_http_failf(res, WRK_OUTCOME_FAILED_RETRYABLE,
                       WHAT ": POST /prompt answered without a prompt_id");
        goto out;
    }
    snprintf(prompt_id, sizeof(prompt_id), "%s", pid);
    wrk_http_response_free(&resp);

    char path[512], eid[400];
    if (wrk_http_escape(prompt_id, eid, sizeof(eid)) < 0) {
        wrk_http_failf(res, WRK_OUTCOME_FAILED_RETRYABLE, WHAT ": prompt_id too long");
        goto out;
    }
    snprintf(path, sizeof(path), "/history/%s", eid);
    int errors = 0, missing = 0, last_pct = -1;
    int64_t running_since = 0;
    json_object *entry = NULL;
    for (;;) {
        if (wrk_http_sleep(ctx, st->poll_ms))
            goto stop;
        json_object_put(history);
        history = NULL;
        rc = comfy_call(st, "GET", path, NULL, ctx, &resp, &history);
        if (rc == 0 && json_object_is_type(history, json_type_object) &&
            json_object_object_get_ex(history, prompt_id, &entry))
            break;
        if (rc == 0) {
            wrk_http_response_free(&resp);
            int position = 0;
            int where = comfy_queue_state(st, prompt_id, ctx, &resp, &position);
            if (where >= 0) {
                errors = 0;
                missing = where == 0 ? missing + 1 : 0;
                if (where == 1 && last_pct != 1) {
                    char msg[64];
                    snprintf(msg, sizeof(msg), "queued (position %d)", position);
                    wrk_job_progress(ctx, 1, msg);
                    last_pct = 1;
                } else if (where == 2) {
                    int64_t now = wrk_http_now_ms();
                    if (running_since == 0)
                        running_since = now;
                    int64_t t = now - running_since;
                    int pct = 5 + (int)(85 * t / (t + st->expected_ms));
                    if (pct != last_pct)
                        wrk_job_progress(ctx, pct, "running");
                    last_pct = pct;
                }
                /* Two looks without it in history or queue: ComfyUI lost it (restart). */
                if (missing >= 2) {
                    wrk_http_failf(res, WRK_OUTCOME_FAILED_RETRYABLE,
                                   WHAT ": prompt %s is neither queued nor in history "
                                        "(was ComfyUI restarted?)",
                                   prompt_id);
                    goto out;
                }
                wrk_http_response_free(&resp);
                continue;
            }
        }
        if (resp.status == WRK_HTTP_E_STOPPED)
            goto stop;
        if (++errors > st->poll_errors ||
            (resp.status == WRK_HTTP_DONE &&
             wrk_http_outcome(&resp, ctx) == WRK_OUTCOME_FAILED_PERMANENT)) {
            wrk_http_fail(res, &resp, ctx, WHAT ": could not follow the run", NULL);
            if (res->outcome == WRK_OUTCOME_COMPLETED) /* a 2xx that was not JSON */
                wrk_http_failf(res, WRK_OUTCOME_FAILED_RETRYABLE,
                               WHAT ": could not follow the run: answers are not JSON");
            goto out;
        }
        wrk_http_response_free(&resp);
    }

    result = json_object_new_object();
    json_object_object_add(result, "prompt_id", json_object_new_string(prompt_id));
    json_object *status = NULL, *outputs_in = NULL, *node_errors;
    const char *status_str = "success";
    if (sp_json_get_object(entry, "status", &status) == 0 &&
        sp_json_get_string(status, "status_str", &status_str) == 0 &&
        strcmp(status_str, "success") != 0) {
        comfy_run_failed(status, res);
        goto out;
    }
    json_object_object_add(result, "status", json_object_new_string(status_str));
    if (json_object_object_get_ex(answer, "node_errors", &node_errors) &&
        json_object_is_type(node_errors, json_type_object) &&
        json_object_object_length(node_errors) > 0)
        json_object_object_add(result, "node_errors", json_object_get(node_errors));
    wrk_job_progress(ctx, 90, "fetching outputs");
    if (sp_json_get_object(entry, "outputs", &outputs_in) == 0 &&
        comfy_collect(st, outputs_in, ctx, result, res) != 0)
        goto out;
    if (outputs_in == NULL)
        json_object_object_add(result, "outputs", json_object_new_array());
    wrk_job_progress(ctx, 100, NULL);
    res->outcome = WRK_OUTCOME_COMPLETED;
    res->result = result;
    result = NULL;
    goto out;

stop:
    comfy_stop_prompt(st, prompt_id);
    wrk_http_failf(res, wrk_http_stop_outcome(ctx),
                   WHAT ": %s; prompt %s removed from the queue and interrupted",
                   wrk_http_stop_outcome(ctx) == WRK_OUTCOME_CANCELLED ? "cancelled"
                                                                       : "job timed out",
                   prompt_id);
out:
    wrk_http_response_free(&resp);
    json_object_put(result);
    json_object_put(history);
    json_object_put(answer);
    json_object_put(body);
}

/* The names in a combo input spec: [["a", "b"], {…}] or ["COMBO", {"options": ["a", "b"]}]. */
static json_object *comfy_combo_options(json_object *spec)
{
    if (!json_object_is_type(spec, json_type_array) || json_object_array_length(spec) == 0)
        return NULL;
    json_object *first = json_object_array_get_idx(spec, 0);
    if (json_object_is_type(first, json_type_array))
        return first;
    json_object *opts, *options;
    if (json_object_is_type(first, json_type_string) &&
        strcmp(json_object_get_string(first), "COMBO") == 0 && json_object_array_length(spec) > 1 &&
        (opts = json_object_array_get_idx(spec, 1)) != NULL &&
        sp_json_get_array(opts, "options", &options) == 0)
        return options;
    return NULL;
}

static int comfy_models(void *arg, json_object **models, char *err, size_t errlen)
{
    const comfy_state *st = arg;
    json_object *info = NULL;
    wrk_http_response resp;
    *models = NULL;
    int rc = comfy_call(st, "GET", "/object_info/CheckpointLoaderSimple", NULL, NULL, &resp, &info);
    if (rc != 0) {
        wrk_result tmp = {0};
        wrk_http_fail(&tmp, &resp, NULL, WHAT ": GET /object_info/CheckpointLoaderSimple", NULL);
        snprintf(err, errlen, "%s",
                 rc == SP_E_PARSE ? "comfyui: object_info is not JSON" : tmp.error);
        wrk_http_response_free(&resp);
        json_object_put(info);
        return rc < 0 ? rc : SP_E_CONN;
    }
    wrk_http_response_free(&resp);
    json_object *loader, *input, *required, *spec, *options = NULL;
    if (sp_json_get_object(info, "CheckpointLoaderSimple", &loader) == 0 &&
        sp_json_get_object(loader, "input", &input) == 0 &&
        sp_json_get_object(input, "required", &required) == 0 &&
        json_object_object_get_ex(required, "ckpt_name", &spec))
        options = comfy_combo_options(spec);
    json_object *list = json_object_new_array();
    for (size_t i = 0; options != NULL && i < json_object_array_length(options); i++) {
        json_object *name = json_object_array_get_idx(options, i);
        if (json_object_is_type(name, json_type_string))
            json_object_array_add(list, json_object_get(name));
    }
    json_object_put(info);
    *models = list;
    return 0;
}

static int comfy_check(void *arg, char *msg, size_t msglen)
{
    const comfy_state *st = arg;
    json_object *stats = NULL, *system, *devices;
    wrk_http_response resp;
    int rc = comfy_call(st, "GET", "/system_stats", NULL, NULL, &resp, &stats);
    if (rc != 0) {
        wrk_result tmp = {0};
        wrk_http_fail(&tmp, &resp, NULL, st->url, NULL);
        snprintf(msg, msglen, "%s", rc == SP_E_PARSE ? "system_stats is not JSON" : tmp.error);
        rc = rc < 0 ? rc : SP_E_CONN;
    } else {
        const char *version = "?", *device = "";
        size_t n = 0;
        if (sp_json_get_object(stats, "system", &system) == 0 &&
            sp_json_get_string(system, "comfyui_version", &version) < 0)
            version = "?";
        if (sp_json_get_array(stats, "devices", &devices) == 0 &&
            (n = json_object_array_length(devices)) > 0 &&
            sp_json_get_string(json_object_array_get_idx(devices, 0), "name", &device) < 0)
            device = "";
        snprintf(msg, msglen, "%s: ComfyUI %s, %zu device(s)%s%s", st->url, version, n,
                 device[0] ? ": " : "", device);
    }
    wrk_http_response_free(&resp);
    json_object_put(stats);
    return rc;
}

const wrk_connector_ops wrk_connector_comfyui = {
    .name = "comfyui",
    .create = comfy_create,
    .destroy = comfy_destroy,
    .models = comfy_models,
    .check = comfy_check,
    .run = comfy_run,
};

/*
 * comfydeploy: the connector for service_required = 'comfydeploy' (hosted ComfyUI runs).
 *
 * Payload: {"deployment_id": uuid, "inputs": {…}, and for the v2 API optionally "gpu",
 * "flags", "webhook", "webhook_intermediate_status"}. The connector:
 *   1. creates a run: POST {url}/run/deployment/queue (v2) or POST {url}/run (legacy v1);
 *   2. polls GET {url}/run/{run_id} (v1: GET {url}/run?run_id=) every
 *      comfydeploy_poll_interval ms, reporting live_status and progress (a 0–1 fraction on
 *      the wire) until the run is success, failed, timeout or cancelled;
 *   3. downloads every media item under outputs[].data (images, gifs, files, mesh: items
 *      with a url) and stores it with wrk_job_store_output, the media type taken from the
 *      download's Content-Type, else the file name, else the bytes (the output store);
 *   4. when the job must stop, cancels the run: POST {url}/run/{run_id}/cancel (v2; v1 has
 *      no cancel, the run is then only abandoned).
 *
 * The API key (comfydeploy_api_key, else COMFYDEPLOY_API_KEY in the environment) is sent
 * as a bearer token to the API only: output URLs are storage URLs and get no credentials.
 *
 * Result: {"run_id", "status", "outputs": [descriptor + node, node_class, kind, filename],
 * "data": {node: {key: value}} for non-media outputs (text, numbers)}.
 *
 * Errors: 4xx on create (bad inputs, unknown deployment, plan limits, bad key) and a
 * "failed" run are permanent; a run that timed out or was cancelled on the service side is
 * retryable, as are 5xx, timeouts and connection errors; polls tolerate
 * comfydeploy_poll_errors consecutive transient failures.
 *
 * Settings (worker.conf, "comfydeploy_" + key): url (https://api.comfydeploy.com/api),
 * api_key, api_version (2), timeout (30 s per request), connect_timeout (10 s),
 * poll_interval (2000 ms), poll_errors (5), max_output_mb (512 per file).
 *
 * Threading: the state is read-only after create.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sp_json.h"
#include "wrk_connector.h"
#include "wrk_http.h"

#define WHAT "comfydeploy"

typedef struct {
    char *url; /* without a trailing slash */
    char *api_key;
    int version; /* 1 or 2 */
    long timeout_ms;
    long connect_timeout_ms;
    long poll_ms;
    int poll_errors;
    size_t max_output;
} cd_state;

static void cd_destroy(void *arg)
{
    cd_state *st = arg;
    if (st == NULL)
        return;
    free(st->url);
    if (st->api_key != NULL) {
        memset(st->api_key, 0, strlen(st->api_key));
        free(st->api_key);
    }
    free(st);
}

static int cd_create(const wrk_connector_config *cfg, void **state, char *err, size_t errlen)
{
    *state = NULL;
    if (wrk_http_global_init() < 0) {
        snprintf(err, errlen, "could not initialize libcurl");
        return SP_E_NOMEM;
    }
    const char *key = wrk_connector_config_string(cfg, "api_key", NULL);
    if (key == NULL || key[0] == '\0')
        key = getenv("COMFYDEPLOY_API_KEY");
    if (key == NULL || key[0] == '\0') {
        snprintf(err, errlen, "comfydeploy_api_key is not set");
        return SP_E_INVAL;
    }
    cd_state *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return SP_E_NOMEM;
    st->url = strdup(wrk_connector_config_string(cfg, "url", "https://api.comfydeploy.com/api"));
    st->api_key = strdup(key);
    st->version = (int)wrk_connector_config_int(cfg, "api_version", 2);
    st->timeout_ms = (long)wrk_connector_config_int(cfg, "timeout", 30) * 1000;
    st->connect_timeout_ms = (long)wrk_connector_config_int(cfg, "connect_timeout", 10) * 1000;
    st->poll_ms = (long)wrk_connector_config_int(cfg, "poll_interval", 2000);
    st->poll_errors = (int)wrk_connector_config_int(cfg, "poll_errors", 5);
    st->max_output = (size_t)wrk_connector_config_int(cfg, "max_output_mb", 512) << 20;
    if (st->url == NULL || st->api_key == NULL) {
        cd_destroy(st);
        return SP_E_NOMEM;
    }
    size_t n = strlen(st->url);
    while (n > 0 && st->url[n - 1] == '/')
        st->url[--n] = '\0';
    if (st->version != 1 && st->version != 2) {
        snprintf(err, errlen, "comfydeploy_api_version must be 1 or 2");
        cd_destroy(st);
        return SP_E_INVAL;
    }
    if (st->timeout_ms <= 0 || st->connect_timeout_ms <= 0 || st->poll_ms <= 0 ||
        st->poll_errors < 0 || st->max_output == 0) {
        snprintf(err, errlen,
                 "comfydeploy_timeout, comfydeploy_connect_timeout, "
                 "comfydeploy_poll_interval and comfydeploy_max_output_mb must be "
                 "positive");
        cd_destroy(st);
        return SP_E_INVAL;
    }
    *state = st;
    return 0;
}

/* Calls the API at {url}{path} with the key; parses a 2xx answer into *out. Returns 0, or
 * non-zero with the failed response left in resp (the caller frees resp in every case). */
static int cd_call(const cd_state *st, const char *method, const char *path, json_object *body,
                   long timeout_ms, wrk_job_ctx *ctx, wrk_http_response *resp, json_object **out)
{
    char url[1024];
    snprintf(url, sizeof(url), "%s%s", st->url, path);
    wrk_http_request req = {
        .method = method,
        .url = url,
        .bearer_token = st->api_key,
        .connect_timeout_ms = st->connect_timeout_ms,
        .timeout_ms = timeout_ms,
        .ctx = ctx,
    };
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
    if (out != NULL &&
        (wrk_http_json(resp, out) < 0 || !json_object_is_type(*out, json_type_object)))
        return SP_E_PARSE;
    return 0;
}

/* Copies payload[key] into body when present. */
static void cd_pass(json_object *payload, json_object *body, const char *key)
{
    json_object *v;
    if (json_object_object_get_ex(payload, key, &v) && v != NULL)
        json_object_object_add(body, key, json_object_get(v));
}

/* Tells ComfyDeploy to stop the run (v2 only); best effort and bounded. */
static void cd_cancel(const cd_state *st, const char *run_id)
{
    if (st->version != 2)
        return;
    char path[256];
    snprintf(path, sizeof(path), "/run/%s/cancel", run_id);
    wrk_http_response resp;
    (void)cd_call(st, "POST", path, NULL, st->timeout_ms < 5000 ? st->timeout_ms : 5000, NULL,
                  &resp, NULL);
    wrk_http_response_free(&resp);
}

/* Downloads and stores the media items of the run's outputs; gathers other values in data.
 * Returns 0 or fills res. */
static int cd_collect(const cd_state *st, json_object *run, wrk_job_ctx *ctx, json_object *result,
                      wrk_result *res)
{
    json_object *outputs_in, *outputs = json_object_new_array();
    json_object *values = json_object_new_object();
    json_object_object_add(result, "outputs", outputs);
    if (sp_json_get_array(run, "outputs", &outputs_in) < 0)
        outputs_in = NULL;
    size_t n = outputs_in ? json_object_array_length(outputs_in) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *out = json_object_array_get_idx(outputs_in, i), *data, *meta;
        const char *node = "", *node_class = "";
        char node_key[32];
        if (sp_json_get_object(out, "data", &data) < 0)
            continue;
        if (sp_json_get_object(out, "node_meta", &meta) == 0) {
            if (sp_json_get_string(meta, "node_id", &node) < 0)
                node = "";
            if (sp_json_get_string(meta, "node_class", &node_class) < 0)
                node_class = "";
        }
        if (node[0] == '\0') {
            snprintf(node_key, sizeof(node_key), "%zu", i);
            node = node_key;
        }
        json_object_object_foreach(data, kind, value)
        {
            size_t media = 0;
            if (json_object_is_type(value, json_type_array)) {
                for (size_t j = 0; j < json_object_array_length(value); j++) {
                    json_object *item = json_object_array_get_idx(value, j);
                    const char *url = NULL, *filename = NULL;
                    if (!json_object_is_type(item, json_type_object) ||
                        sp_json_get_string(item, "url", &url) < 0)
                        continue;
                    media++;
                    if (sp_json_get_string(item, "filename", &filename) < 0) {
                        const char *slash = strrchr(url, '/');
                        filename = slash ? slash + 1 : url;
                    }
                    if (wrk_job_should_stop(ctx)) {
                        wrk_http_failf(res, wrk_http_stop_outcome(ctx), WHAT ": stopped");
                        goto fail;
                    }
                    json_object *extra = json_object_new_object();
                    json_object_object_add(extra, "node", json_object_new_string(node));
                    if (node_class[0])
                        json_object_object_add(extra, "node_class",
                                               json_object_new_string(node_class));
                    json_object_object_add(extra, "kind", json_object_new_string(kind));
                    json_object_object_add(extra, "filename", json_object_new_string(filename));
                    wrk_http_request req = {
                        .connect_timeout_ms = st->connect_timeout_ms,
                        .timeout_ms = st->timeout_ms * 10,
                        .max_response = st->max_output,
                        .ctx = ctx,
                    };
                    if (wrk_http_fetch_output(&req, url, filename, extra, outputs, res, WHAT) < 0)
                        goto fail;
                }
            }
            if (media == 0) {
                json_object *node_values;
                if (!json_object_object_get_ex(values, node, &node_values)) {
                    node_values = json_object_new_object();
                    json_object_object_add(values, node, node_values);
                }
                json_object_object_add(node_values, kind, json_object_get(value));
            }
        }
        wrk_job_progress(ctx, 95 + (int)(5 * (i + 1) / n), "storing outputs");
    }
    if (json_object_object_length(values) > 0)
        json_object_object_add(result, "data", values);
    else
        json_object_put(values);
    return 0;
fail:
    json_object_put(values);
    return SP_E_IO;
}

static void cd_run(void *arg, const wrk_job *job, wrk_job_ctx *ctx, wrk_result *res)
{
    const cd_state *st = arg;
    json_object *body = NULL, *created = NULL, *run = NULL, *result = NULL;
    wrk_http_response resp = {0};
    const char *deployment = NULL, *rid = NULL;
    char run_id[128] = "", path[256], eid[200];
    json_object *inputs = NULL;

    res->outcome = WRK_OUTCOME_FAILED_PERMANENT;
    if (sp_json_get_string(job->payload, "deployment_id", &deployment) < 0 ||
        deployment[0] == '\0') {
        wrk_http_failf(res, WRK_OUTCOME_FAILED_PERMANENT,
                       WHAT ": the payload needs deployment_id (a string)");
        goto out;
    }
    if (json_object_object_get_ex(job->payload, "inputs", &inputs) && inputs != NULL &&
        !json_object_is_type(inputs, json_type_object)) {
        wrk_http_failf(res, WRK_OUTCOME_FAILED_PERMANENT,
                       WHAT ": payload.inputs must be an "
                            "object");
        goto out;
    }
    body = json_object_new_object();
    json_object_object_add(body, "deployment_id", json_object_new_string(deployment));
    json_object_object_add(body, "inputs",
                           inputs ? json_object_get(inputs) : json_object_new_object());
    if (st->version == 2) {
        cd_pass(job->payload, body, "gpu");
        cd_pass(job->payload, body, "flags");
        cd_pass(job->payload, body, "webhook");
        cd_pass(job->payload, body, "webhook_intermediate_status");
    }

    wrk_job_progress(ctx, 0, "creating run");
    int rc = cd_call(st, "POST", st->version == 2 ? "/run/deployment/queue" : "/run", body,
                     st->timeout_ms, ctx, &resp, &created);
    if (rc == 0 && (sp_json_get_string(created, "run_id", &rid) < 0 || rid[0] == '\0' ||
                    strlen(rid) >= sizeof(run_id))) {
        wrk_http_failf(res, WRK_OUTCOME_FAILED_RETRYABLE,
                       WHAT ": the service answered without a run_id");
        goto out;
    }
    if (rc != 0) {
        if (rc == SP_E_IO)
            wrk_http_fail(res, &resp, ctx, WHAT ": could not create the run", st->api_key);
        else
            wrk_http_failf(res, WRK_OUTCOME_FAILED_RETRYABLE, WHAT ": could not create the run: %s",
                           rc == SP_E_PARSE ? "the answer is not a JSON object" : sp_err_str(rc));
        /* Legacy v1 reports an unknown deployment as a 500. */
        char msg[256];
        if (rc == SP_E_IO && st->version == 1 && resp.code == 500 &&
            strstr(wrk_http_error_message(&resp, msg, sizeof(msg)), "not found") != NULL)
            res->outcome = WRK_OUTCOME_FAILED_PERMANENT;
        goto out;
    }
    snprintf(run_id, sizeof(run_id), "%s", rid);
    wrk_http_response_free(&resp);
    if (wrk_http_escape(run_id, eid, sizeof(eid)) < 0) {
        wrk_http_failf(res, WRK_OUTCOME_FAILED_RETRYABLE, WHAT ": run_id too long");
        goto out;
    }
    if (st->version == 2)
        snprintf(path, sizeof(path), "/run/%s", eid);
    else
        snprintf(path, sizeof(path), "/run?run_id=%s", eid);

    int errors = 0;
    const char *status = NULL;
    for (;;) {
        if (wrk_http_sleep(ctx, st->poll_ms))
            goto stop;
        json_object_put(run);
        run = NULL;
        rc = cd_call(st, "GET", path, NULL, st->timeout_ms, ctx, &resp, &run);
        if (rc != 0) {
            if (resp.status == WRK_HTTP_E_STOPPED)
                goto stop;
            if (++errors > st->poll_errors ||
                (rc == SP_E_IO && wrk_http_outcome(&resp, ctx) == WRK_OUTCOME_FAILED_PERMANENT)) {
                wrk_http_fail(res, &resp, ctx, WHAT ": could not follow the run", st->api_key);
                if (res->outcome == WRK_OUTCOME_COMPLETED)
                    wrk_http_failf(res, WRK_OUTCOME_FAILED_RETRYABLE,
                                   WHAT ": could not follow the run: answers are not JSON");
                goto out;
            }
            wrk_http_response_free(&resp);
            continue;
        }
        wrk_http_response_free(&resp);
        errors = 0;
        const char *live = NULL;
        double progress = 0;
        if (sp_json_get_string(run, "status", &status) < 0)
            status = "";
        if (sp_json_get_string(run, "live_status", &live) < 0)
            live = NULL;
        if (sp_json_get_double(run, "progress", &progress) < 0)
            progress = 0;
        if (strcmp(status, "success") == 0 || strcmp(status, "failed") == 0 ||
            strcmp(status, "timeout") == 0 || strcmp(status, "cancelled") == 0)
            break;
        if (strcmp(status, "running") == 0) {
            if (progress > 1)
                progress /= 100; /* tolerate a percentage */
            int pct = 5 + (int)(85 * (progress < 0 ? 0 : progress > 1 ? 1 : progress));
            wrk_job_progress(ctx, pct, live ? live : "running");
        } else if (strcmp(status, "uploading") == 0) {
            wrk_job_progress(ctx, 90, "uploading outputs");
        } else {
            wrk_job_progress(ctx, strcmp(status, "started") == 0 ? 3 : 1, live ? live : status);
        }
    }

    if (strcmp(status, "success") != 0) {
        const char *live = NULL;
        if (sp_json_get_string(run, "live_status", &live) < 0)
            live = NULL;
        wrk_outcome outcome = strcmp(status, "failed") == 0 ? WRK_OUTCOME_FAILED_PERMANENT
                                                            : WRK_OUTCOME_FAILED_RETRYABLE;
        wrk_http_failf(res, outcome, WHAT ": run %s ended with status %s%s%s", run_id, status,
                       live ? ": " : "", live ? live : "");
        goto out;
    }
    wrk_job_progress(ctx, 95, "storing outputs");
    result = json_object_new_object();
    json_object_object_add(result, "run_id", json_object_new_string(run_id));
    json_object_object_add(result, "status", json_object_new_string(status));
    if (cd_collect(st, run, ctx, result, res) != 0)
        goto out;
    wrk_job_progress(ctx, 100, NULL);
    res->outcome = WRK_OUTCOME_COMPLETED;
    res->result = result;
    result = NULL;
    goto out;

stop:
    cd_cancel(st, run_id);
    wrk_http_failf(res, wrk_http_stop_outcome(ctx), WHAT ": %s; run %s %s",
                   wrk_http_stop_outcome(ctx) == WRK_OUTCOME_CANCELLED ? "cancelled"
                                                                       : "job timed out",
                   run_id, st->version == 2 ? "cancelled" : "abandoned (v1 has no cancel)");
out:
    wrk_http_response_free(&resp);
    json_object_put(result);
    json_object_put(run);
    json_object_put(created);
    json_object_put(body);
}

static int cd_check(void *arg, char *msg, size_t msglen)
{
    const cd_state *st = arg;
    /* Looking up a run that cannot exist says both "reachable" and "the key works". */
    static const char nil[] = "00000000-0000-0000-0000-000000000000";
    char path[128];
    if (st->version == 2)
        snprintf(path, sizeof(path), "/run/%s", nil);
    else
        snprintf(path, sizeof(path), "/run?run_id=%s", nil);
    wrk_http_response resp;
    int rc = cd_call(st, "GET", path, NULL, st->timeout_ms, NULL, &resp, NULL);
    if (resp.status == WRK_HTTP_DONE && (resp.code == 404 || resp.code == 400 || rc == 0)) {
        snprintf(msg, msglen, "%s: ComfyDeploy API v%d reachable, key accepted", st->url,
                 st->version);
        rc = 0;
    } else {
        wrk_result tmp = {0};
        wrk_http_fail(&tmp, &resp, NULL, st->url, st->api_key);
        snprintf(msg, msglen, "%s%s", tmp.error,
                 resp.code == 401 || resp.code == 403 ? " (check comfydeploy_api_key)" : "");
        rc = SP_E_CONN;
    }
    wrk_http_response_free(&resp);
    return rc;
}

const wrk_connector_ops wrk_connector_comfydeploy = {
    .name = "comfydeploy",
    .create = cd_create,
    .destroy = cd_destroy,
    .models = NULL,
    .check = cd_check,
    .run = cd_run,
};

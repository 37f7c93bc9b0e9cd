/*
 * openai: the connector for service_required = 'openai'.
 *
 * Two operations, chosen by payload.operation ("chat" or "image") or else by the job's type
 * (a type naming "image" is image generation, anything else chat):
 *
 *   chat   POST {url}/chat/completions from payload.messages, or payload.prompt (plus an
 *          optional payload.system) — the emp seed's openai_text — with model, max_tokens,
 *          max_completion_tokens, temperature, top_p, n, stop, seed, response_format,
 *          presence_penalty, frequency_penalty, user passed through. Result: {"text",
 *          "finish_reason", "model", "id", "usage", "texts" when n > 1}.
 *   image  POST {url}/images/generations (prompt, model, n, size, quality, style,
 *          response_format, background, output_format, output_compression, moderation,
 *          user); every b64_json or url item is stored with wrk_job_store_output. Result:
 *          {"images": [descriptor…], "created", "model", "usage" when given}.
 *
 * The API key comes from payload.api_key, else the openai_api_key setting, else the
 * OPENAI_API_KEY environment variable read at start-up. It is sent only to the configured
 * URL (never to image download URLs), never logged and scrubbed from error messages.
 *
 * Errors: the service's error envelope message is kept; 429 and 5xx are retryable except a
 * 429 for insufficient_quota (out of credit: retrying cannot help); 400/401/403/404 are
 * permanent.
 *
 * Settings (worker.conf, "openai_" + key): url (https://api.openai.com/v1), api_key,
 * organization, project, model (gpt-4o-mini), image_model (dall-e-3), timeout (120 s per
 * request), connect_timeout (10 s), max_response_mb (64).
 *
 * Threading: the state is read-only after create, so run() may run on many threads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sp_json.h"
#include "wrk_base64.h"
#include "wrk_connector.h"
#include "wrk_http.h"

#define WHAT "openai"

typedef struct {
    char *url; /* without a trailing slash */
    char *api_key;
    char *model;
    char *image_model;
    char org_header[160];     /* "OpenAI-Organization: …" or "" */
    char project_header[160]; /* "OpenAI-Project: …" or "" */
    long timeout_ms;
    long connect_timeout_ms;
    size_t max_response;
} openai_state;

static void openai_destroy(void *arg)
{
    openai_state *st = arg;
    if (st == NULL)
        return;
    free(st->url);
    if (st->api_key != NULL) {
        memset(st->api_key, 0, strlen(st->api_key));
        free(st->api_key);
    }
    free(st->model);
    free(st->image_model);
    free(st);
}

static char *openai_strdup_url(const char *url)
{
    char *s = strdup(url);
    if (s != NULL) {
        size_t n = strlen(s);
        while (n > 0 && s[n - 1] == '/')
            s[--n] = '\0';
    }
    return s;
}

static int openai_create(const wrk_connector_config *cfg, void **state, char *err, size_t errlen)
{
    *state = NULL;
    if (wrk_http_global_init() < 0) {
        snprintf(err, errlen, "could not initialize libcurl");
        return SP_E_NOMEM;
    }
    openai_state *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return SP_E_NOMEM;
    const char *key = wrk_connector_config_string(cfg, "api_key", NULL);
    if (key == NULL || key[0] == '\0')
        key = getenv("OPENAI_API_KEY");
    const char *org = wrk_connector_config_string(cfg, "organization", NULL);
    const char *project = wrk_connector_config_string(cfg, "project", NULL);
    st->url =
        openai_strdup_url(wrk_connector_config_string(cfg, "url", "https://api.openai.com/v1"));
    st->api_key = key != NULL && key[0] ? strdup(key) : NULL;
    st->model = strdup(wrk_connector_config_string(cfg, "model", "gpt-4o-mini"));
    st->image_model = strdup(wrk_connector_config_string(cfg, "image_model", "dall-e-3"));
    st->timeout_ms = (long)wrk_connector_config_int(cfg, "timeout", 120) * 1000;
    st->connect_timeout_ms = (long)wrk_connector_config_int(cfg, "connect_timeout", 10) * 1000;
    st->max_response = (size_t)wrk_connector_config_int(cfg, "max_response_mb", 64) << 20;
    if (org != NULL && org[0])
        snprintf(st->org_header, sizeof(st->org_header), "OpenAI-Organization: %s", org);
    if (project != NULL && project[0])
        snprintf(st->project_header, sizeof(st->project_header), "OpenAI-Project: %s", project);
    if (st->url == NULL || st->model == NULL || st->image_model == NULL ||
        (key != NULL && key[0] && st->api_key == NULL)) {
        openai_destroy(st);
        return SP_E_NOMEM;
    }
    if (st->timeout_ms <= 0 || st->connect_timeout_ms <= 0 || st->max_response == 0) {
        snprintf(err, errlen,
                 "openai_timeout, openai_connect_timeout and "
                 "openai_max_response_mb must be positive");
        openai_destroy(st);
        return SP_E_INVAL;
    }
    *state = st;
    return 0;
}

/* The request skeleton every call to the API starts from. headers must have room for 3. */
static wrk_http_request openai_request(const openai_state *st, const char *key, wrk_job_ctx *ctx,
                                       const char **headers)
{
    size_t n = 0;
    if (st->org_header[0])
        headers[n++] = st->org_header;
    if (st->project_header[0])
        headers[n++] = st->project_header;
    headers[n] = NULL;
    return (wrk_http_request){
        .method = "POST",
        .headers = headers,
        .bearer_token = key,
        .connect_timeout_ms = st->connect_timeout_ms,
        .timeout_ms = st->timeout_ms,
        .max_response = st->max_response,
        .ctx = ctx,
    };
}

/* Copies payload[key] into body when present, checking its JSON type against the mask of
 * accepted json_types. Returns 0, or fills res (permanent) and returns SP_E_INVAL. */
static int openai_pass(json_object *payload, json_object *body, const char *key, unsigned types,
                       const char *expected, wrk_result *res)
{
    json_object *v;
    if (!json_object_object_get_ex(payload, key, &v) || v == NULL)
        return 0;
    if (!(types & (1u << json_object_get_type(v)))) {
        wrk_http_failf(res, WRK_OUTCOME_FAILED_PERMANENT, WHAT ": payload.%s must be %s", key,
                       expected);
        return SP_E_INVAL;
    }
    json_object_object_add(body, key, json_object_get(v));
    return 0;
}

#define T(t) (1u << (t))
#define T_NUMBER (T(json_type_int) | T(json_type_double))

/* Posts body to {url}{path}; returns the parsed JSON object of a 2xx answer in *out, or fills
 * res and returns non-zero. */
static int openai_post(const openai_state *st, const char *key, wrk_job_ctx *ctx, const char *path,
                       json_object *body, json_object **out, wrk_result *res)
{
    const char *headers[3];
    char url[1024];
    snprintf(url, sizeof(url), "%s%s", st->url, path);
    wrk_http_request req = openai_request(st, key, ctx, headers);
    req.url = url;
    req.body = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
                                                        JSON_C_TO_STRING_NOSLASHESCAPE);
    req.body_len = strlen(req.body);
    wrk_http_response resp;
    int rc = wrk_http_perform(&req, &resp);
    *out = NULL;
    if (rc < 0) {
        wrk_http_failf(res, WRK_OUTCOME_FAILED_RETRYABLE, WHAT ": %s", sp_err_str(rc));
        goto out;
    }
    if (!wrk_http_ok(&resp)) {
        wrk_http_fail(res, &resp, ctx, WHAT, key);
        /* Out of credit is a 429 too, but waiting will not bring the credit back. */
        if (resp.code == 429 && strstr(wrk_http_body(&resp), "insufficient_quota") != NULL)
            res->outcome = WRK_OUTCOME_FAILED_PERMANENT;
        rc = SP_E_IO;
        goto out;
    }
    if (wrk_http_json(&resp, out) < 0 || !json_object_is_type(*out, json_type_object)) {
        json_object_put(*out);
        *out = NULL;
        wrk_http_failf(res, WRK_OUTCOME_FAILED_RETRYABLE,
                       WHAT ": the response to %s is not a JSON object", path);
        rc = SP_E_PARSE;
    }
out:
    wrk_http_response_free(&resp);
    return rc;
}

static json_object *openai_usage(json_object *resp)
{
    json_object *usage;
    if (json_object_object_get_ex(resp, "usage", &usage) &&
        json_object_is_type(usage, json_type_object))
        return json_object_get(usage);
    return NULL;
}

static void openai_chat(const openai_state *st, const char *key, json_object *payload,
                        wrk_job_ctx *ctx, wrk_result *res)
{
    json_object *body = json_object_new_object();
    json_object *resp = NULL;
    json_object *result = NULL;
    json_object *messages;
    const char *prompt = NULL, *model = NULL, *system = NULL;

    if (sp_json_get_string(payload, "model", &model) < 0)
        model = st->model;
    json_object_object_add(body, "model", json_object_new_string(model));
    if (json_object_object_get_ex(payload, "messages", &messages) && messages != NULL) {
        if (!json_object_is_type(messages, json_type_array) ||
            json_object_array_length(messages) == 0) {
            wrk_http_failf(res, WRK_OUTCOME_FAILED_PERMANENT,
                           WHAT ": payload.messages must be a non-empty array");
            goto out;
        }
        json_object_object_add(body, "messages", json_object_get(messages));
    } else if (sp_json_get_string(payload, "prompt", &prompt) == 0 && prompt[0]) {
        json_object *list = json_object_new_array();
        if (sp_json_get_string(payload, "system", &system) == 0 && system[0]) {
            json_object *m = json_object_new_object();
            json_object_object_add(m, "role", json_object_new_string("system"));
            json_object_object_add(m, "content", json_object_new_string(system));
            json_object_array_add(list, m);
        }
        json_object *m = json_object_new_object();
        json_object_object_add(m, "role", json_object_new_string("user"));
        json_object_object_add(m, "content", json_object_new_string(prompt));
        json_object_array_add(list, m);
        json_object_object_add(body, "messages", list);
    } else {
        wrk_http_failf(res, WRK_OUTCOME_FAILED_PERMANENT,
                       WHAT ": the payload needs a prompt (string) or messages (array)");
        goto out;
    }
    if (openai_pass(payload, body, "max_tokens", T(json_type_int), "an integer", res) < 0 ||
        openai_pass(payload, body, "max_completion_tokens", T(json_type_int), "an integer", res) <
            0 ||
        openai_pass(payload, body, "temperature", T_NUMBER, "a number", res) < 0 ||
        openai_pass(payload, body, "top_p", T_NUMBER, "a number", res) < 0 ||
        openai_pass(payload, body, "n", T(json_type_int), "an integer", res) < 0 ||
        openai_pass(payload, body, "stop", T(json_type_string) | T(json_type_array),
                    "a string or an array", res) < 0 ||
        openai_pass(payload, body, "seed", T(json_type_int), "an integer", res) < 0 ||
        openai_pass(payload, body, "response_format", T(json_type_object), "an object", res) < 0 ||
        openai_pass(payload, body, "presence_penalty", T_NUMBER, "a number", res) < 0 ||
        openai_pass(payload, body, "frequency_penalty", T_NUMBER, "a number", res) < 0 ||
        openai_pass(payload, body, "user", T(json_type_string), "a string", res) < 0)
        goto out;

    wrk_job_progress(ctx, 5, "waiting for chat completion");
    if (openai_post(st, key, ctx, "/chat/completions", body, &resp, res) != 0)
        goto out;

    json_object *choices;
    if (sp_json_get_array(resp, "choices", &choices) < 0 ||
        json_object_array_length(choices) == 0) {
        wrk_http_failf(res, WRK_OUTCOME_FAILED_RETRYABLE, WHAT ": the response has no choices");
        goto out;
    }
    result = json_object_new_object();
    json_object *texts = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(choices); i++) {
        json_object *choice = json_object_array_get_idx(choices, i);
        json_object *message = NULL, *content = NULL;
        if (sp_json_get_object(choice, "message", &message) == 0)
            json_object_object_get_ex(message, "content", &content);
        json_object_array_add(texts, content ? json_object_get(content) : NULL);
        if (i > 0)
            continue;
        json_object_object_add(result, "text", content ? json_object_get(content) : NULL);
        json_object *v;
        if (json_object_object_get_ex(choice, "finish_reason", &v))
            json_object_object_add(result, "finish_reason", json_object_get(v));
        if (message != NULL && json_object_object_get_ex(message, "refusal", &v) && v != NULL)
            json_object_object_add(result, "refusal", json_object_get(v));
        if (message != NULL && json_object_object_get_ex(message, "tool_calls", &v) && v != NULL)
            json_object_object_add(result, "tool_calls", json_object_get(v));
    }
    if (json_object_array_length(texts) > 1)
        json_object_object_add(result, "texts", texts);
    else
        json_object_put(texts);
    json_object *v;
    if (json_object_object_get_ex(resp, "model", &v))
        json_object_object_add(result, "model", json_object_get(v));
    if (json_object_object_get_ex(resp, "id", &v))
        json_object_object_add(result, "id", json_object_get(v));
    json_object *usage = openai_usage(resp);
    if (usage != NULL)
        json_object_object_add(result, "usage", usage);
    wrk_job_progress(ctx, 100, NULL);
    res->outcome = WRK_OUTCOME_COMPLETED;
    res->result = result;
    result = NULL;
out:
    json_object_put(result);
    json_object_put(resp);
    json_object_put(body);
}

static const char *openai_image_type(const char *format)
{
    if (format == NULL)
        return NULL;
    if (strcmp(format, "png") == 0)
        return "image/png";
    if (strcmp(format, "jpeg") == 0 || strcmp(format, "jpg") == 0)
        return "image/jpeg";
    if (strcmp(format, "webp") == 0)
        return "image/webp";
    return NULL;
}

static void openai_image(const openai_state *st, const char *key, json_object *payload,
                         wrk_job_ctx *ctx, wrk_result *res)
{
    json_object *body = json_object_new_object();
    json_object *resp = NULL;
    json_object *result = NULL;
    const char *prompt = NULL, *model = NULL, *format = NULL;

    if (sp_json_get_string(payload, "prompt", &prompt) < 0 || prompt[0] == '\0') {
        wrk_http_failf(res, WRK_OUTCOME_FAILED_PERMANENT,
                       WHAT ": image generation needs payload.prompt (a string)");
        goto out;
    }
    if (sp_json_get_string(payload, "model", &model) < 0)
        model = st->image_model;
    json_object_object_add(body, "prompt", json_object_new_string(prompt));
    json_object_object_add(body, "model", json_object_new_string(model));
    if (openai_pass(payload, body, "n", T(json_type_int), "an integer", res) < 0 ||
        openai_pass(payload, body, "size", T(json_type_string), "a string", res) < 0 ||
        openai_pass(payload, body, "quality", T(json_type_string), "a string", res) < 0 ||
        openai_pass(payload, body, "style", T(json_type_string), "a string", res) < 0 ||
        openai_pass(payload, body, "response_format", T(json_type_string), "a string", res) < 0 ||
        openai_pass(payload, body, "background", T(json_type_string), "a string", res) < 0 ||
        openai_pass(payload, body, "output_format", T(json_type_string), "a string", res) < 0 ||
        openai_pass(payload, body, "output_compression", T(json_type_int), "an integer", res) < 0 ||
        openai_pass(payload, body, "moderation", T(json_type_string), "a string", res) < 0 ||
        openai_pass(payload, body, "user", T(json_type_string), "a string", res) < 0)
        goto out;
    /* DALL·E answers with a URL by default, which expires in an hour: ask for the bytes.
     * GPT image models always answer with base64 and reject the parameter. */
    if (!json_object_object_get_ex(body, "response_format", NULL) &&
        strncmp(model, "dall-e", 6) == 0)
        json_object_object_add(body, "response_format", json_object_new_string("b64_json"));
    if (sp_json_get_string(payload, "output_format", &format) < 0)
        format = NULL;

    wrk_job_progress(ctx, 5, "waiting for image generation");
    if (openai_post(st, key, ctx, "/images/generations", body, &resp, res) != 0)
        goto out;
    wrk_job_progress(ctx, 80, "storing images");

    json_object *data;
    if (sp_json_get_array(resp, "data", &data) < 0 || json_object_array_length(data) == 0) {
        wrk_http_failf(res, WRK_OUTCOME_FAILED_RETRYABLE, WHAT ": the response has no images");
        goto out;
    }
    result = json_object_new_object();
    json_object *images = json_object_new_array();
    json_object_object_add(result, "images", images);
    size_t n = json_object_array_length(data);
    for (size_t i = 0; i < n; i++) {
        json_object *item = json_object_array_get_idx(data, i);
        const char *b64 = NULL, *url = NULL, *revised = NULL;
        const char *type = openai_image_type(format);
        char name[64];
        snprintf(name, sizeof(name), "image-%zu.%s", i + 1, format ? format : "png");
        json_object *extra = NULL;
        if (sp_json_get_string(item, "revised_prompt", &revised) == 0) {
            extra = json_object_new_object();
            json_object_object_add(extra, "revised_prompt", json_object_new_string(revised));
        }
        if (wrk_job_should_stop(ctx)) {
            json_object_put(extra);
            wrk_http_failf(res, wrk_http_stop_outcome(ctx), WHAT ": stopped");
            goto out;
        }
        if (sp_json_get_string(item, "b64_json", &b64) == 0) {
            unsigned char *bytes = NULL;
            size_t len = 0;
            char media[64];
            if (wrk_base64_decode(b64, &bytes, &len, media, sizeof(media)) < 0) {
                json_object_put(extra);
                wrk_http_failf(res, WRK_OUTCOME_FAILED_RETRYABLE,
                               WHAT ": image %zu is not valid base64", i + 1);
                goto out;
            }
            int rc = wrk_http_store(ctx, bytes, len, name, media[0] ? media : type, extra, images,
                                    res, WHAT);
            free(bytes);
            if (rc < 0)
                goto out;
        } else if (sp_json_get_string(item, "url", &url) == 0) {
            /* A storage URL: no credentials go there. */
            wrk_http_request req = {
                .connect_timeout_ms = st->connect_timeout_ms,
                .timeout_ms = st->timeout_ms,
                .max_response = st->max_response,
                .ctx = ctx,
            };
            if (wrk_http_fetch_output(&req, url, name, extra, images, res, WHAT) < 0)
                goto out;
        } else {
            json_object_put(extra);
            wrk_http_failf(res, WRK_OUTCOME_FAILED_RETRYABLE,
                           WHAT ": image %zu has neither b64_json nor url", i + 1);
            goto out;
        }
        wrk_job_progress(ctx, 80 + (int)(20 * (i + 1) / n), NULL);
    }
    json_object *v;
    if (json_object_object_get_ex(resp, "created", &v))
        json_object_object_add(result, "created", json_object_get(v));
    json_object_object_add(result, "model", json_object_new_string(model));
    json_object *usage = openai_usage(resp);
    if (usage != NULL)
        json_object_object_add(result, "usage", usage);
    res->outcome = WRK_OUTCOME_COMPLETED;
    res->result = result;
    result = NULL;
out:
    json_object_put(result);
    json_object_put(resp);
    json_object_put(body);
}

/* "image" when the payload or the job type asks for image generation, else "chat". */
static int openai_is_image(const wrk_job *job)
{
    const char *op = NULL;
    if (sp_json_get_string(job->payload, "operation", &op) == 0)
        return strstr(op, "image") != NULL;
    if (sp_json_get_string(job->payload, "job_type", &op) == 0 && strstr(op, "image") != NULL)
        return 1;
    return job->type != NULL && strstr(job->type, "image") != NULL;
}

static void openai_run(void *arg, const wrk_job *job, wrk_job_ctx *ctx, wrk_result *res)
{
    const openai_state *st = arg;
    const char *key = NULL;
    res->outcome = WRK_OUTCOME_FAILED_PERMANENT;
    if (sp_json_get_string(job->payload, "api_key", &key) < 0 || key[0] == '\0')
        key = st->api_key;
    if (key == NULL) {
        wrk_http_failf(res, WRK_OUTCOME_FAILED_PERMANENT,
                       WHAT ": no API key (set openai_api_key or payload.api_key)");
        return;
    }
    if (openai_is_image(job))
        openai_image(st, key, job->payload, ctx, res);
    else
        openai_chat(st, key, job->payload, ctx, res);
}

static int openai_check(void *arg, char *msg, size_t msglen)
{
    const openai_state *st = arg;
    if (st->api_key == NULL) {
        snprintf(msg, msglen,
                 "%s: no API key configured (openai_api_key); jobs must carry "
                 "payload.api_key",
                 st->url);
        return SP_E_INVAL;
    }
    const char *headers[3];
    char url[1024];
    snprintf(url, sizeof(url), "%s/models", st->url);
    wrk_http_request req = openai_request(st, st->api_key, NULL, headers);
    req.method = "GET";
    req.url = url;
    wrk_http_response resp;
    int rc = wrk_http_perform(&req, &resp);
    if (rc == 0 && wrk_http_ok(&resp)) {
        json_object *root = NULL, *data = NULL;
        size_t n = 0;
        if (wrk_http_json(&resp, &root) == 0 && sp_json_get_array(root, "data", &data) == 0)
            n = json_object_array_length(data);
        json_object_put(root);
        snprintf(msg, msglen, "%s: reachable, the key is accepted (%zu models)", st->url, n);
    } else if (rc == 0) {
        wrk_result tmp = {0};
        wrk_http_fail(&tmp, &resp, NULL, st->url, st->api_key);
        snprintf(msg, msglen, "%s", tmp.error);
        rc = SP_E_CONN;
    } else {
        snprintf(msg, msglen, "%s: %s", st->url, sp_err_str(rc));
    }
    wrk_http_response_free(&resp);
    return rc;
}

const wrk_connector_ops wrk_connector_openai = {
    .name = "openai",
    .create = openai_create,
    .destroy = openai_destroy,
    .models = NULL,
    .check = openai_check,
    .run = openai_run,
};

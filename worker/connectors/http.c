/*
 * http: the generic REST connector. One job = one HTTP request; the response body (JSON, or
 * text as a JSON string) becomes the job's result.
 *
 * The request comes from the payload:
 *   {"method": "POST", "url": "https://api.example.com/v1/things",
 *    "headers": {"Authorization": "Bearer …"}, "body": {…} or "text"}
 * or, when http_templates has an entry for the job's type, from that template, whose url,
 * header values and body strings may name payload keys as {{key}} (in the url the value is
 * percent-encoded; a body string that is exactly "{{key}}" becomes the payload value itself,
 * of whatever type). A template without a body sends the whole payload as JSON.
 *
 * Rules: http and https only; with http_allowed_urls set, the URL must start with one of its
 * prefixes (payloads from untrusted clients); connect and total timeouts; TLS verification
 * on; the response is bounded (http_max_response_bytes). Outcomes: 2xx completes; 5xx, 408,
 * 429, timeouts and connection failures are retryable; other 4xx are permanent; a stop is a
 * cancellation (or a retryable timeout). The transfer itself is wrk_http (shared with the
 * service connectors).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sp_buf.h"
#include "sp_json.h"
#include "wrk_connector.h"
#include "wrk_http.h"

#define HTTP_MAX_TEMPLATE_FILE (1 << 20)
#define HTTP_MAX_HEADERS 64

typedef struct {
    json_object *templates; /* type -> template object; may be NULL */
    json_object *allowed;   /* array of URL prefixes; may be NULL */
    long timeout_ms, connect_timeout_ms;
    size_t max_response;
} http_state;

static void http_destroy(void *state)
{
    http_state *st = state;
    if (st == NULL)
        return;
    json_object_put(st->templates);
    json_object_put(st->allowed);
    free(st);
}

static int read_file(const char *path, char **out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "invalid value for http_templates: could not open %s", path);
        return SP_E_IO;
    }
    char *buf = malloc(HTTP_MAX_TEMPLATE_FILE + 1);
    size_t n = buf != NULL ? fread(buf, 1, HTTP_MAX_TEMPLATE_FILE + 1, f) : 0;
    fclose(f);
    if (buf == NULL)
        return SP_E_NOMEM;
    if (n > HTTP_MAX_TEMPLATE_FILE) {
        free(buf);
        snprintf(err, errlen, "invalid value for http_templates: %s is larger than 1 MiB", path);
        return SP_E_RANGE;
    }
    buf[n] = '\0';
    *out = buf;
    return 0;
}

/* Checks one template: an object with a string url, optional string method and an object
 * of string headers. */
static int check_template(const char *type, json_object *t, char *err, size_t errlen)
{
    const char *s;
    json_object *h;
    if (!json_object_is_type(t, json_type_object) || sp_json_get_string(t, "url", &s) < 0) {
        snprintf(err, errlen, "invalid value for http_templates: \"%s\" needs a string \"url\"",
                 type);
        return SP_E_INVAL;
    }
    int rc = sp_json_get_string(t, "method", &s);
    if (rc < 0 && rc != SP_E_NOTFOUND) {
        snprintf(err, errlen, "invalid value for http_templates: \"%s\".method must be a string",
                 type);
        return SP_E_INVAL;
    }
    rc = sp_json_get_object(t, "headers", &h);
    if (rc < 0 && rc != SP_E_NOTFOUND) {
        snprintf(err, errlen, "invalid value for http_templates: \"%s\".headers must be an object",
                 type);
        return SP_E_INVAL;
    }
    return 0;
}

static int http_create(const wrk_connector_config *cfg, void **state, char *err, size_t errlen)
{
    int rc = 0;
    char *text = NULL, why[160];
    if (wrk_http_global_init() < 0) {
        snprintf(err, errlen, "could not initialize libcurl");
        return SP_E_NOMEM;
    }
    http_state *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return SP_E_NOMEM;
    st->timeout_ms = (long)wrk_connector_config_int(cfg, "timeout", 60) * 1000;
    st->connect_timeout_ms = (long)wrk_connector_config_int(cfg, "connect_timeout", 10) * 1000;
    st->max_response = (size_t)wrk_connector_config_int(cfg, "max_response_bytes", 10 << 20);

    const char *tpl = wrk_connector_config_string(cfg, "templates", NULL);
    if (tpl != NULL && tpl[0] != '\0') {
        const char *src = tpl;
        if (tpl[0] != '{') {
            if ((rc = read_file(tpl, &text, err, errlen)) < 0)
                goto out;
            src = text;
        }
        if (sp_json_parse(src, &st->templates, why, sizeof(why)) < 0 ||
            !json_object_is_type(st->templates, json_type_object)) {
            snprintf(err, errlen, "invalid value for http_templates: %s",
                     st->templates == NULL ? why : "must be a JSON object of templates");
            rc = SP_E_PARSE;
            goto out;
        }
        json_object_object_foreach(st->templates, type, t)
        {
            if ((rc = check_template(type, t, err, errlen)) < 0)
                goto out;
        }
    }
    const char *allowed = wrk_connector_config_string(cfg, "allowed_urls", NULL);
    if (allowed != NULL && allowed[0] != '\0') {
        st->allowed = json_object_new_array();
        const char *p = allowed;
        while (*p != '\0') {
            const char *comma = strchr(p, ',');
            size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
            while (n > 0 && *p == ' ') {
                p++;
                n--;
            }
            while (n > 0 && p[n - 1] == ' ')
                n--;
            if (n > 0)
                json_object_array_add(st->allowed, json_object_new_string_len(p, (int)n));
            p = comma != NULL ? comma + 1 : p + strlen(p);
        }
    }
out:
    free(text);
    if (rc < 0) {
        http_destroy(st);
        return rc;
    }
    *state = st;
    return 0;
}

static int http_check(void *state, char *msg, size_t msglen)
{
    http_state *st = state;
    snprintf(msg, msglen, "%d templates; %s; timeout %ld s",
             st->templates != NULL ? json_object_object_length(st->templates) : 0,
             st->allowed != NULL ? "URLs limited to http_allowed_urls" : "any http(s) URL",
             st->timeout_ms / 1000);
    return 0;
}

/* Appends the text of a payload value: strings as they are, other values as JSON. */
static int value_text(json_object *v, sp_buf *out, bool url)
{
    const char *s = json_object_is_type(v, json_type_string)
                        ? json_object_get_string(v)
                        : json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
    if (!url)
        return sp_buf_appends(out, s);
    size_t cap = strlen(s) * 3 + 1;
    char *esc = malloc(cap);
    if (esc == NULL)
        return SP_E_NOMEM;
    int rc = wrk_http_escape(s, esc, cap);
    if (rc == 0)
        rc = sp_buf_appends(out, esc);
    free(esc);
    return rc;
}

/* Replaces {{key}} with payload values in text. Unknown keys are left as they are. */
static int substitute(const char *text, json_object *payload, bool url, sp_buf *out)
{
    int rc = 0;
    const char *p = text;
    while (rc == 0 && *p != '\0') {
        const char *open = strstr(p, "{{");
        const char *close = open != NULL ? strstr(open + 2, "}}") : NULL;
        if (open == NULL || close == NULL || close - open - 2 > 200)
            return sp_buf_appends(out, p);
        char key[208];
        size_t klen = (size_t)(close - open - 2);
        memcpy(key, open + 2, klen);
        key[klen] = '\0';
        json_object *v = NULL;
        if ((rc = sp_buf_append(out, p, (size_t)(open - p))) < 0)
            return rc;
        if (json_object_object_get_ex(payload, key, &v) && v != NULL)
            rc = value_text(v, out, url);
        else
            rc = sp_buf_append(out, open, (size_t)(close + 2 - open));
        p = close + 2;
    }
    return rc;
}

/* A copy of a template body with its strings substituted (owned). */
static json_object *substitute_body(json_object *body, json_object *payload)
{
    json_object *copy = NULL;
    if (json_object_is_type(body, json_type_string)) {
        const char *s = json_object_get_string(body);
        size_t n = strlen(s);
        json_object *v = NULL;
        if (n > 4 && strncmp(s, "{{", 2) == 0 && strcmp(s + n - 2, "}}") == 0 &&
            strstr(s + 2, "{{") == NULL) {
            char key[256];
            if (n - 4 < sizeof(key)) {
                memcpy(key, s + 2, n - 4);
                key[n - 4] = '\0';
                if (json_object_object_get_ex(payload, key, &v) && v != NULL)
                    return json_object_get(v);
            }
        }
        sp_buf *b = NULL;
        if (sp_buf_new(&b, 16 << 20) < 0)
            return NULL;
        if (substitute(s, payload, false, b) == 0)
            copy = json_object_new_string_len(sp_buf_data(b), (int)sp_buf_len(b));
        sp_buf_free(b);
        return copy;
    }
    if (json_object_is_type(body, json_type_object)) {
        copy = json_object_new_object();
        json_object_object_foreach(body, k, v)
        {
            json_object_object_add(copy, k, v != NULL ? substitute_body(v, payload) : NULL);
        }
        return copy;
    }
    if (json_object_is_type(body, json_type_array)) {
        copy = json_object_new_array();
        for (size_t i = 0; i < json_object_array_length(body); i++) {
            json_object *v = json_object_array_get_idx(body, i);
            json_object_array_add(copy, v != NULL ? substitute_body(v, payload) : NULL);
        }
        return copy;
    }
    return json_object_get(body);
}

static bool url_allowed(const http_state *st, const char *url)
{
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return false;
    if (st->allowed == NULL)
        return true;
    for (size_t i = 0; i < json_object_array_length(st->allowed); i++) {
        const char *pre = json_object_get_string(json_object_array_get_idx(st->allowed, i));
        if (strncmp(url, pre, strlen(pre)) == 0)
            return true;
    }
    return false;
}

static void http_run(void *state, const wrk_job *job, wrk_job_ctx *ctx, wrk_result *res)
{
    http_state *st = state;
    json_object *tpl = NULL, *spec, *headers = NULL, *body = NULL, *parsed = NULL;
    const char *method = NULL, *url_src = NULL, *hdrs[HTTP_MAX_HEADERS + 1];
    sp_buf *url = NULL, *hbuf[HTTP_MAX_HEADERS] = {0};
    const char *body_text = NULL, *ctype = NULL;
    char what[300];
    int nh = 0;
    wrk_http_response resp = {0};

    if (st->templates != NULL)
        json_object_object_get_ex(st->templates, job->type, &tpl);
    spec = tpl != NULL ? tpl : job->payload;
    if (sp_json_get_string(spec, "url", &url_src) < 0) {
        res->outcome = WRK_OUTCOME_FAILED_PERMANENT;
        snprintf(res->error, sizeof(res->error), "http: payload.url must be a string");
        goto out;
    }
    if (sp_json_get_string(spec, "method", &method) == SP_E_INVAL) {
        res->outcome = WRK_OUTCOME_FAILED_PERMANENT;
        snprintf(res->error, sizeof(res->error), "http: method must be a string");
        goto out;
    }
    if (sp_buf_new(&url, 8192) < 0 || (tpl != NULL ? substitute(url_src, job->payload, true, url)
                                                   : sp_buf_appends(url, url_src)) < 0) {
        res->outcome = WRK_OUTCOME_FAILED_PERMANENT;
        snprintf(res->error, sizeof(res->error), "http: the URL is longer than 8 KiB");
        goto out;
    }
    if (!url_allowed(st, sp_buf_data(url))) {
        res->outcome = WRK_OUTCOME_FAILED_PERMANENT;
        snprintf(res->error, sizeof(res->error), "http: URL not allowed (http or https%s)",
                 st->allowed != NULL ? ", starting with one of http_allowed_urls" : "");
        goto out;
    }

    /* Body: the template's (substituted), or the whole payload for a template without one;
     * the payload's "body" otherwise. Strings go as text, anything else as JSON. */
    json_object *raw = NULL;
    if (tpl != NULL) {
        body = json_object_object_get_ex(tpl, "body", &raw) ? substitute_body(raw, job->payload)
                                                            : json_object_get(job->payload);
    } else if (json_object_object_get_ex(job->payload, "body", &raw)) {
        body = json_object_get(raw);
    }
    if (body != NULL) {
        if (json_object_is_type(body, json_type_string)) {
            body_text = json_object_get_string(body);
            ctype = "text/plain; charset=utf-8";
        } else {
            body_text = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
                                                                 JSON_C_TO_STRING_NOSLASHESCAPE);
            ctype = "application/json";
        }
    }
    if (method == NULL)
        method = body != NULL ? "POST" : "GET";

    if (sp_json_get_object(spec, "headers", &headers) == 0) {
        json_object_object_foreach(headers, name, value)
        {
            if (nh == HTTP_MAX_HEADERS || !json_object_is_type(value, json_type_string) ||
                strpbrk(name, ":\r\n") != NULL) {
                res->outcome = WRK_OUTCOME_FAILED_PERMANENT;
                snprintf(res->error, sizeof(res->error),
                         "http: headers must be at most %d name: \"string\" pairs",
                         HTTP_MAX_HEADERS);
                goto out;
            }
            if (sp_buf_new(&hbuf[nh], 16384) < 0 || sp_buf_appendf(hbuf[nh], "%s: ", name) < 0 ||
                (tpl != NULL
                     ? substitute(json_object_get_string(value), job->payload, false, hbuf[nh])
                     : sp_buf_appends(hbuf[nh], json_object_get_string(value))) < 0 ||
                strpbrk(sp_buf_data(hbuf[nh]), "\r\n") != NULL) {
                res->outcome = WRK_OUTCOME_FAILED_PERMANENT;
                snprintf(res->error, sizeof(res->error), "http: header %s is invalid or too long",
                         name);
                nh++;
                goto out;
            }
            if (strncasecmp(name, "content-type", 12) == 0 && name[12] == '\0')
                ctype = NULL; /* the job's own */
            hdrs[nh] = sp_buf_data(hbuf[nh]);
            nh++;
        }
    }
    hdrs[nh] = NULL;

    /* "POST https://host/path" for messages: never the query string, which may hold a key. */
    snprintf(what, sizeof(what), "http %s %.*s", method, (int)strcspn(sp_buf_data(url), "?#"),
             sp_buf_data(url));
    wrk_http_request req = {
        .method = method,
        .url = sp_buf_data(url),
        .headers = hdrs,
        .body = body_text,
        .body_len = body_text != NULL ? strlen(body_text) : 0,
        .content_type = ctype,
        .connect_timeout_ms = st->connect_timeout_ms,
        .timeout_ms = st->timeout_ms,
        .max_response = st->max_response,
        .ctx = ctx,
    };
    if (wrk_http_perform(&req, &resp) < 0) {
        res->outcome = WRK_OUTCOME_FAILED_RETRYABLE;
        snprintf(res->error, sizeof(res->error), "%s: could not run the request", what);
        goto out;
    }
    if (!wrk_http_ok(&resp)) {
        wrk_http_fail(res, &resp, ctx, what, NULL);
        goto out;
    }
    if (wrk_http_body_len(&resp) > 0 && wrk_http_json(&resp, &parsed) == 0) {
        res->result = parsed;
    } else {
        res->result =
            json_object_new_string_len(wrk_http_body(&resp), (int)wrk_http_body_len(&resp));
    }
    res->outcome = WRK_OUTCOME_COMPLETED;
out:
    wrk_http_response_free(&resp);
    for (int i = 0; i < HTTP_MAX_HEADERS; i++)
        sp_buf_free(hbuf[i]);
    sp_buf_free(url);
    json_object_put(body);
}

const wrk_connector_ops wrk_connector_http = {
    .name = "http",
    .create = http_create,
    .destroy = http_destroy,
    .models = NULL,
    .check = http_check,
    .run = http_run,
};

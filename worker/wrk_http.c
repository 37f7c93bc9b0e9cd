/* wrk_http: libcurl plumbing shared by the worker's HTTP connectors; see wrk_http.h. */
#include "wrk_http.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "sp_json.h"

/* How often a running transfer looks at the job's stop flag (and the tick clock). */
#define HTTP_POLL_MS 100

static pthread_once_t http_once = PTHREAD_ONCE_INIT;
static CURLcode http_init_rc = CURLE_OK;

static void http_init_once(void)
{
    http_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int wrk_http_global_init(void)
{
    pthread_once(&http_once, http_init_once);
    return http_init_rc == CURLE_OK ? 0 : SP_E_NOMEM;
}

int64_t wrk_http_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int wrk_http_sleep(wrk_job_ctx *ctx, long ms)
{
    int64_t end = wrk_http_now_ms() + ms;
    for (;;) {
        if (ctx != NULL && wrk_job_should_stop(ctx))
            return 1;
        int64_t left = end - wrk_http_now_ms();
        if (left <= 0)
            return 0;
        if (left > 50)
            left = 50;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)left * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
    }
}

/* State the write and header callbacks share with wrk_http_perform. */
typedef struct {
    wrk_http_response *resp;
    int too_large;
} http_transfer;

static size_t http_on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    http_transfer *t = arg;
    size_t len = size * nmemb;
    if (sp_buf_append(t->resp->body, data, len) < 0) {
        t->too_large = 1;
        return 0; /* makes libcurl fail the transfer with CURLE_WRITE_ERROR */
    }
    return len;
}

/* Trims a header value in place (leading and trailing white space, CR, LF). */
static char *http_trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static size_t http_on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    http_transfer *t = arg;
    size_t len = size * nmemb;
    char line[512];
    if (len >= sizeof(line))
        return len; /* a header this long is none of the ones we read */
    memcpy(line, data, len);
    line[len] = '\0';
    if (strncmp(line, "HTTP/", 5) == 0) {
        /* A new response (after a redirect or a 100 Continue): forget the previous one's. */
        t->resp->retry_after_s = -1;
        t->resp->should_retry = -1;
        return len;
    }
    char *colon = strchr(line, ':');
    if (colon == NULL)
        return len;
    *colon = '\0';
    char *value = http_trim(colon + 1);
    if (strcasecmp(line, "Retry-After") == 0) {
        char *end;
        errno = 0;
        double secs = strtod(value, &end);
        if (end != value && *end == '\0' && errno == 0 && secs >= 0 && secs < 1e9) {
            t->resp->retry_after_s = (long)(secs + 0.999);
        } else {
            time_t when = curl_getdate(value, NULL);
            if (when > 0) {
                time_t now = time(NULL);
                t->resp->retry_after_s = when > now ? (long)(when - now) : 0;
            }
        }
    } else if (strcasecmp(line, "x-should-retry") == 0) {
        if (strcasecmp(value, "true") == 0)
            t->resp->should_retry = 1;
        else if (strcasecmp(value, "false") == 0)
            t->resp->should_retry = 0;
    }
    return len;
}

static wrk_http_status http_map_curl(CURLcode rc, int too_large)
{
    switch (rc) {
    case CURLE_OK:
        return WRK_HTTP_DONE;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        return WRK_HTTP_E_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        return WRK_HTTP_E_TIMEOUT;
    case CURLE_FILESIZE_EXCEEDED:
        return WRK_HTTP_E_TOO_LARGE;
    case CURLE_WRITE_ERROR:
        return too_large ? WRK_HTTP_E_TOO_LARGE : WRK_HTTP_E_OTHER;
    case CURLE_ABORTED_BY_CALLBACK:
        return WRK_HTTP_E_STOPPED;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
        return WRK_HTTP_E_TLS;
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
        return WRK_HTTP_E_TRANSFER;
    default:
        return WRK_HTTP_E_OTHER;
    }
}

/* Appends one header to the list; on failure frees the list and returns NULL. */
static struct curl_slist *http_header_add(struct curl_slist *list, const char *header)
{
    struct curl_slist *next = curl_slist_append(list, header);
    if (next == NULL)
        curl_slist_free_all(list);
    return next;
}

int wrk_http_perform(const wrk_http_request *req, wrk_http_response *resp)
{
    memset(resp, 0, sizeof(*resp));
    resp->retry_after_s = -1;
    resp->should_retry = -1;
    if (req == NULL || req->url == NULL)
        return SP_E_INVAL;

    int rc = 0;
    CURL *easy = NULL;
    CURLM *multi = NULL;
    struct curl_slist *headers = NULL;
    char *auth = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    http_transfer t = {.resp = resp};
    size_t max = req->max_response ? req->max_response : WRK_HTTP_DEFAULT_MAX_RESPONSE;

    rc = sp_buf_new(&resp->body, max);
    if (rc < 0)
        goto out;
    if (req->ctx != NULL && wrk_job_should_stop(req->ctx)) {
        resp->status = WRK_HTTP_E_STOPPED;
        snprintf(resp->error, sizeof(resp->error), "stopped before the request was sent");
        goto out;
    }
    rc = wrk_http_global_init();
    if (rc < 0)
        goto out;
    easy = curl_easy_init();
    multi = curl_multi_init();
    if (easy == NULL || multi == NULL) {
        rc = SP_E_NOMEM;
        goto out;
    }

    /* "Expect:" turns off 100-continue, which would stall large POST bodies for a second. */
    headers = http_header_add(headers, "Expect:");
    for (size_t i = 0; headers != NULL && req->headers != NULL && req->headers[i] != NULL; i++)
        headers = http_header_add(headers, req->headers[i]);
    if (headers != NULL && req->body != NULL) {
        char ct[160];
        snprintf(ct, sizeof(ct), "Content-Type: %s",
                 req->content_type ? req->content_type : "application/json");
        headers = http_header_add(headers, ct);
    }
    if (headers != NULL && req->bearer_token != NULL) {
        size_t n = strlen(req->bearer_token) + sizeof("Authorization: Bearer ");
        auth = malloc(n);
        if (auth == NULL) {
            rc = SP_E_NOMEM;
            goto out;
        }
        snprintf(auth, n, "Authorization: Bearer %s", req->bearer_token);
        headers = http_header_add(headers, auth);
    }
    if (headers == NULL) {
        rc = SP_E_NOMEM;
        goto out;
    }

    long connect_ms =
        req->connect_timeout_ms > 0 ? req->connect_timeout_ms : WRK_HTTP_DEFAULT_CONNECT_TIMEOUT_MS;
    long total_ms = req->timeout_ms > 0 ? req->timeout_ms : WRK_HTTP_DEFAULT_TIMEOUT_MS;
    const char *method = req->method ? req->method : "GET";

    curl_easy_setopt(easy, CURLOPT_URL, req->url);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, total_ms);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, req->follow_redirects ? 1L : 0L);
    curl_easy_setopt(easy, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
    curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "spool-worker/0.1");
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, http_on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, http_on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, &t);
    if (req->basic_auth != NULL) {
        curl_easy_setopt(easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(easy, CURLOPT_USERPWD, req->basic_auth);
    }
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    } else {
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, req->body ? (const char *)req->body : "");
    }

    if (curl_multi_add_handle(multi, easy) != CURLM_OK) {
        rc = SP_E_NOMEM;
        goto out;
    }

    /* Drive the transfer ourselves so that a stop is seen within HTTP_POLL_MS rather than
     * the second or so that curl_easy_perform's progress callback would take. */
    long tick_ms = req->tick_interval_ms > 0 ? req->tick_interval_ms : 1000;
    int64_t next_tick = wrk_http_now_ms() + tick_ms;
    int stopped = 0;
    for (;;) {
        int running = 0;
        CURLMcode mc = curl_multi_perform(multi, &running);
        if (mc != CURLM_OK) {
            resp->status = WRK_HTTP_E_OTHER;
            snprintf(resp->error, sizeof(resp->error), "%s", curl_multi_strerror(mc));
            break;
        }
        if (running == 0)
            break;
        if (req->ctx != NULL && wrk_job_should_stop(req->ctx)) {
            stopped = 1;
            break;
        }
        if (req->tick != NULL && wrk_http_now_ms() >= next_tick) {
            if (req->tick(req->tick_arg) != 0) {
                stopped = 1;
                break;
            }
            next_tick = wrk_http_now_ms() + tick_ms;
        }
        curl_multi_poll(multi, NULL, 0, HTTP_POLL_MS, NULL);
    }

    if (stopped) {
        resp->status = WRK_HTTP_E_STOPPED;
        snprintf(resp->error, sizeof(resp->error), "stopped while the request ran");
    } else if (resp->status == WRK_HTTP_DONE) {
        int left;
        CURLcode cc = CURLE_OK;
        CURLMsg *msg;
        while ((msg = curl_multi_info_read(multi, &left)) != NULL)
            if (msg->msg == CURLMSG_DONE && msg->easy_handle == easy)
                cc = msg->data.result;
        resp->status = http_map_curl(cc, t.too_large);
        if (cc != CURLE_OK)
            snprintf(resp->error, sizeof(resp->error), "%s",
                     resp->status == WRK_HTTP_E_TOO_LARGE ? "response larger than the limit"
                     : errbuf[0]                          ? errbuf
                                                          : curl_easy_strerror(cc));
    }
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &resp->code);
    char *ct = NULL;
    if (curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct != NULL) {
        size_t i = 0;
        for (; ct[i] && ct[i] != ';' && i + 1 < sizeof(resp->content_type); i++)
            resp->content_type[i] = (char)tolower((unsigned char)ct[i]);
        resp->content_type[i] = '\0';
        http_trim(resp->content_type);
    }
    curl_multi_remove_handle(multi, easy);

out:
    curl_slist_free_all(headers);
    if (auth != NULL) {
        /* The bearer token should not linger in freed memory. */
        memset(auth, 0, strlen(auth));
        free(auth);
    }
    if (easy != NULL)
        curl_easy_cleanup(easy);
    if (multi != NULL)
        curl_multi_cleanup(multi);
    return rc;
}

void wrk_http_response_free(wrk_http_response *resp)
{
    if (resp == NULL)
        return;
    sp_buf_free(resp->body);
    resp->body = NULL;
}

const char *wrk_http_body(const wrk_http_response *resp)
{
    return resp->body ? sp_buf_data(resp->body) : "";
}

size_t wrk_http_body_len(const wrk_http_response *resp)
{
    return resp->body ? sp_buf_len(resp->body) : 0;
}

int wrk_http_ok(const wrk_http_response *resp)
{
    return resp->status == WRK_HTTP_DONE && resp->code >= 200 && resp->code < 300;
}

int wrk_http_json(const wrk_http_response *resp, json_object **out)
{
    char err[128];
    *out = NULL;
    if (wrk_http_body_len(resp) == 0)
        return SP_E_PARSE;
    return sp_json_parse(wrk_http_body(resp), out, err, sizeof(err));
}

wrk_outcome wrk_http_stop_outcome(wrk_job_ctx *ctx)
{
    return ctx != NULL && wrk_job_stop_reason(ctx) == WRK_STOP_TIMEOUT
               ? WRK_OUTCOME_FAILED_RETRYABLE
               : WRK_OUTCOME_CANCELLED;
}

wrk_outcome wrk_http_outcome(const wrk_http_response *resp, wrk_job_ctx *ctx)
{
    switch (resp->status) {
    case WRK_HTTP_E_CONNECT:
    case WRK_HTTP_E_TIMEOUT:
    case WRK_HTTP_E_TRANSFER:
    case WRK_HTTP_E_TLS:
        return WRK_OUTCOME_FAILED_RETRYABLE;
    case WRK_HTTP_E_STOPPED:
        return wrk_http_stop_outcome(ctx);
    case WRK_HTTP_E_TOO_LARGE:
    case WRK_HTTP_E_OTHER:
        return WRK_OUTCOME_FAILED_PERMANENT;
    case WRK_HTTP_DONE:
        break;
    }
    if (resp->code >= 200 && resp->code < 300)
        return WRK_OUTCOME_COMPLETED;
    if (resp->should_retry >= 0)
        return resp->should_retry ? WRK_OUTCOME_FAILED_RETRYABLE : WRK_OUTCOME_FAILED_PERMANENT;
    long c = resp->code;
    if (c == 408 || c == 409 || c == 425 || c == 429 || c >= 500)
        return WRK_OUTCOME_FAILED_RETRYABLE;
    return WRK_OUTCOME_FAILED_PERMANENT;
}

/* Copies the first line of s (trimmed) into out. */
static void http_first_line(const char *s, char *out, size_t outlen)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t n = strcspn(s, "\r\n");
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

static const char *http_nonempty_string(json_object *obj, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    const char *s = json_object_get_string(v);
    return s[0] ? s : NULL;
}

/* FastAPI's validation list: "body.steps: value is not a valid integer". */
static void http_detail_list(json_object *detail, char *out, size_t outlen)
{
    size_t n = json_object_array_length(detail);
    json_object *first = n ? json_object_array_get_idx(detail, 0) : NULL;
    char loc[128] = "";
    json_object *locv;
    if (first != NULL && json_object_object_get_ex(first, "loc", &locv) &&
        json_object_is_type(locv, json_type_array)) {
        size_t used = 0;
        for (size_t i = 0; i < json_object_array_length(locv) && used < sizeof(loc); i++) {
            int w = snprintf(loc + used, sizeof(loc) - used, "%s%s", i ? "." : "",
                             json_object_get_string(json_object_array_get_idx(locv, i)));
            if (w < 0)
                break;
            used += (size_t)w;
        }
    }
    const char *msg = first ? http_nonempty_string(first, "msg") : NULL;
    if (msg == NULL) {
        snprintf(out, outlen, "%s", sp_json_to_string(detail, false));
        return;
    }
    if (n > 1)
        snprintf(out, outlen, "%s%s%s (and %zu more)", loc, loc[0] ? ": " : "", msg, n - 1);
    else
        snprintf(out, outlen, "%s%s%s", loc, loc[0] ? ": " : "", msg);
}

const char *wrk_http_error_message(const wrk_http_response *resp, char *out, size_t outlen)
{
    if (outlen == 0)
        return out;
    out[0] = '\0';
    const char *body = wrk_http_body(resp);
    json_object *root = NULL;
    const char *p = body;
    while (*p && isspace((unsigned char)*p))
        p++;
    if ((*p == '{' || *p == '[') && wrk_http_json(resp, &root) == 0 &&
        json_object_is_type(root, json_type_object)) {
        json_object *err, *detail;
        const char *s;
        if (json_object_object_get_ex(root, "error", &err) &&
            json_object_is_type(err, json_type_object) &&
            (s = http_nonempty_string(err, "message")) != NULL) {
            snprintf(out, outlen, "%s", s);
        } else if (json_object_object_get_ex(root, "error", &err) &&
                   json_object_is_type(err, json_type_string)) {
            /* A1111: {"error": class, "detail": …, "errors": str(exc)}; plain {"error": …}. */
            const char *d = http_nonempty_string(root, "detail");
            const char *e = http_nonempty_string(root, "errors");
            snprintf(out, outlen, "%s", d ? d : e ? e : json_object_get_string(err));
        } else if (json_object_object_get_ex(root, "detail", &detail) &&
                   json_object_is_type(detail, json_type_array)) {
            http_detail_list(detail, out, outlen);
        } else if ((s = http_nonempty_string(root, "detail")) != NULL ||
                   (s = http_nonempty_string(root, "message")) != NULL) {
            snprintf(out, outlen, "%s", s);
        }
    }
    json_object_put(root);
    if (out[0] == '\0')
        http_first_line(body, out, outlen);
    return out;
}

/* Replaces every occurrence of secret (4 characters or more) in s with "***". */
static void http_redact(char *s, const char *secret)
{
    size_t n = secret ? strlen(secret) : 0;
    if (n < 4)
        return;
    /* The secret is longer than its replacement, so the string only shrinks. */
    char *hit;
    while ((hit = strstr(s, secret)) != NULL) {
        memmove(hit + 3, hit + n, strlen(hit + n) + 1);
        memcpy(hit, "***", 3);
    }
}

void wrk_http_failf(wrk_result *res, wrk_outcome outcome, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->error, sizeof(res->error), fmt, ap);
    va_end(ap);
    res->outcome = outcome;
}

void wrk_http_fail(wrk_result *res, const wrk_http_response *resp, wrk_job_ctx *ctx,
                   const char *what, const char *secret)
{
    wrk_outcome outcome = wrk_http_outcome(resp, ctx);
    if (resp->status == WRK_HTTP_E_STOPPED) {
        wrk_http_failf(res, outcome, "%s: %s", what,
                       outcome == WRK_OUTCOME_CANCELLED ? "cancelled" : "job timed out");
    } else if (resp->status != WRK_HTTP_DONE) {
        static const char *const kinds[] = {
            [WRK_HTTP_E_CONNECT] = "could not connect",
            [WRK_HTTP_E_TIMEOUT] = "request timed out",
            [WRK_HTTP_E_TRANSFER] = "connection failed mid-response",
            [WRK_HTTP_E_TLS] = "TLS failure",
            [WRK_HTTP_E_TOO_LARGE] = "response too large",
            [WRK_HTTP_E_OTHER] = "request failed",
        };
        wrk_http_failf(res, outcome, "%s: %s: %s", what, kinds[resp->status], resp->error);
    } else {
        char msg[512];
        wrk_http_error_message(resp, msg, sizeof(msg));
        char retry[48] = "";
        if (resp->retry_after_s >= 0 && outcome == WRK_OUTCOME_FAILED_RETRYABLE)
            snprintf(retry, sizeof(retry), " (retry after %ld s)", resp->retry_after_s);
        wrk_http_failf(res, outcome, "%s: HTTP %ld%s%s%s", what, resp->code, msg[0] ? ": " : "",
                       msg, retry);
    }
    http_redact(res->error, secret);
}

int wrk_http_escape(const char *s, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            if (o + 1 >= outlen)
                return SP_E_RANGE;
            out[o++] = (char)*p;
        } else {
            if (o + 3 >= outlen)
                return SP_E_RANGE;
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    if (o >= outlen)
        return SP_E_RANGE;
    out[o] = '\0';
    return 0;
}

const char *wrk_http_media_type(const char *content_type, const char *filename)
{
    if (content_type != NULL && content_type[0] && strcmp(content_type, "text/plain") != 0 &&
        strcmp(content_type, "application/octet-stream") != 0 &&
        strcmp(content_type, "binary/octet-stream") != 0)
        return content_type;
    static const struct {
        const char *ext;
        const char *type;
    } map[] = {
        {"png", "image/png"},         {"jpg", "image/jpeg"},        {"jpeg", "image/jpeg"},
        {"webp", "image/webp"},       {"gif", "image/gif"},         {"mp4", "video/mp4"},
        {"webm", "video/webm"},       {"mov", "video/quicktime"},   {"mkv", "video/x-matroska"},
        {"wav", "audio/wav"},         {"mp3", "audio/mpeg"},        {"flac", "audio/flac"},
        {"ogg", "audio/ogg"},         {"glb", "model/gltf-binary"}, {"obj", "model/obj"},
        {"json", "application/json"}, {"txt", "text/plain"},
    };
    const char *dot = filename ? strrchr(filename, '.') : NULL;
    if (dot == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcasecmp(dot + 1, map[i].ext) == 0)
            return map[i].type;
    return NULL;
}

int wrk_http_store(wrk_job_ctx *ctx, const void *data, size_t len, const char *name_hint,
                   const char *media_type, json_object *extra, json_object *outputs,
                   wrk_result *res, const char *what)
{
    json_object *desc = NULL;
    int rc = wrk_job_store_output(ctx, data, len, name_hint, media_type, &desc);
    if (rc < 0) {
        wrk_http_failf(res, WRK_OUTCOME_FAILED_RETRYABLE, "%s: could not store output %s: %s", what,
                       name_hint ? name_hint : "", sp_err_str(rc));
        json_object_put(extra);
        return rc;
    }
    if (extra != NULL && json_object_is_type(desc, json_type_object)) {
        json_object_object_foreach(extra, key, val)
        {
            if (!json_object_object_get_ex(desc, key, NULL))
                json_object_object_add(desc, key, json_object_get(val));
        }
    }
    json_object_put(extra);
    if (json_object_array_add(outputs, desc) != 0) {
        json_object_put(desc);
        wrk_http_failf(res, WRK_OUTCOME_FAILED_RETRYABLE, "%s: out of memory", what);
        return SP_E_NOMEM;
    }
    return 0;
}

int wrk_http_fetch_output(const wrk_http_request *base, const char *url, const char *name_hint,
                          json_object *extra, json_object *outputs, wrk_result *res,
                          const char *what)
{
    wrk_http_request req = *base;
    req.method = "GET";
    req.url = url;
    req.body = NULL;
    req.body_len = 0;
    req.follow_redirects = 1;
    req.tick = NULL;
    wrk_http_response resp;
    int rc = wrk_http_perform(&req, &resp);
    if (rc < 0) {
        wrk_http_failf(res, WRK_OUTCOME_FAILED_RETRYABLE, "%s: could not fetch output: %s", what,
                       sp_err_str(rc));
        json_object_put(extra);
    } else if (!wrk_http_ok(&resp)) {
        char prefix[160];
        snprintf(prefix, sizeof(prefix), "%s: could not fetch output %s", what,
                 name_hint ? name_hint : "");
        wrk_http_fail(res, &resp, req.ctx, prefix, req.bearer_token);
        /* A file the service says is not there will not appear by retrying the download,
         * but the run that should have made it may do better: treat a 404 as retryable. */
        if (resp.code == 404)
            res->outcome = WRK_OUTCOME_FAILED_RETRYABLE;
        json_object_put(extra);
        rc = SP_E_IO;
    } else {
        rc = wrk_http_store(req.ctx, wrk_http_body(&resp), wrk_http_body_len(&resp), name_hint,
                            wrk_http_media_type(resp.content_type, name_hint), extra, outputs, res,
                            what);
    }
    wrk_http_response_free(&resp);
    return rc;
}

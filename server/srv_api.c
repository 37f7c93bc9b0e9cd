/*
 * srv_api: the routes of spoold and their handlers. Every state change is one call of a
 * spool.* SQL function; handlers only check input, pick the tenant scope and shape JSON.
 *
 * Tenants: a token bound to a tenant sees and touches only jobs whose customer_id is that
 * tenant; other jobs answer 404, exactly like jobs that do not exist.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "sp_log.h"
#include "sp_migrate.h"
#include "sp_token.h"
#include "srv_batch.h"
#include "srv_http.h"
#include "srv_metrics.h"
#include "srv_params.h"
#include "srv_pool.h"
#include "srv_router.h"
#include "srv_sse.h"

#define TENANT(req) ((req)->tenant[0] ? (req)->tenant : NULL)

/* Runs one query on a pooled connection and answers with its single text value as JSON.
 * empty_status: the status when the query returns no row or NULL (404), or 0 to answer
 * "null". */
static enum MHD_Result query_reply(srv_req *req, int status, const char *sql, int n,
                                   const char *const *params, int empty_status)
{
    sp_db *db = NULL;
    sp_db_res *res = NULL;
    int rc = srv_pool_get(req->srv->pool, &db);
    if (rc != 0)
        return srv_reply_unavailable(req, rc);
    rc = sp_db_exec_params(db, sql, n, params, &res);
    if (rc != 0) {
        enum MHD_Result ret = srv_reply_db_error(req, db, rc);
        srv_pool_put(req->srv->pool, db, rc == SP_E_CONN);
        return ret;
    }
    srv_pool_put(req->srv->pool, db, 0);
    const char *v = sp_db_res_nrows(res) > 0 ? sp_db_res_value(res, 0, 0) : NULL;
    enum MHD_Result ret;
    if (v == NULL && empty_status != 0)
        ret = srv_reply_error(req, empty_status, "not_found", "no such job", NULL);
    else
        ret = srv_reply_json(req, status, v ? v : "null", v ? strlen(v) : 4);
    sp_db_res_free(res);
    return ret;
}

/* The body parsed as JSON; answers 400 and returns NULL when it is missing or malformed. */
static json_object *parse_body(srv_req *req, enum MHD_Result *ret, bool required)
{
    if (req->body == NULL || sp_buf_len(req->body) == 0) {
        if (required)
            *ret = srv_reply_error(req, 400, "malformed", "a JSON request body is required", NULL);
        else
            *ret = MHD_YES;
        return NULL;
    }
    json_tokener *tok = json_tokener_new();
    json_object *o = json_tokener_parse_ex(tok, sp_buf_data(req->body), (int)sp_buf_len(req->body));
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    if (o != NULL && jerr == json_tokener_success &&
        json_tokener_get_parse_end(tok) < sp_buf_len(req->body)) {
        /* Trailing bytes after the value: only whitespace is allowed. */
        for (size_t i = json_tokener_get_parse_end(tok); i < sp_buf_len(req->body); i++)
            if (!isspace((unsigned char)sp_buf_data(req->body)[i])) {
                json_object_put(o);
                o = NULL;
                break;
            }
    }
    if (o == NULL || jerr != json_tokener_success) {
        char msg[200];
        snprintf(msg, sizeof msg, "the body is not valid JSON: %s",
                 jerr == json_tokener_success ? "unexpected data after the value"
                                              : json_tokener_error_desc(jerr));
        json_object_put(o);
        json_tokener_free(tok);
        *ret = srv_reply_error(req, 400, "malformed", msg, NULL);
        return NULL;
    }
    json_tokener_free(tok);
    return o;
}

/* NUL-terminated copy of the body for use as a query parameter (owned by the buffer). */
static const char *body_text(srv_req *req)
{
    if (sp_buf_append(req->body, "", 1) != 0)
        return NULL;
    return sp_buf_data(req->body);
}

/* ---- health, readiness, metrics ------------------------------------------------------- */

static int h_healthz(srv_req *req)
{
    static const char ok[] = "{\"status\":\"ok\"}";
    return srv_reply_json(req, 200, ok, sizeof ok - 1);
}

static int h_readyz(srv_req *req)
{
    sp_db *db = NULL;
    int rc = srv_pool_get(req->srv->pool, &db);
    if (rc != 0)
        return srv_reply_unavailable(req, rc);
    sp_migrate_state st;
    char err[256];
    rc = sp_migrate_status(db, &st, err, sizeof err);
    srv_pool_put(req->srv->pool, db, rc == SP_E_CONN);
    if (rc == SP_E_CONN)
        return srv_reply_unavailable(req, rc);
    if (rc != 0 || !st.ready)
        return srv_reply_error_retry(req, 503, "not_migrated",
                                     "the database schema is not up to date: run spool migrate", 5);
    static const char ok[] = "{\"status\":\"ready\"}";
    return srv_reply_json(req, 200, ok, sizeof ok - 1);
}

/* GET /metrics: always 200 while the process can render; job figures need the database
 * (spool_database_up says whether they are there), the rest is in memory. */
static int h_metrics(srv_req *req)
{
    sp_db *db = NULL;
    sp_buf *out = NULL;
    if (sp_buf_new(&out, 4 * 1024 * 1024) != 0)
        return srv_reply_error(req, 503, "unavailable", "out of memory", NULL);
    if (srv_pool_get(req->srv->pool, &db) != 0)
        db = NULL;
    int db_rc = 0;
    int rc = srv_metrics_render(req->srv, db, out, &db_rc);
    if (db_rc == SP_E_DB) {
        char q[256];
        sp_log_write(SP_LOG_WARN, "metrics", "db_error", "request_id=%s sqlstate=%s message=%s",
                     req->request_id, sp_db_err_sqlstate(db),
                     sp_log_quote(sp_db_err_message(db), q, sizeof q));
    }
    if (db != NULL)
        srv_pool_put(req->srv->pool, db, db_rc == SP_E_CONN);
    enum MHD_Result ret;
    if (rc != 0)
        ret = srv_reply_error(req, 500, "internal", "metrics output exceeded its bound", NULL);
    else
        ret = srv_reply_text(req, 200, sp_buf_data(out), sp_buf_len(out),
                             "text/plain; version=0.0.4; charset=utf-8");
    sp_buf_free(out);
    return ret;
}

/* ---- jobs ----------------------------------------------------------------------------- */

/* A single-job submit parked while srv_batch commits it (freed when the request ends). */
typedef struct {
    srv_batch_item it;
    srv_req *req;
    char hash[65];
} submit_ctx;

static void submit_ctx_free(void *arg)
{
    submit_ctx *c = arg;
    free(c->it.json);
    free(c);
}

/* On a batch thread, after the commit: hands the request back to HTTP. */
static void submit_done(srv_batch_item *it)
{
    submit_ctx *c = it->arg;
    srv_http_wake(c->req);
}

/* On an HTTP thread once the request resumes: the answer. */
static enum MHD_Result submit_reply(srv_req *req)
{
    submit_ctx *c = req->park_arg;
    srv_batch_item *it = &c->it;
    if (it->rc != 0)
        return srv_reply_sql_error(req, it->rc, it->sqlstate, it->message, it->detail);
    return srv_reply_json(req, it->created ? 201 : 200, it->json, strlen(it->json));
}

static int h_submit(srv_req *req)
{
    enum MHD_Result ret;
    json_object *o = parse_body(req, &ret, true);
    if (o == NULL)
        return ret;
    bool is_obj = json_object_is_type(o, json_type_object);
    json_object_put(o);
    if (!is_obj)
        return srv_reply_error(req, 400, "malformed", "the body must be a JSON object (a job)",
                               NULL);
    const char *key = srv_header(req, "Idempotency-Key");
    const char *body = body_text(req);
    if (body == NULL)
        return srv_reply_error(req, 413, "body_too_large", "request body exceeds max_body_bytes",
                               NULL);
    if (key != NULL && (strlen(key) == 0 || strlen(key) > 255))
        return srv_reply_error(req, 422, "invalid", "Idempotency-Key must be 1 to 255 characters",
                               NULL);
    submit_ctx *c = calloc(1, sizeof *c);
    if (c == NULL)
        return srv_reply_error(req, 503, "unavailable", "out of memory", NULL);
    if (key != NULL) {
        /* The request hash covers the tenant, so one tenant's key never returns another's job. */
        sp_buf *h = NULL;
        if (sp_buf_new(&h, req->srv->max_body + 300) != 0 ||
            sp_buf_appendf(h, "%s\n", req->tenant) != 0 || sp_buf_appends(h, body) != 0) {
            sp_buf_free(h);
            free(c);
            return srv_reply_error(req, 503, "unavailable", "out of memory", NULL);
        }
        sp_sha256_hex(sp_buf_data(h), sp_buf_len(h), c->hash);
        sp_buf_free(h);
    }
    c->req = req;
    c->it.body = body;
    c->it.key = key;
    c->it.hash = key ? c->hash : NULL;
    c->it.tenant = TENANT(req);
    c->it.done = submit_done;
    c->it.arg = c;
    /* Parked before it is queued, so that the wake-up always finds it suspended. */
    srv_http_park(req, submit_reply, c, submit_ctx_free);
    if (srv_batch_enqueue(req->srv->batch, &c->it) != 0) {
        c->it.rc = SP_E_RANGE; /* the queue is full or spoold is stopping: 503 busy */
        srv_http_wake(req);
    }
    return MHD_YES;
}

static int h_submit_batch(srv_req *req)
{
    enum MHD_Result ret;
    json_object *o = parse_body(req, &ret, true);
    if (o == NULL)
        return ret;
    bool is_arr = json_object_is_type(o, json_type_array);
    size_t n = is_arr ? json_object_array_length(o) : 0;
    json_object_put(o);
    if (!is_arr)
        return srv_reply_error(req, 400, "malformed", "the body must be a JSON array of jobs",
                               NULL);
    if (n == 0)
        return srv_reply_error(req, 422, "invalid", "the batch is empty", NULL);
    if (n > (size_t)req->srv->max_batch_jobs) {
        char msg[128], details[128];
        snprintf(msg, sizeof msg, "a batch holds at most %d jobs (max_batch_jobs)",
                 req->srv->max_batch_jobs);
        snprintf(details, sizeof details, "{\"jobs\":%zu,\"max_batch_jobs\":%d}", n,
                 req->srv->max_batch_jobs);
        return srv_reply_error(req, 422, "invalid", msg, details);
    }
    const char *body = body_text(req);
    if (body == NULL)
        return srv_reply_error(req, 413, "body_too_large", "request body exceeds max_body_bytes",
                               NULL);
    const char *params[] = {body, TENANT(req)};
    return query_reply(req, 201, "SELECT spool.api_submit_batch($1::jsonb, $2)::text", 2, params,
                       0);
}

static int h_job_get(srv_req *req)
{
    const char *id = req->match.params[0];
    if (!srv_params_is_uuid(id))
        return srv_reply_error(req, 404, "not_found", "no such job", NULL);
    const char *params[] = {id, TENANT(req)};
    return query_reply(req, 200,
                       "SELECT (to_jsonb(j) - 'lease_token')::text FROM spool.jobs j"
                       " WHERE j.id = $1::uuid AND ($2::text IS NULL OR j.customer_id = $2)",
                       2, params, 404);
}

/* GET /v1/jobs: one page from spool.api_list_jobs, with its next_cursor made opaque. */
static int h_jobs_list(srv_req *req)
{
    const char *cursor = srv_query(req, "cursor");
    const char *customer = srv_query(req, "customer_id");
    const char *status = srv_query(req, "status");
    int64_t lim;
    char after[SRV_PARAMS_UUID_LEN + 1];
    if (srv_params_int(srv_query(req, "limit"), 1, 1000, 50, &lim) != 0)
        return srv_reply_error(req, 422, "invalid", "limit must be an integer from 1 to 1000",
                               NULL);
    if (cursor != NULL && srv_params_cursor_decode(cursor, after) != 0)
        return srv_reply_error(req, 400, "malformed", "cursor is not one this server returned",
                               NULL);
    if (status != NULL && !srv_params_job_status(status))
        return srv_reply_error(req, 422, "invalid",
                               "status must be a job status (pending, running, …)", NULL);
    if (req->tenant[0] != '\0') {
        if (customer != NULL && strcmp(customer, req->tenant) != 0) {
            static const char empty[] = "{\"jobs\":[],\"next_cursor\":null}";
            return srv_reply_json(req, 200, empty, sizeof empty - 1);
        }
        customer = req->tenant;
    }
    char lims[24];
    snprintf(lims, sizeof lims, "%lld", (long long)lim);
    const char *params[] = {
        status, srv_query(req, "type"), srv_query(req, "queue"), srv_query(req, "tag"), customer,
        lims,   cursor ? after : NULL};
    sp_db *db = NULL;
    sp_db_res *res = NULL;
    sp_buf *out = NULL;
    int rc = srv_pool_get(req->srv->pool, &db);
    if (rc != 0)
        return srv_reply_unavailable(req, rc);
    rc = sp_db_exec_params(db,
                           "SELECT p->'jobs', p->>'next_cursor' FROM spool.api_list_jobs($1, $2,"
                           " $3, $4, $5, $6::integer, $7::uuid) p",
                           7, params, &res);
    if (rc != 0) {
        enum MHD_Result ret = srv_reply_db_error(req, db, rc);
        srv_pool_put(req->srv->pool, db, rc == SP_E_CONN);
        return ret;
    }
    srv_pool_put(req->srv->pool, db, 0);
    const char *jobs = sp_db_res_value(res, 0, 0), *next = sp_db_res_value(res, 0, 1);
    char enc[SRV_PARAMS_CURSOR_LEN + 1];
    enum MHD_Result ret;
    if (jobs == NULL || (next != NULL && srv_params_cursor_encode(next, enc) != 0)) {
        ret = srv_reply_sql_error(req, SP_E_INVAL, NULL, "api_list_jobs returned no page", NULL);
    } else if (sp_buf_new(&out, strlen(jobs) + 64) != 0 ||
               sp_buf_appendf(out, "{\"jobs\":%s,\"next_cursor\":%s%s%s}", jobs, next ? "\"" : "",
                              next ? enc : "null", next ? "\"" : "") != 0) {
        ret = srv_reply_error(req, 503, "unavailable", "out of memory", NULL);
    } else {
        ret = srv_reply_json(req, 200, sp_buf_data(out), sp_buf_len(out));
    }
    sp_buf_free(out);
    sp_db_res_free(res);
    return ret;
}

/* 404 unless the job exists and is within the caller's tenant. */
static bool job_visible(srv_req *req, const char *id, enum MHD_Result *ret)
{
    if (!srv_params_is_uuid(id)) {
        *ret = srv_reply_error(req, 404, "not_found", "no such job", NULL);
        return false;
    }
    sp_db *db = NULL;
    sp_db_res *res = NULL;
    int rc = srv_pool_get(req->srv->pool, &db);
    if (rc != 0) {
        *ret = srv_reply_unavailable(req, rc);
        return false;
    }
    const char *params[] = {id, TENANT(req)};
    rc = sp_db_exec_params(db,
                           "SELECT 1 FROM spool.jobs j WHERE j.id = $1::uuid"
                           " AND ($2::text IS NULL OR j.customer_id = $2)",
                           2, params, &res);
    if (rc != 0) {
        *ret = srv_reply_db_error(req, db, rc);
        srv_pool_put(req->srv->pool, db, rc == SP_E_CONN);
        return false;
    }
    srv_pool_put(req->srv->pool, db, 0);
    bool found = sp_db_res_nrows(res) > 0;
    sp_db_res_free(res);
    if (!found)
        *ret = srv_reply_error(req, 404, "not_found", "no such job", NULL);
    return found;
}

static int h_job_cancel(srv_req *req)
{
    enum MHD_Result ret;
    const char *id = req->match.params[0];
    if (!job_visible(req, id, &ret))
        return ret;
    char reason[2001] = "";
    json_object *o = parse_body(req, &ret, false);
    if (o == NULL && req->answered)
        return ret;
    if (o != NULL) {
        json_object *r = NULL;
        if (!json_object_is_type(o, json_type_object) ||
            (json_object_object_get_ex(o, "reason", &r) &&
             !json_object_is_type(r, json_type_string))) {
            json_object_put(o);
            return srv_reply_error(req, 400, "malformed", "the body must be {\"reason\": \"…\"}",
                                   NULL);
        }
        if (r != NULL)
            snprintf(reason, sizeof reason, "%s", json_object_get_string(r));
        json_object_put(o);
    }
    const char *params[] = {id, reason[0] ? reason : NULL};
    return query_reply(
        req, 200, "SELECT (to_jsonb(c) - 'lease_token')::text FROM spool.cancel($1::uuid, $2) c", 2,
        params, 404);
}

static int h_job_retry(srv_req *req)
{
    enum MHD_Result ret;
    const char *id = req->match.params[0];
    if (!job_visible(req, id, &ret))
        return ret;
    const char *params[] = {id};
    return query_reply(req, 201,
                       "SELECT (to_jsonb(r) - 'lease_token')::text FROM spool.retry($1::uuid) r", 1,
                       params, 404);
}

/* ---- events --------------------------------------------------------------------------- */

static bool copy_filter(srv_req *req, char *dst, size_t cap, const char *key, enum MHD_Result *ret)
{
    const char *v = srv_query(req, key);
    if (v == NULL)
        return true;
    if (strlen(v) >= cap) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s is too long", key);
        *ret = srv_reply_error(req, 422, "invalid", msg, NULL);
        return false;
    }
    snprintf(dst, cap, "%s", v);
    return true;
}

static bool last_event_id(srv_req *req, int64_t *out, enum MHD_Result *ret)
{
    const char *v = srv_header(req, "Last-Event-ID");
    if (v == NULL)
        v = srv_query(req, "last_event_id");
    if (srv_params_event_id(v, out) != 0) {
        *ret = srv_reply_error(req, 400, "malformed", "Last-Event-ID must be an event id", NULL);
        return false;
    }
    return true;
}

static int h_events(srv_req *req)
{
    enum MHD_Result ret;
    srv_sse_params p;
    memset(&p, 0, sizeof p);
    if (!copy_filter(req, p.filter.type, sizeof p.filter.type, "type", &ret) ||
        !copy_filter(req, p.filter.queue, sizeof p.filter.queue, "queue", &ret) ||
        !copy_filter(req, p.filter.status, sizeof p.filter.status, "status", &ret) ||
        !last_event_id(req, &p.last_event_id, &ret))
        return ret;
    snprintf(p.filter.tenant, sizeof p.filter.tenant, "%s", req->tenant);
    return srv_sse_start(req, &p);
}

static int h_job_events(srv_req *req)
{
    enum MHD_Result ret;
    const char *id = req->match.params[0];
    if (!job_visible(req, id, &ret))
        return ret;
    srv_sse_params p;
    memset(&p, 0, sizeof p);
    if (!last_event_id(req, &p.last_event_id, &ret))
        return ret;
    for (size_t i = 0; i < 36; i++)
        p.filter.job_id[i] = (char)tolower((unsigned char)id[i]);
    snprintf(p.filter.tenant, sizeof p.filter.tenant, "%s", req->tenant);
    return srv_sse_start(req, &p);
}

/* ---- workers, types, stats ------------------------------------------------------------ */

static int h_workers(srv_req *req)
{
    return query_reply(req, 200,
                       "SELECT coalesce(json_agg(w), '[]')::text FROM spool.worker_health w", 0,
                       NULL, 0);
}

static int h_types(srv_req *req)
{
    return query_reply(
        req, 200, "SELECT coalesce(json_agg(t ORDER BY t.name), '[]')::text FROM spool.job_types t",
        0, NULL, 0);
}

static int h_type_put(srv_req *req)
{
    enum MHD_Result ret;
    json_object *o = parse_body(req, &ret, false);
    if (o == NULL && req->answered)
        return ret;
    if (o != NULL && !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return srv_reply_error(req, 400, "malformed",
                               "the body must be a JSON object of type settings", NULL);
    }
    static const char *const allowed[] = {"max_attempts",
                                          "backoff_base_seconds",
                                          "backoff_max_seconds",
                                          "timeout_seconds",
                                          "priority",
                                          "retention",
                                          "payload_schema",
                                          "description"};
    if (o != NULL) {
        json_object_object_foreach(o, k, v)
        {
            (void)v;
            bool ok = false;
            for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
                ok = ok || strcmp(k, allowed[i]) == 0;
            if (!ok) {
                char msg[300];
                snprintf(msg, sizeof msg, "unknown type setting \"%.200s\"", k);
                json_object_put(o);
                return srv_reply_error(req, 422, "invalid", msg, NULL);
            }
        }
        json_object_put(o);
    }
    const char *params[] = {req->match.params[0], o ? body_text(req) : "{}"};
    return query_reply(req, 200,
                       "SELECT to_jsonb(t)::text FROM spool.register_type($1,"
                       " coalesce(($2::jsonb->>'max_attempts')::integer, 5),"
                       " coalesce(($2::jsonb->>'backoff_base_seconds')::float8, 2),"
                       " coalesce(($2::jsonb->>'backoff_max_seconds')::float8, 3600),"
                       " coalesce(($2::jsonb->>'timeout_seconds')::integer, 1800),"
                       " coalesce(($2::jsonb->>'priority')::integer, 50),"
                       " coalesce(($2::jsonb->>'retention')::interval, '7 days'),"
                       " $2::jsonb->'payload_schema', $2::jsonb->>'description') t",
                       2, params, 0);
}

static int h_stats(srv_req *req)
{
    return query_reply(
        req, 200,
        "SELECT json_build_object("
        " 'queue_depth', (SELECT coalesce(json_agg(q), '[]') FROM spool.queue_depth q),"
        " 'throughput', (SELECT coalesce(json_agg(t), '[]') FROM spool.throughput t))::text",
        0, NULL, 0);
}

const srv_route srv_routes[] = {
    {"GET", "/healthz", "healthz", SRV_AUTH_NONE, h_healthz},
    {"GET", "/readyz", "readyz", SRV_AUTH_NONE, h_readyz},
    {"GET", "/metrics", "metrics", SRV_AUTH_NONE, h_metrics},
    {"POST", "/v1/jobs", "jobs_submit", SRV_AUTH_SUBMIT, h_submit},
    {"GET", "/v1/jobs", "jobs_list", SRV_AUTH_READ, h_jobs_list},
    {"POST", "/v1/jobs/batch", "jobs_batch", SRV_AUTH_SUBMIT, h_submit_batch},
    {"GET", "/v1/jobs/{id}", "jobs_get", SRV_AUTH_READ, h_job_get},
    {"POST", "/v1/jobs/{id}/cancel", "jobs_cancel", SRV_AUTH_SUBMIT, h_job_cancel},
    {"POST", "/v1/jobs/{id}/retry", "jobs_retry", SRV_AUTH_SUBMIT, h_job_retry},
    {"GET", "/v1/jobs/{id}/events", "jobs_events", SRV_AUTH_READ, h_job_events},
    {"GET", "/v1/events", "events", SRV_AUTH_READ, h_events},
    {"GET", "/v1/workers", "workers", SRV_AUTH_READ, h_workers},
    {"GET", "/v1/types", "types_list", SRV_AUTH_READ, h_types},
    {"PUT", "/v1/types/{name}", "types_put", SRV_AUTH_ADMIN, h_type_put},
    {"GET", "/v1/stats", "stats", SRV_AUTH_READ, h_stats},
};
const size_t srv_nroutes = sizeof srv_routes / sizeof srv_routes[0];

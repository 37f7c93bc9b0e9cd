/*
 * srv_http: the libmicrohttpd daemon and the request pipeline of spoold:
 *   first callback  -> request context, request id, early 413 on Content-Length
 *   upload callbacks -> body into a bounded buffer
 *   last callback   -> route (404/405), auth (401/403/429), handler
 *   (parked)        -> the connection is suspended until srv_http_wake; MHD then calls once
 *                      more and the request's on_wake answers it
 *   completion      -> access log line and HTTP metrics
 */
#include "srv_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "sp_log.h"
#include "srv_auth.h"
#include "srv_batch.h"
#include "srv_metrics.h"
#include "srv_pool.h"

static atomic_int in_flight;
static atomic_uint_fast64_t request_counter;
static uint32_t request_prefix;

int64_t srv_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int srv_http_in_flight(void)
{
    return atomic_load(&in_flight);
}

const char *srv_query(srv_req *req, const char *key)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *srv_header(srv_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

/* The Allow header of a 405, set by dispatch for the reply that follows (per thread). */
static _Thread_local const char *pending_allow;

static enum MHD_Result reply(srv_req *req, int status, const char *body, size_t len,
                             const char *content_type, int retry_after)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", content_type);
    MHD_add_response_header(r, "X-Request-Id", req->request_id);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (retry_after > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", retry_after);
        MHD_add_response_header(r, "Retry-After", ra);
    }
    if (status == 401)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"spool\"");
    if (pending_allow != NULL) {
        MHD_add_response_header(r, "Allow", pending_allow);
        pending_allow = NULL;
    }
    req->status = status;
    req->answered = true;
    enum MHD_Result ret = MHD_queue_response(req->conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

enum MHD_Result srv_reply_json(srv_req *req, int status, const char *json, size_t len)
{
    return reply(req, status, json, len, "application/json", 0);
}

enum MHD_Result srv_reply_text(srv_req *req, int status, const char *text, size_t len,
                               const char *content_type)
{
    return reply(req, status, text, len, content_type, 0);
}

static enum MHD_Result reply_error_ra(srv_req *req, int status, const char *code,
                                      const char *message, const char *details_json,
                                      int retry_after)
{
    json_object *o = json_object_new_object(), *e = json_object_new_object();
    json_object_object_add(e, "code", json_object_new_string(code));
    json_object_object_add(e, "message", json_object_new_string(message ? message : ""));
    json_object *d = NULL;
    if (details_json != NULL)
        d = json_tokener_parse(details_json);
    json_object_object_add(e, "details", d ? d : json_object_new_object());
    json_object_object_add(e, "request_id", json_object_new_string(req->request_id));
    json_object_object_add(o, "error", e);
    size_t len;
    const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
    enum MHD_Result ret = reply(req, status, s, len, "application/json", retry_after);
    json_object_put(o);
    return ret;
}

enum MHD_Result srv_reply_error(srv_req *req, int status, const char *code, const char *message,
                                const char *details_json)
{
    return reply_error_ra(req, status, code, message, details_json, 0);
}

enum MHD_Result srv_reply_error_retry(srv_req *req, int status, const char *code,
                                      const char *message, int retry_after)
{
    return reply_error_ra(req, status, code, message, NULL, retry_after);
}

enum MHD_Result srv_reply_unavailable(srv_req *req, int rc)
{
    if (rc == SP_E_RANGE)
        return reply_error_ra(req, 503, "busy", "no database connection is free; retry shortly",
                              NULL, 1);
    return reply_error_ra(req, 503, "database_unavailable",
                          "the database cannot be reached; retry shortly", NULL, 2);
}

enum MHD_Result srv_reply_db_error(srv_req *req, sp_db *db, int rc)
{
    return srv_reply_sql_error(req, rc, sp_db_err_sqlstate(db), sp_db_err_message(db),
                               sp_db_err_detail(db));
}

enum MHD_Result srv_reply_sql_error(srv_req *req, int rc, const char *state, const char *msg,
                                    const char *detail)
{
    if (rc == SP_E_CONN || rc == SP_E_RANGE)
        return srv_reply_unavailable(req, rc);
    /* Transient: the call ran past statement_timeout, or lost a deadlock or serialisation
     * race with another request. The same request can succeed when retried. */
    if (rc == SP_E_DB && state != NULL &&
        (strcmp(state, "57014") == 0 || strcmp(state, "40001") == 0 ||
         strcmp(state, "40P01") == 0)) {
        char q[512];
        sp_log_write(SP_LOG_WARN, "http", "db_transient",
                     "request_id=%s route=%s sqlstate=%s message=%s", req->request_id,
                     req->route_name, state, sp_log_quote(msg ? msg : "", q, sizeof q));
        return reply_error_ra(req, 503, "retry",
                              strcmp(state, "57014") == 0
                                  ? "the database did not answer in time; retry shortly"
                                  : "the request collided with another one; retry it",
                              NULL, 1);
    }
    static const struct {
        const char *state;
        int status;
        const char *code;
    } map[] = {
        {"SP400", 400, "malformed"},   {"SP404", 404, "not_found"}, {"SP409", 409, "conflict"},
        {"SP410", 409, "stale_lease"}, {"SP422", 422, "invalid"},   {"22P02", 400, "malformed"},
        {"22023", 422, "invalid"},     {"23505", 409, "conflict"},
    };
    for (size_t i = 0; rc == SP_E_DB && state != NULL && i < sizeof map / sizeof map[0]; i++) {
        if (strcmp(state, map[i].state) != 0)
            continue;
        char details[600] = "{}";
        if (detail != NULL && detail[0] != '\0' && map[i].state[0] == 'S') {
            json_object *d = json_object_new_object();
            json_object_object_add(d, "detail", json_object_new_string(detail));
            snprintf(details, sizeof details, "%s", json_object_to_json_string(d));
            json_object_put(d);
        }
        /* Messages of the SP* codes are written for users; others are PostgreSQL's own, so
         * a generic text goes out instead. */
        const char *out = map[i].state[0] == 'S' ? msg : "a value in the request is not valid";
        return srv_reply_error(req, map[i].status, map[i].code, out, details);
    }
    /* PostgreSQL rejected a value the request carried (class 22: bad encoding, a number out
     * of range, a malformed interval…; class 23: a constraint; class 54: a value too large
     * for an index). That is bad input, never a 500; its text may echo internals, so the
     * client gets a generic message and the log the database's. */
    const char *cls_msg = NULL;
    int cls_http = 0;
    if (rc == SP_E_DB && state != NULL && strlen(state) == 5) {
        if (strcmp(state, "22021") == 0 || strcmp(state, "22P05") == 0) {
            cls_http = 400;
            cls_msg = "the request contains text that is not valid UTF-8, or a \\u0000";
        } else if (strncmp(state, "22", 2) == 0) {
            cls_http = 422;
            cls_msg = "a value in the request is out of range or not of the expected form";
        } else if (strncmp(state, "23", 2) == 0) {
            cls_http = 422;
            cls_msg = "the request breaks a rule of the stored data";
        } else if (strncmp(state, "54", 2) == 0) {
            cls_http = 422;
            cls_msg = "a value in the request is too large";
        }
    }
    char q[512];
    if (cls_msg != NULL) {
        sp_log_write(SP_LOG_INFO, "http", "rejected_value",
                     "request_id=%s route=%s sqlstate=%s message=%s", req->request_id,
                     req->route_name, state, sp_log_quote(msg ? msg : "", q, sizeof q));
        return srv_reply_error(req, cls_http, cls_http == 400 ? "malformed" : "invalid", cls_msg,
                               NULL);
    }
    sp_log_write(SP_LOG_ERROR, "http", "db_error",
                 "request_id=%s route=%s rc=%d sqlstate=%s message=%s", req->request_id,
                 req->route_name, rc, state ? state : "",
                 sp_log_quote(msg ? msg : "", q, sizeof q));
    return srv_reply_error(req, 500, "internal", "internal error; see the server log", NULL);
}

static void set_request_id(srv_req *req)
{
    const char *given = srv_header(req, "X-Request-Id");
    if (given != NULL) {
        size_t n = strlen(given);
        bool ok = n > 0 && n < sizeof req->request_id;
        for (size_t i = 0; ok && i < n; i++)
            ok = (given[i] >= '0' && given[i] <= '9') || (given[i] >= 'a' && given[i] <= 'z') ||
                 (given[i] >= 'A' && given[i] <= 'Z') || given[i] == '-' || given[i] == '_';
        if (ok) {
            memcpy(req->request_id, given, n + 1);
            return;
        }
    }
    uint64_t n = atomic_fetch_add(&request_counter, 1);
    snprintf(req->request_id, sizeof req->request_id, "%08x%08llx", request_prefix,
             (unsigned long long)n);
}

/* Names the route of a request answered before dispatch (413), for its log line and metrics. */
static void name_route(srv_req *req)
{
    char allow[128];
    srv_match m;
    if (srv_router_match(srv_routes, srv_nroutes, req->method, req->path, &m, allow,
                         sizeof allow) == SRV_ROUTE_FOUND)
        req->route_name = m.route->name;
}

static enum MHD_Result dispatch(srv_req *req)
{
    char allow[128];
    srv_route_result r = srv_router_match(srv_routes, srv_nroutes, req->method, req->path,
                                          &req->match, allow, sizeof allow);
    if (r == SRV_ROUTE_NOT_FOUND)
        return srv_reply_error(req, 404, "not_found", "no such route", NULL);
    if (r == SRV_ROUTE_BAD_METHOD) {
        pending_allow = allow;
        return srv_reply_error(req, 405, "method_not_allowed", "method not allowed on this route",
                               NULL);
    }
    req->route_name = req->match.route->name;
    if (req->too_large)
        return srv_reply_error(req, 413, "body_too_large", "request body exceeds max_body_bytes",
                               NULL);
    enum MHD_Result ret;
    if (!srv_auth_check(req->srv->auth, req, req->match.route->auth, &ret))
        return ret;
    return (enum MHD_Result)req->match.route->handler(req);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    (void)version;
    srv_server *srv = cls;
    srv_req *req = *req_cls;
    if (req == NULL) {
        req = calloc(1, sizeof(*req));
        if (req == NULL)
            return MHD_NO;
        req->conn = conn;
        req->srv = srv;
        req->method = method;
        req->route_name = "unmatched";
        req->start_us = srv_now_us();
        snprintf(req->path, sizeof req->path, "%s", url);
        set_request_id(req);
        *req_cls = req;
        atomic_fetch_add(&in_flight, 1);
        const char *cl = srv_header(req, "Content-Length");
        if (cl != NULL && strtoull(cl, NULL, 10) > srv->max_body) {
            req->too_large = true;
            name_route(req);
            return srv_reply_error(req, 413, "body_too_large",
                                   "request body exceeds max_body_bytes", NULL);
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (!req->too_large && !req->answered) {
            if (req->body == NULL && sp_buf_new(&req->body, srv->max_body) != 0)
                return MHD_NO;
            if (sp_buf_append(req->body, upload_data, *upload_data_size) != 0) {
                /* MHD takes no response in the middle of a body (one without
                 * Content-Length, typically chunked): drop what was kept and discard the
                 * rest, then answer 413 when it has ended. A client that goes on far past
                 * the limit is cut off instead. */
                req->too_large = true;
                sp_buf_free(req->body);
                req->body = NULL;
            }
        }
        if (req->too_large) {
            req->discarded += *upload_data_size;
            if (req->discarded > 4 * (uint64_t)srv->max_body + 1048576)
                return MHD_NO;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->on_wake != NULL) {
        enum MHD_Result (*wake)(srv_req *) = req->on_wake;
        req->on_wake = NULL;
        return wake(req);
    }
    if (req->answered)
        return MHD_YES;
    if (req->too_large) {
        name_route(req);
        return srv_reply_error(req, 413, "body_too_large", "request body exceeds max_body_bytes",
                               NULL);
    }
    return dispatch(req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    srv_req *req = *req_cls;
    if (req == NULL)
        return;
    int64_t dur = srv_now_us() - req->start_us;
    int status = req->answered ? req->status : 0;
    srv_metrics_http(req->route_name, status, dur);
    sp_log_write(status >= 500 || status == 0 ? SP_LOG_WARN : SP_LOG_INFO, "http", "request",
                 "request_id=%s method=%s route=%s status=%d duration_ms=%.3f%s", req->request_id,
                 req->method, req->route_name, status, (double)dur / 1000.0,
                 toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " ended=abnormally");
    if (req->park_free != NULL)
        req->park_free(req->park_arg);
    sp_buf_free(req->body);
    free(req);
    *req_cls = NULL;
    atomic_fetch_sub(&in_flight, 1);
}

void srv_http_park(srv_req *req, enum MHD_Result (*on_wake)(srv_req *req), void *arg,
                   void (*free_arg)(void *arg))
{
    req->on_wake = on_wake;
    req->park_arg = arg;
    req->park_free = free_arg;
    MHD_suspend_connection(req->conn);
}

void srv_http_wake(srv_req *req)
{
    MHD_resume_connection(req->conn);
}

static int parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || colon == listen || (size_t)(colon - listen) >= sizeof host)
        return SP_E_INVAL;
    size_t hl = (size_t)(colon - listen);
    memcpy(host, listen, hl);
    host[hl] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 0 || port > 65535)
        return SP_E_INVAL;
    memset(ss, 0, sizeof *ss);
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
            return SP_E_INVAL;
        *len = sizeof *a6;
        return 0;
    }
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
        return SP_E_INVAL;
    *len = sizeof *a4;
    return 0;
}

int srv_http_start(srv_server *srv, const char *listen, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (parse_listen(listen, &ss, &sl) != 0) {
        snprintf(err, errlen, "listen must be HOST:PORT with a numeric address, not \"%s\"",
                 listen);
        return SP_E_INVAL;
    }
    const sp_config *cfg = srv->cfg;
    srv_batch_config bc = {
        .lanes = (int)sp_config_int(cfg, "submit_lanes"),
        .group_max = (int)sp_config_int(cfg, "submit_group_max"),
        .queue_max = (int)sp_config_int(cfg, "submit_queue_max"),
        .gather_us = (int)sp_config_int(cfg, "submit_gather_us"),
    };
    if (srv_batch_new(&srv->batch, srv, &bc) != 0) {
        snprintf(err, errlen, "could not start the submit threads");
        return SP_E_NOMEM;
    }
    uint32_t seed = (uint32_t)time(NULL) ^ (uint32_t)srv_now_us();
    request_prefix = seed * 2654435761u;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_TURBO | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    srv->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)sp_config_int(cfg, "http_threads"),
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)sp_config_int(cfg, "max_connections"),
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)sp_config_int(cfg, "connection_memory_bytes"),
        MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)(sp_config_duration_ms(cfg, "request_timeout") / 1000),
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_END);
    if (srv->daemon == NULL) {
        int e = errno;
        srv_batch_free(srv->batch);
        srv->batch = NULL;
        snprintf(err, errlen, "could not listen on %s: %s", listen, strerror(e));
        return SP_E_IO;
    }
    return 0;
}

void srv_http_quiesce(srv_server *srv)
{
    if (srv->daemon != NULL) {
        MHD_socket s = MHD_quiesce_daemon(srv->daemon);
        if (s != MHD_INVALID_SOCKET)
            close(s);
    }
}

void srv_http_stop(srv_server *srv)
{
    /* Parked submits are committed and their connections resumed first: MHD must not be
     * stopped with a connection suspended. Submits that arrive meanwhile get 503. */
    srv_batch_stop(srv->batch);
    if (srv->daemon != NULL)
        MHD_stop_daemon(srv->daemon);
    srv->daemon = NULL;
    srv_batch_free(srv->batch);
    srv->batch = NULL;
}

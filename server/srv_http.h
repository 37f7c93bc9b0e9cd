/*
 * srv_http: spoold's HTTP front (libmicrohttpd): the daemon, one request's context, and the
 * helpers handlers answer with.
 *
 * Threading: MHD runs an epoll event loop in each of `http_threads` threads; a handler runs
 * on one of them and may block on its database call. Single-job submits park their request
 * (srv_http_park: the connection is suspended) while srv_batch commits them on its own
 * threads, and streams (SSE) suspend their connection too, so neither holds a thread.
 * Ownership: a srv_req lives from the first callback of a request to MHD's completion
 * notice; everything it points to is owned by it or by the server.
 */
#ifndef SRV_HTTP_H
#define SRV_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

#include "sp_buf.h"
#include "sp_config.h"
#include "sp_db.h"
#include "srv_router.h"

typedef struct srv_pool srv_pool;
typedef struct srv_batch srv_batch;
typedef struct srv_events srv_events;
typedef struct srv_auth srv_auth;

/* Process-wide state shared by every request; set up by main.c. */
typedef struct srv_server {
    const sp_config *cfg;
    char *database_url;
    srv_pool *pool;
    srv_events *events;
    srv_auth *auth;
    srv_batch *batch; /* group commit of POST /v1/jobs; started and stopped with the daemon */
    struct MHD_Daemon *daemon;
    size_t max_body;
    int max_batch_jobs;
} srv_server;

typedef struct srv_req srv_req;
struct srv_req {
    struct MHD_Connection *conn;
    srv_server *srv;
    const char *method; /* borrowed from MHD */
    char path[512];
    char request_id[65];
    srv_match match;        /* the route and its {params} */
    const char *route_name; /* for logs and metrics; "unmatched" until routed */
    sp_buf *body;           /* bounded by max_body_bytes */
    bool too_large;
    uint64_t discarded; /* body bytes dropped after too_large */
    bool answered;
    int status; /* the status sent */
    int64_t start_us;
    /* Who is calling (set by srv_auth before the handler runs). */
    char role[16];    /* admin, client, worker */
    char tenant[201]; /* empty: all tenants */
    char token_id[40];
    bool streaming; /* an SSE response: logged when it ends */
    /* A parked request (srv_http_park): on_wake answers it once its connection resumes;
     * park_free(park_arg) runs when the request ends. */
    enum MHD_Result (*on_wake)(srv_req *req);
    void *park_arg;
    void (*park_free)(void *arg);
};

/* Parks a request from its handler: its connection is suspended (no thread waits on it)
 * until srv_http_wake, then on_wake(req) runs on an HTTP thread and answers it. arg is freed
 * with free_arg (may be NULL) when the request ends. The handler returns MHD_YES without
 * answering. */
void srv_http_park(srv_req *req, enum MHD_Result (*on_wake)(srv_req *req), void *arg,
                   void (*free_arg)(void *arg));
/* Resumes a parked request; from any thread, once per park, at any time after it. */
void srv_http_wake(srv_req *req);

/* Starts listening on "HOST:PORT" with the settings of srv->cfg. */
SP_MUSTCHECK int srv_http_start(srv_server *srv, const char *listen, char *err, size_t errlen);
/* Stops accepting new connections; requests in flight go on. */
void srv_http_quiesce(srv_server *srv);
/* Stops the daemon (after streams have ended): submits already queued are committed and
 * answered first. */
void srv_http_stop(srv_server *srv);
/* Requests in flight (not counting streams), for the drain on shutdown. */
int srv_http_in_flight(void);

/* Answers with a JSON body (copied). */
enum MHD_Result srv_reply_json(srv_req *req, int status, const char *json, size_t len);
/* Answers {"error":{"code":…,"message":…,"details":…}}; details_json may be NULL. */
enum MHD_Result srv_reply_error(srv_req *req, int status, const char *code, const char *message,
                                const char *details_json);
/* Answers a failed database call: SQLSTATE SP400/SP404/SP409/SP410/SP422 with the function's
 * message; lost connections 503 with Retry-After; anything else 500 with a generic message
 * (the database's text goes to the log only). */
enum MHD_Result srv_reply_db_error(srv_req *req, sp_db *db, int rc);
/* The same from saved error fields (rc SP_E_DB with sqlstate/message/detail, or SP_E_CONN
 * / SP_E_RANGE for 503). */
enum MHD_Result srv_reply_sql_error(srv_req *req, int rc, const char *sqlstate, const char *message,
                                    const char *detail);
/* Answers with a body of another type (copied), e.g. Prometheus text. */
enum MHD_Result srv_reply_text(srv_req *req, int status, const char *text, size_t len,
                               const char *content_type);
/* Answers an error with a Retry-After header (429, 503). */
enum MHD_Result srv_reply_error_retry(srv_req *req, int status, const char *code,
                                      const char *message, int retry_after);
/* Answers 503 with Retry-After: the database cannot be reached or no connection is free. */
enum MHD_Result srv_reply_unavailable(srv_req *req, int rc);

/* A query-string argument or request header (borrowed; NULL when absent). */
const char *srv_query(srv_req *req, const char *key);
const char *srv_header(srv_req *req, const char *name);

/* Monotonic microseconds. */
int64_t srv_now_us(void);

#endif

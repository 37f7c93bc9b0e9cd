/*
 * srv_sse: the content-reader side of event streams (see srv_sse.h).
 *
 * A stream sends, in order: its prelude ("retry: 2000", and a comment when its
 * Last-Event-ID is older than the log), the replay (pages of spool.events_replay, fetched
 * one at a time as the previous one has gone out), then live messages from its subscriber
 * queue, skipping ids at or below the last one it sent (the hand-off: ids are unique and
 * increasing on both sides, so "above the last sent" is exactly "not yet sent").
 *
 * When there is nothing to send the content reader suspends its connection from inside the
 * callback (the one place MHD allows it) and the hub resumes it; suspend and resume are
 * paired under the subscriber's lock, so a resume never reaches a connection that is not
 * suspended, and none arrives after stream_free has unsubscribed.
 *
 * Memory: a stream holds its subscriber (a small ring of shared message pointers), the frame
 * being written, and a buffer only while a prelude or replay page is going out. Pings come
 * from a constant.
 *
 * Ownership: a sse_stream belongs to its MHD response; MHD calls stream_free exactly once,
 * when the response is done, and that unsubscribes it.
 */
#include "srv_sse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sp_buf.h"
#include "sp_log.h"
#include "srv_pool.h"

/* A replay page's buffer: rows are bounded by the page size; this only caps the bytes. */
#define SSE_OUT_MAX (16 * 1024 * 1024)
/* A replay without a job id walks the log's primary key at most this many ids per page
 * times the page size, so that a selective filter cannot make one query scan the log. */
#define SSE_REPLAY_SPAN_PAGES 20

static const char SSE_PING[] = ": ping\n\n";

typedef struct {
    srv_server *srv;
    srv_sub *sub;
    struct MHD_Connection *conn;
    const srv_sub_filter *f; /* the subscriber's */
    bool per_job;
    bool replaying, done;
    int page;
    int64_t replay_after, replay_upto;
    int64_t last_sent; /* live messages at or below it were sent by the replay */
    srv_msg *cur;      /* a live frame going out */
    size_t cur_off;
    const char *lit; /* a constant going out (": ping") */
    size_t lit_len, lit_off;
    sp_buf *out; /* prelude or a replay page going out; NULL otherwise */
    size_t out_off;
    char request_id[65];
} sse_stream;

static bool final_status(const char *s)
{
    return s != NULL &&
           (strcmp(s, "completed") == 0 || strcmp(s, "dead") == 0 || strcmp(s, "cancelled") == 0);
}

static void on_wake(void *arg)
{
    sse_stream *st = arg;
    MHD_resume_connection(st->conn);
}

static void before_sleep(void *arg)
{
    sse_stream *st = arg;
    MHD_suspend_connection(st->conn);
}

static int out_buf(sse_stream *st)
{
    if (st->out == NULL && sp_buf_new(&st->out, SSE_OUT_MAX) != 0)
        return SP_E_NOMEM;
    return 0;
}

/* Fetches the next replay page into st->out. On a database failure the stream ends: its
 * client reconnects with the last id it got and loses nothing. */
static void replay_page(sse_stream *st)
{
    sp_db *db = NULL;
    sp_db_res *res = NULL;
    int64_t upto = st->replay_upto;
    if (!st->per_job && upto - st->replay_after > (int64_t)st->page * SSE_REPLAY_SPAN_PAGES)
        upto = st->replay_after + (int64_t)st->page * SSE_REPLAY_SPAN_PAGES;
    char after[32], upto_s[32], lim[16];
    snprintf(after, sizeof after, "%lld", (long long)st->replay_after);
    snprintf(upto_s, sizeof upto_s, "%lld", (long long)upto);
    snprintf(lim, sizeof lim, "%d", st->page);
    int rc = srv_pool_get(st->srv->pool, &db);
    if (rc != 0) {
        sp_log_write(SP_LOG_WARN, "sse", "replay_failed", "request_id=%s reason=%s", st->request_id,
                     "no database connection");
        st->done = true;
        return;
    }
    const char *params[] = {after,
                            upto_s,
                            st->f->job_id[0] ? st->f->job_id : NULL,
                            st->f->type[0] ? st->f->type : NULL,
                            st->f->queue[0] ? st->f->queue : NULL,
                            st->f->status[0] ? st->f->status : NULL,
                            st->f->tenant[0] ? st->f->tenant : NULL,
                            lim};
    rc = sp_db_exec_params(db,
                           "SELECT id, kind, status, msg FROM spool.events_replay($1::bigint,"
                           " $2::bigint, $3::uuid, $4, $5, $6, $7, $8::integer)",
                           8, params, &res);
    srv_pool_put(st->srv->pool, db, rc == SP_E_CONN);
    if (rc != 0 || out_buf(st) != 0) {
        sp_log_write(SP_LOG_WARN, "sse", "replay_failed", "request_id=%s reason=%s", st->request_id,
                     rc != 0 ? "query failed" : "out of memory");
        sp_db_res_free(res);
        st->done = true;
        return;
    }
    int n = sp_db_res_nrows(res);
    for (int i = 0; i < n && !st->done; i++) {
        const char *id = sp_db_res_value(res, i, 0);
        if (sp_buf_appendf(st->out, "id: %s\nevent: %s\ndata: %s\n\n", id,
                           sp_db_res_value(res, i, 1), sp_db_res_value(res, i, 3)) != 0) {
            /* A page too large for the buffer: what is in it goes out, the rest next. */
            if (i == 0)
                st->done = true;
            n = i;
            break;
        }
        st->replay_after = st->last_sent = strtoll(id, NULL, 10);
        if (st->per_job && final_status(sp_db_res_value(res, i, 2)))
            st->done = true;
    }
    /* A short page: nothing more up to `upto`. */
    if (n < st->page && n == sp_db_res_nrows(res) && st->replay_after < upto)
        st->replay_after = upto;
    if (st->replay_after >= st->replay_upto || st->done)
        st->replaying = false;
    sp_db_res_free(res);
}

static size_t copy_out(const char *src, size_t len, size_t *off, char *buf, size_t max)
{
    size_t n = len - *off < max ? len - *off : max;
    memcpy(buf, src + *off, n);
    *off += n;
    return n;
}

/* Fills buf with as much as is ready (several frames when a backlog waits, so that one
 * write carries them). With nothing ready it suspends the connection and returns 0. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    sse_stream *st = cls;
    size_t n = 0;
    while (n < max) {
        if (st->out != NULL) {
            if (sp_buf_len(st->out) > st->out_off) {
                n += copy_out(sp_buf_data(st->out), sp_buf_len(st->out), &st->out_off, buf + n,
                              max - n);
                continue;
            }
            /* Sent: give the page's memory back. */
            sp_buf_free(st->out);
            st->out = NULL;
            st->out_off = 0;
        }
        if (st->lit != NULL) {
            if (st->lit_off < st->lit_len) {
                n += copy_out(st->lit, st->lit_len, &st->lit_off, buf + n, max - n);
                continue;
            }
            st->lit = NULL;
        }
        if (st->cur != NULL) {
            size_t len;
            const char *f = srv_msg_frame(st->cur, &len);
            if (st->cur_off < len) {
                n += copy_out(f, len, &st->cur_off, buf + n, max - n);
                continue;
            }
            srv_msg_release(st->cur);
            st->cur = NULL;
            st->cur_off = 0;
        }
        if (st->done)
            return n > 0 ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
        if (st->replaying) {
            if (n > 0)
                break; /* a page is a query: send what is ready first */
            if (srv_sub_ending(st->sub)) {
                /* Shutting down or too slow: the client resumes from its last id. */
                st->done = true;
                continue;
            }
            replay_page(st);
            continue;
        }
        srv_msg *m = NULL;
        /* Suspend only with nothing to send: what is ready goes out first. */
        switch (srv_sub_pop(st->sub, &m, n > 0 ? NULL : before_sleep, st)) {
        case SRV_SUB_MSG:
            if (srv_msg_id(m) <= st->last_sent) {
                srv_msg_release(m); /* already sent by the replay */
                continue;
            }
            st->last_sent = srv_msg_id(m);
            if (st->per_job && final_status(srv_msg_status(m)))
                st->done = true;
            st->cur = m;
            st->cur_off = 0;
            continue;
        case SRV_SUB_HEARTBEAT:
            st->lit = SSE_PING;
            st->lit_len = sizeof SSE_PING - 1;
            st->lit_off = 0;
            continue;
        case SRV_SUB_END:
            if (n > 0)
                return (ssize_t)n;
            if (srv_sub_dropped(st->sub))
                sp_log_write(SP_LOG_WARN, "sse", "subscriber_dropped",
                             "request_id=%s last_id=%lld reason=%s", st->request_id,
                             (long long)st->last_sent, "queue full (client too slow)");
            return MHD_CONTENT_READER_END_OF_STREAM;
        case SRV_SUB_EMPTY:
            return (ssize_t)n; /* 0: suspended until the hub wakes it */
        }
    }
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    sse_stream *st = cls;
    srv_events_unsubscribe(st->srv->events, st->sub);
    srv_msg_release(st->cur);
    sp_buf_free(st->out);
    free(st);
}

/* The oldest event id still in the log, or -1 (empty log, or no database). */
static int64_t oldest_event(srv_server *srv)
{
    sp_db *db = NULL;
    sp_db_res *res = NULL;
    int64_t oldest = -1;
    if (srv_pool_get(srv->pool, &db) != 0)
        return -1;
    int rc = sp_db_exec_params(db, "SELECT oldest FROM spool.events_bounds()", 0, NULL, &res);
    srv_pool_put(srv->pool, db, rc == SP_E_CONN);
    const char *v = rc == 0 && sp_db_res_nrows(res) == 1 ? sp_db_res_value(res, 0, 0) : NULL;
    if (v != NULL)
        oldest = strtoll(v, NULL, 10);
    sp_db_res_free(res);
    return oldest;
}

/* The id of the job's final event if it has ended (spool.events_job_final), or -1. */
static int64_t job_final_event(srv_server *srv, const srv_sub_filter *f)
{
    sp_db *db = NULL;
    sp_db_res *res = NULL;
    int64_t id = -1;
    if (srv_pool_get(srv->pool, &db) != 0)
        return -1;
    const char *params[] = {f->job_id, f->tenant[0] ? f->tenant : NULL};
    int rc = sp_db_exec_params(db, "SELECT spool.events_job_final($1::uuid, $2)", 2, params, &res);
    srv_pool_put(srv->pool, db, rc == SP_E_CONN);
    const char *v = rc == 0 && sp_db_res_nrows(res) == 1 ? sp_db_res_value(res, 0, 0) : NULL;
    if (v != NULL)
        id = strtoll(v, NULL, 10);
    sp_db_res_free(res);
    return id;
}

enum MHD_Result srv_sse_start(srv_req *req, const srv_sse_params *p)
{
    if (p->filter.job_id[0] != '\0' && p->last_event_id >= 0) {
        /* A job stream resuming after the job's final event (an EventSource reconnects
         * whenever a stream ends): 204 tells it the stream is over for good. */
        int64_t final_id = job_final_event(req->srv, &p->filter);
        if (final_id >= 0 && final_id <= p->last_event_id)
            return srv_reply_text(req, 204, "", 0, "text/event-stream");
    }
    sse_stream *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return srv_reply_error(req, 503, "unavailable", "out of memory", NULL);
    st->srv = req->srv;
    st->conn = req->conn;
    st->per_job = p->filter.job_id[0] != '\0';
    st->page = srv_events_replay_page(req->srv->events);
    snprintf(st->request_id, sizeof st->request_id, "%s", req->request_id);
    int64_t w0 = 0;
    int rc = srv_events_subscribe(req->srv->events, &p->filter, on_wake, st, &st->sub, &w0);
    if (rc != 0) {
        free(st);
        if (rc == SP_E_RANGE)
            return srv_reply_error_retry(req, 503, "too_many_subscribers",
                                         "this server has reached sse_max_subscribers", 5);
        return srv_reply_error_retry(req, 503, "events_unavailable",
                                     "the event stream is not connected to the database yet", 2);
    }
    st->f = srv_sub_get_filter(st->sub);
    /* Live messages above w0 come from the queue; the replay covers (after, w0]. */
    st->last_sent = w0;
    int brc = out_buf(st);
    if (brc == 0)
        brc = sp_buf_appends(st->out, "retry: 2000\n\n");
    if (p->last_event_id >= 0) {
        st->replay_after = p->last_event_id;
        st->replay_upto = w0;
        if (p->last_event_id > w0)
            st->last_sent = p->last_event_id; /* it came from a server further ahead */
        int64_t oldest = oldest_event(req->srv);
        if (brc == 0 && oldest > p->last_event_id + 1) {
            brc = sp_buf_appendf(
                st->out, ": events %lld to %lld were pruned from the log; resuming at %lld\n\n",
                (long long)(p->last_event_id + 1), (long long)(oldest - 1), (long long)oldest);
            st->replay_after = oldest - 1;
        }
        st->replaying = st->replay_after < w0;
    } else if (st->per_job) {
        /* No Last-Event-ID on a job's stream: its history first. */
        st->replay_after = 0;
        st->replay_upto = w0;
        st->replaying = w0 > 0;
    }
    if (brc != 0) {
        stream_free(st);
        return srv_reply_error(req, 503, "unavailable", "out of memory", NULL);
    }
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, stream_read, st, stream_free);
    if (r == NULL) {
        stream_free(st);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    MHD_add_response_header(r, "X-Request-Id", req->request_id);
    req->status = 200;
    req->answered = true;
    req->streaming = true;
    enum MHD_Result ret = MHD_queue_response(req->conn, 200, r);
    MHD_destroy_response(r);
    return ret;
}

/*
 * srv_sse: the content-reader side of event streams (see srv_sse.h).
 *
 * Ownership: a sse_stream belongs to its MHD response; MHD calls stream_free exactly once,
 * which unsubscribes it (after which the hub never wakes it again).
 */
#include "srv_sse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sp_buf.h"
#include "sp_log.h"
#include "srv_pool.h"

#define REPLAY_PAGE 500
#define REPLAY_BUF_MAX (8 * 1024 * 1024)

typedef struct {
    srv_server *srv;
    srv_sub *sub;
    struct MHD_Connection *conn;
    srv_sub_filter f;
    bool per_job, history; /* history: a per-job stream replaying the job's past */
    bool replaying, done;
    int64_t replay_after, replay_upto, min_id;
    srv_msg *cur;
    size_t cur_off;
    sp_buf *out; /* prelude, replay pages and heartbeats waiting to go out */
    size_t out_off;
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

/* Fetches the next replay page into st->out. */
static void replay_page(sse_stream *st)
{
    sp_db *db = NULL;
    sp_db_res *res = NULL;
    char after[32], upto[32], lim[16];
    snprintf(after, sizeof after, "%lld", (long long)st->replay_after);
    snprintf(upto, sizeof upto, "%lld", (long long)st->replay_upto);
    snprintf(lim, sizeof lim, "%d", REPLAY_PAGE);
    if (srv_pool_get(st->srv->pool, &db) != 0) {
        /* No database: end the stream; the client reconnects with its Last-Event-ID. */
        st->done = true;
        return;
    }
    int rc;
    if (st->history) {
        const char *params[] = {st->f.job_id, after, upto, lim};
        rc = sp_db_exec_params(
            db,
            "SELECT e.id, e.kind, e.status, json_strip_nulls(json_build_object('id', e.id,"
            " 'kind', e.kind, 'status', e.status, 'job_id', e.job_id, 'type', e.type,"
            " 'queue', e.queue, 'customer_id', e.customer_id, 'data', e.data, 'at', e.at))::text"
            " FROM spool.job_events($1::uuid) e WHERE e.id > $2::bigint AND e.id <= $3::bigint"
            " ORDER BY e.id LIMIT $4::integer",
            4, params, &res);
    } else {
        const char *params[] = {after,
                                upto,
                                st->f.job_id[0] ? st->f.job_id : NULL,
                                st->f.type[0] ? st->f.type : NULL,
                                st->f.queue[0] ? st->f.queue : NULL,
                                st->f.status[0] ? st->f.status : NULL,
                                st->f.tenant[0] ? st->f.tenant : NULL,
                                lim};
        rc = sp_db_exec_params(db,
                               "SELECT id, kind, status, msg FROM spool.events_replay($1::bigint,"
                               " $2::bigint, $3::uuid, $4, $5, $6, $7, $8::integer)",
                               8, params, &res);
    }
    srv_pool_put(st->srv->pool, db, rc == SP_E_CONN);
    if (rc != 0) {
        st->done = true;
        return;
    }
    int n = sp_db_res_nrows(res);
    for (int i = 0; i < n; i++) {
        const char *id = sp_db_res_value(res, i, 0);
        if (sp_buf_appendf(st->out, "id: %s\nevent: %s\ndata: %s\n\n", id,
                           sp_db_res_value(res, i, 1), sp_db_res_value(res, i, 3)) != 0) {
            st->done = true;
            break;
        }
        st->replay_after = strtoll(id, NULL, 10);
        if (st->per_job && final_status(sp_db_res_value(res, i, 2)))
            st->done = true;
    }
    /* A short page is the last one (history pages can also be short at the end). */
    if (n < REPLAY_PAGE || st->done)
        st->replaying = false;
    if (st->history && !st->replaying)
        st->history = false;
    sp_db_res_free(res);
}

static size_t drain_out(sse_stream *st, char *buf, size_t max)
{
    size_t left = sp_buf_len(st->out) - st->out_off;
    size_t n = left < max ? left : max;
    memcpy(buf, sp_buf_data(st->out) + st->out_off, n);
    st->out_off += n;
    if (st->out_off == sp_buf_len(st->out)) {
        sp_buf_reset(st->out);
        st->out_off = 0;
    }
    return n;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    sse_stream *st = cls;
    for (;;) {
        if (sp_buf_len(st->out) > st->out_off)
            return (ssize_t)drain_out(st, buf, max);
        if (st->cur != NULL) {
            size_t len;
            const char *f = srv_msg_frame(st->cur, &len);
            size_t n = len - st->cur_off < max ? len - st->cur_off : max;
            memcpy(buf, f + st->cur_off, n);
            st->cur_off += n;
            if (st->cur_off == len) {
                srv_msg_release(st->cur);
                st->cur = NULL;
                st->cur_off = 0;
            }
            return (ssize_t)n;
        }
        if (st->done)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (st->replaying) {
            replay_page(st);
            continue;
        }
        srv_msg *m = NULL;
        switch (srv_sub_pop(st->sub, &m, before_sleep, st)) {
        case SRV_SUB_MSG:
            if (srv_msg_id(m) <= st->min_id) {
                srv_msg_release(m);
                continue;
            }
            if (st->per_job && final_status(srv_msg_status(m)))
                st->done = true;
            st->cur = m;
            st->cur_off = 0;
            continue;
        case SRV_SUB_HEARTBEAT:
            if (sp_buf_appends(st->out, ": ping\n\n") != 0)
                return MHD_CONTENT_READER_END_WITH_ERROR;
            continue;
        case SRV_SUB_END:
            if (srv_sub_dropped(st->sub))
                sp_log_write(SP_LOG_WARN, "sse", "subscriber_dropped", "reason=%s",
                             "queue full (client too slow)");
            return MHD_CONTENT_READER_END_OF_STREAM;
        case SRV_SUB_EMPTY:
            return 0; /* suspended until the hub wakes it */
        }
    }
}

static void stream_free(void *cls)
{
    sse_stream *st = cls;
    srv_events_unsubscribe(st->srv->events, st->sub);
    srv_msg_release(st->cur);
    sp_buf_free(st->out);
    free(st);
}

enum MHD_Result srv_sse_start(srv_req *req, const srv_sse_params *p)
{
    sse_stream *st = calloc(1, sizeof(*st));
    if (st == NULL || sp_buf_new(&st->out, REPLAY_BUF_MAX) != 0) {
        free(st);
        return srv_reply_error(req, 503, "unavailable", "out of memory", NULL);
    }
    st->srv = req->srv;
    st->conn = req->conn;
    st->f = p->filter;
    st->per_job = p->filter.job_id[0] != '\0';
    int64_t w0 = 0;
    int rc = srv_events_subscribe(req->srv->events, &st->f, on_wake, st, &st->sub, &w0);
    if (rc != 0) {
        sp_buf_free(st->out);
        free(st);
        if (rc == SP_E_RANGE)
            return srv_reply_error_retry(req, 503, "too_many_subscribers",
                                         "this server has reached sse_max_subscribers", 5);
        return srv_reply_error_retry(req, 503, "events_unavailable",
                                     "the event stream is not connected to the database yet", 2);
    }
    st->min_id = w0;
    if (p->last_event_id >= 0) {
        st->replay_after = p->last_event_id;
        st->replay_upto = w0;
        st->replaying = p->last_event_id < w0;
        if (p->last_event_id > w0)
            st->min_id = p->last_event_id;
    } else if (st->per_job) {
        st->history = true;
        st->replaying = true;
        st->replay_after = 0;
        st->replay_upto = w0;
    }
    int brc = sp_buf_appends(st->out, "retry: 2000\n\n");
    if (brc == 0 && p->last_event_id >= 0) {
        sp_db *db = NULL;
        sp_db_res *res = NULL;
        if (srv_pool_get(req->srv->pool, &db) == 0) {
            int qrc = sp_db_exec_params(db, "SELECT min(id) FROM spool.event_log", 0, NULL, &res);
            srv_pool_put(req->srv->pool, db, qrc == SP_E_CONN);
            const char *v = qrc == 0 ? sp_db_res_value(res, 0, 0) : NULL;
            if (v != NULL && strtoll(v, NULL, 10) > p->last_event_id + 1)
                brc = sp_buf_appendf(st->out, ": events before %s were pruned; resuming there\n\n",
                                     v);
            sp_db_res_free(res);
        }
    }
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 2048, stream_read, st, stream_free);
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

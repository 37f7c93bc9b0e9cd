/*
 * srv_sse: event streams (see srv_sse.h): an MHD content reader for the start of a stream,
 * and writer threads that carry it on, on the raw socket, once it is live.
 *
 * A stream sends, in order: its prelude ("retry: 2000", and a comment when its
 * Last-Event-ID is older than the log), the replay (pages of spool.events_replay, fetched
 * one at a time as the previous one has gone out), then live messages from its subscriber
 * queue, skipping ids at or below the last one it sent (the hand-off: ids are unique and
 * increasing on both sides, so "above the last sent" is exactly "not yet sent").
 *
 * The prelude and the replay go out through MHD's content reader (they may query the
 * database, which an MHD thread may do). When the replay is done and MHD has sent all of it,
 * the reader suspends the connection and hands the stream to a writer thread: the response
 * is close-delimited (no chunked encoding, MHD_RF_HTTP_1_0_COMPATIBLE_STRICT), so the writer
 * writes frames to the socket as they are, and MHD, which does not touch a suspended
 * connection, has nothing of its own in flight. Live delivery then costs one sendmsg per
 * stream and batch of frames, with no MHD resume, epoll re-registration or inter-thread
 * wake-up per stream (measured: ~25% less CPU per delivery with 2 writers; the rest is the
 * kernel's TCP send). A writer ends a stream by handing it back: it takes the socket out of
 * its epoll set, marks the stream and resumes the connection, and the content reader answers
 * end of stream, so MHD closes the connection and completes the request as usual.
 *
 * Writers: srv_sse_init starts a fixed number (sse_threads); a stream goes to one of them
 * round-robin. A writer waits in epoll on its streams' sockets (peer closed, writable again)
 * and on an eventfd. The hub wakes a sleeping subscriber (srv_events.h) by pushing its stream on
 * its writer's wake stack (lock-free; the eventfd is written only when the stack was empty, so one
 * event to 10,000 streams costs a few wake-ups, not 10,000). A stream whose socket is full waits
 * for EPOLLOUT and pops nothing meanwhile: its subscriber queue fills and the hub drops it (bounded
 * memory, as before). A stream that makes no progress for request_timeout, or for SSE_END_FLUSH_MS
 * once it has been told to end, is handed back as it is.
 *
 * Ownership: a sse_stream is reference-counted: one reference for its MHD response
 * (released by stream_free, which MHD calls exactly once, after unsubscribing so that no
 * wake follows), one for its writer from the hand-off until it is handed back, and one for
 * each entry on a wake stack. Before the hand-off only the MHD side touches the stream's
 * fields; after it only the writer, until it sets handed_back (then MHD again). The socket
 * is the writer's only while the connection is suspended.
 *
 * Memory: a stream holds its subscriber (a small ring of shared message pointers), up to
 * SSE_IOV_MAX shared frames being written, and a buffer only while a prelude or replay page
 * is going out. Pings come from a constant.
 *
 * TLS: the writer writes plain TCP; spoold's MHD daemon serves plain HTTP only.
 */
#include "srv_sse.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "sp_buf.h"
#include "sp_log.h"
#include "srv_pool.h"

/* A replay page's buffer: rows are bounded by the page size; this only caps the bytes. */
#define SSE_OUT_MAX (16 * 1024 * 1024)
/* A replay without a job id walks the log's primary key at most this many ids per page
 * times the page size, so that a selective filter cannot make one query scan the log. */
#define SSE_REPLAY_SPAN_PAGES 20
/* Frames gathered into one sendmsg (and held per stream while its socket is full). */
#define SSE_IOV_MAX 16
#define SSE_WRITERS_MAX 64
/* A stream told to end (shutdown) gets this long to flush what it holds. */
#define SSE_END_FLUSH_MS 2000
/* How often a writer looks at its blocked streams' deadlines. */
#define SSE_TICK_MS 100
#define SSE_EPOLL_BATCH 256
/* Bytes a client may send on a live stream (pipelined requests: ignored) per wake-up. */
#define SSE_DISCARD_BYTES 4096

static const char SSE_PING[] = ": ping\n\n";

typedef struct sse_writer sse_writer;
typedef struct sse_stream sse_stream;

struct sse_stream {
    atomic_int refs;
    atomic_bool queued;      /* on its writer's wake stack */
    atomic_bool handed_back; /* the writer is done with it; MHD ends the response */
    sse_stream *wnext;       /* wake-stack link */
    sse_writer *w;
    srv_server *srv;
    srv_sub *sub;
    struct MHD_Connection *conn;
    const srv_sub_filter *f; /* the subscriber's */
    bool per_job;
    bool done;         /* a per-job stream sent its final event, or the replay failed */
    int64_t last_sent; /* live messages at or below it were sent by the replay */
    char request_id[65];
    /* MHD side, before the hand-off */
    bool replaying;
    int page;
    int64_t replay_after, replay_upto;
    sp_buf *out; /* prelude or a replay page going out; NULL otherwise */
    size_t out_off;
    /* writer side, after the hand-off */
    int fd;
    bool registered, blocked, end_seen, finished;
    int stall_ms;
    int64_t deadline_ms;        /* while blocked: hand back if still blocked then */
    sse_stream *tprev, *tnext;  /* the writer's list of blocked streams */
    int npend;                  /* frames not yet (fully) written */
    size_t pend_off;            /* bytes of pend[0] already written */
    srv_msg *pend[SSE_IOV_MAX]; /* NULL: a ping */
};

struct sse_writer {
    int epfd, evfd;
    pthread_t thread;
    bool started;
    atomic_bool stop;
    _Atomic(sse_stream *) wake; /* pushed by any thread, taken whole by the writer */
    sse_stream *blocked;        /* writer thread only */
};

static struct {
    sse_writer *w;
    int n;
    atomic_uint next;
} writers;

static bool final_status(const char *s)
{
    return s != NULL &&
           (strcmp(s, "completed") == 0 || strcmp(s, "dead") == 0 || strcmp(s, "cancelled") == 0);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void stream_unref(sse_stream *st)
{
    if (atomic_fetch_sub(&st->refs, 1) != 1)
        return;
    for (int i = 0; i < st->npend; i++)
        srv_msg_release(st->pend[i]);
    sp_buf_free(st->out);
    free(st);
}

/* Puts st on its writer's wake stack; the caller has taken a reference for the entry. */
static void writer_push(sse_stream *st)
{
    sse_writer *w = st->w;
    sse_stream *head = atomic_load(&w->wake);
    do {
        st->wnext = head;
    } while (!atomic_compare_exchange_weak(&w->wake, &head, st));
    if (head == NULL) {
        uint64_t one = 1;
        ssize_t rc = write(w->evfd, &one, sizeof one);
        (void)rc; /* EAGAIN: the counter is already non-zero, the writer wakes anyway */
    }
}

/* The subscriber's wake callback (hub thread, subscriber lock held). */
static void stream_wake(void *arg)
{
    sse_stream *st = arg;
    if (atomic_exchange(&st->queued, true))
        return;
    atomic_fetch_add(&st->refs, 1);
    writer_push(st);
}

/* srv_sub_pop's before_sleep: marking the subscriber sleeping is all a writer needs. */
static void stream_sleep(void *arg)
{
    (void)arg;
}

static void log_end(sse_stream *st)
{
    if (srv_sub_dropped(st->sub))
        sp_log_write(SP_LOG_WARN, "sse", "subscriber_dropped",
                     "request_id=%s last_id=%lld reason=%s", st->request_id,
                     (long long)st->last_sent, "queue full (client too slow)");
}

/* ---- writer side ---------------------------------------------------------------------- */

static void blocked_remove(sse_writer *w, sse_stream *st)
{
    if (st->tprev)
        st->tprev->tnext = st->tnext;
    else
        w->blocked = st->tnext;
    if (st->tnext)
        st->tnext->tprev = st->tprev;
    st->tprev = st->tnext = NULL;
}

static void set_events(sse_stream *st, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = st};
    if (epoll_ctl(st->w->epfd, EPOLL_CTL_MOD, st->fd, &ev) != 0)
        sp_log_write(SP_LOG_WARN, "sse", "epoll_failed", "request_id=%s errno=%d", st->request_id,
                     errno);
}

/* Hands the stream back to MHD, which ends the response and closes the connection. The
 * writer's reference goes: st may be freed by the time this returns. */
static void finish(sse_stream *st)
{
    sse_writer *w = st->w;
    if (st->blocked)
        blocked_remove(w, st);
    st->blocked = false;
    if (st->registered)
        epoll_ctl(w->epfd, EPOLL_CTL_DEL, st->fd, NULL);
    st->registered = false;
    for (int i = 0; i < st->npend; i++)
        srv_msg_release(st->pend[i]);
    st->npend = 0;
    st->finished = true;
    atomic_store(&st->handed_back, true);
    MHD_resume_connection(st->conn);
    stream_unref(st);
}

/* Waits for the socket to take more, until the stream's deadline. */
static void block(sse_stream *st)
{
    sse_writer *w = st->w;
    st->blocked = true;
    st->deadline_ms = mono_ms() + st->stall_ms;
    st->tprev = NULL;
    st->tnext = w->blocked;
    if (w->blocked)
        w->blocked->tprev = st;
    w->blocked = st;
    set_events(st, EPOLLIN | EPOLLRDHUP | EPOLLOUT);
}

/* Writes what is pending in one sendmsg. 1: all of it went; 0: the socket is full; -1: the
 * connection is broken. */
static int stream_write(sse_stream *st)
{
    struct iovec iov[SSE_IOV_MAX];
    for (int i = 0; i < st->npend; i++) {
        size_t len = sizeof SSE_PING - 1;
        const char *p = SSE_PING;
        if (st->pend[i] != NULL)
            p = srv_msg_frame(st->pend[i], &len);
        if (i == 0) {
            p += st->pend_off;
            len -= st->pend_off;
        }
        iov[i].iov_base = (void *)p;
        iov[i].iov_len = len;
    }
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)st->npend};
    ssize_t n;
    do
        n = sendmsg(st->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    int done = 0;
    size_t left = (size_t)n;
    while (done < st->npend && left >= iov[done].iov_len) {
        left -= iov[done].iov_len;
        srv_msg_release(st->pend[done]);
        done++;
    }
    if (done > 0) {
        memmove(st->pend, st->pend + done, (size_t)(st->npend - done) * sizeof st->pend[0]);
        st->npend -= done;
        st->pend_off = 0;
    }
    st->pend_off += left;
    return st->npend == 0 ? 1 : 0;
}

/* Moves queued messages to the socket until the queue is empty (the subscriber is then
 * marked sleeping, and the hub's next wake brings the stream back), the socket is full, or
 * the stream ends. */
static void pump(sse_stream *st)
{
    for (;;) {
        bool empty = false;
        while (!st->end_seen && !st->done && st->npend < SSE_IOV_MAX) {
            srv_msg *m = NULL;
            srv_sub_state s = srv_sub_pop(st->sub, &m, stream_sleep, st);
            if (s == SRV_SUB_MSG) {
                if (srv_msg_id(m) <= st->last_sent) {
                    srv_msg_release(m); /* already sent by the replay */
                    continue;
                }
                st->last_sent = srv_msg_id(m);
                if (st->per_job && final_status(srv_msg_status(m)))
                    st->done = true;
                st->pend[st->npend++] = m;
            } else if (s == SRV_SUB_HEARTBEAT) {
                st->pend[st->npend++] = NULL;
            } else if (s == SRV_SUB_END) {
                st->end_seen = true;
            } else {
                empty = true;
                break;
            }
        }
        if (st->npend == 0) {
            if (st->end_seen || st->done)
                finish(st);
            return;
        }
        int rc = stream_write(st);
        if (rc < 0) {
            finish(st);
            return;
        }
        if (rc == 0) {
            block(st);
            return;
        }
        if (empty)
            return;
    }
}

/* Readiness of a stream's socket. */
static void stream_io(sse_stream *st, uint32_t events)
{
    if (events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
        finish(st); /* the client went away */
        return;
    }
    if (events & EPOLLIN) {
        /* Nothing is expected from the client on a live stream: what comes is dropped, and
         * end of file means it has gone. */
        char buf[SSE_DISCARD_BYTES];
        ssize_t n = recv(st->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            finish(st);
            return;
        }
    }
    if ((events & EPOLLOUT) && st->blocked) {
        blocked_remove(st->w, st);
        st->blocked = false;
        set_events(st, EPOLLIN | EPOLLRDHUP);
        pump(st);
    }
}

/* A stream the MHD side handed over (first time on the wake stack). */
static void stream_register(sse_stream *st)
{
    int one = 1;
    /* Frames go out as they come: no Nagle delay behind an unacknowledged one. */
    setsockopt(st->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = st};
    if (epoll_ctl(st->w->epfd, EPOLL_CTL_ADD, st->fd, &ev) != 0) {
        sp_log_write(SP_LOG_WARN, "sse", "epoll_failed", "request_id=%s errno=%d", st->request_id,
                     errno);
        finish(st);
        return;
    }
    st->registered = true;
    pump(st);
}

/* Takes the whole wake stack and serves it oldest first. */
static void drain_wakes(sse_writer *w)
{
    sse_stream *list = atomic_exchange(&w->wake, NULL), *rev = NULL;
    while (list != NULL) {
        sse_stream *next = list->wnext;
        list->wnext = rev;
        rev = list;
        list = next;
    }
    while (rev != NULL) {
        sse_stream *st = rev;
        rev = st->wnext;
        atomic_store(&st->queued, false);
        if (!st->finished) {
            if (!st->registered)
                stream_register(st);
            else if (!st->blocked)
                pump(st); /* a blocked one goes on at EPOLLOUT */
        }
        stream_unref(st); /* the entry's reference */
    }
}

/* Blocked streams: a dropped one is handed back at once (its backlog is gone anyway), one
 * being ended by shutdown gets SSE_END_FLUSH_MS, any other request_timeout. */
static void check_blocked(sse_writer *w, int64_t now)
{
    sse_stream *st = w->blocked;
    while (st != NULL) {
        sse_stream *next = st->tnext;
        if (srv_sub_ending(st->sub)) {
            if (srv_sub_dropped(st->sub))
                st->deadline_ms = now;
            else if (st->deadline_ms > now + SSE_END_FLUSH_MS)
                st->deadline_ms = now + SSE_END_FLUSH_MS;
        }
        if (now >= st->deadline_ms) {
            if (!srv_sub_dropped(st->sub))
                sp_log_write(SP_LOG_WARN, "sse", "stream_stalled",
                             "request_id=%s last_id=%lld reason=%s", st->request_id,
                             (long long)st->last_sent, "client stopped reading");
            finish(st);
        }
        st = next;
    }
}

static void *writer_main(void *arg)
{
    sse_writer *w = arg;
    struct epoll_event evs[SSE_EPOLL_BATCH];
    int64_t next_check = 0;
    while (!atomic_load(&w->stop)) {
        int timeout = -1;
        if (w->blocked != NULL) {
            int64_t d = next_check - mono_ms();
            timeout = d < 0 ? 0 : (int)d;
        }
        int n = epoll_wait(w->epfd, evs, SSE_EPOLL_BATCH, timeout);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL) {
                uint64_t v;
                ssize_t rc = read(w->evfd, &v, sizeof v);
                (void)rc;
                continue;
            }
            stream_io(evs[i].data.ptr, evs[i].events);
        }
        drain_wakes(w);
        if (w->blocked != NULL) {
            int64_t now = mono_ms();
            if (now >= next_check) {
                check_blocked(w, now);
                next_check = now + SSE_TICK_MS;
            }
        }
    }
    return NULL;
}

static void writer_close(sse_writer *w)
{
    if (w->started) {
        atomic_store(&w->stop, true);
        uint64_t one = 1;
        ssize_t rc = write(w->evfd, &one, sizeof one);
        (void)rc;
        pthread_join(w->thread, NULL);
        w->started = false;
    }
    if (w->epfd >= 0)
        close(w->epfd);
    if (w->evfd >= 0)
        close(w->evfd);
    w->epfd = w->evfd = -1;
}

int srv_sse_init(int threads)
{
    if (threads < 1 || threads > SSE_WRITERS_MAX || writers.w != NULL)
        return SP_E_INVAL;
    writers.w = calloc((size_t)threads, sizeof(*writers.w));
    if (writers.w == NULL)
        return SP_E_NOMEM;
    writers.n = threads;
    for (int i = 0; i < threads; i++) {
        sse_writer *w = &writers.w[i];
        w->epfd = epoll_create1(EPOLL_CLOEXEC);
        w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        atomic_init(&w->wake, NULL);
        atomic_init(&w->stop, false);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
        if (w->epfd < 0 || w->evfd < 0 || epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &ev) != 0 ||
            pthread_create(&w->thread, NULL, writer_main, w) != 0) {
            writers.n = i + 1;
            srv_sse_free();
            return SP_E_IO;
        }
        w->started = true;
    }
    return 0;
}

void srv_sse_free(void)
{
    for (int i = 0; i < writers.n; i++)
        writer_close(&writers.w[i]);
    free(writers.w);
    writers.w = NULL;
    writers.n = 0;
}

/* ---- MHD side ------------------------------------------------------------------------- */

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

/* Suspends the connection and gives the stream to its writer. Called from the content
 * reader with nothing of the stream's in MHD's hands (MHD calls the reader only when all it
 * had has been sent). */
static bool handoff(sse_stream *st)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(st->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci == NULL)
        return false;
    st->fd = ci->connect_fd;
    MHD_suspend_connection(st->conn);
    atomic_fetch_add(&st->refs, 2); /* the writer's, and its wake-stack entry's */
    atomic_store(&st->queued, true);
    writer_push(st);
    return true;
}

/* Sends the prelude and the replay (several frames at once when a page waits, so that one
 * write carries them), then hands the stream to its writer; once the writer hands it back,
 * ends the response. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    sse_stream *st = cls;
    if (atomic_load(&st->handed_back)) {
        log_end(st);
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
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
        if (st->done) {
            if (n > 0)
                return (ssize_t)n;
            log_end(st);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        if (!st->replaying)
            break;
        if (n > 0)
            break; /* a page is a query: send what is ready first */
        if (srv_sub_ending(st->sub)) {
            /* Shutting down or too slow: the client resumes from its last id. */
            st->done = true;
            continue;
        }
        replay_page(st);
    }
    if (n > 0)
        return (ssize_t)n;
    /* Live from here on: the writer takes over once this returns. */
    if (!handoff(st))
        return MHD_CONTENT_READER_END_WITH_ERROR;
    return 0;
}

static void stream_free(void *cls)
{
    sse_stream *st = cls;
    /* No wake reaches the stream after this, so no new wake-stack reference either. */
    srv_events_unsubscribe(st->srv->events, st->sub);
    st->sub = NULL;
    stream_unref(st);
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
    if (writers.n == 0)
        return srv_reply_error_retry(req, 503, "events_unavailable",
                                     "event streams are not available on this server", 5);
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
    atomic_init(&st->refs, 1); /* the response's */
    atomic_init(&st->queued, false);
    atomic_init(&st->handed_back, false);
    st->w = &writers.w[atomic_fetch_add(&writers.next, 1) % (unsigned)writers.n];
    st->srv = req->srv;
    st->conn = req->conn;
    st->fd = -1;
    st->per_job = p->filter.job_id[0] != '\0';
    st->page = srv_events_replay_page(req->srv->events);
    st->stall_ms = (int)sp_config_duration_ms(req->srv->cfg, "request_timeout");
    snprintf(st->request_id, sizeof st->request_id, "%s", req->request_id);
    int64_t w0 = 0;
    int rc = srv_events_subscribe(req->srv->events, &p->filter, stream_wake, st, &st->sub, &w0);
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
    /* Close-delimited (no chunked encoding): the writer sends frames as they are, and the
     * end of the stream is the end of the connection, which an EventSource reconnects
     * after in any case. */
    MHD_set_response_options(r, MHD_RF_HTTP_1_0_COMPATIBLE_STRICT, MHD_RO_END);
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

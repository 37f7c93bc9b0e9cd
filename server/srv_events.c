/*
 * srv_events: LISTEN, gap-free reads of the event log and in-memory fan-out (see
 * srv_events.h for the model).
 *
 * Locks: ev->mu guards the subscriber list, the public watermark and the counters; each
 * subscriber's own mutex guards its queue and flags. Order: ev->mu, then a subscriber's
 * mutex, then whatever a wake callback takes (srv_sse's takes none). The hub thread never holds a
 * lock across a database call. The gap cursor and the read schedule belong to the hub thread.
 */
#include "srv_events.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "sp_log.h"
#include "srv_metrics.h"

#define HUB_QUEUE_DEFAULT 1024
#define HUB_HEARTBEAT_DEFAULT_MS 15000
#define HUB_MAX_SUBS_DEFAULT 20000
#define HUB_POLL_DEFAULT_MS 1000
#define HUB_CONNECT_TIMEOUT_DEFAULT_S 5
#define HUB_READ_PAGE_DEFAULT 1000
#define HUB_REPLAY_PAGE_DEFAULT 500
#define HUB_PAGE_MAX 10000
/* Reads follow a notification at most this often: under load notifications come with
 * nearly every commit, and one read every few milliseconds picks all of them up. */
#define HUB_MIN_READ_GAP_MS 5
/* Re-reads while a hole is waited on: 2 ms apart for the first few (a hole is nearly
 * always a commit a moment late), then backing off to this. */
#define HUB_HOLE_WAIT_MAX_MS 20
#define HUB_BACKOFF_MIN_MS 100
#define HUB_BACKOFF_MAX_MS 10000
/* On start the hub places its cursor this many ids before the newest event and reads
 * forward, so that rows of transactions still in flight when it started (smaller ids that
 * commit later) are not jumped over; it accepts subscribers once it has caught up with the
 * newest event, or after HUB_READY_WAIT_MS (a long transaction holding a hole) at the
 * watermark it has reached. */
#define HUB_START_LOOKBACK 10000
#define HUB_READY_WAIT_MS 2000
/* The hub's read, prepared on each connection it opens. */
#define HUB_READ_STMT "spool_hub_read"
#define HUB_READ_SQL                                                                               \
    "SELECT id, kind, status, type, queue, customer_id, job_ids, msg, snap_xmin, snap_xmax"        \
    " FROM spool.events_after($1::bigint, $2::integer)"

struct srv_msg {
    atomic_int refs;
    int64_t id;
    char *frame;
    size_t len;
    char *kind, *status, *type, *queue, *customer_id, *job_ids;
};

struct srv_sub {
    pthread_mutex_t mu;
    srv_sub *prev, *next;
    srv_sub_filter f;
    srv_msg **q; /* ring buffer, grown on demand up to qmax */
    int qcap, qhead, qlen, qmax;
    bool sleeping, heartbeat_due, ending, dropped;
    bool active; /* got a message since the last heartbeat round */
    void (*wake)(void *);
    void *arg;
};

struct srv_events {
    srv_events_config cfg;
    char *url;
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;
    srv_sub *subs;
    size_t nsubs;
    uint64_t dropped, events, deliveries, reconnects, holes_skipped;
    bool connected;
    atomic_bool stop;
    _Atomic int64_t watermark; /* public: -1 until ready */
    int wake_fd[2];
    /* hub thread only */
    srv_events_gap gap;
    bool placed;          /* the cursor has been placed (first connection) */
    bool ready;           /* subscribers accepted */
    int64_t ready_target; /* the newest id when the hub started */
    int64_t ready_deadline;
};

/* ---- messages ------------------------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

srv_msg *srv_msg_new(int64_t id, const char *kind, const char *status, const char *type,
                     const char *queue, const char *customer_id, const char *job_ids,
                     const char *json)
{
    srv_msg *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    atomic_init(&m->refs, 1);
    m->id = id;
    size_t cap = strlen(json) + strlen(kind ? kind : "message") + 64;
    m->frame = malloc(cap);
    m->kind = dup_or_null(kind);
    m->status = dup_or_null(status);
    m->type = dup_or_null(type);
    m->queue = dup_or_null(queue);
    m->customer_id = dup_or_null(customer_id);
    m->job_ids = dup_or_null(job_ids);
    if (m->frame == NULL) {
        srv_msg_release(m);
        return NULL;
    }
    int n = snprintf(m->frame, cap, "id: %lld\nevent: %s\ndata: %s\n\n", (long long)id,
                     kind ? kind : "message", json);
    m->len = n > 0 ? (size_t)n : 0;
    return m;
}

void srv_msg_release(srv_msg *m)
{
    if (m == NULL || atomic_fetch_sub(&m->refs, 1) != 1)
        return;
    free(m->frame);
    free(m->kind);
    free(m->status);
    free(m->type);
    free(m->queue);
    free(m->customer_id);
    free(m->job_ids);
    free(m);
}

const char *srv_msg_frame(const srv_msg *m, size_t *len)
{
    *len = m->len;
    return m->frame;
}

int64_t srv_msg_id(const srv_msg *m)
{
    return m->id;
}

const char *srv_msg_status(const srv_msg *m)
{
    return m->status;
}

/* ---- filters -------------------------------------------------------------------------- */

static bool eq_or_any(const char *want, const char *have)
{
    return want[0] == '\0' || (have != NULL && strcmp(want, have) == 0);
}

bool srv_events_filter_match(const srv_sub_filter *f, const char *type, const char *queue,
                             const char *status, const char *customer_id, const char *job_ids)
{
    if (!eq_or_any(f->type, type) || !eq_or_any(f->queue, queue) || !eq_or_any(f->status, status) ||
        !eq_or_any(f->tenant, customer_id))
        return false;
    if (f->job_id[0] != '\0') {
        /* job_ids is "{uuid,uuid,…}": a uuid is matched as a whole element. */
        size_t n = strlen(f->job_id);
        for (const char *p = job_ids ? strstr(job_ids, f->job_id) : NULL; p != NULL;
             p = strstr(p + 1, f->job_id))
            if ((p[-1] == '{' || p[-1] == ',') && (p[n] == '}' || p[n] == ','))
                return true;
        return false;
    }
    return true;
}

/* ---- subscribers ---------------------------------------------------------------------- */

/* Releases what is queued and the ring itself. Caller holds s->mu. A dropped subscriber's
 * backlog goes at once: its client may never read it, and resumes by id anyway. */
static void sub_clear_locked(srv_sub *s)
{
    for (int i = 0; i < s->qlen; i++)
        srv_msg_release(s->q[(s->qhead + i) % s->qcap]);
    free(s->q);
    s->q = NULL;
    s->qcap = s->qlen = s->qhead = 0;
}

int srv_events_subscribe(srv_events *ev, const srv_sub_filter *f, void (*wake)(void *), void *arg,
                         srv_sub **out, int64_t *watermark)
{
    srv_sub *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return SP_E_NOMEM;
    pthread_mutex_init(&s->mu, NULL);
    s->f = *f;
    s->qmax = ev->cfg.queue_events;
    s->wake = wake;
    s->arg = arg;
    pthread_mutex_lock(&ev->mu);
    bool full = ev->nsubs >= (size_t)ev->cfg.max_subscribers;
    if (full || atomic_load(&ev->stop) || atomic_load(&ev->watermark) < 0) {
        /* Full, shutting down, or the hub has not read the log yet. */
        pthread_mutex_unlock(&ev->mu);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return full ? SP_E_RANGE : SP_E_CONN;
    }
    s->next = ev->subs;
    if (ev->subs)
        ev->subs->prev = s;
    ev->subs = s;
    ev->nsubs++;
    /* Read under ev->mu: the hub queues a message to subscribers and advances the
     * watermark under the same lock, so nothing falls between the two. */
    *watermark = atomic_load(&ev->watermark);
    pthread_mutex_unlock(&ev->mu);
    *out = s;
    return 0;
}

void srv_events_unsubscribe(srv_events *ev, srv_sub *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&ev->mu);
    if (s->prev)
        s->prev->next = s->next;
    else
        ev->subs = s->next;
    if (s->next)
        s->next->prev = s->prev;
    ev->nsubs--;
    pthread_mutex_unlock(&ev->mu);
    sub_clear_locked(s); /* no other thread can reach s any more */
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* Queues m for s; false when the queue is full. Caller holds s->mu. The ring starts small
 * and doubles up to qmax, so an idle subscriber costs a few pointers. */
static bool sub_push(srv_sub *s, srv_msg *m)
{
    if (s->qlen == s->qcap) {
        if (s->qcap >= s->qmax)
            return false;
        int ncap = s->qcap ? s->qcap * 2 : 4;
        if (ncap > s->qmax)
            ncap = s->qmax;
        srv_msg **nq = malloc((size_t)ncap * sizeof(*nq));
        if (nq == NULL)
            return false;
        for (int i = 0; i < s->qlen; i++)
            nq[i] = s->q[(s->qhead + i) % s->qcap];
        free(s->q);
        s->q = nq;
        s->qcap = ncap;
        s->qhead = 0;
    }
    atomic_fetch_add(&m->refs, 1);
    s->q[(s->qhead + s->qlen) % s->qcap] = m;
    s->qlen++;
    return true;
}

static void sub_wake_locked(srv_sub *s)
{
    if (s->sleeping) {
        s->sleeping = false;
        s->wake(s->arg);
    }
}

srv_sub_state srv_sub_pop(srv_sub *s, srv_msg **msg, void (*before_sleep)(void *), void *arg)
{
    srv_sub_state st;
    pthread_mutex_lock(&s->mu);
    if (s->qlen > 0) {
        *msg = s->q[s->qhead];
        s->qhead = (s->qhead + 1) % s->qcap;
        s->qlen--;
        st = SRV_SUB_MSG;
        if (s->qlen == 0 && s->qcap > 64 && !s->ending) {
            /* A burst is over: give the grown ring back (it doubles again on demand). */
            free(s->q);
            s->q = NULL;
            s->qcap = 0;
            s->qhead = 0;
        }
    } else if (s->ending) {
        st = SRV_SUB_END;
    } else if (s->heartbeat_due) {
        s->heartbeat_due = false;
        st = SRV_SUB_HEARTBEAT;
    } else {
        if (before_sleep != NULL) {
            s->sleeping = true;
            before_sleep(arg);
        }
        st = SRV_SUB_EMPTY;
    }
    pthread_mutex_unlock(&s->mu);
    return st;
}

bool srv_sub_ending(srv_sub *s)
{
    pthread_mutex_lock(&s->mu);
    bool e = s->ending;
    pthread_mutex_unlock(&s->mu);
    return e;
}

bool srv_sub_dropped(srv_sub *s)
{
    pthread_mutex_lock(&s->mu);
    bool d = s->dropped;
    pthread_mutex_unlock(&s->mu);
    return d;
}

const srv_sub_filter *srv_sub_get_filter(const srv_sub *s)
{
    return &s->f;
}

/* Queues one message to every matching subscriber and advances the watermark. */
static void publish(srv_events *ev, srv_msg *m)
{
    uint64_t n = 0;
    pthread_mutex_lock(&ev->mu);
    for (srv_sub *s = ev->subs; s != NULL; s = s->next) {
        if (!srv_events_filter_match(&s->f, m->type, m->queue, m->status, m->customer_id,
                                     m->job_ids))
            continue;
        pthread_mutex_lock(&s->mu);
        if (!s->ending) {
            if (sub_push(s, m)) {
                n++;
                s->active = true;
            } else {
                /* Full: the client is not keeping up. End its stream rather than let
                 * memory grow; it resumes elsewhere (or here) with its Last-Event-ID. */
                s->ending = true;
                s->dropped = true;
                ev->dropped++;
                sub_clear_locked(s);
            }
            sub_wake_locked(s);
        }
        pthread_mutex_unlock(&s->mu);
    }
    ev->events++;
    ev->deliveries += n;
    atomic_store(&ev->watermark, m->id);
    pthread_mutex_unlock(&ev->mu);
}

/* Marks idle subscribers for a heartbeat (end: marks every subscriber ending) and wakes the
 * sleeping ones. A subscriber that got a message since the last round is not idle. */
static void heartbeat_all(srv_events *ev, bool end)
{
    pthread_mutex_lock(&ev->mu);
    for (srv_sub *s = ev->subs; s != NULL; s = s->next) {
        pthread_mutex_lock(&s->mu);
        if (end) {
            s->ending = true;
            sub_wake_locked(s);
        } else if (s->active) {
            s->active = false;
        } else {
            s->heartbeat_due = true;
            sub_wake_locked(s);
        }
        pthread_mutex_unlock(&s->mu);
    }
    pthread_mutex_unlock(&ev->mu);
}

size_t srv_events_subscriber_count(srv_events *ev)
{
    pthread_mutex_lock(&ev->mu);
    size_t n = ev->nsubs;
    pthread_mutex_unlock(&ev->mu);
    return n;
}

uint64_t srv_events_dropped_count(srv_events *ev)
{
    pthread_mutex_lock(&ev->mu);
    uint64_t n = ev->dropped;
    pthread_mutex_unlock(&ev->mu);
    return n;
}

int64_t srv_events_watermark(srv_events *ev)
{
    return atomic_load(&ev->watermark);
}

void srv_events_get_stats(srv_events *ev, srv_events_stats *out)
{
    pthread_mutex_lock(&ev->mu);
    out->subscribers = ev->nsubs;
    out->dropped = ev->dropped;
    out->events = ev->events;
    out->deliveries = ev->deliveries;
    out->holes_skipped = ev->holes_skipped;
    out->reconnects = ev->reconnects;
    out->connected = ev->connected;
    out->watermark = atomic_load(&ev->watermark);
    pthread_mutex_unlock(&ev->mu);
}

int srv_events_replay_page(const srv_events *ev)
{
    return ev->cfg.replay_page;
}

/* ---- the gap-free cursor -------------------------------------------------------------- */

void srv_events_gap_init(srv_events_gap *g, int64_t watermark)
{
    memset(g, 0, sizeof(*g));
    g->watermark = watermark;
    g->read_max = g->prev_read_max = g->settled = watermark;
}

void srv_events_gap_begin_read(srv_events_gap *g, int64_t read_max)
{
    g->prev_read_max = g->read_max;
    g->read_max = read_max;
}

srv_events_gap_verdict srv_events_gap_check(srv_events_gap *g, int64_t id, uint64_t xmin)
{
    if (id <= g->watermark + 1) {
        g->hole = 0;
        return SRV_GAP_DELIVER;
    }
    g->blocked_at = id;
    if (g->mark != 0 && xmin >= g->mark) {
        /* Every transaction below the mark has ended: what is still missing up to its
         * cover will never come. */
        if (g->mark_cover > g->settled)
            g->settled = g->mark_cover;
        g->mark = 0;
    }
    if (id - 1 <= g->settled) {
        g->skipped += (uint64_t)(id - g->watermark - 1);
        g->hole = 0;
        return SRV_GAP_DELIVER;
    }
    if (g->hole != g->watermark + 1) {
        /* A new hole. A transaction that took the missing id asked for it before the
         * transaction of `id` did; it may still be running, or have rolled back. Most
         * holes are a commit a moment late and fill by the next read. */
        g->hole = g->watermark + 1;
        g->seen = 1;
        return SRV_GAP_WAIT;
    }
    g->seen++;
    if (g->mark != 0)
        return SRV_GAP_WAIT; /* a pending mark: wait for it (and then maybe another) */
    /* Still missing: take a mark. It covers the ids up to the previous read's highest (at
     * least the hole and the row above it): their writers took their transaction ids at
     * the latest a moment after their event ids (spool's writers take theirs before), and
     * a whole read has passed since. */
    g->mark_cover = g->prev_read_max;
    return SRV_GAP_MARK;
}

void srv_events_gap_set_mark(srv_events_gap *g, uint64_t mark)
{
    if (g->hole != 0)
        g->mark = mark;
}

void srv_events_gap_delivered(srv_events_gap *g, int64_t id)
{
    if (id > g->watermark)
        g->watermark = id;
    g->hole = 0;
}

int srv_events_gap_read_size(const srv_events_gap *g, int page)
{
    if (g->hole == 0 || g->hole != g->watermark + 1 || g->blocked_at <= g->watermark)
        return page;
    int64_t n = g->blocked_at - g->watermark;
    return n < page ? (int)n : page;
}

/* ---- the hub thread ------------------------------------------------------------------- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void log_pq_error(const char *event, PGconn *c)
{
    char q[256];
    sp_log_write(SP_LOG_WARN, "events", event, "message=%s",
                 sp_log_quote(PQerrorMessage(c), q, sizeof q));
}

static void set_connected(srv_events *ev, bool up)
{
    pthread_mutex_lock(&ev->mu);
    if (up && !ev->connected && ev->placed)
        ev->reconnects++;
    ev->connected = up;
    pthread_mutex_unlock(&ev->mu);
}

/* Places the cursor on the first connection: HUB_START_LOOKBACK ids before the newest
 * event (the log's oldest at most), so that the first reads settle the recent past. */
static bool hub_place(srv_events *ev, PGconn *c)
{
    PGresult *r = PQexecParams(c, "SELECT oldest, newest FROM spool.events_bounds()", 0, NULL, NULL,
                               NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    if (!ok) {
        log_pq_error("read_failed", c);
        PQclear(r);
        return false;
    }
    int64_t start = 0, newest = 0;
    if (!PQgetisnull(r, 0, 1)) {
        int64_t oldest = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        newest = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
        start = newest - HUB_START_LOOKBACK;
        if (start < oldest - 1)
            start = oldest - 1;
        if (start < 0)
            start = 0;
    }
    PQclear(r);
    srv_events_gap_init(&ev->gap, start);
    ev->ready_target = newest;
    ev->ready_deadline = mono_ms() + HUB_READY_WAIT_MS;
    ev->placed = true;
    return true;
}

/* Prepares the read that follows every notification, once per connection: run as an
 * unnamed statement, PostgreSQL parsed and planned it (with the inlined bodies of
 * events_after and events_message) on every read, ~0.6 ms against ~0.06 ms, which under a
 * submit load made this connection cost a third as much as the submits. again: drop the
 * old one first (a read failed: the functions may have been replaced by a migration). */
static bool hub_prepare(PGconn *c, bool again)
{
    if (again)
        PQclear(PQexecParams(c, "DEALLOCATE " HUB_READ_STMT, 0, NULL, NULL, NULL, NULL, 0));
    PGresult *r = PQprepare(c, HUB_READ_STMT, HUB_READ_SQL, 2, NULL);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok;
}

static PGconn *hub_connect(srv_events *ev)
{
    char timeout[16];
    snprintf(timeout, sizeof timeout, "%d", ev->cfg.connect_timeout_s);
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {ev->url, timeout, "spoold-events", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        if (c != NULL)
            log_pq_error("connect_failed", c);
        PQfinish(c);
        return NULL;
    }
    PGresult *r = PQexecParams(c, "LISTEN spool_events", 0, NULL, NULL, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (ok) {
        /* The hole marks are this connection's only writes: nothing waits on their
         * durability. */
        r = PQexecParams(c, "SELECT set_config('synchronous_commit', 'off', false)", 0, NULL, NULL,
                         NULL, NULL, 0);
        ok = PQresultStatus(r) == PGRES_TUPLES_OK;
        PQclear(r);
    }
    if (ok)
        ok = hub_prepare(c, false);
    if (!ok)
        log_pq_error("listen_failed", c);
    if (ok && !ev->placed)
        ok = hub_place(ev, c);
    if (!ok) {
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* Once the cursor has caught up with the log as it was at start (or the wait is over),
 * the public watermark appears and subscribers are accepted. */
static void hub_check_ready(srv_events *ev)
{
    if (ev->ready || !ev->placed)
        return;
    if (ev->gap.watermark < ev->ready_target && mono_ms() < ev->ready_deadline)
        return;
    if (ev->gap.watermark < ev->ready_target)
        sp_log_write(SP_LOG_WARN, "events", "start_hole", "watermark=%lld newest=%lld",
                     (long long)ev->gap.watermark, (long long)ev->ready_target);
    pthread_mutex_lock(&ev->mu);
    atomic_store(&ev->watermark, ev->gap.watermark);
    pthread_mutex_unlock(&ev->mu);
    ev->ready = true;
}

/* One read of the rows after the cursor, published in order up to the first hole that must
 * wait. Returns the number of rows published (or passed before ready), -1 when the
 * connection is lost. *hole: stopped at a hole; *more: a full page came back, read again. */
static int hub_read(srv_events *ev, PGconn *c, bool *hole, bool *more)
{
    *hole = false;
    *more = false;
    char after[32], lim[16];
    int want = srv_events_gap_read_size(&ev->gap, ev->cfg.read_page);
    snprintf(after, sizeof after, "%lld", (long long)ev->gap.watermark);
    snprintf(lim, sizeof lim, "%d", want);
    const char *params[] = {after, lim};
    PGresult *r = PQexecPrepared(c, HUB_READ_STMT, 2, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        log_pq_error("read_failed", c);
        PQclear(r);
        if (PQstatus(c) != CONNECTION_OK)
            return -1;
        if (!hub_prepare(c, true))
            log_pq_error("read_failed", c); /* tried again on the next read */
        return 0;
    }
    int published = 0, rows = PQntuples(r);
    bool need_mark = false;
    if (rows > 0)
        srv_events_gap_begin_read(&ev->gap, strtoll(PQgetvalue(r, rows - 1, 0), NULL, 10));
    for (int i = 0; i < rows; i++) {
        int64_t id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        uint64_t xmin = strtoull(PQgetvalue(r, i, 8), NULL, 10);
        int64_t before = ev->gap.watermark;
        uint64_t skipped = ev->gap.skipped;
        srv_events_gap_verdict v = srv_events_gap_check(&ev->gap, id, xmin);
        if (v != SRV_GAP_DELIVER) {
            *hole = true;
            need_mark = v == SRV_GAP_MARK;
            break;
        }
        if (ev->gap.skipped != skipped) {
            pthread_mutex_lock(&ev->mu);
            ev->holes_skipped = ev->gap.skipped;
            pthread_mutex_unlock(&ev->mu);
            sp_log_write(SP_LOG_DEBUG, "events", "hole_skipped", "from=%lld to=%lld",
                         (long long)(before + 1), (long long)(id - 1));
        }
        if (ev->ready) {
            const char *f[8];
            for (int k = 1; k < 8; k++)
                f[k] = PQgetisnull(r, i, k) ? NULL : PQgetvalue(r, i, k);
            srv_msg *m = srv_msg_new(id, f[1], f[2], f[3], f[4], f[5], f[6], f[7]);
            if (m == NULL) {
                /* Out of memory: stop here; the next read starts again at this row. */
                sp_log_write(SP_LOG_ERROR, "events", "out_of_memory", "id=%lld", (long long)id);
                break;
            }
            int64_t n = 1; /* jobs in the row */
            if (f[6] != NULL)
                for (const char *p = f[6]; *p; p++)
                    n += *p == ',';
            srv_metrics_event(f[1], f[3], n);
            publish(ev, m);
            srv_msg_release(m);
        }
        srv_events_gap_delivered(&ev->gap, id);
        published++;
    }
    *more = !*hole && rows == want && published == rows;
    PQclear(r);
    if (need_mark) {
        r = PQexecParams(c, "SELECT spool.events_hole_mark()", 0, NULL, NULL, NULL, NULL, 0);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
            srv_events_gap_set_mark(&ev->gap, strtoull(PQgetvalue(r, 0, 0), NULL, 10));
        else
            log_pq_error("read_failed", c); /* asked again on the next read */
        PQclear(r);
        if (PQstatus(c) != CONNECTION_OK)
            return -1;
    }
    return published;
}

static void *hub_main(void *arg)
{
    srv_events *ev = arg;
    PGconn *c = NULL;
    int backoff_ms = 0, hole_reads = 0;
    int64_t next_heartbeat = mono_ms() + ev->cfg.heartbeat_ms;
    int64_t next_read = 0, last_read = 0;
    while (!atomic_load(&ev->stop)) {
        if (c == NULL || PQstatus(c) != CONNECTION_OK) {
            if (c != NULL) {
                sp_log_write(SP_LOG_WARN, "events", "listen_lost", "watermark=%lld",
                             (long long)ev->gap.watermark);
                set_connected(ev, false);
            }
            PQfinish(c);
            c = hub_connect(ev);
            if (c == NULL) {
                backoff_ms = backoff_ms ? backoff_ms * 2 : HUB_BACKOFF_MIN_MS;
                if (backoff_ms > HUB_BACKOFF_MAX_MS)
                    backoff_ms = HUB_BACKOFF_MAX_MS;
                sp_log_write(SP_LOG_WARN, "events", "listen_retry", "retry_in_ms=%d", backoff_ms);
                struct pollfd pw = {.fd = ev->wake_fd[0], .events = POLLIN};
                poll(&pw, 1, backoff_ms);
                continue;
            }
            set_connected(ev, true);
            if (backoff_ms)
                sp_log_write(SP_LOG_INFO, "events", "listen_restored", "watermark=%lld",
                             (long long)ev->gap.watermark);
            backoff_ms = 0;
            next_read = 0; /* catch up at once: notifications were missed meanwhile */
        }
        int64_t now = mono_ms();
        if (now >= next_heartbeat) {
            heartbeat_all(ev, false);
            next_heartbeat = now + ev->cfg.heartbeat_ms;
        }
        if (now >= next_read) {
            bool hole = false, more = false;
            int n, total = 0;
            last_read = now;
            /* Drain: full pages mean more rows are waiting. */
            while ((n = hub_read(ev, c, &hole, &more)) >= 0) {
                total += n;
                if (!more || atomic_load(&ev->stop))
                    break;
            }
            if (n < 0)
                continue;
            hub_check_ready(ev);
            int wait;
            if (hole) {
                /* 2, 2, 2, 4, 8, 16, 20, 20 ... ms while no row goes out */
                if (total > 0)
                    hole_reads = 0;
                if (hole_reads < 16)
                    hole_reads++;
                wait = hole_reads <= 3 ? 2 : 2 << (hole_reads - 3);
                if (wait > HUB_HOLE_WAIT_MAX_MS)
                    wait = HUB_HOLE_WAIT_MAX_MS;
            } else {
                hole_reads = 0;
                /* Rows can commit just after a notification was coalesced into another's: a
                 * quick follow-up read keeps delivery fast without a busy loop. */
                wait = total > 0 ? HUB_MIN_READ_GAP_MS : ev->cfg.poll_ms;
            }
            if (!ev->ready && wait > 50)
                wait = 50;
            next_read = mono_ms() + wait;
        }
        int timeout = (int)(next_read - mono_ms());
        int64_t hb = next_heartbeat - mono_ms();
        if (hb < timeout)
            timeout = (int)hb;
        if (timeout < 0)
            timeout = 0;
        struct pollfd pfd[2] = {{.fd = PQsocket(c), .events = POLLIN},
                                {.fd = ev->wake_fd[0], .events = POLLIN}};
        if (poll(pfd, 2, timeout) > 0 && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            if (PQconsumeInput(c) == 0)
                continue; /* connection lost: reconnect above */
            PGnotify *nt;
            bool any = false;
            while ((nt = PQnotifies(c)) != NULL) {
                any = true;
                PQfreemem(nt);
            }
            /* A notification means "read soon", not "read now". */
            if (any && next_read > last_read + HUB_MIN_READ_GAP_MS)
                next_read = last_read + HUB_MIN_READ_GAP_MS;
        }
    }
    PQfinish(c);
    set_connected(ev, false);
    return NULL;
}

static int clamp_or(int v, int dflt, int lo, int hi)
{
    if (v <= 0)
        return dflt;
    return v < lo ? lo : (v > hi ? hi : v);
}

int srv_events_start(const srv_events_config *cfg, const char *url, srv_events **out)
{
    srv_events *ev = calloc(1, sizeof(*ev));
    if (ev == NULL)
        return SP_E_NOMEM;
    ev->cfg = *cfg;
    ev->cfg.queue_events = clamp_or(cfg->queue_events, HUB_QUEUE_DEFAULT, 1, 1 << 20);
    ev->cfg.heartbeat_ms = clamp_or(cfg->heartbeat_ms, HUB_HEARTBEAT_DEFAULT_MS, 100, 3600000);
    ev->cfg.max_subscribers = clamp_or(cfg->max_subscribers, HUB_MAX_SUBS_DEFAULT, 1, 10000000);
    ev->cfg.poll_ms = clamp_or(cfg->poll_ms, HUB_POLL_DEFAULT_MS, 5, 600000);
    ev->cfg.connect_timeout_s =
        clamp_or(cfg->connect_timeout_s, HUB_CONNECT_TIMEOUT_DEFAULT_S, 1, 3600);
    ev->cfg.read_page = clamp_or(cfg->read_page, HUB_READ_PAGE_DEFAULT, 1, HUB_PAGE_MAX);
    ev->cfg.replay_page = clamp_or(cfg->replay_page, HUB_REPLAY_PAGE_DEFAULT, 1, HUB_PAGE_MAX);
    ev->url = strdup(url);
    pthread_mutex_init(&ev->mu, NULL);
    atomic_init(&ev->watermark, -1);
    atomic_init(&ev->stop, false);
    if (ev->url == NULL || pipe(ev->wake_fd) != 0) {
        pthread_mutex_destroy(&ev->mu);
        free(ev->url);
        free(ev);
        return SP_E_NOMEM;
    }
    if (pthread_create(&ev->thread, NULL, hub_main, ev) != 0) {
        srv_events_free(ev);
        return SP_E_NOMEM;
    }
    ev->thread_started = true;
    *out = ev;
    return 0;
}

void srv_events_shutdown(srv_events *ev)
{
    if (ev == NULL)
        return;
    atomic_store(&ev->stop, true);
    ssize_t w = write(ev->wake_fd[1], "x", 1);
    (void)w;
    heartbeat_all(ev, true);
    if (ev->thread_started) {
        pthread_join(ev->thread, NULL);
        ev->thread_started = false;
    }
}

void srv_events_free(srv_events *ev)
{
    if (ev == NULL)
        return;
    srv_events_shutdown(ev);
    close(ev->wake_fd[0]);
    close(ev->wake_fd[1]);
    pthread_mutex_destroy(&ev->mu);
    free(ev->url);
    free(ev);
}

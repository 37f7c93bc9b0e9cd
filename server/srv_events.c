/*
 * srv_events: LISTEN, gap-free reads of the event log and in-memory fan-out (see
 * srv_events.h for the model).
 *
 * Locks: ev->mu guards the subscriber list and counters; each subscriber's own mutex guards
 * its queue and flags. Order: ev->mu, then a subscriber's mutex. The hub thread never holds
 * either across a database call.
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
    uint64_t dropped;
    atomic_bool stop;
    _Atomic int64_t watermark;
    int wake_fd[2];
    /* hole tracking (hub thread only) */
    int64_t hole_at; /* the missing id being waited on; 0 = none */
    int hole_obs;    /* reads that have seen it */
    uint64_t hole_ref_xmax;
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
        /* Full, shutting down, or the hub has not reached the database yet. */
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
    /* Read under ev->mu: the hub publishes a message to subscribers and advances the
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
    for (int i = 0; i < s->qlen; i++)
        srv_msg_release(s->q[(s->qhead + i) % s->qcap]);
    free(s->q);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* Queues m for s; false when the queue is full. Caller holds s->mu. */
static bool sub_push(srv_sub *s, srv_msg *m)
{
    if (s->qlen == s->qcap) {
        if (s->qcap >= s->qmax)
            return false;
        int ncap = s->qcap ? s->qcap * 2 : 8;
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

bool srv_sub_dropped(srv_sub *s)
{
    pthread_mutex_lock(&s->mu);
    bool d = s->dropped;
    pthread_mutex_unlock(&s->mu);
    return d;
}

/* Publishes one message to every matching subscriber and advances the watermark. */
static void publish(srv_events *ev, srv_msg *m)
{
    pthread_mutex_lock(&ev->mu);
    for (srv_sub *s = ev->subs; s != NULL; s = s->next) {
        if (!srv_events_filter_match(&s->f, m->type, m->queue, m->status, m->customer_id,
                                     m->job_ids))
            continue;
        pthread_mutex_lock(&s->mu);
        if (!s->ending) {
            if (!sub_push(s, m)) {
                s->ending = true;
                s->dropped = true;
                ev->dropped++;
            }
            sub_wake_locked(s);
        }
        pthread_mutex_unlock(&s->mu);
    }
    atomic_store(&ev->watermark, m->id);
    pthread_mutex_unlock(&ev->mu);
}

static void heartbeat_all(srv_events *ev, bool end)
{
    pthread_mutex_lock(&ev->mu);
    for (srv_sub *s = ev->subs; s != NULL; s = s->next) {
        pthread_mutex_lock(&s->mu);
        if (end)
            s->ending = true;
        else
            s->heartbeat_due = true;
        sub_wake_locked(s);
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

/* ---- the hub thread ------------------------------------------------------------------- */

#define HUB_MIN_READ_GAP_MS 5

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static PGconn *hub_connect(srv_events *ev)
{
    char timeout[16];
    snprintf(timeout, sizeof timeout, "%d", ev->cfg.connect_timeout_s);
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {ev->url, timeout, "spoold-events", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        PQfinish(c);
        return NULL;
    }
    PGresult *r = PQexec(c, "LISTEN spool_events");
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (ok && atomic_load(&ev->watermark) < 0) {
        /* First start: stream from the newest event on (replays come from the database). */
        r = PQexec(c, "SELECT coalesce(max(id), 0) FROM spool.event_log");
        ok = PQresultStatus(r) == PGRES_TUPLES_OK;
        if (ok)
            atomic_store(&ev->watermark, strtoll(PQgetvalue(r, 0, 0), NULL, 10));
        PQclear(r);
    }
    if (!ok) {
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* Reads and publishes what follows the watermark. Returns the number of rows published,
 * -1 on a connection error; *hole is set when delivery stopped at a hole. */
static int hub_read(srv_events *ev, PGconn *c, bool *hole)
{
    *hole = false;
    char after[32];
    snprintf(after, sizeof after, "%lld", (long long)atomic_load(&ev->watermark));
    const char *params[] = {after};
    PGresult *r = PQexecParams(c,
                               "SELECT id, kind, status, type, queue, customer_id, job_ids, msg,"
                               " snap_xmin, snap_xmax FROM spool.events_after($1::bigint, 1000)",
                               1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        char q[256];
        sp_log_write(SP_LOG_WARN, "events", "read_failed", "message=%s",
                     sp_log_quote(PQerrorMessage(c), q, sizeof q));
        PQclear(r);
        return PQstatus(c) == CONNECTION_OK ? 0 : -1;
    }
    int published = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        int64_t id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        int64_t w = atomic_load(&ev->watermark);
        if (id != w + 1) {
            uint64_t xmin = strtoull(PQgetvalue(r, i, 8), NULL, 10);
            uint64_t xmax = strtoull(PQgetvalue(r, i, 9), NULL, 10);
            if (ev->hole_at != w + 1) {
                ev->hole_at = w + 1;
                ev->hole_obs = 1;
                ev->hole_ref_xmax = 0;
            } else if (++ev->hole_obs == 2) {
                /* A snapshot taken after the hole was first seen: any transaction that
                 * could still fill it had its xid by then, so it is below this xmax. */
                ev->hole_ref_xmax = xmax;
            }
            if (ev->hole_obs < 3 || xmin < ev->hole_ref_xmax) {
                *hole = true;
                break;
            }
            sp_log_write(SP_LOG_DEBUG, "events", "hole_skipped", "from=%lld to=%lld",
                         (long long)(w + 1), (long long)(id - 1));
        }
        ev->hole_at = 0;
        const char *v[8];
        for (int k = 1; k < 8; k++)
            v[k] = PQgetisnull(r, i, k) ? NULL : PQgetvalue(r, i, k);
        srv_msg *m = srv_msg_new(id, v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
        if (m == NULL)
            break;
        int64_t n = 1;
        if (v[6] != NULL)
            for (const char *p = v[6]; *p; p++)
                n += *p == ',';
        srv_metrics_event(v[1], v[3], n);
        publish(ev, m);
        srv_msg_release(m);
        published++;
    }
    PQclear(r);
    return published;
}

static void *hub_main(void *arg)
{
    srv_events *ev = arg;
    PGconn *c = NULL;
    int backoff_ms = 0;
    int64_t next_heartbeat = mono_ms() + ev->cfg.heartbeat_ms;
    int64_t next_read = 0, last_read = 0;
    while (!atomic_load(&ev->stop)) {
        if (c == NULL || PQstatus(c) != CONNECTION_OK) {
            PQfinish(c);
            c = hub_connect(ev);
            if (c == NULL) {
                backoff_ms = backoff_ms ? (backoff_ms * 2 > 10000 ? 10000 : backoff_ms * 2) : 100;
                sp_log_write(SP_LOG_WARN, "events", "listen_failed", "retry_in_ms=%d", backoff_ms);
                struct pollfd pw = {.fd = ev->wake_fd[0], .events = POLLIN};
                poll(&pw, 1, backoff_ms);
                continue;
            }
            if (backoff_ms)
                sp_log_write(SP_LOG_INFO, "events", "listen_restored", "watermark=%lld",
                             (long long)atomic_load(&ev->watermark));
            backoff_ms = 0;
            next_read = 0; /* catch up at once */
        }
        int64_t now = mono_ms();
        if (now >= next_heartbeat) {
            heartbeat_all(ev, false);
            next_heartbeat = now + ev->cfg.heartbeat_ms;
        }
        if (now >= next_read) {
            bool hole = false;
            last_read = now;
            int n;
            /* Drain: read until a page comes back short of new rows. */
            while ((n = hub_read(ev, c, &hole)) > 0 && !hole)
                ;
            if (n < 0)
                continue;
            /* Rows can commit just after a notification was coalesced into another's; a
             * few quick follow-up reads keep delivery fast without a busy loop. */
            next_read = mono_ms() + (hole ? 2 : (n > 0 ? 5 : ev->cfg.poll_ms));
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
            /* A notification means "read soon", not "read now": under load they arrive for
             * nearly every commit, and one read every few milliseconds picks all of them up
             * for a fraction of the database time. */
            if (any && next_read > last_read + HUB_MIN_READ_GAP_MS)
                next_read = last_read + HUB_MIN_READ_GAP_MS;
        }
    }
    PQfinish(c);
    return NULL;
}

int srv_events_start(const srv_events_config *cfg, const char *url, srv_events **out)
{
    srv_events *ev = calloc(1, sizeof(*ev));
    if (ev == NULL)
        return SP_E_NOMEM;
    ev->cfg = *cfg;
    ev->url = strdup(url);
    pthread_mutex_init(&ev->mu, NULL);
    atomic_init(&ev->watermark, -1);
    if (ev->url == NULL || pipe(ev->wake_fd) != 0) {
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

/*
 * wrk_loop_int: what the two halves of the worker loop share (not for other modules).
 * wrk_loop.c runs the loop (timers, signals, connection, shutdown, creation); wrk_loop_jobs.c
 * does the work on jobs (claiming, finishing, reporting, heartbeats, progress, deadlines).
 *
 * Ownership: every claimed job is a wrk_rec on the held list (l->held) until its outcome has
 * been reported or dropped. A rec is in at most one queue at a time, linked through qnext:
 * a pool's queue (busy), the done queue (finished on a job thread, under done_mu) or one of
 * the loop's report lists (completions, failures). Releases are kept as (id, lease) pairs
 * because a job may be released while its thread still runs it. Loop thread only, except
 * wrk_loop_on_done (job threads).
 */
#ifndef WRK_LOOP_INT_H
#define WRK_LOOP_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "sp_log.h"
#include "wrk_caps.h"
#include "wrk_config.h"
#include "wrk_job.h"
#include "wrk_loop.h"
#include "wrk_output.h"
#include "wrk_pool.h"
#include "wrk_transport.h"

#define ABORT_WAIT_MS 5000              /* after a hard stop, how long threads get to return */
#define MAX_COMPLETION_BYTES (64 << 20) /* result text sent in one call, at most */
#define RECONNECT_BASE_MS 100

typedef struct {
    const char *name;
    const wrk_connector_ops *ops;
    void *state;
    wrk_connector_config view;
    int concurrency;
    int busy; /* recs queued on or running in its pool */
    wrk_pool *pool;
    bool maybe_work;
    bool last_all_inline;
    char *caps_json; /* the capabilities with services = [name] */
} wrk_svc;

typedef struct {
    char id[WRK_UUID_LEN];
    char lease[WRK_UUID_LEN];
    int attempt;
} wrk_release;

typedef struct {
    wrk_rec *head, *tail;
    int n;
} rec_list;

struct wrk_loop {
    const sp_config *cfg;
    const wrk_settings *s;
    wrk_svc svc[WRK_MAX_CONNECTORS];
    size_t nsvc;
    wrk_transport *tr;
    wrk_output *store;
    wrk_hardware hw;
    char *caps_json;
    char *metadata_json;

    wrk_rec held; /* sentinel of the held list */
    int nheld;

    pthread_mutex_t done_mu;
    rec_list done; /* from job threads */
    int wake_fd;   /* eventfd: the done queue became non-empty */
    int sig_fd;

    rec_list completions, failures;
    wrk_release *releases;
    int nreleases, cap_releases;

    bool connected;
    int reconnect_attempt;
    int64_t reconnect_at;
    bool draining, hard_stop;
    int signals;
    int64_t drain_deadline, abort_deadline;
    int64_t next_hb, next_poll, next_progress, next_maintain;
    unsigned rr;
    uint32_t rng;
};

/* ---- small helpers ----------------------------------------------------------------------- */

static inline void list_push(rec_list *q, wrk_rec *r)
{
    r->qnext = NULL;
    if (q->tail != NULL)
        q->tail->qnext = r;
    else
        q->head = r;
    q->tail = r;
    q->n++;
}

static inline wrk_rec *list_pop(rec_list *q)
{
    wrk_rec *r = q->head;
    if (r != NULL) {
        q->head = r->qnext;
        if (q->head == NULL)
            q->tail = NULL;
        r->qnext = NULL;
        q->n--;
    }
    return r;
}

static inline void hold(wrk_loop *l, wrk_rec *r)
{
    r->next = &l->held;
    r->prev = l->held.prev;
    l->held.prev->next = r;
    l->held.prev = r;
    l->nheld++;
}

static inline void unhold_free(wrk_loop *l, wrk_rec *r)
{
    r->prev->next = r->next;
    r->next->prev = r->prev;
    l->nheld--;
    wrk_rec_free(r);
}

static inline const char *q(const char *s, char *buf, size_t len)
{
    return sp_log_quote(s != NULL ? s : "", buf, len);
}

/* wrk_loop_jobs.c */
void wrk_loop_add_release(wrk_loop *l, const wrk_rec *r);
void wrk_loop_on_done(void *arg, wrk_rec *rec);
void wrk_loop_finish(wrk_loop *l, wrk_rec *r);
void wrk_loop_collect_done(wrk_loop *l);
wrk_rec *wrk_loop_find_rec(wrk_loop *l, const char *lease, const char *job_id);
void wrk_loop_mark_lease_lost(wrk_loop *l, wrk_rec *r, const char *why);
void wrk_loop_send_failures(wrk_loop *l);
void wrk_loop_send_releases(wrk_loop *l);
/* One round of complete-and-claim calls; true when there is more to do at once. */
bool wrk_loop_claim_round(wrk_loop *l);
void wrk_loop_heartbeat(wrk_loop *l);
void wrk_loop_send_progress(wrk_loop *l);
/* Stops jobs past their timeout; returns the earliest deadline still ahead. */
int64_t wrk_loop_check_deadlines(wrk_loop *l, int64_t now);

/* wrk_loop.c */
void wrk_loop_disconnect(wrk_loop *l, const char *what);

#endif

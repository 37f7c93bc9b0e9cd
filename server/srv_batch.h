/*
 * srv_batch: group commit for POST /v1/jobs.
 *
 * Concurrent single-job submits are gathered into one call of spool.api_submit_group — one
 * statement and one commit for the whole group — with the same answer for each request as
 * if it had been sent alone. If any request of a group is invalid, the group is re-run one
 * request at a time, so only the invalid one gets an error.
 *
 * Groups run on `lanes` threads of their own, each with a pooled connection while its group
 * runs, so that no HTTP thread waits on the database (and, with 2 or more lanes, a new
 * group starts while the previous one commits): the handler queues its item, suspends its
 * connection, and the item's done callback (on a lane thread, after the commit) resumes it.
 * A group costs the database nearly the same whatever its size, so a group waits for
 * company: while another group runs, until its oldest request has waited `gather_us`;
 * while none runs, only as long as requests keep arriving, each within `gather_us` / 4 of
 * the last (the burst of requests that follows a commit), and `gather_us` at most. A full
 * group starts at once.
 *
 * Bounds: at most `queue_max` requests wait (more are refused: the caller answers 503) and
 * a group holds at most `group_max`.
 * Threading: srv_batch_enqueue is thread-safe. An item belongs to the caller again when its
 * done callback runs (the callback may free it); until then the batcher holds it.
 */
#ifndef SRV_BATCH_H
#define SRV_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "srv_http.h"

typedef struct srv_batch srv_batch;
typedef struct srv_batch_item srv_batch_item;

struct srv_batch_item {
    /* in (borrowed until done runs) */
    const char *body;                 /* a JSON object */
    const char *key, *hash, *tenant;  /* NULL when absent */
    void (*done)(srv_batch_item *it); /* called once, on a lane thread, with the out fields set */
    void *arg;                        /* for done */
    /* out */
    int rc; /* 0, SP_E_DB (see sqlstate…), SP_E_CONN or SP_E_RANGE (pool), SP_E_NOMEM */
    bool created;
    char *json; /* owned by the item's owner once done runs: the job, on success */
    char sqlstate[6];
    char message[512];
    char detail[256];
    /* private */
    int64_t queued_us;
    srv_batch_item *next;
};

typedef struct {
    int lanes;     /* groups that may run at once (threads, one connection each) */
    int group_max; /* most requests in one group */
    int queue_max; /* most requests waiting for a group */
    int gather_us; /* how long a group may wait for company while another one runs */
} srv_batch_config;

/* Starts the lane threads; they take connections from srv->pool. */
SP_MUSTCHECK int srv_batch_new(srv_batch **out, srv_server *srv, const srv_batch_config *cfg);
/* Runs every request already queued, then stops the lanes; later enqueues are refused. */
void srv_batch_stop(srv_batch *b);
/* Stops (if not yet) and frees; NULL is fine. */
void srv_batch_free(srv_batch *b);

/* Queues it: 0, and it->done(it) runs later on a lane thread; or SP_E_RANGE (the queue is
 * full or the batcher is stopping), and done never runs. */
SP_MUSTCHECK int srv_batch_enqueue(srv_batch *b, srv_batch_item *it);

#endif

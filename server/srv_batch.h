/*
 * srv_batch: group commit for POST /v1/jobs.
 *
 * Concurrent single-job submits are gathered into one call of spool.api_submit_many — one
 * statement and one commit for the whole group — with the same answer for each request as
 * if it had been sent alone. A request never waits for a timer: the first request to find
 * no submit in progress runs at once with whatever is queued (leader/follower); requests
 * that arrive meanwhile form the next group. If any request of a group is invalid, the
 * group is re-run one request at a time, so only the invalid one gets an error.
 * Thread-safe; the caller's item lives on its stack until srv_batch_submit returns.
 */
#ifndef SRV_BATCH_H
#define SRV_BATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "srv_http.h"

typedef struct srv_batch_item {
    /* in (borrowed) */
    const char *body;                /* a JSON object */
    const char *key, *hash, *tenant; /* NULL when absent */
    /* out */
    int rc; /* 0, SP_E_DB (see sqlstate…), SP_E_CONN or SP_E_RANGE (pool) */
    bool created;
    char *json; /* owned: the job, on success */
    char sqlstate[6];
    char message[512];
    char detail[256];
    /* private */
    bool done;
    struct srv_batch_item *next;
} srv_batch_item;

/* Submits it (filling its out fields); blocks until its group has committed. */
void srv_batch_submit(srv_server *srv, srv_batch_item *it);

#endif

/*
 * srv_batch: group commit of single-job submits on lane threads (see srv_batch.h).
 *
 * Locking: one mutex guards the queue, the count of running groups and the stop flag;
 * lanes run their group and call the done callbacks without it. A lane that finds requests
 * queued waits (timed, see srv_batch.h for how long) unless the queue holds a full group.
 * Enqueue wakes a lane only when the queue was empty or has just filled a group: other
 * arrivals are picked up by the lane already gathering, on its timeout.
 */
#include "srv_batch.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sp_buf.h"
#include "sp_log.h"
#include "srv_pool.h"

typedef struct {
    srv_batch *b;
    pthread_t thread;
    bool started;
    srv_batch_item **group; /* group_max slots */
} batch_lane;

struct srv_batch {
    srv_server *srv;
    srv_batch_config cfg;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC */
    srv_batch_item *head, *tail;
    int queued;
    int64_t last_us; /* when the newest request was queued */
    int running;     /* groups between take and done */
    bool stopping;
    bool stopped; /* lanes joined */
    batch_lane *lanes;
};

static void set_error(srv_batch_item *it, int rc, sp_db *db)
{
    it->rc = rc;
    if (rc != SP_E_DB)
        return;
    const char *st = sp_db_err_sqlstate(db), *m = sp_db_err_message(db), *d = sp_db_err_detail(db);
    snprintf(it->sqlstate, sizeof it->sqlstate, "%s", st ? st : "");
    snprintf(it->message, sizeof it->message, "%s", m ? m : "");
    snprintf(it->detail, sizeof it->detail, "%s", d ? d : "");
}

/* One request alone, through spool.api_submit. */
static int run_one(sp_db *db, srv_batch_item *it)
{
    sp_db_res *res = NULL;
    const char *params[] = {it->body, it->key, it->key ? it->hash : NULL, it->tenant};
    int rc = sp_db_exec_params(
        db, "SELECT created, job::text FROM spool.api_submit($1::jsonb, $2, $3, $4)", 4, params,
        &res);
    if (rc != 0) {
        set_error(it, rc, db);
        return rc;
    }
    it->rc = 0;
    it->created = sp_db_res_value(res, 0, 0)[0] == 't';
    it->json = strdup(sp_db_res_value(res, 0, 1));
    if (it->json == NULL)
        it->rc = SP_E_NOMEM;
    sp_db_res_free(res);
    return 0;
}

/* Appends a PostgreSQL array element: NULL or a double-quoted, escaped string. */
static int array_elem(sp_buf *b, const char *v, bool first)
{
    int rc = first ? 0 : sp_buf_append(b, ",", 1);
    if (rc != 0 || v == NULL)
        return rc ? rc : sp_buf_appends(b, "NULL");
    rc = sp_buf_append(b, "\"", 1);
    for (const char *p = v; rc == 0 && *p; p++) {
        if (*p == '"' || *p == '\\')
            rc = sp_buf_append(b, "\\", 1);
        if (rc == 0)
            rc = sp_buf_append(b, p, 1);
    }
    return rc ? rc : sp_buf_append(b, "\"", 1);
}

/* A group of n > 1 through spool.api_submit_group. 0, or an error code for the group. The
 * key and tenant arrays are sent as NULL when no request of the group has one: the
 * function then takes its one-statement path. */
static int run_group(srv_server *srv, sp_db *db, srv_batch_item **items, int n)
{
    sp_buf *bodies = NULL, *keys = NULL, *hashes = NULL, *tenants = NULL;
    sp_db_res *res = NULL;
    size_t cap = (srv->max_body + 600) * (size_t)n + 64;
    bool any_key = false, any_tenant = false;
    for (int i = 0; i < n; i++) {
        any_key = any_key || items[i]->key != NULL;
        any_tenant = any_tenant || items[i]->tenant != NULL;
    }
    int rc = SP_E_NOMEM;
    if (sp_buf_new(&bodies, cap) != 0 || sp_buf_new(&keys, cap) != 0 ||
        sp_buf_new(&hashes, cap) != 0 || sp_buf_new(&tenants, cap) != 0)
        goto out;
    rc = sp_buf_append(bodies, "[", 1) | sp_buf_append(keys, "{", 1) |
         sp_buf_append(hashes, "{", 1) | sp_buf_append(tenants, "{", 1);
    for (int i = 0; rc == 0 && i < n; i++) {
        rc = (i ? sp_buf_append(bodies, ",", 1) : 0) | sp_buf_appends(bodies, items[i]->body);
        if (rc == 0 && any_key)
            rc = array_elem(keys, items[i]->key, i == 0) |
                 array_elem(hashes, items[i]->key ? items[i]->hash : NULL, i == 0);
        if (rc == 0 && any_tenant)
            rc = array_elem(tenants, items[i]->tenant, i == 0);
    }
    rc = rc | sp_buf_append(bodies, "]", 2) | sp_buf_append(keys, "}", 2) |
         sp_buf_append(hashes, "}", 2) | sp_buf_append(tenants, "}", 2);
    if (rc != 0) {
        rc = SP_E_NOMEM;
        goto out;
    }
    const char *params[] = {sp_buf_data(bodies), any_key ? sp_buf_data(keys) : NULL,
                            any_key ? sp_buf_data(hashes) : NULL,
                            any_tenant ? sp_buf_data(tenants) : NULL};
    rc = sp_db_exec_params(db,
                           "SELECT ord, created, job FROM spool.api_submit_group($1::jsonb,"
                           " $2::text[], $3::text[], $4::text[])",
                           4, params, &res);
    if (rc != 0)
        goto out;
    if (sp_db_res_nrows(res) != n) {
        rc = SP_E_DB;
        goto out;
    }
    for (int r = 0; r < n; r++) {
        int ord = atoi(sp_db_res_value(res, r, 0));
        if (ord < 1 || ord > n)
            continue;
        srv_batch_item *it = items[ord - 1];
        it->rc = 0;
        it->created = sp_db_res_value(res, r, 1)[0] == 't';
        it->json = strdup(sp_db_res_value(res, r, 2));
        if (it->json == NULL)
            it->rc = SP_E_NOMEM;
    }
out:
    sp_db_res_free(res);
    sp_buf_free(bodies);
    sp_buf_free(keys);
    sp_buf_free(hashes);
    sp_buf_free(tenants);
    return rc;
}

/* Runs a group to its commit (or failure), filling every item's out fields. */
static void run(srv_server *srv, srv_batch_item **items, int n)
{
    int64_t t0 = srv_now_us();
    sp_db *db = NULL;
    int rc = srv_pool_get(srv->pool, &db);
    if (rc != 0) {
        for (int i = 0; i < n; i++)
            items[i]->rc = rc;
        return;
    }
    if (n == 1) {
        rc = run_one(db, items[0]);
    } else {
        rc = run_group(srv, db, items, n);
        if (rc == SP_E_DB || rc == SP_E_NOMEM) {
            /* Some request of the group is invalid (nothing was written): one by one. */
            for (int i = 0; i < n && rc != SP_E_CONN; i++) {
                free(items[i]->json);
                items[i]->json = NULL;
                rc = run_one(db, items[i]);
            }
        }
        if (rc == SP_E_CONN)
            for (int i = 0; i < n; i++)
                if (items[i]->json == NULL)
                    items[i]->rc = SP_E_CONN;
    }
    srv_pool_put(srv->pool, db, rc == SP_E_CONN);
    sp_log_write(SP_LOG_DEBUG, "batch", "group", "size=%d duration_us=%lld", n,
                 (long long)(srv_now_us() - t0));
}

/* The monotonic time point us microseconds from the epoch of srv_now_us. */
static struct timespec at_us(int64_t us)
{
    struct timespec ts = {.tv_sec = (time_t)(us / 1000000), .tv_nsec = (long)(us % 1000000) * 1000};
    return ts;
}

static void *lane_main(void *arg)
{
    batch_lane *lane = arg;
    srv_batch *b = lane->b;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        if (b->head == NULL) {
            if (b->stopping)
                break;
            pthread_cond_wait(&b->cv, &b->mu);
            continue;
        }
        if (b->queued < b->cfg.group_max && !b->stopping) {
            /* While another group runs, wait for company until the oldest request has
             * waited gather_us. With none running, wait only while requests keep coming
             * (each within a quarter of gather_us of the last): after a commit, its
             * clients' next requests arrive in a burst, and a group started on the first
             * of them would commit one job for the cost of many. */
            int64_t due = b->head->queued_us + b->cfg.gather_us;
            if (b->running == 0 && b->last_us + b->cfg.gather_us / 4 < due)
                due = b->last_us + b->cfg.gather_us / 4;
            if (srv_now_us() < due) {
                struct timespec until = at_us(due);
                pthread_cond_timedwait(&b->cv, &b->mu, &until);
                continue;
            }
        }
        int n = 0;
        while (b->head != NULL && n < b->cfg.group_max) {
            lane->group[n++] = b->head;
            b->head = b->head->next;
        }
        if (b->head == NULL)
            b->tail = NULL;
        b->queued -= n;
        b->running++;
        pthread_mutex_unlock(&b->mu);

        run(b->srv, lane->group, n);
        /* done may free the item: nothing here touches it afterwards. */
        for (int i = 0; i < n; i++)
            lane->group[i]->done(lane->group[i]);

        pthread_mutex_lock(&b->mu);
        b->running--;
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

int srv_batch_new(srv_batch **out, srv_server *srv, const srv_batch_config *cfg)
{
    if (cfg->lanes < 1 || cfg->group_max < 1 || cfg->queue_max < 1 || cfg->gather_us < 0)
        return SP_E_INVAL;
    srv_batch *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return SP_E_NOMEM;
    b->srv = srv;
    b->cfg = *cfg;
    pthread_mutex_init(&b->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->cv, &ca);
    pthread_condattr_destroy(&ca);
    b->lanes = calloc((size_t)cfg->lanes, sizeof(*b->lanes));
    if (b->lanes == NULL) {
        srv_batch_free(b);
        return SP_E_NOMEM;
    }
    for (int i = 0; i < cfg->lanes; i++) {
        batch_lane *lane = &b->lanes[i];
        lane->b = b;
        lane->group = calloc((size_t)cfg->group_max, sizeof(*lane->group));
        if (lane->group == NULL || pthread_create(&lane->thread, NULL, lane_main, lane) != 0) {
            srv_batch_free(b);
            return SP_E_NOMEM;
        }
        lane->started = true;
    }
    *out = b;
    return 0;
}

void srv_batch_stop(srv_batch *b)
{
    if (b == NULL || b->stopped)
        return;
    pthread_mutex_lock(&b->mu);
    b->stopping = true;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    for (int i = 0; b->lanes != NULL && i < b->cfg.lanes; i++)
        if (b->lanes[i].started)
            pthread_join(b->lanes[i].thread, NULL);
    b->stopped = true;
}

void srv_batch_free(srv_batch *b)
{
    if (b == NULL)
        return;
    srv_batch_stop(b);
    for (int i = 0; b->lanes != NULL && i < b->cfg.lanes; i++)
        free(b->lanes[i].group);
    free(b->lanes);
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

int srv_batch_enqueue(srv_batch *b, srv_batch_item *it)
{
    it->next = NULL;
    it->json = NULL;
    it->rc = 0;
    it->queued_us = srv_now_us();
    pthread_mutex_lock(&b->mu);
    if (b->stopping || b->queued >= b->cfg.queue_max) {
        pthread_mutex_unlock(&b->mu);
        return SP_E_RANGE;
    }
    bool was_empty = b->head == NULL;
    if (b->tail)
        b->tail->next = it;
    else
        b->head = it;
    b->tail = it;
    b->queued++;
    b->last_us = it->queued_us;
    if (was_empty || b->queued == b->cfg.group_max)
        pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
    return 0;
}

/*
 * srv_batch: leader/follower group commit of single-job submits (see srv_batch.h).
 *
 * Locking: one mutex guards the queue and the leader count; leaders run their group
 * without it. One group runs at a time (measured: two concurrent leaders split the load
 * into smaller groups and lost throughput); under load the leader pauses BATCH_GATHER_NS
 * so that requests already on their way join its group.
 */
#include "srv_batch.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sp_buf.h"
#include "sp_log.h"
#include "srv_pool.h"

#define BATCH_MAX 256
#define BATCH_LEADERS 1
#define BATCH_GATHER_NS 300000L

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static srv_batch_item *head, *tail;
static int leaders;
static int last_group;
static pthread_cond_t gather_cv = PTHREAD_COND_INITIALIZER; /* never signalled: a timed pause */

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

/* A group of n > 1 through spool.api_submit_many. 0, or an error code for the group. */
static int run_group(srv_server *srv, sp_db *db, srv_batch_item **items, int n)
{
    sp_buf *bodies = NULL, *keys = NULL, *hashes = NULL, *tenants = NULL;
    sp_db_res *res = NULL;
    size_t cap = (srv->max_body + 600) * (size_t)n + 64;
    int rc = SP_E_NOMEM;
    if (sp_buf_new(&bodies, cap) != 0 || sp_buf_new(&keys, cap) != 0 ||
        sp_buf_new(&hashes, cap) != 0 || sp_buf_new(&tenants, cap) != 0)
        goto out;
    rc = sp_buf_append(bodies, "[", 1) | sp_buf_append(keys, "{", 1) |
         sp_buf_append(hashes, "{", 1) | sp_buf_append(tenants, "{", 1);
    for (int i = 0; rc == 0 && i < n; i++) {
        rc = (i ? sp_buf_append(bodies, ",", 1) : 0) | sp_buf_appends(bodies, items[i]->body) |
             array_elem(keys, items[i]->key, i == 0) |
             array_elem(hashes, items[i]->key ? items[i]->hash : NULL, i == 0) |
             array_elem(tenants, items[i]->tenant, i == 0);
    }
    rc = rc | sp_buf_append(bodies, "]", 2) | sp_buf_append(keys, "}", 2) |
         sp_buf_append(hashes, "}", 2) | sp_buf_append(tenants, "}", 2);
    if (rc != 0) {
        rc = SP_E_NOMEM;
        goto out;
    }
    const char *params[] = {sp_buf_data(bodies), sp_buf_data(keys), sp_buf_data(hashes),
                            sp_buf_data(tenants)};
    rc = sp_db_exec_params(db,
                           "SELECT ord, created, job::text FROM spool.api_submit_many($1::jsonb,"
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

static void run(srv_server *srv, srv_batch_item **items, int n)
{
    sp_log_write(SP_LOG_DEBUG, "batch", "group", "size=%d", n);
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
            for (int i = 0; i < n && rc != SP_E_CONN; i++)
                rc = run_one(db, items[i]);
        }
        if (rc == SP_E_CONN)
            for (int i = 0; i < n; i++)
                if (items[i]->json == NULL)
                    items[i]->rc = SP_E_CONN;
    }
    srv_pool_put(srv->pool, db, rc == SP_E_CONN);
}

void srv_batch_submit(srv_server *srv, srv_batch_item *it)
{
    it->done = false;
    it->next = NULL;
    it->json = NULL;
    pthread_mutex_lock(&mu);
    if (tail)
        tail->next = it;
    else
        head = it;
    tail = it;
    while (!it->done) {
        if (leaders < BATCH_LEADERS && head != NULL) {
            if (last_group > 1) {
                /* Under load (the last group had company), give the requests already on
                 * their way a moment to join: a bigger group costs one commit all the same. */
                struct timespec until;
                clock_gettime(CLOCK_REALTIME, &until);
                until.tv_nsec += BATCH_GATHER_NS;
                if (until.tv_nsec >= 1000000000L) {
                    until.tv_sec++;
                    until.tv_nsec -= 1000000000L;
                }
                leaders++; /* hold the leadership while gathering */
                pthread_cond_timedwait(&gather_cv, &mu, &until);
                leaders--;
            }
            srv_batch_item *group[BATCH_MAX];
            int n = 0;
            while (head != NULL && n < BATCH_MAX) {
                group[n++] = head;
                head = head->next;
            }
            if (head == NULL)
                tail = NULL;
            leaders++;
            last_group = n;
            pthread_mutex_unlock(&mu);
            run(srv, group, n);
            pthread_mutex_lock(&mu);
            leaders--;
            for (int i = 0; i < n; i++)
                group[i]->done = true;
            pthread_cond_broadcast(&cv);
        } else {
            pthread_cond_wait(&cv, &mu);
        }
    }
    pthread_mutex_unlock(&mu);
}

/*
 * srv_pool: bounded database connection pool (see srv_pool.h).
 *
 * Locking: one mutex guards the free list and the backoff state; connecting happens outside
 * it, on the handle the caller already owns.
 */
#include "srv_pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sp_log.h"

typedef struct {
    sp_db *db;
    int connected; /* 0: must (re)connect before use */
} pool_slot;

struct srv_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *url;
    int size, wait_ms, connect_timeout_s, statement_timeout_ms;
    pool_slot *slots;
    int *free_idx; /* stack of free slot indexes */
    int nfree;
    int64_t down_until_ms; /* while the database is unreachable: no reconnect before this */
    int backoff_ms;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int srv_pool_new(srv_pool **out, const char *url, int size, int wait_ms, int connect_timeout_s,
                 int statement_timeout_ms)
{
    srv_pool *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return SP_E_NOMEM;
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    p->url = strdup(url);
    p->size = size;
    p->wait_ms = wait_ms;
    p->connect_timeout_s = connect_timeout_s;
    p->statement_timeout_ms = statement_timeout_ms;
    p->slots = calloc((size_t)size, sizeof(*p->slots));
    p->free_idx = calloc((size_t)size, sizeof(int));
    if (p->url == NULL || p->slots == NULL || p->free_idx == NULL) {
        srv_pool_free(p);
        return SP_E_NOMEM;
    }
    for (int i = 0; i < size; i++) {
        if (sp_db_new(&p->slots[i].db) != 0) {
            srv_pool_free(p);
            return SP_E_NOMEM;
        }
        p->free_idx[p->nfree++] = i;
    }
    *out = p;
    return 0;
}

void srv_pool_free(srv_pool *p)
{
    if (p == NULL)
        return;
    for (int i = 0; p->slots != NULL && i < p->size; i++)
        sp_db_free(p->slots[i].db);
    free(p->slots);
    free(p->free_idx);
    free(p->url);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* Connects db and applies the session settings of request connections. */
static int connect_slot(srv_pool *p, sp_db *db)
{
    int rc = sp_db_connect(db, p->url, p->connect_timeout_s);
    if (rc != 0)
        return rc;
    char ms[24];
    snprintf(ms, sizeof ms, "%d", p->statement_timeout_ms);
    const char *params[] = {ms};
    sp_db_res *res = NULL;
    rc =
        sp_db_exec_params(db, "SELECT set_config('statement_timeout', $1, false)", 1, params, &res);
    sp_db_res_free(res);
    return rc == 0 ? 0 : SP_E_CONN;
}

static int slot_of(srv_pool *p, sp_db *db)
{
    for (int i = 0; i < p->size; i++)
        if (p->slots[i].db == db)
            return i;
    return -1;
}

int srv_pool_get(srv_pool *p, sp_db **db)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += p->wait_ms / 1000;
    until.tv_nsec += (long)(p->wait_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->mu);
    while (p->nfree == 0) {
        if (pthread_cond_timedwait(&p->cv, &p->mu, &until) == ETIMEDOUT && p->nfree == 0) {
            pthread_mutex_unlock(&p->mu);
            return SP_E_RANGE;
        }
    }
    int i = p->free_idx[--p->nfree];
    int need_connect = !p->slots[i].connected;
    if (need_connect && now_ms() < p->down_until_ms) {
        /* The database was unreachable a moment ago: fail fast until the next attempt. */
        p->free_idx[p->nfree++] = i;
        pthread_cond_signal(&p->cv);
        pthread_mutex_unlock(&p->mu);
        return SP_E_CONN;
    }
    pthread_mutex_unlock(&p->mu);

    if (need_connect) {
        int rc = connect_slot(p, p->slots[i].db);
        pthread_mutex_lock(&p->mu);
        if (rc != 0) {
            p->backoff_ms =
                p->backoff_ms == 0 ? 250 : (p->backoff_ms * 2 > 5000 ? 5000 : p->backoff_ms * 2);
            p->down_until_ms = now_ms() + p->backoff_ms;
            p->free_idx[p->nfree++] = i;
            pthread_cond_signal(&p->cv);
            pthread_mutex_unlock(&p->mu);
            sp_log_write(SP_LOG_WARN, "pool", "connect_failed", "retry_in_ms=%d message=%s",
                         p->backoff_ms, "database unreachable");
            return SP_E_CONN;
        }
        if (p->backoff_ms != 0)
            sp_log_write(SP_LOG_INFO, "pool", "reconnected", "slot=%d", i);
        p->backoff_ms = 0;
        p->down_until_ms = 0;
        p->slots[i].connected = 1;
        pthread_mutex_unlock(&p->mu);
    }
    *db = p->slots[i].db;
    return 0;
}

void srv_pool_put(srv_pool *p, sp_db *db, int broken)
{
    pthread_mutex_lock(&p->mu);
    int i = slot_of(p, db);
    if (i >= 0) {
        /* Handlers run single statements in autocommit: nothing to roll back. */
        if (broken)
            p->slots[i].connected = 0;
        p->free_idx[p->nfree++] = i;
        pthread_cond_signal(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
}

void srv_pool_usage(srv_pool *p, int *in_use, int *size)
{
    pthread_mutex_lock(&p->mu);
    *in_use = p->size - p->nfree;
    *size = p->size;
    pthread_mutex_unlock(&p->mu);
}

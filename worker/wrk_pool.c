/* wrk_pool: the job threads of one connector; see wrk_pool.h. */
#include "wrk_pool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sp_log.h"

/* Job threads block in libcurl, child processes and JSON work: 1 MiB of stack is plenty and
 * keeps the address space of a worker with hundreds of threads modest. */
#define POOL_STACK_BYTES ((size_t)1 << 20)

struct wrk_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* work queued, or stopping */
    pthread_cond_t exit_cv; /* a thread exited */
    wrk_rec *head, *tail;
    int threads, idle, max_threads;
    bool stopping;
    const wrk_connector_ops *ops;
    void *state;
    wrk_pool_done_fn done;
    void *done_arg;
};

void wrk_pool_run_one(const wrk_connector_ops *ops, void *state, wrk_rec *rec)
{
    memset(&rec->res, 0, sizeof(rec->res));
    if (wrk_job_should_stop(&rec->ctx)) {
        /* Cancelled, timed out or shut down while it waited: the connector is not called. */
        rec->res.outcome = wrk_job_stop_reason(&rec->ctx) == WRK_STOP_TIMEOUT
                               ? WRK_OUTCOME_FAILED_RETRYABLE
                               : WRK_OUTCOME_CANCELLED;
        snprintf(rec->res.error, sizeof(rec->res.error), "stopped before it started");
        return;
    }
    ops->run(state, &rec->job, &rec->ctx, &rec->res);
}

static void *pool_thread(void *arg)
{
    wrk_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->head == NULL && !p->stopping) {
            p->idle++;
            pthread_cond_wait(&p->cv, &p->mu);
            p->idle--;
        }
        if (p->head == NULL)
            break; /* stopping and nothing left */
        wrk_rec *rec = p->head;
        p->head = rec->qnext;
        if (p->head == NULL)
            p->tail = NULL;
        rec->qnext = NULL;
        pthread_mutex_unlock(&p->mu);
        wrk_pool_run_one(p->ops, p->state, rec);
        p->done(p->done_arg, rec);
        pthread_mutex_lock(&p->mu);
    }
    p->threads--;
    pthread_cond_broadcast(&p->exit_cv);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int wrk_pool_new(const wrk_connector_ops *ops, void *state, int max_threads, wrk_pool_done_fn done,
                 void *done_arg, wrk_pool **out)
{
    wrk_pool *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return SP_E_NOMEM;
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, NULL);
    pthread_cond_init(&p->exit_cv, &ca);
    pthread_condattr_destroy(&ca);
    p->ops = ops;
    p->state = state;
    p->max_threads = max_threads > 0 ? max_threads : 1;
    p->done = done;
    p->done_arg = done_arg;
    *out = p;
    return 0;
}

int wrk_pool_submit(wrk_pool *p, wrk_rec *rec)
{
    int rc = 0;
    rec->qnext = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->tail != NULL)
        p->tail->qnext = rec;
    else
        p->head = rec;
    p->tail = rec;
    if (p->idle == 0 && p->threads < p->max_threads) {
        pthread_attr_t attr;
        pthread_t tid;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, POOL_STACK_BYTES);
        int err = pthread_create(&tid, &attr, pool_thread, p);
        pthread_attr_destroy(&attr);
        if (err == 0) {
            p->threads++;
        } else if (p->threads == 0) {
            /* No thread at all to run it: take it back and report. */
            p->head = p->tail = NULL;
            rc = SP_E_NOMEM;
        } else {
            sp_log_warn("worker", "thread_failed", "connector=%s error=%s", p->ops->name,
                        strerror(err));
        }
    }
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

wrk_rec *wrk_pool_take_queued(wrk_pool *p)
{
    pthread_mutex_lock(&p->mu);
    wrk_rec *list = p->head;
    p->head = p->tail = NULL;
    pthread_mutex_unlock(&p->mu);
    return list;
}

bool wrk_pool_stop(wrk_pool *p, int64_t wait_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (wait_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->cv);
    while (p->threads > 0)
        if (pthread_cond_timedwait(&p->exit_cv, &p->mu, &until) == ETIMEDOUT)
            break;
    bool all = p->threads == 0;
    pthread_mutex_unlock(&p->mu);
    return all;
}

void wrk_pool_free(wrk_pool *p)
{
    if (p == NULL)
        return;
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    pthread_cond_destroy(&p->exit_cv);
    free(p);
}

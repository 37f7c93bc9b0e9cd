/*
 * wrk_pool: the job threads of one connector.
 *
 * Up to max_threads threads, started on demand (an idle worker holds none beyond those it
 * once needed), take records from a FIFO queue, run them on the connector and hand each
 * finished record to the done callback (which must be thread-safe: the loop's queue).
 *
 * Threading: submit, take_queued and stop are called from the loop thread; the threads
 * only touch the queue under the pool's mutex.
 */
#ifndef WRK_POOL_H
#define WRK_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "sp_err.h"
#include "wrk_connector.h"
#include "wrk_job.h"

typedef struct wrk_pool wrk_pool;

typedef void (*wrk_pool_done_fn)(void *arg, wrk_rec *rec);

SP_MUSTCHECK int wrk_pool_new(const wrk_connector_ops *ops, void *state, int max_threads,
                              wrk_pool_done_fn done, void *done_arg, wrk_pool **out);

/* Queues rec; a thread runs it as soon as one is free. */
SP_MUSTCHECK int wrk_pool_submit(wrk_pool *p, wrk_rec *rec);

/* Removes every record still waiting for a thread and returns them as a qnext list. */
wrk_rec *wrk_pool_take_queued(wrk_pool *p);

/* Tells the threads to exit once idle and waits up to wait_ms for all of them. Returns true
 * when every thread has exited (the pool may then be freed). */
bool wrk_pool_stop(wrk_pool *p, int64_t wait_ms);

/* Frees a stopped pool (after wrk_pool_stop returned true); accepts NULL. */
void wrk_pool_free(wrk_pool *p);

/* Runs one record on the calling thread (also what a pool thread does): skips the connector
 * when the job must already stop, then fills rec->res. */
void wrk_pool_run_one(const wrk_connector_ops *ops, void *state, wrk_rec *rec);

#endif

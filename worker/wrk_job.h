/*
 * wrk_job: the loop's record of one claimed job and the job context connectors see
 * (the loop side of wrk_connector.h: wrk_job_progress, wrk_job_should_stop,
 * wrk_job_stop_reason, wrk_job_store_output).
 *
 * Ownership: the loop creates a record per claimed job and frees it once the job's outcome
 * has been reported (or dropped). While a connector runs the job on a job thread, that
 * thread reads the wrk_job view and writes the result; the loop only touches the context
 * (through the thread-safe functions) until the record comes back to it.
 *
 * Threading: the context's stop reason is atomic; progress fields are under ctx->mu.
 */
#ifndef WRK_JOB_H
#define WRK_JOB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "wrk_connector.h"
#include "wrk_output.h"
#include "wrk_transport.h"

struct wrk_job_ctx {
    atomic_int stop; /* wrk_stop_reason */
    atomic_int outputs;
    pthread_mutex_t mu;
    int percent;
    bool dirty;
    char message[512];
    bool has_message;
    const char *job_id;
    wrk_output *store; /* may be NULL: store_output then fails */
};

typedef enum {
    WRK_REC_BUSY = 0, /* queued on or running in a job thread */
    WRK_REC_DONE,     /* outcome known, waiting to be reported */
} wrk_rec_state;

typedef struct wrk_rec {
    struct wrk_rec *prev, *next; /* the loop's list of held jobs */
    struct wrk_rec *qnext;       /* pool queue, done queue or report list */
    wrk_job job;                 /* the connector's view; points into the fields below */
    char id[WRK_UUID_LEN];
    char lease[WRK_UUID_LEN];
    char *type;
    json_object *payload;
    int conn; /* index of the connector that runs it */
    wrk_rec_state state;
    int64_t claimed_ms;  /* monotonic */
    int64_t deadline_ms; /* claimed_ms + timeout */
    bool lease_lost;     /* heartbeat or a refused call said the lease is gone */
    bool released;       /* given back (shutdown): its outcome is dropped */
    bool cancel_requested;
    bool timed_out;
    char cancel_reason[256];
    wrk_result res;
    char *result_text; /* res.result serialised, for completion */
    int64_t sent_progress_ms;
    wrk_job_ctx ctx;
} wrk_rec;

/* Creates a record from a claimed job, taking its type and payload (the claimed job's
 * fields are set to NULL). */
SP_MUSTCHECK int wrk_rec_new(wrk_claimed_job *cj, const char *worker_id, int conn, int64_t now_ms,
                             wrk_output *store, wrk_rec **out);
void wrk_rec_free(wrk_rec *rec);

/* Asks the job to stop (first reason wins); returns true when this call set it. */
bool wrk_job_request_stop(wrk_job_ctx *ctx, wrk_stop_reason reason);

/* Takes the pending progress update, if any (clears the dirty flag). */
bool wrk_job_take_progress(wrk_job_ctx *ctx, int *percent, char *message, size_t msglen,
                           bool *has_message);

/* Milliseconds on the monotonic clock. */
int64_t wrk_now_ms(void);

#endif

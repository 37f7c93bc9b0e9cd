/*
 * wrk_transport: how the worker loop talks to the job system.
 *
 * A small interface so that the direct PostgreSQL transport (wrk_transport_pg.c: libpq and
 * the core's SQL functions) can be joined later by one over WebSocket to spoold (GPU hosts
 * without database credentials). Every call is made from the loop thread only; a transport
 * is not thread-safe.
 *
 * Errors: 0 on success; SP_E_CONN when the connection is gone (the loop reconnects with
 * backoff and calls connect again); SP_E_CONFLICT when the lease is not the job's current
 * one (the job was rescued, re-claimed or has ended: the call changed nothing);
 * SP_E_NOTFOUND for an unknown job; SP_E_DB for any other refusal. wrk_transport_error
 * describes the last failure.
 */
#ifndef WRK_TRANSPORT_H
#define WRK_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "sp_err.h"

#define WRK_UUID_LEN 37 /* 36 characters and the NUL */

/* One claimed job; every pointer owned by the batch it came in. */
typedef struct {
    char id[WRK_UUID_LEN];
    char lease[WRK_UUID_LEN];
    char *type;
    char *service; /* service_required; NULL when the job names none */
    int attempt;
    int timeout_seconds;
    json_object *payload; /* never NULL */
} wrk_claimed_job;

/* What complete_and_claim hands back. Free with wrk_batch_clear. */
typedef struct {
    wrk_claimed_job *jobs;
    int njobs;
    char (*refused)[WRK_UUID_LEN]; /* completions the job system refused (lease lost) */
    int nrefused;
    int cap_refused;
} wrk_batch;

void wrk_batch_clear(wrk_batch *b);

/* One completion to report. */
typedef struct {
    const char *job_id;
    const char *lease;
    const char *result_json; /* JSON text, or NULL for no result */
} wrk_completion;

/* A job the worker must stop, from a heartbeat. */
typedef struct {
    char job_id[WRK_UUID_LEN]; /* "" when the job system no longer knows the token */
    char lease[WRK_UUID_LEN];
    bool lease_lost; /* true: lease lost (rescued, re-claimed or ended); false: cancelled */
    char reason[256];
} wrk_stop_request;

typedef struct wrk_transport wrk_transport;

typedef struct {
    const char *name;
    int (*connect)(wrk_transport *t);
    int (*fd)(wrk_transport *t);
    int (*drain)(wrk_transport *t, bool *work);
    int (*register_worker)(wrk_transport *t, const char *worker_id, const char *name,
                           const char *caps_json, const char *metadata_json);
    int (*complete_and_claim)(wrk_transport *t, const char *worker_id, const wrk_completion *c,
                              int nc, const char *caps_json, int max_jobs, int lease_s,
                              wrk_batch *out);
    int (*fail)(wrk_transport *t, const char *job_id, const char *lease, const char *error,
                bool retryable);
    int (*release)(wrk_transport *t, const char *job_id, const char *lease);
    int (*heartbeat)(wrk_transport *t, const char *worker_id, const char *const *leases, int n,
                     wrk_stop_request **stops, int *nstops);
    int (*progress)(wrk_transport *t, const char *job_id, const char *lease, int percent,
                    const char *message);
    int (*maintain)(wrk_transport *t, char *summary, size_t len);
    const char *(*error)(wrk_transport *t);
    void (*free)(wrk_transport *t);
} wrk_transport_ops;

/* Every transport starts with this header. */
struct wrk_transport {
    const wrk_transport_ops *ops;
};

/* The direct PostgreSQL transport. url and the timeout are copied. */
SP_MUSTCHECK int wrk_transport_pg_new(const char *url, int connect_timeout_s, wrk_transport **out);

/* (Re)connects: opens the session and subscribes to work notifications. */
SP_MUSTCHECK static inline int wrk_transport_connect(wrk_transport *t)
{
    return t->ops->connect(t);
}

/* A descriptor that becomes readable when the job system sends something (a notification,
 * or the connection closing), for poll(); -1 when there is none (poll on a timer). */
static inline int wrk_transport_fd(wrk_transport *t)
{
    return t->ops->fd(t);
}

/* Reads what arrived without blocking; *work becomes true when new work was announced. */
SP_MUSTCHECK static inline int wrk_transport_drain(wrk_transport *t, bool *work)
{
    return t->ops->drain(t, work);
}

/* Registers (or refreshes) the worker with its capabilities (JSON object text). */
SP_MUSTCHECK static inline int wrk_transport_register(wrk_transport *t, const char *worker_id,
                                                      const char *name, const char *caps_json,
                                                      const char *metadata_json)
{
    return t->ops->register_worker(t, worker_id, name, caps_json, metadata_json);
}

/*
 * The hot path, one round trip: completes nc jobs (refusals are listed in out->refused and
 * change nothing) and claims up to max_jobs (0: none) that caps_json allows, each under a
 * new lease of lease_s seconds. out is filled on success and must be cleared in any case.
 */
SP_MUSTCHECK static inline int wrk_transport_complete_and_claim(wrk_transport *t,
                                                                const char *worker_id,
                                                                const wrk_completion *c, int nc,
                                                                const char *caps_json, int max_jobs,
                                                                int lease_s, wrk_batch *out)
{
    return t->ops->complete_and_claim(t, worker_id, c, nc, caps_json, max_jobs, lease_s, out);
}

/* Reports a failed attempt (retryable: the job system retries it after a backoff while
 * attempts are left; a job whose cancellation was requested ends cancelled). */
SP_MUSTCHECK static inline int wrk_transport_fail(wrk_transport *t, const char *job_id,
                                                  const char *lease, const char *error,
                                                  bool retryable)
{
    return t->ops->fail(t, job_id, lease, error, retryable);
}

/* Gives a job back: pending again at once, the attempt not counted. */
SP_MUSTCHECK static inline int wrk_transport_release(wrk_transport *t, const char *job_id,
                                                     const char *lease)
{
    return t->ops->release(t, job_id, lease);
}

/* Renews every lease in leases (n of them) in one call and returns the jobs to stop (owned
 * array in *stops, free()). */
SP_MUSTCHECK static inline int wrk_transport_heartbeat(wrk_transport *t, const char *worker_id,
                                                       const char *const *leases, int n,
                                                       wrk_stop_request **stops, int *nstops)
{
    return t->ops->heartbeat(t, worker_id, leases, n, stops, nstops);
}

SP_MUSTCHECK static inline int wrk_transport_progress(wrk_transport *t, const char *job_id,
                                                      const char *lease, int percent,
                                                      const char *message)
{
    return t->ops->progress(t, job_id, lease, percent, message);
}

/* Runs the job system's maintenance (promote, rescue, prune) once; summary says what it
 * did. Transports that cannot return SP_E_INVAL. */
SP_MUSTCHECK static inline int wrk_transport_maintain(wrk_transport *t, char *summary, size_t len)
{
    return t->ops->maintain(t, summary, len);
}

/* The last failure, for log lines; never a secret. */
static inline const char *wrk_transport_error(wrk_transport *t)
{
    return t->ops->error(t);
}

static inline void wrk_transport_free(wrk_transport *t)
{
    if (t != NULL)
        t->ops->free(t);
}

#endif

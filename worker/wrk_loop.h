/*
 * wrk_loop: spool-worker's main loop.
 *
 * One thread (the caller of wrk_loop_run) owns the transport and every call to the job
 * system; connectors run jobs on their own job threads (wrk_pool), or on the loop thread
 * when they say a job returns at once (zero-duration simulation: the benchmark path). The
 * loop:
 *   - registers the worker with its capabilities (services, models, hardware, customer
 *     access, labels) on every (re)connection;
 *   - claims batches sized to each connector's free job threads (one claim per connector
 *     with free threads, the first carrying the completions of the last round:
 *     spool.complete_and_claim, one round trip); after a batch that ran entirely on the loop
 *     thread, the next claim is batch_size;
 *   - sleeps in poll() when there is nothing to do: woken by LISTEN spool_jobs, by a job
 *     thread finishing, by a signal, or by the poll_interval fallback;
 *   - renews every lease it holds in one heartbeat call each heartbeat_interval, which also
 *     reports cancellations (the job's context says stop; the job ends cancelled) and lost
 *     leases (the job is stopped and its outcome dropped);
 *   - sends coalesced progress, fails jobs past their timeout as retryable, reports
 *     failures as retryable or permanent as the connector says;
 *   - on losing the database keeps running jobs, reconnects with capped exponential backoff,
 *     and then reports what finished meanwhile (refusals are logged: the lease was lost);
 *   - on SIGTERM/SIGINT stops claiming, releases jobs not started, lets running jobs finish
 *     within shutdown_grace, then stops and releases the rest (a second signal does that at
 *     once) and returns 0.
 */
#ifndef WRK_LOOP_H
#define WRK_LOOP_H

#include <stdio.h>

#include "sp_config.h"
#include "sp_err.h"
#include "wrk_config.h"

typedef struct wrk_loop wrk_loop;

/*
 * Creates the loop: detects the hardware, creates every configured connector (err names the
 * connector and its complaint on failure), the output store and the transport. Connects to
 * nothing yet. cfg and s must outlive the loop. Block SIGTERM and SIGINT in every thread
 * before calling (the loop reads them from a signalfd).
 */
SP_MUSTCHECK int wrk_loop_new(const sp_config *cfg, const wrk_settings *s, wrk_loop **out,
                              char *err, size_t errlen);

/* Runs until shutdown; 0 after a clean shutdown. */
SP_MUSTCHECK int wrk_loop_run(wrk_loop *l);

/* --check: reaches the database, the output store and each connector's service and prints a
 * report to out. 0 when everything is healthy. */
SP_MUSTCHECK int wrk_loop_check(wrk_loop *l, FILE *out);

void wrk_loop_free(wrk_loop *l);

#endif

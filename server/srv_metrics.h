/*
 * srv_metrics: Prometheus metrics of spoold (GET /metrics).
 *
 * HTTP requests are counted in memory per route and status with a latency histogram.
 * Job figures come from the database at scrape time: jobs by type and status (live table,
 * plus jobs finished in the last hour), and insert→start / run-time histograms accumulated
 * from the jobs finished since the previous scrape. Event totals (submitted, completed,
 * failed …) count the events this spoold has read from the log since it started.
 * Thread-safe.
 */
#ifndef SRV_METRICS_H
#define SRV_METRICS_H

#include <stdint.h>

#include "sp_buf.h"
#include "sp_db.h"

typedef struct srv_server srv_server;

/* Records one finished HTTP request (status 0: the client went away first). */
void srv_metrics_http(const char *route, int status, int64_t duration_us);

/* Counts n events of kind for type (called by the event hub). */
void srv_metrics_event(const char *kind, const char *type, int64_t n);

/* Renders every metric into out. db is a pooled connection for the job figures, or NULL
 * when none could be had: the in-memory metrics are rendered all the same, with
 * spool_database_up 0, so that an outage shows in the scrape instead of failing it.
 * *db_rc receives the result of the database part (0, SP_E_DB, SP_E_CONN…). Returns 0, or
 * SP_E_RANGE when out is full. */
SP_MUSTCHECK int srv_metrics_render(srv_server *srv, sp_db *db, sp_buf *out, int *db_rc);

#endif

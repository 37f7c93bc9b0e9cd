/*
 * srv_metrics: counters, histograms and the Prometheus text rendering (see srv_metrics.h).
 */
#include "srv_metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv_events.h"
#include "srv_http.h"
#include "srv_pool.h"
#include "srv_router.h"

static const int status_codes[] = {0,   200, 201, 204, 400, 401, 403, 404,
                                   405, 409, 413, 422, 429, 500, 503};
#define NSTATUS (sizeof status_codes / sizeof status_codes[0])
static const double http_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                      0.05,   0.1,   0.25,   0.5,   1,    2.5};
#define NHB (sizeof http_buckets / sizeof http_buckets[0])
#define MAX_ROUTES 64

typedef struct {
    uint64_t count[NSTATUS];
    uint64_t bucket[NHB]; /* cumulative at render time only; stored per bucket */
    uint64_t total;
    double sum;
} route_stats;

static const double job_buckets[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1,
                                     5,     10,    30,   60,   300, 1800};
#define NJB (sizeof job_buckets / sizeof job_buckets[0])

typedef struct {
    char type[64];
    char kind[16];
    uint64_t n;
} event_count;
#define MAX_EVENT_COUNTS 256

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static route_stats routes[MAX_ROUTES + 1]; /* last: unmatched */
static event_count events[MAX_EVENT_COUNTS];
static size_t nevents;
static uint64_t wait_hist[NJB + 1], run_hist[NJB + 1], wait_count, run_count;
static double wait_sum, run_sum;
static char last_scrape[64] = "";

static size_t route_index(const char *name)
{
    for (size_t i = 0; i < srv_nroutes && i < MAX_ROUTES; i++)
        if (strcmp(srv_routes[i].name, name) == 0)
            return i;
    return MAX_ROUTES;
}

void srv_metrics_http(const char *route, int status, int64_t duration_us)
{
    size_t r = route_index(route), s = 0;
    for (size_t i = 0; i < NSTATUS; i++)
        if (status_codes[i] == status)
            s = i;
    double secs = (double)duration_us / 1e6;
    pthread_mutex_lock(&mu);
    routes[r].count[s]++;
    routes[r].total++;
    routes[r].sum += secs;
    for (size_t b = 0; b < NHB; b++)
        if (secs <= http_buckets[b]) {
            routes[r].bucket[b]++;
            break;
        }
    pthread_mutex_unlock(&mu);
}

void srv_metrics_event(const char *kind, const char *type, int64_t n)
{
    if (kind == NULL)
        return;
    if (type == NULL)
        type = "";
    pthread_mutex_lock(&mu);
    size_t i;
    for (i = 0; i < nevents; i++)
        if (strcmp(events[i].kind, kind) == 0 && strcmp(events[i].type, type) == 0)
            break;
    if (i == nevents && nevents < MAX_EVENT_COUNTS) {
        snprintf(events[i].kind, sizeof events[i].kind, "%s", kind);
        snprintf(events[i].type, sizeof events[i].type, "%s", type);
        nevents++;
    }
    if (i < nevents)
        events[i].n += (uint64_t)n;
    pthread_mutex_unlock(&mu);
}

/* Prometheus label values escape backslash, quote and newline. */
static void label(char *out, size_t outlen, const char *v)
{
    size_t o = 0;
    for (; v != NULL && *v != '\0' && o + 2 < outlen; v++) {
        if (*v == '\\' || *v == '"') {
            out[o++] = '\\';
            out[o++] = *v;
        } else if (*v == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = *v;
        }
    }
    out[o] = '\0';
}

/* Adds the jobs finished since the previous scrape to the job histograms. */
static int scrape_job_histograms(sp_db *db)
{
    static const char sql[] =
        "WITH w AS (SELECT coalesce(nullif($1, '')::timestamptz, now() - interval '1 minute') AS "
        "lo, now() AS hi)"
        " SELECT (SELECT hi FROM w)::text,"
        "        extract(epoch FROM started_at - greatest(created_at, run_at))::float8,"
        "        extract(epoch FROM finished_at - started_at)::float8"
        "   FROM spool.job_archive, w"
        "  WHERE finished_at > w.lo AND finished_at <= w.hi AND started_at IS NOT NULL"
        "  LIMIT 200000";
    sp_db_res *res = NULL;
    char since[64];
    pthread_mutex_lock(&mu);
    snprintf(since, sizeof since, "%s", last_scrape);
    pthread_mutex_unlock(&mu);
    const char *params[] = {since};
    int rc = sp_db_exec_params(db, sql, 1, params, &res);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&mu);
    int n = sp_db_res_nrows(res);
    for (int i = 0; i < n; i++) {
        double w = strtod(sp_db_res_value(res, i, 1), NULL);
        double r = strtod(sp_db_res_value(res, i, 2), NULL);
        size_t b;
        for (b = 0; b < NJB && w > job_buckets[b]; b++)
            ;
        wait_hist[b]++;
        wait_count++;
        wait_sum += w;
        for (b = 0; b < NJB && r > job_buckets[b]; b++)
            ;
        run_hist[b]++;
        run_count++;
        run_sum += r;
    }
    if (n > 0)
        snprintf(last_scrape, sizeof last_scrape, "%s", sp_db_res_value(res, 0, 0));
    pthread_mutex_unlock(&mu);
    sp_db_res_free(res);
    if (n == 0) {
        /* Nothing finished: move the window anyway. */
        rc = sp_db_exec_params(db, "SELECT now()::text", 0, NULL, &res);
        if (rc != 0)
            return rc;
        pthread_mutex_lock(&mu);
        snprintf(last_scrape, sizeof last_scrape, "%s", sp_db_res_value(res, 0, 0));
        pthread_mutex_unlock(&mu);
        sp_db_res_free(res);
    }
    return 0;
}

static int render_hist(sp_buf *out, const char *name, const char *help, const uint64_t *hist,
                       uint64_t count, double sum)
{
    int rc = sp_buf_appendf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (size_t b = 0; rc == 0 && b < NJB; b++) {
        cum += hist[b];
        rc = sp_buf_appendf(out, "%s_bucket{le=\"%g\"} %llu\n", name, job_buckets[b],
                            (unsigned long long)cum);
    }
    if (rc == 0)
        rc = sp_buf_appendf(out, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name,
                            (unsigned long long)count, name, sum, name, (unsigned long long)count);
    return rc;
}

/* The figures read from the database: jobs by type and status, and the job histograms'
 * new samples. 0, a database error code, or SP_E_RANGE when out is full. */
static int render_jobs(sp_db *db, sp_buf *out)
{
    sp_db_res *res = NULL;
    char l1[200], l2[200];
    int rc = sp_db_exec_params(
        db,
        "SELECT type, status, count(*) FROM spool.job_live GROUP BY 1, 2"
        " UNION ALL SELECT type, status, count(*) FROM spool.job_archive"
        "  WHERE finished_at > now() - interval '1 hour' GROUP BY 1, 2 ORDER BY 1, 2",
        0, NULL, &res);
    if (rc != 0)
        return rc;
    rc = sp_buf_appends(out, "# HELP spool_jobs Jobs by type and status (live jobs, and jobs "
                             "finished in the last hour).\n# TYPE spool_jobs gauge\n");
    for (int i = 0; rc == 0 && i < sp_db_res_nrows(res); i++) {
        label(l1, sizeof l1, sp_db_res_value(res, i, 0));
        label(l2, sizeof l2, sp_db_res_value(res, i, 1));
        rc = sp_buf_appendf(out, "spool_jobs{type=\"%s\",status=\"%s\"} %s\n", l1, l2,
                            sp_db_res_value(res, i, 2));
    }
    sp_db_res_free(res);
    if (rc == 0)
        rc = scrape_job_histograms(db);
    return rc;
}

int srv_metrics_render(srv_server *srv, sp_db *db, sp_buf *out, int *db_rc)
{
    char l1[200], l2[200];
    *db_rc = db != NULL ? render_jobs(db, out) : SP_E_CONN;
    if (*db_rc == SP_E_RANGE)
        return SP_E_RANGE;
    int rc = sp_buf_appendf(out,
                            "# HELP spool_database_up Whether this scrape could read the "
                            "database (job figures are missing when 0).\n"
                            "# TYPE spool_database_up gauge\nspool_database_up %d\n",
                            *db_rc == 0 ? 1 : 0);
    if (rc != 0)
        return rc;

    pthread_mutex_lock(&mu);
    rc = sp_buf_appends(out, "# HELP spool_events_total Job events read from the event log by "
                             "this spoold since it started, by kind and type.\n"
                             "# TYPE spool_events_total counter\n");
    for (size_t i = 0; rc == 0 && i < nevents; i++) {
        label(l1, sizeof l1, events[i].kind);
        label(l2, sizeof l2, events[i].type);
        rc = sp_buf_appendf(out, "spool_events_total{kind=\"%s\",type=\"%s\"} %llu\n", l1, l2,
                            (unsigned long long)events[i].n);
    }
    static const char *totals[][2] = {{"submitted", "spool_jobs_submitted_total"},
                                      {"completed", "spool_jobs_completed_total"},
                                      {"failed", "spool_jobs_failed_total"},
                                      {"dead", "spool_jobs_dead_total"}};
    for (size_t t = 0; rc == 0 && t < 4; t++) {
        uint64_t sum = 0;
        for (size_t i = 0; i < nevents; i++)
            if (strcmp(events[i].kind, totals[t][0]) == 0)
                sum += events[i].n;
        rc = sp_buf_appendf(out, "# TYPE %s counter\n%s %llu\n", totals[t][1], totals[t][1],
                            (unsigned long long)sum);
    }
    if (rc == 0)
        rc = render_hist(out, "spool_job_wait_seconds",
                         "Time from a job becoming runnable to its start (jobs finished since "
                         "this spoold started).",
                         wait_hist, wait_count, wait_sum);
    if (rc == 0)
        rc = render_hist(out, "spool_job_run_seconds", "Time from a job's start to its end.",
                         run_hist, run_count, run_sum);
    if (rc == 0)
        rc = sp_buf_appends(out, "# HELP spool_http_requests_total HTTP requests by route and "
                                 "status.\n# TYPE spool_http_requests_total counter\n");
    for (size_t r = 0; rc == 0 && r <= MAX_ROUTES; r++) {
        if (routes[r].total == 0)
            continue;
        const char *name = r < srv_nroutes ? srv_routes[r].name : "unmatched";
        for (size_t s = 0; rc == 0 && s < NSTATUS; s++)
            if (routes[r].count[s] > 0)
                rc = sp_buf_appendf(out,
                                    "spool_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
                                    name, status_codes[s], (unsigned long long)routes[r].count[s]);
    }
    if (rc == 0)
        rc = sp_buf_appends(
            out, "# HELP spool_http_request_duration_seconds HTTP request "
                 "latency by route.\n# TYPE spool_http_request_duration_seconds histogram\n");
    for (size_t r = 0; rc == 0 && r <= MAX_ROUTES; r++) {
        if (routes[r].total == 0)
            continue;
        const char *name = r < srv_nroutes ? srv_routes[r].name : "unmatched";
        uint64_t cum = 0;
        for (size_t b = 0; rc == 0 && b < NHB; b++) {
            cum += routes[r].bucket[b];
            rc = sp_buf_appendf(
                out, "spool_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                name, http_buckets[b], (unsigned long long)cum);
        }
        if (rc == 0)
            rc = sp_buf_appendf(
                out,
                "spool_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n"
                "spool_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                "spool_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                name, (unsigned long long)routes[r].total, name, routes[r].sum, name,
                (unsigned long long)routes[r].total);
    }
    pthread_mutex_unlock(&mu);
    int in_use = 0, size = 0;
    srv_pool_usage(srv->pool, &in_use, &size);
    if (rc == 0)
        rc = sp_buf_appendf(
            out,
            "# HELP spool_sse_subscribers Open event streams.\n# TYPE spool_sse_subscribers gauge\n"
            "spool_sse_subscribers %zu\n"
            "# HELP spool_sse_dropped_total Streams ended because the subscriber fell behind.\n"
            "# TYPE spool_sse_dropped_total counter\nspool_sse_dropped_total %llu\n"
            "# HELP spool_db_pool_in_use Database connections in use.\n# TYPE spool_db_pool_in_use "
            "gauge\n"
            "spool_db_pool_in_use %d\n# HELP spool_db_pool_size Database connections in the pool.\n"
            "# TYPE spool_db_pool_size gauge\nspool_db_pool_size %d\n",
            srv->events ? srv_events_subscriber_count(srv->events) : 0,
            (unsigned long long)(srv->events ? srv_events_dropped_count(srv->events) : 0), in_use,
            size);
    return rc;
}

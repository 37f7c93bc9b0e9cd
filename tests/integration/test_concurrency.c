/*
 * test_concurrency: many claimers on one queue, every job done exactly once.
 *
 *   SPOOL_TEST_DATABASE_URL=postgresql://... test_concurrency
 *
 * Creates a scratch database (spool_conc_<pid>) next to the one named by the URL, migrates
 * it with the embedded SQL, registers a type conc_<pid> and submits SPOOL_CONC_JOBS jobs
 * (default 400,000) with spool.submit_many in chunks of 50,000. Then 8 threads, each with
 * its own connection, claim batches of 100 until nothing is left: the even threads use the
 * hot path spool.complete_and_claim, the odd ones spool.claim then spool.complete_many.
 * Each thread records the ids it claimed.
 *
 * Asserts: no id was claimed twice (in memory, sorted), every job is completed exactly
 * once (job_archive holds all of them completed, job_live none), each job has exactly one
 * 'claimed' and one 'completed' event, and attempts = 1 everywhere. The throughput figures
 * are printed for information only and never asserted.
 *
 * When the scratch database cannot be created (no CREATEDB), the test runs in the given
 * database instead; jobs of other types left pending there would then be claimed too, so
 * it refuses to run if any exist. Exit 77 (skip) when SPOOL_TEST_DATABASE_URL is unset.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "sp_db.h"
#include "sp_migrate.h"

#define CONC_THREADS 8
#define CONC_BATCH 100
#define CONC_SUBMIT_CHUNK 50000
#define CONC_DEFAULT_JOBS 400000
#define CONC_MAX_JOBS 10000000

typedef struct {
    uint8_t b[16];
} conc_id;

typedef struct {
    int index;
    const char *conninfo;
    bool hot_path; /* complete_and_claim, else claim + complete_many */
    conc_id *ids;  /* owned: every id this thread claimed */
    size_t nids, capids;
    size_t calls;
    char error[512]; /* empty when the thread succeeded */
} conc_worker;

static int passed, failed;

static void check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(bool ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s - ", ok ? "ok" : "not ok");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
    if (ok)
        passed++;
    else
        failed++;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Parses the canonical text form of a UUID; false when it is not one. */
static bool parse_uuid(const char *text, conc_id *out)
{
    int n = 0;
    for (const char *p = text; *p != '\0'; p++) {
        if (*p == '-')
            continue;
        int hi = hexval(p[0]);
        int lo = p[1] != '\0' ? hexval(p[1]) : -1;
        if (hi < 0 || lo < 0 || n == 16)
            return false;
        out->b[n++] = (uint8_t)(hi << 4 | lo);
        p++;
    }
    return n == 16;
}

static int id_cmp(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(conc_id));
}

static bool worker_record(conc_worker *w, const char *text)
{
    if (w->nids == w->capids) {
        size_t cap = w->capids ? w->capids * 2 : 4096;
        conc_id *ids = realloc(w->ids, cap * sizeof(*ids));
        if (ids == NULL)
            return false;
        w->ids = ids;
        w->capids = cap;
    }
    return parse_uuid(text, &w->ids[w->nids++]);
}

/* Single-value query helper for the setup and the checks; NULL on error (message printed). */
static char *query_value(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
    PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    char *value = NULL;
    if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK) {
        fprintf(stderr, "query failed: %s\n  %s\n", PQerrorMessage(conn), sql);
    } else if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0)) {
        value = strdup(PQgetvalue(res, 0, 0));
    } else {
        value = strdup("");
    }
    PQclear(res);
    return value;
}

static long long query_count(PGconn *conn, const char *sql, const char *type)
{
    const char *params[1] = {type};
    char *v = query_value(conn, sql, type ? 1 : 0, type ? params : NULL);
    long long n = v && *v ? strtoll(v, NULL, 10) : -1;
    free(v);
    return n;
}

/* Appends a "{uuid,uuid,...}" array literal of the ids and tokens in res. */
static bool build_arrays(PGresult *res, int id_col, int tok_col, char **ids, char **toks)
{
    int n = PQntuples(res);
    size_t len = (size_t)n * 37 + 3;
    *ids = malloc(len);
    *toks = malloc(len);
    if (*ids == NULL || *toks == NULL)
        return false;
    char *pi = *ids, *pt = *toks;
    *pi++ = '{';
    *pt++ = '{';
    for (int r = 0; r < n; r++) {
        if (r > 0) {
            *pi++ = ',';
            *pt++ = ',';
        }
        memcpy(pi, PQgetvalue(res, r, id_col), 36);
        memcpy(pt, PQgetvalue(res, r, tok_col), 36);
        pi += 36;
        pt += 36;
    }
    *pi++ = '}';
    *pt++ = '}';
    *pi = *pt = '\0';
    return true;
}

static void *worker_main(void *arg)
{
    conc_worker *w = arg;
    char worker_id[32];
    char max_jobs[16];
    char *ids = strdup("{}"), *toks = strdup("{}");
    PGresult *res = NULL;
    PGconn *conn = PQconnectdb(w->conninfo);
    snprintf(worker_id, sizeof(worker_id), "conc-%d", w->index);
    snprintf(max_jobs, sizeof(max_jobs), "%d", CONC_BATCH);
    if (PQstatus(conn) != CONNECTION_OK) {
        snprintf(w->error, sizeof(w->error), "connect: %s", PQerrorMessage(conn));
        goto out;
    }
    for (;;) {
        if (w->hot_path) {
            const char *params[4] = {worker_id, ids, toks, max_jobs};
            res =
                PQexecParams(conn,
                             "select id, lease_token from spool.complete_and_claim("
                             "worker_id => $1, job_ids => $2::uuid[], lease_tokens => $3::uuid[], "
                             "capabilities => '{}', max_jobs => $4::int)",
                             4, NULL, params, NULL, NULL, 0);
        } else {
            if (strcmp(ids, "{}") != 0) {
                const char *cparams[2] = {ids, toks};
                PGresult *c = PQexecParams(conn,
                                           "select count(*) filter (where accepted), count(*) "
                                           "from spool.complete_many(job_ids => $1::uuid[], "
                                           "lease_tokens => $2::uuid[])",
                                           2, NULL, cparams, NULL, NULL, 0);
                bool ok = PQresultStatus(c) == PGRES_TUPLES_OK &&
                          strcmp(PQgetvalue(c, 0, 0), PQgetvalue(c, 0, 1)) == 0;
                if (!ok)
                    snprintf(
                        w->error, sizeof(w->error), "complete_many: %s%s", PQerrorMessage(conn),
                        PQresultStatus(c) == PGRES_TUPLES_OK ? "some completions refused" : "");
                PQclear(c);
                w->calls++;
                if (!ok)
                    goto out;
            }
            const char *params[2] = {worker_id, max_jobs};
            res = PQexecParams(conn,
                               "select id, lease_token from spool.claim(worker_id => $1, "
                               "capabilities => '{}', max_jobs => $2::int)",
                               2, NULL, params, NULL, NULL, 0);
        }
        w->calls++;
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            snprintf(w->error, sizeof(w->error), "%s: %s",
                     w->hot_path ? "complete_and_claim" : "claim", PQerrorMessage(conn));
            goto out;
        }
        int n = PQntuples(res);
        for (int r = 0; r < n; r++) {
            if (!worker_record(w, PQgetvalue(res, r, 0))) {
                snprintf(w->error, sizeof(w->error), "bad id or out of memory");
                goto out;
            }
        }
        free(ids);
        free(toks);
        ids = toks = NULL;
        if (!build_arrays(res, 0, 1, &ids, &toks)) {
            snprintf(w->error, sizeof(w->error), "out of memory");
            goto out;
        }
        PQclear(res);
        res = NULL;
        /* Nothing claimed means nothing pending: every job was submitted before the
         * workers started, and none fails, so none comes back. */
        if (n == 0)
            break;
    }
out:
    PQclear(res);
    PQfinish(conn);
    free(ids);
    free(toks);
    return NULL;
}

/* Creates spool_conc_<pid> and returns a conninfo for it in out; false when it cannot. */
static bool create_scratch_db(PGconn *admin, char *dbname, size_t dblen, char *out, size_t outlen)
{
    char sql[160];
    snprintf(dbname, dblen, "spool_conc_%d", (int)getpid());
    /* CREATE DATABASE takes no parameters; the name is quoted as an identifier. */
    char *ident = PQescapeIdentifier(admin, dbname, strlen(dbname));
    if (ident == NULL)
        return false;
    snprintf(sql, sizeof(sql), "create database %s", ident);
    PQfreemem(ident);
    PGresult *res = PQexec(admin, sql);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        printf("# could not create a scratch database (%s); using the given one\n",
               PQresultErrorMessage(res));
    PQclear(res);
    if (ok)
        snprintf(out, outlen, "dbname=%s", dbname);
    return ok;
}

static bool migrate(const char *conninfo)
{
    sp_db *db = NULL;
    sp_migrate_report report = {0};
    char err[512] = "";
    bool ok = false;
    if (sp_db_new(&db) < 0)
        return false;
    if (sp_db_connect(db, conninfo, 10) < 0) {
        fprintf(stderr, "connect: %s\n", sp_db_err_message(db));
        goto out;
    }
    if (sp_migrate_run(db, &report, err, sizeof(err)) < 0) {
        fprintf(stderr, "migrate: %s\n", err);
        goto out;
    }
    ok = true;
out:
    sp_migrate_report_clear(&report);
    sp_db_free(db);
    return ok;
}

int main(void)
{
    const char *url = getenv("SPOOL_TEST_DATABASE_URL");
    if (url == NULL || *url == '\0') {
        printf("SPOOL_TEST_DATABASE_URL is not set: skipping\n");
        return 77;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    long long njobs = CONC_DEFAULT_JOBS;
    const char *env_jobs = getenv("SPOOL_CONC_JOBS");
    if (env_jobs != NULL && *env_jobs != '\0') {
        char *end;
        njobs = strtoll(env_jobs, &end, 10);
        if (*end != '\0' || njobs < 1 || njobs > CONC_MAX_JOBS) {
            fprintf(stderr, "SPOOL_CONC_JOBS must be an integer from 1 to %d\n", CONC_MAX_JOBS);
            return 2;
        }
    }

    int rc = 1;
    char type[64], dbname[64] = "", conninfo[2048];
    bool scratch = false;
    conc_worker workers[CONC_THREADS];
    conc_id *all = NULL;
    PGconn *admin = NULL, *conn = NULL;
    memset(workers, 0, sizeof(workers));
    snprintf(type, sizeof(type), "conc_%d", (int)getpid());

    const char *kw[] = {"dbname", "application_name", NULL};
    const char *vals[] = {url, "spool-test-concurrency", NULL};
    admin = PQconnectdbParams(kw, vals, 1);
    if (PQstatus(admin) != CONNECTION_OK) {
        fprintf(stderr, "could not connect: %s", PQerrorMessage(admin));
        goto out;
    }
    char scratch_kv[128] = "";
    scratch = create_scratch_db(admin, dbname, sizeof(dbname), scratch_kv, sizeof(scratch_kv));
    if (scratch) {
        /* The URL's host, port and user, with the scratch database. */
        PQconninfoOption *opts = PQconninfo(admin);
        size_t len = 0;
        conninfo[0] = '\0';
        for (PQconninfoOption *o = opts; o && o->keyword; o++) {
            if (o->val == NULL || *o->val == '\0' || strcmp(o->keyword, "dbname") == 0)
                continue;
            if (len + strlen(o->val) * 2 + 32 >= sizeof(conninfo) - sizeof(scratch_kv))
                break;
            if (strcmp(o->keyword, "host") && strcmp(o->keyword, "hostaddr") &&
                strcmp(o->keyword, "port") && strcmp(o->keyword, "user") &&
                strcmp(o->keyword, "password") && strcmp(o->keyword, "sslmode"))
                continue;
            len += (size_t)snprintf(conninfo + len, sizeof(conninfo) - len, "%s='", o->keyword);
            for (const char *c = o->val; *c != '\0' && len + 4 < sizeof(conninfo); c++) {
                if (*c == '\'' || *c == '\\')
                    conninfo[len++] = '\\';
                conninfo[len++] = *c;
            }
            len += (size_t)snprintf(conninfo + len, sizeof(conninfo) - len, "' ");
        }
        PQconninfoFree(opts);
        snprintf(conninfo + len, sizeof(conninfo) - len, "%s", scratch_kv);
    } else {
        snprintf(conninfo, sizeof(conninfo), "%s", url);
    }
    if (!migrate(conninfo))
        goto out;

    conn = PQconnectdb(conninfo);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "could not connect: %s", PQerrorMessage(conn));
        goto out;
    }
    if (!scratch && query_count(conn,
                                "select count(*) from spool.job_live where status "
                                "in ('pending','scheduled','failed','blocked')",
                                NULL) != 0) {
        fprintf(stderr, "the database holds live jobs of other tests; cannot run here\n");
        goto out;
    }

    /* ---- setup: the type and the jobs --------------------------------------------------- */
    {
        const char *params[1] = {type};
        char *v = query_value(conn,
                              "select name from spool.register_type(name => $1, max_attempts => 1, "
                              "description => 'test_concurrency')",
                              1, params);
        check(v != NULL && strcmp(v, type) == 0, "register type %s", type);
        free(v);
        if (failed)
            goto out;
    }
    double t0 = now_s();
    for (long long done = 0; done < njobs;) {
        long long chunk = njobs - done < CONC_SUBMIT_CHUNK ? njobs - done : CONC_SUBMIT_CHUNK;
        char first[32], count[32];
        snprintf(first, sizeof(first), "%lld", done);
        snprintf(count, sizeof(count), "%lld", chunk);
        const char *params[3] = {type, first, count};
        char *v = query_value(conn,
                              "select count(*) from spool.submit_many(jobs => ("
                              "select jsonb_agg(jsonb_build_object('type', $1::text, "
                              "'payload', jsonb_build_object('i', g)) order by g) "
                              "from generate_series($2::bigint, $2::bigint + $3::bigint - 1) g))",
                              3, params);
        bool ok = v != NULL && strtoll(v, NULL, 10) == chunk;
        free(v);
        if (!ok) {
            check(false, "submit_many chunk at %lld", done);
            goto out;
        }
        done += chunk;
    }
    double t_submit = now_s() - t0;
    check(query_count(conn,
                      "select count(*) from spool.job_live where type = $1 and status = 'pending'",
                      type) == njobs,
          "%lld jobs submitted and pending", njobs);
    printf("# submitted %lld jobs in %.2f s (%.0f jobs/s)\n", njobs, t_submit, njobs / t_submit);

    /* ---- the claimers -------------------------------------------------------------------- */
    pthread_t threads[CONC_THREADS];
    bool started[CONC_THREADS] = {false};
    t0 = now_s();
    for (int i = 0; i < CONC_THREADS; i++) {
        workers[i].index = i;
        workers[i].conninfo = conninfo;
        workers[i].hot_path = i % 2 == 0;
        started[i] = pthread_create(&threads[i], NULL, worker_main, &workers[i]) == 0;
        check(started[i], "start claimer conc-%d", i);
    }
    for (int i = 0; i < CONC_THREADS; i++)
        if (started[i])
            pthread_join(threads[i], NULL);
    double t_run = now_s() - t0;

    size_t total = 0, calls = 0;
    for (int i = 0; i < CONC_THREADS; i++) {
        check(workers[i].error[0] == '\0', "claimer conc-%d (%s) ran without errors%s%s", i,
              workers[i].hot_path ? "complete_and_claim" : "claim + complete_many",
              workers[i].error[0] ? ": " : "", workers[i].error);
        printf("# conc-%d claimed %zu jobs in %zu calls\n", i, workers[i].nids, workers[i].calls);
        total += workers[i].nids;
        calls += workers[i].calls;
    }
    printf("# claimed and completed %zu jobs in %.2f s (%.0f jobs/s, %zu calls)\n", total, t_run,
           total / t_run, calls);

    /* ---- in memory: no id claimed twice ---------------------------------------------------- */
    all = malloc((total ? total : 1) * sizeof(*all));
    if (all == NULL)
        goto out;
    size_t k = 0;
    for (int i = 0; i < CONC_THREADS; i++) {
        memcpy(all + k, workers[i].ids, workers[i].nids * sizeof(*all));
        k += workers[i].nids;
    }
    qsort(all, total, sizeof(*all), id_cmp);
    size_t dups = 0;
    for (size_t i = 1; i < total; i++)
        if (memcmp(&all[i - 1], &all[i], sizeof(*all)) == 0)
            dups++;
    check(dups == 0, "no job claimed twice across threads (%zu duplicates)", dups);
    check((long long)total == njobs, "claimed %zu of %lld jobs", total, njobs);

    /* ---- in the database ------------------------------------------------------------------ */
    long long n;
    n = query_count(
        conn, "select count(*) from spool.job_archive where type = $1 and status = 'completed'",
        type);
    check(n == njobs, "job_archive holds %lld completed jobs of the type (want %lld)", n, njobs);
    n = query_count(
        conn, "select count(*) from spool.job_archive where type = $1 and status <> 'completed'",
        type);
    check(n == 0, "no archived job of the type in another status (%lld)", n);
    n = query_count(conn, "select count(*) from spool.job_live where type = $1", type);
    check(n == 0, "job_live holds no job of the type (%lld)", n);
    n = query_count(
        conn, "select count(*) from spool.job_archive where type = $1 and attempts <> 1", type);
    check(n == 0, "attempts = 1 for every job (%lld differ)", n);
    n = query_count(conn,
                    "select count(*) from (select job_id, "
                    "count(*) filter (where kind = 'claimed') as claimed, "
                    "count(*) filter (where kind = 'completed') as completed "
                    "from spool.events where type = $1 group by job_id) e "
                    "where claimed <> 1 or completed <> 1",
                    type);
    check(n == 0, "exactly one 'claimed' and one 'completed' event per job (%lld differ)", n);
    n = query_count(conn,
                    "select count(distinct job_id) from spool.events "
                    "where type = $1 and kind = 'completed'",
                    type);
    check(n == njobs, "completed events name %lld distinct jobs (want %lld)", n, njobs);
    rc = 0;

out:
    PQfinish(conn);
    if (scratch && admin != NULL && PQstatus(admin) == CONNECTION_OK) {
        char sql[160];
        char *ident = PQescapeIdentifier(admin, dbname, strlen(dbname));
        if (ident != NULL) {
            snprintf(sql, sizeof(sql), "drop database if exists %s with (force)", ident);
            PQfreemem(ident);
            PQclear(PQexec(admin, sql));
        }
    }
    PQfinish(admin);
    for (int i = 0; i < CONC_THREADS; i++)
        free(workers[i].ids);
    free(all);
    if (rc != 0)
        failed++;
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}

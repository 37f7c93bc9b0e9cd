/*
 * cli_import_prisma: `spool import-prisma`, the migration of a Prisma-era "Job" table (and
 * its "Task" rows) into Spool jobs of one type.
 *
 * The source is read in keyset batches (import_prisma_source); each batch is mapped in
 * memory (import_prisma_map) into COPY lines, staged in the target session's temporary
 * tables and applied by spool.import_apply in one transaction per batch, together with the
 * run's position in spool.import_runs: a run that is killed resumes after its last
 * committed batch, and a later run rewrites only rows whose checksum changed. --verify
 * stages the same lines and compares them with what Spool holds (spool.import_verify);
 * --dry-run applies nothing (the batch's transaction is rolled back).
 *
 * Two connections, even when source and target are the same database: the source session
 * is read-only. Memory is bounded by the batch: its source results and its COPY text.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_commands.h"
#include "cli_output.h"
#include "import_prisma_map.h"
#include "import_prisma_report.h"
#include "import_prisma_source.h"
#include "sp_log.h"
#include "sp_migrate.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define DEFAULT_BATCH 5000
#define MAX_BATCH 100000
#define COPY_MAX ((size_t)1 << 30) /* one batch's COPY text */
#define SCRATCH_MAX ((size_t)256 << 20)
#define MISMATCH_SHOWN 20
#define IMPORT_LOCK_KEY2 5 /* pg_advisory_lock(1397772111, 5): one import per target */

static const cli_opt_def import_opts[] = {
    {"source-url", CLI_OPT_VALUE, "URL", "the Prisma database (required)"},
    {"target-url", CLI_OPT_VALUE, "URL",
     "the Spool database (default: --database-url, else the source)"},
    {"source-schema", CLI_OPT_VALUE, "NAME", "schema of the Prisma tables (default public)"},
    {"type", CLI_OPT_VALUE, "NAME", "job type of the imported jobs (default evaluation)"},
    {"running", CLI_OPT_VALUE, "MODE", "RUNNING rows: requeue (default) or fail"},
    {"batch", CLI_OPT_VALUE, "N", "jobs per transaction (default 5000)"},
    {"since", CLI_OPT_VALUE, "TIMESTAMP",
     "only jobs changed since (updatedAt, their tasks or retries)"},
    {"dry-run", CLI_OPT_FLAG, NULL, "report what would happen; write nothing"},
    {"verify", CLI_OPT_FLAG, NULL,
     "compare an earlier import with the source; exit 1 on any difference"},
    {"progress", CLI_OPT_VALUE, "WHEN", "auto (a bar on a terminal), bar, log or none"},
};

typedef struct {
    const char *type;
    const char *since; /* normalised by the target, or NULL */
    const char *schema;
    cli_pmap_running running;
    int batch;
    bool dry_run, verify;
    int progress; /* 0 none, 1 log lines, 2 bar */
} import_options;

/* Per-run state. */
typedef struct {
    cli_ctx *ctx;
    import_options o;
    cli_psrc *src;
    sp_db *dst;
    bool same_db;
    int64_t run_id; /* 0: no run row (dry run, verify) */
    char *position; /* owned: last committed legacy id */
    int64_t total, done;
    sp_buf *jobs_buf, *tasks_buf, *scratch;
    cli_psrc_batch batch;
    cli_pimp_counts counts;
    double t_fetch, t_map, t_stage, t_apply, t_commit; /* seconds per phase (debug log) */
    struct timespec started, last_progress;
    char err[2048];
} import_run;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail_db(import_run *r, sp_db *db, const char *what)
{
    const char *detail = sp_db_err_detail(db);
    fprintf(stderr, "error: %s: %s\n", what, sp_db_err_message(db));
    if (detail[0] != '\0')
        fprintf(stderr, "detail: %s\n", detail);
    (void)r;
    return CLI_EXIT_FAIL;
}

/* ---- progress ------------------------------------------------------------------------- */

static void progress(import_run *r, bool final)
{
    if (r->o.progress == 0)
        return;
    double t = now_s();
    static double last = 0;
    double every = r->o.progress == 2 ? 0.2 : 5.0;
    if (!final && t - last < every)
        return;
    last = t;
    double elapsed = t - ((double)r->started.tv_sec + (double)r->started.tv_nsec / 1e9);
    double rate = elapsed > 0 ? (double)r->done / elapsed : 0;
    int64_t left = r->total > r->done ? r->total - r->done : 0;
    int64_t eta = rate > 0 ? (int64_t)((double)left / rate) : 0;
    sp_log_debug("import", "phases",
                 "fetch_s=%.2f map_s=%.2f stage_s=%.2f apply_s=%.2f commit_s=%.2f", r->t_fetch,
                 r->t_map, r->t_stage, r->t_apply, r->t_commit);
    if (r->o.progress == 2) {
        int pct = r->total > 0 ? (int)(r->done * 100 / r->total) : 100;
        char bar[31];
        int fill = pct * 30 / 100;
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        fprintf(stderr,
                "\r[%s] %3d%% %" PRId64 "/%" PRId64 " rows  %.0f rows/s  ETA %" PRId64 ":%02" PRId64
                " ",
                bar, pct, r->done, r->total, rate, eta / 60, eta % 60);
        if (final)
            fputc('\n', stderr);
        fflush(stderr);
    } else {
        sp_log_info("import", final ? "done" : "progress",
                    "rows=%" PRId64 " total=%" PRId64 " rows_per_s=%.0f eta_s=%" PRId64, r->done,
                    r->total, rate, eta);
    }
}

/* ---- mapping one batch ---------------------------------------------------------------- */

static const char *v(const sp_db_res *res, int row, int col)
{
    return sp_db_res_value(res, row, col);
}

/* Maps a batch into r->jobs_buf and r->tasks_buf. */
static int map_batch(import_run *r, const cli_psrc_batch *b)
{
    const sp_db_res *jobs = b->jobs;
    int n = sp_db_res_nrows(jobs), rc;
    cli_pmap_options opts = {r->o.type, r->o.running};
    sp_buf_reset(r->jobs_buf);
    sp_buf_reset(r->tasks_buf);
    for (int i = 0; i < n; i++) {
        const char *succ = v(jobs, i, CLI_PSRC_J_SUCCESSOR);
        cli_pmap_job job = {
            .id = v(jobs, i, CLI_PSRC_J_ID),
            .status = v(jobs, i, CLI_PSRC_J_STATUS),
            .attempts = v(jobs, i, CLI_PSRC_J_ATTEMPTS),
            .error = v(jobs, i, CLI_PSRC_J_ERROR),
            .started_at = v(jobs, i, CLI_PSRC_J_STARTED),
            .completed_at = v(jobs, i, CLI_PSRC_J_COMPLETED),
            .created_at = v(jobs, i, CLI_PSRC_J_CREATED),
            .updated_at = v(jobs, i, CLI_PSRC_J_UPDATED),
            .llm_thinking = v(jobs, i, CLI_PSRC_J_THINKING),
            .cost_in_cents = v(jobs, i, CLI_PSRC_J_CENTS),
            .price_in_dollars = v(jobs, i, CLI_PSRC_J_DOLLARS),
            .duration_seconds = v(jobs, i, CLI_PSRC_J_DURATION),
            .logs = v(jobs, i, CLI_PSRC_J_LOGS),
            .evaluation_id = v(jobs, i, CLI_PSRC_J_EVAL),
            .evaluation_version_id = v(jobs, i, CLI_PSRC_J_EVAL_VERSION),
            .agent_eval_batch_id = v(jobs, i, CLI_PSRC_J_BATCH),
            .original_job_id = v(jobs, i, CLI_PSRC_J_ORIGINAL),
            .root_id = v(jobs, i, CLI_PSRC_J_ROOT),
            .has_successor = succ != NULL && succ[0] == 't',
            .document_id = v(jobs, i, CLI_PSRC_J_DOCUMENT),
            .agent_id = v(jobs, i, CLI_PSRC_J_AGENT),
            .pgboss_job_id = v(jobs, i, CLI_PSRC_J_PGBOSS),
            .cancelled_at = v(jobs, i, CLI_PSRC_J_CANCELLED_AT),
            .cancelled_by_id = v(jobs, i, CLI_PSRC_J_CANCELLED_BY),
            .cancellation_reason = v(jobs, i, CLI_PSRC_J_CANCEL_REASON),
            .telemetry_progress = v(jobs, i, CLI_PSRC_J_TELEMETRY),
        };
        cli_pmap_outcome oc;
        rc = cli_pmap_job_lines(&job, b->count[i] > 0 ? &b->tasks[b->first[i]] : NULL,
                                (size_t)b->count[i], &opts, r->jobs_buf, r->tasks_buf, r->scratch,
                                &oc, r->err, sizeof(r->err));
        if (rc == SP_E_RANGE)
            snprintf(r->err, sizeof(r->err),
                     "batch ending at job %s is larger than %zu MiB: use a smaller --batch", job.id,
                     COPY_MAX >> 20);
        if (rc < 0)
            return rc;
        cli_pimp_count_job(&r->counts, job.status, oc.status, b->count[i]);
    }
    return 0;
}

/* ---- one batch on the target ---------------------------------------------------------- */

static int stage(import_run *r)
{
    if (sp_db_copy_begin(r->dst, "COPY pg_temp.import_jobs FROM STDIN") < 0 ||
        sp_db_copy_put(r->dst, sp_buf_data(r->jobs_buf), sp_buf_len(r->jobs_buf)) < 0 ||
        sp_db_copy_end(r->dst, NULL) < 0)
        return SP_E_DB;
    if (sp_buf_len(r->tasks_buf) == 0)
        return 0;
    if (sp_db_copy_begin(r->dst, "COPY pg_temp.import_tasks FROM STDIN") < 0 ||
        sp_db_copy_put(r->dst, sp_buf_data(r->tasks_buf), sp_buf_len(r->tasks_buf)) < 0 ||
        sp_db_copy_end(r->dst, NULL) < 0)
        return SP_E_DB;
    return 0;
}

static int apply_batch(import_run *r, const char *position, int scanned)
{
    char run[24], n[16];
    sp_db_res *res = NULL;
    snprintf(run, sizeof(run), "%" PRId64, r->run_id);
    snprintf(n, sizeof(n), "%d", scanned);
    const char *params[] = {r->run_id > 0 ? run : NULL, r->o.type, position, n,
                            r->o.dry_run ? "true" : "false"};
    if (sp_db_exec_params(r->dst,
                          "SELECT * FROM spool.import_apply(p_run => $1, p_type => $2,"
                          " p_position => $3, p_scanned => $4, p_dry_run => $5)",
                          5, params, &res) < 0)
        return SP_E_DB;
    r->counts.inserted += strtoll(v(res, 0, 0), NULL, 10);
    r->counts.updated += strtoll(v(res, 0, 1), NULL, 10);
    r->counts.unchanged += strtoll(v(res, 0, 2), NULL, 10);
    int64_t conflicts = strtoll(v(res, 0, 3), NULL, 10);
    r->counts.conflicts += conflicts;
    r->counts.tasks_written += strtoll(v(res, 0, 4), NULL, 10);
    if (conflicts > 0) {
        char q[512];
        sp_log_warn("import", "conflict",
                    "jobs=%" PRId64 " legacy_ids=%s reason=\"changed in Spool since imported\"",
                    conflicts, sp_log_quote(v(res, 0, 5), q, sizeof(q)));
    }
    sp_db_res_free(res);
    return 0;
}

static int verify_batch(import_run *r)
{
    sp_db_res *res = NULL;
    const char *params[] = {r->o.type};
    if (sp_db_exec_params(r->dst, "SELECT * FROM spool.import_verify($1)", 1, params, &res) < 0)
        return SP_E_DB;
    for (int i = 0; i < sp_db_res_nrows(res); i++) {
        if (r->counts.mismatches < MISMATCH_SHOWN) {
            const char *e = v(res, i, 3), *a = v(res, i, 4);
            printf("mismatch: legacy job %s (job %s) %s: expected %.200s, found %.200s\n",
                   v(res, i, 0), v(res, i, 1), v(res, i, 2), e ? e : "NULL", a ? a : "NULL");
        }
        r->counts.mismatches++;
    }
    sp_db_res_free(res);
    return 0;
}

/* Runs one batch: fetch, map, stage, apply or verify, commit (rollback when dry). Sets
 * *scanned to the batch's job count (0: done). Returns an exit code. */
static int run_batch(import_run *r, int *scanned)
{
    cli_psrc_batch *b = &r->batch;
    int rc = CLI_EXIT_FAIL;
    *scanned = 0;
    double t = now_s(), t2;
    if (cli_psrc_next(r->src, r->o.batch, b, r->err, sizeof(r->err)) < 0) {
        fprintf(stderr, "error: %s\n", r->err);
        return CLI_EXIT_FAIL;
    }
    const sp_db_res *jobs = b->jobs;
    int n = sp_db_res_nrows(jobs);
    if (n == 0) {
        rc = CLI_EXIT_OK;
        goto out;
    }
    t2 = now_s();
    r->t_fetch += t2 - t;
    t = t2;
    if (map_batch(r, b) < 0) {
        fprintf(stderr,
                "error: %s\nhint: nothing of this batch was written; fix the row and "
                "run again to resume\n",
                r->err);
        goto out;
    }
    const char *last = v(jobs, n - 1, CLI_PSRC_J_ID);
    t2 = now_s();
    r->t_map += t2 - t;
    t = t2;
    if (sp_db_exec_params(r->dst, "BEGIN", 0, NULL, NULL) < 0 || stage(r) < 0) {
        rc = fail_db(r, r->dst, "could not stage a batch in the target");
        sp_db_rollback(r->dst);
        goto out;
    }
    t2 = now_s();
    r->t_stage += t2 - t;
    t = t2;
    int brc = r->o.verify ? verify_batch(r) : apply_batch(r, last, n);
    if (brc < 0) {
        rc = fail_db(r, r->dst,
                     r->o.verify ? "could not verify a batch" : "could not import a batch");
        sp_db_rollback(r->dst);
        goto out;
    }
    t2 = now_s();
    r->t_apply += t2 - t;
    t = t2;
    if (sp_db_exec_params(r->dst, r->o.dry_run ? "ROLLBACK" : "COMMIT", 0, NULL, NULL) < 0) {
        rc = fail_db(r, r->dst, "could not commit a batch");
        goto out;
    }
    r->t_commit += now_s() - t;
    char *pos = strdup(last);
    if (pos == NULL) {
        fputs("error: out of memory\n", stderr);
        goto out;
    }
    free(r->position);
    r->position = pos;
    r->done += n;
    r->counts.scanned += n;
    *scanned = n;
    rc = CLI_EXIT_OK;
out:
    return rc;
}

/* ---- setup ---------------------------------------------------------------------------- */

static const char payload_schema[] =
    "{\"required\":[\"evaluationId\",\"documentId\",\"agentId\"],\"properties\":{"
    "\"evaluationId\":{\"type\":\"string\"},\"documentId\":{\"type\":\"string\"},"
    "\"agentId\":{\"type\":\"string\"},\"evaluationVersionId\":{\"type\":[\"string\",\"null\"]},"
    "\"agentEvalBatchId\":{\"type\":[\"string\",\"null\"]}}}";

/* Registers the type when it is missing (the legacy rules: 3 attempts, 30 min timeout;
 * a retention long enough that prune() keeps the history); warns when an existing type
 * would prune imported jobs. */
static int ensure_type(import_run *r, const char *oldest)
{
    sp_db_res *res = NULL;
    const char *p1[] = {r->o.type, oldest};
    if (sp_db_exec_params(r->dst,
                          "SELECT retention::text, retention < now() - $2::timestamptz"
                          " FROM spool.job_types WHERE name = $1",
                          2, p1, &res) < 0)
        return fail_db(r, r->dst, "could not read the job type");
    if (sp_db_res_nrows(res) > 0) {
        const char *short_ = v(res, 0, 1);
        if (short_ != NULL && short_[0] == 't')
            sp_log_warn("import", "retention",
                        "type=%s retention=\"%s\" hint=\"prune() will remove imported jobs older "
                        "than that: spool types set %s --retention '100 years'\"",
                        r->o.type, v(res, 0, 0), r->o.type);
        sp_db_res_free(res);
        return 0;
    }
    sp_db_res_free(res);
    if (r->o.dry_run || r->o.verify) {
        sp_log_info("import", "type", "type=%s registered=false note=\"would be registered\"",
                    r->o.type);
        return 0;
    }
    const char *p2[] = {r->o.type, payload_schema};
    if (sp_db_exec_params(
            r->dst,
            "SELECT spool.register_type(name => $1, max_attempts => 3,"
            " timeout_seconds => 1800, retention => '100 years',"
            " payload_schema => $2::jsonb,"
            " description => 'document evaluations imported from the Prisma Job table')",
            2, p2, NULL) < 0)
        return fail_db(r, r->dst, "could not register the job type");
    sp_log_info("import", "type", "type=%s registered=true max_attempts=3 retention=\"100 years\"",
                r->o.type);
    return 0;
}

/* Finds the run to resume (same source and options, still running) or starts one. */
static int start_run(import_run *r, const char *source)
{
    sp_db_res *res = NULL;
    json_object *opts = json_object_new_object();
    json_object_object_add(opts, "type", json_object_new_string(r->o.type));
    json_object_object_add(
        opts, "running",
        json_object_new_string(r->o.running == CLI_PMAP_RUNNING_FAIL ? "fail" : "requeue"));
    json_object_object_add(opts, "since", r->o.since ? json_object_new_string(r->o.since) : NULL);
    json_object_object_add(opts, "schema", json_object_new_string(r->o.schema));
    const char *params[] = {source, sp_json_to_string(opts, false), cli_psrc_shape(r->src)->name};
    int rc = sp_db_exec_params(r->dst,
                               "SELECT id, position, rows_done FROM spool.import_runs"
                               " WHERE status = 'running' AND source = $1 AND options = $2::jsonb"
                               " AND shape = $3 ORDER BY id DESC LIMIT 1",
                               3, params, &res);
    if (rc == 0 && sp_db_res_nrows(res) == 0) {
        sp_db_res_free(res);
        res = NULL;
        rc = sp_db_exec_params(r->dst,
                               "INSERT INTO spool.import_runs (source, options, shape)"
                               " VALUES ($1, $2::jsonb, $3) RETURNING id, position, rows_done",
                               3, params, &res);
    } else if (rc == 0) {
        const char *pos = v(res, 0, 1);
        sp_log_info("import", "resume", "run=%s after_legacy_id=%s rows_done=%s", v(res, 0, 0),
                    pos ? pos : "-", v(res, 0, 2));
        r->counts.resumed = true;
        r->counts.resumed_rows = strtoll(v(res, 0, 2), NULL, 10);
    }
    json_object_put(opts);
    if (rc < 0)
        return fail_db(r, r->dst, "could not record the run");
    r->run_id = strtoll(v(res, 0, 0), NULL, 10);
    if (v(res, 0, 1) != NULL && (r->position = strdup(v(res, 0, 1))) == NULL) {
        sp_db_res_free(res);
        fputs("error: out of memory\n", stderr);
        return CLI_EXIT_FAIL;
    }
    sp_db_res_free(res);
    return 0;
}

static int finish_run(import_run *r)
{
    char run[24];
    snprintf(run, sizeof(run), "%" PRId64, r->run_id);
    const char *params[] = {run};
    if (sp_db_exec_params(r->dst,
                          "UPDATE spool.import_runs SET status = 'done', finished_at = now(),"
                          " updated_at = now() WHERE id = $1",
                          1, params, NULL) < 0)
        return fail_db(r, r->dst, "could not record the end of the run");
    return 0;
}

static const char identity_sql[] =
    "SELECT current_database() || '/' || pg_postmaster_start_time()::text || '/'"
    " || coalesce(inet_server_port()::text, current_setting('port'))";

static int db_identity(sp_db *db, char *out, size_t outlen)
{
    sp_db_res *res = NULL;
    if (sp_db_exec_params(db, identity_sql, 0, NULL, &res) < 0)
        return SP_E_DB;
    snprintf(out, outlen, "%s", v(res, 0, 0));
    sp_db_res_free(res);
    return 0;
}

static int open_target(import_run *r, const char *url, const char *source_url)
{
    char redacted[512], err[512], a[256], b[256];
    int64_t timeout_ms = sp_config_duration_ms(r->ctx->cfg, "connect_timeout");
    sp_migrate_state st;
    if (sp_db_new(&r->dst) < 0) {
        fputs("error: out of memory\n", stderr);
        return CLI_EXIT_FAIL;
    }
    if (sp_db_connect(r->dst, url, (int)((timeout_ms + 999) / 1000)) < 0) {
        sp_log_redact_url(url, redacted, sizeof(redacted));
        fprintf(stderr, "error: could not connect to the target %s: %s\n", redacted,
                sp_db_err_message(r->dst));
        return CLI_EXIT_FAIL;
    }
    if (sp_migrate_status(r->dst, &st, err, sizeof(err)) < 0) {
        fprintf(stderr, "error: %s\n", err);
        return CLI_EXIT_FAIL;
    }
    if (!st.ready) {
        fputs("error: the target's spool schema is not up to date\n"
              "hint: run 'spool migrate' against the target first\n",
              stderr);
        return CLI_EXIT_FAIL;
    }
    sp_db_res *res = NULL;
    if (sp_db_exec_params(r->dst,
                          "SELECT set_config('TimeZone', 'UTC', false),"
                          " pg_try_advisory_lock(1397772111, 5), spool.import_prepare()",
                          0, NULL, &res) < 0)
        return fail_db(r, r->dst, "could not prepare the target session");
    bool locked = v(res, 0, 1)[0] == 't';
    sp_db_res_free(res);
    if (!locked) {
        fputs("error: another import-prisma is running against the target database\n", stderr);
        return CLI_EXIT_FAIL;
    }
    r->same_db = strcmp(url, source_url) == 0 ||
                 (db_identity(r->dst, a, sizeof(a)) == 0 &&
                  db_identity(cli_psrc_db(r->src), b, sizeof(b)) == 0 && strcmp(a, b) == 0);
    return 0;
}

/* ---- the command ---------------------------------------------------------------------- */

static int parse_options(const cli_command *cmd, const cli_args *args, import_options *o)
{
    int64_t batch = DEFAULT_BATCH;
    const char *running = cli_args_get(args, "running");
    const char *prog = cli_args_get(args, "progress");
    int rc;
    if ((rc = cli_check_int_option(cmd, args, "batch", 1, MAX_BATCH)) != 0)
        return rc;
    if (cli_args_get(args, "batch") != NULL &&
        cli_parse_int(cli_args_get(args, "batch"), 1, MAX_BATCH, &batch) < 0)
        return CLI_EXIT_USAGE;
    o->batch = (int)batch;
    o->type = cli_args_get(args, "type") ? cli_args_get(args, "type") : "evaluation";
    o->schema =
        cli_args_get(args, "source-schema") ? cli_args_get(args, "source-schema") : "public";
    o->since = cli_args_get(args, "since");
    o->dry_run = cli_args_has(args, "dry-run");
    o->verify = cli_args_has(args, "verify");
    if (cli_pmap_parse_running(running ? running : "requeue", &o->running) < 0)
        return cli_usage_error(cmd, "--running must be requeue or fail, not \"%s\"", running);
    if (o->dry_run && o->verify)
        return cli_usage_error(cmd, "--dry-run and --verify do not go together (--verify "
                                    "writes nothing already)");
    if (prog == NULL || strcmp(prog, "auto") == 0)
        o->progress = isatty(STDERR_FILENO) ? 2 : 1;
    else if (strcmp(prog, "bar") == 0)
        o->progress = 2;
    else if (strcmp(prog, "log") == 0)
        o->progress = 1;
    else if (strcmp(prog, "none") == 0)
        o->progress = 0;
    else
        return cli_usage_error(cmd, "--progress must be auto, bar, log or none, not \"%s\"", prog);
    return 0;
}

/* Normalises --since through the target (so "2025-07-01" and time zones work as in SQL). */
static int check_since(import_run *r, char *buf, size_t len)
{
    sp_db_res *res = NULL;
    if (r->o.since == NULL)
        return 0;
    const char *params[] = {r->o.since};
    if (sp_db_exec_params(r->dst, "SELECT $1::timestamptz::text", 1, params, &res) < 0) {
        fprintf(stderr, "error: --since \"%s\" is not a timestamp: %s\n", r->o.since,
                sp_db_err_message(r->dst));
        return CLI_EXIT_USAGE;
    }
    snprintf(buf, len, "%s", v(res, 0, 0));
    r->o.since = buf;
    sp_db_res_free(res);
    return 0;
}

static int import_main(cli_ctx *ctx, const cli_command *cmd, const cli_args *args)
{
    import_run r = {.ctx = ctx};
    char redacted[512], since_buf[64];
    int rc;
    sp_db_res *src_status = NULL, *src_other = NULL;
    if ((rc = parse_options(cmd, args, &r.o)) != 0)
        return rc;
    const char *source_url = cli_args_get(args, "source-url");
    if (source_url == NULL)
        return cli_usage_error(cmd, "--source-url is required");
    const char *target_url = cli_args_get(args, "target-url");
    if (target_url == NULL)
        target_url = sp_config_string(ctx->cfg, "database_url");
    if (target_url == NULL || target_url[0] == '\0')
        target_url = source_url;

    int64_t timeout_ms = sp_config_duration_ms(ctx->cfg, "connect_timeout");
    rc = CLI_EXIT_FAIL;
    if (cli_psrc_open(&r.src, source_url, r.o.schema, (int)((timeout_ms + 999) / 1000), r.err,
                      sizeof(r.err)) < 0) {
        fprintf(stderr, "error: %s\n", r.err);
        goto out;
    }
    sp_log_redact_url(source_url, redacted, sizeof(redacted));
    if ((rc = open_target(&r, target_url, source_url)) != 0)
        goto out;
    rc = CLI_EXIT_FAIL;
    sp_log_info("import", "start", "shape=\"%s\" mode=%s type=%s running=%s batch=%d%s%s",
                cli_psrc_shape(r.src)->name, r.same_db ? "same-database" : "two-databases",
                r.o.type, r.o.running == CLI_PMAP_RUNNING_FAIL ? "fail" : "requeue", r.o.batch,
                r.o.dry_run ? " dry_run=true" : "", r.o.verify ? " verify=true" : "");
    if ((rc = check_since(&r, since_buf, sizeof(since_buf))) != 0)
        goto out;
    rc = CLI_EXIT_FAIL;
    if (cli_psrc_preflight(r.src, r.err, sizeof(r.err)) < 0) {
        fprintf(stderr,
                "error: the source breaks the legacy schema's rules: %s\n"
                "hint: nothing was imported; fix these rows in the source and run again\n",
                r.err);
        goto out;
    }
    if (cli_psrc_totals(r.src, &src_status, &src_other, r.err, sizeof(r.err)) < 0) {
        fprintf(stderr, "error: %s\n", r.err);
        goto out;
    }
    if ((rc = ensure_type(&r, sp_db_res_get(src_other, 0, "oldest"))) != 0)
        goto out;
    if (!r.o.dry_run && !r.o.verify && (rc = start_run(&r, redacted)) != 0)
        goto out;
    rc = CLI_EXIT_FAIL;
    if (cli_psrc_count(r.src, r.position, r.o.since, &r.total, r.err, sizeof(r.err)) < 0) {
        fprintf(stderr, "error: %s\n", r.err);
        goto out;
    }
    if (cli_psrc_start(r.src, r.position, r.o.since, r.err, sizeof(r.err)) < 0) {
        fprintf(stderr, "error: %s\n", r.err);
        goto out;
    }
    if (sp_buf_new(&r.jobs_buf, COPY_MAX) < 0 || sp_buf_new(&r.tasks_buf, COPY_MAX) < 0 ||
        sp_buf_new(&r.scratch, SCRATCH_MAX) < 0) {
        fputs("error: out of memory\n", stderr);
        goto out;
    }
    clock_gettime(CLOCK_MONOTONIC, &r.started);
    double t0 = now_s();
    for (;;) {
        int scanned;
        if ((rc = run_batch(&r, &scanned)) != 0)
            goto out;
        if (scanned == 0)
            break;
        progress(&r, false);
    }
    progress(&r, true);
    r.counts.seconds = now_s() - t0;
    if (r.run_id > 0 && (rc = finish_run(&r)) != 0)
        goto out;
    rc = cli_pimp_report(ctx->json, &r.counts,
                         &(cli_pimp_report_in){
                             .shape = cli_psrc_shape(r.src)->name,
                             .same_db = r.same_db,
                             .dry_run = r.o.dry_run,
                             .verify = r.o.verify,
                             .since = r.o.since != NULL,
                             .type = r.o.type,
                             .src_status = src_status,
                             .src_other = src_other,
                             .dst = r.dst,
                         });
out:
    cli_psrc_batch_clear(&r.batch);
    sp_db_res_free(src_status);
    sp_db_res_free(src_other);
    sp_buf_free(r.jobs_buf);
    sp_buf_free(r.tasks_buf);
    sp_buf_free(r.scratch);
    free(r.position);
    cli_psrc_free(r.src);
    sp_db_free(r.dst);
    return rc;
}

const cli_command cli_cmd_import_prisma = {
    .name = "import-prisma",
    .usage = "--source-url URL [--target-url URL] [--dry-run] [--batch N] [--since TIMESTAMP] "
             "[--verify] [--type NAME] [--running requeue|fail]",
    .summary = "import the Prisma-era Job table (and its tasks) as Spool jobs",
    .details =
        "Detects the legacy schema shape, checks the legacy rules (retries name an existing\n"
        "root, evaluations and jobs exist), then copies every \"Job\" row as a Spool job of\n"
        "--type (registered if missing) with the same id, its \"Task\" rows into\n"
        "spool.job_tasks, retries linked to their root through original_job_id. One\n"
        "transaction per batch records the run's position: run it again after an\n"
        "interruption to finish, or later to bring over what is new or changed (--since\n"
        "narrows the scan). RUNNING rows are re-queued, or with --running fail end dead with\n"
        "\"interrupted by migration\". --verify compares an earlier import with the source and\n"
        "exits 1 on any difference. The target must be migrated ('spool migrate'). See\n"
        "docs/import-prisma.md for the mapping and the cut-over.",
    .opts = import_opts,
    .nopts = ARRAY_LEN(import_opts),
    .min_pos = 0,
    .max_pos = 0,
    .run = import_main,
};

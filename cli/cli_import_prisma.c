/*
 * cli_import_prisma: `spool import-prisma`, the migration of a Prisma-era "Job" table (and
 * its "Task" rows) into Spool jobs of one type.
 *
 * Two threads. The reader reads the source in batches (import_prisma_source) and maps
 * each batch in memory (import_prisma_map) into COPY lines, and those into COPY binary
 * rows (import_prisma_binary); the writer (the main thread) writes the batches it is
 * handed, each in one transaction on the target together with the run's position in
 * spool.import_runs (spool.import_advance): a run that is killed resumes after its last
 * committed batch. So the source's work and the mapping overlap the target's. Per batch
 * the writer asks which job ids the target knows (spool.import_lookup, a range scan over
 * the batch's ids): new jobs go straight into spool.job_live/job_archive, job_tasks and
 * import_rows with COPY (binary, or text for a batch holding a value without an exact
 * binary form); jobs whose checksum is unchanged are skipped; the few others (changed
 * since imported, or held by a job Spool has run since) are staged in the session's
 * temporary tables and left to spool.import_apply. --verify stages every line and compares
 * it with what Spool holds (spool.import_verify); --dry-run classifies and writes nothing
 * (the batch's transaction is rolled back). Batches commit without waiting for the WAL
 * flush (synchronous_commit off: a crash can lose only the last batches, positions
 * included); the end of the run waits for it.
 *
 * Four connections, even when source and target are the same database: three read-only
 * source sessions sharing one snapshot (jobs cursor, tasks cursor, checks and totals; only
 * the reader uses the cursors once the writer loop runs) and the target session. Memory is
 * bounded by QUEUE_SLOTS + 1 batches: their source results, COPY text and binary rows.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_commands.h"
#include "cli_output.h"
#include "import_prisma_binary.h"
#include "import_prisma_map.h"
#include "import_prisma_report.h"
#include "import_prisma_source.h"
#include "sp_log.h"
#include "sp_migrate.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define DEFAULT_BATCH 5000
#define MAX_BATCH 100000
#define COPY_MAX ((size_t)1 << 30)     /* one batch's COPY text */
#define COPY_CHUNK ((size_t)256 << 10) /* COPY data sent as it is built, in pieces of this */
#define SCRATCH_MAX ((size_t)256 << 20)
#define MISMATCH_SHOWN 20
#define IMPORT_LOCK_KEY2 5 /* pg_advisory_lock(1397772111, 5): one import per target */
#define QUEUE_SLOTS 2      /* mapped batches waiting for the writer */

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

/* One mapped batch, as the reader hands it to the writer. */
typedef struct {
    cli_pmap_outcome *oc; /* n jobs, in source order */
    int n, cap;
    sp_buf *lines, *tasks; /* their COPY lines (cli_pmap_job_lines) */
    char *last;            /* owned: the legacy id of the last job (the run's position) */
    /* The same in COPY binary format, for the new jobs' COPY (import_prisma_binary), when
     * every line converted (binary; else the batch goes as text): job i's body fields are
     * bjobs[boff[3i] .. boff[3i+3]) (the fields only: the writer adds the row's field
     * count, the type's settings and seq), its import_rows fields brows[boff[3i+1] ..
     * boff[3i+4]) (the writer adds the field count and run_id), its task rows (whole)
     * btasks[boff[3i+2] .. boff[3i+5]). */
    bool binary;
    sp_buf *bjobs, *brows, *btasks;
    size_t *boff; /* 3 (n + 1) offsets */
} import_batch;

/* Per-run state. The reader thread owns src's cursors (once it runs; the main thread
 * keeps to src's checks and totals), rbatch, scratch, rerr, t_fetch and t_map; the queue
 * fields are shared under mu; everything else is the writer's. */
typedef struct {
    cli_ctx *ctx;
    import_options o;
    cli_psrc *src;
    sp_db *dst;
    bool same_db;
    int64_t run_id; /* 0: no run row (dry run, verify) */
    char *position; /* owned: last committed legacy id */
    int64_t total, done;
    char consts[256];  /* "\ttype\tqueue\tpriority\tmax_attempts\ttimeout\t" of new jobs */
    sp_buf *bconsts;   /* the same as binary fields */
    sp_buf *out, *ids; /* the writer's COPY data and id array */
    int *kind;         /* per job of the batch being written */
    int64_t *seq;
    size_t *toff; /* per job: its line's offset, its tasks' offset */
    int wcap;
    cli_pimp_counts counts;
    double t_fetch, t_map, t_lookup, t_copy, t_apply, t_commit; /* seconds (debug log) */
    struct timespec started;
    char err[2048];

    /* the reader */
    char rerr[2048]; /* the reader's own messages (err is the main thread's) */
    cli_psrc_batch rbatch;
    sp_buf *scratch;
    pthread_t reader;
    bool reader_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    import_batch slots[QUEUE_SLOTS];
    int head, count; /* filled slots, from head */
    bool eof, stop;  /* the reader is done; the writer asks it to stop */
    int reader_rc;   /* < 0: the reader failed with reader_err */
    char reader_err[2400];
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
                 "reader_fetch_s=%.2f reader_map_s=%.2f lookup_s=%.2f copy_s=%.2f apply_s=%.2f"
                 " commit_s=%.2f",
                 r->t_fetch, r->t_map, r->t_lookup, r->t_copy, r->t_apply, r->t_commit);
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

/* ---- the reader: fetching and mapping ------------------------------------------------ */

static const char *v(const sp_db_res *res, int row, int col)
{
    return sp_db_res_value(res, row, col);
}

static void batch_free(import_batch *b)
{
    free(b->oc);
    sp_buf_free(b->lines);
    sp_buf_free(b->tasks);
    sp_buf_free(b->bjobs);
    sp_buf_free(b->brows);
    sp_buf_free(b->btasks);
    free(b->boff);
    free(b->last);
    memset(b, 0, sizeof(*b));
}

/* Column types of the lines, for COPY binary: a job's body (CLI_PMAP_JOB_COLUMNS), the
 * import_rows columns its line goes on with (CLI_PMAP_ROW_COLUMNS), a task line
 * (CLI_PMAP_TASK_COLUMNS). */
static const cli_pbin_type body_types[] = {
    CLI_PBIN_UUID,        CLI_PBIN_TEXT,    CLI_PBIN_TIMESTAMPTZ, CLI_PBIN_JSONB,
    CLI_PBIN_JSONB,       CLI_PBIN_TEXT,    CLI_PBIN_JSONB,       CLI_PBIN_INT4,
    CLI_PBIN_JSONB,       CLI_PBIN_UUID,    CLI_PBIN_INT2,        CLI_PBIN_TIMESTAMPTZ,
    CLI_PBIN_TEXT,        CLI_PBIN_NUMERIC, CLI_PBIN_TIMESTAMPTZ, CLI_PBIN_TIMESTAMPTZ,
    CLI_PBIN_TIMESTAMPTZ,
};
static const cli_pbin_type row_types[] = {CLI_PBIN_TEXT, CLI_PBIN_TEXT, CLI_PBIN_TEXT};
static const cli_pbin_type task_types[] = {
    CLI_PBIN_UUID,  CLI_PBIN_UUID,        CLI_PBIN_TEXT,        CLI_PBIN_TEXT,
    CLI_PBIN_TEXT,  CLI_PBIN_NUMERIC,     CLI_PBIN_INT4,        CLI_PBIN_TEXT,
    CLI_PBIN_JSONB, CLI_PBIN_TIMESTAMPTZ, CLI_PBIN_TIMESTAMPTZ,
};
#define JOB_ROW_FIELDS                                                                             \
    (ARRAY_LEN(body_types) + 6)                    /* + type, queue, priority, max_attempts,       \
                                                      timeout_seconds, seq */
#define ROWS_ROW_FIELDS (ARRAY_LEN(row_types) + 4) /* + job_id, status, attempts, run_id */

/* Converts the batch's lines into b's binary buffers. Returns SP_E_INVAL when a value has
 * no exact binary conversion here (the batch then goes as text), SP_E_RANGE or SP_E_NOMEM
 * when memory runs out. */
static int binary_batch(import_batch *b)
{
    static const cli_pbin_type uuid_type = CLI_PBIN_UUID;
    int rc = 0;
    size_t lo = 0, to = 0;
    if (b->bjobs == NULL &&
        (sp_buf_new(&b->bjobs, COPY_MAX) < 0 || sp_buf_new(&b->brows, COPY_MAX) < 0 ||
         sp_buf_new(&b->btasks, COPY_MAX) < 0))
        return SP_E_NOMEM;
    size_t *grown = realloc(b->boff, 3 * ((size_t)b->cap + 1) * sizeof(*grown));
    if (grown == NULL)
        return SP_E_NOMEM;
    b->boff = grown;
    sp_buf_reset(b->bjobs);
    sp_buf_reset(b->brows);
    sp_buf_reset(b->btasks);
    for (int i = 0; i < b->n && rc == 0; i++) {
        const cli_pmap_outcome *oc = &b->oc[i];
        const char *line = sp_buf_data(b->lines) + lo;
        b->boff[3 * i] = sp_buf_len(b->bjobs);
        b->boff[3 * i + 1] = sp_buf_len(b->brows);
        b->boff[3 * i + 2] = sp_buf_len(b->btasks);
        rc = cli_pbin_fields(b->bjobs, line, oc->body_len, body_types, ARRAY_LEN(body_types), NULL);
        if (rc == 0)
            rc = cli_pbin_fields(b->brows, line + oc->body_len + 1, oc->line_len - oc->body_len - 1,
                                 row_types, ARRAY_LEN(row_types), NULL);
        if (rc == 0)
            rc = cli_pbin_fields(b->brows, oc->id, 36, &uuid_type, 1, NULL);
        if (rc == 0)
            rc = cli_pbin_text(b->brows, oc->status);
        if (rc == 0)
            rc = cli_pbin_int(b->brows, CLI_PBIN_INT4, oc->attempts);
        const char *t = sp_buf_data(b->tasks) + to, *tend = t + oc->tasks_len;
        for (size_t k = 0; k < oc->ntasks && rc == 0; k++) {
            size_t used = 0;
            if ((rc = cli_pbin_row(b->btasks, (int)ARRAY_LEN(task_types))) == 0)
                rc = cli_pbin_fields(b->btasks, t, (size_t)(tend - t), task_types,
                                     ARRAY_LEN(task_types), &used);
            t += used + 1; /* the newline */
        }
        lo += oc->line_len;
        to += oc->tasks_len;
    }
    b->boff[3 * b->n] = sp_buf_len(b->bjobs);
    b->boff[3 * b->n + 1] = sp_buf_len(b->brows);
    b->boff[3 * b->n + 2] = sp_buf_len(b->btasks);
    return rc;
}

/* Maps the source batch sb into b. */
static int map_batch(import_run *r, const cli_psrc_batch *sb, import_batch *b)
{
    const sp_db_res *jobs = sb->jobs;
    int n = jobs != NULL ? sp_db_res_nrows(jobs) : 0, rc;
    cli_pmap_options opts = {r->o.type, r->o.running};
    if (b->lines == NULL &&
        (sp_buf_new(&b->lines, COPY_MAX) < 0 || sp_buf_new(&b->tasks, COPY_MAX) < 0))
        goto nomem;
    if (n > b->cap) {
        cli_pmap_outcome *grown = realloc(b->oc, (size_t)n * sizeof(*grown));
        if (grown == NULL)
            goto nomem;
        b->oc = grown;
        b->cap = n;
    }
    sp_buf_reset(b->lines);
    sp_buf_reset(b->tasks);
    b->n = 0;
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
        rc = cli_pmap_job_lines(&job, sb->count[i] > 0 ? &sb->tasks[sb->first[i]] : NULL,
                                (size_t)sb->count[i], &opts, b->lines, b->tasks, r->scratch,
                                &b->oc[i], r->rerr, sizeof(r->rerr));
        if (rc == SP_E_RANGE)
            snprintf(r->rerr, sizeof(r->rerr),
                     "batch ending at job %s is larger than %zu MiB: use a smaller --batch", job.id,
                     COPY_MAX >> 20);
        if (rc < 0)
            return rc;
        b->n++;
    }
    free(b->last);
    b->last = n > 0 ? strdup(v(jobs, n - 1, CLI_PSRC_J_ID)) : NULL;
    if (n > 0 && b->last == NULL)
        goto nomem;
    /* Only new jobs are written from binary rows, and a dry run or --verify writes none. */
    b->binary = false;
    if (n > 0 && !r->o.dry_run && !r->o.verify) {
        rc = binary_batch(b);
        if (rc == SP_E_NOMEM || rc == SP_E_RANGE)
            goto nomem;
        b->binary = rc == 0;
        if (rc < 0)
            sp_log_debug("import", "text", "batch_last=%s reason=\"a value without a binary form\"",
                         b->last);
    }
    return 0;
nomem:
    snprintf(r->rerr, sizeof(r->rerr), "out of memory");
    return SP_E_NOMEM;
}

/* Reads and maps the next batch into b (b->n 0: the source is done). */
static int read_batch(import_run *r, import_batch *b)
{
    double t = now_s(), t2;
    if (cli_psrc_next(r->src, &r->rbatch, r->rerr, sizeof(r->rerr)) < 0) {
        snprintf(r->reader_err, sizeof(r->reader_err), "%s", r->rerr);
        return SP_E_DB;
    }
    t2 = now_s();
    r->t_fetch += t2 - t;
    if (map_batch(r, &r->rbatch, b) < 0) {
        snprintf(r->reader_err, sizeof(r->reader_err),
                 "%s\nhint: nothing of this batch was written; fix the row and run again to "
                 "resume",
                 r->rerr);
        return SP_E_INVAL;
    }
    r->t_map += now_s() - t2;
    return 0;
}

static void *reader_main(void *arg)
{
    import_run *r = arg;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        while (r->count == QUEUE_SLOTS && !r->stop)
            pthread_cond_wait(&r->cv, &r->mu);
        bool stop = r->stop;
        import_batch *b = &r->slots[(r->head + r->count) % QUEUE_SLOTS];
        pthread_mutex_unlock(&r->mu);
        if (stop)
            break;
        int rc = read_batch(r, b);
        pthread_mutex_lock(&r->mu);
        if (rc < 0)
            r->reader_rc = rc;
        else if (b->n == 0)
            r->eof = true;
        else
            r->count++;
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
        if (rc < 0 || b->n == 0)
            break;
    }
    return NULL;
}

static int reader_start(import_run *r)
{
    if (pthread_mutex_init(&r->mu, NULL) != 0)
        return SP_E_NOMEM;
    if (pthread_cond_init(&r->cv, NULL) != 0) {
        pthread_mutex_destroy(&r->mu);
        return SP_E_NOMEM;
    }
    if (pthread_create(&r->reader, NULL, reader_main, r) != 0) {
        pthread_cond_destroy(&r->cv);
        pthread_mutex_destroy(&r->mu);
        return SP_E_NOMEM;
    }
    r->reader_started = true;
    return 0;
}

/* Stops the reader (if it still runs) and waits for it. */
static void reader_stop(import_run *r)
{
    if (!r->reader_started)
        return;
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->reader, NULL);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    r->reader_started = false;
}

/* The next mapped batch (NULL with *rc 0: the source is done; NULL with *rc < 0: the reader
 * failed). The batch stays the writer's until batch_done. */
static import_batch *batch_next(import_run *r, int *rc)
{
    import_batch *b = NULL;
    *rc = 0;
    pthread_mutex_lock(&r->mu);
    while (r->count == 0 && !r->eof && r->reader_rc == 0)
        pthread_cond_wait(&r->cv, &r->mu);
    if (r->count > 0)
        b = &r->slots[r->head];
    else if (r->reader_rc < 0)
        *rc = r->reader_rc;
    pthread_mutex_unlock(&r->mu);
    return b;
}

static void batch_done(import_run *r)
{
    pthread_mutex_lock(&r->mu);
    r->head = (r->head + 1) % QUEUE_SLOTS;
    r->count--;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* ---- the writer: one batch on the target ---------------------------------------------- */

enum { KIND_NEW, KIND_SAME, KIND_STAGE };

static int copy_buf(sp_db *db, const char *sql, const sp_buf *buf)
{
    if (sp_db_copy_begin(db, sql) < 0 ||
        sp_db_copy_put(db, sp_buf_data(buf), sp_buf_len(buf)) < 0 || sp_db_copy_end(db, NULL) < 0)
        return SP_E_DB;
    return 0;
}

static int grow_writer(import_run *r, int n)
{
    if (n <= r->wcap)
        return 0;
    int *k = realloc(r->kind, (size_t)n * sizeof(*k));
    if (k != NULL)
        r->kind = k;
    int64_t *q = realloc(r->seq, (size_t)n * sizeof(*q));
    if (q != NULL)
        r->seq = q;
    size_t *t = realloc(r->toff, (size_t)(n + 1) * 2 * sizeof(*t));
    if (t != NULL)
        r->toff = t;
    if (k == NULL || q == NULL || t == NULL)
        return SP_E_NOMEM;
    r->wcap = n;
    return 0;
}

/* Finds which jobs the target knows; sets r->kind[i]. */
typedef struct {
    const char *id, *checksum;
    bool in_jobs;
} known_row;

static int known_cmp(const void *a, const void *b)
{
    return strcmp(((const known_row *)a)->id, ((const known_row *)b)->id);
}

static int classify(import_run *r, const import_batch *b)
{
    sp_db_res *res = NULL;
    known_row *known = NULL;
    int rc = SP_E_DB;
    static const cli_pbin_type uuid_type = CLI_PBIN_UUID;
    /* The ids as a binary uuid[] (the server would spend more parsing 5,000 uuids of text
     * than looking them up): dimensions, no nulls, element type uuid, length, lower bound,
     * then each element as a binary field. */
    sp_buf_reset(r->ids);
    int brc = 0;
    const int32_t head[] = {1, 0, 2950, b->n, 1};
    for (size_t k = 0; k < ARRAY_LEN(head) && brc == 0; k++) {
        uint32_t u = (uint32_t)head[k];
        unsigned char be[4] = {(unsigned char)(u >> 24), (unsigned char)(u >> 16),
                               (unsigned char)(u >> 8), (unsigned char)u};
        brc = sp_buf_append(r->ids, be, 4);
    }
    for (int i = 0; i < b->n && brc == 0; i++)
        brc = cli_pbin_fields(r->ids, b->oc[i].id, 36, &uuid_type, 1, NULL);
    if (brc < 0)
        return brc;
    /* The range of the ids kept from legacy UUIDs: they come in the source's order, so
     * they are consecutive in the target's indexes too, unless mixed-case legacy ids break
     * the order (then no range: one probe per id). */
    const char *lo = NULL, *hi = NULL;
    bool ordered = true;
    for (int i = 0; i < b->n && ordered; i++) {
        if (!b->oc[i].id_kept)
            continue;
        if (hi != NULL && strcmp(hi, b->oc[i].id) >= 0)
            ordered = false;
        if (lo == NULL)
            lo = b->oc[i].id;
        hi = b->oc[i].id;
    }
    if (!ordered)
        lo = hi = NULL;
    const char *params[] = {sp_buf_data(r->ids), lo, hi};
    const int lengths[] = {(int)sp_buf_len(r->ids), 0, 0}, binary[] = {1, 0, 0};
    if (sp_db_exec_params_bin(r->dst,
                              "SELECT job_id, checksum, in_jobs"
                              " FROM spool.import_lookup($1::uuid[], $2::uuid, $3::uuid)",
                              3, params, lengths, binary, &res) < 0)
        return SP_E_DB;
    int nk = sp_db_res_nrows(res);
    if (nk > 0) {
        if ((known = malloc((size_t)nk * sizeof(*known))) == NULL) {
            rc = SP_E_NOMEM;
            goto out;
        }
        for (int k = 0; k < nk; k++) {
            const char *in = v(res, k, 2);
            known[k] = (known_row){v(res, k, 0), v(res, k, 1), in != NULL && in[0] == 't'};
        }
        qsort(known, (size_t)nk, sizeof(*known), known_cmp);
    }
    for (int i = 0; i < b->n; i++) {
        known_row key = {b->oc[i].id, NULL, false};
        const known_row *hit =
            nk > 0 ? bsearch(&key, known, (size_t)nk, sizeof(*known), known_cmp) : NULL;
        if (hit == NULL)
            r->kind[i] = KIND_NEW;
        else if (hit->checksum != NULL && strcmp(hit->checksum, b->oc[i].checksum) == 0)
            r->kind[i] = KIND_SAME;
        else
            r->kind[i] = KIND_STAGE;
    }
    rc = 0;
out:
    free(known);
    sp_db_res_free(res);
    return rc;
}

typedef struct {
    int64_t run_at;
    int i;
} live_key;

static int live_cmp(const void *a, const void *b)
{
    const live_key *x = a, *y = b;
    if (x->run_at != y->run_at)
        return x->run_at < y->run_at ? -1 : 1;
    return x->i - y->i;
}

/* Takes one seq value per new job: the live ones in run_at order first, so that claim order
 * among jobs of the same run_at follows the legacy order. */
static int assign_seqs(import_run *r, const import_batch *b, int nnew, int nlive)
{
    char n[16];
    sp_db_res *res = NULL;
    live_key *keys = NULL;
    snprintf(n, sizeof(n), "%d", nnew);
    const char *params[] = {n};
    if (sp_db_exec_params(r->dst, "SELECT nextval('spool.job_seq') FROM generate_series(1, $1)", 1,
                          params, &res) < 0)
        return SP_E_DB;
    if (sp_db_res_nrows(res) != nnew) {
        sp_db_res_free(res);
        return SP_E_DB;
    }
    if (nlive > 0 && (keys = malloc((size_t)nlive * sizeof(*keys))) == NULL) {
        sp_db_res_free(res);
        return SP_E_NOMEM;
    }
    int k = 0, next = 0;
    for (int i = 0; i < b->n; i++)
        if (r->kind[i] == KIND_NEW && b->oc[i].live)
            keys[k++] = (live_key){b->oc[i].run_at, i};
    if (nlive > 1)
        qsort(keys, (size_t)nlive, sizeof(*keys), live_cmp);
    for (k = 0; k < nlive; k++)
        r->seq[keys[k].i] = strtoll(v(res, next++, 0), NULL, 10);
    for (int i = 0; i < b->n; i++)
        if (r->kind[i] == KIND_NEW && !b->oc[i].live)
            r->seq[i] = strtoll(v(res, next++, 0), NULL, 10);
    free(keys);
    sp_db_res_free(res);
    return 0;
}

static const char copy_archive_sql[] =
    "COPY spool.job_archive (" CLI_PMAP_JOB_COLUMNS
    ", type, queue, priority, max_attempts, timeout_seconds, seq) FROM STDIN";
static const char copy_live_sql[] =
    "COPY spool.job_live (" CLI_PMAP_JOB_COLUMNS
    ", type, queue, priority, max_attempts, timeout_seconds, seq) FROM STDIN";
static const char copy_tasks_sql[] = "COPY spool.job_tasks (" CLI_PMAP_TASK_COLUMNS ") FROM STDIN";
static const char copy_rows_sql[] = "COPY spool.import_rows (" CLI_PMAP_ROW_COLUMNS
                                    ", job_id, status, attempts, run_id) FROM STDIN";
static const char copy_archive_bin_sql[] =
    "COPY spool.job_archive (" CLI_PMAP_JOB_COLUMNS
    ", type, queue, priority, max_attempts, timeout_seconds, seq) FROM STDIN (FORMAT binary)";
static const char copy_live_bin_sql[] =
    "COPY spool.job_live (" CLI_PMAP_JOB_COLUMNS
    ", type, queue, priority, max_attempts, timeout_seconds, seq) FROM STDIN (FORMAT binary)";
static const char copy_tasks_bin_sql[] =
    "COPY spool.job_tasks (" CLI_PMAP_TASK_COLUMNS ") FROM STDIN (FORMAT binary)";
static const char copy_rows_bin_sql[] =
    "COPY spool.import_rows (" CLI_PMAP_ROW_COLUMNS ", job_id, status, attempts, run_id)"
    " FROM STDIN (FORMAT binary)";

/* A COPY of new rows, streamed: copy_open starts it, rows are appended to r->out, which
 * copy_feed sends whenever it passes COPY_CHUNK (so the server parses and inserts while the
 * writer goes on building), copy_close ends it. In b's format: binary or text. */
static int copy_open(import_run *r, const import_batch *b, const char *sql, const char *bin_sql)
{
    sp_buf_reset(r->out);
    if (sp_db_copy_begin(r->dst, b->binary ? bin_sql : sql) < 0)
        return SP_E_DB;
    return b->binary ? cli_pbin_header(r->out) : 0;
}

static int copy_send(import_run *r, const char *data, size_t len)
{
    return sp_db_copy_put(r->dst, data, len) < 0 ? SP_E_DB : 0;
}

static int copy_feed(import_run *r)
{
    if (sp_buf_len(r->out) < COPY_CHUNK)
        return 0;
    int rc = copy_send(r, sp_buf_data(r->out), sp_buf_len(r->out));
    sp_buf_reset(r->out);
    return rc;
}

/* Ends the COPY; with rc < 0 (the rows could not be built) the server aborts it. */
static int copy_close(import_run *r, const import_batch *b, int rc)
{
    if (rc == 0 && b->binary)
        rc = cli_pbin_trailer(r->out);
    if (rc == 0)
        rc = copy_send(r, sp_buf_data(r->out), sp_buf_len(r->out));
    sp_buf_reset(r->out);
    if (sp_db_copy_end(r->dst, rc < 0 ? "import-prisma could not build its rows" : NULL) < 0 &&
        rc == 0)
        rc = SP_E_DB;
    return rc;
}

/* Appends job i's row for job_live/job_archive to r->out. */
static int job_row(import_run *r, const import_batch *b, int i)
{
    int rc;
    if (!b->binary) {
        const char *line = sp_buf_data(b->lines) + r->toff[2 * i];
        if ((rc = sp_buf_append(r->out, line, b->oc[i].body_len)) == 0)
            rc = sp_buf_appendf(r->out, "%s%" PRId64 "\n", r->consts, r->seq[i]);
    } else {
        if ((rc = cli_pbin_row(r->out, (int)JOB_ROW_FIELDS)) == 0)
            rc = sp_buf_append(r->out, sp_buf_data(b->bjobs) + b->boff[3 * i],
                               b->boff[3 * i + 3] - b->boff[3 * i]);
        if (rc == 0)
            rc = sp_buf_append(r->out, sp_buf_data(r->bconsts), sp_buf_len(r->bconsts));
        if (rc == 0)
            rc = cli_pbin_int(r->out, CLI_PBIN_INT8, r->seq[i]);
    }
    return rc == 0 ? copy_feed(r) : rc;
}

/* Appends job i's import_rows row to r->out. */
static int rows_row(import_run *r, const import_batch *b, int i)
{
    const cli_pmap_outcome *oc = &b->oc[i];
    int rc;
    if (!b->binary) {
        const char *line = sp_buf_data(b->lines) + r->toff[2 * i];
        if ((rc = sp_buf_append(r->out, line + oc->body_len + 1,
                                oc->rows_len - oc->body_len - 1)) == 0)
            rc = sp_buf_appendf(r->out, "\t%s\t%s\t%lld\t%" PRId64 "\n", oc->id, oc->status,
                                oc->attempts, r->run_id);
    } else {
        if ((rc = cli_pbin_row(r->out, (int)ROWS_ROW_FIELDS)) == 0)
            rc = sp_buf_append(r->out, sp_buf_data(b->brows) + b->boff[3 * i + 1],
                               b->boff[3 * i + 4] - b->boff[3 * i + 1]);
        if (rc == 0)
            rc = cli_pbin_int(r->out, CLI_PBIN_INT8, r->run_id);
    }
    return rc == 0 ? copy_feed(r) : rc;
}

/* COPYs the new jobs of b (kind KIND_NEW) of one table: live, or archive. */
static int copy_jobs(import_run *r, const import_batch *b, bool live, int count)
{
    live_key *keys = NULL;
    int rc = 0, nk = 0;
    if (count == 0)
        return 0;
    if (live) {
        /* job_live in seq order: the order claim reads them in */
        if ((keys = malloc((size_t)count * sizeof(*keys))) == NULL)
            return SP_E_NOMEM;
        for (int i = 0; i < b->n; i++)
            if (r->kind[i] == KIND_NEW && b->oc[i].live)
                keys[nk++] = (live_key){r->seq[i], i};
        qsort(keys, (size_t)nk, sizeof(*keys), live_cmp);
    }
    if ((rc = live ? copy_open(r, b, copy_live_sql, copy_live_bin_sql)
                   : copy_open(r, b, copy_archive_sql, copy_archive_bin_sql)) < 0) {
        free(keys);
        return rc;
    }
    if (live) {
        for (int k = 0; k < nk && rc == 0; k++)
            rc = job_row(r, b, keys[k].i);
    } else {
        for (int i = 0; i < b->n && rc == 0; i++)
            if (r->kind[i] == KIND_NEW && !b->oc[i].live)
                rc = job_row(r, b, i);
    }
    free(keys);
    return copy_close(r, b, rc);
}

/* COPYs the tasks of b's new jobs: straight from the batch's buffer, one piece per run of
 * consecutive new jobs (all of it on a first import). */
static int copy_tasks(import_run *r, const import_batch *b)
{
    const char *data = b->binary ? sp_buf_data(b->btasks) : sp_buf_data(b->tasks);
    int rc = copy_open(r, b, copy_tasks_sql, copy_tasks_bin_sql);
    if (rc == 0)
        rc = copy_send(r, sp_buf_data(r->out), sp_buf_len(r->out)); /* the binary header */
    sp_buf_reset(r->out);
    for (int i = 0; i < b->n && rc == 0;) {
        if (r->kind[i] != KIND_NEW) {
            i++;
            continue;
        }
        int j = i;
        while (j < b->n && r->kind[j] == KIND_NEW)
            j++;
        size_t from = b->binary ? b->boff[3 * i + 2] : r->toff[2 * i + 1];
        size_t to = b->binary ? b->boff[3 * j + 2] : r->toff[2 * j + 1];
        if (to > from)
            rc = copy_send(r, data + from, to - from);
        i = j;
    }
    return copy_close(r, b, rc);
}

/* Writes the new jobs of b with COPY: their job rows, tasks and import_rows. */
static int copy_new(import_run *r, const import_batch *b, int nnew, int nlive)
{
    int rc, ntasks = 0;
    if ((rc = copy_jobs(r, b, false, nnew - nlive)) < 0 || (rc = copy_jobs(r, b, true, nlive)) < 0)
        return rc;
    for (int i = 0; i < b->n && ntasks == 0; i++)
        ntasks += r->kind[i] == KIND_NEW && b->oc[i].ntasks > 0;
    if (ntasks > 0 && (rc = copy_tasks(r, b)) < 0)
        return rc;
    if ((rc = copy_open(r, b, copy_rows_sql, copy_rows_bin_sql)) < 0)
        return rc;
    for (int i = 0; i < b->n && rc == 0; i++)
        if (r->kind[i] == KIND_NEW)
            rc = rows_row(r, b, i);
    return copy_close(r, b, rc);
}

/* Stages the jobs of b whose kind is want (all of them: want < 0) with their tasks. */
static int stage(import_run *r, const import_batch *b, int want)
{
    int rc = 0;
    sp_buf_reset(r->out);
    for (int i = 0; i < b->n && rc == 0; i++)
        if (want < 0 || r->kind[i] == want)
            rc = sp_buf_append(r->out, sp_buf_data(b->lines) + r->toff[2 * i], b->oc[i].line_len);
    if (rc < 0 || (rc = copy_buf(r->dst, "COPY pg_temp.import_jobs FROM STDIN", r->out)) < 0)
        return rc;
    sp_buf_reset(r->out);
    for (int i = 0; i < b->n && rc == 0; i++)
        if ((want < 0 || r->kind[i] == want) && b->oc[i].tasks_len > 0)
            rc = sp_buf_append(r->out, sp_buf_data(b->tasks) + r->toff[2 * i + 1],
                               b->oc[i].tasks_len);
    if (rc < 0 || sp_buf_len(r->out) == 0)
        return rc;
    return copy_buf(r->dst, "COPY pg_temp.import_tasks FROM STDIN", r->out);
}

/* The batch's counts, added to r->counts once it is committed. */
typedef struct {
    int64_t inserted, updated, unchanged, conflicts, tasks;
    bool live;
} batch_counts;

static int apply_staged(import_run *r, const char *position, int staged, batch_counts *c)
{
    char n[16];
    sp_db_res *res = NULL;
    snprintf(n, sizeof(n), "%d", staged);
    const char *params[] = {r->o.type, position, n, r->o.dry_run ? "true" : "false"};
    if (sp_db_exec_params(r->dst,
                          "SELECT * FROM spool.import_apply(p_run => NULL, p_type => $1,"
                          " p_position => $2, p_scanned => $3, p_dry_run => $4)",
                          4, params, &res) < 0)
        return SP_E_DB;
    c->inserted += strtoll(v(res, 0, 0), NULL, 10);
    c->updated += strtoll(v(res, 0, 1), NULL, 10);
    c->unchanged += strtoll(v(res, 0, 2), NULL, 10);
    int64_t conflicts = strtoll(v(res, 0, 3), NULL, 10);
    c->conflicts += conflicts;
    c->tasks += strtoll(v(res, 0, 4), NULL, 10);
    if (conflicts > 0) {
        char q[512];
        sp_log_warn("import", "conflict",
                    "jobs=%" PRId64 " legacy_ids=%s reason=\"changed in Spool since imported\"",
                    conflicts, sp_log_quote(v(res, 0, 5), q, sizeof(q)));
    }
    sp_db_res_free(res);
    return 0;
}

static int advance(import_run *r, const char *position, int scanned, const batch_counts *c)
{
    char run[24], f[6][24];
    snprintf(run, sizeof(run), "%" PRId64, r->run_id);
    snprintf(f[0], sizeof(f[0]), "%d", scanned);
    snprintf(f[1], sizeof(f[1]), "%" PRId64, c->inserted);
    snprintf(f[2], sizeof(f[2]), "%" PRId64, c->updated);
    snprintf(f[3], sizeof(f[3]), "%" PRId64, c->unchanged);
    snprintf(f[4], sizeof(f[4]), "%" PRId64, c->conflicts);
    snprintf(f[5], sizeof(f[5]), "%" PRId64, c->tasks);
    const char *params[] = {
        run, position, f[0], f[1], f[2], f[3], f[4], f[5], c->live ? "true" : "false"};
    return sp_db_exec_params(
        r->dst, "SELECT spool.import_advance($1, $2, $3, $4, $5, $6, $7, $8, $9)", 9, params, NULL);
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

/* Writes (or verifies, or classifies for a dry run) one batch in one transaction. Returns
 * an exit code. */
static int write_batch(import_run *r, const import_batch *b)
{
    batch_counts c = {0};
    int nnew = 0, nlive = 0, nstage = 0;
    double t = now_s(), t2;
    if (grow_writer(r, b->n) < 0) {
        fputs("error: out of memory\n", stderr);
        return CLI_EXIT_FAIL;
    }
    size_t lo = 0, to = 0;
    for (int i = 0; i <= b->n; i++) {
        r->toff[2 * i] = lo;
        r->toff[2 * i + 1] = to;
        if (i < b->n) {
            lo += b->oc[i].line_len;
            to += b->oc[i].tasks_len;
        }
    }
    if (sp_db_exec_params(r->dst, "BEGIN", 0, NULL, NULL) < 0)
        goto db_fail;
    if (r->o.verify) {
        if (stage(r, b, -1) < 0)
            goto db_fail;
        t2 = now_s();
        r->t_copy += t2 - t;
        t = t2;
        if (verify_batch(r) < 0)
            goto db_fail;
        r->t_apply += now_s() - t;
    } else {
        if (classify(r, b) < 0)
            goto db_fail;
        for (int i = 0; i < b->n; i++) {
            if (r->kind[i] == KIND_NEW) {
                nnew++;
                nlive += b->oc[i].live;
                c.tasks += (int64_t)b->oc[i].ntasks;
            } else if (r->kind[i] == KIND_SAME) {
                c.unchanged++;
            } else {
                nstage++;
            }
        }
        c.inserted = nnew;
        c.live = nlive > 0;
        t2 = now_s();
        r->t_lookup += t2 - t;
        t = t2;
        if (nnew > 0 && !r->o.dry_run &&
            (assign_seqs(r, b, nnew, nlive) < 0 || copy_new(r, b, nnew, nlive) < 0))
            goto db_fail;
        t2 = now_s();
        r->t_copy += t2 - t;
        t = t2;
        if (nstage > 0 && (stage(r, b, KIND_STAGE) < 0 || apply_staged(r, b->last, nstage, &c) < 0))
            goto db_fail;
        if (r->run_id > 0 && !r->o.dry_run && advance(r, b->last, b->n, &c) < 0)
            goto db_fail;
        r->t_apply += now_s() - t;
    }
    t = now_s();
    /* --verify commits too: what it keeps is the session's pg_temp.import_seen */
    if (sp_db_exec_params(r->dst, r->o.dry_run ? "ROLLBACK" : "COMMIT", 0, NULL, NULL) < 0)
        return fail_db(r, r->dst, "could not commit a batch");
    r->t_commit += now_s() - t;
    char *pos = strdup(b->last);
    if (pos == NULL) {
        fputs("error: out of memory\n", stderr);
        return CLI_EXIT_FAIL;
    }
    free(r->position);
    r->position = pos;
    r->counts.inserted += c.inserted;
    r->counts.updated += c.updated;
    r->counts.unchanged += c.unchanged;
    r->counts.conflicts += c.conflicts;
    r->counts.tasks_written += c.tasks;
    for (int i = 0; i < b->n; i++)
        cli_pimp_count_job(&r->counts, b->oc[i].legacy_status, b->oc[i].status,
                           (int)b->oc[i].ntasks);
    r->done += b->n;
    r->counts.scanned += b->n;
    return CLI_EXIT_OK;
db_fail:;
    int rc =
        fail_db(r, r->dst, r->o.verify ? "could not verify a batch" : "could not import a batch");
    sp_db_rollback(r->dst);
    return rc;
}

/* Reads the type's settings that new jobs take (a dry run of a type not yet registered
 * writes no job: the defaults stand in). */
static int load_consts(import_run *r)
{
    sp_db_res *res = NULL;
    sp_buf *name = NULL;
    const char *params[] = {r->o.type};
    if (sp_db_exec_params(r->dst,
                          "SELECT priority, max_attempts, timeout_seconds FROM spool.job_types"
                          " WHERE name = $1",
                          1, params, &res) < 0)
        return fail_db(r, r->dst, "could not read the job type");
    if (sp_buf_new(&name, 256) < 0 || cli_pmap_copy_field(name, r->o.type) < 0) {
        sp_buf_free(name);
        sp_db_res_free(res);
        fputs("error: --type is too long\n", stderr);
        return CLI_EXIT_FAIL;
    }
    bool found = sp_db_res_nrows(res) > 0;
    const char *prio = found ? v(res, 0, 0) : "50", *att = found ? v(res, 0, 1) : "3",
               *tmo = found ? v(res, 0, 2) : "1800";
    snprintf(r->consts, sizeof(r->consts), "\t%s\tdefault\t%s\t%s\t%s\t", sp_buf_data(name), prio,
             att, tmo);
    int rc = sp_buf_new(&r->bconsts, 1024);
    if (rc == 0)
        rc = cli_pbin_text(r->bconsts, r->o.type);
    if (rc == 0)
        rc = cli_pbin_text(r->bconsts, "default");
    if (rc == 0)
        rc = cli_pbin_int(r->bconsts, CLI_PBIN_INT2, strtoll(prio, NULL, 10));
    if (rc == 0)
        rc = cli_pbin_int(r->bconsts, CLI_PBIN_INT4, strtoll(att, NULL, 10));
    if (rc == 0)
        rc = cli_pbin_int(r->bconsts, CLI_PBIN_INT4, strtoll(tmo, NULL, 10));
    sp_buf_free(name);
    sp_db_res_free(res);
    if (rc < 0) {
        fputs("error: --type is too long\n", stderr);
        return CLI_EXIT_FAIL;
    }
    return 0;
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

/* Finds the run to resume (same source and options, still running): r->run_id and
 * r->position (0 and NULL when there is none; create_run then starts one, once the source
 * has passed its checks). */
static int find_run(import_run *r, const char *source, const char *options)
{
    sp_db_res *res = NULL;
    const char *params[] = {source, options, cli_psrc_shape(r->src)->name};
    if (sp_db_exec_params(r->dst,
                          "SELECT id, position, rows_done FROM spool.import_runs"
                          " WHERE status = 'running' AND source = $1 AND options = $2::jsonb"
                          " AND shape = $3 ORDER BY id DESC LIMIT 1",
                          3, params, &res) < 0)
        return fail_db(r, r->dst, "could not read the runs");
    if (sp_db_res_nrows(res) > 0) {
        const char *pos = v(res, 0, 1);
        sp_log_info("import", "resume", "run=%s after_legacy_id=%s rows_done=%s", v(res, 0, 0),
                    pos ? pos : "-", v(res, 0, 2));
        r->counts.resumed = true;
        r->counts.resumed_rows = strtoll(v(res, 0, 2), NULL, 10);
        r->run_id = strtoll(v(res, 0, 0), NULL, 10);
        if (pos != NULL && (r->position = strdup(pos)) == NULL) {
            sp_db_res_free(res);
            fputs("error: out of memory\n", stderr);
            return CLI_EXIT_FAIL;
        }
    }
    sp_db_res_free(res);
    return 0;
}

static int create_run(import_run *r, const char *source, const char *options)
{
    sp_db_res *res = NULL;
    const char *params[] = {source, options, cli_psrc_shape(r->src)->name};
    if (sp_db_exec_params(r->dst,
                          "INSERT INTO spool.import_runs (source, options, shape)"
                          " VALUES ($1, $2::jsonb, $3) RETURNING id",
                          3, params, &res) < 0)
        return fail_db(r, r->dst, "could not record the run");
    r->run_id = strtoll(v(res, 0, 0), NULL, 10);
    sp_db_res_free(res);
    return 0;
}

/* The run's options as import_runs records them: a run resumes only with the same. */
static char *run_options(const import_run *r)
{
    json_object *opts = json_object_new_object();
    json_object_object_add(opts, "type", json_object_new_string(r->o.type));
    json_object_object_add(
        opts, "running",
        json_object_new_string(r->o.running == CLI_PMAP_RUNNING_FAIL ? "fail" : "requeue"));
    json_object_object_add(opts, "since", r->o.since ? json_object_new_string(r->o.since) : NULL);
    json_object_object_add(opts, "schema", json_object_new_string(r->o.schema));
    const char *text = sp_json_to_string(opts, false);
    char *copy = text != NULL ? strdup(text) : NULL;
    json_object_put(opts);
    return copy;
}

static int finish_run(import_run *r)
{
    char run[24];
    snprintf(run, sizeof(run), "%" PRId64, r->run_id);
    const char *params[] = {run};
    /* The batches commit without waiting for their WAL to reach the disk (a crash loses at
     * most the last few, each with the position it advanced, so the run resumes before
     * them); the end of the run waits, and with it everything committed before. */
    if (sp_db_exec_params(r->dst, "SELECT set_config('synchronous_commit', 'on', false)", 0, NULL,
                          NULL) < 0 ||
        sp_db_exec_params(r->dst,
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
                          " pg_try_advisory_lock(1397772111, 5), spool.import_prepare(),"
                          " set_config('synchronous_commit', 'off', false)",
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
    char redacted[512], since_buf[64], oldest[64];
    char *options = NULL;
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
    if (!r.o.dry_run && !r.o.verify) {
        if ((options = run_options(&r)) == NULL) {
            fputs("error: out of memory\n", stderr);
            rc = CLI_EXIT_FAIL;
            goto out;
        }
        if ((rc = find_run(&r, redacted, options)) != 0)
            goto out;
    }
    rc = CLI_EXIT_FAIL;
    /* The cursors and the reader first: the source sorts or reads them (on two sessions)
     * and the reader maps the first batches while the source's rules are checked and
     * counted on a third session. Nothing is written before the checks pass. */
    if (cli_psrc_start(r.src, r.position, r.o.since, r.o.batch, r.err, sizeof(r.err)) < 0) {
        fprintf(stderr, "error: %s\n", r.err);
        goto out;
    }
    if (sp_buf_new(&r.out, COPY_MAX) < 0 || sp_buf_new(&r.ids, (size_t)MAX_BATCH * 40) < 0 ||
        sp_buf_new(&r.scratch, SCRATCH_MAX) < 0) {
        fputs("error: out of memory\n", stderr);
        goto out;
    }
    clock_gettime(CLOCK_MONOTONIC, &r.started);
    double t0 = now_s();
    if (reader_start(&r) < 0) {
        fputs("error: could not start the reader thread\n", stderr);
        goto out;
    }
    if (cli_psrc_preflight(r.src, r.err, sizeof(r.err)) < 0) {
        fprintf(stderr,
                "error: the source breaks the legacy schema's rules: %s\n"
                "hint: nothing was imported; fix these rows in the source and run again\n",
                r.err);
        goto out;
    }
    if (cli_psrc_count(r.src, r.position, r.o.since, &r.total, r.err, sizeof(r.err)) < 0 ||
        cli_psrc_oldest(r.src, oldest, sizeof(oldest), r.err, sizeof(r.err)) < 0 ||
        cli_psrc_totals(r.src, &src_status, r.err, sizeof(r.err)) < 0) {
        fprintf(stderr, "error: %s\n", r.err);
        goto out;
    }
    if ((rc = ensure_type(&r, oldest[0] != '\0' ? oldest : NULL)) != 0)
        goto out;
    if (!r.o.dry_run && !r.o.verify && r.run_id == 0 &&
        (rc = create_run(&r, redacted, options)) != 0)
        goto out;
    if ((rc = load_consts(&r)) != 0)
        goto out;
    rc = CLI_EXIT_FAIL;
    for (;;) {
        int brc;
        import_batch *b = batch_next(&r, &brc);
        if (b == NULL && brc < 0) {
            fprintf(stderr, "error: %s\n", r.reader_err);
            goto out;
        }
        if (b == NULL)
            break;
        rc = write_batch(&r, b);
        batch_done(&r);
        if (rc != 0)
            goto out;
        rc = CLI_EXIT_FAIL;
        progress(&r, false);
    }
    reader_stop(&r);
    progress(&r, true);
    r.counts.seconds = now_s() - t0;
    if (cli_psrc_totals_other(r.src, &src_other, r.err, sizeof(r.err)) < 0) {
        fprintf(stderr, "error: %s\n", r.err);
        goto out;
    }
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
    reader_stop(&r);
    cli_psrc_batch_clear(&r.rbatch);
    for (int i = 0; i < QUEUE_SLOTS; i++)
        batch_free(&r.slots[i]);
    sp_db_res_free(src_status);
    sp_db_res_free(src_other);
    sp_buf_free(r.out);
    sp_buf_free(r.bconsts);
    sp_buf_free(r.ids);
    sp_buf_free(r.scratch);
    free(r.kind);
    free(r.seq);
    free(r.toff);
    free(r.position);
    free(options);
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

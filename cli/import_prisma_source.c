/*
 * import_prisma_source: reading the Prisma-era tables; see import_prisma_source.h.
 *
 * The session is read-only (default_transaction_read_only), so nothing this module sends
 * can change the source. Jobs and tasks are read through two cursors sorted by job id in
 * "C" collation (byte order, what strcmp compares): a batch is the next N jobs plus the
 * tasks up to the batch's last id, and the position of a run is that id, from which the
 * next run's cursors start.
 */
#include "import_prisma_source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sp_log.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define QUERY_MAX 4096

#define HELD_MAX 64
#define TASK_CHUNK 20000 /* tasks per FETCH */
#define TASK_CHUNK_S "20000"

struct cli_psrc {
    sp_db *db;  /* the jobs cursor (and schema detection, identity) */
    sp_db *tdb; /* the tasks cursor (NULL: the shape has no tasks) */
    sp_db *xdb; /* checks, counts and totals, while the cursors sort */
    cli_pmap_shape shape;
    int limit;                  /* jobs per FETCH */
    bool jobs_sent, tasks_sent; /* a FETCH is on its way (prefetch) */
    bool jobs_done;             /* the jobs cursor returned its last rows */
    bool totals_sent;
    char jobs_sql[QUERY_MAX];
    char count_sql[QUERY_MAX];
    char tasks_sql[QUERY_MAX];
    sp_db_res *held[HELD_MAX]; /* task chunks the current batch borrows from */
    int nheld;
    sp_db_res *tchunk; /* the task chunk being read (also in held) */
    int tpos;
    bool tasks_done;
    bool tasks_last; /* the current chunk is the cursor's last */
};

static const char session_sql[] =
    "SELECT set_config('TimeZone', 'UTC', false), set_config('DateStyle', 'ISO, YMD', false),"
    " set_config('search_path', quote_ident($1), false),"
    " set_config('default_transaction_read_only', 'on', false),"
    " set_config('jit', 'off', false), set_config('cursor_tuple_fraction', '1', false),"
    " set_config('work_mem', '64MB', false)";

static const char columns_sql[] =
    "SELECT table_name::text, column_name::text FROM information_schema.columns"
    " WHERE table_schema = $1 AND table_name IN ('Job', 'Task', 'Evaluation')"
    " ORDER BY table_name, ordinal_position";

static const char labels_sql[] =
    "SELECT e.enumlabel::text FROM pg_attribute a"
    " JOIN pg_class c ON c.oid = a.attrelid"
    " JOIN pg_namespace n ON n.oid = c.relnamespace"
    " JOIN pg_enum e ON e.enumtypid = a.atttypid"
    " WHERE n.nspname = $1 AND c.relname = 'Job' AND a.attname = 'status'"
    " ORDER BY e.enumsortorder";

/* The jobs of a run, in CLI_PSRC_J_* order, in "C" collation order of id (the order the
 * tasks cursor follows and C's strcmp agrees with); %s are shape fragments. */
static const char jobs_cursor[] =
    "DECLARE spool_import_jobs NO SCROLL CURSOR FOR"
    " SELECT j.id, j.status::text, j.attempts, j.error, j.\"startedAt\", j.\"completedAt\","
    " j.\"createdAt\", j.\"updatedAt\", j.\"llmThinking\", %s, %s, j.\"durationInSeconds\","
    " j.logs, j.\"evaluationId\", j.\"evaluationVersionId\", %s, %s, %s, %s,"
    " e.\"documentId\", e.\"agentId\", %s, %s, %s, %s, %s"
    " FROM \"Job\" j LEFT JOIN \"Evaluation\" e ON e.id = j.\"evaluationId\" %s"
    " WHERE ($1::text IS NULL OR j.id COLLATE \"C\" > $1) AND %s"
    " ORDER BY j.id COLLATE \"C\"";

static const char count_select[] =
    "SELECT count(*) FROM \"Job\" j WHERE ($1::text IS NULL OR j.id COLLATE \"C\" > $1) AND %s";

/* Retry chains, joined by hash: o resolves a link to a retry into its root, c holds the
 * latest createdAt of each chain's retries. A FAILED row becomes 'failed' when a later row
 * of its chain exists, else 'dead'. */
static const char chain_joins[] =
    "LEFT JOIN \"Job\" o ON o.id = j.\"originalJobId\""
    " LEFT JOIN (SELECT \"originalJobId\" AS root, max(\"createdAt\") AS last_at FROM \"Job\""
    "  WHERE \"originalJobId\" IS NOT NULL GROUP BY 1) c"
    " ON c.root = coalesce(o.\"originalJobId\", j.\"originalJobId\", j.id)";
static const char successor_expr[] =
    "(j.status::text = 'FAILED' AND coalesce(c.last_at > j.\"createdAt\", false))";
static const char root_expr[] = "CASE WHEN j.\"originalJobId\" IS NULL THEN NULL"
                                " ELSE coalesce(o.\"originalJobId\", j.\"originalJobId\") END";

/* Rows in scope of --since ($2): changed themselves, or a task of theirs, or a row of their
 * retry chain (which can turn a FAILED root from dead into failed). */
static const char since_plain[] = "($2::timestamptz IS NULL OR j.\"updatedAt\" >= $2)";
static const char since_tasks[] =
    "($2::timestamptz IS NULL OR j.\"updatedAt\" >= $2"
    " OR EXISTS (SELECT 1 FROM \"Task\" t2 WHERE t2.\"jobId\" = j.id AND t2.\"updatedAt\" >= $2))";
static const char since_full[] =
    "($2::timestamptz IS NULL OR j.\"updatedAt\" >= $2"
    " OR EXISTS (SELECT 1 FROM \"Task\" t2 WHERE t2.\"jobId\" = j.id AND t2.\"updatedAt\" >= $2)"
    " OR EXISTS (SELECT 1 FROM \"Job\" r WHERE r.\"originalJobId\" = coalesce(j.\"originalJobId\", "
    "j.id)"
    " AND r.\"updatedAt\" >= $2))";

/* The tasks of the same jobs, in the same order. */
static const char tasks_cursor[] =
    "DECLARE spool_import_tasks NO SCROLL CURSOR FOR"
    " SELECT t.id, t.\"jobId\", t.name, t.\"modelName\", %s, %s, t.\"timeInSeconds\", t.log,"
    " t.\"createdAt\", t.\"updatedAt\", %s"
    " FROM \"Task\" t WHERE ($1::text IS NULL OR t.\"jobId\" COLLATE \"C\" > $1)"
    " AND ($2::timestamptz IS NULL OR EXISTS (SELECT 1 FROM \"Job\" j WHERE j.id = t.\"jobId\" AND "
    "%s))"
    " ORDER BY t.\"jobId\" COLLATE \"C\", t.\"createdAt\", t.id COLLATE \"C\"";

static void db_err_on(sp_db *db, const char *what, char *err, size_t errlen)
{
    const char *detail = sp_db_err_detail(db);
    snprintf(err, errlen, "%s: %s%s%s", what, sp_db_err_message(db), detail[0] != '\0' ? " - " : "",
             detail);
}

static void db_err(cli_psrc *src, const char *what, char *err, size_t errlen)
{
    db_err_on(src->db, what, err, errlen);
}

static int build_queries(cli_psrc *src)
{
    const cli_pmap_shape *s = &src->shape;
    const char *since = !s->has_tasks ? since_plain : s->has_retries ? since_full : since_tasks;
    int n = snprintf(
        src->jobs_sql, QUERY_MAX, jobs_cursor, s->job_cents ? "j.\"costInCents\"" : "NULL::integer",
        s->job_dollars ? "j.\"priceInDollars\"" : "NULL::numeric",
        s->has_retries ? "j.\"agentEvalBatchId\"" : "NULL::text",
        s->has_retries ? "j.\"originalJobId\"" : "NULL::text",
        s->has_retries ? root_expr : "NULL::text", s->has_retries ? successor_expr : "false",
        s->has_pgboss ? "j.\"pgBossJobId\"" : "NULL::text",
        s->has_cancel ? "j.\"cancelledAt\"" : "NULL::timestamp",
        s->has_cancel ? "j.\"cancelledById\"" : "NULL::text",
        s->has_cancel ? "j.\"cancellationReason\"" : "NULL::text",
        s->has_pgboss ? "j.\"telemetryProgress\"::text" : "NULL::text",
        s->has_retries ? chain_joins : "", since);
    if (n < 0 || n >= QUERY_MAX)
        return SP_E_RANGE;
    n = snprintf(src->count_sql, QUERY_MAX, count_select, since);
    if (n < 0 || n >= QUERY_MAX)
        return SP_E_RANGE;
    n = snprintf(src->tasks_sql, QUERY_MAX, tasks_cursor,
                 s->task_dollars ? "NULL::integer" : "t.\"priceInCents\"",
                 s->task_dollars ? "t.\"priceInDollars\"" : "NULL::numeric",
                 s->task_llm ? "t.\"llmInteractions\"::text" : "NULL::text", since);
    return n < 0 || n >= QUERY_MAX ? SP_E_RANGE : 0;
}

#define MAX_COLS 64

static int detect(cli_psrc *src, const char *schema, char *err, size_t errlen)
{
    sp_db_res *cols = NULL, *labels = NULL;
    const char *job[MAX_COLS], *task[MAX_COLS], *eval[MAX_COLS], *st[MAX_COLS];
    size_t nj = 0, nt = 0, ne = 0, ns = 0;
    const char *params[] = {schema};
    int rc = sp_db_exec_params(src->db, columns_sql, 1, params, &cols);
    if (rc == 0)
        rc = sp_db_exec_params(src->db, labels_sql, 1, params, &labels);
    if (rc < 0) {
        db_err(src, "could not read the source's schema", err, errlen);
        goto out;
    }
    for (int i = 0; i < sp_db_res_nrows(cols); i++) {
        const char *table = sp_db_res_value(cols, i, 0);
        const char *col = sp_db_res_value(cols, i, 1);
        const char **list = strcmp(table, "Job") == 0    ? job
                            : strcmp(table, "Task") == 0 ? task
                                                         : eval;
        size_t *n = list == job ? &nj : list == task ? &nt : &ne;
        if (*n < MAX_COLS)
            list[(*n)++] = col;
    }
    for (int i = 0; i < sp_db_res_nrows(labels) && ns < MAX_COLS; i++)
        st[ns++] = sp_db_res_value(labels, i, 0);
    rc = cli_pmap_detect(job, nj, task, nt, eval, ne, st, ns, &src->shape, err, errlen);
    if (rc == 0 && build_queries(src) < 0) {
        snprintf(err, errlen, "internal error: source query too long");
        rc = SP_E_RANGE;
    }
out:
    sp_db_res_free(cols);
    sp_db_res_free(labels);
    return rc;
}

/* Connects *out to url and sets the session up (read-only, UTC, search_path schema). */
static int session_open(sp_db **out, const char *url, const char *schema, int connect_timeout_s,
                        char *err, size_t errlen)
{
    char redacted[512];
    int rc;
    if (sp_db_new(out) < 0) {
        snprintf(err, errlen, "out of memory");
        return SP_E_NOMEM;
    }
    if ((rc = sp_db_connect(*out, url, connect_timeout_s)) < 0) {
        sp_log_redact_url(url, redacted, sizeof(redacted));
        const char *detail = sp_db_err_detail(*out);
        snprintf(err, errlen, "could not connect to the source %s: %s%s%s", redacted,
                 sp_db_err_message(*out), detail[0] ? " - " : "", detail);
        return rc;
    }
    const char *params[] = {schema};
    if ((rc = sp_db_exec_params(*out, session_sql, 1, params, NULL)) < 0)
        db_err_on(*out, "could not set up the source session", err, errlen);
    return rc;
}

/* A snapshot name as pg_export_snapshot() returns it ("00000003-0000001B-1"): hex digits in
 * dash-separated groups. SET TRANSACTION SNAPSHOT takes no parameter, so the name goes into
 * the statement's text, and only a name that passes this check does. */
static bool snapshot_name_ok(const char *name)
{
    size_t n = 0;
    bool group = false;
    for (; name[n] != '\0'; n++) {
        char c = name[n];
        bool hex = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
        if (hex)
            group = true;
        else if (c == '-' && group)
            group = false;
        else
            return false;
    }
    return group && n < 64;
}

/* Starts db's read-only transaction in the snapshot named snap. */
static int join_snapshot(sp_db *db, const char *snap, char *err, size_t errlen)
{
    char sql[128];
    if (!snapshot_name_ok(snap)) {
        snprintf(err, errlen, "the source exported an unexpected snapshot name");
        return SP_E_INVAL;
    }
    snprintf(sql, sizeof(sql), "SET TRANSACTION SNAPSHOT '%s'", snap);
    if (sp_db_exec_params(db, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", 0, NULL, NULL) <
            0 ||
        sp_db_exec_params(db, sql, 0, NULL, NULL) < 0) {
        db_err_on(db, "could not share the source's snapshot", err, errlen);
        return SP_E_DB;
    }
    return 0;
}

int cli_psrc_open(cli_psrc **out, const char *url, const char *schema, int connect_timeout_s,
                  char *err, size_t errlen)
{
    cli_psrc *src = calloc(1, sizeof(*src));
    sp_db_res *snap = NULL;
    int rc;
    if (src == NULL) {
        snprintf(err, errlen, "out of memory");
        return SP_E_NOMEM;
    }
    if ((rc = session_open(&src->db, url, schema, connect_timeout_s, err, errlen)) < 0)
        goto fail;
    if ((rc = detect(src, schema, err, errlen)) < 0)
        goto fail;
    /* One snapshot for the checks, the totals and both cursors: exported by the first
     * session's transaction (open for the whole run) and joined by the others. */
    if ((rc = sp_db_exec_params(src->db, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", 0,
                                NULL, NULL)) < 0 ||
        (rc = sp_db_exec_params(src->db, "SELECT pg_export_snapshot()", 0, NULL, &snap)) < 0) {
        db_err(src, "could not start reading the source", err, errlen);
        goto fail;
    }
    const char *name = sp_db_res_value(snap, 0, 0);
    if ((rc = session_open(&src->xdb, url, schema, connect_timeout_s, err, errlen)) < 0 ||
        (rc = join_snapshot(src->xdb, name, err, errlen)) < 0)
        goto fail;
    if (src->shape.has_tasks &&
        ((rc = session_open(&src->tdb, url, schema, connect_timeout_s, err, errlen)) < 0 ||
         (rc = join_snapshot(src->tdb, name, err, errlen)) < 0))
        goto fail;
    sp_db_res_free(snap);
    *out = src;
    return 0;
fail:
    sp_db_res_free(snap);
    cli_psrc_free(src);
    return rc;
}

void cli_psrc_free(cli_psrc *src)
{
    if (src == NULL)
        return;
    for (int i = 0; i < src->nheld; i++)
        sp_db_res_free(src->held[i]);
    sp_db_free(src->tdb);
    sp_db_free(src->xdb);
    sp_db_free(src->db);
    free(src);
}

const cli_pmap_shape *cli_psrc_shape(const cli_psrc *src)
{
    return &src->shape;
}

sp_db *cli_psrc_db(cli_psrc *src)
{
    return src->db;
}

/* One rule: a query returning (id, reference, total) for at most 3 offending rows. A rule
 * that a validated, enforced foreign key (fk_*: table.column REFERENCES ref.id) already
 * guarantees is not checked again: the database holds no row that breaks it. */
typedef struct {
    bool needs_retries, needs_tasks;
    const char *fk_table, *fk_column, *fk_ref; /* NULL: no foreign key covers the rule */
    const char *what;                          /* "%lld <what>" */
    const char *example;                       /* "Job %s -> originalJobId %s" */
    const char *sql;
} rule;

static const rule rules[] = {
    {true, false, "Job", "originalJobId", "Job",
     "retry rows name an original job that does not exist", "\"Job\" %s has originalJobId %s",
     "SELECT j.id, j.\"originalJobId\", count(*) OVER () FROM \"Job\" j"
     " WHERE j.\"originalJobId\" IS NOT NULL"
     " AND NOT EXISTS (SELECT 1 FROM \"Job\" o WHERE o.id = j.\"originalJobId\")"
     " ORDER BY j.id LIMIT 3"},
    /* Only retry rows can break it: their set is joined with itself twice (hash joins over
     * the retries, not the whole table). */
    {true, false, NULL, NULL, NULL,
     "retry rows name themselves, or an original that is not a root nor a retry of one",
     "\"Job\" %s has originalJobId %s",
     "WITH r AS MATERIALIZED (SELECT id, \"originalJobId\" AS orig FROM \"Job\""
     "  WHERE \"originalJobId\" IS NOT NULL)"
     " SELECT j.id, j.orig, count(*) OVER () FROM r j"
     " WHERE j.orig = j.id OR j.orig IN (SELECT o.id FROM r o JOIN r oo ON oo.id = o.orig)"
     " ORDER BY j.id LIMIT 3"},
    {false, false, "Job", "evaluationId", "Evaluation",
     "jobs name an evaluation that does not exist", "\"Job\" %s has evaluationId %s",
     "SELECT j.id, j.\"evaluationId\", count(*) OVER () FROM \"Job\" j"
     " WHERE NOT EXISTS (SELECT 1 FROM \"Evaluation\" e WHERE e.id = j.\"evaluationId\")"
     " ORDER BY j.id LIMIT 3"},
    {false, true, "Task", "jobId", "Job", "tasks name a job that does not exist",
     "\"Task\" %s has jobId %s",
     "SELECT t.id, t.\"jobId\", count(*) OVER () FROM \"Task\" t"
     " WHERE NOT EXISTS (SELECT 1 FROM \"Job\" j WHERE j.id = t.\"jobId\")"
     " ORDER BY t.id LIMIT 3"},
};

/* Whether a validated foreign key with enabled triggers holds table.column to ref.id. */
static const char fk_sql[] =
    "SELECT EXISTS (SELECT 1 FROM pg_constraint c"
    " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]"
    " JOIN pg_attribute b ON b.attrelid = c.confrelid AND b.attnum = c.confkey[1]"
    " WHERE c.contype = 'f' AND c.convalidated AND cardinality(c.conkey) = 1"
    " AND c.conrelid = to_regclass(quote_ident($1)) AND c.confrelid = to_regclass(quote_ident($3))"
    " AND a.attname = $2 AND b.attname = 'id'"
    " AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgconstraint = c.oid"
    "  AND t.tgenabled = 'D'))";

int cli_psrc_preflight(cli_psrc *src, char *err, size_t errlen)
{
    size_t used = 0;
    err[0] = '\0';
    for (size_t i = 0; i < ARRAY_LEN(rules); i++) {
        const rule *r = &rules[i];
        if ((r->needs_retries && !src->shape.has_retries) ||
            (r->needs_tasks && !src->shape.has_tasks))
            continue;
        sp_db_res *res = NULL;
        if (r->fk_table != NULL) {
            const char *params[] = {r->fk_table, r->fk_column, r->fk_ref};
            if (sp_db_exec_params(src->xdb, fk_sql, 3, params, &res) < 0) {
                db_err_on(src->xdb, "could not check the source", err, errlen);
                return SP_E_DB;
            }
            bool enforced = sp_db_res_value(res, 0, 0)[0] == 't';
            sp_db_res_free(res);
            res = NULL;
            if (enforced)
                continue;
        }
        if (sp_db_exec_params(src->xdb, r->sql, 0, NULL, &res) < 0) {
            db_err_on(src->xdb, "could not check the source", err, errlen);
            return SP_E_DB;
        }
        int n = sp_db_res_nrows(res);
        if (n > 0 && used + 1 < errlen) {
            used += (size_t)snprintf(err + used, errlen - used, "%s%s %s, e.g. ",
                                     used > 0 ? "; " : "", sp_db_res_value(res, 0, 2), r->what);
            for (int k = 0; k < n && used + 1 < errlen; k++) {
                if (k > 0)
                    used += (size_t)snprintf(err + used, errlen - used, ", ");
                if (used + 1 < errlen)
                    used +=
                        (size_t)snprintf(err + used, errlen - used, r->example,
                                         sp_db_res_value(res, k, 0), sp_db_res_value(res, k, 1));
            }
        }
        sp_db_res_free(res);
        if (used >= errlen)
            used = errlen - 1;
    }
    return used > 0 ? SP_E_INVAL : 0;
}

int cli_psrc_count(cli_psrc *src, const char *after, const char *since, int64_t *out, char *err,
                   size_t errlen)
{
    sp_db_res *res = NULL;
    const char *params[] = {after, since};
    if (sp_db_exec_params(src->xdb, src->count_sql, 2, params, &res) < 0) {
        db_err_on(src->xdb, "could not count the source's jobs", err, errlen);
        return SP_E_DB;
    }
    *out = strtoll(sp_db_res_value(res, 0, 0), NULL, 10);
    sp_db_res_free(res);
    return 0;
}

int cli_psrc_oldest(cli_psrc *src, char *out, size_t outlen, char *err, size_t errlen)
{
    sp_db_res *res = NULL;
    if (sp_db_exec_params(src->xdb, "SELECT min(\"createdAt\")::timestamptz FROM \"Job\"", 0, NULL,
                          &res) < 0) {
        db_err_on(src->xdb, "could not read the source's oldest job", err, errlen);
        return SP_E_DB;
    }
    const char *v = sp_db_res_value(res, 0, 0);
    snprintf(out, outlen, "%s", v != NULL ? v : "");
    sp_db_res_free(res);
    return 0;
}

static int send_jobs_fetch(cli_psrc *src)
{
    char sql[64];
    snprintf(sql, sizeof(sql), "FETCH %d FROM spool_import_jobs", src->limit);
    if (sp_db_send_params(src->db, sql, 0, NULL) < 0)
        return SP_E_DB;
    src->jobs_sent = true;
    return 0;
}

static int send_tasks_fetch(cli_psrc *src)
{
    if (sp_db_send_params(src->tdb, "FETCH " TASK_CHUNK_S " FROM spool_import_tasks", 0, NULL) < 0)
        return SP_E_DB;
    src->tasks_sent = true;
    return 0;
}

int cli_psrc_start(cli_psrc *src, const char *after, const char *since, int limit, char *err,
                   size_t errlen)
{
    const char *params[] = {after, since};
    src->limit = limit;
    if (sp_db_exec_params(src->db, src->jobs_sql, 2, params, NULL) < 0 ||
        send_jobs_fetch(src) < 0) {
        db_err(src, "could not read the source's jobs", err, errlen);
        return SP_E_DB;
    }
    if (src->shape.has_tasks && (sp_db_exec_params(src->tdb, src->tasks_sql, 2, params, NULL) < 0 ||
                                 send_tasks_fetch(src) < 0)) {
        db_err_on(src->tdb, "could not read the source's tasks", err, errlen);
        return SP_E_DB;
    }
    src->tasks_done = !src->shape.has_tasks;
    return 0;
}

void cli_psrc_batch_clear(cli_psrc_batch *b)
{
    sp_db_res_free(b->jobs);
    free(b->first);
    free(b->count);
    free(b->tasks);
    memset(b, 0, sizeof(*b));
}

/* Keeps res alive until the next batch is read (its tasks are borrowed by this one). */
static int hold(cli_psrc *src, sp_db_res *res)
{
    if (src->nheld == HELD_MAX)
        return SP_E_RANGE;
    src->held[src->nheld++] = res;
    return 0;
}

static int task_from(cli_pmap_task *t, const sp_db_res *res, int k)
{
    *t = (cli_pmap_task){
        .id = sp_db_res_value(res, k, CLI_PSRC_T_ID),
        .job_id = sp_db_res_value(res, k, CLI_PSRC_T_JOB),
        .name = sp_db_res_value(res, k, CLI_PSRC_T_NAME),
        .model_name = sp_db_res_value(res, k, CLI_PSRC_T_MODEL),
        .price_in_cents = sp_db_res_value(res, k, CLI_PSRC_T_CENTS),
        .price_in_dollars = sp_db_res_value(res, k, CLI_PSRC_T_DOLLARS),
        .time_seconds = sp_db_res_value(res, k, CLI_PSRC_T_TIME),
        .log = sp_db_res_value(res, k, CLI_PSRC_T_LOG),
        .created_at = sp_db_res_value(res, k, CLI_PSRC_T_CREATED),
        .updated_at = sp_db_res_value(res, k, CLI_PSRC_T_UPDATED),
        .llm_interactions = sp_db_res_value(res, k, CLI_PSRC_T_LLM),
    };
    return 0;
}

int cli_psrc_next(cli_psrc *src, cli_psrc_batch *b, char *err, size_t errlen)
{
    size_t cap = 0;
    int rc;
    cli_psrc_batch_clear(b);
    /* Results whose tasks the previous batch borrowed; the current task chunk stays. */
    for (int i = 0; i < src->nheld; i++)
        if (src->held[i] != src->tchunk)
            sp_db_res_free(src->held[i]);
    src->nheld = 0;
    if (src->tchunk != NULL && (rc = hold(src, src->tchunk)) < 0)
        goto range;

    if (src->jobs_done)
        return 0;
    /* This batch's jobs were asked for when the previous batch was read (or by
     * cli_psrc_start): the source sorts and reads them while the caller maps and writes. */
    if (!src->jobs_sent && send_jobs_fetch(src) < 0) {
        db_err(src, "could not read the source's jobs", err, errlen);
        return SP_E_DB;
    }
    src->jobs_sent = false;
    if (sp_db_wait(src->db, &b->jobs) < 0) {
        db_err(src, "could not read the source's jobs", err, errlen);
        return SP_E_DB;
    }
    int n = sp_db_res_nrows(b->jobs);
    if (n < src->limit)
        src->jobs_done = true;
    else if (send_jobs_fetch(src) < 0) {
        db_err(src, "could not read the source's jobs", err, errlen);
        return SP_E_DB;
    }
    b->first = calloc((size_t)n + 1, sizeof(*b->first));
    b->count = calloc((size_t)n + 1, sizeof(*b->count));
    if (b->first == NULL || b->count == NULL)
        goto nomem;
    if (n == 0)
        return 0;
    const char *last = sp_db_res_value(b->jobs, n - 1, CLI_PSRC_J_ID);
    int j = 0;
    for (;;) {
        if (src->tchunk == NULL || src->tpos >= sp_db_res_nrows(src->tchunk)) {
            if (src->tasks_last)
                src->tasks_done = true; /* the chunk read last was short: nothing follows */
            if (src->tasks_done)
                break;
            sp_db_res *chunk = NULL;
            if ((!src->tasks_sent && send_tasks_fetch(src) < 0) ||
                (src->tasks_sent = false, sp_db_wait(src->tdb, &chunk) < 0) ||
                (sp_db_res_nrows(chunk) == TASK_CHUNK && send_tasks_fetch(src) < 0)) {
                sp_db_res_free(chunk);
                db_err_on(src->tdb, "could not read the source's tasks", err, errlen);
                return SP_E_DB;
            }
            if ((rc = hold(src, chunk)) < 0) {
                sp_db_res_free(chunk);
                goto range;
            }
            src->tchunk = chunk;
            src->tpos = 0;
            src->tasks_last = sp_db_res_nrows(chunk) < TASK_CHUNK;
            if (sp_db_res_nrows(chunk) == 0) {
                src->tasks_done = true;
                break;
            }
        }
        const char *job = sp_db_res_value(src->tchunk, src->tpos, CLI_PSRC_T_JOB);
        if (strcmp(job, last) > 0)
            break; /* the next batch's */
        /* Both cursors follow "C" order: advance to the task's job. */
        while (j < n && strcmp(sp_db_res_value(b->jobs, j, CLI_PSRC_J_ID), job) < 0)
            j++;
        if (j >= n || strcmp(sp_db_res_value(b->jobs, j, CLI_PSRC_J_ID), job) != 0) {
            snprintf(err, errlen, "task %s names job %s, which the jobs cursor did not return",
                     sp_db_res_value(src->tchunk, src->tpos, CLI_PSRC_T_ID), job);
            return SP_E_INVAL;
        }
        if (b->ntasks == cap) {
            cap = cap ? cap * 2 : 4096;
            cli_pmap_task *grown = realloc(b->tasks, cap * sizeof(*grown));
            if (grown == NULL)
                goto nomem;
            b->tasks = grown;
        }
        if (b->count[j] == 0)
            b->first[j] = b->ntasks;
        b->count[j]++;
        task_from(&b->tasks[b->ntasks++], src->tchunk, src->tpos++);
    }
    return 0;
range:
    snprintf(err, errlen, "a batch spans too many task chunks: use a smaller --batch");
    return SP_E_RANGE;
nomem:
    snprintf(err, errlen, "out of memory");
    return SP_E_NOMEM;
}

int cli_psrc_totals(cli_psrc *src, sp_db_res **by_status, char *err, size_t errlen)
{
    char sql[2048];
    const cli_pmap_shape *s = &src->shape;
    const char *cost = s->job_dollars && s->job_cents
                           ? "coalesce(\"priceInDollars\", \"costInCents\"::numeric / 100)"
                       : s->job_dollars ? "\"priceInDollars\""
                                        : "\"costInCents\"::numeric / 100";
    *by_status = NULL;
    snprintf(sql, sizeof(sql),
             "SELECT status::text AS legacy_status, count(*) AS jobs,"
             " coalesce(trim_scale(sum(%s)), 0) AS cost"
             " FROM \"Job\" GROUP BY 1 ORDER BY 1",
             cost);
    if (sp_db_exec_params(src->xdb, sql, 0, NULL, by_status) < 0)
        goto fail;
    /* The rest runs while the import does (cli_psrc_totals_other collects it): one scan of "Task"
     * (count and price together), one of the retries (chains). */
    snprintf(sql, sizeof(sql),
             "SELECT t.tasks, t.task_price, c.chains, c.longest_chain,"
             " (SELECT min(\"createdAt\")::timestamptz FROM \"Job\") AS oldest"
             " FROM (%s) t, (%s) c",
             !s->has_tasks ? "SELECT 0 AS tasks, 0 AS task_price"
             : s->task_dollars
                 ? "SELECT count(*) AS tasks, coalesce(trim_scale(sum(\"priceInDollars\")), 0)"
                   " AS task_price FROM \"Task\""
                 : "SELECT count(*) AS tasks,"
                   " coalesce(trim_scale(sum(\"priceInCents\"::numeric / 100)), 0) AS task_price"
                   " FROM \"Task\"",
             s->has_retries ? "SELECT count(*) AS chains, coalesce(max(n), 0) + 1 AS longest_chain"
                              " FROM (SELECT count(*) AS n FROM \"Job\""
                              " WHERE \"originalJobId\" IS NOT NULL"
                              " GROUP BY \"originalJobId\") x"
                            : "SELECT 0 AS chains, 1 AS longest_chain");
    if (sp_db_send_params(src->xdb, sql, 0, NULL) < 0)
        goto fail;
    src->totals_sent = true;
    return 0;
fail:
    db_err_on(src->xdb, "could not total the source", err, errlen);
    sp_db_res_free(*by_status);
    *by_status = NULL;
    return SP_E_DB;
}

int cli_psrc_totals_other(cli_psrc *src, sp_db_res **other, char *err, size_t errlen)
{
    *other = NULL;
    if (!src->totals_sent) {
        snprintf(err, errlen, "internal error: the source's totals were not asked for");
        return SP_E_INVAL;
    }
    src->totals_sent = false;
    if (sp_db_wait(src->xdb, other) < 0) {
        db_err_on(src->xdb, "could not total the source", err, errlen);
        return SP_E_DB;
    }
    return 0;
}

/*
 * cli_jobs: the job commands of the spool CLI: submit, jobs, job, cancel, retry.
 * Each calls the SQL API (docs/sql-api.md) or reads the spool.jobs and spool.events views
 * with parameterised statements.
 */
#include <stdio.h>
#include <string.h>

#include "cli_commands.h"
#include "cli_output.h"
#include "sp_json.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const char *const job_statuses[] = {"blocked",   "scheduled", "pending", "running",
                                           "completed", "failed",    "dead",    "cancelled"};

/* Prints a single-row result as JSON or through the human formatter. */
static void print_job_line(const cli_ctx *ctx, const sp_db_res *res, const char *verb)
{
    if (ctx->json) {
        json_object *obj = cli_output_row_json(res, 0);
        cli_output_json(stdout, obj);
        json_object_put(obj);
        return;
    }
    const char *prio = sp_db_res_get(res, 0, "priority");
    printf("%s job %s status=%s type=%s queue=%s priority=%s attempts=%s/%s\n", verb,
           sp_db_res_get(res, 0, "id"), sp_db_res_get(res, 0, "status"),
           sp_db_res_get(res, 0, "type"), sp_db_res_get(res, 0, "queue"), prio ? prio : "",
           sp_db_res_get(res, 0, "attempts"), sp_db_res_get(res, 0, "max_attempts"));
}

/* Builds a JSON array of the repeated option's values; returns an owned string via *out
 * (NULL when the option is absent). */
static int values_json(const cli_args *args, const char *name, json_object **holder,
                       const char **out)
{
    size_t n = cli_args_count(args, name);
    *out = NULL;
    *holder = NULL;
    if (n == 0)
        return 0;
    json_object *arr = json_object_new_array();
    if (arr == NULL)
        return SP_E_NOMEM;
    for (size_t i = 0; i < n; i++)
        json_object_array_add(arr, json_object_new_string(cli_args_value_at(args, name, i)));
    *holder = arr;
    *out = sp_json_to_string(arr, false);
    return 0;
}

/* ---- submit ---------------------------------------------------------------------------- */

static const cli_opt_def submit_opts[] = {
    {"payload", CLI_OPT_VALUE, "JSON", "job input (default {})"},
    {"priority", CLI_OPT_VALUE, "N", "0..100, higher runs first (default: the type's)"},
    {"queue", CLI_OPT_VALUE, "Q", "queue name (default \"default\")"},
    {"run-at", CLI_OPT_VALUE, "TIMESTAMP", "do not run before this time"},
    {"delay", CLI_OPT_VALUE, "SECONDS", "do not run for this many seconds"},
    {"service", CLI_OPT_VALUE, "NAME", "service the worker must offer"},
    {"requirements", CLI_OPT_VALUE, "JSON", "capability requirements (object)"},
    {"customer", CLI_OPT_VALUE, "ID", "customer or tenant id"},
    {"tag", CLI_OPT_MULTI, "T", "tag (repeatable)"},
    {"metadata", CLI_OPT_VALUE, "JSON", "free-form metadata (object)"},
    {"idempotency-key", CLI_OPT_VALUE, "K", "submit at most once per key"},
    {"depends-on", CLI_OPT_MULTI, "UUID", "run after this job completes (repeatable)"},
    {"max-attempts", CLI_OPT_VALUE, "N", "attempts before the job is dead"},
    {"timeout", CLI_OPT_VALUE, "SECONDS", "run time limit per attempt"},
};

static const char submit_sql[] =
    "SELECT * FROM spool.submit("
    " type => $1::text,"
    " payload => coalesce($2::jsonb, '{}'::jsonb),"
    " priority => $3::integer,"
    " run_at => CASE WHEN $15::float8 IS NULL THEN $4::timestamptz"
    "           ELSE now() + $15::float8 * interval '1 second' END,"
    " queue => coalesce($5::text, 'default'),"
    " service_required => $6::text,"
    " requirements => $7::jsonb,"
    " customer_id => $8::text,"
    " tags => CASE WHEN $9::jsonb IS NULL THEN NULL"
    "         ELSE ARRAY(SELECT jsonb_array_elements_text($9::jsonb)) END,"
    " metadata => $10::jsonb,"
    " idempotency_key => $11::text,"
    " depends_on => CASE WHEN $12::jsonb IS NULL THEN NULL"
    "               ELSE ARRAY(SELECT u::uuid FROM jsonb_array_elements_text($12::jsonb) AS u) END,"
    " max_attempts => $13::integer,"
    " timeout_seconds => $14::integer)";

static int submit_run(cli_ctx *ctx, const cli_command *cmd, const cli_args *args)
{
    int rc;
    sp_db_res *res = NULL;
    json_object *tags = NULL;
    json_object *deps = NULL;
    const char *tags_text, *deps_text;

    if ((rc = cli_check_json_option(cmd, args, "payload")) ||
        (rc = cli_check_json_option(cmd, args, "requirements")) ||
        (rc = cli_check_json_option(cmd, args, "metadata")) ||
        (rc = cli_check_int_option(cmd, args, "priority", -2147483648LL, 2147483647LL)) ||
        (rc = cli_check_int_option(cmd, args, "max-attempts", 1, 2147483647LL)) ||
        (rc = cli_check_int_option(cmd, args, "timeout", 1, 2147483647LL)) ||
        (rc = cli_check_seconds_option(cmd, args, "delay")))
        return rc;
    if (cli_args_has(args, "run-at") && cli_args_has(args, "delay"))
        return cli_usage_error(cmd, "use either --run-at or --delay, not both");
    for (size_t i = 0; i < cli_args_count(args, "depends-on"); i++) {
        rc = cli_check_uuid(cmd, "--depends-on", cli_args_value_at(args, "depends-on", i));
        if (rc != 0)
            return rc;
    }
    if (values_json(args, "tag", &tags, &tags_text) < 0 ||
        values_json(args, "depends-on", &deps, &deps_text) < 0) {
        fputs("error: out of memory\n", stderr);
        rc = CLI_EXIT_FAIL;
        goto out;
    }

    rc = cli_connect(ctx);
    if (rc != 0)
        goto out;
    const char *params[] = {
        cli_args_pos(args, 0),
        cli_args_get(args, "payload"),
        cli_args_get(args, "priority"),
        cli_args_get(args, "run-at"),
        cli_args_get(args, "queue"),
        cli_args_get(args, "service"),
        cli_args_get(args, "requirements"),
        cli_args_get(args, "customer"),
        tags_text,
        cli_args_get(args, "metadata"),
        cli_args_get(args, "idempotency-key"),
        deps_text,
        cli_args_get(args, "max-attempts"),
        cli_args_get(args, "timeout"),
        cli_args_get(args, "delay"),
    };
    rc = cli_query(ctx, submit_sql, (int)ARRAY_LEN(params), params, &res);
    if (rc != 0)
        goto out;
    if (sp_db_res_nrows(res) < 1) {
        fputs("error: submit returned no job\n", stderr);
        rc = CLI_EXIT_FAIL;
        goto out;
    }
    print_job_line(ctx, res, "submitted");
out:
    sp_db_res_free(res);
    json_object_put(tags);
    json_object_put(deps);
    return rc;
}

const cli_command cli_cmd_submit = {
    .name = "submit",
    .usage = "TYPE [options]",
    .summary = "submit a job of a registered type and print its id",
    .details = "JSON options are checked before anything is sent. TIMESTAMP is any form\n"
               "PostgreSQL accepts, e.g. '2030-01-01 12:00+00'.",
    .opts = submit_opts,
    .nopts = ARRAY_LEN(submit_opts),
    .min_pos = 1,
    .max_pos = 1,
    .run = submit_run,
};

/* ---- jobs ------------------------------------------------------------------------------ */

static const cli_opt_def jobs_opts[] = {
    {"status", CLI_OPT_VALUE, "S", "only jobs in this status"},
    {"type", CLI_OPT_VALUE, "T", "only jobs of this type"},
    {"queue", CLI_OPT_VALUE, "Q", "only jobs in this queue"},
    {"limit", CLI_OPT_VALUE, "N", "at most N jobs, newest first (default 50)"},
};

#define JOBS_FILTER                                                                                \
    " FROM spool.jobs"                                                                             \
    " WHERE ($1::text IS NULL OR status = $1::text)"                                               \
    "   AND ($2::text IS NULL OR type = $2::text)"                                                 \
    "   AND ($3::text IS NULL OR queue = $3::text)"                                                \
    " ORDER BY created_at DESC, id DESC"                                                           \
    " LIMIT $4::integer"

static const char jobs_sql_human[] =
    "SELECT id, type, queue, status, priority, attempts || '/' || max_attempts AS attempts,"
    " to_char(created_at, 'YYYY-MM-DD HH24:MI:SS') AS created,"
    " CASE WHEN length(error) > 40 THEN left(error, 37) || '...' ELSE error END AS "
    "error" JOBS_FILTER;

static const char jobs_sql_json[] =
    "SELECT id, type, queue, status, priority, attempts, max_attempts, progress, worker_id,"
    " run_at, created_at, started_at, finished_at, error" JOBS_FILTER;

static int jobs_run(cli_ctx *ctx, const cli_command *cmd, const cli_args *args)
{
    int rc;
    sp_db_res *res = NULL;
    const char *status = cli_args_get(args, "status");
    const char *limit = cli_args_get(args, "limit");

    if ((rc = cli_check_int_option(cmd, args, "limit", 1, 100000)))
        return rc;
    if (status != NULL) {
        bool known = false;
        for (size_t i = 0; i < ARRAY_LEN(job_statuses); i++)
            known = known || strcmp(status, job_statuses[i]) == 0;
        if (!known)
            return cli_usage_error(cmd,
                                   "unknown status \"%s\" (blocked, scheduled, pending, running, "
                                   "completed, failed, dead, cancelled)",
                                   status);
    }
    rc = cli_connect(ctx);
    if (rc != 0)
        return rc;
    const char *params[] = {status, cli_args_get(args, "type"), cli_args_get(args, "queue"),
                            limit != NULL ? limit : "50"};
    rc = cli_query(ctx, ctx->json ? jobs_sql_json : jobs_sql_human, 4, params, &res);
    if (rc != 0)
        return rc;
    if (ctx->json) {
        json_object *arr = cli_output_rows_json(res);
        cli_output_json(stdout, arr);
        json_object_put(arr);
    } else {
        cli_output_table(stdout, res);
    }
    sp_db_res_free(res);
    return 0;
}

const cli_command cli_cmd_jobs = {
    .name = "jobs",
    .usage = "[options]",
    .summary = "list jobs, newest first",
    .details = NULL,
    .opts = jobs_opts,
    .nopts = ARRAY_LEN(jobs_opts),
    .min_pos = 0,
    .max_pos = 0,
    .run = jobs_run,
};

/* ---- job ------------------------------------------------------------------------------- */

static const char job_sql[] = "SELECT * FROM spool.jobs WHERE id = $1::uuid";
static const char job_events_sql[] =
    "SELECT id, kind, status, at, data FROM spool.job_events($1::uuid)";

static int job_run(cli_ctx *ctx, const cli_command *cmd, const cli_args *args)
{
    int rc;
    sp_db_res *job = NULL;
    sp_db_res *events = NULL;
    const char *id = cli_args_pos(args, 0);

    if ((rc = cli_check_uuid(cmd, "job id", id)))
        return rc;
    rc = cli_connect(ctx);
    if (rc != 0)
        return rc;
    const char *params[] = {id};
    rc = cli_query(ctx, job_sql, 1, params, &job);
    if (rc != 0)
        goto out;
    if (sp_db_res_nrows(job) == 0) {
        fprintf(stderr, "error: job %s not found\n", id);
        rc = CLI_EXIT_FAIL;
        goto out;
    }
    rc = cli_query(ctx, job_events_sql, 1, params, &events);
    if (rc != 0)
        goto out;
    if (ctx->json) {
        json_object *obj = cli_output_row_json(job, 0);
        json_object_object_add(obj, "events", cli_output_rows_json(events));
        cli_output_json(stdout, obj);
        json_object_put(obj);
    } else {
        cli_output_record(stdout, job, 0);
        puts("\nevents:");
        cli_output_table(stdout, events);
    }
out:
    sp_db_res_free(events);
    sp_db_res_free(job);
    return rc;
}

const cli_command cli_cmd_job = {
    .name = "job",
    .usage = "ID",
    .summary = "show one job: every field, its error history and its events",
    .details = NULL,
    .opts = NULL,
    .nopts = 0,
    .min_pos = 1,
    .max_pos = 1,
    .run = job_run,
};

/* ---- cancel and retry ------------------------------------------------------------------ */

static const cli_opt_def cancel_opts[] = {
    {"reason", CLI_OPT_VALUE, "TEXT", "why the job is cancelled (recorded)"},
};

static int cancel_run(cli_ctx *ctx, const cli_command *cmd, const cli_args *args)
{
    int rc;
    sp_db_res *res = NULL;
    const char *id = cli_args_pos(args, 0);

    if ((rc = cli_check_uuid(cmd, "job id", id)))
        return rc;
    rc = cli_connect(ctx);
    if (rc != 0)
        return rc;
    const char *params[] = {id, cli_args_get(args, "reason")};
    rc = cli_query(ctx, "SELECT * FROM spool.cancel(job_id => $1::uuid, reason => $2::text)", 2,
                   params, &res);
    if (rc != 0)
        return rc;
    if (sp_db_res_nrows(res) > 0) {
        const char *status = sp_db_res_get(res, 0, "status");
        bool requested = status != NULL && strcmp(status, "running") == 0;
        print_job_line(ctx, res, requested ? "cancel requested for" : "cancelled");
    }
    sp_db_res_free(res);
    return 0;
}

const cli_command cli_cmd_cancel = {
    .name = "cancel",
    .usage = "ID [--reason TEXT]",
    .summary = "cancel a job (a running job is stopped by its worker)",
    .details = NULL,
    .opts = cancel_opts,
    .nopts = ARRAY_LEN(cancel_opts),
    .min_pos = 1,
    .max_pos = 1,
    .run = cancel_run,
};

static int retry_run(cli_ctx *ctx, const cli_command *cmd, const cli_args *args)
{
    int rc;
    sp_db_res *res = NULL;
    const char *id = cli_args_pos(args, 0);

    if ((rc = cli_check_uuid(cmd, "job id", id)))
        return rc;
    rc = cli_connect(ctx);
    if (rc != 0)
        return rc;
    const char *params[] = {id};
    rc = cli_query(ctx, "SELECT * FROM spool.retry(job_id => $1::uuid)", 1, params, &res);
    if (rc != 0)
        return rc;
    if (sp_db_res_nrows(res) > 0)
        print_job_line(ctx, res, "retrying");
    sp_db_res_free(res);
    return 0;
}

const cli_command cli_cmd_retry = {
    .name = "retry",
    .usage = "ID",
    .summary = "run a failed, dead or cancelled job again",
    .details = NULL,
    .opts = NULL,
    .nopts = 0,
    .min_pos = 1,
    .max_pos = 1,
    .run = retry_run,
};

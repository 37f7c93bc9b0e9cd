/*
 * cli_admin: the operator commands of the spool CLI: migrate, types, stats, workers.
 */
#include <stdio.h>
#include <string.h>

#include "cli_commands.h"
#include "cli_output.h"
#include "sp_migrate.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Prints a result as a JSON array or a table. */
static void print_rows(const cli_ctx *ctx, const sp_db_res *res)
{
    if (ctx->json) {
        json_object *arr = cli_output_rows_json(res);
        cli_output_json(stdout, arr);
        json_object_put(arr);
    } else {
        cli_output_table(stdout, res);
    }
}

/* ---- migrate --------------------------------------------------------------------------- */

static const cli_opt_def migrate_opts[] = {
    {"check", CLI_OPT_FLAG, NULL, "only report whether the database is up to date (exit 1 if not)"},
};

static int migrate_check(cli_ctx *ctx)
{
    char err[512];
    sp_migrate_state st;
    if (sp_migrate_status(ctx->db, &st, err, sizeof(err)) < 0) {
        fprintf(stderr, "error: %s\n", err);
        return CLI_EXIT_FAIL;
    }
    if (ctx->json) {
        json_object *obj = json_object_new_object();
        json_object_object_add(obj, "ready", json_object_new_boolean(st.ready));
        json_object_object_add(obj, "total", json_object_new_int64((int64_t)st.total));
        json_object_object_add(obj, "pending", json_object_new_int64((int64_t)st.pending));
        json_object_object_add(obj, "edited", json_object_new_int64((int64_t)st.edited));
        cli_output_json(stdout, obj);
        json_object_put(obj);
    } else if (st.ready) {
        puts("database is up to date");
    } else {
        printf("database is not up to date: %zu of %zu files pending, %zu migrations edited\n",
               st.pending, st.total, st.edited);
    }
    return st.ready ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

static int migrate_run(cli_ctx *ctx, const cli_command *cmd, const cli_args *args)
{
    (void)cmd;
    char err[1024];
    sp_migrate_report report = {0};
    int rc = cli_connect(ctx);
    if (rc != 0)
        return rc;
    if (cli_args_has(args, "check"))
        return migrate_check(ctx);

    int mrc = sp_migrate_run(ctx->db, &report, err, sizeof(err));
    if (mrc < 0) {
        fprintf(stderr, "error: %s\n", err);
        if (mrc == SP_E_DB && sp_db_err_detail(ctx->db)[0] != '\0')
            fprintf(stderr, "detail: %s\n", sp_db_err_detail(ctx->db));
        if (mrc == SP_E_DB && sp_db_err_hint(ctx->db)[0] != '\0')
            fprintf(stderr, "hint: %s\n", sp_db_err_hint(ctx->db));
        return CLI_EXIT_FAIL;
    }
    if (ctx->json) {
        json_object *obj = json_object_new_object();
        json_object *arr = json_object_new_array();
        for (size_t i = 0; i < report.napplied; i++) {
            json_object *e = json_object_new_object();
            json_object_object_add(e, "name", json_object_new_string(report.applied[i].name));
            json_object_object_add(e, "kind", json_object_new_string(report.applied[i].kind));
            json_object_array_add(arr, e);
        }
        json_object_object_add(obj, "applied", arr);
        json_object_object_add(obj, "count", json_object_new_int64((int64_t)report.napplied));
        json_object_object_add(obj, "up_to_date", json_object_new_boolean(report.napplied == 0));
        cli_output_json(stdout, obj);
        json_object_put(obj);
    } else if (report.napplied == 0) {
        puts("database is up to date");
    } else {
        for (size_t i = 0; i < report.napplied; i++)
            printf("applied %s %s\n", report.applied[i].kind, report.applied[i].name);
        printf("applied %zu file%s\n", report.napplied, report.napplied == 1 ? "" : "s");
    }
    sp_migrate_report_clear(&report);
    return CLI_EXIT_OK;
}

const cli_command cli_cmd_migrate = {
    .name = "migrate",
    .usage = "[--check]",
    .summary = "create or upgrade the spool schema (safe to run again)",
    .details = "Applies new migrations in order and re-applies changed SQL functions, in one\n"
               "transaction under an advisory lock. A migration edited after it was applied\n"
               "stops the run and changes nothing.",
    .opts = migrate_opts,
    .nopts = ARRAY_LEN(migrate_opts),
    .min_pos = 0,
    .max_pos = 0,
    .run = migrate_run,
};

/* ---- types ----------------------------------------------------------------------------- */

static const cli_opt_def types_opts[] = {
    {"max-attempts", CLI_OPT_VALUE, "N", "attempts before a job is dead (1..1000)"},
    {"backoff-base", CLI_OPT_VALUE, "S", "first retry delay in seconds"},
    {"backoff-max", CLI_OPT_VALUE, "S", "largest retry delay in seconds"},
    {"timeout", CLI_OPT_VALUE, "S", "run time limit per attempt in seconds"},
    {"priority", CLI_OPT_VALUE, "N", "default priority 0..100"},
    {"retention", CLI_OPT_VALUE, "INTERVAL", "keep finished jobs this long, e.g. '7 days'"},
    {"payload-schema", CLI_OPT_VALUE, "JSON", "{\"required\":[...],\"properties\":{...}}"},
    {"description", CLI_OPT_VALUE, "TEXT", "what jobs of this type do"},
};

static const char types_sql_human[] =
    "SELECT name, priority, max_attempts, backoff_base_seconds AS backoff_base,"
    " backoff_max_seconds AS backoff_max, timeout_seconds AS timeout, retention, description"
    " FROM spool.job_types ORDER BY name";

static const char types_sql_json[] = "SELECT * FROM spool.job_types ORDER BY name";

/* Options left out keep the type's current value (or the default for a new type). */
static const char types_set_sql[] =
    "SELECT r.* FROM (SELECT 1) AS one"
    " LEFT JOIN spool.job_types AS cur ON cur.name = $1::text,"
    " LATERAL spool.register_type("
    "   name => $1::text,"
    "   max_attempts => coalesce($2::integer, cur.max_attempts, 5),"
    "   backoff_base_seconds => coalesce($3::float8, cur.backoff_base_seconds, 2),"
    "   backoff_max_seconds => coalesce($4::float8, cur.backoff_max_seconds, 3600),"
    "   timeout_seconds => coalesce($5::integer, cur.timeout_seconds, 1800),"
    "   priority => coalesce($6::integer, cur.priority, 50),"
    "   retention => coalesce($7::interval, cur.retention, '7 days'),"
    "   payload_schema => coalesce($8::jsonb, cur.payload_schema),"
    "   description => $9::text) AS r";

static int types_set(cli_ctx *ctx, const cli_command *cmd, const cli_args *args)
{
    int rc;
    sp_db_res *res = NULL;
    if ((rc = cli_check_int_option(cmd, args, "max-attempts", 1, 1000)) ||
        (rc = cli_check_int_option(cmd, args, "timeout", 1, 31536000)) ||
        (rc = cli_check_int_option(cmd, args, "priority", 0, 100)) ||
        (rc = cli_check_seconds_option(cmd, args, "backoff-base")) ||
        (rc = cli_check_seconds_option(cmd, args, "backoff-max")) ||
        (rc = cli_check_json_option(cmd, args, "payload-schema")))
        return rc;
    rc = cli_connect(ctx);
    if (rc != 0)
        return rc;
    const char *params[] = {
        cli_args_pos(args, 1),
        cli_args_get(args, "max-attempts"),
        cli_args_get(args, "backoff-base"),
        cli_args_get(args, "backoff-max"),
        cli_args_get(args, "timeout"),
        cli_args_get(args, "priority"),
        cli_args_get(args, "retention"),
        cli_args_get(args, "payload-schema"),
        cli_args_get(args, "description"),
    };
    rc = cli_query(ctx, types_set_sql, (int)ARRAY_LEN(params), params, &res);
    if (rc != 0)
        return rc;
    if (ctx->json) {
        json_object *obj = cli_output_row_json(res, 0);
        cli_output_json(stdout, obj);
        json_object_put(obj);
    } else {
        printf("type %s saved: priority=%s max_attempts=%s timeout=%ss retention=%s\n",
               sp_db_res_get(res, 0, "name"), sp_db_res_get(res, 0, "priority"),
               sp_db_res_get(res, 0, "max_attempts"), sp_db_res_get(res, 0, "timeout_seconds"),
               sp_db_res_get(res, 0, "retention"));
    }
    sp_db_res_free(res);
    return 0;
}

static int types_run(cli_ctx *ctx, const cli_command *cmd, const cli_args *args)
{
    int rc;
    sp_db_res *res = NULL;
    size_t npos = cli_args_npos(args);
    if (npos > 0) {
        if (strcmp(cli_args_pos(args, 0), "set") != 0)
            return cli_usage_error(cmd, "unknown subcommand \"%s\" (did you mean 'types set'?)",
                                   cli_args_pos(args, 0));
        if (npos != 2)
            return cli_usage_error(cmd, "usage: spool types set NAME [options]");
        return types_set(ctx, cmd, args);
    }
    for (size_t i = 0; i < ARRAY_LEN(types_opts); i++)
        if (cli_args_has(args, types_opts[i].name))
            return cli_usage_error(cmd, "--%s only applies to 'types set NAME'",
                                   types_opts[i].name);
    rc = cli_connect(ctx);
    if (rc != 0)
        return rc;
    rc = cli_query(ctx, ctx->json ? types_sql_json : types_sql_human, 0, NULL, &res);
    if (rc != 0)
        return rc;
    print_rows(ctx, res);
    sp_db_res_free(res);
    return 0;
}

const cli_command cli_cmd_types = {
    .name = "types",
    .usage = "[set NAME [options]]",
    .summary = "list job types, or create or update one with 'types set NAME'",
    .details = "'types set' changes only the options given; a new type starts from the\n"
               "defaults (max attempts 5, backoff 2s..3600s, timeout 1800s, priority 50,\n"
               "retention 7 days).",
    .opts = types_opts,
    .nopts = ARRAY_LEN(types_opts),
    .min_pos = 0,
    .max_pos = 2,
    .run = types_run,
};

/* ---- stats ----------------------------------------------------------------------------- */

static const struct {
    const char *key;
    const char *title;
    const char *sql;
} stats_sections[] = {
    {"queue_depth", "queue depth",
     "SELECT type, queue, status, jobs FROM spool.queue_depth ORDER BY type, queue, status"},
    {"throughput", "throughput (per minute, newest first)",
     "SELECT minute, type, completed, failed, dead FROM spool.throughput"
     " ORDER BY minute DESC, type LIMIT 60"},
    {"latency", "latency",
     "SELECT type, jobs, p50_ms, p90_ms, p99_ms FROM spool.latency ORDER BY type"},
};

static int stats_run(cli_ctx *ctx, const cli_command *cmd, const cli_args *args)
{
    (void)cmd;
    (void)args;
    int rc = cli_connect(ctx);
    if (rc != 0)
        return rc;
    json_object *all = ctx->json ? json_object_new_object() : NULL;
    for (size_t i = 0; i < ARRAY_LEN(stats_sections); i++) {
        sp_db_res *res = NULL;
        rc = cli_query(ctx, stats_sections[i].sql, 0, NULL, &res);
        if (rc != 0)
            goto out;
        if (all != NULL) {
            json_object_object_add(all, stats_sections[i].key, cli_output_rows_json(res));
        } else {
            printf("%s%s\n", i > 0 ? "\n" : "", stats_sections[i].title);
            cli_output_table(stdout, res);
        }
        sp_db_res_free(res);
    }
    if (all != NULL)
        cli_output_json(stdout, all);
out:
    json_object_put(all);
    return rc;
}

const cli_command cli_cmd_stats = {
    .name = "stats",
    .usage = "",
    .summary = "queue depth, throughput and latency",
    .details = NULL,
    .opts = NULL,
    .nopts = 0,
    .min_pos = 0,
    .max_pos = 0,
    .run = stats_run,
};

/* ---- workers --------------------------------------------------------------------------- */

static int workers_run(cli_ctx *ctx, const cli_command *cmd, const cli_args *args)
{
    (void)cmd;
    (void)args;
    sp_db_res *res = NULL;
    int rc = cli_connect(ctx);
    if (rc != 0)
        return rc;
    rc = cli_query(ctx,
                   "SELECT id, name, status, last_heartbeat_at, seconds_since_heartbeat,"
                   " running_jobs, health FROM spool.worker_health ORDER BY id",
                   0, NULL, &res);
    if (rc != 0)
        return rc;
    print_rows(ctx, res);
    sp_db_res_free(res);
    return 0;
}

const cli_command cli_cmd_workers = {
    .name = "workers",
    .usage = "",
    .summary = "registered workers and their health",
    .details = NULL,
    .opts = NULL,
    .nopts = 0,
    .min_pos = 0,
    .max_pos = 0,
    .run = workers_run,
};

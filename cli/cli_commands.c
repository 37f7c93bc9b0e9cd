/* cli_commands: helpers shared by the spool CLI's commands; see cli_commands.h. */
#include "cli_commands.h"

#include <stdarg.h>
#include <stdio.h>

#include "cli_output.h"
#include "sp_json.h"
#include "sp_log.h"

int cli_connect(cli_ctx *ctx)
{
    char redacted[1024];
    const char *url = sp_config_string(ctx->cfg, "database_url");
    if (url == NULL || url[0] == '\0') {
        fputs("error: no database URL: use --database-url or set SPOOL_DATABASE_URL\n", stderr);
        return CLI_EXIT_USAGE;
    }
    if (sp_db_new(&ctx->db) < 0) {
        fputs("error: out of memory\n", stderr);
        return CLI_EXIT_FAIL;
    }
    int64_t timeout_ms = sp_config_duration_ms(ctx->cfg, "connect_timeout");
    int timeout_s = (int)((timeout_ms + 999) / 1000);
    if (sp_db_connect(ctx->db, url, timeout_s) < 0) {
        sp_log_redact_url(url, redacted, sizeof(redacted));
        fprintf(stderr, "error: could not connect to %s: %s\n", redacted,
                sp_db_err_message(ctx->db));
        if (sp_db_err_detail(ctx->db)[0] != '\0')
            fprintf(stderr, "detail: %s\n", sp_db_err_detail(ctx->db));
        return CLI_EXIT_FAIL;
    }
    return 0;
}

int cli_query(cli_ctx *ctx, const char *sql, int nparams, const char *const *params,
              sp_db_res **out)
{
    if (sp_db_exec_params(ctx->db, sql, nparams, params, out) < 0) {
        cli_output_db_error(ctx->db);
        return CLI_EXIT_FAIL;
    }
    return 0;
}

int cli_usage_error(const cli_command *cmd, const char *fmt, ...)
{
    va_list ap;
    fputs("error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (cmd != NULL)
        fprintf(stderr, "\nhint: see 'spool %s --help'\n", cmd->name);
    else
        fputs("\nhint: see 'spool --help'\n", stderr);
    return CLI_EXIT_USAGE;
}

int cli_check_json_option(const cli_command *cmd, const cli_args *args, const char *name)
{
    char err[256];
    json_object *obj = NULL;
    const char *v = cli_args_get(args, name);
    if (v == NULL)
        return 0;
    if (sp_json_parse(v, &obj, err, sizeof(err)) < 0)
        return cli_usage_error(cmd, "--%s is not valid JSON: %s", name, err);
    json_object_put(obj);
    return 0;
}

int cli_check_int_option(const cli_command *cmd, const cli_args *args, const char *name,
                         int64_t min, int64_t max)
{
    int64_t n;
    const char *v = cli_args_get(args, name);
    if (v == NULL)
        return 0;
    if (cli_parse_int(v, min, max, &n) < 0)
        return cli_usage_error(cmd, "--%s must be an integer from %lld to %lld, not \"%s\"", name,
                               (long long)min, (long long)max, v);
    return 0;
}

int cli_check_seconds_option(const cli_command *cmd, const cli_args *args, const char *name)
{
    double d;
    const char *v = cli_args_get(args, name);
    if (v == NULL)
        return 0;
    if (cli_parse_number(v, &d) < 0 || d < 0)
        return cli_usage_error(cmd, "--%s must be a number of seconds (>= 0), not \"%s\"", name, v);
    return 0;
}

int cli_check_uuid(const cli_command *cmd, const char *what, const char *value)
{
    if (!cli_is_uuid(value))
        return cli_usage_error(cmd, "%s \"%s\" is not a valid UUID", what, value);
    return 0;
}

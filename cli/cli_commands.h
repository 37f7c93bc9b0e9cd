/*
 * cli_commands: what the spool CLI's commands share: the context (configuration, output
 * mode, lazily opened connection), the command table entry, and helpers that turn
 * failures into messages and exit codes (0 ok, 1 failure, 2 usage).
 */
#ifndef CLI_COMMANDS_H
#define CLI_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>

#include "cli_args.h"
#include "sp_config.h"
#include "sp_db.h"

enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAIL = 1,
    CLI_EXIT_USAGE = 2,
};

typedef struct {
    sp_config *cfg;
    bool json;
    sp_db *db; /* NULL until cli_connect */
} cli_ctx;

typedef struct cli_command {
    const char *name;
    const char *usage; /* arguments after the command name */
    const char *summary;
    const char *details; /* extra help text, or NULL */
    const cli_opt_def *opts;
    size_t nopts;
    size_t min_pos, max_pos;
    /* Returns an exit code. */
    int (*run)(cli_ctx *ctx, const struct cli_command *cmd, const cli_args *args);
} cli_command;

/* Opens ctx->db from the database_url setting. Returns 0, or an exit code after printing
 * the error. */
int cli_connect(cli_ctx *ctx);

/* Runs a parameterised query; on failure prints the server error and returns
 * CLI_EXIT_FAIL. */
int cli_query(cli_ctx *ctx, const char *sql, int nparams, const char *const *params,
              sp_db_res **out);

/* Prints "error: <message>" and a pointer to the command's help; returns CLI_EXIT_USAGE. */
int cli_usage_error(const cli_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Checks that an option, when given, is valid JSON; returns 0 or CLI_EXIT_USAGE. */
int cli_check_json_option(const cli_command *cmd, const cli_args *args, const char *name);
/* Checks an optional integer option; returns 0 or CLI_EXIT_USAGE. */
int cli_check_int_option(const cli_command *cmd, const cli_args *args, const char *name,
                         int64_t min, int64_t max);
/* Checks an optional number option (>= 0); returns 0 or CLI_EXIT_USAGE. */
int cli_check_seconds_option(const cli_command *cmd, const cli_args *args, const char *name);
/* Checks a UUID argument; returns 0 or CLI_EXIT_USAGE. */
int cli_check_uuid(const cli_command *cmd, const char *what, const char *value);

extern const cli_command cli_cmd_migrate;
extern const cli_command cli_cmd_submit;
extern const cli_command cli_cmd_jobs;
extern const cli_command cli_cmd_job;
extern const cli_command cli_cmd_cancel;
extern const cli_command cli_cmd_retry;
extern const cli_command cli_cmd_types;
extern const cli_command cli_cmd_stats;
extern const cli_command cli_cmd_workers;
extern const cli_command cli_cmd_tokens;
extern const cli_command cli_cmd_import_prisma;

#endif

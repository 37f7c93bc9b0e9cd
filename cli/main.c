/*
 * spool: the command-line client.
 *
 *   spool [--database-url URL] [--config FILE] [--json] COMMAND [ARGS] [OPTIONS]
 *
 * Global options may also come after the command. Settings load in the order default <
 * config file < SPOOL_* environment < command line (see sp_config). Exit codes: 0 success,
 * 1 failure (server or connection error), 2 usage error.
 */
#include <stdio.h>
#include <string.h>

#include "cli_args.h"
#include "cli_commands.h"
#include "sp_config.h"
#include "sp_db.h"
#include "sp_log.h"

#define MAX_OPTS 64

static const cli_opt_def global_opts[] = {
    {"database-url", CLI_OPT_VALUE, "URL", "PostgreSQL URL (or SPOOL_DATABASE_URL)"},
    {"config", CLI_OPT_VALUE, "FILE", "read settings from FILE (key = value lines)"},
    {"json", CLI_OPT_FLAG, NULL, "print JSON instead of tables"},
    {"log-level", CLI_OPT_VALUE, "LEVEL", "debug, info, warn or error (default info)"},
    {"help", CLI_OPT_FLAG, NULL, "show help"},
};
#define NGLOBAL (sizeof(global_opts) / sizeof(global_opts[0]))

static const cli_command *const commands[] = {
    &cli_cmd_migrate, &cli_cmd_submit, &cli_cmd_jobs,  &cli_cmd_job,     &cli_cmd_cancel,
    &cli_cmd_retry,   &cli_cmd_types,  &cli_cmd_stats, &cli_cmd_workers, &cli_cmd_tokens,
    &cli_cmd_import_prisma,
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void print_opts(FILE *out, const cli_opt_def *opts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char left[64];
        snprintf(left, sizeof(left), "--%s%s%s%s", opts[i].name, opts[i].metavar ? " " : "",
                 opts[i].metavar ? opts[i].metavar : "",
                 opts[i].kind == CLI_OPT_MULTI ? "..." : "");
        fprintf(out, "  %-28s %s\n", left, opts[i].help);
    }
}

static void print_usage(FILE *out)
{
    fputs("usage: spool [--database-url URL] [--config FILE] [--json] COMMAND [ARGS]\n\n"
          "commands:\n",
          out);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fputs("\nglobal options (before or after the command):\n", out);
    print_opts(out, global_opts, NGLOBAL);
    fputs("\nrun 'spool COMMAND --help' for a command's options\n", out);
}

static void print_command_help(const cli_command *cmd)
{
    printf("usage: spool %s %s\n\n%s\n", cmd->name, cmd->usage, cmd->summary);
    if (cmd->details != NULL)
        printf("\n%s\n", cmd->details);
    if (cmd->nopts > 0) {
        puts("\noptions:");
        print_opts(stdout, cmd->opts, cmd->nopts);
    }
    puts("\nglobal options:");
    print_opts(stdout, global_opts, NGLOBAL);
}

/* The value of a global option: after the command wins over before it. */
static const char *global_get(const cli_args *pre, const cli_args *post, const char *name)
{
    const char *v = post != NULL ? cli_args_get(post, name) : NULL;
    return v != NULL ? v : cli_args_get(pre, name);
}

/* Loads settings in their order; returns 0 or an exit code after printing the error. */
static int load_config(sp_config *cfg, const cli_args *pre, const cli_args *post)
{
    char err[512];
    const char *path = global_get(pre, post, "config");
    if (path != NULL && sp_config_load_file(cfg, path, err, sizeof(err)) < 0)
        goto fail;
    if (sp_config_load_env(cfg, err, sizeof(err)) < 0)
        goto fail;
    const char *url = global_get(pre, post, "database-url");
    if (url != NULL &&
        sp_config_set(cfg, "database_url", url, "--database-url", err, sizeof(err)) < 0)
        goto fail;
    const char *level = global_get(pre, post, "log-level");
    if (level != NULL &&
        sp_config_set(cfg, "log_level", level, "--log-level", err, sizeof(err)) < 0)
        goto fail;
    sp_log_level lv;
    if (sp_log_parse_level(sp_config_string(cfg, "log_level"), &lv) == 0)
        sp_log_set_level(lv);
    return 0;
fail:
    fprintf(stderr, "error: %s\n", err);
    return CLI_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    int rc = CLI_EXIT_USAGE;
    char err[512];
    cli_args *pre = NULL;
    cli_args *post = NULL;
    cli_ctx ctx = {0};
    const cli_command *cmd = NULL;
    cli_opt_def opts[MAX_OPTS];

    /* Global options before the command: find where the command starts. */
    int first = 1;
    while (first < argc && strncmp(argv[first], "--", 2) == 0 && argv[first][2] != '\0') {
        const char *name = argv[first] + 2;
        size_t len = strcspn(name, "=");
        const cli_opt_def *def = NULL;
        for (size_t i = 0; i < NGLOBAL; i++)
            if (strlen(global_opts[i].name) == len && strncmp(global_opts[i].name, name, len) == 0)
                def = &global_opts[i];
        if (def == NULL) {
            rc = cli_usage_error(NULL, "unknown option --%.*s", (int)len, name);
            goto out;
        }
        first += (def->kind == CLI_OPT_VALUE && name[len] != '=') ? 2 : 1;
    }
    if (first > argc)
        first = argc;
    if (cli_args_parse(&pre, first - 1, argv + 1, global_opts, NGLOBAL, err, sizeof(err)) < 0) {
        rc = cli_usage_error(NULL, "%s", err);
        goto out;
    }
    if (first >= argc) {
        bool help = cli_args_has(pre, "help");
        print_usage(help ? stdout : stderr);
        rc = help ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        goto out;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i]->name, argv[first]) == 0)
            cmd = commands[i];
    if (cmd == NULL) {
        rc = cli_usage_error(NULL, "unknown command \"%s\"", argv[first]);
        goto out;
    }

    /* The command's options, then the global ones again (they may follow the command). */
    if (cmd->nopts + NGLOBAL > MAX_OPTS) {
        fputs("error: too many options\n", stderr);
        goto out;
    }
    if (cmd->nopts > 0)
        memcpy(opts, cmd->opts, cmd->nopts * sizeof(*opts));
    memcpy(opts + cmd->nopts, global_opts, sizeof(global_opts));
    if (cli_args_parse(&post, argc - first - 1, argv + first + 1, opts, cmd->nopts + NGLOBAL, err,
                       sizeof(err)) < 0) {
        rc = cli_usage_error(cmd, "%s", err);
        goto out;
    }
    if (cli_args_has(pre, "help") || cli_args_has(post, "help")) {
        print_command_help(cmd);
        rc = CLI_EXIT_OK;
        goto out;
    }
    size_t npos = cli_args_npos(post);
    if (npos < cmd->min_pos) {
        rc = cli_usage_error(cmd, "missing argument: usage: spool %s %s", cmd->name, cmd->usage);
        goto out;
    }
    if (npos > cmd->max_pos) {
        rc = cli_usage_error(cmd, "unexpected argument \"%s\"", cli_args_pos(post, cmd->max_pos));
        goto out;
    }

    if (sp_config_new(&ctx.cfg, SP_CONFIG_CLI) < 0) {
        fputs("error: out of memory\n", stderr);
        rc = CLI_EXIT_FAIL;
        goto out;
    }
    rc = load_config(ctx.cfg, pre, post);
    if (rc != 0)
        goto out;
    ctx.json = cli_args_has(pre, "json") || cli_args_has(post, "json");
    rc = cmd->run(&ctx, cmd, post);
out:
    sp_db_free(ctx.db);
    sp_config_free(ctx.cfg);
    cli_args_free(pre);
    cli_args_free(post);
    return rc;
}

/*
 * cli_tokens: `spool tokens create|list|revoke`, the API tokens spoold accepts.
 *
 * The token is generated here, shown once (alone on stdout, so scripts can capture it) and
 * only its SHA-256 hash reaches the database.
 */
#include <stdio.h>
#include <string.h>

#include "cli_commands.h"
#include "cli_output.h"
#include "sp_token.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const cli_opt_def tokens_opts[] = {
    {"role", CLI_OPT_VALUE, "ROLE", "create: admin, client or worker (required)"},
    {"tenant", CLI_OPT_VALUE, "T", "create: bind a client token to one tenant (customer_id)"},
    {"name", CLI_OPT_VALUE, "N", "create: a name to list and revoke it by"},
};

static int tokens_create(cli_ctx *ctx, const cli_command *cmd, const cli_args *args)
{
    char token[SP_TOKEN_LEN + 1], hash[65];
    const char *role = cli_args_get(args, "role");
    const char *tenant = cli_args_get(args, "tenant");
    sp_db_res *res = NULL;
    int rc;
    if (role == NULL)
        return cli_usage_error(cmd, "tokens create needs --role admin|client|worker");
    if (strcmp(role, "admin") != 0 && strcmp(role, "client") != 0 && strcmp(role, "worker") != 0)
        return cli_usage_error(cmd, "--role must be admin, client or worker, not \"%s\"", role);
    if ((rc = cli_connect(ctx)) != 0)
        return rc;
    if (sp_token_generate(token, sizeof token) != 0) {
        fputs("error: could not read the system's random source\n", stderr);
        return CLI_EXIT_FAIL;
    }
    sp_token_hash(token, hash);
    const char *params[] = {cli_args_get(args, "name"), role, tenant, hash};
    rc = cli_query(ctx, "SELECT spool.token_create($1, $2, $3, $4) AS id", 4, params, &res);
    if (rc != 0)
        goto out;
    /* Everything but the token goes to stderr: `T=$(spool tokens create ...)` captures it. */
    fprintf(stderr, "created %s token %s%s%s; it is shown once, below:\n", role,
            sp_db_res_value(res, 0, 0), tenant ? " for tenant " : "", tenant ? tenant : "");
    printf("%s\n", token);
    if (fflush(stdout) != 0) {
        fputs("error: could not write the token to standard output\n", stderr);
        rc = CLI_EXIT_FAIL;
    }
out:
    explicit_bzero(token, sizeof token);
    sp_db_res_free(res);
    return rc;
}

static int tokens_list(cli_ctx *ctx)
{
    sp_db_res *res = NULL;
    int rc = cli_connect(ctx);
    if (rc != 0)
        return rc;
    rc = cli_query(ctx, "SELECT * FROM spool.token_list()", 0, NULL, &res);
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
    return CLI_EXIT_OK;
}

static int tokens_revoke(cli_ctx *ctx, const char *which)
{
    sp_db_res *res = NULL;
    int rc = cli_connect(ctx);
    if (rc != 0)
        return rc;
    const char *params[] = {which};
    rc = cli_query(ctx, "SELECT id FROM spool.token_revoke($1) AS t(id)", 1, params, &res);
    if (rc != 0)
        return rc;
    if (ctx->json) {
        json_object *arr = cli_output_rows_json(res);
        cli_output_json(stdout, arr);
        json_object_put(arr);
    } else {
        for (int i = 0; i < sp_db_res_nrows(res); i++)
            printf("revoked %s\n", sp_db_res_value(res, i, 0));
    }
    sp_db_res_free(res);
    return CLI_EXIT_OK;
}

static int tokens_run(cli_ctx *ctx, const cli_command *cmd, const cli_args *args)
{
    const char *sub = cli_args_pos(args, 0);
    size_t npos = cli_args_npos(args);
    if (strcmp(sub, "create") == 0) {
        if (npos != 1)
            return cli_usage_error(
                cmd, "usage: spool tokens create --role ROLE [--tenant T] [--name N]");
        return tokens_create(ctx, cmd, args);
    }
    for (size_t i = 0; i < ARRAY_LEN(tokens_opts); i++)
        if (cli_args_has(args, tokens_opts[i].name))
            return cli_usage_error(cmd, "--%s only applies to 'tokens create'",
                                   tokens_opts[i].name);
    if (strcmp(sub, "list") == 0) {
        if (npos != 1)
            return cli_usage_error(cmd, "usage: spool tokens list");
        return tokens_list(ctx);
    }
    if (strcmp(sub, "revoke") == 0) {
        if (npos != 2)
            return cli_usage_error(cmd, "usage: spool tokens revoke ID|NAME");
        return tokens_revoke(ctx, cli_args_pos(args, 1));
    }
    return cli_usage_error(cmd, "unknown subcommand \"%s\" (create, list or revoke)", sub);
}

const cli_command cli_cmd_tokens = {
    .name = "tokens",
    .usage = "create|list|revoke [ID|NAME]",
    .summary = "create, list and revoke API tokens for spoold",
    .details = "  spool tokens create --role admin|client|worker [--tenant T] [--name N]\n"
               "      prints the new token alone on stdout, everything else on stderr, so\n"
               "      TOKEN=$(spool tokens create --role admin) captures it; only its SHA-256\n"
               "      hash is stored and it is never shown again. A token created with\n"
               "      --tenant sees only jobs whose customer_id is that tenant.\n"
               "  spool tokens list\n"
               "      every token (id, name, role, tenant, created, last used, revoked);\n"
               "      never the token or its hash\n"
               "  spool tokens revoke ID|NAME\n"
               "      revokes the token with that id, or every live token with that name;\n"
               "      spoold stops accepting it within auth_cache (2 s by default)\n",
    .opts = tokens_opts,
    .nopts = ARRAY_LEN(tokens_opts),
    .min_pos = 1,
    .max_pos = 2,
    .run = tokens_run,
};

/*
 * cli_args: command-line parsing for the spool CLI.
 *
 * A command declares its options in a table; cli_args_parse accepts "--name value",
 * "--name=value" and flags, anywhere among the positional arguments ("--" ends options).
 * Options marked CLI_OPT_MULTI may repeat; others keep their last value. Values are
 * borrowed from argv. Also provides the small value checks the commands share (integers,
 * numbers, UUIDs).
 */
#ifndef CLI_ARGS_H
#define CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sp_err.h"

typedef enum {
    CLI_OPT_FLAG,  /* --json */
    CLI_OPT_VALUE, /* --queue Q */
    CLI_OPT_MULTI, /* --tag T, repeatable */
} cli_opt_kind;

typedef struct {
    const char *name; /* without the leading dashes */
    cli_opt_kind kind;
    const char *metavar; /* for help; NULL for flags */
    const char *help;
} cli_opt_def;

typedef struct cli_args cli_args;

/*
 * Parses argv[0..argc) against defs. On failure returns SP_E_INVAL and writes a message
 * like "unknown option --foo" or "option --queue needs a value" to err.
 */
SP_MUSTCHECK int cli_args_parse(cli_args **out, int argc, char **argv, const cli_opt_def *defs,
                                size_t ndefs, char *err, size_t errlen);
void cli_args_free(cli_args *args);

/* Last value of a value option, or NULL when absent. */
const char *cli_args_get(const cli_args *args, const char *name);
/* Whether a flag or option was given. */
bool cli_args_has(const cli_args *args, const char *name);
/* Repeated values of an option, in order. */
size_t cli_args_count(const cli_args *args, const char *name);
const char *cli_args_value_at(const cli_args *args, const char *name, size_t i);
/* Positional arguments, in order. */
size_t cli_args_npos(const cli_args *args);
const char *cli_args_pos(const cli_args *args, size_t i);

/* Value checks: 0 when text is acceptable (and *out set), SP_E_INVAL otherwise. */
SP_MUSTCHECK int cli_parse_int(const char *text, int64_t min, int64_t max, int64_t *out);
SP_MUSTCHECK int cli_parse_number(const char *text, double *out);
/* Accepts the canonical 8-4-4-4-12 hexadecimal form. */
bool cli_is_uuid(const char *text);

#endif

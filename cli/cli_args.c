/* cli_args: option parsing for the spool CLI; see cli_args.h. */
#include "cli_args.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const cli_opt_def *def;
    const char *value; /* NULL for flags */
} cli_item;

struct cli_args {
    cli_item *items; /* options in the order given */
    size_t nitems;
    const char **pos;
    size_t npos;
};

static const cli_opt_def *find_def(const cli_opt_def *defs, size_t ndefs, const char *name,
                                   size_t len)
{
    for (size_t i = 0; i < ndefs; i++)
        if (strlen(defs[i].name) == len && strncmp(defs[i].name, name, len) == 0)
            return &defs[i];
    return NULL;
}

int cli_args_parse(cli_args **out, int argc, char **argv, const cli_opt_def *defs, size_t ndefs,
                   char *err, size_t errlen)
{
    int rc = SP_E_INVAL;
    bool options_done = false;
    cli_args *args = calloc(1, sizeof(*args));
    if (args == NULL)
        return SP_E_NOMEM;
    size_t n = argc > 0 ? (size_t)argc : 0;
    args->items = calloc(n + 1, sizeof(*args->items));
    args->pos = calloc(n + 1, sizeof(*args->pos));
    if (args->items == NULL || args->pos == NULL) {
        rc = SP_E_NOMEM;
        goto out;
    }

    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (options_done || arg[0] != '-' || arg[1] == '\0') {
            args->pos[args->npos++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            options_done = true;
            continue;
        }
        if (arg[1] != '-') {
            snprintf(err, errlen, "unknown option %s (options are spelled --name)", arg);
            goto out;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);
        const cli_opt_def *def = find_def(defs, ndefs, name, len);
        if (def == NULL) {
            snprintf(err, errlen, "unknown option --%.*s", (int)len, name);
            goto out;
        }
        const char *value = NULL;
        if (def->kind == CLI_OPT_FLAG) {
            if (eq != NULL) {
                snprintf(err, errlen, "option --%s takes no value", def->name);
                goto out;
            }
        } else if (eq != NULL) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            snprintf(err, errlen, "option --%s needs a value", def->name);
            goto out;
        }
        args->items[args->nitems].def = def;
        args->items[args->nitems].value = value;
        args->nitems++;
    }
    *out = args;
    args = NULL;
    rc = 0;
out:
    cli_args_free(args);
    return rc;
}

void cli_args_free(cli_args *args)
{
    if (args == NULL)
        return;
    free(args->items);
    free(args->pos);
    free(args);
}

const char *cli_args_get(const cli_args *args, const char *name)
{
    const char *value = NULL;
    for (size_t i = 0; i < args->nitems; i++)
        if (strcmp(args->items[i].def->name, name) == 0)
            value = args->items[i].value;
    return value;
}

bool cli_args_has(const cli_args *args, const char *name)
{
    return cli_args_count(args, name) > 0;
}

size_t cli_args_count(const cli_args *args, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < args->nitems; i++)
        if (strcmp(args->items[i].def->name, name) == 0)
            n++;
    return n;
}

const char *cli_args_value_at(const cli_args *args, const char *name, size_t index)
{
    size_t n = 0;
    for (size_t i = 0; i < args->nitems; i++)
        if (strcmp(args->items[i].def->name, name) == 0 && n++ == index)
            return args->items[i].value;
    return NULL;
}

size_t cli_args_npos(const cli_args *args)
{
    return args->npos;
}

const char *cli_args_pos(const cli_args *args, size_t i)
{
    return i < args->npos ? args->pos[i] : NULL;
}

int cli_parse_int(const char *text, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    errno = 0;
    if (text == NULL || text[0] == '\0' || isspace((unsigned char)text[0]))
        return SP_E_INVAL;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return SP_E_INVAL;
    *out = v;
    return 0;
}

int cli_parse_number(const char *text, double *out)
{
    char *end;
    errno = 0;
    if (text == NULL || text[0] == '\0' || isspace((unsigned char)text[0]))
        return SP_E_INVAL;
    double v = strtod(text, &end);
    if (errno != 0 || *end != '\0' || !isfinite(v))
        return SP_E_INVAL;
    *out = v;
    return 0;
}

bool cli_is_uuid(const char *text)
{
    if (text == NULL || strlen(text) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? text[i] != '-' : !isxdigit((unsigned char)text[i]))
            return false;
    }
    return true;
}

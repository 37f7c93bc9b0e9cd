/*
 * sp_config: Spool's settings, declared once in the table in sp_config.c.
 *
 * Each setting has a name, a type (int, bool, string, duration), a default, bounds and a
 * description, and belongs to the programs named in its scope. Values are applied in this
 * order, later winning: default < config file (key = value lines, # comments) <
 * SPOOL_<NAME> environment variables < command line (sp_config_set). An invalid value is
 * refused with a precise message naming the setting, the source and the reason.
 *
 * Durations accept an integer with a unit (ms, s, m, h, d; bare numbers are seconds) and are
 * stored in milliseconds. Not thread-safe: load once at start-up, then read.
 */
#ifndef SP_CONFIG_H
#define SP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sp_err.h"

typedef enum {
    SP_CONFIG_INT,
    SP_CONFIG_BOOL,
    SP_CONFIG_STRING,
    SP_CONFIG_DURATION,
} sp_config_type;

/* Which programs read a setting (bit mask). */
enum {
    SP_CONFIG_CLI = 1 << 0,
    SP_CONFIG_SERVER = 1 << 1,
    SP_CONFIG_WORKER = 1 << 2,
    SP_CONFIG_ALL = SP_CONFIG_CLI | SP_CONFIG_SERVER | SP_CONFIG_WORKER,
};

typedef struct {
    const char *name;          /* lowercase with underscores; env is SPOOL_<NAME> */
    sp_config_type type;       /* */
    const char *default_value; /* text, parsed like any other source; NULL = unset */
    int64_t min, max;          /* inclusive bounds for int and duration (ms); string: max length */
    unsigned scope;            /* SP_CONFIG_* bits */
    bool secret;               /* never printed (e.g. URLs with passwords) */
    const char *description;
} sp_config_def;

typedef struct sp_config sp_config;

/* The settings table, for help output and documentation. */
const sp_config_def *sp_config_table(size_t *count);

/* Creates a configuration holding the defaults of the settings in scope. */
SP_MUSTCHECK int sp_config_new(sp_config **out, unsigned scope);
/* The same over a program's own settings table (borrowed: it must outlive the
 * configuration), with its own environment prefix: a setting "name" is read from
 * <env_prefix><NAME> (e.g. "SPOOL_WORKER_" for spool-worker). */
SP_MUSTCHECK int sp_config_new_table(sp_config **out, const sp_config_def *table, size_t count,
                                     unsigned scope, const char *env_prefix);
/* The definition of a setting in the configuration's table and scope, or NULL. */
const sp_config_def *sp_config_find_def(const sp_config *cfg, const char *name);
/* Whether a setting has a value (a default counts; NULL-default settings start unset). */
bool sp_config_is_set(const sp_config *cfg, const char *name);
void sp_config_free(sp_config *cfg);

/* Sets one value from source (e.g. "--database-url", "/etc/spool.conf:3"). Returns
 * SP_E_NOTFOUND for an unknown name, SP_E_INVAL or SP_E_RANGE for a bad value; err says why. */
SP_MUSTCHECK int sp_config_set(sp_config *cfg, const char *name, const char *value,
                               const char *source, char *err, size_t errlen);
/* Reads a config file; unknown keys and bad lines are errors. */
SP_MUSTCHECK int sp_config_load_file(sp_config *cfg, const char *path, char *err, size_t errlen);
/* Applies SPOOL_<NAME> for every setting in scope that is set in the environment. */
SP_MUSTCHECK int sp_config_load_env(sp_config *cfg, char *err, size_t errlen);

/* Getters; name must be a setting in the configuration's scope (programmer error otherwise).
 * Strings are borrowed until the next set or free; NULL when unset. */
int64_t sp_config_int(const sp_config *cfg, const char *name);
bool sp_config_bool(const sp_config *cfg, const char *name);
const char *sp_config_string(const sp_config *cfg, const char *name);
int64_t sp_config_duration_ms(const sp_config *cfg, const char *name);

/* Parsers, exposed for tests and for options that are not settings. */
SP_MUSTCHECK int sp_config_parse_int(const char *text, int64_t *out);
SP_MUSTCHECK int sp_config_parse_bool(const char *text, bool *out);
SP_MUSTCHECK int sp_config_parse_duration_ms(const char *text, int64_t *out);

#endif

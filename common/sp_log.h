/*
 * sp_log: the one log module. One line per event on stderr (or the stream set with
 * sp_log_set_stream), in key=value form:
 *
 *   ts=2024-05-01T12:00:00.123Z level=info component=migrate event=applied name=0001_init.sql
 *
 * The fields after "event" come from a printf format written by the caller; values that may
 * hold spaces should be passed through sp_log_quote. Never pass a secret: database URLs go
 * through sp_log_redact_url first. Thread-safe (each line is written with one fputs call).
 */
#ifndef SP_LOG_H
#define SP_LOG_H

#include <stddef.h>
#include <stdio.h>

#include "sp_err.h"

typedef enum {
    SP_LOG_DEBUG = 0,
    SP_LOG_INFO = 1,
    SP_LOG_WARN = 2,
    SP_LOG_ERROR = 3,
} sp_log_level;

void sp_log_set_level(sp_log_level level);
sp_log_level sp_log_get_level(void);
/* Parses "debug", "info", "warn" or "error". */
SP_MUSTCHECK int sp_log_parse_level(const char *name, sp_log_level *out);
/* Redirects output (tests); NULL restores stderr. */
void sp_log_set_stream(FILE *stream);

void sp_log_write(sp_log_level level, const char *component, const char *event, const char *fmt,
                  ...) __attribute__((format(printf, 4, 5)));

#define sp_log_debug(component, event, ...)                                                        \
    sp_log_write(SP_LOG_DEBUG, component, event, __VA_ARGS__)
#define sp_log_info(component, event, ...) sp_log_write(SP_LOG_INFO, component, event, __VA_ARGS__)
#define sp_log_warn(component, event, ...) sp_log_write(SP_LOG_WARN, component, event, __VA_ARGS__)
#define sp_log_error(component, event, ...)                                                        \
    sp_log_write(SP_LOG_ERROR, component, event, __VA_ARGS__)

/*
 * Copies a PostgreSQL connection string into out with every password replaced by "***":
 * the userinfo password of a URL (postgresql://user:secret@host/db), and password=... in a
 * URL query or a keyword/value string. Always NUL-terminates; truncates to outlen - 1.
 */
void sp_log_redact_url(const char *url, char *out, size_t outlen);

/*
 * Writes value into out as a log field value: unchanged when it has no space, quote,
 * backslash, '=' or control character, otherwise in double quotes with \" \\ \n escapes.
 * Always NUL-terminates; truncates to outlen - 1. Returns out.
 */
const char *sp_log_quote(const char *value, char *out, size_t outlen);

#endif

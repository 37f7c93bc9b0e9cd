/* sp_log: structured one-line logging; see sp_log.h. */
#include "sp_log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

static sp_log_level log_level = SP_LOG_INFO;
static FILE *log_stream;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void sp_log_set_level(sp_log_level level)
{
    log_level = level;
}

sp_log_level sp_log_get_level(void)
{
    return log_level;
}

int sp_log_parse_level(const char *name, sp_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (sp_log_level)i;
            return 0;
        }
    }
    if (strcmp(name, "warning") == 0) {
        *out = SP_LOG_WARN;
        return 0;
    }
    return SP_E_INVAL;
}

void sp_log_set_stream(FILE *stream)
{
    log_stream = stream;
}

void sp_log_write(sp_log_level level, const char *component, const char *event, const char *fmt,
                  ...)
{
    if (level < log_level)
        return;
    char line[4096];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof(line),
                     "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ level=%s component=%s event=%s",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(tv.tv_usec / 1000), level_names[level], component, event);
    if (n < 0)
        return;
    size_t used = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
    if (fmt != NULL && fmt[0] != '\0' && used + 2 < sizeof(line)) {
        line[used++] = ' ';
        va_list ap;
        va_start(ap, fmt);
        n = vsnprintf(line + used, sizeof(line) - used, fmt, ap);
        va_end(ap);
        if (n > 0)
            used += (size_t)n < sizeof(line) - used ? (size_t)n : sizeof(line) - used - 1;
    }
    /* A long line is cut, but it stays one line. */
    if (used > sizeof(line) - 2)
        used = sizeof(line) - 2;
    line[used++] = '\n';
    line[used] = '\0';
    fputs(line, log_stream != NULL ? log_stream : stderr);
}

/* Appends len bytes of s to out (bounded by outlen), advancing *pos. */
static void put(char *out, size_t outlen, size_t *pos, const char *s, size_t len)
{
    while (len-- > 0 && *pos + 1 < outlen)
        out[(*pos)++] = *s++;
    out[*pos] = '\0';
}

static bool starts_with_ci(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

void sp_log_redact_url(const char *url, char *out, size_t outlen)
{
    size_t pos = 0;
    if (outlen == 0)
        return;
    out[0] = '\0';
    if (url == NULL)
        return;
    const char *p = url;
    const char *scheme_end = strstr(url, "://");
    if (scheme_end != NULL) {
        /* URL form: the authority ends at the first '/', '?' or '#'; the userinfo ends at the
         * last '@' inside it (a password may itself contain '@' when not percent-encoded). */
        const char *auth = scheme_end + 3;
        const char *auth_end = auth + strcspn(auth, "/?#");
        const char *at = NULL;
        for (const char *q = auth; q < auth_end; q++)
            if (*q == '@')
                at = q;
        put(out, outlen, &pos, url, (size_t)(auth - url));
        p = auth;
        if (at != NULL) {
            const char *colon = memchr(auth, ':', (size_t)(at - auth));
            if (colon != NULL) {
                put(out, outlen, &pos, auth, (size_t)(colon - auth) + 1);
                put(out, outlen, &pos, "***", 3);
                p = at;
            }
        }
    }
    /* password=... as a query parameter or a keyword/value pair. */
    while (*p != '\0') {
        bool boundary = p == url || p[-1] == '?' || p[-1] == '&' || p[-1] == ' ';
        if (boundary && starts_with_ci(p, "password")) {
            const char *q = p + strlen("password");
            while (*q == ' ')
                q++;
            if (*q == '=') {
                q++;
                while (*q == ' ')
                    q++;
                put(out, outlen, &pos, p, (size_t)(q - p));
                put(out, outlen, &pos, "***", 3);
                if (*q == '\'') {
                    /* A quoted keyword value ends at the next unescaped quote. */
                    q++;
                    while (*q != '\0' && *q != '\'')
                        q += (*q == '\\' && q[1] != '\0') ? 2 : 1;
                    if (*q == '\'')
                        q++;
                } else {
                    q += strcspn(q, "& #");
                }
                p = q;
                continue;
            }
        }
        put(out, outlen, &pos, p, 1);
        p++;
    }
}

const char *sp_log_quote(const char *value, char *out, size_t outlen)
{
    size_t pos = 0;
    if (outlen == 0)
        return out;
    out[0] = '\0';
    if (value == NULL)
        value = "";
    bool plain = value[0] != '\0';
    for (const char *p = value; *p != '\0'; p++)
        if (*p == ' ' || *p == '"' || *p == '\\' || *p == '=' || (unsigned char)*p < 0x20)
            plain = false;
    if (plain) {
        put(out, outlen, &pos, value, strlen(value));
        return out;
    }
    put(out, outlen, &pos, "\"", 1);
    for (const char *p = value; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\') {
            put(out, outlen, &pos, "\\", 1);
            put(out, outlen, &pos, p, 1);
        } else if (*p == '\n') {
            put(out, outlen, &pos, "\\n", 2);
        } else if ((unsigned char)*p < 0x20) {
            put(out, outlen, &pos, " ", 1);
        } else {
            put(out, outlen, &pos, p, 1);
        }
    }
    put(out, outlen, &pos, "\"", 1);
    return out;
}

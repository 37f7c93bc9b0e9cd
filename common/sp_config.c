/* sp_config: the settings table and its loaders; see sp_config.h. */
#include "sp_config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sp_log.h"

#define HOUR_MS (3600 * (int64_t)1000)

/* The settings of every Spool program. Add new ones here; the examples in config/ document them. */
static const sp_config_def config_table[] = {
    {"database_url", SP_CONFIG_STRING, NULL, 0, 4096, SP_CONFIG_ALL, true,
     "PostgreSQL connection URL, e.g. postgresql://user@host:5432/db"},
    {"connect_timeout", SP_CONFIG_DURATION, "10s", 1000, HOUR_MS, SP_CONFIG_ALL, false,
     "how long to wait for a database connection"},
    {"log_level", SP_CONFIG_STRING, "info", 0, 16, SP_CONFIG_ALL, false,
     "least severe log level written: debug, info, warn or error"},
    /* spoold */
    {"listen", SP_CONFIG_STRING, "127.0.0.1:8080", 0, 300, SP_CONFIG_SERVER, false,
     "address and port spoold listens on, HOST:PORT ([::1]:PORT for IPv6)"},
    {"pool_size", SP_CONFIG_INT, "16", 1, 1000, SP_CONFIG_SERVER, false,
     "database connections for requests"},
    {"http_threads", SP_CONFIG_INT, "16", 1, 1024, SP_CONFIG_SERVER, false,
     "HTTP worker threads, each an epoll loop over its share of the connections; a request "
     "other than a single-job submit or a stream blocks its thread while it waits for the "
     "database"},
    {"submit_lanes", SP_CONFIG_INT, "1", 1, 64, SP_CONFIG_SERVER, false,
     "POST /v1/jobs groups that may commit at once (threads, one pooled connection each): "
     "with 2 or more a new group starts while the previous one commits, but groups are "
     "smaller and each costs the database about the same"},
    {"submit_gather_us", SP_CONFIG_INT, "200", 0, 100000, SP_CONFIG_SERVER, false,
     "microseconds a submit group waits for company while another group runs; when none "
     "runs, it waits only while requests keep arriving (each within a quarter of this)"},
    {"submit_group_max", SP_CONFIG_INT, "256", 1, 10000, SP_CONFIG_SERVER, false,
     "most POST /v1/jobs requests committed in one group"},
    {"submit_queue_max", SP_CONFIG_INT, "10000", 1, 1000000, SP_CONFIG_SERVER, false,
     "most POST /v1/jobs requests waiting for a group; more get 503"},
    {"pool_wait", SP_CONFIG_DURATION, "2s", 1, 60000, SP_CONFIG_SERVER, false,
     "how long a request waits for a free database connection before a 503"},
    {"statement_timeout", SP_CONFIG_DURATION, "30s", 0, HOUR_MS, SP_CONFIG_SERVER, false,
     "longest a request's database call may run (0 = no limit); past it the request gets 503"},
    {"max_body_bytes", SP_CONFIG_INT, "1048576", 1024, 256 * 1048576LL, SP_CONFIG_SERVER, false,
     "largest request body accepted; larger gets 413"},
    {"max_batch_jobs", SP_CONFIG_INT, "10000", 1, 1000000, SP_CONFIG_SERVER, false,
     "most jobs in one POST /v1/jobs/batch; more gets 422"},
    {"connection_memory_bytes", SP_CONFIG_INT, "8192", 4096, 1048576, SP_CONFIG_SERVER, false,
     "per-connection buffer for request headers and response staging (bounds header size)"},
    {"max_connections", SP_CONFIG_INT, "20000", 1, 1000000, SP_CONFIG_SERVER, false,
     "most simultaneous client connections, streams included"},
    {"request_timeout", SP_CONFIG_DURATION, "60s", 1000, HOUR_MS, SP_CONFIG_SERVER, false,
     "idle connection timeout (streams send heartbeats well inside it)"},
    {"auth", SP_CONFIG_BOOL, "on", 0, 0, SP_CONFIG_SERVER, false,
     "require bearer tokens; off is for local development only and is logged loudly"},
    {"auth_cache", SP_CONFIG_DURATION, "2s", 0, 60000, SP_CONFIG_SERVER, false,
     "how long a token lookup is cached: a revoked token stops working within this"},
    {"rate_limit", SP_CONFIG_INT, "0", 0, 1000000, SP_CONFIG_SERVER, false,
     "requests per second allowed per token (token bucket); 0 turns rate limiting off"},
    {"rate_burst", SP_CONFIG_INT, "100", 1, 1000000, SP_CONFIG_SERVER, false,
     "requests a token may send at once before the rate limit applies"},
    {"maintenance_interval", SP_CONFIG_DURATION, "5s", 100, HOUR_MS, SP_CONFIG_SERVER, false,
     "how often the leader spoold runs spool.maintain()"},
    {"sse_queue_events", SP_CONFIG_INT, "1024", 16, 1000000, SP_CONFIG_SERVER, false,
     "events buffered per stream subscriber; a subscriber this far behind is disconnected"},
    {"sse_heartbeat", SP_CONFIG_DURATION, "15s", 100, HOUR_MS, SP_CONFIG_SERVER, false,
     "comment line sent on idle streams to keep them open and find dead peers"},
    {"sse_max_subscribers", SP_CONFIG_INT, "20000", 1, 1000000, SP_CONFIG_SERVER, false,
     "most simultaneous event streams; more get 503"},
    {"sse_threads", SP_CONFIG_INT, "2", 1, 64, SP_CONFIG_SERVER, false,
     "threads writing live events to streams (each an epoll loop over its share of them)"},
    {"events_poll", SP_CONFIG_DURATION, "1s", 10, 60000, SP_CONFIG_SERVER, false,
     "fallback read of the event log when no notification arrives"},
};

#define CONFIG_COUNT (sizeof(config_table) / sizeof(config_table[0]))

typedef struct {
    bool set;
    int64_t num; /* int, bool (0/1) and duration (ms) */
    char *str;
} config_value;

struct sp_config {
    unsigned scope;
    const sp_config_def *table; /* config_table, or a program's own (sp_config_new_table) */
    size_t count;
    char env_prefix[32];
    config_value *values; /* count entries */
};

const sp_config_def *sp_config_table(size_t *count)
{
    *count = CONFIG_COUNT;
    return config_table;
}

int sp_config_parse_int(const char *text, int64_t *out)
{
    char *end;
    errno = 0;
    while (isspace((unsigned char)*text))
        text++;
    if (*text == '\0')
        return SP_E_INVAL;
    long long v = strtoll(text, &end, 10);
    if (errno == ERANGE)
        return SP_E_RANGE;
    if (end == text || *end != '\0')
        return SP_E_INVAL;
    *out = v;
    return 0;
}

int sp_config_parse_bool(const char *text, bool *out)
{
    static const char *const yes[] = {"true", "on", "yes", "1"};
    static const char *const no[] = {"false", "off", "no", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return SP_E_INVAL;
}

int sp_config_parse_duration_ms(const char *text, int64_t *out)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"ms", 1},      {"s", 1000},         {"m", 60000},
                 {"h", HOUR_MS}, {"d", 24 * HOUR_MS}, {"", 1000}};
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)text[0]))
        return SP_E_INVAL;
    long long v = strtoll(text, &end, 10);
    if (errno == ERANGE)
        return SP_E_RANGE;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].unit) == 0) {
            if (v > INT64_MAX / units[i].ms)
                return SP_E_RANGE;
            *out = v * units[i].ms;
            return 0;
        }
    }
    return SP_E_INVAL;
}

static int config_find(const sp_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->count; i++)
        if ((cfg->table[i].scope & cfg->scope) && strcmp(cfg->table[i].name, name) == 0)
            return (int)i;
    return -1;
}

const sp_config_def *sp_config_find_def(const sp_config *cfg, const char *name)
{
    int i = config_find(cfg, name);
    return i < 0 ? NULL : &cfg->table[i];
}

bool sp_config_is_set(const sp_config *cfg, const char *name)
{
    int i = config_find(cfg, name);
    return i >= 0 && cfg->values[i].set;
}

/* Formats a bound of a duration setting for messages ("1s", "1500ms"). */
static void format_duration(int64_t ms, char *out, size_t outlen)
{
    if (ms % 1000 == 0)
        snprintf(out, outlen, "%llds", (long long)(ms / 1000));
    else
        snprintf(out, outlen, "%lldms", (long long)ms);
}

/* Parses value for def into *v (not yet stored); err explains a refusal. */
static int config_parse(const sp_config_def *def, const char *value, config_value *v, char *err,
                        size_t errlen)
{
    int rc = 0;
    bool b;
    char lo[32], hi[32];
    switch (def->type) {
    case SP_CONFIG_INT:
        rc = sp_config_parse_int(value, &v->num);
        if (rc < 0) {
            snprintf(err, errlen, "\"%s\" is not an integer", value);
            return SP_E_INVAL;
        }
        if (v->num < def->min || v->num > def->max) {
            snprintf(err, errlen, "%lld is out of range (%lld to %lld)", (long long)v->num,
                     (long long)def->min, (long long)def->max);
            return SP_E_RANGE;
        }
        return 0;
    case SP_CONFIG_BOOL:
        if (sp_config_parse_bool(value, &b) < 0) {
            snprintf(err, errlen, "\"%s\" is not a boolean (use true or false)", value);
            return SP_E_INVAL;
        }
        v->num = b;
        return 0;
    case SP_CONFIG_DURATION:
        rc = sp_config_parse_duration_ms(value, &v->num);
        if (rc < 0) {
            snprintf(err, errlen, "\"%s\" is not a duration (e.g. 500ms, 30s, 5m, 1h)", value);
            return SP_E_INVAL;
        }
        if (v->num < def->min || v->num > def->max) {
            format_duration(def->min, lo, sizeof(lo));
            format_duration(def->max, hi, sizeof(hi));
            snprintf(err, errlen, "\"%s\" is out of range (%s to %s)", value, lo, hi);
            return SP_E_RANGE;
        }
        return 0;
    case SP_CONFIG_STRING:
        if ((int64_t)strlen(value) > def->max) {
            snprintf(err, errlen, "value is longer than %lld bytes", (long long)def->max);
            return SP_E_RANGE;
        }
        if (strcmp(def->name, "log_level") == 0) {
            sp_log_level level;
            if (sp_log_parse_level(value, &level) < 0) {
                snprintf(err, errlen, "\"%s\" is not a log level (debug, info, warn, error)",
                         value);
                return SP_E_INVAL;
            }
        }
        v->str = strdup(value);
        return v->str != NULL ? 0 : SP_E_NOMEM;
    }
    return SP_E_INVAL;
}

int sp_config_set(sp_config *cfg, const char *name, const char *value, const char *source,
                  char *err, size_t errlen)
{
    char why[256];
    int i = config_find(cfg, name);
    if (i < 0) {
        snprintf(err, errlen, "unknown setting \"%s\" in %s", name, source);
        return SP_E_NOTFOUND;
    }
    config_value v = {.set = true};
    int rc = config_parse(&cfg->table[i], value, &v, why, sizeof(why));
    if (rc < 0) {
        snprintf(err, errlen, "invalid value for %s in %s: %s", name, source, why);
        return rc;
    }
    free(cfg->values[i].str);
    cfg->values[i] = v;
    return 0;
}

int sp_config_new(sp_config **out, unsigned scope)
{
    return sp_config_new_table(out, config_table, CONFIG_COUNT, scope, "SPOOL_");
}

int sp_config_new_table(sp_config **out, const sp_config_def *table, size_t count, unsigned scope,
                        const char *env_prefix)
{
    char err[256];
    sp_config *cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL)
        return SP_E_NOMEM;
    cfg->values = calloc(count > 0 ? count : 1, sizeof(*cfg->values));
    if (cfg->values == NULL) {
        free(cfg);
        return SP_E_NOMEM;
    }
    cfg->scope = scope;
    cfg->table = table;
    cfg->count = count;
    snprintf(cfg->env_prefix, sizeof(cfg->env_prefix), "%s", env_prefix);
    for (size_t i = 0; i < count; i++) {
        const sp_config_def *def = &table[i];
        if (!(def->scope & scope) || def->default_value == NULL)
            continue;
        int rc = sp_config_set(cfg, def->name, def->default_value, "defaults", err, sizeof(err));
        /* A default that does not parse is a bug in the table above. */
        assert(rc == 0);
        if (rc < 0) {
            sp_config_free(cfg);
            return rc;
        }
    }
    *out = cfg;
    return 0;
}

void sp_config_free(sp_config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < cfg->count; i++)
        free(cfg->values[i].str);
    free(cfg->values);
    free(cfg);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        s[--len] = '\0';
    return s;
}

int sp_config_load_file(sp_config *cfg, const char *path, char *err, size_t errlen)
{
    int rc = 0;
    char line[8192];
    char source[512];
    unsigned lineno = 0;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "could not open config file %s: %s", path, strerror(errno));
        return SP_E_IO;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        snprintf(source, sizeof(source), "%s:%u", path, lineno);
        size_t len = strlen(line);
        if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
            snprintf(err, errlen, "line too long in %s", source);
            rc = SP_E_PARSE;
            goto out;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            snprintf(err, errlen, "expected \"key = value\" in %s", source);
            rc = SP_E_PARSE;
            goto out;
        }
        *eq = '\0';
        char *key = trim(s);
        char *value = trim(eq + 1);
        /* Values may be quoted to keep leading or trailing spaces, or a '#'. */
        size_t vlen = strlen(value);
        if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
            value[vlen - 1] = '\0';
            value++;
        } else {
            char *hash = strstr(value, " #");
            if (hash != NULL) {
                *hash = '\0';
                value = trim(value);
            }
        }
        rc = sp_config_set(cfg, key, value, source, err, errlen);
        if (rc < 0)
            goto out;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "could not read config file %s", path);
        rc = SP_E_IO;
    }
out:
    fclose(f);
    return rc;
}

int sp_config_load_env(sp_config *cfg, char *err, size_t errlen)
{
    char env[128];
    for (size_t i = 0; i < cfg->count; i++) {
        const sp_config_def *def = &cfg->table[i];
        if (!(def->scope & cfg->scope))
            continue;
        size_t n = (size_t)snprintf(env, sizeof(env), "%s%s", cfg->env_prefix, def->name);
        for (size_t j = 0; j < n && j < sizeof(env); j++)
            env[j] = (char)toupper((unsigned char)env[j]);
        const char *value = getenv(env);
        if (value == NULL)
            continue;
        int rc = sp_config_set(cfg, def->name, value, env, err, errlen);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static const config_value *config_get(const sp_config *cfg, const char *name, sp_config_type type)
{
    int i = config_find(cfg, name);
    assert(i >= 0 && cfg->table[i].type == type);
    (void)type;
    return &cfg->values[i];
}

int64_t sp_config_int(const sp_config *cfg, const char *name)
{
    return config_get(cfg, name, SP_CONFIG_INT)->num;
}

bool sp_config_bool(const sp_config *cfg, const char *name)
{
    return config_get(cfg, name, SP_CONFIG_BOOL)->num != 0;
}

const char *sp_config_string(const sp_config *cfg, const char *name)
{
    return config_get(cfg, name, SP_CONFIG_STRING)->str;
}

int64_t sp_config_duration_ms(const sp_config *cfg, const char *name)
{
    return config_get(cfg, name, SP_CONFIG_DURATION)->num;
}

/*
 * wrk_config: spool-worker's settings.
 *
 * One declarative table (wrk_config.c) of every setting: name, type, default, bounds,
 * description, secret flag. Values come, later winning, from the defaults, the config file
 * (config/worker.conf documents every key), SPOOL_WORKER_<NAME> environment variables and
 * the command line; the parser is common/sp_config over this table.
 *
 * Connector settings are keys "<connector>_<key>" (comfyui_url, openai_api_key, …); a
 * connector reads them through the wrk_connector_config view (wrk_connector.h), which this
 * module implements.
 *
 * wrk_settings_resolve checks the values together (lease against heartbeat, known
 * connectors, JSON labels, …) and hands back the resolved settings the loop runs with.
 *
 * Not thread-safe while loading; read-only afterwards (the connector view may then be read
 * from any thread).
 */
#ifndef WRK_CONFIG_H
#define WRK_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sp_config.h"
#include "sp_err.h"
#include "wrk_connector.h"

#define WRK_MAX_CONNECTORS 16
#define WRK_ENV_PREFIX "SPOOL_WORKER_"

/* The settings table (for --help and the tests). */
const sp_config_def *wrk_config_table(size_t *count);

/* A configuration over the worker's table, holding the defaults. */
SP_MUSTCHECK int wrk_config_new(sp_config **out);

/* The connectors spool-worker knows, in registry order (a name per entry, NULL-terminated). */
const char *const *wrk_config_known_connectors(void);

/* Job threads a connector gets when neither <name>_concurrency nor concurrency is set. */
int wrk_config_default_concurrency(const char *connector);

/* Everything the loop needs, checked and resolved. Strings are borrowed from the
 * configuration and live as long as it does. */
typedef struct {
    const char *database_url;
    int connect_timeout_s;
    const char *worker_id; /* resolved: the id setting, or "<hostname>-<pid>" */
    const char *name;      /* display name; may be NULL */
    size_t nconnectors;
    char connectors[WRK_MAX_CONNECTORS][32];
    int concurrency[WRK_MAX_CONNECTORS];
    const char *default_connector; /* for jobs that name no service */
    int batch_size;
    int lease_s;
    int64_t heartbeat_ms;
    int64_t poll_ms;
    int64_t progress_ms;
    int64_t shutdown_grace_ms;
    int64_t reconnect_max_ms;
    int64_t maintain_ms; /* 0 = off */
    bool gpu_detect;
    const char *customer_isolation; /* NULL, "strict" or "loose" */
    const char *allowed_customers;  /* comma-separated, or NULL */
    const char *denied_customers;
    const char *labels; /* JSON object text, or NULL */
    char id_buf[256];
} wrk_settings;

/* Resolves and checks the configuration; err names the setting and the problem. */
SP_MUSTCHECK int wrk_settings_resolve(const sp_config *cfg, wrk_settings *out, char *err,
                                      size_t errlen);

/* The connector-scoped view over cfg; the view borrows cfg. */
struct wrk_connector_config {
    const sp_config *cfg;
    char name[32];
};
void wrk_connector_config_init(wrk_connector_config *view, const sp_config *cfg,
                               const char *connector);

/* Splits a comma-separated list into trimmed, non-empty items; calls fn for each (stops and
 * returns its result when it is negative). Items longer than 255 bytes are SP_E_RANGE. */
SP_MUSTCHECK int wrk_config_split_list(const char *list, int (*fn)(void *arg, const char *item),
                                       void *arg);

#endif

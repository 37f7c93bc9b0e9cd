/* wrk_config: spool-worker's settings table, resolution and the connector view; see
 * wrk_config.h. */
#include "wrk_config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "sp_json.h"
#include "sp_log.h"

#define W SP_CONFIG_WORKER
#define HOUR_MS (3600 * (int64_t)1000)
#define DAY_S (86400)
#define MB (1024 * 1024LL)

/*
 * Connector keys whose default belongs to a connector written elsewhere (openai, comfyui,
 * a1111, comfydeploy) are declared with no default here: the connector's own default
 * applies, and the description says what it is.
 */
static const sp_config_def worker_table[] = {
    /* database and identity */
    {"database_url", SP_CONFIG_STRING, NULL, 0, 4096, W, true,
     "PostgreSQL connection URL, e.g. postgresql://spool_worker@db:5432/spool (required); "
     "add ?keepalives_idle=10&tcp_user_timeout=30000 so a silent network partition is noticed "
     "within about 30 s"},
    {"connect_timeout", SP_CONFIG_DURATION, "10s", 1000, HOUR_MS, W, false,
     "how long to wait for a database connection"},
    {"log_level", SP_CONFIG_STRING, "info", 0, 16, W, false,
     "least severe log level written: debug, info, warn or error"},
    {"id", SP_CONFIG_STRING, NULL, 0, 200, W, false,
     "worker id, unique among running workers (default: <hostname>-<pid>)"},
    {"name", SP_CONFIG_STRING, NULL, 0, 200, W, false, "display name (default: the id)"},

    /* the loop */
    {"connectors", SP_CONFIG_STRING, "simulation", 0, 1000, W, false,
     "comma-separated connectors to run: simulation, http, exec, openai, comfyui, a1111, "
     "comfydeploy; their names are the services this worker offers"},
    {"default_connector", SP_CONFIG_STRING, NULL, 0, 31, W, false,
     "connector for jobs that name no service_required (default: the first of connectors)"},
    {"concurrency", SP_CONFIG_INT, NULL, 1, 4096, W, false,
     "job threads per connector when <connector>_concurrency is not set (default: the "
     "connector's: simulation 16, http 32, exec 2, openai 8, comfyui 1, a1111 1, "
     "comfydeploy 8)"},
    {"batch_size", SP_CONFIG_INT, "100", 1, 10000, W, false,
     "most jobs claimed in one call; claims are also limited to free job slots"},
    {"lease", SP_CONFIG_DURATION, "30s", 1000, DAY_S *(int64_t)1000, W, false,
     "lease on each claimed job, renewed by heartbeats; a worker that stops heartbeating "
     "loses its jobs this long after its last heartbeat (whole seconds)"},
    {"heartbeat_interval", SP_CONFIG_DURATION, NULL, 100, HOUR_MS, W, false,
     "how often held leases are renewed, in one call for all of them (default: lease / 3; "
     "at most lease / 2)"},
    {"poll_interval", SP_CONFIG_DURATION, "1s", 10, HOUR_MS, W, false,
     "fallback check for work when no notification arrives (LISTEN spool_jobs wakes the "
     "worker at once otherwise)"},
    {"progress_interval", SP_CONFIG_DURATION, "500ms", 10, HOUR_MS, W, false,
     "progress updates of a job are coalesced and sent at most this often"},
    {"shutdown_grace", SP_CONFIG_DURATION, "30s", 0, DAY_S *(int64_t)1000, W, false,
     "on SIGTERM, how long running jobs may finish before they are released (a second "
     "SIGTERM releases at once)"},
    {"reconnect_max", SP_CONFIG_DURATION, "30s", 100, HOUR_MS, W, false,
     "longest wait between attempts to reconnect to the database (exponential backoff)"},
    {"maintain_interval", SP_CONFIG_DURATION, "0", 0, HOUR_MS, W, false,
     "run spool.maintain() (promote, rescue, prune) this often, for deployments without "
     "spoold; 0 turns it off"},

    /* capabilities */
    {"gpu_detect", SP_CONFIG_BOOL, "on", 0, 0, W, false,
     "detect GPUs and their memory with nvidia-smi at start"},
    {"customer_isolation", SP_CONFIG_STRING, NULL, 0, 16, W, false,
     "strict: this worker may take jobs that require customer isolation; loose (or unset): "
     "it may not"},
    {"allowed_customers", SP_CONFIG_STRING, NULL, 0, 8192, W, false,
     "comma-separated customers whose jobs this worker takes (and jobs of no customer); "
     "unset = any"},
    {"denied_customers", SP_CONFIG_STRING, NULL, 0, 8192, W, false,
     "comma-separated customers whose jobs this worker never takes"},
    {"labels", SP_CONFIG_STRING, NULL, 0, 8192, W, false,
     "JSON object merged into the capabilities, e.g. {\"region\":\"eu\",\"hardware\":"
     "{\"gpu_model\":\"A100\"}}"},

    /* output store */
    {"output_store", SP_CONFIG_STRING, "local", 0, 16, W, false,
     "where connectors store outputs (images, video): local or s3"},
    {"output_dir", SP_CONFIG_STRING, "/var/lib/spool-worker/outputs", 0, 4096, W, false,
     "local store: directory, created when missing; files go to <dir>/<job id>/"},
    {"output_public_url", SP_CONFIG_STRING, NULL, 0, 2048, W, false,
     "base URL the outputs are served from (local: instead of file://; s3: instead of the "
     "bucket URL)"},
    {"output_max_bytes", SP_CONFIG_INT, "536870912", 1, 16 * 1024 * MB, W, false,
     "largest single output stored"},
    {"output_s3_endpoint", SP_CONFIG_STRING, NULL, 0, 2048, W, false,
     "s3 store: endpoint URL, e.g. https://s3.eu-west-1.amazonaws.com or "
     "http://127.0.0.1:9000"},
    {"output_s3_bucket", SP_CONFIG_STRING, NULL, 0, 255, W, false, "s3 store: bucket"},
    {"output_s3_region", SP_CONFIG_STRING, "us-east-1", 0, 64, W, false,
     "s3 store: region used in the signature"},
    {"output_s3_access_key", SP_CONFIG_STRING, NULL, 0, 256, W, false, "s3 store: access key id"},
    {"output_s3_secret_key", SP_CONFIG_STRING, NULL, 0, 256, W, true,
     "s3 store: secret access key"},
    {"output_s3_prefix", SP_CONFIG_STRING, "", 0, 512, W, false,
     "s3 store: key prefix, e.g. outputs/"},
    {"output_s3_path_style", SP_CONFIG_BOOL, "on", 0, 0, W, false,
     "s3 store: path-style URLs (endpoint/bucket/key); off = virtual-hosted "
     "(bucket.endpoint/key)"},
    {"output_timeout", SP_CONFIG_INT, "120", 1, DAY_S, W, false,
     "s3 store: seconds an upload may take"},

    /* simulation */
    {"simulation_concurrency", SP_CONFIG_INT, NULL, 1, 4096, W, false,
     "job threads for simulation jobs that take time (zero-duration jobs run at once on the "
     "loop, without a thread)"},
    {"simulation_models", SP_CONFIG_STRING, NULL, 0, 8192, W, false,
     "comma-separated models to advertise for the simulation service"},
    {"simulation_duration_ms", SP_CONFIG_INT, "0", 0, DAY_S * 1000LL, W, false,
     "run time of a simulation job whose payload has no duration_ms"},
    {"simulation_steps", SP_CONFIG_INT, "0", 0, 10000, W, false,
     "progress steps of a simulation job whose payload has no steps"},
    {"simulation_fail_rate", SP_CONFIG_STRING, "0", 0, 32, W, false,
     "probability (0 to 1) that a simulation job fails (retryable), when its payload has no "
     "fail_rate"},

    /* http */
    {"http_concurrency", SP_CONFIG_INT, NULL, 1, 4096, W, false, "job threads for http jobs"},
    {"http_models", SP_CONFIG_STRING, NULL, 0, 8192, W, false,
     "comma-separated models to advertise for the http service"},
    {"http_templates", SP_CONFIG_STRING, NULL, 0, 8192, W, false,
     "per-type request templates: a JSON object, or the path of a file holding one: "
     "{\"<job type>\": {\"method\": \"POST\", \"url\": \"https://…\", \"headers\": "
     "{\"Authorization\": \"Bearer …\"}, \"body\": …}}; a job of that type uses the template, "
     "and its payload fills {{key}} placeholders in url, headers and body strings"},
    {"http_allowed_urls", SP_CONFIG_STRING, NULL, 0, 8192, W, false,
     "comma-separated URL prefixes a job's URL must start with (unset = any http(s) URL; "
     "set this when payloads come from untrusted clients)"},
    {"http_timeout", SP_CONFIG_INT, "60", 1, DAY_S, W, false,
     "seconds one request may take in all"},
    {"http_connect_timeout", SP_CONFIG_INT, "10", 1, 3600, W, false,
     "seconds to establish a connection"},
    {"http_max_response_bytes", SP_CONFIG_INT, "10485760", 1, 1024 * MB, W, false,
     "largest response body accepted; larger fails the job"},

    /* exec */
    {"exec_concurrency", SP_CONFIG_INT, NULL, 1, 4096, W, false, "job threads for exec jobs"},
    {"exec_models", SP_CONFIG_STRING, NULL, 0, 8192, W, false,
     "comma-separated models to advertise for the exec service"},
    {"exec_command", SP_CONFIG_STRING, NULL, 0, 4096, W, false,
     "the local command exec jobs run (never taken from a payload): a program and its "
     "arguments, split on spaces (no shell; \"double quotes\" group words); the payload "
     "is written to its stdin, its stdout (JSON or text) is the result"},
    {"exec_timeout", SP_CONFIG_INT, "0", 0, DAY_S, W, false,
     "seconds the command may run (0 = the job's own timeout)"},
    {"exec_max_output", SP_CONFIG_INT, "10485760", 1024, 1024 * MB, W, false,
     "largest stdout accepted; more fails the job (stderr keeps its last 4 KB)"},
    {"exec_kill_grace", SP_CONFIG_INT, "2000", 0, 600000, W, false,
     "milliseconds between SIGTERM and SIGKILL when a command is stopped"},
    {"exec_workdir", SP_CONFIG_STRING, NULL, 0, 4096, W, false,
     "working directory of the command (default: the worker's)"},

    /* openai, comfyui, a1111, comfydeploy: the connector's own default applies to every key
     * below (shown in the description). */
    {"openai_concurrency", SP_CONFIG_INT, NULL, 1, 4096, W, false, "job threads for openai jobs"},
    {"openai_models", SP_CONFIG_STRING, NULL, 0, 8192, W, false,
     "comma-separated models to advertise for the openai service"},
    {"openai_url", SP_CONFIG_STRING, NULL, 0, 2048, W, false,
     "API base URL, up to and including the version (default https://api.openai.com/v1)"},
    {"openai_api_key", SP_CONFIG_STRING, NULL, 0, 1024, W, true,
     "API key (default: OPENAI_API_KEY from the environment; a job's payload may carry its "
     "own)"},
    {"openai_organization", SP_CONFIG_STRING, NULL, 0, 256, W, false,
     "sent as OpenAI-Organization when set"},
    {"openai_project", SP_CONFIG_STRING, NULL, 0, 256, W, false, "sent as OpenAI-Project when set"},
    {"openai_model", SP_CONFIG_STRING, NULL, 0, 256, W, false,
     "chat model when the payload names none (default gpt-4o-mini)"},
    {"openai_image_model", SP_CONFIG_STRING, NULL, 0, 256, W, false,
     "image model when the payload names none (default dall-e-3)"},
    {"openai_timeout", SP_CONFIG_INT, NULL, 1, DAY_S, W, false,
     "seconds one request may take (default 120)"},
    {"openai_connect_timeout", SP_CONFIG_INT, NULL, 1, 3600, W, false,
     "seconds to establish a connection (default 10)"},
    {"openai_max_response_mb", SP_CONFIG_INT, NULL, 1, 4096, W, false,
     "largest response accepted, MiB (default 64)"},

    {"comfyui_concurrency", SP_CONFIG_INT, NULL, 1, 4096, W, false,
     "job threads for comfyui jobs (one GPU runs one workflow at a time: keep 1)"},
    {"comfyui_models", SP_CONFIG_STRING, NULL, 0, 8192, W, false,
     "comma-separated models to advertise for comfyui, added to those found in /object_info"},
    {"comfyui_url", SP_CONFIG_STRING, NULL, 0, 2048, W, false,
     "ComfyUI base URL (default http://127.0.0.1:8188)"},
    {"comfyui_timeout", SP_CONFIG_INT, NULL, 1, DAY_S, W, false,
     "seconds one HTTP request to ComfyUI may take (default 30); the job's own timeout bounds "
     "the whole workflow"},
    {"comfyui_connect_timeout", SP_CONFIG_INT, NULL, 1, 3600, W, false,
     "seconds to establish a connection (default 10)"},
    {"comfyui_poll_interval", SP_CONFIG_INT, NULL, 10, 600000, W, false,
     "milliseconds between /history polls while a workflow runs (default 500)"},
    {"comfyui_poll_errors", SP_CONFIG_INT, NULL, 1, 1000, W, false,
     "failed polls in a row before the job fails, retryable (default 5)"},
    {"comfyui_expected_seconds", SP_CONFIG_INT, NULL, 1, DAY_S, W, false,
     "expected run time of a workflow, for progress estimates (default 60)"},
    {"comfyui_include_temp", SP_CONFIG_INT, NULL, 0, 1, W, false,
     "1 = also store ComfyUI's temporary (preview) outputs (default 0)"},
    {"comfyui_max_output_mb", SP_CONFIG_INT, NULL, 1, 65536, W, false,
     "largest output file fetched, MiB (default 512)"},

    {"a1111_concurrency", SP_CONFIG_INT, NULL, 1, 4096, W, false, "job threads for a1111 jobs"},
    {"a1111_models", SP_CONFIG_STRING, NULL, 0, 8192, W, false,
     "comma-separated models to advertise for a1111, added to those of /sdapi/v1/sd-models"},
    {"a1111_url", SP_CONFIG_STRING, NULL, 0, 2048, W, false,
     "Automatic1111 base URL (default http://127.0.0.1:7860)"},
    {"a1111_auth", SP_CONFIG_STRING, NULL, 0, 512, W, true,
     "user:password for the web UI's HTTP basic auth (--api-auth), when it has one"},
    {"a1111_timeout", SP_CONFIG_INT, NULL, 1, DAY_S, W, false,
     "seconds one generation request may take (default 600)"},
    {"a1111_connect_timeout", SP_CONFIG_INT, NULL, 1, 3600, W, false,
     "seconds to establish a connection (default 10)"},
    {"a1111_poll_interval", SP_CONFIG_INT, NULL, 10, 600000, W, false,
     "milliseconds between /sdapi/v1/progress polls (default 1000)"},
    {"a1111_max_response_mb", SP_CONFIG_INT, NULL, 1, 65536, W, false,
     "largest response accepted, MiB (default 256)"},

    {"comfydeploy_concurrency", SP_CONFIG_INT, NULL, 1, 4096, W, false,
     "job threads for comfydeploy jobs"},
    {"comfydeploy_models", SP_CONFIG_STRING, NULL, 0, 8192, W, false,
     "comma-separated models to advertise for the comfydeploy service"},
    {"comfydeploy_url", SP_CONFIG_STRING, NULL, 0, 2048, W, false,
     "ComfyDeploy API base URL (default https://api.comfydeploy.com/api)"},
    {"comfydeploy_api_key", SP_CONFIG_STRING, NULL, 0, 1024, W, true, "ComfyDeploy API key"},
    {"comfydeploy_api_version", SP_CONFIG_INT, NULL, 1, 2, W, false,
     "API shape: 2 (POST /run/deployment/queue, GET /run/{id}) or 1 (default 2)"},
    {"comfydeploy_timeout", SP_CONFIG_INT, NULL, 1, DAY_S, W, false,
     "seconds one HTTP request may take (default 30); the job's timeout bounds the run"},
    {"comfydeploy_connect_timeout", SP_CONFIG_INT, NULL, 1, 3600, W, false,
     "seconds to establish a connection (default 10)"},
    {"comfydeploy_poll_interval", SP_CONFIG_INT, NULL, 10, 600000, W, false,
     "milliseconds between run status polls (default 2000)"},
    {"comfydeploy_poll_errors", SP_CONFIG_INT, NULL, 1, 1000, W, false,
     "failed polls in a row before the job fails, retryable (default 5)"},
    {"comfydeploy_max_output_mb", SP_CONFIG_INT, NULL, 1, 65536, W, false,
     "largest output file fetched, MiB (default 512)"},
};

#define WORKER_COUNT (sizeof(worker_table) / sizeof(worker_table[0]))

static const char *const known_connectors[] = {
    "simulation", "http", "exec", "openai", "comfyui", "a1111", "comfydeploy", NULL,
};
static const int known_concurrency[] = {16, 32, 2, 8, 1, 1, 8};

const sp_config_def *wrk_config_table(size_t *count)
{
    *count = WORKER_COUNT;
    return worker_table;
}

int wrk_config_new(sp_config **out)
{
    return sp_config_new_table(out, worker_table, WORKER_COUNT, SP_CONFIG_WORKER, WRK_ENV_PREFIX);
}

const char *const *wrk_config_known_connectors(void)
{
    return known_connectors;
}

int wrk_config_default_concurrency(const char *connector)
{
    for (size_t i = 0; known_connectors[i] != NULL; i++)
        if (strcmp(known_connectors[i], connector) == 0)
            return known_concurrency[i];
    return 4;
}

int wrk_config_split_list(const char *list, int (*fn)(void *arg, const char *item), void *arg)
{
    char item[256];
    const char *p = list;
    while (p != NULL && *p != '\0') {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        while (len > 0 && isspace((unsigned char)*p)) {
            p++;
            len--;
        }
        while (len > 0 && isspace((unsigned char)p[len - 1]))
            len--;
        if (len >= sizeof(item))
            return SP_E_RANGE;
        if (len > 0) {
            memcpy(item, p, len);
            item[len] = '\0';
            int rc = fn(arg, item);
            if (rc < 0)
                return rc;
        }
        p = comma != NULL ? comma + 1 : NULL;
    }
    return 0;
}

typedef struct {
    wrk_settings *s;
    char *err;
    size_t errlen;
} resolve_ctx;

static int add_connector(void *arg, const char *item)
{
    resolve_ctx *rc = arg;
    wrk_settings *s = rc->s;
    bool known = false;
    for (size_t i = 0; known_connectors[i] != NULL; i++)
        known = known || strcmp(known_connectors[i], item) == 0;
    if (!known) {
        snprintf(rc->err, rc->errlen,
                 "invalid value for connectors: unknown connector \"%s\" (known: simulation, "
                 "http, exec, openai, comfyui, a1111, comfydeploy)",
                 item);
        return SP_E_INVAL;
    }
    for (size_t i = 0; i < s->nconnectors; i++) {
        if (strcmp(s->connectors[i], item) == 0) {
            snprintf(rc->err, rc->errlen, "invalid value for connectors: \"%s\" is listed twice",
                     item);
            return SP_E_INVAL;
        }
    }
    if (s->nconnectors >= WRK_MAX_CONNECTORS)
        return SP_E_RANGE;
    snprintf(s->connectors[s->nconnectors++], sizeof(s->connectors[0]), "%s", item);
    return 0;
}

static int check_customer(void *arg, const char *item)
{
    (void)arg;
    (void)item;
    return 0;
}

int wrk_settings_resolve(const sp_config *cfg, wrk_settings *s, char *err, size_t errlen)
{
    resolve_ctx rc = {s, err, errlen};
    char key[64], host[128];
    memset(s, 0, sizeof(*s));

    s->database_url = sp_config_string(cfg, "database_url");
    if (s->database_url == NULL || s->database_url[0] == '\0') {
        snprintf(err, errlen,
                 "no database: set database_url in the config file, SPOOL_WORKER_DATABASE_URL "
                 "or --database-url");
        return SP_E_INVAL;
    }
    s->connect_timeout_s = (int)((sp_config_duration_ms(cfg, "connect_timeout") + 999) / 1000);

    s->worker_id = sp_config_string(cfg, "id");
    if (s->worker_id == NULL || s->worker_id[0] == '\0') {
        if (gethostname(host, sizeof(host)) != 0)
            snprintf(host, sizeof(host), "worker");
        host[sizeof(host) - 1] = '\0';
        snprintf(s->id_buf, sizeof(s->id_buf), "%s-%d", host, (int)getpid());
        s->worker_id = s->id_buf;
    }
    s->name = sp_config_string(cfg, "name");

    int r = wrk_config_split_list(sp_config_string(cfg, "connectors"), add_connector, &rc);
    if (r == SP_E_RANGE)
        snprintf(err, errlen, "invalid value for connectors: too many or too long names");
    if (r < 0)
        return r;
    if (s->nconnectors == 0) {
        snprintf(err, errlen, "invalid value for connectors: name at least one connector");
        return SP_E_INVAL;
    }
    for (size_t i = 0; i < s->nconnectors; i++) {
        snprintf(key, sizeof(key), "%s_concurrency", s->connectors[i]);
        if (sp_config_is_set(cfg, key))
            s->concurrency[i] = (int)sp_config_int(cfg, key);
        else if (sp_config_is_set(cfg, "concurrency"))
            s->concurrency[i] = (int)sp_config_int(cfg, "concurrency");
        else
            s->concurrency[i] = wrk_config_default_concurrency(s->connectors[i]);
    }
    s->default_connector = sp_config_string(cfg, "default_connector");
    if (s->default_connector == NULL || s->default_connector[0] == '\0') {
        s->default_connector = s->connectors[0];
    } else {
        bool found = false;
        for (size_t i = 0; i < s->nconnectors; i++)
            found = found || strcmp(s->connectors[i], s->default_connector) == 0;
        if (!found) {
            snprintf(err, errlen,
                     "invalid value for default_connector: \"%s\" is not one of connectors",
                     s->default_connector);
            return SP_E_INVAL;
        }
    }

    s->batch_size = (int)sp_config_int(cfg, "batch_size");
    int64_t lease_ms = sp_config_duration_ms(cfg, "lease");
    if (lease_ms % 1000 != 0) {
        snprintf(err, errlen, "invalid value for lease: use whole seconds (e.g. 30s)");
        return SP_E_INVAL;
    }
    s->lease_s = (int)(lease_ms / 1000);
    if (sp_config_is_set(cfg, "heartbeat_interval")) {
        s->heartbeat_ms = sp_config_duration_ms(cfg, "heartbeat_interval");
        if (s->heartbeat_ms > lease_ms / 2) {
            snprintf(err, errlen,
                     "invalid value for heartbeat_interval: %lldms is more than half the lease "
                     "(%ds); a lease must survive a missed heartbeat",
                     (long long)s->heartbeat_ms, s->lease_s);
            return SP_E_RANGE;
        }
    } else {
        s->heartbeat_ms = lease_ms / 3;
    }
    s->poll_ms = sp_config_duration_ms(cfg, "poll_interval");
    s->progress_ms = sp_config_duration_ms(cfg, "progress_interval");
    s->shutdown_grace_ms = sp_config_duration_ms(cfg, "shutdown_grace");
    s->reconnect_max_ms = sp_config_duration_ms(cfg, "reconnect_max");
    s->maintain_ms = sp_config_duration_ms(cfg, "maintain_interval");
    s->gpu_detect = sp_config_bool(cfg, "gpu_detect");

    s->customer_isolation = sp_config_string(cfg, "customer_isolation");
    if (s->customer_isolation != NULL && s->customer_isolation[0] == '\0')
        s->customer_isolation = NULL;
    if (s->customer_isolation != NULL && strcmp(s->customer_isolation, "strict") != 0 &&
        strcmp(s->customer_isolation, "loose") != 0) {
        snprintf(err, errlen, "invalid value for customer_isolation: \"%s\" (use strict or loose)",
                 s->customer_isolation);
        return SP_E_INVAL;
    }
    s->allowed_customers = sp_config_string(cfg, "allowed_customers");
    s->denied_customers = sp_config_string(cfg, "denied_customers");
    if (wrk_config_split_list(s->allowed_customers, check_customer, NULL) < 0 ||
        wrk_config_split_list(s->denied_customers, check_customer, NULL) < 0) {
        snprintf(err, errlen, "invalid customer list: a customer id is longer than 255 bytes");
        return SP_E_RANGE;
    }
    s->labels = sp_config_string(cfg, "labels");
    if (s->labels != NULL && s->labels[0] != '\0') {
        json_object *obj = NULL;
        char why[128];
        if (sp_json_parse(s->labels, &obj, why, sizeof(why)) < 0 ||
            !json_object_is_type(obj, json_type_object)) {
            snprintf(err, errlen, "invalid value for labels: %s",
                     obj == NULL && why[0] ? why : "must be a JSON object");
            json_object_put(obj);
            return SP_E_INVAL;
        }
        json_object_put(obj);
    } else {
        s->labels = NULL;
    }

    const char *store = sp_config_string(cfg, "output_store");
    if (strcmp(store, "local") != 0 && strcmp(store, "s3") != 0) {
        snprintf(err, errlen, "invalid value for output_store: \"%s\" (use local or s3)", store);
        return SP_E_INVAL;
    }
    if (strcmp(store, "s3") == 0) {
        static const char *const need[] = {"output_s3_endpoint", "output_s3_bucket",
                                           "output_s3_access_key", "output_s3_secret_key"};
        for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
            const char *v = sp_config_string(cfg, need[i]);
            if (v == NULL || v[0] == '\0') {
                snprintf(err, errlen, "output_store is s3 but %s is not set", need[i]);
                return SP_E_INVAL;
            }
        }
    }
    return 0;
}

/* ---- the connector view --------------------------------------------------------------- */

void wrk_connector_config_init(wrk_connector_config *view, const sp_config *cfg,
                               const char *connector)
{
    view->cfg = cfg;
    snprintf(view->name, sizeof(view->name), "%s", connector);
}

static const sp_config_def *view_def(const wrk_connector_config *v, const char *key, char *full,
                                     size_t fulllen)
{
    if (v == NULL || v->cfg == NULL || key == NULL)
        return NULL;
    if ((size_t)snprintf(full, fulllen, "%s_%s", v->name, key) >= fulllen)
        return NULL;
    const sp_config_def *def = sp_config_find_def(v->cfg, full);
    if (def == NULL || !sp_config_is_set(v->cfg, full))
        return NULL;
    return def;
}

const char *wrk_connector_config_string(const wrk_connector_config *cfg, const char *key,
                                        const char *def)
{
    char full[96];
    const sp_config_def *d = view_def(cfg, key, full, sizeof(full));
    if (d == NULL || d->type != SP_CONFIG_STRING)
        return def;
    const char *v = sp_config_string(cfg->cfg, full);
    return v != NULL ? v : def;
}

int64_t wrk_connector_config_int(const wrk_connector_config *cfg, const char *key, int64_t def)
{
    char full[96];
    int64_t n;
    const sp_config_def *d = view_def(cfg, key, full, sizeof(full));
    if (d == NULL)
        return def;
    switch (d->type) {
    case SP_CONFIG_INT:
        return sp_config_int(cfg->cfg, full);
    case SP_CONFIG_DURATION:
        return sp_config_duration_ms(cfg->cfg, full);
    case SP_CONFIG_BOOL:
        return sp_config_bool(cfg->cfg, full) ? 1 : 0;
    case SP_CONFIG_STRING:
        return sp_config_parse_int(sp_config_string(cfg->cfg, full), &n) == 0 ? n : def;
    }
    return def;
}

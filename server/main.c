/*
 * spoold: Spool's server. REST API, live event streams, metrics and the maintenance loop,
 * over the state machine of schema spool.
 *
 *   spoold --database-url URL [--listen HOST:PORT] [--config FILE] [--<setting> VALUE …]
 *
 * Threads: MHD's pool (requests), the event hub (LISTEN + fan-out), the maintenance loop,
 * and main, which waits for SIGTERM/SIGINT and then shuts down in order: stop accepting,
 * end streams, let requests in flight finish, stop.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "sp_config.h"
#include "sp_db.h"
#include "sp_log.h"
#include "srv_auth.h"
#include "srv_events.h"
#include "srv_http.h"
#include "srv_pool.h"
#include "srv_sse.h"

static atomic_bool stopping;

static void usage(FILE *out)
{
    fputs("usage: spoold --database-url URL [--listen HOST:PORT] [--config FILE] [--SETTING "
          "VALUE]...\n"
          "\n"
          "Spool's server: REST API under /v1, event streams (SSE), /metrics, /healthz, /readyz,\n"
          "and the periodic spool.maintain() (one leader per database).\n"
          "\n"
          "Settings (config file < SPOOL_<NAME> environment < --name value):\n",
          out);
    size_t n;
    const sp_config_def *t = sp_config_table(&n);
    for (size_t i = 0; i < n; i++) {
        if (!(t[i].scope & SP_CONFIG_SERVER))
            continue;
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", t[i].name);
        for (char *p = flag + 2; *p; p++)
            if (*p == '_')
                *p = '-';
        fprintf(out, "  %-26s %s%s%s%s\n", flag, t[i].description,
                t[i].default_value ? " (default " : "",
                t[i].default_value ? t[i].default_value : "", t[i].default_value ? ")" : "");
    }
    fputs("  --config FILE              read settings from FILE (see config/spoold.conf)\n"
          "  --help                     show this help\n",
          out);
}

/* Loads file, environment and flags into cfg, in that order. */
static int load_config(sp_config *cfg, int argc, char **argv)
{
    char err[512];
    const char *file = NULL;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            file = argv[i + 1];
    if (file != NULL && sp_config_load_file(cfg, file, err, sizeof err) != 0) {
        fprintf(stderr, "spoold: %s\n", err);
        return -1;
    }
    if (sp_config_load_env(cfg, err, sizeof err) != 0) {
        fprintf(stderr, "spoold: %s\n", err);
        return -1;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (strncmp(argv[i], "--", 2) != 0) {
            fprintf(stderr, "spoold: unexpected argument \"%s\" (see --help)\n", argv[i]);
            return -1;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "spoold: %s needs a value\n", argv[i]);
            return -1;
        }
        if (strcmp(argv[i], "--config") == 0) {
            i++;
            continue;
        }
        char name[64];
        snprintf(name, sizeof name, "%s", argv[i] + 2);
        for (char *p = name; *p; p++)
            if (*p == '-')
                *p = '_';
        int rc = sp_config_set(cfg, name, argv[i + 1], argv[i], err, sizeof err);
        if (rc == SP_E_NOTFOUND) {
            fprintf(stderr, "spoold: unknown option %s (see --help)\n", argv[i]);
            return -1;
        }
        if (rc != 0) {
            fprintf(stderr, "spoold: %s\n", err);
            return -1;
        }
        i++;
    }
    if (sp_config_string(cfg, "database_url") == NULL) {
        fprintf(stderr, "spoold: no database: set --database-url, SPOOL_DATABASE_URL or "
                        "database_url in the config file\n");
        return -1;
    }
    return 0;
}

typedef struct {
    const char *url;
    int interval_ms;
    int connect_timeout_s;
} maint_args;

/* The maintenance loop: whoever holds the session advisory lock (1397772111, 10) runs
 * spool.maintain(); if that spoold dies its session ends, the lock is free, and another one
 * takes over at its next tick. */
static void *maintenance_main(void *arg)
{
    maint_args *a = arg;
    sp_db *db = NULL;
    bool connected = false, leader = false;
    if (sp_db_new(&db) != 0)
        return NULL;
    while (!atomic_load(&stopping)) {
        if (!connected) {
            leader = false;
            connected = sp_db_connect(db, a->url, a->connect_timeout_s) == 0;
        }
        if (connected) {
            sp_db_res *res = NULL;
            int rc = 0;
            if (!leader) {
                rc = sp_db_exec_params(db, "SELECT pg_try_advisory_lock(1397772111, 10)", 0, NULL,
                                       &res);
                if (rc == 0 && sp_db_res_value(res, 0, 0)[0] == 't') {
                    leader = true;
                    sp_log_write(SP_LOG_INFO, "maintenance", "leader", "role=%s",
                                 "this spoold runs spool.maintain()");
                }
                sp_db_res_free(res);
                res = NULL;
            }
            if (rc == 0 && leader) {
                rc = sp_db_exec_params(db, "SELECT spool.maintain()::text", 0, NULL, &res);
                if (rc == 0)
                    sp_log_write(SP_LOG_DEBUG, "maintenance", "ran", "result=%s",
                                 sp_db_res_value(res, 0, 0));
                else if (rc == SP_E_DB) {
                    char q[256];
                    sp_log_write(SP_LOG_WARN, "maintenance", "failed", "message=%s",
                                 sp_log_quote(sp_db_err_message(db), q, sizeof q));
                }
                sp_db_res_free(res);
            }
            if (rc == SP_E_CONN)
                connected = false;
        }
        for (int waited = 0; waited < a->interval_ms && !atomic_load(&stopping); waited += 100)
            usleep(100 * 1000);
    }
    sp_db_free(db);
    return NULL;
}

int main(int argc, char **argv)
{
    sp_config *cfg = NULL;
    srv_server srv;
    memset(&srv, 0, sizeof srv);
    int exit_code = 1;
    char err[512];
    pthread_t maint;
    bool maint_started = false;

    signal(SIGPIPE, SIG_IGN);
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    /* Every thread inherits the mask; main takes the signals with sigwait. */
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    if (sp_config_new(&cfg, SP_CONFIG_SERVER) != 0 || load_config(cfg, argc, argv) != 0)
        goto out;
    sp_log_level lvl;
    if (sp_log_parse_level(sp_config_string(cfg, "log_level"), &lvl) != 0) {
        fprintf(stderr, "spoold: log_level must be debug, info, warn or error\n");
        goto out;
    }
    sp_log_set_level(lvl);

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    srv.cfg = cfg;
    srv.database_url = strdup(sp_config_string(cfg, "database_url"));
    srv.max_body = (size_t)sp_config_int(cfg, "max_body_bytes");
    srv.max_batch_jobs = (int)sp_config_int(cfg, "max_batch_jobs");
    int connect_timeout_s = (int)(sp_config_duration_ms(cfg, "connect_timeout") / 1000);
    if (connect_timeout_s < 1)
        connect_timeout_s = 1;
    if (srv.database_url == NULL ||
        srv_pool_new(&srv.pool, srv.database_url, (int)sp_config_int(cfg, "pool_size"),
                     (int)sp_config_duration_ms(cfg, "pool_wait"), connect_timeout_s,
                     (int)sp_config_duration_ms(cfg, "statement_timeout")) != 0 ||
        srv_auth_new(
            &srv.auth, sp_config_bool(cfg, "auth"), (int)sp_config_duration_ms(cfg, "auth_cache"),
            (int)sp_config_int(cfg, "rate_limit"), (int)sp_config_int(cfg, "rate_burst")) != 0) {
        fprintf(stderr, "spoold: out of memory\n");
        goto out;
    }
    if (!sp_config_bool(cfg, "auth"))
        sp_log_write(SP_LOG_WARN, "auth", "disabled", "warning=%s",
                     "\"AUTHENTICATION IS OFF: every request is admin. Local development only.\"");
    srv_events_config ec = {
        .queue_events = (int)sp_config_int(cfg, "sse_queue_events"),
        .heartbeat_ms = (int)sp_config_duration_ms(cfg, "sse_heartbeat"),
        .max_subscribers = (int)sp_config_int(cfg, "sse_max_subscribers"),
        .poll_ms = (int)sp_config_duration_ms(cfg, "events_poll"),
        .connect_timeout_s = connect_timeout_s,
    };
    if (srv_events_start(&ec, srv.database_url, &srv.events) != 0 ||
        srv_sse_init((int)sp_config_int(cfg, "sse_threads")) != 0) {
        fprintf(stderr, "spoold: could not start the event hub\n");
        goto out;
    }
    const char *listen = sp_config_string(cfg, "listen");
    if (srv_http_start(&srv, listen, err, sizeof err) != 0) {
        fprintf(stderr, "spoold: %s\n", err);
        goto out;
    }
    maint_args ma = {srv.database_url, (int)sp_config_duration_ms(cfg, "maintenance_interval"),
                     connect_timeout_s};
    maint_started = pthread_create(&maint, NULL, maintenance_main, &ma) == 0;
    char redacted[512];
    sp_log_redact_url(srv.database_url, redacted, sizeof redacted);
    sp_log_write(SP_LOG_INFO, "spoold", "listening", "listen=%s database=%s pool_size=%lld", listen,
                 redacted, (long long)sp_config_int(cfg, "pool_size"));

    int sig = 0;
    sigwait(&sigs, &sig);
    sp_log_write(SP_LOG_INFO, "spoold", "stopping", "signal=%s",
                 sig == SIGTERM ? "SIGTERM" : "SIGINT");
    atomic_store(&stopping, true);
    srv_http_quiesce(&srv);
    srv_events_shutdown(srv.events);
    /* Requests in flight (and the streams just told to end) get up to 10 s to finish. */
    for (int i = 0; i < 100 && srv_http_in_flight() > 0; i++)
        usleep(100 * 1000);
    if (srv_http_in_flight() > 0)
        sp_log_write(SP_LOG_WARN, "spoold", "drain_timeout", "in_flight=%d", srv_http_in_flight());
    srv_http_stop(&srv);
    exit_code = 0;
    sp_log_write(SP_LOG_INFO, "spoold", "stopped", "exit=%d", 0);
out:
    atomic_store(&stopping, true);
    if (maint_started)
        pthread_join(maint, NULL);
    srv_http_stop(&srv);
    srv_sse_free();
    srv_events_free(srv.events);
    srv_auth_free(srv.auth);
    srv_pool_free(srv.pool);
    free(srv.database_url);
    sp_config_free(cfg);
    return exit_code;
}

/*
 * spool-worker: claims jobs from Spool and runs them in connectors.
 *
 *   spool-worker --database-url URL [--id NAME] [--connectors simulation,http,…]
 *                [--concurrency N] [--config FILE] [--log-level LEVEL] [--check] [--help]
 *
 * Settings: defaults < config file < SPOOL_WORKER_* environment < flags (wrk_config.c has
 * the table; config/worker.conf documents every key). Exit status: 0 after a clean shutdown
 * (SIGTERM/SIGINT) or a healthy --check, 1 on a failure, 2 on a usage or configuration
 * error.
 */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sp_config.h"
#include "sp_log.h"
#include "wrk_config.h"
#include "wrk_loop.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: spool-worker --database-url URL [--id NAME] [--connectors LIST]\n"
            "                    [--concurrency N] [--config FILE] [--log-level LEVEL]\n"
            "                    [--check] [--help]\n"
            "\n"
            "Claims jobs from Spool (PostgreSQL) and runs them in connectors.\n"
            "\n"
            "  --database-url URL   PostgreSQL connection URL (database_url)\n"
            "  --id NAME            worker id, unique among running workers (id)\n"
            "  --connectors LIST    comma-separated connectors: simulation, http, exec,\n"
            "                       openai, comfyui, a1111, comfydeploy (connectors)\n"
            "  --concurrency N      job threads per connector unless <connector>_concurrency\n"
            "                       is set (concurrency)\n"
            "  --config FILE        settings file, key = value lines (see config/worker.conf)\n"
            "  --log-level LEVEL    debug, info, warn or error (log_level)\n"
            "  --check              check the configuration, the database, the output store\n"
            "                       and each connector's service, print a report, exit 0/1\n"
            "  --help               this text and every setting\n"
            "\n"
            "Settings come from, later winning: defaults, the config file, the environment\n"
            "(SPOOL_WORKER_<NAME>, e.g. SPOOL_WORKER_BATCH_SIZE=500) and the flags.\n"
            "SIGTERM drains (running jobs finish within shutdown_grace, the rest are\n"
            "released); a second SIGTERM releases at once.\n");
}

static void list_settings(FILE *out)
{
    size_t n;
    const sp_config_def *t = wrk_config_table(&n);
    fprintf(out, "\nsettings (config key, SPOOL_WORKER_<KEY>):\n");
    for (size_t i = 0; i < n; i++)
        fprintf(out, "  %-26s %s%s%s%s\n", t[i].name, t[i].description,
                t[i].default_value != NULL && t[i].default_value[0] ? " [default: " : "",
                t[i].default_value != NULL && t[i].default_value[0] ? t[i].default_value : "",
                t[i].default_value != NULL && t[i].default_value[0] ? "]" : "");
}

int main(int argc, char **argv)
{
    static const struct {
        const char *flag, *setting;
    } flags[] = {
        {"--database-url", "database_url"}, {"--id", "id"},
        {"--connectors", "connectors"},     {"--concurrency", "concurrency"},
        {"--log-level", "log_level"},
    };
    char err[1024];
    const char *config_file = NULL;
    bool check = false;
    int status = 1;
    sp_config *cfg = NULL;
    wrk_loop *loop = NULL;
    wrk_settings settings;

    /* First pass: --help, --check and --config, which decide what the rest means. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            list_settings(stdout);
            return 0;
        } else if (strcmp(argv[i], "--check") == 0) {
            check = true;
        } else if (strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "spool-worker: --config needs a file\n");
                return 2;
            }
            config_file = argv[++i];
        } else {
            bool known = false;
            for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]); f++)
                known = known || strcmp(argv[i], flags[f].flag) == 0;
            if (!known) {
                fprintf(stderr, "spool-worker: unknown argument \"%s\" (try --help)\n", argv[i]);
                return 2;
            }
            if (i + 1 >= argc) {
                fprintf(stderr, "spool-worker: %s needs a value\n", argv[i]);
                return 2;
            }
            i++;
        }
    }

    if (wrk_config_new(&cfg) < 0) {
        fprintf(stderr, "spool-worker: out of memory\n");
        return 1;
    }
    if (config_file != NULL && sp_config_load_file(cfg, config_file, err, sizeof(err)) < 0)
        goto config_error;
    if (sp_config_load_env(cfg, err, sizeof(err)) < 0)
        goto config_error;
    for (int i = 1; i < argc; i++) {
        for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
            if (strcmp(argv[i], flags[f].flag) == 0) {
                if (sp_config_set(cfg, flags[f].setting, argv[i + 1], argv[i], err, sizeof(err)) <
                    0)
                    goto config_error;
                i++;
                break;
            }
        }
        if (i < argc && strcmp(argv[i], "--config") == 0)
            i++;
    }
    sp_log_level level;
    if (sp_log_parse_level(sp_config_string(cfg, "log_level"), &level) == 0)
        sp_log_set_level(level);
    if (wrk_settings_resolve(cfg, &settings, err, sizeof(err)) < 0)
        goto config_error;

    /* Signals are read by the loop from a signalfd: block them before any thread starts, so
     * every thread inherits the mask. Broken pipes are errors, not deaths. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (wrk_loop_new(cfg, &settings, &loop, err, sizeof(err)) < 0) {
        if (check) {
            printf("spool-worker check\n  %-22s FAIL %s\nresult: problems found\n", "configuration",
                   err);
            status = 1;
            goto out;
        }
        goto config_error;
    }
    if (check) {
        status = wrk_loop_check(loop, stdout) == 0 ? 0 : 1;
        goto out;
    }
    status = wrk_loop_run(loop) == 0 ? 0 : 1;
    goto out;

config_error:
    if (check)
        printf("spool-worker check\n  %-22s FAIL %s\nresult: problems found\n", "configuration",
               err);
    fprintf(stderr, "spool-worker: %s\n", err);
    status = check ? 1 : 2;
out:
    wrk_loop_free(loop);
    sp_config_free(cfg);
    /* No curl_global_cleanup: a connector thread stuck in a transfer may outlive the loop. */
    return status;
}

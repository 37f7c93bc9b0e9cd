/* Unit tests for wrk_config: the worker's settings table, load order, resolution and its
 * checks, the connector view, and that the table and config/worker.conf cover every key the
 * connectors read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "wrk_config.h"

static char *write_file(const char *content)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/spool-test-wrk-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
    return path;
}

static sp_config *new_cfg(void)
{
    sp_config *cfg = NULL;
    char err[256];
    assert_int_equal(wrk_config_new(&cfg), 0);
    assert_int_equal(sp_config_set(cfg, "database_url", "postgresql://x/db", "test", err, 256), 0);
    return cfg;
}

static void test_defaults(void **state)
{
    (void)state;
    char err[512] = "";
    wrk_settings s;
    sp_config *cfg = new_cfg();
    assert_int_equal(wrk_settings_resolve(cfg, &s, err, sizeof(err)), 0);
    assert_int_equal(s.nconnectors, 1);
    assert_string_equal(s.connectors[0], "simulation");
    assert_string_equal(s.default_connector, "simulation");
    assert_int_equal(s.concurrency[0], 16);
    assert_int_equal(s.batch_size, 100);
    assert_int_equal(s.lease_s, 30);
    assert_int_equal(s.heartbeat_ms, 10000); /* lease / 3 */
    assert_int_equal(s.poll_ms, 1000);
    assert_int_equal(s.shutdown_grace_ms, 30000);
    assert_int_equal(s.maintain_ms, 0);
    assert_non_null(s.worker_id);
    assert_true(strchr(s.worker_id, '-') != NULL); /* hostname-pid */
    sp_config_free(cfg);
}

static void test_load_order(void **state)
{
    (void)state;
    char err[512] = "";
    wrk_settings s;
    sp_config *cfg = new_cfg();
    const char *path = write_file("# worker\nbatch_size = 50\nlease = 60s\nid = from-file\n"
                                  "connectors = simulation, http\n");
    assert_int_equal(sp_config_load_file(cfg, path, err, sizeof(err)), 0);
    unlink(path);
    setenv("SPOOL_WORKER_BATCH_SIZE", "70", 1);
    setenv("SPOOL_BATCH_SIZE", "1", 1); /* another program's prefix: ignored */
    assert_int_equal(sp_config_load_env(cfg, err, sizeof(err)), 0);
    unsetenv("SPOOL_WORKER_BATCH_SIZE");
    unsetenv("SPOOL_BATCH_SIZE");
    assert_int_equal(sp_config_set(cfg, "id", "from-flag", "--id", err, sizeof(err)), 0);
    assert_int_equal(wrk_settings_resolve(cfg, &s, err, sizeof(err)), 0);
    assert_int_equal(s.batch_size, 70);
    assert_int_equal(s.lease_s, 60);
    assert_int_equal(s.heartbeat_ms, 20000);
    assert_string_equal(s.worker_id, "from-flag");
    assert_int_equal(s.nconnectors, 2);
    assert_string_equal(s.connectors[1], "http");
    assert_int_equal(s.concurrency[1], 32);
    sp_config_free(cfg);
}

static void test_concurrency_precedence(void **state)
{
    (void)state;
    char err[512] = "";
    wrk_settings s;
    sp_config *cfg = new_cfg();
    assert_int_equal(sp_config_set(cfg, "connectors", "comfyui,http,exec", "t", err, 512), 0);
    assert_int_equal(wrk_settings_resolve(cfg, &s, err, sizeof(err)), 0);
    assert_int_equal(s.concurrency[0], 1); /* comfyui: one GPU */
    assert_int_equal(s.concurrency[1], 32);
    assert_int_equal(s.concurrency[2], 2);
    assert_int_equal(sp_config_set(cfg, "concurrency", "4", "--concurrency", err, 512), 0);
    assert_int_equal(sp_config_set(cfg, "http_concurrency", "64", "t", err, 512), 0);
    assert_int_equal(wrk_settings_resolve(cfg, &s, err, sizeof(err)), 0);
    assert_int_equal(s.concurrency[0], 4);
    assert_int_equal(s.concurrency[1], 64);
    assert_int_equal(s.concurrency[2], 4);
    sp_config_free(cfg);
}

/* Sets one value, resolves, expects failure with msg in the message. */
static void expect_bad(const char *name, const char *value, const char *msg)
{
    char err[512] = "";
    wrk_settings s;
    sp_config *cfg = new_cfg();
    int rc = sp_config_set(cfg, name, value, "test", err, sizeof(err));
    if (rc == 0)
        rc = wrk_settings_resolve(cfg, &s, err, sizeof(err));
    assert_true(rc < 0);
    if (strstr(err, msg) == NULL)
        fail_msg("%s=%s: \"%s\" does not contain \"%s\"", name, value, err, msg);
    sp_config_free(cfg);
}

static void test_invalid(void **state)
{
    (void)state;
    expect_bad("connectors", "simulation,gpu", "unknown connector \"gpu\"");
    expect_bad("connectors", "http,http", "\"http\" is listed twice");
    expect_bad("connectors", " , ", "name at least one connector");
    expect_bad("heartbeat_interval", "20s", "more than half the lease");
    expect_bad("lease", "1500ms", "whole seconds");
    expect_bad("labels", "[1]", "must be a JSON object");
    expect_bad("labels", "{nope", "invalid value for labels");
    expect_bad("default_connector", "http", "not one of connectors");
    expect_bad("customer_isolation", "maybe", "use strict or loose");
    expect_bad("output_store", "s3", "output_s3_endpoint is not set");
    expect_bad("output_store", "ftp", "use local or s3");
    expect_bad("batch_size", "0", "out of range");
    expect_bad("batch_size", "many", "is not an integer");
    expect_bad("poll_interval", "soon", "is not a duration");
    expect_bad("log_level", "loud", "is not a log level");
    expect_bad("comfyui_url2", "x", "unknown setting \"comfyui_url2\"");

    char err[512] = "";
    wrk_settings s;
    sp_config *cfg = NULL;
    assert_int_equal(wrk_config_new(&cfg), 0);
    assert_int_equal(wrk_settings_resolve(cfg, &s, err, sizeof(err)), SP_E_INVAL);
    assert_non_null(strstr(err, "no database"));
    sp_config_free(cfg);
}

static void test_connector_view(void **state)
{
    (void)state;
    char err[512] = "";
    sp_config *cfg = new_cfg();
    wrk_connector_config v;
    assert_int_equal(sp_config_set(cfg, "comfyui_url", "http://gpu:8188", "t", err, 512), 0);
    assert_int_equal(sp_config_set(cfg, "comfyui_poll_interval", "250", "t", err, 512), 0);
    wrk_connector_config_init(&v, cfg, "comfyui");
    assert_string_equal(wrk_connector_config_string(&v, "url", "d"), "http://gpu:8188");
    assert_int_equal(wrk_connector_config_int(&v, "poll_interval", 500), 250);
    /* Declared without a default and unset: the connector's default. */
    assert_int_equal(wrk_connector_config_int(&v, "timeout", 30), 30);
    /* Not declared at all: the connector's default. */
    assert_string_equal(wrk_connector_config_string(&v, "nope", "dflt"), "dflt");
    assert_int_equal(wrk_connector_config_int(&v, "nope", 7), 7);
    /* A table default wins over the connector's. */
    wrk_connector_config_init(&v, cfg, "http");
    assert_int_equal(wrk_connector_config_int(&v, "timeout", 5), 60);
    /* A string key read as an int. */
    wrk_connector_config_init(&v, cfg, "simulation");
    assert_string_equal(wrk_connector_config_string(&v, "fail_rate", "x"), "0");
    assert_int_equal(wrk_connector_config_int(&v, "fail_rate", 3), 0);
    sp_config_free(cfg);
}

static int count_item(void *arg, const char *item)
{
    (void)item;
    (*(int *)arg)++;
    return 0;
}

static void test_split_list(void **state)
{
    (void)state;
    int n = 0;
    assert_int_equal(wrk_config_split_list(" a, b ,,c ", count_item, &n), 0);
    assert_int_equal(n, 3);
    n = 0;
    assert_int_equal(wrk_config_split_list("", count_item, &n), 0);
    assert_int_equal(n, 0);
    char big[400];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(wrk_config_split_list(big, count_item, &n), SP_E_RANGE);
}

static void test_table(void **state)
{
    (void)state;
    size_t n;
    const sp_config_def *t = wrk_config_table(&n);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(t[i].description);
        assert_true(t[i].min <= t[i].max);
        assert_true(t[i].scope & SP_CONFIG_WORKER);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(t[i].name, t[j].name);
        /* Anything that looks like a credential is marked secret. */
        if (strstr(t[i].name, "api_key") || strstr(t[i].name, "secret") ||
            strstr(t[i].name, "database_url") || strcmp(t[i].name, "a1111_auth") == 0)
            assert_true(t[i].secret);
    }
}

/* Every key a connector reads (wrk_connector_config_*(cfg, "key", …) in
 * worker/connectors/<name>.c) is declared as <name>_<key>, so users can set it; and
 * config/worker.conf documents every declared key. */
static void test_table_covers_sources(void **state)
{
    (void)state;
    char path[512], line[1024], cmd[768];
    sp_config *cfg = new_cfg();
    snprintf(cmd, sizeof(cmd),
             "cd %s/worker/connectors && grep -oE "
             "'wrk_connector_config_(string|int)\\([a-z_]+, *\"[a-z0-9_]+\"' *.c",
             SPOOL_SOURCE_DIR);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    int seen = 0;
    while (fgets(line, sizeof(line), p) != NULL) {
        char file[64], key[64], full[140];
        char *dot = strstr(line, ".c:");
        char *q1 = strchr(line, '"');
        assert_non_null(dot);
        assert_non_null(q1);
        snprintf(file, sizeof(file), "%.*s", (int)(dot - line), line);
        snprintf(key, sizeof(key), "%.*s", (int)strcspn(q1 + 1, "\""), q1 + 1);
        snprintf(full, sizeof(full), "%s_%s", file, key);
        if (sp_config_find_def(cfg, full) == NULL)
            fail_msg("worker/connectors/%s.c reads \"%s\" but %s is not in the worker's table",
                     file, key, full);
        seen++;
    }
    pclose(p);
    assert_true(seen > 10);
    sp_config_free(cfg);

    snprintf(path, sizeof(path), "%s/config/worker.conf", SPOOL_SOURCE_DIR);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char conf[256 * 1024];
    size_t len = fread(conf, 1, sizeof(conf) - 1, f);
    conf[len] = '\0';
    fclose(f);
    size_t n;
    const sp_config_def *t = wrk_config_table(&n);
    for (size_t i = 0; i < n; i++) {
        char a[80], b[80];
        snprintf(a, sizeof(a), "\n# %s =", t[i].name);
        snprintf(b, sizeof(b), "\n%s =", t[i].name);
        if (strstr(conf, a) == NULL && strstr(conf, b) == NULL)
            fail_msg("config/worker.conf does not document %s", t[i].name);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_load_order),
        cmocka_unit_test(test_concurrency_precedence),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_connector_view),
        cmocka_unit_test(test_split_list),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_table_covers_sources),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

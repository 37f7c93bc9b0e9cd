/* Unit tests for sp_config: defaults, file, environment and command-line order; errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sp_config.h"

static char *write_file(const char *content)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/spool-test-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
    return path;
}

static void test_defaults(void **state)
{
    (void)state;
    sp_config *cfg = NULL;
    assert_int_equal(sp_config_new(&cfg, SP_CONFIG_CLI), 0);
    assert_null(sp_config_string(cfg, "database_url"));
    assert_int_equal(sp_config_duration_ms(cfg, "connect_timeout"), 10000);
    assert_string_equal(sp_config_string(cfg, "log_level"), "info");
    sp_config_free(cfg);
}

static void test_load_order(void **state)
{
    (void)state;
    char err[256];
    sp_config *cfg = NULL;
    char *path = write_file("# comment\n\n database_url = postgresql://file/db  # trailing\n"
                            "connect_timeout = 2m\nlog_level = \"debug\"\n");
    assert_int_equal(sp_config_new(&cfg, SP_CONFIG_CLI), 0);
    assert_int_equal(sp_config_load_file(cfg, path, err, sizeof(err)), 0);
    assert_string_equal(sp_config_string(cfg, "database_url"), "postgresql://file/db");
    assert_int_equal(sp_config_duration_ms(cfg, "connect_timeout"), 120000);
    assert_string_equal(sp_config_string(cfg, "log_level"), "debug");

    setenv("SPOOL_DATABASE_URL", "postgresql://env/db", 1);
    assert_int_equal(sp_config_load_env(cfg, err, sizeof(err)), 0);
    unsetenv("SPOOL_DATABASE_URL");
    assert_string_equal(sp_config_string(cfg, "database_url"), "postgresql://env/db");

    assert_int_equal(
        sp_config_set(cfg, "database_url", "postgresql://cli/db", "--database-url", err, 256), 0);
    assert_string_equal(sp_config_string(cfg, "database_url"), "postgresql://cli/db");
    sp_config_free(cfg);
    unlink(path);
}

static void test_invalid_values(void **state)
{
    (void)state;
    char err[256];
    sp_config *cfg = NULL;
    assert_int_equal(sp_config_new(&cfg, SP_CONFIG_CLI), 0);

    assert_int_equal(sp_config_set(cfg, "connect_timeout", "soon", "--x", err, sizeof(err)),
                     SP_E_INVAL);
    assert_string_equal(err, "invalid value for connect_timeout in --x: \"soon\" is not a "
                             "duration (e.g. 500ms, 30s, 5m, 1h)");
    assert_int_equal(sp_config_set(cfg, "connect_timeout", "2h", "--x", err, sizeof(err)),
                     SP_E_RANGE);
    assert_string_equal(
        err, "invalid value for connect_timeout in --x: \"2h\" is out of range (1s to 3600s)");
    assert_int_equal(sp_config_set(cfg, "log_level", "loud", "env", err, sizeof(err)), SP_E_INVAL);
    assert_int_equal(sp_config_set(cfg, "nope", "1", "f:1", err, sizeof(err)), SP_E_NOTFOUND);
    assert_string_equal(err, "unknown setting \"nope\" in f:1");
    /* The value before a refused set stays. */
    assert_int_equal(sp_config_duration_ms(cfg, "connect_timeout"), 10000);

    char *path = write_file("log_level = info\nthis line is wrong\n");
    assert_int_equal(sp_config_load_file(cfg, path, err, sizeof(err)), SP_E_PARSE);
    assert_non_null(strstr(err, ":2"));
    unlink(path);

    setenv("SPOOL_CONNECT_TIMEOUT", "0", 1);
    assert_int_equal(sp_config_load_env(cfg, err, sizeof(err)), SP_E_RANGE);
    assert_non_null(strstr(err, "SPOOL_CONNECT_TIMEOUT"));
    unsetenv("SPOOL_CONNECT_TIMEOUT");

    assert_int_equal(sp_config_load_file(cfg, "/nonexistent/spool.conf", err, sizeof(err)),
                     SP_E_IO);
    sp_config_free(cfg);
}

static void test_parsers(void **state)
{
    (void)state;
    int64_t v;
    bool b;
    assert_int_equal(sp_config_parse_duration_ms("250ms", &v), 0);
    assert_int_equal(v, 250);
    assert_int_equal(sp_config_parse_duration_ms("3", &v), 0);
    assert_int_equal(v, 3000);
    assert_int_equal(sp_config_parse_duration_ms("1d", &v), 0);
    assert_int_equal(v, 86400000);
    assert_int_equal(sp_config_parse_duration_ms("-1s", &v), SP_E_INVAL);
    assert_int_equal(sp_config_parse_duration_ms("1w", &v), SP_E_INVAL);
    assert_int_equal(sp_config_parse_int("42", &v), 0);
    assert_int_equal(sp_config_parse_int("4x", &v), SP_E_INVAL);
    assert_int_equal(sp_config_parse_int("99999999999999999999", &v), SP_E_RANGE);
    assert_int_equal(sp_config_parse_bool("On", &b), 0);
    assert_true(b);
    assert_int_equal(sp_config_parse_bool("no", &b), 0);
    assert_false(b);
    assert_int_equal(sp_config_parse_bool("maybe", &b), SP_E_INVAL);
}

static void test_table_is_well_formed(void **state)
{
    (void)state;
    size_t n;
    const sp_config_def *defs = sp_config_table(&n);
    assert_true(n > 0);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(defs[i].description);
        assert_true(defs[i].min <= defs[i].max);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(defs[i].name, defs[j].name);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_load_order),
        cmocka_unit_test(test_invalid_values),
        cmocka_unit_test(test_parsers),
        cmocka_unit_test(test_table_is_well_formed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

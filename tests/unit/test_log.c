/* Unit tests for sp_log: line format, levels, quoting and password redaction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sp_log.h"

static void check_redact(const char *in, const char *want)
{
    char out[256];
    sp_log_redact_url(in, out, sizeof(out));
    assert_string_equal(out, want);
}

static void test_redact(void **state)
{
    (void)state;
    check_redact("postgresql://spool:s3cret@db:5432/spool", "postgresql://spool:***@db:5432/spool");
    check_redact("postgres://u:p@ss@host/db", "postgres://u:***@host/db");
    check_redact("postgresql://u@host/db", "postgresql://u@host/db");
    check_redact("postgresql://host/db?user=u&password=x&sslmode=require",
                 "postgresql://host/db?user=u&password=***&sslmode=require");
    check_redact("host=db user=u password=secret dbname=x", "host=db user=u password=*** dbname=x");
    check_redact("host=db password = 'a b\\'c' dbname=x", "host=db password = *** dbname=x");
    char small[8];
    sp_log_redact_url("postgresql://u:secret@h/d", small, sizeof(small));
    assert_string_equal(small, "postgre");
}

static void test_quote(void **state)
{
    (void)state;
    char out[64];
    assert_string_equal(sp_log_quote("plain", out, sizeof(out)), "plain");
    assert_string_equal(sp_log_quote("a b", out, sizeof(out)), "\"a b\"");
    assert_string_equal(sp_log_quote("say \"hi\"\n", out, sizeof(out)), "\"say \\\"hi\\\"\\n\"");
    assert_string_equal(sp_log_quote("", out, sizeof(out)), "\"\"");
}

static void test_line_format_and_level(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    assert_non_null(mem);
    sp_log_set_stream(mem);
    sp_log_set_level(SP_LOG_INFO);
    sp_log_debug("test", "hidden", "x=%d", 1);
    sp_log_info("migrate", "applied", "name=%s", "0001_init.sql");
    sp_log_set_stream(NULL);
    fclose(mem);
    assert_null(strstr(text, "hidden"));
    assert_non_null(
        strstr(text, " level=info component=migrate event=applied name=0001_init.sql\n"));
    assert_memory_equal(text, "ts=", 3);
    assert_int_equal(strchr(text, '\n') - text + 1, (long)strlen(text));
    free(text);

    sp_log_level lv;
    assert_int_equal(sp_log_parse_level("warn", &lv), 0);
    assert_int_equal(lv, SP_LOG_WARN);
    assert_int_equal(sp_log_parse_level("loud", &lv), SP_E_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_quote),
        cmocka_unit_test(test_line_format_and_level),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

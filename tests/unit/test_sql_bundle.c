/* Unit tests for the embedded SQL bundle: every file is present, sorted and intact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sp_sql_bundle.h"

static void check_files(const sp_sql_file *files, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        assert_non_null(files[i].name);
        assert_non_null(strstr(files[i].name, ".sql"));
        assert_true(files[i].len > 0);
        /* The length matches the text: no NUL inside, and the terminator is in place. */
        assert_int_equal(strlen(files[i].text), files[i].len);
        if (i > 0)
            assert_true(strcmp(files[i - 1].name, files[i].name) < 0);
    }
}

static void test_migrations(void **state)
{
    (void)state;
    assert_true(sp_sql_migrations_count >= 1);
    assert_string_equal(sp_sql_migrations[0].name, "0001_init.sql");
    assert_non_null(strstr(sp_sql_migrations[0].text, "CREATE SCHEMA IF NOT EXISTS spool"));
    check_files(sp_sql_migrations, sp_sql_migrations_count);
}

static void test_functions(void **state)
{
    (void)state;
    assert_true(sp_sql_functions_count >= 1);
    check_files(sp_sql_functions, sp_sql_functions_count);
    int found = 0;
    for (size_t i = 0; i < sp_sql_functions_count; i++) {
        if (strcmp(sp_sql_functions[i].name, "submit.sql") == 0) {
            found = 1;
            assert_non_null(strstr(sp_sql_functions[i].text, "CREATE OR REPLACE FUNCTION"));
            /* Quotes, backslashes and newlines survive the embedding unchanged. */
            assert_non_null(strchr(sp_sql_functions[i].text, '\''));
            assert_non_null(strchr(sp_sql_functions[i].text, '\n'));
        }
    }
    assert_true(found);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrations),
        cmocka_unit_test(test_functions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for cli_args: option forms, repeats, positionals, errors and value checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cli_args.h"

static const cli_opt_def defs[] = {
    {"json", CLI_OPT_FLAG, NULL, "json"},
    {"queue", CLI_OPT_VALUE, "Q", "queue"},
    {"tag", CLI_OPT_MULTI, "T", "tag"},
};

static void test_forms(void **state)
{
    (void)state;
    char err[128];
    cli_args *a = NULL;
    char *argv[] = {"resize", "--queue", "q1",         "--tag=a", "--json",
                    "--tag",  "b",       "--queue=q2", "--",      "--literal"};
    assert_int_equal(cli_args_parse(&a, 10, argv, defs, 3, err, sizeof(err)), 0);
    assert_string_equal(cli_args_get(a, "queue"), "q2");
    assert_true(cli_args_has(a, "json"));
    assert_int_equal(cli_args_count(a, "tag"), 2);
    assert_string_equal(cli_args_value_at(a, "tag", 0), "a");
    assert_string_equal(cli_args_value_at(a, "tag", 1), "b");
    assert_null(cli_args_value_at(a, "tag", 2));
    assert_int_equal(cli_args_npos(a), 2);
    assert_string_equal(cli_args_pos(a, 0), "resize");
    assert_string_equal(cli_args_pos(a, 1), "--literal");
    assert_null(cli_args_pos(a, 2));
    cli_args_free(a);
}

static void test_errors(void **state)
{
    (void)state;
    char err[128];
    cli_args *a = NULL;
    char *unknown[] = {"--nope"};
    assert_int_equal(cli_args_parse(&a, 1, unknown, defs, 3, err, sizeof(err)), SP_E_INVAL);
    assert_string_equal(err, "unknown option --nope");
    char *missing[] = {"--queue"};
    assert_int_equal(cli_args_parse(&a, 1, missing, defs, 3, err, sizeof(err)), SP_E_INVAL);
    assert_string_equal(err, "option --queue needs a value");
    char *flagval[] = {"--json=1"};
    assert_int_equal(cli_args_parse(&a, 1, flagval, defs, 3, err, sizeof(err)), SP_E_INVAL);
    assert_string_equal(err, "option --json takes no value");
    char *shortopt[] = {"-q"};
    assert_int_equal(cli_args_parse(&a, 1, shortopt, defs, 3, err, sizeof(err)), SP_E_INVAL);
    assert_null(a);
}

static void test_value_checks(void **state)
{
    (void)state;
    int64_t n;
    double d;
    assert_int_equal(cli_parse_int("50", 0, 100, &n), 0);
    assert_int_equal(n, 50);
    assert_int_equal(cli_parse_int("101", 0, 100, &n), SP_E_INVAL);
    assert_int_equal(cli_parse_int("5x", 0, 100, &n), SP_E_INVAL);
    assert_int_equal(cli_parse_int("", 0, 100, &n), SP_E_INVAL);
    assert_int_equal(cli_parse_number("1.5", &d), 0);
    assert_true(d == 1.5);
    assert_int_equal(cli_parse_number("inf", &d), SP_E_INVAL);
    assert_int_equal(cli_parse_number("1s", &d), SP_E_INVAL);
    assert_true(cli_is_uuid("01a2038f-c38b-7001-8000-000000000001"));
    assert_true(cli_is_uuid("01A2038F-C38B-7001-8000-00000000000F"));
    assert_false(cli_is_uuid("01a2038f-c38b-7001-8000-00000000000"));
    assert_false(cli_is_uuid("01a2038fxc38b-7001-8000-000000000001"));
    assert_false(cli_is_uuid("not-a-uuid"));
    assert_false(cli_is_uuid(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_value_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for sp_err: every code has its own description. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sp_err.h"

static void test_codes_have_distinct_messages(void **state)
{
    (void)state;
    for (int a = SP_E_CONFLICT; a <= SP_OK; a++) {
        assert_string_not_equal(sp_err_str(a), "unknown error");
        for (int b = SP_E_CONFLICT; b < a; b++)
            assert_string_not_equal(sp_err_str(a), sp_err_str(b));
    }
}

static void test_unknown_code(void **state)
{
    (void)state;
    assert_string_equal(sp_err_str(-999), "unknown error");
    assert_string_equal(sp_err_str(SP_E_NOMEM), "out of memory");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codes_have_distinct_messages),
        cmocka_unit_test(test_unknown_code),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

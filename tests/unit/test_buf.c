/* Unit tests for sp_buf: growth, printf-append, reset and the maximum. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sp_buf.h"

static void test_append_and_grow(void **state)
{
    (void)state;
    sp_buf *b = NULL;
    assert_int_equal(sp_buf_new(&b, 100000), 0);
    assert_string_equal(sp_buf_data(b), "");
    for (int i = 0; i < 1000; i++)
        assert_int_equal(sp_buf_append(b, "0123456789", 10), 0);
    assert_int_equal(sp_buf_len(b), 10000);
    assert_int_equal(strlen(sp_buf_data(b)), 10000);
    assert_memory_equal(sp_buf_data(b) + 9990, "0123456789", 10);
    sp_buf_free(b);
}

static void test_appendf(void **state)
{
    (void)state;
    sp_buf *b = NULL;
    assert_int_equal(sp_buf_new(&b, 64), 0);
    assert_int_equal(sp_buf_appends(b, "id="), 0);
    assert_int_equal(sp_buf_appendf(b, "%d %s", 42, "ok"), 0);
    assert_string_equal(sp_buf_data(b), "id=42 ok");
    sp_buf_reset(b);
    assert_int_equal(sp_buf_len(b), 0);
    assert_string_equal(sp_buf_data(b), "");
    assert_int_equal(sp_buf_appendf(b, "%s", "again"), 0);
    assert_string_equal(sp_buf_data(b), "again");
    sp_buf_free(b);
}

static void test_maximum_is_enforced(void **state)
{
    (void)state;
    sp_buf *b = NULL;
    assert_int_equal(sp_buf_new(&b, 8), 0);
    assert_int_equal(sp_buf_appends(b, "12345678"), 0);
    assert_int_equal(sp_buf_append(b, "9", 1), SP_E_RANGE);
    assert_int_equal(sp_buf_appendf(b, "%d", 9), SP_E_RANGE);
    /* A refused append leaves the content as it was. */
    assert_string_equal(sp_buf_data(b), "12345678");
    sp_buf_reset(b);
    assert_int_equal(sp_buf_appendf(b, "%s", "123456789"), SP_E_RANGE);
    assert_int_equal(sp_buf_len(b), 0);
    assert_int_equal(sp_buf_max(b), 8);
    sp_buf_free(b);
    sp_buf_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_grow),
        cmocka_unit_test(test_appendf),
        cmocka_unit_test(test_maximum_is_enforced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for wrk_backoff: doubling, the cap, jitter bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "wrk_backoff.h"

static void test_doubles_and_caps(void **state)
{
    (void)state;
    /* rnd = max jitter: the full capped wait. */
    uint32_t top = UINT32_MAX;
    int64_t prev = 0;
    for (int n = 1; n <= 20; n++) {
        int64_t hi = wrk_backoff_ms(n, 100, 30000, top);
        int64_t lo = wrk_backoff_ms(n, 100, 30000, 0);
        int64_t full = 100;
        for (int i = 1; i < n && full < 30000; i++)
            full *= 2;
        if (full > 30000)
            full = 30000;
        assert_true(hi <= full);
        assert_true(lo >= full / 2);
        assert_true(lo <= hi);
        assert_true(hi >= prev / 2);
        prev = hi;
    }
    assert_int_equal(wrk_backoff_ms(1, 100, 30000, 0), 50);
    assert_int_equal(wrk_backoff_ms(3, 100, 30000, 0), 200);
    assert_int_equal(wrk_backoff_ms(50, 100, 30000, 0), 15000);
    assert_true(wrk_backoff_ms(1000000, 100, 30000, 12345) <= 30000);
}

static void test_jitter_spreads(void **state)
{
    (void)state;
    int64_t seen_lo = INT64_MAX, seen_hi = 0;
    for (uint32_t r = 0; r < 5000; r++) {
        int64_t v = wrk_backoff_ms(10, 100, 10000, r * 2654435761u);
        assert_true(v >= 5000 && v <= 10000);
        if (v < seen_lo)
            seen_lo = v;
        if (v > seen_hi)
            seen_hi = v;
    }
    assert_true(seen_hi - seen_lo > 2500);
}

static void test_odd_inputs(void **state)
{
    (void)state;
    assert_true(wrk_backoff_ms(0, 0, 0, 0) >= 1);
    assert_true(wrk_backoff_ms(-3, 100, 50, 7) <= 100);
    assert_true(wrk_backoff_ms(1, 1, 1, 99) >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doubles_and_caps),
        cmocka_unit_test(test_jitter_spreads),
        cmocka_unit_test(test_odd_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

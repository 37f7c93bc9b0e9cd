/* Unit tests for srv_ratelimit: burst, refill at the configured rate, the cap at burst,
 * Retry-After rounding, and "0 = off". */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "srv_ratelimit.h"

#define SEC 1000000LL

static void test_burst_then_refused(void **state)
{
    (void)state;
    srv_ratelimit_bucket b;
    int ra = 0;
    srv_ratelimit_init(&b, 5, 0);
    for (int i = 0; i < 5; i++)
        assert_true(srv_ratelimit_take(&b, 1, 5, 0, &ra));
    assert_false(srv_ratelimit_take(&b, 1, 5, 0, &ra));
    assert_int_equal(ra, 1);
    /* Refused requests take nothing: still refused a moment later, then allowed. */
    assert_false(srv_ratelimit_take(&b, 1, 5, SEC / 2, &ra));
    assert_int_equal(ra, 1);
    assert_true(srv_ratelimit_take(&b, 1, 5, SEC, &ra));
    assert_false(srv_ratelimit_take(&b, 1, 5, SEC, &ra));
}

static void test_refill_rate_and_cap(void **state)
{
    (void)state;
    srv_ratelimit_bucket b;
    int ra = 0;
    srv_ratelimit_init(&b, 10, 0);
    for (int i = 0; i < 10; i++)
        assert_true(srv_ratelimit_take(&b, 4, 10, 0, &ra));
    /* 4 per second: after 1 s, exactly four more. */
    int allowed = 0;
    for (int i = 0; i < 10; i++)
        allowed += srv_ratelimit_take(&b, 4, 10, SEC, &ra);
    assert_int_equal(allowed, 4);
    /* A long idle time refills to the burst, not beyond. */
    allowed = 0;
    for (int i = 0; i < 50; i++)
        allowed += srv_ratelimit_take(&b, 4, 10, 3600 * SEC, &ra);
    assert_int_equal(allowed, 10);
}

static void test_retry_after_rounds_up(void **state)
{
    (void)state;
    srv_ratelimit_bucket b;
    int ra = 0;
    /* 0.1 per second: an empty bucket needs 10 s for the next token. */
    srv_ratelimit_init(&b, 1, 0);
    assert_true(srv_ratelimit_take(&b, 0.1, 1, 0, &ra));
    assert_false(srv_ratelimit_take(&b, 0.1, 1, 0, &ra));
    assert_int_equal(ra, 10);
    assert_false(srv_ratelimit_take(&b, 0.1, 1, 2500000, &ra)); /* 7.5 s left */
    assert_int_equal(ra, 8);
    assert_true(srv_ratelimit_take(&b, 0.1, 1, 10 * SEC, &ra));
}

static void test_off_and_clock(void **state)
{
    (void)state;
    srv_ratelimit_bucket b;
    int ra = 0;
    srv_ratelimit_init(&b, 1, 100 * SEC);
    for (int i = 0; i < 1000; i++)
        assert_true(srv_ratelimit_take(&b, 0, 1, 100 * SEC, &ra));
    /* A time before the last refill adds nothing. */
    assert_true(srv_ratelimit_take(&b, 1, 1, 100 * SEC, &ra));
    assert_false(srv_ratelimit_take(&b, 1, 1, 50 * SEC, &ra));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_refused),
        cmocka_unit_test(test_refill_rate_and_cap),
        cmocka_unit_test(test_retry_after_rounds_up),
        cmocka_unit_test(test_off_and_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for srv_events: stream filters (tenant, type, queue, status, job in a batch
 * row) and SSE framing of messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "srv_events.h"

#define A "01a20400-0000-7000-8000-00000000000a"
#define B "01a20400-0000-7000-8000-00000000000b"

static void test_filters(void **state)
{
    (void)state;
    srv_sub_filter f;
    memset(&f, 0, sizeof f);
    assert_true(srv_events_filter_match(&f, "t", "q", "pending", NULL, "{" A "}"));
    strcpy(f.tenant, "acme");
    assert_false(srv_events_filter_match(&f, "t", "q", "pending", NULL, "{" A "}"));
    assert_false(srv_events_filter_match(&f, "t", "q", "pending", "globex", "{" A "}"));
    assert_true(srv_events_filter_match(&f, "t", "q", "pending", "acme", "{" A "}"));
    memset(&f, 0, sizeof f);
    strcpy(f.type, "resize");
    strcpy(f.queue, "gpu");
    strcpy(f.status, "completed");
    assert_true(srv_events_filter_match(&f, "resize", "gpu", "completed", NULL, "{" A "}"));
    assert_false(srv_events_filter_match(&f, "resize", "cpu", "completed", NULL, "{" A "}"));
    assert_false(srv_events_filter_match(&f, "other", "gpu", "completed", NULL, "{" A "}"));
    assert_false(srv_events_filter_match(&f, "resize", "gpu", "running", NULL, "{" A "}"));
    assert_false(srv_events_filter_match(&f, NULL, "gpu", "completed", NULL, "{" A "}"));
}

static void test_job_in_batch(void **state)
{
    (void)state;
    srv_sub_filter f;
    memset(&f, 0, sizeof f);
    strcpy(f.job_id, B);
    assert_true(srv_events_filter_match(&f, "t", "q", "s", NULL, "{" A "," B "}"));
    assert_true(srv_events_filter_match(&f, "t", "q", "s", NULL, "{" B "}"));
    assert_true(srv_events_filter_match(&f, "t", "q", "s", NULL, "{" B "," A "}"));
    assert_false(srv_events_filter_match(&f, "t", "q", "s", NULL, "{" A "}"));
    assert_false(srv_events_filter_match(&f, "t", "q", "s", NULL, NULL));
    /* A prefix of another id is not a match. */
    strcpy(f.job_id, "01a20400-0000-7000-8000-00000000000");
    assert_false(srv_events_filter_match(&f, "t", "q", "s", NULL, "{" A "}"));
}

static void test_frame(void **state)
{
    (void)state;
    srv_msg *m =
        srv_msg_new(42, "completed", "completed", "t", "q", NULL, "{" A "}", "{\"id\":42}");
    assert_non_null(m);
    size_t len;
    const char *f = srv_msg_frame(m, &len);
    assert_string_equal(f, "id: 42\nevent: completed\ndata: {\"id\":42}\n\n");
    assert_int_equal(len, strlen(f));
    assert_int_equal(srv_msg_id(m), 42);
    assert_string_equal(srv_msg_status(m), "completed");
    srv_msg_release(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_job_in_batch),
        cmocka_unit_test(test_frame),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

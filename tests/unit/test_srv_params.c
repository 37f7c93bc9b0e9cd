/* Unit tests for srv_params: the strict parsers of query values and headers, and the
 * opaque list cursor (round trip, and refusal of anything the encoder cannot produce). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "srv_params.h"

static void test_uuid(void **state)
{
    (void)state;
    assert_true(srv_params_is_uuid("0190f3a2-7c1e-7a3b-8c4d-5e6f7a8b9c0d"));
    assert_true(srv_params_is_uuid("0190F3A2-7C1E-7A3B-8C4D-5E6F7A8B9C0D"));
    assert_false(srv_params_is_uuid(NULL));
    assert_false(srv_params_is_uuid(""));
    assert_false(srv_params_is_uuid("0190f3a2-7c1e-7a3b-8c4d-5e6f7a8b9c0"));
    assert_false(srv_params_is_uuid("0190f3a2-7c1e-7a3b-8c4d-5e6f7a8b9c0dd"));
    assert_false(srv_params_is_uuid("0190f3a27c1e-7a3b-8c4d-5e6f7a8b9c0d-"));
    assert_false(srv_params_is_uuid("0190f3a2-7c1e-7a3b-8c4d-5e6f7a8b9c0g"));
    assert_false(srv_params_is_uuid("not-a-uuid"));
}

static void test_int(void **state)
{
    (void)state;
    int64_t v = 0;
    assert_int_equal(srv_params_int(NULL, 1, 1000, 50, &v), 0);
    assert_int_equal(v, 50);
    assert_int_equal(srv_params_int("1", 1, 1000, 50, &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(srv_params_int("1000", 1, 1000, 50, &v), 0);
    assert_int_equal(v, 1000);
    assert_int_equal(srv_params_int("007", 1, 1000, 50, &v), 0);
    assert_int_equal(v, 7);
    /* Refused, and *out left alone. */
    v = 42;
    const char *bad[] = {"",   "0",  "1001", "-1",  "+5",  " 5",
                         "5 ", "5x", "0x10", "1e3", "5.0", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(srv_params_int(bad[i], 1, 1000, 50, &v), SP_E_INVAL);
    assert_int_equal(v, 42);
}

static void test_event_id(void **state)
{
    (void)state;
    int64_t v = 0;
    assert_int_equal(srv_params_event_id(NULL, &v), 0);
    assert_int_equal(v, -1);
    assert_int_equal(srv_params_event_id("", &v), 0);
    assert_int_equal(v, -1);
    assert_int_equal(srv_params_event_id("0", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(srv_params_event_id("123456789012", &v), 0);
    assert_int_equal(v, 123456789012LL);
    assert_int_equal(srv_params_event_id("-3", &v), SP_E_INVAL);
    assert_int_equal(srv_params_event_id("12a", &v), SP_E_INVAL);
    assert_int_equal(srv_params_event_id("9999999999999999999999", &v), SP_E_INVAL);
}

static void test_status(void **state)
{
    (void)state;
    const char *ok[] = {"blocked",   "scheduled", "pending", "running",
                        "completed", "failed",    "dead",    "cancelled"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        assert_true(srv_params_job_status(ok[i]));
    assert_false(srv_params_job_status(NULL));
    assert_false(srv_params_job_status(""));
    assert_false(srv_params_job_status("Pending"));
    assert_false(srv_params_job_status("pending "));
    assert_false(srv_params_job_status("canceled"));
}

static void test_cursor_round_trip(void **state)
{
    (void)state;
    const char *ids[] = {"0190f3a2-7c1e-7a3b-8c4d-5e6f7a8b9c0d",
                         "00000000-0000-0000-0000-000000000000",
                         "ffffffff-ffff-ffff-ffff-ffffffffffff"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        char cur[SRV_PARAMS_CURSOR_LEN + 1], back[SRV_PARAMS_UUID_LEN + 1];
        assert_int_equal(srv_params_cursor_encode(ids[i], cur), 0);
        assert_int_equal(strlen(cur), SRV_PARAMS_CURSOR_LEN);
        /* Opaque: the id's text does not show through, and the cursor is URL-safe. */
        assert_null(strstr(cur, "-7c1e"));
        assert_int_equal(strspn(cur, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                     "0123456789-_"),
                         SRV_PARAMS_CURSOR_LEN);
        assert_int_equal(srv_params_cursor_decode(cur, back), 0);
        assert_string_equal(back, ids[i]);
    }
    /* Upper-case ids encode to the same cursor and decode lower-case. */
    char a[SRV_PARAMS_CURSOR_LEN + 1], b[SRV_PARAMS_CURSOR_LEN + 1], back[SRV_PARAMS_UUID_LEN + 1];
    assert_int_equal(srv_params_cursor_encode("0190F3A2-7C1E-7A3B-8C4D-5E6F7A8B9C0D", a), 0);
    assert_int_equal(srv_params_cursor_encode("0190f3a2-7c1e-7a3b-8c4d-5e6f7a8b9c0d", b), 0);
    assert_string_equal(a, b);
    assert_int_equal(srv_params_cursor_decode(a, back), 0);
    assert_string_equal(back, "0190f3a2-7c1e-7a3b-8c4d-5e6f7a8b9c0d");
    assert_int_equal(srv_params_cursor_encode("garbage", a), SP_E_INVAL);
}

static void test_cursor_rejects(void **state)
{
    (void)state;
    char good[SRV_PARAMS_CURSOR_LEN + 1], uuid[SRV_PARAMS_UUID_LEN + 1];
    assert_int_equal(srv_params_cursor_encode("0190f3a2-7c1e-7a3b-8c4d-5e6f7a8b9c0d", good), 0);
    assert_int_equal(srv_params_cursor_decode(NULL, uuid), SP_E_INVAL);
    assert_int_equal(srv_params_cursor_decode("", uuid), SP_E_INVAL);
    assert_int_equal(srv_params_cursor_decode("garbage", uuid), SP_E_INVAL);
    /* A raw job id is not a cursor. */
    assert_int_equal(srv_params_cursor_decode("0190f3a2-7c1e-7a3b-8c4d-5e6f7a8b9c0d", uuid),
                     SP_E_INVAL);
    char bad[SRV_PARAMS_CURSOR_LEN + 2];
    /* Too short, too long. */
    memcpy(bad, good, SRV_PARAMS_CURSOR_LEN - 1);
    bad[SRV_PARAMS_CURSOR_LEN - 1] = '\0';
    assert_int_equal(srv_params_cursor_decode(bad, uuid), SP_E_INVAL);
    memcpy(bad, good, SRV_PARAMS_CURSOR_LEN);
    bad[SRV_PARAMS_CURSOR_LEN] = 'A';
    bad[SRV_PARAMS_CURSOR_LEN + 1] = '\0';
    assert_int_equal(srv_params_cursor_decode(bad, uuid), SP_E_INVAL);
    /* A character outside base64url (standard base64's '+' and '/', padding). */
    memcpy(bad, good, SRV_PARAMS_CURSOR_LEN + 1);
    bad[5] = '+';
    assert_int_equal(srv_params_cursor_decode(bad, uuid), SP_E_INVAL);
    bad[5] = '=';
    assert_int_equal(srv_params_cursor_decode(bad, uuid), SP_E_INVAL);
    /* Non-zero padding bits in the last character: not an encoding the server makes. */
    memcpy(bad, good, SRV_PARAMS_CURSOR_LEN + 1);
    bad[SRV_PARAMS_CURSOR_LEN - 1] = bad[SRV_PARAMS_CURSOR_LEN - 1] == 'B' ? 'C' : 'B';
    assert_int_equal(srv_params_cursor_decode(bad, uuid), SP_E_INVAL);
    /* Another version byte: "AAAA…" decodes to version 0. */
    memset(bad, 'A', SRV_PARAMS_CURSOR_LEN);
    bad[SRV_PARAMS_CURSOR_LEN] = '\0';
    assert_int_equal(srv_params_cursor_decode(bad, uuid), SP_E_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uuid),
        cmocka_unit_test(test_int),
        cmocka_unit_test(test_event_id),
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_cursor_round_trip),
        cmocka_unit_test(test_cursor_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

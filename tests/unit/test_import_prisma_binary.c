/* Unit tests for import_prisma_binary: each type's binary form, escapes, refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "import_prisma_binary.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Converts one field of type t and checks its bytes (length prefix included). */
static void field(cli_pbin_type t, const char *text, const unsigned char *want, size_t wantlen)
{
    sp_buf *out = NULL;
    assert_int_equal(sp_buf_new(&out, 1 << 20), 0);
    assert_int_equal(cli_pbin_fields(out, text, strlen(text), &t, 1, NULL), 0);
    assert_int_equal(sp_buf_len(out), wantlen);
    assert_memory_equal(sp_buf_data(out), want, wantlen);
    sp_buf_free(out);
}

static void refused(cli_pbin_type t, const char *text)
{
    sp_buf *out = NULL;
    assert_int_equal(sp_buf_new(&out, 1 << 20), 0);
    assert_int_equal(cli_pbin_fields(out, text, strlen(text), &t, 1, NULL), SP_E_INVAL);
    sp_buf_free(out);
}

/* A timestamptz field's value. */
static void ts(const char *text, int64_t want)
{
    unsigned char b[12] = {0, 0, 0, 8};
    uint64_t u = (uint64_t)want;
    for (int i = 11; i >= 4; i--, u >>= 8)
        b[i] = (unsigned char)u;
    field(CLI_PBIN_TIMESTAMPTZ, text, b, sizeof b);
}

static void test_header(void **state)
{
    (void)state;
    sp_buf *out = NULL;
    assert_int_equal(sp_buf_new(&out, 1024), 0);
    assert_int_equal(cli_pbin_header(out), 0);
    assert_int_equal(cli_pbin_row(out, 23), 0);
    assert_int_equal(cli_pbin_trailer(out), 0);
    static const unsigned char want[] = {'P',  'G',  'C', 'O', 'P', 'Y',  '\n', 0xff,
                                         '\r', '\n', 0,   0,   0,   0,    0,    0,
                                         0,    0,    0,   0,   23,  0xff, 0xff};
    assert_int_equal(sp_buf_len(out), sizeof want);
    assert_memory_equal(sp_buf_data(out), want, sizeof want);
    sp_buf_free(out);
}

static void test_text(void **state)
{
    (void)state;
    static const unsigned char plain[] = {0, 0, 0, 3, 'a', 'b', 'c'};
    field(CLI_PBIN_TEXT, "abc", plain, sizeof plain);
    /* COPY's escapes: \t \n \\ \r, octal, hex, and any other character stands for itself */
    static const unsigned char esc[] = {0,    0,    0,   9,   'a', '\t', '\\',
                                        '\n', '\r', 'A', 'B', 'q', '.'};
    field(CLI_PBIN_TEXT, "a\\t\\\\\\n\\r\\101\\x42\\q.", esc, sizeof esc);
    static const unsigned char null[] = {0xff, 0xff, 0xff, 0xff};
    field(CLI_PBIN_TEXT, "\\N", null, sizeof null);
    static const unsigned char not_null[] = {0, 0, 0, 2, '\\', 'N'};
    field(CLI_PBIN_TEXT, "\\\\N", not_null, sizeof not_null);
    static const unsigned char empty[] = {0, 0, 0, 0};
    field(CLI_PBIN_TEXT, "", empty, sizeof empty);
    static const unsigned char jsonb[] = {0, 0, 0, 8, 1, '{', '"', 'a', '"', ':', '1', '}'};
    field(CLI_PBIN_JSONB, "{\"a\":1}", jsonb, sizeof jsonb);
}

static void test_numbers(void **state)
{
    (void)state;
    static const unsigned char i2[] = {0, 0, 0, 2, 0, 100};
    field(CLI_PBIN_INT2, "100", i2, sizeof i2);
    static const unsigned char i4[] = {0, 0, 0, 4, 0xff, 0xff, 0xff, 0xfe};
    field(CLI_PBIN_INT4, "-2", i4, sizeof i4);
    static const unsigned char i8[] = {0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0};
    field(CLI_PBIN_INT8, "4294967296", i8, sizeof i8);
    refused(CLI_PBIN_INT2, "40000");
    refused(CLI_PBIN_INT4, "12.5");
    refused(CLI_PBIN_INT4, "");
    static const unsigned char t[] = {0, 0, 0, 1, 1};
    field(CLI_PBIN_BOOL, "t", t, sizeof t);
    refused(CLI_PBIN_BOOL, "yes");
}

static void test_numeric(void **state)
{
    (void)state;
    /* ndigits, weight, sign, dscale, then base-10000 digits */
    static const unsigned char a[] = {0, 0, 0, 12, 0, 2, 0, 0, 0, 0, 0, 2, 0, 123, 0x11, 0x94};
    field(CLI_PBIN_NUMERIC, "123.45", a, sizeof a); /* 123 4500 */
    static const unsigned char b[] = {0, 0, 0, 10, 0, 1, 0xff, 0xff, 0x40, 0, 0, 2, 0x01, 0xf4};
    field(CLI_PBIN_NUMERIC, "-0.05", b, sizeof b); /* weight -1: 0500 */
    static const unsigned char zero[] = {0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0};
    field(CLI_PBIN_NUMERIC, "0", zero, sizeof zero);
    static const unsigned char zero3[] = {0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 3};
    field(CLI_PBIN_NUMERIC, "-0.000", zero3, sizeof zero3);
    static const unsigned char big[] = {0, 0, 0, 10, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1};
    field(CLI_PBIN_NUMERIC, "10000", big, sizeof big); /* 1 0000: trailing group dropped */
    static const unsigned char tiny[] = {0, 0, 0, 10, 0, 1, 0xff, 0xfe, 0, 0, 0, 6, 0, 100};
    field(CLI_PBIN_NUMERIC, "0.000001", tiny, sizeof tiny); /* 0000 0100, weight -2 */
    static const unsigned char scaled[] = {0, 0, 0, 10, 0, 1, 0, 0, 0, 0, 0, 2, 0, 7};
    field(CLI_PBIN_NUMERIC, "007.00", scaled, sizeof scaled);
    refused(CLI_PBIN_NUMERIC, "NaN");
    refused(CLI_PBIN_NUMERIC, "1e5");
    refused(CLI_PBIN_NUMERIC, ".");
    refused(CLI_PBIN_NUMERIC, "1.2.3");
}

static void test_uuid(void **state)
{
    (void)state;
    static const unsigned char u[] = {0,    0,    0,    16,   0x00, 0x00, 0x25, 0x59, 0x71, 0xb5,
                                      0xa4, 0xfc, 0x1e, 0x72, 0x94, 0xc3, 0xf5, 0xb2, 0x0e, 0x26};
    field(CLI_PBIN_UUID, "00002559-71b5-a4fc-1e72-94c3f5b20e26", u, sizeof u);
    field(CLI_PBIN_UUID, "00002559-71B5-A4FC-1E72-94C3F5B20E26", u, sizeof u);
    refused(CLI_PBIN_UUID, "0000255971b5a4fc1e7294c3f5b20e26");
    refused(CLI_PBIN_UUID, "00002559-71b5-a4fc-1e72-94c3f5b20e2g");
}

static void test_timestamptz(void **state)
{
    (void)state;
    ts("2000-01-01 00:00:00+00", 0);
    ts("2000-01-01 00:00:01.5+00", 1500000);
    ts("2000-01-01 01:00:00+01", 0);
    ts("1999-12-31 23:59:59.5+00", -500000);
    ts("2025-06-01 14:42:16.936+00", INT64_C(802104136936000));
    ts("1969-07-20 20:17:40+00", INT64_C(-960867740000000));
    ts("2024-02-29 12:00:00+05:30", INT64_C(762503400000000));
    ts("2024-02-29 06:30:00-00:00:00", INT64_C(762503400000000));
    ts("infinity", INT64_MAX);
    ts("-infinity", INT64_MIN);
    refused(CLI_PBIN_TIMESTAMPTZ, "2025-06-01 14:42:16");            /* no offset */
    refused(CLI_PBIN_TIMESTAMPTZ, "2025-06-01 14:42:16+00 BC");      /* BC */
    refused(CLI_PBIN_TIMESTAMPTZ, "2025-02-29 00:00:00+00");         /* no such day */
    refused(CLI_PBIN_TIMESTAMPTZ, "2025-06-01 14:42:16.1234567+00"); /* PostgreSQL rounds */
    refused(CLI_PBIN_TIMESTAMPTZ, "12025-06-01 14:42:16+00");
}

static void test_lines(void **state)
{
    (void)state;
    sp_buf *out = NULL;
    size_t used = 0;
    static const cli_pbin_type types[] = {CLI_PBIN_INT4, CLI_PBIN_TEXT};
    const char *two = "7\tx\\ty\tignored\n8\tz\n";
    assert_int_equal(sp_buf_new(&out, 1024), 0);
    assert_int_equal(cli_pbin_fields(out, two, strlen(two), types, N(types), &used), 0);
    assert_int_equal(used, 6); /* up to the tab after "x\ty" */
    static const unsigned char want[] = {0, 0, 0, 4, 0, 0, 0, 7, 0, 0, 0, 3, 'x', '\t', 'y'};
    assert_int_equal(sp_buf_len(out), sizeof want);
    assert_memory_equal(sp_buf_data(out), want, sizeof want);
    /* the second line: the first ends at its newline */
    sp_buf_reset(out);
    const char *second = strchr(two, '\n') + 1;
    assert_int_equal(cli_pbin_fields(out, second, strlen(second), types, N(types), &used), 0);
    assert_int_equal(used, 3);
    /* too few fields */
    assert_int_equal(cli_pbin_fields(out, "7\n8\tz", 5, types, N(types), NULL), SP_E_INVAL);
    sp_buf_free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header),  cmocka_unit_test(test_text),
        cmocka_unit_test(test_numbers), cmocka_unit_test(test_numeric),
        cmocka_unit_test(test_uuid),    cmocka_unit_test(test_timestamptz),
        cmocka_unit_test(test_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

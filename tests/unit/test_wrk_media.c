/* Unit tests for wrk_media: media types from magic bytes and image sizes from headers,
 * including truncated and malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "wrk_media.h"

static const unsigned char png[] = {0x89, 'P', 'N', 'G',  '\r', '\n', 0x1a, '\n', 0, 0,
                                    0,    13,  'I', 'H',  'D',  'R',  0,    0,    2, 0x80,
                                    0,    0,   1,   0xe0, 8,    6,    0,    0,    0};
static const unsigned char jpeg[] = {
    0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J',  'F',  'I',  'F',  0, 1,    1, 0, 0,    1, 0, 1,    0,
    0,    0xFF, 0xDB, 0x00, 0x04, 0x00, 0x00, /* a table segment to skip */
    0xFF, 0xC2, 0x00, 0x11, 0x08, 0x01, 0xE0, 0x02, 0x80, 0x03, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1};
static const unsigned char gif[] = {'G', 'I', 'F', '8', '9', 'a', 0x80, 0x02, 0xE0, 0x01, 0, 0, 0};

static void test_detect(void **state)
{
    (void)state;
    assert_string_equal(wrk_media_detect(png, sizeof(png)), "image/png");
    assert_string_equal(wrk_media_detect(jpeg, sizeof(jpeg)), "image/jpeg");
    assert_string_equal(wrk_media_detect(gif, sizeof(gif)), "image/gif");
    unsigned char webp[30] = "RIFF\0\0\0\0WEBPVP8X";
    assert_string_equal(wrk_media_detect(webp, sizeof(webp)), "image/webp");
    const unsigned char mp4[] = {0, 0, 0, 0x18, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm', 0, 0};
    assert_string_equal(wrk_media_detect(mp4, sizeof(mp4)), "video/mp4");
    const unsigned char mov[] = {0, 0, 0, 0x14, 'f', 't', 'y', 'p', 'q', 't', ' ', ' '};
    assert_string_equal(wrk_media_detect(mov, sizeof(mov)), "video/quicktime");
    const unsigned char webm[] = {0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 1,
                                  0x42, 0x82, 0x84, 'w',  'e',  'b',  'm',  0x42, 0x87};
    assert_string_equal(wrk_media_detect(webm, sizeof(webm)), "video/webm");
    const unsigned char mkv[] = {0x1a, 0x45, 0xdf, 0xa3, 0x42, 0x82, 0x88, 'm', 'a', 't', 'r'};
    assert_string_equal(wrk_media_detect(mkv, sizeof(mkv)), "video/x-matroska");
    assert_null(wrk_media_detect("hello, world", 12));
    assert_null(wrk_media_detect(png, 7)); /* truncated signature */
    assert_null(wrk_media_detect(NULL, 0));
    assert_null(wrk_media_detect("", 0));
}

static void test_dimensions(void **state)
{
    (void)state;
    int w = 0, h = 0;
    assert_int_equal(wrk_media_dimensions(png, sizeof(png), &w, &h), 0);
    assert_int_equal(w, 640);
    assert_int_equal(h, 480);
    w = h = 0;
    assert_int_equal(wrk_media_dimensions(jpeg, sizeof(jpeg), &w, &h), 0);
    assert_int_equal(w, 640);
    assert_int_equal(h, 480);
    w = h = 0;
    assert_int_equal(wrk_media_dimensions(gif, sizeof(gif), &w, &h), 0);
    assert_int_equal(w, 640);
    assert_int_equal(h, 480);

    unsigned char vp8x[30] = "RIFF\0\0\0\0WEBPVP8X";
    vp8x[24] = 0x7f; /* 640 - 1 = 0x27f */
    vp8x[25] = 0x02;
    vp8x[27] = 0xdf; /* 480 - 1 = 0x1df */
    vp8x[28] = 0x01;
    assert_int_equal(wrk_media_dimensions(vp8x, sizeof(vp8x), &w, &h), 0);
    assert_int_equal(w, 640);
    assert_int_equal(h, 480);

    unsigned char vp8l[30] = "RIFF\0\0\0\0WEBPVP8L";
    uint32_t bits = (640 - 1) | (uint32_t)(480 - 1) << 14;
    vp8l[20] = 0x2f;
    vp8l[21] = bits & 0xff;
    vp8l[22] = (bits >> 8) & 0xff;
    vp8l[23] = (bits >> 16) & 0xff;
    vp8l[24] = (bits >> 24) & 0xff;
    assert_int_equal(wrk_media_dimensions(vp8l, sizeof(vp8l), &w, &h), 0);
    assert_int_equal(w, 640);
    assert_int_equal(h, 480);

    unsigned char vp8[30] = "RIFF\0\0\0\0WEBPVP8 ";
    vp8[23] = 0x9d;
    vp8[24] = 0x01;
    vp8[25] = 0x2a;
    vp8[26] = 0x80;
    vp8[27] = 0x02;
    vp8[28] = 0xe0;
    vp8[29] = 0x01;
    assert_int_equal(wrk_media_dimensions(vp8, sizeof(vp8), &w, &h), 0);
    assert_int_equal(w, 640);
    assert_int_equal(h, 480);
}

static void test_malformed(void **state)
{
    (void)state;
    int w = -7, h = -7;
    /* Every prefix of every sample is refused or read within bounds (ASan checks bounds). */
    for (size_t n = 0; n < 35; n++) /* the size ends at byte 35 */
        if (wrk_media_dimensions(jpeg, n, &w, &h) == 0)
            fail_msg("truncated jpeg of %zu bytes gave a size", n);
    for (size_t n = 0; n < 24; n++)
        assert_int_equal(wrk_media_dimensions(png, n, &w, &h), -1);
    for (size_t n = 0; n < 10; n++)
        assert_int_equal(wrk_media_dimensions(gif, n, &w, &h), -1);
    unsigned char bad[] = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x01, 0xFF, 0xC0}; /* length < 2 */
    assert_int_equal(wrk_media_dimensions(bad, sizeof(bad), &w, &h), -1);
    unsigned char loop[] = {0xFF, 0xD8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    assert_int_equal(wrk_media_dimensions(loop, sizeof(loop), &w, &h), -1);
    assert_int_equal(wrk_media_dimensions("not an image at all, just text", 30, &w, &h), -1);
    assert_int_equal(w, -7); /* untouched on failure */
}

static void test_extension(void **state)
{
    (void)state;
    assert_string_equal(wrk_media_extension("image/png"), "png");
    assert_string_equal(wrk_media_extension("image/jpeg"), "jpg");
    assert_string_equal(wrk_media_extension("video/webm"), "webm");
    assert_string_equal(wrk_media_extension("application/x-unknown"), "bin");
    assert_string_equal(wrk_media_extension(NULL), "bin");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detect),
        cmocka_unit_test(test_dimensions),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_extension),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

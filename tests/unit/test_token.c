/* Unit tests for sp_token: SHA-256 against the FIPS 180-4 vectors, token shape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sp_token.h"

static void check(const char *msg, size_t len, const char *want)
{
    char hex[65];
    sp_sha256_hex(msg, len, hex);
    assert_string_equal(hex, want);
}

static void test_sha256_vectors(void **state)
{
    (void)state;
    check("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    check(m448, strlen(m448), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* 55 and 56 bytes straddle the one/two padding block boundary. */
    char buf[64];
    memset(buf, 'a', sizeof buf);
    check(buf, 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
    check(buf, 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
    check(buf, 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

static void test_sha256_million_a(void **state)
{
    (void)state;
    char *m = malloc(1000000);
    assert_non_null(m);
    memset(m, 'a', 1000000);
    check(m, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(m);
}

static void test_token_shape(void **state)
{
    (void)state;
    char a[SP_TOKEN_LEN + 1], b[SP_TOKEN_LEN + 1], small[10];
    assert_int_equal(sp_token_generate(a, sizeof a), 0);
    assert_int_equal(sp_token_generate(b, sizeof b), 0);
    assert_int_equal(strlen(a), SP_TOKEN_LEN);
    assert_memory_equal(a, "spool_", 6);
    assert_string_not_equal(a, b);
    for (const char *p = a + 6; *p; p++)
        assert_non_null(
            strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *p));
    assert_int_equal(sp_token_generate(small, sizeof small), SP_E_RANGE);
    char h1[65], h2[65];
    sp_token_hash(a, h1);
    sp_token_hash(a, h2);
    assert_string_equal(h1, h2);
    assert_int_equal(strlen(h1), 64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_vectors),
        cmocka_unit_test(test_sha256_million_a),
        cmocka_unit_test(test_token_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

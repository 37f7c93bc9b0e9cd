/* Unit tests for sp_json: parsing with positioned errors, printing, typed getters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sp_json.h"

static void test_parse_ok(void **state)
{
    (void)state;
    char err[128];
    json_object *obj = NULL;
    assert_int_equal(sp_json_parse(" {\"a\": [1, 2], \"b\": \"x/y\"} \n", &obj, err, sizeof(err)),
                     0);
    assert_string_equal(sp_json_to_string(obj, false), "{\"a\":[1,2],\"b\":\"x/y\"}");
    json_object_put(obj);

    assert_int_equal(sp_json_parse("123", &obj, err, sizeof(err)), 0);
    assert_true(json_object_is_type(obj, json_type_int));
    json_object_put(obj);

    obj = (json_object *)1;
    assert_int_equal(sp_json_parse("null", &obj, err, sizeof(err)), 0);
    assert_null(obj);
}

static void test_parse_errors_name_the_offset(void **state)
{
    (void)state;
    char err[128];
    json_object *obj = NULL;
    assert_int_equal(sp_json_parse("{\"w\":", &obj, err, sizeof(err)), SP_E_PARSE);
    assert_non_null(strstr(err, "offset 5"));
    assert_int_equal(sp_json_parse("{\"a\":1} x", &obj, err, sizeof(err)), SP_E_PARSE);
    assert_non_null(strstr(err, "offset 8"));
    assert_int_equal(sp_json_parse("{\"a\":1 /* c */}", &obj, err, sizeof(err)), SP_E_PARSE);
    assert_int_equal(sp_json_parse("{\"a\":tru}", &obj, err, sizeof(err)), SP_E_PARSE);
    assert_int_equal(sp_json_parse("", &obj, err, sizeof(err)), SP_E_PARSE);
    assert_int_equal(sp_json_parse("[1,]", &obj, err, sizeof(err)), SP_E_PARSE);
    assert_null(obj);
}

static void test_print(void **state)
{
    (void)state;
    char err[128];
    json_object *obj = NULL;
    assert_string_equal(sp_json_to_string(NULL, true), "null");
    assert_int_equal(sp_json_parse("{}", &obj, err, sizeof(err)), 0);
    assert_string_equal(sp_json_to_string(obj, true), "{}");
    json_object_put(obj);
    assert_int_equal(sp_json_parse("{\"a\":1}", &obj, err, sizeof(err)), 0);
    assert_string_equal(sp_json_to_string(obj, true), "{\n  \"a\": 1\n}");
    json_object_put(obj);
}

static void test_getters(void **state)
{
    (void)state;
    char err[128];
    json_object *obj = NULL, *sub = NULL;
    const char *s;
    int64_t i;
    double d;
    bool b;
    assert_int_equal(sp_json_parse("{\"s\":\"x\",\"i\":7,\"d\":1.5,\"b\":true,\"o\":{},\"a\":[],"
                                   "\"n\":null}",
                                   &obj, err, sizeof(err)),
                     0);
    assert_int_equal(sp_json_get_string(obj, "s", &s), 0);
    assert_string_equal(s, "x");
    assert_int_equal(sp_json_get_int(obj, "i", &i), 0);
    assert_int_equal(i, 7);
    assert_int_equal(sp_json_get_double(obj, "d", &d), 0);
    assert_true(d == 1.5);
    assert_int_equal(sp_json_get_double(obj, "i", &d), 0);
    assert_true(d == 7.0);
    assert_int_equal(sp_json_get_bool(obj, "b", &b), 0);
    assert_true(b);
    assert_int_equal(sp_json_get_object(obj, "o", &sub), 0);
    assert_int_equal(sp_json_get_array(obj, "a", &sub), 0);
    assert_int_equal(sp_json_get_string(obj, "i", &s), SP_E_INVAL);
    assert_int_equal(sp_json_get_int(obj, "missing", &i), SP_E_NOTFOUND);
    assert_int_equal(sp_json_get_int(obj, "n", &i), SP_E_NOTFOUND);
    assert_string_equal(sp_json_type_name(obj), "object");
    json_object_put(obj);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ok),
        cmocka_unit_test(test_parse_errors_name_the_offset),
        cmocka_unit_test(test_print),
        cmocka_unit_test(test_getters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

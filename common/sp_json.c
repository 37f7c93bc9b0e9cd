/* sp_json: json-c helpers; see sp_json.h. */
#include "sp_json.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

int sp_json_parse(const char *text, json_object **out, char *err, size_t errlen)
{
    int rc = SP_E_PARSE;
    json_object *obj = NULL;
    size_t len = strlen(text);
    if (len > INT32_MAX - 1)
        return SP_E_RANGE;
    json_tokener *tok = json_tokener_new();
    if (tok == NULL)
        return SP_E_NOMEM;

    /* Strict mode rejects most of what PostgreSQL's jsonb parser rejects (trailing commas,
     * comments, bare words); json-c still takes single-quoted strings, which the server then
     * refuses. The length includes the terminator so that a bare number at the end is
     * complete. */
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    obj = json_tokener_parse_ex(tok, text, (int)len + 1);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    if (jerr == json_tokener_continue) {
        snprintf(err, errlen, "unexpected end of input at offset %zu", len);
        goto out;
    }
    if (jerr != json_tokener_success) {
        snprintf(err, errlen, "%s at offset %zu", json_tokener_error_desc(jerr),
                 json_tokener_get_parse_end(tok));
        goto out;
    }
    size_t end = json_tokener_get_parse_end(tok);
    while (end < len && strchr(" \t\r\n", text[end]) != NULL)
        end++;
    if (end < len) {
        snprintf(err, errlen, "unexpected text after the JSON value at offset %zu", end);
        goto out;
    }
    *out = obj;
    obj = NULL;
    rc = 0;
out:
    json_object_put(obj);
    json_tokener_free(tok);
    return rc;
}

const char *sp_json_to_string(json_object *obj, bool pretty)
{
    if (obj == NULL)
        return "null";
    /* json-c prints an empty container as "{\n}" in pretty mode; keep those on one line. */
    if ((json_object_is_type(obj, json_type_object) && json_object_object_length(obj) == 0) ||
        (json_object_is_type(obj, json_type_array) && json_object_array_length(obj) == 0))
        pretty = false;
    int flags = JSON_C_TO_STRING_NOSLASHESCAPE;
    flags |= pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED : JSON_C_TO_STRING_PLAIN;
    return json_object_to_json_string_ext(obj, flags);
}

static int get_typed(json_object *obj, const char *key, json_type type, json_object **out)
{
    json_object *v = NULL;
    if (obj == NULL || !json_object_object_get_ex(obj, key, &v) || v == NULL)
        return SP_E_NOTFOUND;
    if (!json_object_is_type(v, type))
        return SP_E_INVAL;
    *out = v;
    return 0;
}

int sp_json_get_string(json_object *obj, const char *key, const char **out)
{
    json_object *v;
    int rc = get_typed(obj, key, json_type_string, &v);
    if (rc == 0)
        *out = json_object_get_string(v);
    return rc;
}

int sp_json_get_int(json_object *obj, const char *key, int64_t *out)
{
    json_object *v;
    int rc = get_typed(obj, key, json_type_int, &v);
    if (rc == 0)
        *out = json_object_get_int64(v);
    return rc;
}

int sp_json_get_double(json_object *obj, const char *key, double *out)
{
    json_object *v;
    int rc = get_typed(obj, key, json_type_double, &v);
    if (rc == SP_E_INVAL)
        rc = get_typed(obj, key, json_type_int, &v);
    if (rc == 0)
        *out = json_object_get_double(v);
    return rc;
}

int sp_json_get_bool(json_object *obj, const char *key, bool *out)
{
    json_object *v;
    int rc = get_typed(obj, key, json_type_boolean, &v);
    if (rc == 0)
        *out = json_object_get_boolean(v);
    return rc;
}

int sp_json_get_object(json_object *obj, const char *key, json_object **out)
{
    return get_typed(obj, key, json_type_object, out);
}

int sp_json_get_array(json_object *obj, const char *key, json_object **out)
{
    return get_typed(obj, key, json_type_array, out);
}

const char *sp_json_type_name(json_object *obj)
{
    switch (json_object_get_type(obj)) {
    case json_type_object:
        return "object";
    case json_type_array:
        return "array";
    case json_type_string:
        return "string";
    case json_type_int:
    case json_type_double:
        return "number";
    case json_type_boolean:
        return "boolean";
    case json_type_null:
        return "null";
    }
    return "unknown";
}

/*
 * sp_json: small helpers over json-c.
 *
 * Ownership follows json-c: a json_object returned as owned must be released with one
 * json_object_put. Getters return borrowed references valid while the parent lives.
 */
#ifndef SP_JSON_H
#define SP_JSON_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sp_err.h"

/*
 * Parses exactly one JSON value from text (surrounding whitespace allowed). On success *out
 * is the owned value (NULL for the literal null). On failure returns SP_E_PARSE and writes
 * a message with the byte offset to err, e.g. "unexpected character at offset 7".
 */
SP_MUSTCHECK int sp_json_parse(const char *text, json_object **out, char *err, size_t errlen);

/* Serialises obj (NULL prints "null"); borrowed string valid until obj is changed or freed,
 * or, for NULL, forever. Pretty uses two-space indentation; slashes are not escaped. */
const char *sp_json_to_string(json_object *obj, bool pretty);

/* Typed field getters: SP_E_NOTFOUND when key is missing (or null), SP_E_INVAL when the
 * value has another type. */
SP_MUSTCHECK int sp_json_get_string(json_object *obj, const char *key, const char **out);
SP_MUSTCHECK int sp_json_get_int(json_object *obj, const char *key, int64_t *out);
SP_MUSTCHECK int sp_json_get_double(json_object *obj, const char *key, double *out);
SP_MUSTCHECK int sp_json_get_bool(json_object *obj, const char *key, bool *out);
SP_MUSTCHECK int sp_json_get_object(json_object *obj, const char *key, json_object **out);
SP_MUSTCHECK int sp_json_get_array(json_object *obj, const char *key, json_object **out);

/* The JSON type name of obj as users know it: "object", "array", "string", "number",
 * "boolean" or "null". */
const char *sp_json_type_name(json_object *obj);

#endif

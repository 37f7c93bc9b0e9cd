/* cli_output: tables, records and JSON for the spool CLI; see cli_output.h. */
#include "cli_output.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/*
 * Converts a one-dimensional PostgreSQL array literal ({a,"b c",NULL}) to a JSON array of
 * strings (or integers). Returns NULL when the text is not such a literal, so the caller
 * can fall back to the plain string.
 */
static json_object *array_json(const char *v, bool ints)
{
    size_t len = strlen(v);
    if (len < 2 || v[0] != '{' || v[len - 1] != '}')
        return NULL;
    json_object *arr = json_object_new_array();
    char *elem = malloc(len + 1);
    if (arr == NULL || elem == NULL)
        goto fail;
    const char *p = v + 1;
    while (*p != '}') {
        size_t n = 0;
        bool quoted = *p == '"';
        if (quoted) {
            for (p++; *p != '"'; p++) {
                if (*p == '\\' && p[1] != '\0')
                    p++;
                if (*p == '\0')
                    goto fail;
                elem[n++] = *p;
            }
            p++;
        } else {
            if (*p == '{')
                goto fail; /* nested arrays are not handled */
            while (*p != ',' && *p != '}' && *p != '\0')
                elem[n++] = *p++;
        }
        elem[n] = '\0';
        if (!quoted && strcmp(elem, "NULL") == 0)
            json_object_array_add(arr, NULL);
        else if (ints && !quoted)
            json_object_array_add(arr, json_object_new_int64(strtoll(elem, NULL, 10)));
        else
            json_object_array_add(arr, json_object_new_string(elem));
        if (*p == ',')
            p++;
        else if (*p != '}')
            goto fail;
    }
    free(elem);
    return arr;
fail:
    free(elem);
    json_object_put(arr);
    return NULL;
}

json_object *cli_output_row_json(const sp_db_res *res, int row)
{
    json_object *obj = json_object_new_object();
    if (obj == NULL)
        return NULL;
    for (int c = 0; c < sp_db_res_ncols(res); c++) {
        const char *v = sp_db_res_value(res, row, c);
        json_object *jv = NULL;
        if (v != NULL) {
            switch (sp_db_res_coltype(res, c)) {
            case SP_DB_INT:
                jv = json_object_new_int64(strtoll(v, NULL, 10));
                break;
            case SP_DB_FLOAT:
            case SP_DB_NUMERIC:
                /* Keep the server's text so no digits are lost or invented; NaN and
                 * Infinity are not JSON numbers and stay strings. */
                if (strchr("NnIi", v[strspn(v, "-")]) != NULL)
                    jv = json_object_new_string(v);
                else
                    jv = json_object_new_double_s(strtod(v, NULL), v);
                break;
            case SP_DB_BOOL:
                jv = json_object_new_boolean(v[0] == 't');
                break;
            case SP_DB_JSON:
                jv = json_tokener_parse(v);
                if (jv == NULL && strcmp(v, "null") != 0)
                    jv = json_object_new_string(v);
                break;
            case SP_DB_ARRAY:
            case SP_DB_INT_ARRAY:
                jv = array_json(v, sp_db_res_coltype(res, c) == SP_DB_INT_ARRAY);
                if (jv == NULL)
                    jv = json_object_new_string(v);
                break;
            case SP_DB_TEXT:
                jv = json_object_new_string(v);
                break;
            }
        }
        json_object_object_add(obj, sp_db_res_colname(res, c), jv);
    }
    return obj;
}

json_object *cli_output_rows_json(const sp_db_res *res)
{
    json_object *arr = json_object_new_array();
    if (arr == NULL)
        return NULL;
    for (int r = 0; r < sp_db_res_nrows(res); r++)
        json_object_array_add(arr, cli_output_row_json(res, r));
    return arr;
}

void cli_output_json(FILE *out, json_object *obj)
{
    fprintf(out, "%s\n", sp_json_to_string(obj, true));
}

/* Characters (UTF-8 code points) in the first len bytes of s. */
static size_t text_width(const char *s, size_t len)
{
    size_t w = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            w++;
    return w;
}

/* The cell text of a value: control characters become spaces, long values are cut at a
 * character boundary. Returns a malloc'ed string, or NULL when out of memory. */
static char *cell_text(const char *v)
{
    if (v == NULL)
        v = "";
    size_t len = strlen(v);
    size_t cut = len;
    size_t chars = 0;
    for (size_t i = 0; i < len; i++) {
        if (((unsigned char)v[i] & 0xC0) != 0x80 && chars++ == CLI_OUTPUT_CELL_MAX) {
            cut = i;
            break;
        }
    }
    char *s = malloc(cut + 4);
    if (s == NULL)
        return NULL;
    for (size_t i = 0; i < cut; i++)
        s[i] = (unsigned char)v[i] < 0x20 ? ' ' : v[i];
    strcpy(s + cut, cut < len ? "..." : "");
    return s;
}

static void print_padded(FILE *out, const char *s, size_t width, bool last)
{
    fputs(s, out);
    if (last)
        return;
    for (size_t w = text_width(s, strlen(s)); w < width + 2; w++)
        fputc(' ', out);
}

void cli_output_table(FILE *out, const sp_db_res *res)
{
    int nrows = sp_db_res_nrows(res);
    int ncols = sp_db_res_ncols(res);
    size_t *widths = calloc((size_t)ncols + 1, sizeof(*widths));
    char **cells = calloc((size_t)nrows * (size_t)ncols + 1, sizeof(*cells));
    if (widths == NULL || cells == NULL) {
        fputs("error: out of memory\n", stderr);
        goto out;
    }
    for (int c = 0; c < ncols; c++) {
        const char *name = sp_db_res_colname(res, c);
        widths[c] = text_width(name, strlen(name));
    }
    for (int r = 0; r < nrows; r++) {
        for (int c = 0; c < ncols; c++) {
            char *s = cell_text(sp_db_res_value(res, r, c));
            if (s == NULL) {
                fputs("error: out of memory\n", stderr);
                goto out;
            }
            cells[r * ncols + c] = s;
            size_t w = text_width(s, strlen(s));
            if (w > widths[c])
                widths[c] = w;
        }
    }
    for (int c = 0; c < ncols; c++)
        print_padded(out, sp_db_res_colname(res, c), widths[c], c == ncols - 1);
    fputc('\n', out);
    for (int c = 0; c < ncols; c++) {
        for (size_t w = 0; w < widths[c]; w++)
            fputc('-', out);
        if (c < ncols - 1)
            fputs("  ", out);
    }
    fputc('\n', out);
    for (int r = 0; r < nrows; r++) {
        for (int c = 0; c < ncols; c++)
            print_padded(out, cells[r * ncols + c], widths[c], c == ncols - 1);
        fputc('\n', out);
    }
    if (nrows == 0)
        fputs("(no rows)\n", out);
out:
    if (cells != NULL)
        for (int i = 0; i < nrows * ncols; i++)
            free(cells[i]);
    free(cells);
    free(widths);
}

void cli_output_record(FILE *out, const sp_db_res *res, int row)
{
    int ncols = sp_db_res_ncols(res);
    size_t width = 0;
    for (int c = 0; c < ncols; c++) {
        size_t w = strlen(sp_db_res_colname(res, c));
        if (w > width)
            width = w;
    }
    for (int c = 0; c < ncols; c++) {
        const char *v = sp_db_res_value(res, row, c);
        fprintf(out, "%-*s  ", (int)width, sp_db_res_colname(res, c));
        if (v == NULL) {
            fputc('\n', out);
            continue;
        }
        json_object *obj = NULL;
        if (sp_db_res_coltype(res, c) == SP_DB_JSON && (obj = json_tokener_parse(v)) != NULL &&
            (json_object_is_type(obj, json_type_object) ||
             json_object_is_type(obj, json_type_array))) {
            /* Pretty JSON, continuation lines indented under the value column. */
            for (const char *p = sp_json_to_string(obj, true); *p != '\0'; p++) {
                fputc(*p, out);
                if (*p == '\n')
                    fprintf(out, "%*s", (int)width + 2, "");
            }
            fputc('\n', out);
        } else {
            fprintf(out, "%s\n", v);
        }
        json_object_put(obj);
    }
}

void cli_output_db_error(const sp_db *db)
{
    const char *msg = sp_db_err_message(db);
    fprintf(stderr, "error: %s\n", msg[0] != '\0' ? msg : "unknown database error");
    if (sp_db_err_detail(db)[0] != '\0')
        fprintf(stderr, "detail: %s\n", sp_db_err_detail(db));
    if (sp_db_err_hint(db)[0] != '\0')
        fprintf(stderr, "hint: %s\n", sp_db_err_hint(db));
}

/*
 * cli_output: how the spool CLI prints query results.
 *
 * Human output is an aligned table (or "key  value" lines for one record); --json output is
 * an array of objects whose values keep their SQL types (numbers, booleans, nested JSON for
 * json/jsonb columns, null). Errors go to stderr as "error: <message>" plus "detail:" and
 * "hint:" lines when the server gave them.
 */
#ifndef CLI_OUTPUT_H
#define CLI_OUTPUT_H

#include <stdio.h>

#include "sp_db.h"
#include "sp_json.h"

/* Longest cell shown in a table, in characters; longer values end in "...". */
#define CLI_OUTPUT_CELL_MAX 60

/* One row as an owned JSON object. */
json_object *cli_output_row_json(const sp_db_res *res, int row);
/* All rows as an owned JSON array of objects. */
json_object *cli_output_rows_json(const sp_db_res *res);
/* Prints obj, pretty, with a newline. */
void cli_output_json(FILE *out, json_object *obj);

/* Prints rows as an aligned table with a header; "(no rows)" when empty. */
void cli_output_table(FILE *out, const sp_db_res *res);
/* Prints one row as "name  value" lines; JSON values pretty-printed and indented. */
void cli_output_record(FILE *out, const sp_db_res *res, int row);

/* Prints the last error of db to stderr: "error: ...", then detail and hint if present. */
void cli_output_db_error(const sp_db *db);

#endif

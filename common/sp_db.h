/*
 * sp_db: the libpq wrapper.
 *
 * Queries go through sp_db_exec_params (PQexecParams, text parameters, text results); the
 * one exception is sp_db_exec_script for the static SQL embedded in the binary. Results are
 * sp_db_res objects freed with sp_db_res_free, the single place PQclear is called.
 *
 * When a call fails, the sp_db keeps the error until the next call: the server's SQLSTATE,
 * primary message, detail and hint (or, for connection failures, libpq's message). An
 * sp_db is used by one thread at a time.
 */
#ifndef SP_DB_H
#define SP_DB_H

#include <stdbool.h>
#include <stddef.h>

#include "sp_err.h"

typedef struct sp_db sp_db;
typedef struct sp_db_res sp_db_res;

/* How a result column should be rendered (from the column's type OID). */
typedef enum {
    SP_DB_TEXT,
    SP_DB_INT,
    SP_DB_FLOAT,
    SP_DB_NUMERIC,
    SP_DB_BOOL,
    SP_DB_JSON,
    SP_DB_ARRAY,     /* one-dimensional array of text-like values (text[], uuid[]) */
    SP_DB_INT_ARRAY, /* one-dimensional array of integers */
} sp_db_coltype;

/* Creates an unconnected handle (so a failed connect can still report its error). */
SP_MUSTCHECK int sp_db_new(sp_db **out);
/* Closes the connection and frees the handle; accepts NULL. */
void sp_db_free(sp_db *db);

/*
 * Connects to url (a postgresql:// URL or a keyword/value string) with the given connect
 * timeout in seconds (0 = libpq's default). Sets client_encoding UTF8 and
 * application_name "spool". Server notices are logged at debug level, warnings at warn.
 */
SP_MUSTCHECK int sp_db_connect(sp_db *db, const char *url, int connect_timeout_s);

/*
 * Runs sql with nparams text parameters (NULL entries are SQL NULL). On success *out (if
 * out is not NULL) receives the owned result; with out NULL the rows are discarded.
 * Returns SP_E_DB for a server error, SP_E_CONN when the connection is gone.
 */
SP_MUSTCHECK int sp_db_exec_params(sp_db *db, const char *sql, int nparams,
                                   const char *const *params, sp_db_res **out);

/*
 * Like sp_db_exec_params, with some parameters in binary format: parameter i is text when
 * binary is NULL or binary[i] is 0, else lengths[i] bytes of the type's binary form (for
 * the input functions that cost more than the query, e.g. a large uuid[]).
 */
SP_MUSTCHECK int sp_db_exec_params_bin(sp_db *db, const char *sql, int nparams,
                                       const char *const *params, const int *lengths,
                                       const int *binary, sp_db_res **out);

/*
 * The same in two steps, so that the server works while the caller does something else
 * (another connection's query, its own work): sp_db_send_params sends the query and
 * returns at once; sp_db_wait blocks until its result is in and returns it as
 * sp_db_exec_params would. One query at a time: nothing else may run on db in between.
 */
SP_MUSTCHECK int sp_db_send_params(sp_db *db, const char *sql, int nparams,
                                   const char *const *params);
SP_MUSTCHECK int sp_db_wait(sp_db *db, sp_db_res **out);

/*
 * Runs a script of several statements with PQexec. Only for static SQL embedded in the
 * binary (migrations and function files): never pass text built from input.
 */
SP_MUSTCHECK int sp_db_exec_script(sp_db *db, const char *sql);

/*
 * Notices and warnings the server sends (RAISE NOTICE/WARNING) go to fn instead of the log
 * once set (NULL restores logging); severity is the non-localized one ("WARNING", "NOTICE").
 * Called on the thread running the query, during the call. Kept across reconnects.
 */
typedef void (*sp_db_notice_fn)(void *arg, const char *severity, const char *sqlstate,
                                const char *message);
void sp_db_set_notice_handler(sp_db *db, sp_db_notice_fn fn, void *arg);

/* The connection's socket, for poll() (LISTEN), or -1 when not connected. */
int sp_db_socket(const sp_db *db);
/* Reads what the server has sent without blocking and drains the notifications received
 * (LISTEN channels), counting them in *count. SP_E_CONN when the connection is gone. */
SP_MUSTCHECK int sp_db_notifications(sp_db *db, int *count);

/*
 * COPY ... FROM STDIN: sp_db_copy_begin runs sql, which must be such a COPY statement (static
 * text; the data never goes into it); sp_db_copy_put sends len bytes of COPY data in the
 * statement's format (text or binary; rows may span calls); sp_db_copy_end finishes it, or, with
 * abort_msg non-NULL, makes the server abort the COPY with that message (SP_E_DB then). Server
 * errors are kept as for sp_db_exec_params.
 */
SP_MUSTCHECK int sp_db_copy_begin(sp_db *db, const char *sql);
SP_MUSTCHECK int sp_db_copy_put(sp_db *db, const char *data, size_t len);
SP_MUSTCHECK int sp_db_copy_end(sp_db *db, const char *abort_msg);

/* Rolls back the open transaction, if any, keeping the last error for the caller. */
void sp_db_rollback(sp_db *db);

/* The last error; each returns "" (sqlstate: "") when there is none. Valid until the next
 * call on db. */
const char *sp_db_err_sqlstate(const sp_db *db);
const char *sp_db_err_message(const sp_db *db);
const char *sp_db_err_detail(const sp_db *db);
const char *sp_db_err_hint(const sp_db *db);

void sp_db_res_free(sp_db_res *res);
int sp_db_res_nrows(const sp_db_res *res);
int sp_db_res_ncols(const sp_db_res *res);
const char *sp_db_res_colname(const sp_db_res *res, int col);
/* Column number of name, or -1. */
int sp_db_res_colindex(const sp_db_res *res, const char *name);
sp_db_coltype sp_db_res_coltype(const sp_db_res *res, int col);
/* Borrowed text of a value, or NULL for SQL NULL; valid until sp_db_res_free. */
const char *sp_db_res_value(const sp_db_res *res, int row, int col);
/* The value of the named column in row, or NULL when NULL or no such column. */
const char *sp_db_res_get(const sp_db_res *res, int row, const char *name);

#endif

/* sp_db: libpq wrapper with server error capture; see sp_db.h. */
#include "sp_db.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sp_log.h"

struct sp_db {
    PGconn *conn;
    sp_db_notice_fn notice_fn; /* NULL: notices are logged (db_notice) */
    void *notice_arg;
    char sqlstate[6];
    char *message;
    char *detail;
    char *hint;
};

struct sp_db_res {
    PGresult *res;
};

/* Type OIDs from pg_type.h; stable across PostgreSQL versions. */
enum {
    OID_BOOL = 16,
    OID_INT8 = 20,
    OID_INT2 = 21,
    OID_INT4 = 23,
    OID_OID = 26,
    OID_JSON = 114,
    OID_FLOAT4 = 700,
    OID_FLOAT8 = 701,
    OID_NUMERIC = 1700,
    OID_JSONB = 3802,
    OID_INT2_ARRAY = 1005,
    OID_INT4_ARRAY = 1007,
    OID_TEXT_ARRAY = 1009,
    OID_VARCHAR_ARRAY = 1015,
    OID_INT8_ARRAY = 1016,
    OID_UUID_ARRAY = 2951,
};

int sp_db_new(sp_db **out)
{
    sp_db *db = calloc(1, sizeof(*db));
    if (db == NULL)
        return SP_E_NOMEM;
    *out = db;
    return 0;
}

static void db_clear_error(sp_db *db)
{
    db->sqlstate[0] = '\0';
    free(db->message);
    free(db->detail);
    free(db->hint);
    db->message = db->detail = db->hint = NULL;
}

void sp_db_free(sp_db *db)
{
    if (db == NULL)
        return;
    if (db->conn != NULL)
        PQfinish(db->conn);
    db_clear_error(db);
    free(db);
}

static char *dup_or_null(const char *s)
{
    return s != NULL && s[0] != '\0' ? strdup(s) : NULL;
}

/* Records a libpq-side message (no SQLSTATE): the first line is the message, the rest, if
 * any, the detail. Trailing newlines are dropped. */
static void db_set_client_error(sp_db *db, const char *text)
{
    db_clear_error(db);
    if (text == NULL || text[0] == '\0')
        text = "unknown libpq error";
    char *copy = strdup(text);
    if (copy == NULL)
        return;
    size_t len = strlen(copy);
    while (len > 0 && (copy[len - 1] == '\n' || copy[len - 1] == ' '))
        copy[--len] = '\0';
    char *nl = strchr(copy, '\n');
    if (nl != NULL) {
        *nl = '\0';
        char *rest = nl + 1;
        while (*rest == '\t' || *rest == ' ')
            rest++;
        db->detail = dup_or_null(rest);
    }
    db->message = copy;
}

static void db_set_result_error(sp_db *db, const PGresult *res)
{
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    if (primary == NULL) {
        db_set_client_error(db, PQerrorMessage(db->conn));
        return;
    }
    db_clear_error(db);
    if (state != NULL)
        snprintf(db->sqlstate, sizeof(db->sqlstate), "%s", state);
    db->message = strdup(primary);
    db->detail = dup_or_null(PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL));
    db->hint = dup_or_null(PQresultErrorField(res, PG_DIAG_MESSAGE_HINT));
}

static void db_notice(void *arg, const PGresult *res)
{
    sp_db *db = arg;
    const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    char quoted[512];
    if (db != NULL && db->notice_fn != NULL) {
        db->notice_fn(db->notice_arg, severity ? severity : "", state ? state : "", msg ? msg : "");
        return;
    }
    sp_log_level level =
        severity != NULL && strcmp(severity, "WARNING") == 0 ? SP_LOG_WARN : SP_LOG_DEBUG;
    sp_log_write(level, "db", "notice", "sqlstate=%s message=%s", state ? state : "",
                 sp_log_quote(msg, quoted, sizeof(quoted)));
}

int sp_db_connect(sp_db *db, const char *url, int connect_timeout_s)
{
    char timeout[16];
    snprintf(timeout, sizeof(timeout), "%d", connect_timeout_s);
    const char *keys[] = {"dbname", "connect_timeout", "application_name", "client_encoding", NULL};
    /* libpq skips a keyword whose value is NULL; keywords after dbname override the URL. */
    const char *values[] = {url, connect_timeout_s > 0 ? timeout : NULL, "spool", "UTF8", NULL};

    db_clear_error(db);
    if (db->conn != NULL) {
        PQfinish(db->conn);
        db->conn = NULL;
    }
    db->conn = PQconnectdbParams(keys, values, 1);
    if (db->conn == NULL) {
        db_set_client_error(db, "out of memory");
        return SP_E_NOMEM;
    }
    if (PQstatus(db->conn) != CONNECTION_OK) {
        db_set_client_error(db, PQerrorMessage(db->conn));
        return SP_E_CONN;
    }
    PQsetNoticeReceiver(db->conn, db_notice, db);
    return 0;
}

/* Takes ownership of res: keeps it as *out on success, clears it otherwise. */
static int db_finish(sp_db *db, PGresult *res, sp_db_res **out)
{
    int rc = 0;
    if (res == NULL) {
        db_set_client_error(db, PQerrorMessage(db->conn));
        return PQstatus(db->conn) == CONNECTION_OK ? SP_E_NOMEM : SP_E_CONN;
    }
    switch (PQresultStatus(res)) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
    case PGRES_EMPTY_QUERY:
        db_clear_error(db);
        break;
    default:
        db_set_result_error(db, res);
        rc = PQstatus(db->conn) == CONNECTION_OK ? SP_E_DB : SP_E_CONN;
        break;
    }
    if (rc == 0 && out != NULL) {
        sp_db_res *r = malloc(sizeof(*r));
        if (r == NULL) {
            PQclear(res);
            return SP_E_NOMEM;
        }
        r->res = res;
        *out = r;
        return 0;
    }
    PQclear(res);
    return rc;
}

int sp_db_exec_params(sp_db *db, const char *sql, int nparams, const char *const *params,
                      sp_db_res **out)
{
    if (db->conn == NULL) {
        db_set_client_error(db, "not connected");
        return SP_E_CONN;
    }
    PGresult *res = PQexecParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    return db_finish(db, res, out);
}

int sp_db_exec_script(sp_db *db, const char *sql)
{
    if (db->conn == NULL) {
        db_set_client_error(db, "not connected");
        return SP_E_CONN;
    }
    /* The one use of PQexec: static, embedded SQL files of several statements. */
    PGresult *res = PQexec(db->conn, sql);
    return db_finish(db, res, NULL);
}

int sp_db_exec_params_bin(sp_db *db, const char *sql, int nparams, const char *const *params,
                          const int *lengths, const int *binary, sp_db_res **out)
{
    if (db->conn == NULL) {
        db_set_client_error(db, "not connected");
        return SP_E_CONN;
    }
    PGresult *res = PQexecParams(db->conn, sql, nparams, NULL, params, lengths, binary, 0);
    return db_finish(db, res, out);
}

int sp_db_send_params(sp_db *db, const char *sql, int nparams, const char *const *params)
{
    if (db->conn == NULL) {
        db_set_client_error(db, "not connected");
        return SP_E_CONN;
    }
    if (PQsendQueryParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0) != 1) {
        db_set_client_error(db, PQerrorMessage(db->conn));
        return PQstatus(db->conn) == CONNECTION_OK ? SP_E_DB : SP_E_CONN;
    }
    db_clear_error(db);
    return 0;
}

int sp_db_wait(sp_db *db, sp_db_res **out)
{
    if (db->conn == NULL) {
        db_set_client_error(db, "not connected");
        return SP_E_CONN;
    }
    /* The query's result, then NULL; every result is taken so the connection is idle. */
    PGresult *res = PQgetResult(db->conn), *extra;
    while ((extra = PQgetResult(db->conn)) != NULL)
        PQclear(extra);
    if (res == NULL) {
        db_set_client_error(db, "no query was sent");
        return SP_E_INVAL;
    }
    return db_finish(db, res, out);
}

int sp_db_copy_begin(sp_db *db, const char *sql)
{
    if (db->conn == NULL) {
        db_set_client_error(db, "not connected");
        return SP_E_CONN;
    }
    PGresult *res = PQexec(db->conn, sql);
    if (res != NULL && PQresultStatus(res) == PGRES_COPY_IN) {
        PQclear(res);
        db_clear_error(db);
        return 0;
    }
    int rc = db_finish(db, res, NULL);
    if (rc == 0) {
        db_set_client_error(db, "statement is not COPY FROM STDIN");
        rc = SP_E_INVAL;
    }
    return rc;
}

int sp_db_copy_put(sp_db *db, const char *data, size_t len)
{
    while (len > 0) {
        int n = len > (size_t)1 << 30 ? 1 << 30 : (int)len;
        if (PQputCopyData(db->conn, data, n) != 1) {
            db_set_client_error(db, PQerrorMessage(db->conn));
            return SP_E_CONN;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

int sp_db_copy_end(sp_db *db, const char *abort_msg)
{
    if (PQputCopyEnd(db->conn, abort_msg) != 1) {
        db_set_client_error(db, PQerrorMessage(db->conn));
        return SP_E_CONN;
    }
    /* The COPY's own result, then NULL; every result is taken so the connection is idle. */
    int rc = 0;
    PGresult *res;
    while ((res = PQgetResult(db->conn)) != NULL) {
        if (rc == 0)
            rc = db_finish(db, res, NULL);
        else
            PQclear(res);
    }
    return rc;
}

void sp_db_rollback(sp_db *db)
{
    if (db->conn == NULL)
        return;
    /* The result is dropped on purpose: the error being reported is the one that led here,
     * and if the connection is gone the server rolls back by itself. */
    PQclear(PQexec(db->conn, "ROLLBACK"));
}

const char *sp_db_err_sqlstate(const sp_db *db)
{
    return db->sqlstate;
}

const char *sp_db_err_message(const sp_db *db)
{
    return db->message != NULL ? db->message : "";
}

const char *sp_db_err_detail(const sp_db *db)
{
    return db->detail != NULL ? db->detail : "";
}

const char *sp_db_err_hint(const sp_db *db)
{
    return db->hint != NULL ? db->hint : "";
}

void sp_db_res_free(sp_db_res *res)
{
    if (res == NULL)
        return;
    PQclear(res->res);
    free(res);
}

int sp_db_res_nrows(const sp_db_res *res)
{
    return PQntuples(res->res);
}

int sp_db_res_ncols(const sp_db_res *res)
{
    return PQnfields(res->res);
}

const char *sp_db_res_colname(const sp_db_res *res, int col)
{
    return PQfname(res->res, col);
}

int sp_db_res_colindex(const sp_db_res *res, const char *name)
{
    for (int c = 0; c < PQnfields(res->res); c++)
        if (strcmp(PQfname(res->res, c), name) == 0)
            return c;
    return -1;
}

sp_db_coltype sp_db_res_coltype(const sp_db_res *res, int col)
{
    switch (PQftype(res->res, col)) {
    case OID_BOOL:
        return SP_DB_BOOL;
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
    case OID_OID:
        return SP_DB_INT;
    case OID_FLOAT4:
    case OID_FLOAT8:
        return SP_DB_FLOAT;
    case OID_NUMERIC:
        return SP_DB_NUMERIC;
    case OID_JSON:
    case OID_JSONB:
        return SP_DB_JSON;
    case OID_TEXT_ARRAY:
    case OID_VARCHAR_ARRAY:
    case OID_UUID_ARRAY:
        return SP_DB_ARRAY;
    case OID_INT2_ARRAY:
    case OID_INT4_ARRAY:
    case OID_INT8_ARRAY:
        return SP_DB_INT_ARRAY;
    default:
        return SP_DB_TEXT;
    }
}

const char *sp_db_res_value(const sp_db_res *res, int row, int col)
{
    if (PQgetisnull(res->res, row, col))
        return NULL;
    return PQgetvalue(res->res, row, col);
}

const char *sp_db_res_get(const sp_db_res *res, int row, const char *name)
{
    int col = sp_db_res_colindex(res, name);
    return col < 0 ? NULL : sp_db_res_value(res, row, col);
}

void sp_db_set_notice_handler(sp_db *db, sp_db_notice_fn fn, void *arg)
{
    db->notice_fn = fn;
    db->notice_arg = arg;
}

int sp_db_socket(const sp_db *db)
{
    return db->conn != NULL ? PQsocket(db->conn) : -1;
}

int sp_db_notifications(sp_db *db, int *count)
{
    *count = 0;
    if (db->conn == NULL) {
        db_set_client_error(db, "not connected");
        return SP_E_CONN;
    }
    if (!PQconsumeInput(db->conn) || PQstatus(db->conn) != CONNECTION_OK) {
        db_set_client_error(db, PQerrorMessage(db->conn));
        return SP_E_CONN;
    }
    PGnotify *n;
    while ((n = PQnotifies(db->conn)) != NULL) {
        (*count)++;
        PQfreemem(n);
    }
    return 0;
}

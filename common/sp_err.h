/*
 * sp_err: the error convention of libspool.
 *
 * Every fallible function returns int: 0 on success, a negative SP_E_* code on failure,
 * and hands results back through out-parameters. Messages for the user are built by the
 * caller (or read from the module that failed, such as sp_db's server error fields).
 */
#ifndef SP_ERR_H
#define SP_ERR_H

#define SP_MUSTCHECK __attribute__((warn_unused_result))

enum {
    SP_OK = 0,
    SP_E_NOMEM = -1,    /* out of memory */
    SP_E_INVAL = -2,    /* invalid argument or input */
    SP_E_RANGE = -3,    /* a value or buffer exceeds its configured bound */
    SP_E_IO = -4,       /* reading or writing a file failed */
    SP_E_PARSE = -5,    /* malformed text (JSON, config) */
    SP_E_NOTFOUND = -6, /* no such key, row or object */
    SP_E_CONN = -7,     /* could not connect, or the connection was lost */
    SP_E_DB = -8,       /* the server reported an error (see sp_db_err_*) */
    SP_E_CONFLICT = -9, /* state does not allow the operation (e.g. edited migration) */
};

/* Returns a short, static, lowercase description of an SP_E_* code. */
const char *sp_err_str(int code);

#endif

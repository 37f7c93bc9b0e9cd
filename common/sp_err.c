/* sp_err: descriptions of the SP_E_* error codes. */
#include "sp_err.h"

const char *sp_err_str(int code)
{
    switch (code) {
    case SP_OK:
        return "success";
    case SP_E_NOMEM:
        return "out of memory";
    case SP_E_INVAL:
        return "invalid argument";
    case SP_E_RANGE:
        return "value out of range";
    case SP_E_IO:
        return "input/output error";
    case SP_E_PARSE:
        return "parse error";
    case SP_E_NOTFOUND:
        return "not found";
    case SP_E_CONN:
        return "connection error";
    case SP_E_DB:
        return "database error";
    case SP_E_CONFLICT:
        return "conflict";
    }
    return "unknown error";
}

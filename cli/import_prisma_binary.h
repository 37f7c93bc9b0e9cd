/*
 * import_prisma_binary: COPY text lines made into COPY binary rows, for `spool
 * import-prisma`'s writes of new jobs. The binary format spares the server the parsing of
 * uuid, timestamptz, numeric and integer text (a quarter of what it spends on COPY), so the
 * mapping (import_prisma_map) keeps writing text, which stays the reference (checksums,
 * staging, --verify), and this module converts the lines it wrote, field by field, exactly:
 * the server stores the same values from either form.
 *
 * Only the forms the mapping and the PostgreSQL text output produce are converted; any other
 * (a BC or out-of-range timestamp, NaN, an exponent) is refused with SP_E_INVAL, and the
 * caller writes that batch as text. Pure functions, no I/O. Prefix: cli_pbin_.
 */
#ifndef IMPORT_PRISMA_BINARY_H
#define IMPORT_PRISMA_BINARY_H

#include <stddef.h>
#include <stdint.h>

#include "sp_buf.h"
#include "sp_err.h"

/* The column types a field can be converted to. */
typedef enum {
    CLI_PBIN_TEXT,        /* text: the unescaped bytes */
    CLI_PBIN_JSONB,       /* jsonb: version 1, then the JSON text */
    CLI_PBIN_UUID,        /* 16 bytes */
    CLI_PBIN_TIMESTAMPTZ, /* microseconds since 2000-01-01 00:00:00 UTC */
    CLI_PBIN_INT2,
    CLI_PBIN_INT4,
    CLI_PBIN_INT8,
    CLI_PBIN_NUMERIC, /* base-10000 digits, weight, sign, display scale */
    CLI_PBIN_BOOL,
} cli_pbin_type;

/* The start of a binary COPY stream (signature, flags, no header extension). */
SP_MUSTCHECK int cli_pbin_header(sp_buf *out);
/* The end of a binary COPY stream. */
SP_MUSTCHECK int cli_pbin_trailer(sp_buf *out);
/* A row's field count (rows are: this, then each field). */
SP_MUSTCHECK int cli_pbin_row(sp_buf *out, int nfields);

/*
 * Converts the first ntypes tab-separated fields of the COPY text line at line (len bytes;
 * the line ends at its newline or at len; fields past ntypes are ignored) and appends each
 * as a binary field (its length, then its bytes; -1 for \N). *used (optional) receives the
 * bytes of line the fields took: up to the tab or newline after the last one. SP_E_INVAL for a
 * field that is not a form this module converts exactly, or too few fields; SP_E_RANGE when out
 * would pass its maximum. On error out may hold part of the row: the caller drops it.
 */
SP_MUSTCHECK int cli_pbin_fields(sp_buf *out, const char *line, size_t len,
                                 const cli_pbin_type *types, size_t ntypes, size_t *used);

/* Single fields, for the values the caller has at hand: text (NULL: SQL NULL), an int2,
 * int4 or int8. */
SP_MUSTCHECK int cli_pbin_text(sp_buf *out, const char *text);
SP_MUSTCHECK int cli_pbin_int(sp_buf *out, cli_pbin_type type, int64_t value);

#endif

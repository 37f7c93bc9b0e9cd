/*
 * import_prisma_binary: COPY text fields as COPY binary fields; see import_prisma_binary.h.
 *
 * The binary forms are those of the types' send/receive functions in PostgreSQL (all
 * integers in network byte order): text and jsonb are bytes (jsonb after a version byte,
 * 1); uuid is 16 bytes; timestamptz an int64 of microseconds since 2000-01-01 UTC;
 * numeric is int16 ndigits, int16 weight, uint16 sign, uint16 dscale and ndigits int16
 * base-10000 digits, the first of which is worth 10000^weight.
 */
#include "import_prisma_binary.h"

#include <stdbool.h>
#include <string.h>

#define NUMERIC_POS 0x0000
#define NUMERIC_NEG 0x4000
#define NUMERIC_MAX_CHARS 1000 /* longer decimals go as text */
#define USECS_PER_SEC INT64_C(1000000)

static const char signature[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n', '\0'};

static int put16(sp_buf *out, int v)
{
    unsigned char b[2] = {(unsigned char)((unsigned)v >> 8), (unsigned char)v};
    return sp_buf_append(out, b, 2);
}

static int put32(sp_buf *out, int32_t v)
{
    uint32_t u = (uint32_t)v;
    unsigned char b[4] = {(unsigned char)(u >> 24), (unsigned char)(u >> 16),
                          (unsigned char)(u >> 8), (unsigned char)u};
    return sp_buf_append(out, b, 4);
}

static int put64(sp_buf *out, int64_t v)
{
    uint64_t u = (uint64_t)v;
    unsigned char b[8];
    for (int i = 7; i >= 0; i--, u >>= 8)
        b[i] = (unsigned char)u;
    return sp_buf_append(out, b, 8);
}

int cli_pbin_header(sp_buf *out)
{
    int rc = sp_buf_append(out, signature, sizeof(signature));
    if (rc == 0)
        rc = put32(out, 0); /* flags */
    if (rc == 0)
        rc = put32(out, 0); /* header extension length */
    return rc;
}

int cli_pbin_trailer(sp_buf *out)
{
    return put16(out, 0xffff);
}

int cli_pbin_row(sp_buf *out, int nfields)
{
    return put16(out, nfields);
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* ---- text: COPY's escapes undone ------------------------------------------------------- */

/* Decodes the escape at p[0] == '\\' (p < end): *byte receives the byte it stands for;
 * returns the escape's length. Follows COPY FROM's text format. */
static size_t unescape_one(const char *p, const char *end, unsigned char *byte)
{
    if (p + 1 >= end) {
        *byte = '\\';
        return 1;
    }
    char c = p[1];
    switch (c) {
    case 'b':
        *byte = '\b';
        return 2;
    case 'f':
        *byte = '\f';
        return 2;
    case 'n':
        *byte = '\n';
        return 2;
    case 'r':
        *byte = '\r';
        return 2;
    case 't':
        *byte = '\t';
        return 2;
    case 'v':
        *byte = '\v';
        return 2;
    case 'x':
        if (p + 2 < end && hex_value(p[2]) >= 0) {
            int v = hex_value(p[2]);
            size_t n = 3;
            if (p + 3 < end && hex_value(p[3]) >= 0)
                v = v * 16 + hex_value(p[n++]);
            *byte = (unsigned char)v;
            return n;
        }
        break;
    default:
        if (c >= '0' && c <= '7') {
            int v = c - '0';
            size_t n = 2;
            while (n < 4 && p + n < end && p[n] >= '0' && p[n] <= '7')
                v = v * 8 + (p[n++] - '0');
            *byte = (unsigned char)v;
            return n;
        }
        break;
    }
    *byte = (unsigned char)c;
    return 2;
}

/* Appends the unescaped field [p, end) with its length; with jsonb, the version byte first. */
static int put_text(sp_buf *out, const char *p, const char *end, bool jsonb)
{
    size_t n = 0;
    unsigned char byte;
    for (const char *q = p; q < end;) {
        if (*q == '\\')
            q += unescape_one(q, end, &byte);
        else
            q++;
        n++;
    }
    if (n + (jsonb ? 1 : 0) > INT32_MAX)
        return SP_E_RANGE;
    int rc = put32(out, (int32_t)(n + (jsonb ? 1 : 0)));
    if (rc == 0 && jsonb)
        rc = sp_buf_append(out, "\1", 1);
    const char *run = p;
    for (const char *q = p; q < end && rc == 0;) {
        if (*q != '\\') {
            q++;
            continue;
        }
        if ((rc = sp_buf_append(out, run, (size_t)(q - run))) < 0)
            break;
        q += unescape_one(q, end, &byte);
        rc = sp_buf_append(out, &byte, 1);
        run = q;
    }
    if (rc == 0)
        rc = sp_buf_append(out, run, (size_t)(end - run));
    return rc;
}

int cli_pbin_text(sp_buf *out, const char *text)
{
    if (text == NULL)
        return put32(out, -1);
    size_t n = strlen(text);
    if (n > INT32_MAX)
        return SP_E_RANGE;
    int rc = put32(out, (int32_t)n);
    return rc == 0 ? sp_buf_append(out, text, n) : rc;
}

/* ---- fixed-width types ----------------------------------------------------------------- */

/* A decimal integer [-+]digits within [lo, hi]. */
static int parse_int(const char *p, const char *end, int64_t lo, int64_t hi, int64_t *out)
{
    bool neg = false;
    if (p < end && (*p == '-' || *p == '+'))
        neg = *p++ == '-';
    if (p == end || end - p > 19)
        return SP_E_INVAL;
    uint64_t v = 0;
    for (; p < end; p++) {
        if (!is_digit(*p))
            return SP_E_INVAL;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v > (uint64_t)INT64_MAX)
        return SP_E_INVAL;
    int64_t s = neg ? -(int64_t)v : (int64_t)v;
    if (s < lo || s > hi)
        return SP_E_INVAL;
    *out = s;
    return 0;
}

int cli_pbin_int(sp_buf *out, cli_pbin_type type, int64_t value)
{
    int rc;
    switch (type) {
    case CLI_PBIN_INT2:
        if (value < INT16_MIN || value > INT16_MAX)
            return SP_E_INVAL;
        return (rc = put32(out, 2)) == 0 ? put16(out, (int)value) : rc;
    case CLI_PBIN_INT4:
        if (value < INT32_MIN || value > INT32_MAX)
            return SP_E_INVAL;
        return (rc = put32(out, 4)) == 0 ? put32(out, (int32_t)value) : rc;
    case CLI_PBIN_INT8:
        return (rc = put32(out, 8)) == 0 ? put64(out, value) : rc;
    default:
        return SP_E_INVAL;
    }
}

/* The canonical form 8-4-4-4-12 (either case). */
static int put_uuid(sp_buf *out, const char *p, const char *end)
{
    unsigned char b[16];
    int k = 0;
    if (end - p != 36)
        return SP_E_INVAL;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (p[i] != '-')
                return SP_E_INVAL;
            continue;
        }
        int hi = hex_value(p[i]), lo = hex_value(p[i + 1]);
        if (hi < 0 || lo < 0)
            return SP_E_INVAL;
        b[k++] = (unsigned char)(hi * 16 + lo);
        i++;
    }
    int rc = put32(out, 16);
    return rc == 0 ? sp_buf_append(out, b, 16) : rc;
}

/* Days from 1970-01-01 to the proleptic Gregorian date y-m-d (m 1..12). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* n digits at *p as a number (advancing *p); -1 unless there are n digits. */
static int digits(const char **p, const char *end, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (*p >= end || !is_digit(**p))
            return -1;
        v = v * 10 + (**p - '0');
    }
    return v;
}

/* "YYYY-MM-DD HH:MM:SS[.ffffff]" and an offset "+HH[:MM[:SS]]" (or "-"), as PostgreSQL
 * prints a timestamptz with DateStyle ISO (and the mapping writes a UTC timestamp), or
 * "infinity" / "-infinity". */
static int put_timestamptz(sp_buf *out, const char *p, const char *end)
{
    int64_t us;
    size_t len = (size_t)(end - p);
    if (len == 8 && memcmp(p, "infinity", 8) == 0) {
        us = INT64_MAX;
    } else if (len == 9 && memcmp(p, "-infinity", 9) == 0) {
        us = INT64_MIN;
    } else {
        int y = digits(&p, end, 4);
        if (y < 1 || p >= end || *p++ != '-')
            return SP_E_INVAL;
        int mo = digits(&p, end, 2);
        if (mo < 1 || mo > 12 || p >= end || *p++ != '-')
            return SP_E_INVAL;
        int d = digits(&p, end, 2);
        if (d < 1 || d > days_in_month(y, mo) || p >= end || *p++ != ' ')
            return SP_E_INVAL;
        int h = digits(&p, end, 2);
        if (h < 0 || h > 23 || p >= end || *p++ != ':')
            return SP_E_INVAL;
        int mi = digits(&p, end, 2);
        if (mi < 0 || mi > 59 || p >= end || *p++ != ':')
            return SP_E_INVAL;
        int sec = digits(&p, end, 2);
        if (sec < 0 || sec > 59)
            return SP_E_INVAL;
        int64_t frac = 0;
        if (p < end && *p == '.') {
            int n = 0;
            for (p++; p < end && is_digit(*p); p++, n++)
                frac = frac * 10 + (*p - '0');
            if (n < 1 || n > 6)
                return SP_E_INVAL; /* more digits than microseconds: PostgreSQL rounds */
            for (; n < 6; n++)
                frac *= 10;
        }
        if (p >= end || (*p != '+' && *p != '-'))
            return SP_E_INVAL;
        int sign = *p++ == '-' ? -1 : 1;
        int oh = digits(&p, end, 2), om = 0, os = 0;
        if (oh < 0 || oh > 15)
            return SP_E_INVAL;
        if (p < end && *p == ':') {
            p++;
            if ((om = digits(&p, end, 2)) < 0 || om > 59)
                return SP_E_INVAL;
            if (p < end && *p == ':') {
                p++;
                if ((os = digits(&p, end, 2)) < 0 || os > 59)
                    return SP_E_INVAL;
            }
        }
        if (p != end)
            return SP_E_INVAL;
        int64_t days = days_from_civil(y, mo, d) - days_from_civil(2000, 1, 1);
        int64_t secs = ((days * 24 + h) * 60 + mi) * 60 + sec;
        secs -= sign * ((int64_t)oh * 3600 + om * 60 + os); /* local = UTC + offset */
        us = secs * USECS_PER_SEC + frac;
    }
    int rc = put32(out, 8);
    return rc == 0 ? put64(out, us) : rc;
}

/* A plain decimal "[-+]digits[.digits]" (at least one digit), with the display scale
 * numeric_in gives it: the count of digits after the point. */
static int put_numeric(sp_buf *out, const char *p, const char *end)
{
    int16_t dig[NUMERIC_MAX_CHARS / 4 + 4];
    int sign = NUMERIC_POS;
    if (end - p > NUMERIC_MAX_CHARS)
        return SP_E_INVAL;
    if (p < end && (*p == '-' || *p == '+'))
        sign = *p++ == '-' ? NUMERIC_NEG : NUMERIC_POS;
    const char *ip = p;
    while (p < end && is_digit(*p))
        p++;
    const char *ie = p, *fp = p, *fe = p;
    if (p < end && *p == '.') {
        fp = ++p;
        while (p < end && is_digit(*p))
            p++;
        fe = p;
    }
    if (p != end || (ie == ip && fe == fp))
        return SP_E_INVAL;
    int dscale = (int)(fe - fp);
    while (ip < ie && *ip == '0')
        ip++;
    /* Groups of 4 digits aligned on the point: the integer part's from the right, the
     * fraction's from the left (padded with zeros). */
    int ni = (int)(ie - ip), ngi = (ni + 3) / 4, n = 0;
    int lead = ngi * 4 - ni; /* zeros before the first integer digit in its group */
    for (int g = 0; g < ngi; g++) {
        int v = 0;
        for (int k = 0; k < 4; k++) {
            int pos = g * 4 + k - lead;
            v = v * 10 + (pos >= 0 ? ip[pos] - '0' : 0);
        }
        dig[n++] = (int16_t)v;
    }
    int nf = (int)(fe - fp);
    for (int g = 0; g < (nf + 3) / 4; g++) {
        int v = 0;
        for (int k = 0; k < 4; k++) {
            int pos = g * 4 + k;
            v = v * 10 + (pos < nf ? fp[pos] - '0' : 0);
        }
        dig[n++] = (int16_t)v;
    }
    int weight = ngi - 1, first = 0;
    while (first < n && dig[first] == 0) {
        first++;
        weight--;
    }
    while (n > first && dig[n - 1] == 0)
        n--;
    if (n == first) { /* zero */
        weight = 0;
        sign = NUMERIC_POS;
    }
    int nd = n - first, rc = put32(out, 8 + 2 * nd);
    if (rc == 0)
        rc = put16(out, nd);
    if (rc == 0)
        rc = put16(out, weight);
    if (rc == 0)
        rc = put16(out, sign);
    if (rc == 0)
        rc = put16(out, dscale);
    for (int i = first; i < n && rc == 0; i++)
        rc = put16(out, dig[i]);
    return rc;
}

/* ---- a line ------------------------------------------------------------------------------ */

static int put_field(sp_buf *out, cli_pbin_type type, const char *p, const char *end)
{
    int64_t v;
    if (end - p == 2 && p[0] == '\\' && p[1] == 'N')
        return put32(out, -1);
    switch (type) {
    case CLI_PBIN_TEXT:
        return put_text(out, p, end, false);
    case CLI_PBIN_JSONB:
        return put_text(out, p, end, true);
    case CLI_PBIN_UUID:
        return put_uuid(out, p, end);
    case CLI_PBIN_TIMESTAMPTZ:
        return put_timestamptz(out, p, end);
    case CLI_PBIN_INT2:
        return parse_int(p, end, INT16_MIN, INT16_MAX, &v) < 0 ? SP_E_INVAL
                                                               : cli_pbin_int(out, type, v);
    case CLI_PBIN_INT4:
        return parse_int(p, end, INT32_MIN, INT32_MAX, &v) < 0 ? SP_E_INVAL
                                                               : cli_pbin_int(out, type, v);
    case CLI_PBIN_INT8:
        return parse_int(p, end, INT64_MIN, INT64_MAX, &v) < 0 ? SP_E_INVAL
                                                               : cli_pbin_int(out, type, v);
    case CLI_PBIN_NUMERIC:
        return put_numeric(out, p, end);
    case CLI_PBIN_BOOL:
        if (end - p == 1 && (*p == 't' || *p == 'f')) {
            int rc = put32(out, 1);
            return rc == 0 ? sp_buf_append(out, *p == 't' ? "\1" : "\0", 1) : rc;
        }
        return SP_E_INVAL;
    }
    return SP_E_INVAL;
}

int cli_pbin_fields(sp_buf *out, const char *line, size_t len, const cli_pbin_type *types,
                    size_t ntypes, size_t *used)
{
    const char *p = line, *end = line + len;
    const char *nl = memchr(line, '\n', len); /* a line ends at its first raw newline */
    if (nl != NULL)
        end = nl;
    for (size_t i = 0; i < ntypes; i++) {
        if (i > 0) {
            if (p >= end || *p != '\t')
                return SP_E_INVAL;
            p++;
        }
        const char *f = p;
        while (p < end && *p != '\t')
            p += *p == '\\' && p + 1 < end ? 2 : 1;
        int rc = put_field(out, types[i], f, p);
        if (rc < 0)
            return rc;
    }
    if (used != NULL)
        *used = (size_t)(p - line);
    return 0;
}

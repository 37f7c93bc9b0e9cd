/*
 * srv_params: strict value parsers and the list cursor (see srv_params.h).
 */
#include "srv_params.h"

#include <string.h>

#define CURSOR_VERSION 1
#define CURSOR_BYTES 17 /* version + 16 bytes of UUID */

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

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

bool srv_params_is_uuid(const char *s)
{
    if (s == NULL || strlen(s) != SRV_PARAMS_UUID_LEN)
        return false;
    for (int i = 0; i < SRV_PARAMS_UUID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
        } else if (hex_value(s[i]) < 0) {
            return false;
        }
    }
    return true;
}

int srv_params_int(const char *s, int64_t lo, int64_t hi, int64_t def, int64_t *out)
{
    if (s == NULL) {
        *out = def;
        return 0;
    }
    if (*s == '\0' || strlen(s) > 18)
        return SP_E_INVAL;
    int64_t v = 0;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return SP_E_INVAL;
        v = v * 10 + (*p - '0');
    }
    if (v < lo || v > hi)
        return SP_E_INVAL;
    *out = v;
    return 0;
}

int srv_params_event_id(const char *s, int64_t *out)
{
    if (s == NULL || *s == '\0') {
        *out = -1;
        return 0;
    }
    return srv_params_int(s, 0, INT64_MAX, -1, out);
}

bool srv_params_job_status(const char *s)
{
    static const char *const statuses[] = {"blocked",   "scheduled", "pending", "running",
                                           "completed", "failed",    "dead",    "cancelled"};
    for (size_t i = 0; s != NULL && i < sizeof statuses / sizeof statuses[0]; i++)
        if (strcmp(s, statuses[i]) == 0)
            return true;
    return false;
}

int srv_params_cursor_encode(const char *uuid, char out[SRV_PARAMS_CURSOR_LEN + 1])
{
    if (!srv_params_is_uuid(uuid))
        return SP_E_INVAL;
    unsigned char raw[CURSOR_BYTES];
    raw[0] = CURSOR_VERSION;
    size_t n = 1;
    for (const char *p = uuid; *p != '\0'; p++) {
        if (*p == '-')
            continue;
        raw[n++] = (unsigned char)(hex_value(p[0]) << 4 | hex_value(p[1]));
        p++;
    }
    /* 17 bytes = 136 bits: 22 full sextets and 4 bits left, padded with zeros. */
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < CURSOR_BYTES; i++) {
        acc = (acc << 8) | raw[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = b64url[(acc >> bits) & 63];
        }
    }
    if (bits > 0)
        out[o++] = b64url[(acc << (6 - bits)) & 63];
    out[o] = '\0';
    return 0;
}

int srv_params_cursor_decode(const char *cursor, char uuid[SRV_PARAMS_UUID_LEN + 1])
{
    if (cursor == NULL || strlen(cursor) != SRV_PARAMS_CURSOR_LEN)
        return SP_E_INVAL;
    unsigned char raw[CURSOR_BYTES];
    size_t n = 0;
    unsigned acc = 0;
    int bits = 0;
    for (const char *p = cursor; *p != '\0'; p++) {
        const char *at = strchr(b64url, *p);
        if (at == NULL)
            return SP_E_INVAL;
        acc = (acc << 6) | (unsigned)(at - b64url);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n < CURSOR_BYTES)
                raw[n++] = (unsigned char)(acc >> bits);
        }
        acc &= (1u << bits) - 1;
    }
    /* The padding bits of the last character must be zero: one encoding per cursor. */
    if (n != CURSOR_BYTES || acc != 0 || raw[0] != CURSOR_VERSION)
        return SP_E_INVAL;
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 1; i < CURSOR_BYTES; i++) {
        if (o == 8 || o == 13 || o == 18 || o == 23)
            uuid[o++] = '-';
        uuid[o++] = hex[raw[i] >> 4];
        uuid[o++] = hex[raw[i] & 15];
    }
    uuid[o] = '\0';
    return 0;
}

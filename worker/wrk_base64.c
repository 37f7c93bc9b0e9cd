/* wrk_base64: base64 decoding for images in service responses; see wrk_base64.h. */
#include "wrk_base64.h"

#include <stdlib.h>
#include <string.h>

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

int wrk_base64_decode(const char *text, unsigned char **out, size_t *outlen, char *media_type,
                      size_t media_type_len)
{
    *out = NULL;
    *outlen = 0;
    if (media_type != NULL && media_type_len > 0)
        media_type[0] = '\0';
    if (strncmp(text, "data:", 5) == 0) {
        const char *comma = strchr(text, ',');
        const char *semi = strstr(text, ";base64,");
        if (comma == NULL || semi == NULL || semi + 7 != comma)
            return SP_E_PARSE;
        size_t n = (size_t)(semi - (text + 5));
        if (media_type != NULL && media_type_len > 0) {
            if (n >= media_type_len)
                n = media_type_len - 1;
            memcpy(media_type, text + 5, n);
            media_type[n] = '\0';
        }
        text = comma + 1;
    }
    size_t len = strlen(text);
    unsigned char *buf = malloc(len / 4 * 3 + 3);
    if (buf == NULL)
        return SP_E_NOMEM;
    size_t o = 0;
    unsigned int acc = 0;
    int bits = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p == '=' || *p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
            continue;
        int v = b64_value(*p);
        if (v < 0) {
            free(buf);
            return SP_E_PARSE;
        }
        acc = (acc << 6) | (unsigned int)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    *out = buf;
    *outlen = o;
    return 0;
}

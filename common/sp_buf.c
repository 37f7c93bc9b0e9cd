/* sp_buf: growable byte buffer with a maximum; see sp_buf.h. */
#include "sp_buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sp_buf {
    char *data;
    size_t len;
    size_t cap; /* allocated bytes, including room for the terminator */
    size_t max;
};

int sp_buf_new(sp_buf **out, size_t max)
{
    sp_buf *buf = calloc(1, sizeof(*buf));
    if (buf == NULL)
        return SP_E_NOMEM;
    buf->max = max;
    *out = buf;
    return 0;
}

void sp_buf_free(sp_buf *buf)
{
    if (buf == NULL)
        return;
    free(buf->data);
    free(buf);
}

/* Makes room for len more bytes plus the terminator. */
static int buf_reserve(sp_buf *buf, size_t len)
{
    if (len > buf->max || buf->len > buf->max - len)
        return SP_E_RANGE;
    size_t need = buf->len + len + 1;
    if (need <= buf->cap)
        return 0;
    size_t cap = buf->cap ? buf->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > buf->max + 1)
        cap = buf->max + 1;
    char *data = realloc(buf->data, cap);
    if (data == NULL)
        return SP_E_NOMEM;
    buf->data = data;
    buf->cap = cap;
    return 0;
}

int sp_buf_append(sp_buf *buf, const void *data, size_t len)
{
    int rc = buf_reserve(buf, len);
    if (rc < 0)
        return rc;
    if (len > 0)
        memcpy(buf->data + buf->len, data, len);
    buf->len += len;
    buf->data[buf->len] = '\0';
    return 0;
}

int sp_buf_appends(sp_buf *buf, const char *str)
{
    return sp_buf_append(buf, str, strlen(str));
}

int sp_buf_appendf(sp_buf *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return SP_E_INVAL;
    int rc = buf_reserve(buf, (size_t)n);
    if (rc < 0)
        return rc;
    va_start(ap, fmt);
    vsnprintf(buf->data + buf->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    buf->len += (size_t)n;
    return 0;
}

void sp_buf_reset(sp_buf *buf)
{
    buf->len = 0;
    if (buf->data != NULL)
        buf->data[0] = '\0';
}

const char *sp_buf_data(const sp_buf *buf)
{
    return buf->data != NULL ? buf->data : "";
}

size_t sp_buf_len(const sp_buf *buf)
{
    return buf->len;
}

size_t sp_buf_max(const sp_buf *buf)
{
    return buf->max;
}

/*
 * sp_buf: a growable byte buffer with a hard maximum.
 *
 * The content is always NUL-terminated (the terminator does not count toward the length
 * or the maximum). An append that would pass the maximum fails with SP_E_RANGE and leaves
 * the buffer unchanged. Not thread-safe; one owner at a time.
 */
#ifndef SP_BUF_H
#define SP_BUF_H

#include <stddef.h>

#include "sp_err.h"

typedef struct sp_buf sp_buf;

/* Creates an empty buffer that may hold at most max bytes. Returns owned *out. */
SP_MUSTCHECK int sp_buf_new(sp_buf **out, size_t max);
/* Frees the buffer; accepts NULL. */
void sp_buf_free(sp_buf *buf);

SP_MUSTCHECK int sp_buf_append(sp_buf *buf, const void *data, size_t len);
SP_MUSTCHECK int sp_buf_appends(sp_buf *buf, const char *str);
SP_MUSTCHECK int sp_buf_appendf(sp_buf *buf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Empties the buffer, keeping its memory for reuse. */
void sp_buf_reset(sp_buf *buf);

/* Borrowed, NUL-terminated; valid until the next append, reset or free. */
const char *sp_buf_data(const sp_buf *buf);
size_t sp_buf_len(const sp_buf *buf);
size_t sp_buf_max(const sp_buf *buf);

#endif

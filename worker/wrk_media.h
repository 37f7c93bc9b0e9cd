/*
 * wrk_media: what kind of file a byte string is, from its first bytes (magic numbers), and
 * the pixel size of an image where that is cheap to read from its header.
 *
 * Recognised: PNG, JPEG, WebP (VP8, VP8L, VP8X), GIF, MP4/MOV-family (ISO BMFF "ftyp"), WebM
 * (EBML with a "webm" doc type). Pure functions over a buffer; bounds-checked against len,
 * so they are safe on truncated or hostile input.
 */
#ifndef WRK_MEDIA_H
#define WRK_MEDIA_H

#include <stddef.h>

/* The media type ("image/png", "image/jpeg", "image/webp", "image/gif", "video/mp4",
 * "video/webm"), or NULL when the bytes are none of these. Static string. */
const char *wrk_media_detect(const void *data, size_t len);

/* Width and height of a PNG, JPEG, GIF or WebP image; 0 when found, -1 when the format is
 * not one of those or the header is truncated or malformed. */
int wrk_media_dimensions(const void *data, size_t len, int *width, int *height);

/* A file name extension (without the dot) for a media type, "bin" when unknown. */
const char *wrk_media_extension(const char *media_type);

#endif

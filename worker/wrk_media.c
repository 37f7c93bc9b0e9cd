/* wrk_media: media type detection from magic bytes and image dimensions; see wrk_media.h. */
#include "wrk_media.h"

#include <stdint.h>
#include <string.h>

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static unsigned be16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

static unsigned le16(const unsigned char *p)
{
    return (unsigned)p[0] | (unsigned)p[1] << 8;
}

static uint32_t le24(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
}

static int is_png(const unsigned char *b, size_t len)
{
    return len >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0;
}

static int is_jpeg(const unsigned char *b, size_t len)
{
    return len >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF;
}

static int is_gif(const unsigned char *b, size_t len)
{
    return len >= 6 && (memcmp(b, "GIF87a", 6) == 0 || memcmp(b, "GIF89a", 6) == 0);
}

static int is_webp(const unsigned char *b, size_t len)
{
    return len >= 12 && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WEBP", 4) == 0;
}

const char *wrk_media_detect(const void *data, size_t len)
{
    const unsigned char *b = data;
    if (b == NULL)
        return NULL;
    if (is_png(b, len))
        return "image/png";
    if (is_jpeg(b, len))
        return "image/jpeg";
    if (is_gif(b, len))
        return "image/gif";
    if (is_webp(b, len))
        return "image/webp";
    if (len >= 12 && memcmp(b + 4, "ftyp", 4) == 0) {
        if (memcmp(b + 8, "qt  ", 4) == 0)
            return "video/quicktime";
        if (memcmp(b + 8, "avif", 4) == 0 || memcmp(b + 8, "avis", 4) == 0)
            return "image/avif";
        if (memcmp(b + 8, "heic", 4) == 0 || memcmp(b + 8, "heix", 4) == 0 ||
            memcmp(b + 8, "mif1", 4) == 0)
            return "image/heic";
        return "video/mp4";
    }
    if (len >= 4 && memcmp(b, "\x1a\x45\xdf\xa3", 4) == 0) {
        /* EBML header: the DocType element comes within the first few dozen bytes. */
        size_t n = len < 64 ? len : 64;
        for (size_t i = 4; i + 4 <= n; i++)
            if (memcmp(b + i, "webm", 4) == 0)
                return "video/webm";
        return "video/x-matroska";
    }
    return NULL;
}

static int jpeg_dimensions(const unsigned char *b, size_t len, int *w, int *h)
{
    size_t i = 2;
    while (i + 4 <= len) {
        if (b[i] != 0xFF)
            return -1;
        while (i < len && b[i] == 0xFF) /* fill bytes */
            i++;
        if (i >= len)
            return -1;
        unsigned char marker = b[i++];
        if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7))
            continue; /* no length */
        if (marker == 0xD9 || marker == 0xDA)
            return -1; /* end of image or start of scan before any frame header */
        if (i + 2 > len)
            return -1;
        unsigned seglen = be16(b + i);
        if (seglen < 2)
            return -1;
        if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 &&
            marker != 0xCC) {
            if (i + 7 > len)
                return -1;
            *h = (int)be16(b + i + 3);
            *w = (int)be16(b + i + 5);
            return *w > 0 && *h > 0 ? 0 : -1;
        }
        i += seglen;
    }
    return -1;
}

static int webp_dimensions(const unsigned char *b, size_t len, int *w, int *h)
{
    if (len < 30)
        return -1;
    if (memcmp(b + 12, "VP8 ", 4) == 0) {
        /* Lossy: frame tag (3 bytes), start code 9d 01 2a, then 14-bit width and height. */
        if (b[23] != 0x9d || b[24] != 0x01 || b[25] != 0x2a)
            return -1;
        *w = (int)(le16(b + 26) & 0x3fff);
        *h = (int)(le16(b + 28) & 0x3fff);
    } else if (memcmp(b + 12, "VP8L", 4) == 0) {
        /* Lossless: signature 0x2f, then width-1 and height-1 in 14 bits each. */
        if (b[20] != 0x2f)
            return -1;
        uint32_t bits =
            (uint32_t)b[21] | (uint32_t)b[22] << 8 | (uint32_t)b[23] << 16 | (uint32_t)b[24] << 24;
        *w = (int)(bits & 0x3fff) + 1;
        *h = (int)((bits >> 14) & 0x3fff) + 1;
    } else if (memcmp(b + 12, "VP8X", 4) == 0) {
        /* Extended: canvas width-1 and height-1 in 24 bits each. */
        *w = (int)le24(b + 24) + 1;
        *h = (int)le24(b + 27) + 1;
    } else {
        return -1;
    }
    return *w > 0 && *h > 0 ? 0 : -1;
}

int wrk_media_dimensions(const void *data, size_t len, int *width, int *height)
{
    const unsigned char *b = data;
    int w = 0, h = 0, rc = -1;
    if (b == NULL)
        return -1;
    if (is_png(b, len)) {
        if (len >= 24 && memcmp(b + 12, "IHDR", 4) == 0) {
            uint32_t pw = be32(b + 16), ph = be32(b + 20);
            if (pw > 0 && ph > 0 && pw <= INT32_MAX && ph <= INT32_MAX) {
                w = (int)pw;
                h = (int)ph;
                rc = 0;
            }
        }
    } else if (is_jpeg(b, len)) {
        rc = jpeg_dimensions(b, len, &w, &h);
    } else if (is_gif(b, len)) {
        if (len >= 10) {
            w = (int)le16(b + 6);
            h = (int)le16(b + 8);
            rc = w > 0 && h > 0 ? 0 : -1;
        }
    } else if (is_webp(b, len)) {
        rc = webp_dimensions(b, len, &w, &h);
    }
    if (rc == 0) {
        *width = w;
        *height = h;
    }
    return rc;
}

const char *wrk_media_extension(const char *media_type)
{
    static const struct {
        const char *type, *ext;
    } map[] = {
        {"image/png", "png"},        {"image/jpeg", "jpg"},        {"image/gif", "gif"},
        {"image/webp", "webp"},      {"image/avif", "avif"},       {"image/heic", "heic"},
        {"video/mp4", "mp4"},        {"video/webm", "webm"},       {"video/quicktime", "mov"},
        {"video/x-matroska", "mkv"}, {"application/json", "json"}, {"text/plain", "txt"},
        {"audio/wav", "wav"},        {"audio/mpeg", "mp3"},        {"model/gltf-binary", "glb"},
    };
    if (media_type == NULL)
        return "bin";
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(map[i].type, media_type) == 0)
            return map[i].ext;
    return "bin";
}

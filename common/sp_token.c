/*
 * sp_token: API token generation and hashing (see sp_token.h).
 */
#include "sp_token.h"

#include <stdbool.h>
#include <string.h>
#include <sys/random.h>

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t rotr(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

static void sha256_block(uint32_t h[8], const uint8_t *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 =
            k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        k = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += k;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define SHA_NI 1

/* The blocks with the x86 SHA extensions (Goldmont, Zen, Ice Lake and later): the same
 * digest, about ten times faster, which matters where every imported row is hashed. The
 * state lives in two registers as ABEF and CDGH, the order sha256rnds2 works on; each
 * step of the loop does 4 rounds, and from the fifth on extends the message schedule by
 * the next 4 words (sha256msg1/msg2 compute the sigma terms). */
__attribute__((target("sha,sse4.1,ssse3"))) static void sha256_blocks_ni(uint32_t h[8],
                                                                         const uint8_t *p, size_t n)
{
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[0]), 0xB1); /* CDAB */
    __m128i efgh = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[4]), 0x1B); /* HGFE */
    __m128i s0 = _mm_alignr_epi8(abcd, efgh, 8);                                     /* ABEF */
    __m128i s1 = _mm_blend_epi16(efgh, abcd, 0xF0);                                  /* CDGH */
    for (; n > 0; n--, p += 64) {
        __m128i save0 = s0, save1 = s1, w[4];
        for (int i = 0; i < 16; i++) {
            __m128i *x = &w[i & 3];
            if (i < 4) {
                *x = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), bswap);
            } else {
                /* words 4i..4i+3 from those 16, 15, 7 and 2 back */
                __m128i t = _mm_sha256msg1_epu32(*x, w[(i + 1) & 3]);
                t = _mm_add_epi32(t, _mm_alignr_epi8(w[(i + 3) & 3], w[(i + 2) & 3], 4));
                *x = _mm_sha256msg2_epu32(t, w[(i + 3) & 3]);
            }
            __m128i wk = _mm_add_epi32(*x, _mm_loadu_si128((const __m128i *)&K[4 * i]));
            s1 = _mm_sha256rnds2_epu32(s1, s0, wk);
            s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(wk, 0x0E));
        }
        s0 = _mm_add_epi32(s0, save0);
        s1 = _mm_add_epi32(s1, save1);
    }
    __m128i feba = _mm_shuffle_epi32(s0, 0x1B);
    __m128i dchg = _mm_shuffle_epi32(s1, 0xB1);
    _mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(feba, dchg, 0xF0)); /* ABCD */
    _mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(dchg, feba, 8));    /* EFGH */
}

/* Whether the CPU has the SHA extensions and SSSE3/SSE4.1 (asked once; a race between two
 * first callers only asks twice). */
static bool have_sha_ni(void)
{
    static int known; /* 0 not asked yet, 1 no, 2 yes */
    int v = __atomic_load_n(&known, __ATOMIC_RELAXED);
    if (v == 0) {
        unsigned a, b, c, d;
        bool ok = __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 9)) && (c & (1u << 19)) &&
                  __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29));
        v = ok ? 2 : 1;
        __atomic_store_n(&known, v, __ATOMIC_RELAXED);
    }
    return v == 2;
}
#endif

/* n blocks of 64 bytes at p. */
static void sha256_blocks(uint32_t h[8], const uint8_t *p, size_t n)
{
#ifdef SHA_NI
    if (have_sha_ni()) {
        sha256_blocks_ni(h, p, n);
        return;
    }
#endif
    for (; n > 0; n--, p += 64)
        sha256_block(h, p);
}

void sp_sha256(const void *data, size_t len, uint8_t out[32])
{
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    const uint8_t *p = data;
    size_t left = len;
    sha256_blocks(h, p, left / 64);
    p += left / 64 * 64;
    left %= 64;
    /* The tail, the 0x80 marker and the 64-bit bit length fill one or two blocks. */
    uint8_t tail[128] = {0};
    memcpy(tail, p, left);
    tail[left] = 0x80;
    size_t blocks = left + 9 > 64 ? 2 : 1;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++)
        tail[blocks * 64 - 1 - i] = (uint8_t)(bits >> (8 * i));
    sha256_blocks(h, tail, blocks);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(h[i] >> 8);
        out[4 * i + 3] = (uint8_t)h[i];
    }
}

void sp_sha256_hex(const char *text, size_t len, char out_hex[65])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t d[32];
    sp_sha256(text, len, d);
    for (int i = 0; i < 32; i++) {
        out_hex[2 * i] = hex[d[i] >> 4];
        out_hex[2 * i + 1] = hex[d[i] & 15];
    }
    out_hex[64] = '\0';
}

void sp_token_hash(const char *token, char out_hex[65])
{
    sp_sha256_hex(token, strlen(token), out_hex);
}

int sp_token_generate(char *out, size_t outlen)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint8_t r[33] = {0}; /* 32 random bytes, one zero byte to round up to 11 groups of 3 */
    if (outlen < SP_TOKEN_LEN + 1)
        return SP_E_RANGE;
    size_t got = 0;
    while (got < 32) {
        ssize_t n = getrandom(r + got, 32 - got, 0);
        if (n <= 0)
            return SP_E_IO;
        got += (size_t)n;
    }
    size_t o = strlen(SP_TOKEN_PREFIX);
    memcpy(out, SP_TOKEN_PREFIX, o);
    for (size_t i = 0; i < 33; i += 3) {
        uint32_t v = (uint32_t)r[i] << 16 | (uint32_t)r[i + 1] << 8 | r[i + 2];
        out[o++] = b64[(v >> 18) & 63];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = b64[(v >> 6) & 63];
        out[o++] = b64[v & 63];
    }
    o = SP_TOKEN_LEN; /* 32 bytes are 43 characters; the 44th only encodes padding */
    out[o] = '\0';
    return 0;
}

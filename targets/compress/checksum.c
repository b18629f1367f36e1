/*
 * checksum.c -- the two stream checksums of the containers.
 *
 * cz_adler32 implements Adler-32 as defined in RFC 1950 section 8.2 (two
 * 16-bit sums modulo 65521).  The reduction is deferred: NMAX = 5552 bytes is
 * the largest run for which the 32-bit sums cannot overflow, and the inner
 * loop is unrolled 8 bytes at a time.  On x86-64 (SSE2 is always there)
 * runs of 32 bytes are summed in vector lanes: _mm_sad_epu8 adds the bytes
 * for the first sum, _mm_madd_epi16 with the weights 32..1 gives each
 * chunk's contribution to the second, plus 32 times the first sum as it
 * stood before the chunk -- the same arithmetic, so the same result.
 *
 * cz_crc32 implements the CRC-32 of RFC 1952 section 8 (ISO 3309, reflected
 * polynomial 0xEDB88320, pre/post inversion) with the "slicing-by-8" method:
 * eight 256-entry tables (generated in tables.c) fold 8 input bytes per step.
 *
 * Call chain: framing.c (cz_check_update) <- cz_deflate / cz_inflate /
 * stream.c; also exported directly to Python (codec.py adler32/crc32).
 */
#include "cz_internal.h"

#define ADLER_BASE 65521u
#define ADLER_NMAX 5552u

static void adler_block(uint32_t *pa, uint32_t *pb, const uint8_t *p,
                        size_t n)
{
    uint32_t a = *pa, b = *pb;
    assert(n <= ADLER_NMAX);
    while (n >= 8) {
        a += p[0]; b += a;
        a += p[1]; b += a;
        a += p[2]; b += a;
        a += p[3]; b += a;
        a += p[4]; b += a;
        a += p[5]; b += a;
        a += p[6]; b += a;
        a += p[7]; b += a;
        p += 8;
        n -= 8;
    }
    while (n--) {
        a += *p++;
        b += a;
    }
    *pa = a % ADLER_BASE;
    *pb = b % ADLER_BASE;
}

#if defined(__SSE2__)
#include <emmintrin.h>

#define ADLER_VMAX (ADLER_NMAX & ~31u) /* whole 32-byte chunks per reduction */

static uint32_t hsum_epi32(__m128i v)
{
    v = _mm_add_epi32(v, _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 0, 3, 2)));
    v = _mm_add_epi32(v, _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 3, 0, 1)));
    return (uint32_t)_mm_cvtsi128_si32(v);
}

/* n is a multiple of 32, at most ADLER_VMAX. */
static void adler_block_sse2(uint32_t *pa, uint32_t *pb, const uint8_t *p,
                             size_t n)
{
    const __m128i zero = _mm_setzero_si128();
    const __m128i w0 = _mm_setr_epi16(32, 31, 30, 29, 28, 27, 26, 25);
    const __m128i w1 = _mm_setr_epi16(24, 23, 22, 21, 20, 19, 18, 17);
    const __m128i w2 = _mm_setr_epi16(16, 15, 14, 13, 12, 11, 10, 9);
    const __m128i w3 = _mm_setr_epi16(8, 7, 6, 5, 4, 3, 2, 1);
    __m128i s1 = zero, s2 = zero, s1_before = zero;
    uint32_t a = *pa, b = *pb + *pa * (uint32_t)n;
    assert(n % 32u == 0 && n <= ADLER_VMAX);
    for (; n > 0; n -= 32, p += 32) {
        __m128i x0 = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i x1 = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
        s1_before = _mm_add_epi32(s1_before, s1);
        s1 = _mm_add_epi32(s1, _mm_sad_epu8(x0, zero));
        s1 = _mm_add_epi32(s1, _mm_sad_epu8(x1, zero));
        s2 = _mm_add_epi32(s2,
                           _mm_madd_epi16(_mm_unpacklo_epi8(x0, zero), w0));
        s2 = _mm_add_epi32(s2,
                           _mm_madd_epi16(_mm_unpackhi_epi8(x0, zero), w1));
        s2 = _mm_add_epi32(s2,
                           _mm_madd_epi16(_mm_unpacklo_epi8(x1, zero), w2));
        s2 = _mm_add_epi32(s2,
                           _mm_madd_epi16(_mm_unpackhi_epi8(x1, zero), w3));
    }
    s2 = _mm_add_epi32(s2, _mm_slli_epi32(s1_before, 5));
    *pa = (a + hsum_epi32(s1)) % ADLER_BASE;
    *pb = (b + hsum_epi32(s2)) % ADLER_BASE;
}
#endif

uint32_t cz_adler32(uint32_t adler, const uint8_t *buf, size_t len)
{
    uint32_t a = adler & 0xffffu, b = adler >> 16;
    if (buf == NULL)
        return 1u;
#if defined(__SSE2__)
    while (len >= 32) {
        size_t n = len < ADLER_VMAX ? len & ~(size_t)31 : ADLER_VMAX;
        adler_block_sse2(&a, &b, buf, n);
        buf += n;
        len -= n;
    }
#endif
    while (len > 0) {
        size_t n = len < ADLER_NMAX ? len : ADLER_NMAX;
        adler_block(&a, &b, buf, n);
        buf += n;
        len -= n;
    }
    return (b << 16) | a;
}

uint32_t cz_crc32(uint32_t crc, const uint8_t *buf, size_t len)
{
    const uint32_t (*t)[256] = cz_crc_table;
    uint32_t c = ~crc;
    if (buf == NULL)
        return 0u;
    while (len > 0 && ((uintptr_t)buf & 7u) != 0) {
        c = t[0][(c ^ *buf++) & 0xffu] ^ (c >> 8);
        len--;
    }
    while (len >= 8) {
        uint32_t lo = cz_load32(buf) ^ c;
        uint32_t hi = cz_load32(buf + 4);
        c = t[7][lo & 0xffu] ^ t[6][(lo >> 8) & 0xffu] ^
            t[5][(lo >> 16) & 0xffu] ^ t[4][lo >> 24] ^
            t[3][hi & 0xffu] ^ t[2][(hi >> 8) & 0xffu] ^
            t[1][(hi >> 16) & 0xffu] ^ t[0][hi >> 24];
        buf += 8;
        len -= 8;
    }
    while (len--)
        c = t[0][(c ^ *buf++) & 0xffu] ^ (c >> 8);
    return ~c;
}

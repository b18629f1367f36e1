/*
 * checksum.c -- the two stream checksums of the containers.
 *
 * cz_adler32 implements Adler-32 as defined in RFC 1950 section 8.2 (two
 * 16-bit sums modulo 65521).  The reduction is deferred: NMAX = 5552 bytes is
 * the largest run for which the 32-bit sums cannot overflow, and the inner
 * loop is unrolled 8 bytes at a time.
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

uint32_t cz_adler32(uint32_t adler, const uint8_t *buf, size_t len)
{
    uint32_t a = adler & 0xffffu, b = adler >> 16;
    if (buf == NULL)
        return 1u;
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

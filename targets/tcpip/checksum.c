/*
 * checksum.c -- the Internet checksum (RFC 1071): a 32-bit accumulator of
 * 16-bit big-endian words, folded to 16 bits and complemented by the caller
 * through ts_csum_fold. Sums of pieces combine by adding accumulators as long
 * as every piece but the last has an even length.
 */
#include "ts.h"

uint32_t ts_csum_add(uint32_t sum, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t acc = sum;
    while (len >= 8) {
        acc += (uint64_t)ts_get32(p) + ts_get32(p + 4);
        p += 8;
        len -= 8;
    }
    while (len >= 2) {
        acc += ts_get16(p);
        p += 2;
        len -= 2;
    }
    if (len)
        acc += (uint32_t)p[0] << 8;
    while (acc >> 32)
        acc = (acc & 0xffffffffu) + (acc >> 32);
    return (uint32_t)acc;
}

uint16_t ts_csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

uint32_t ts_csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
    uint64_t acc = (uint64_t)(src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) +
                   proto + len;
    return (uint32_t)acc;
}

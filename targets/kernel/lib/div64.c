/*
 * div64.c - 64-by-32-bit unsigned division (see div64.h): the high word is divided first,
 * its remainder (< d) becomes the high half of the second 64/32 divl, which therefore cannot
 * overflow.
 */
#include "lib/div64.h"

uint64_t k_udiv64(uint64_t n, uint32_t d, uint32_t *rem)
{
    kassert(d != 0);
    uint32_t hi = (uint32_t)(n >> 32), lo = (uint32_t)n;
    uint32_t qhi = hi / d, r = hi % d, qlo;
    __asm__("divl %4" : "=a"(qlo), "=d"(r) : "a"(lo), "d"(r), "rm"(d));
    if (rem != NULL)
        *rem = r;
    return ((uint64_t)qhi << 32) | qlo;
}

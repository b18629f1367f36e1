/*
 * div64.h - 64-by-32-bit unsigned division for i386 without libgcc (two divl instructions,
 * Intel SDM vol. 2: DIV), used for %llu printing and TSC-to-time conversion.
 */
#ifndef K_DIV64_H
#define K_DIV64_H

#include "lib/klib.h"

/* n / d (d != 0); the remainder in *rem when rem is not NULL. */
uint64_t k_udiv64(uint64_t n, uint32_t d, uint32_t *rem);

#endif

/*
 * crc64.h -- CRC-64/XZ (the ECMA-182 polynomial in reflected form,
 * 0xC96C5795D7870F42, initial value and final XOR all ones; check value of
 * "123456789" is 0x995DC9BBDF1939FA), the checksum of snapshot files
 * (snap.h).  Computed 8 bytes at a time ("slicing-by-8").
 */
#ifndef KV_CRC64_H
#define KV_CRC64_H

#include <stddef.h>
#include <stdint.h>

/* CRC of P[0, N) continuing from CRC (start with 0; the result of one call
 * can be passed to the next to checksum data in pieces). */
uint64_t kv_crc64(uint64_t crc, const void *p, size_t n);

#endif

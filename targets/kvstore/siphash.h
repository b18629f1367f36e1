/*
 * siphash.h -- SipHash-2-4 (Aumasson & Bernstein, "SipHash: a fast
 * short-input PRF", https://www.aumasson.jp/siphash/siphash.pdf), the keyed
 * hash of the keyspace tables.  A random 128-bit key chosen at start makes
 * bucket positions unpredictable to clients (hash-flooding resistance), as
 * in Redis.
 */
#ifndef KV_SIPHASH_H
#define KV_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t kv_siphash(const void *data, size_t len, const uint8_t key[16]);

#endif

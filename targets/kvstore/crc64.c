/*
 * crc64.c -- CRC-64/XZ, slicing-by-8 (see crc64.h).  The tables are built
 * once, on first use (pthread_once: the server and its children may
 * checksum from several threads).
 */
#include "crc64.h"

#include <pthread.h>

#define POLY 0xC96C5795D7870F42ULL

static uint64_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void build_tables(void)
{
    for (unsigned i = 0; i < 256; i++) {
        uint64_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ POLY : c >> 1;
        table[0][i] = c;
    }
    for (unsigned i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
}

static uint64_t load_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

uint64_t kv_crc64(uint64_t crc, const void *data, size_t n)
{
    const unsigned char *p = data;
    pthread_once(&table_once, build_tables);
    crc = ~crc;
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t x = crc ^ load_le64(p);
        crc = table[7][x & 0xff] ^ table[6][(x >> 8) & 0xff] ^ table[5][(x >> 16) & 0xff] ^
              table[4][(x >> 24) & 0xff] ^ table[3][(x >> 32) & 0xff] ^
              table[2][(x >> 40) & 0xff] ^ table[1][(x >> 48) & 0xff] ^ table[0][x >> 56];
    }
    while (n--)
        crc = table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

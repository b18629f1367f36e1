/*
 * siphash.c -- SipHash-2-4, following the reference implementation of the
 * paper (see siphash.h): 2 compression rounds per 8-byte word, 4
 * finalization rounds, little-endian word loads, the length in the top byte
 * of the last word.  Known answer: key 00..0f, empty input -> 0x726fdb47dd0e0e31.
 */
#include "siphash.h"

static uint64_t rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

static uint64_t load64_le(const uint8_t *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
           (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
           (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

typedef struct { uint64_t v0, v1, v2, v3; } sip_state;

static void sip_round(sip_state *s)
{
    s->v0 += s->v1;
    s->v1 = rotl(s->v1, 13);
    s->v1 ^= s->v0;
    s->v0 = rotl(s->v0, 32);
    s->v2 += s->v3;
    s->v3 = rotl(s->v3, 16);
    s->v3 ^= s->v2;
    s->v0 += s->v3;
    s->v3 = rotl(s->v3, 21);
    s->v3 ^= s->v0;
    s->v2 += s->v1;
    s->v1 = rotl(s->v1, 17);
    s->v1 ^= s->v2;
    s->v2 = rotl(s->v2, 32);
}

static void sip_compress(sip_state *s, uint64_t m)
{
    s->v3 ^= m;
    sip_round(s);
    sip_round(s);
    s->v0 ^= m;
}

uint64_t kv_siphash(const void *data, size_t len, const uint8_t key[16])
{
    const uint8_t *in = data;
    uint64_t k0 = load64_le(key), k1 = load64_le(key + 8);
    sip_state s = {0x736f6d6570736575ULL ^ k0, 0x646f72616e646f6dULL ^ k1,
                   0x6c7967656e657261ULL ^ k0, 0x7465646279746573ULL ^ k1};
    size_t words = len / 8, i;
    uint64_t last = (uint64_t)len << 56;

    for (i = 0; i < words; i++)
        sip_compress(&s, load64_le(in + 8 * i));
    for (i = 0; i < (len & 7); i++)
        last |= (uint64_t)in[8 * words + i] << (8 * i);
    sip_compress(&s, last);
    s.v2 ^= 0xff;
    for (i = 0; i < 4; i++)
        sip_round(&s);
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

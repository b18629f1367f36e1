/*
 * lg_keys.c -- what the requests contain: random numbers, keys, values.
 *
 * Random numbers: xoshiro256** 1.0 (Blackman & Vigna,
 * https://prng.di.unimi.it/), seeded through splitmix64 so that any 64-bit
 * seed gives a well-mixed state; each thread draws from its own stream
 * (seed combined with the thread index).  Integers below n are unbiased
 * (rejection of the short final interval); unit reals use the top 53 bits.
 *
 * Keys are "key:%012d" of an index uniform in [0, keyspace) -- the form of
 * redis-benchmark's "key:__rand_int__" -- written digit by digit (no
 * printf on the hot path).  Each request is a GET with probability
 * get_ratio, else a SET of the value: value_size printable bytes derived
 * from the seed, shared by every SET.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "lg.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void lg_rng_seed(lg_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
    assert(r->s[0] | r->s[1] | r->s[2] | r->s[3]); /* never all zero */
}

uint64_t lg_rng_next(lg_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

uint64_t lg_rng_below(lg_rng *r, uint64_t n)
{
    assert(n > 0);
    uint64_t floor = (0 - n) % n; /* 2^64 mod n: values below are biased */
    uint64_t x = lg_rng_next(r);
    for (int tries = 0; x < floor && tries < 64; tries++)
        x = lg_rng_next(r); /* each try fails with probability < 1/2 */
    return x % n;
}

double lg_rng_unit(lg_rng *r)
{
    return (double)(lg_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

void lg_key_format(char out[LG_KEY_LEN], uint64_t index)
{
    assert(index < 1000000000000ULL);
    memcpy(out, "key:", 4);
    for (int i = LG_KEY_LEN - 1; i >= 4; i--) {
        out[i] = (char)('0' + index % 10);
        index /= 10;
    }
}

char *lg_value_make(size_t size, uint64_t seed)
{
    static const char alphabet[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    char *v = malloc(size + 1);
    if (!v)
        return NULL;
    lg_rng r;
    lg_rng_seed(&r, seed ^ 0x76616c7565ULL);
    for (size_t i = 0; i < size; i++)
        v[i] = alphabet[lg_rng_below(&r, sizeof alphabet - 1)];
    v[size] = '\0';
    return v;
}

void lg_gen_init(lg_gen *g, const lg_config *cfg, uint64_t stream)
{
    assert(cfg->keyspace > 0);
    lg_rng_seed(&g->rng, cfg->seed + stream * 0x9e3779b97f4a7c15ULL);
    g->keyspace = cfg->keyspace;
    g->get_ratio = cfg->get_ratio;
}

bool lg_gen_next(lg_gen *g, uint64_t *key)
{
    *key = lg_rng_below(&g->rng, g->keyspace);
    return lg_rng_unit(&g->rng) < g->get_ratio;
}

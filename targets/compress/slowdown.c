/*
 * slowdown.c -- a TEST-ONLY injected cost; not part of RFC 1951 behaviour.
 *
 * The lab's regression detector (`lab ci`) is checked against a known
 * slowdown: building the core with -DCZ_TEST_SLOWDOWN_PPM=N (0 < N <=
 * 1000000; plugins/compress sets it from $CZ_TEST_SLOWDOWN = N / 1e6) makes
 * every compression also run a busy loop costing N parts per million of the
 * real compression work.  Without the macro this file declares nothing and
 * cz_test_slowdown() is an empty inline (cz_internal.h): the normal build
 * is unchanged.  The loop reads the input and writes only its own scratch
 * tables (on the stack) and a volatile sink (so the compiler cannot drop
 * it): the compressed output is bit-for-bit the normal build's.
 *
 * The cost must be the same fraction on both of the lab's measurement
 * channels, instructions (callgrind) and wall time.  So it is deterministic
 * -- a step count proportional to the input length, never time-based -- and
 * a step does what the LZ77 matcher (lz77.c) does per position: hash the
 * 4-byte window at p, swap p into a head table, link the old head into a
 * prev table, compare the candidate's 4 bytes with p's.  It is branch-free
 * (so its cost per step does not depend on the data or on how often the
 * loop has wrapped around the input) and each step's hash also mixes in the
 * previous step's candidate: a serial chain (load -> multiply -> load) like
 * the matcher's chain walk, which brings the loop's time per instruction
 * close to the compressor's (without it the loop ran about 2.5 times as
 * many instructions per second as the compressor, so the time fraction was
 * well under the instruction fraction).
 *
 * SLOW_STEPS_PER_BYTE is calibrated on the quick benchmark (corpus text,
 * level 6, 64 KiB: about 111.5 instructions per input byte for the whole
 * call under callgrind; a step is 26 instructions at -O2 with gcc 12): the
 * instruction count grows by the requested fraction (1.03% for 0.01, 4.99%
 * for 0.05; a fixed ~2500 instructions per call set up the tables).  Other
 * levels and corpora get the same absolute cost per byte, so a different
 * fraction of their (different) work.
 *
 * Call chain: oneshot.c cz_deflate (direct path, at the end) and stream.c
 * d_take_input (each chunk of input taken) -> cz_test_slowdown.
 */
#include "cz_internal.h"

#if defined(CZ_TEST_SLOWDOWN_PPM) && CZ_TEST_SLOWDOWN_PPM > 0

#if CZ_TEST_SLOWDOWN_PPM > 1000000
#error "CZ_TEST_SLOWDOWN_PPM must be at most 1000000 (a fraction of 1)"
#endif

#define SLOW_BITS 10u
#define SLOW_SIZE (1u << SLOW_BITS)
#define SLOW_MASK (SLOW_SIZE - 1u)
#define SLOW_HASH_MULT 0x1E35A7BDu       /* lz77.c's multiplier */
#define SLOW_STEPS_PER_BYTE 4.1          /* at a fraction of 1, see above */

static volatile uint32_t cz_slow_sink;

/* Steps at positions [0, n) of in; candidates are masked into [0, cmask]
 * with cmask + 4 <= in_len, so every 4-byte read is inside in. */
static uint32_t cz_slow_lap(const uint8_t *in, size_t n, uint32_t cmask,
                            uint32_t *head, uint32_t *prev, uint32_t acc)
{
    size_t p;
    uint32_t cand = 0;
    for (p = 0; p < n; p++) {
        uint32_t v = cz_load32(in + p), h, c, hit;
        h = ((v ^ cand * SLOW_HASH_MULT) * SLOW_HASH_MULT) >>
            (32u - SLOW_BITS);
        cand = head[h];
        head[h] = (uint32_t)p;
        prev[p & SLOW_MASK] = cand;
        c = cand & cmask;
        hit = (uint32_t)0 - (uint32_t)(cz_load32(in + c) == v);
        acc = (acc ^ cand) + (hit & ((uint32_t)p - c)); /* + match distance */
    }
    return acc;
}

void cz_test_slowdown(const uint8_t *in, size_t in_len)
{
    uint32_t head[SLOW_SIZE], prev[SLOW_SIZE]; /* prev: written, then read */
    uint32_t acc = 0, cmask = 0;
    size_t i, n = 0, lap = in_len >= 4 ? in_len - 3 : 0;
    uint64_t steps = (uint64_t)((double)in_len * SLOW_STEPS_PER_BYTE *
                                    ((double)CZ_TEST_SLOWDOWN_PPM / 1e6) +
                                0.5);
    if (lap == 0 || steps == 0)
        return;
    while (cmask < UINT32_MAX / 2u && (size_t)cmask * 2u + 1u < lap)
        cmask = cmask * 2u + 1u; /* the largest 2^k - 1 below lap */
    /* the identity, not zeros: a memset may be a "rep stosb", which
     * callgrind counts once per byte (a cost the wall clock hardly sees) */
    for (i = 0; i < SLOW_SIZE; i++)
        head[i] = (uint32_t)i;
    while (steps > 0) { /* laps over the input until the steps are done */
        n = steps < lap ? (size_t)steps : lap;
        acc = cz_slow_lap(in, n, cmask, head, prev, acc);
        steps -= n;
    }
    /* fold the tables in: none of the stores above is dead */
    cz_slow_sink = acc + prev[(n - 1) & SLOW_MASK] + head[acc & SLOW_MASK];
}

#else

/* ISO C requires a translation unit to declare something */
typedef int cz_test_slowdown_disabled;

#endif

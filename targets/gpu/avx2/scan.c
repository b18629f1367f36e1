/*
 * scan.c -- exclusive and inclusive prefix sums of uint32, modulo 2^32.
 *
 * In-register scan of 8 lanes (the log-step scheme of Hillis & Steele, done
 * with byte shifts): two shift-and-add steps (vpslldq by 4 and 8 bytes) scan
 * each 128-bit half, then lane 3 is broadcast and added to the upper half.
 * A running carry (the total so far, broadcast to all lanes) is added to each
 * block of 8 and the new carry is lane 7 of the result.  Two blocks per
 * iteration: the second block's carry-in is carry + total(first block), so
 * the loop-carried chain is two vector adds per 16 elements.  Exclusive
 * results are inclusive minus the input (exact modulo 2^32).
 *
 * In place (out == in) is allowed: every element is loaded before its slot
 * is stored.  Any other overlap is refused (GPU_AVX2_ERR_OVERLAP).
 *
 * Threads (parts of at least SCAN_GRAIN elements): pass 1 sums each part,
 * the caller turns the part sums into carries (an exclusive scan of T
 * values), pass 2 scans each part from its carry.  Integer arithmetic is
 * exact, so results do not depend on the thread count.
 */
#include <immintrin.h>

#include "internal.h"

#define SCAN_GRAIN ((size_t)1 << 18) /* elements per thread at least */

struct scan_job {
    const uint32_t *in;
    uint32_t *out;
    size_t n;
    int inclusive;
    uint32_t carry[GPU_AVX2_MAX_THREADS]; /* pass 1: part sums; pass 2: carry-ins */
};

/* Inclusive scan of the 8 lanes of v. */
static __m256i scan8(__m256i v)
{
    v = _mm256_add_epi32(v, _mm256_slli_si256(v, 4));
    v = _mm256_add_epi32(v, _mm256_slli_si256(v, 8));
    __m256i low_total = _mm256_permutevar8x32_epi32(v, _mm256_set1_epi32(3));
    return _mm256_add_epi32(v, _mm256_blend_epi32(_mm256_setzero_si256(), low_total, 0xF0));
}

static __m256i lane7(__m256i v) { return _mm256_permutevar8x32_epi32(v, _mm256_set1_epi32(7)); }

static void store_block(uint32_t *out, __m256i incl, __m256i v, int inclusive)
{
    _mm256_storeu_si256((__m256i *)out, inclusive ? incl : _mm256_sub_epi32(incl, v));
}

/* Scan in[0..n-1] into out starting from `carry` (the sum of everything before). */
static void scan_range(const uint32_t *in, uint32_t *out, size_t n, uint32_t carry,
                       int inclusive)
{
    __m256i c = _mm256_set1_epi32((int)carry);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i v0 = _mm256_loadu_si256((const __m256i *)(in + i));
        __m256i v1 = _mm256_loadu_si256((const __m256i *)(in + i + 8));
        __m256i s0 = scan8(v0), s1 = scan8(v1);
        __m256i c1 = _mm256_add_epi32(c, lane7(s0));
        store_block(out + i, _mm256_add_epi32(s0, c), v0, inclusive);
        store_block(out + i + 8, _mm256_add_epi32(s1, c1), v1, inclusive);
        c = _mm256_add_epi32(c1, lane7(s1));
    }
    carry = (uint32_t)_mm256_cvtsi256_si32(c);
    for (; i < n; i++) {
        uint32_t v = in[i];
        out[i] = inclusive ? carry + v : carry;
        carry += v;
    }
}

static uint32_t sum_range(const uint32_t *in, size_t n)
{
    __m256i a0 = _mm256_setzero_si256(), a1 = a0;
    size_t i = 0;
    uint32_t lanes[8], s = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_add_epi32(a0, _mm256_loadu_si256((const __m256i *)(in + i)));
        a1 = _mm256_add_epi32(a1, _mm256_loadu_si256((const __m256i *)(in + i + 8)));
    }
    _mm256_storeu_si256((__m256i *)lanes, _mm256_add_epi32(a0, a1));
    for (int j = 0; j < 8; j++)
        s += lanes[j];
    for (; i < n; i++)
        s += in[i];
    return s;
}

static void sum_part(void *ctx, size_t part, size_t parts)
{
    struct scan_job *job = ctx;
    size_t lo, hi;
    gpu_avx2_split(job->n, parts, part, 16, &lo, &hi);
    job->carry[part] = sum_range(job->in + lo, hi - lo);
}

static void scan_part(void *ctx, size_t part, size_t parts)
{
    struct scan_job *job = ctx;
    size_t lo, hi;
    gpu_avx2_split(job->n, parts, part, 16, &lo, &hi);
    scan_range(job->in + lo, job->out + lo, hi - lo, job->carry[part], job->inclusive);
}

static int check_scan(const uint32_t *in, const uint32_t *out, size_t n, int inclusive)
{
    size_t bytes;
    int rc;
    if (in == NULL || out == NULL)
        return GPU_AVX2_ERR_NULL;
    if (n == 0)
        return GPU_AVX2_ERR_EMPTY;
    if (inclusive != GPU_AVX2_EXCLUSIVE && inclusive != GPU_AVX2_INCLUSIVE)
        return GPU_AVX2_ERR_MODE;
    if ((rc = gpu_avx2_bytes(n, 1, sizeof(uint32_t), &bytes)) != GPU_AVX2_OK ||
        (rc = gpu_avx2_check_align(in, sizeof(uint32_t))) != GPU_AVX2_OK ||
        (rc = gpu_avx2_check_align(out, sizeof(uint32_t))) != GPU_AVX2_OK)
        return rc;
    rc = gpu_avx2_check_disjoint(in, bytes, out, bytes);
    return (rc == GPU_AVX2_ERR_OVERLAP && in == out) ? GPU_AVX2_OK : rc;
}

int gpu_avx2_scan(const uint32_t *in, uint32_t *out, size_t n, int inclusive, int threads)
{
    struct scan_job job;
    size_t parts;
    uint32_t run = 0;
    int rc;
    if ((rc = gpu_avx2_check_common(threads)) != GPU_AVX2_OK ||
        (rc = check_scan(in, out, n, inclusive)) != GPU_AVX2_OK)
        return rc;
    job.in = in;
    job.out = out;
    job.n = n;
    job.inclusive = inclusive;
    job.carry[0] = 0;
    parts = gpu_avx2_parts(threads, n, SCAN_GRAIN);
    if (parts > 1)
        gpu_avx2_run(parts, sum_part, &job);
    for (size_t i = 0; i < parts; i++) { /* part sums -> carry-ins */
        uint32_t s = job.carry[i];
        job.carry[i] = run;
        run += s;
    }
    gpu_avx2_run(parts, scan_part, &job);
    return GPU_AVX2_OK;
}

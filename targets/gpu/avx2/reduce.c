/*
 * reduce.c -- sum, min and max of n floats with AVX2.
 *
 * sum: every float is widened exactly to double (vcvtps2pd) and added into
 * eight independent __m256d accumulators (32 lanes, enough to cover the
 * add latency), so a lane takes at most ceil(n / 32) additions.  With
 * u = 2^-53, the standard bound for recursive summation (Higham, "Accuracy
 * and Stability of Numerical Algorithms", 2nd ed., sec. 4.2) gives, for the
 * lanes, the fixed 5-level combining tree (8 vectors -> 1, then 4 lanes ->
 * 1), the scalar tail (< 32 terms) and the sum of the per-thread partials
 * (T <= 256 terms, in part order):
 *     |error| <= (n / 32 + 32 + 5 + T) * u * sum |x[i]|   (to first order)
 * which for n <= 2^28 is below 2^24 * 2^-53 = 2^-29 of sum |x| -- far
 * inside api.sum_tolerance (2^-16), and no intermediate can overflow (double
 * holds 2^28 * FLT_MAX).  The result is returned as a double; a different
 * thread count only moves the part boundaries, hence only the rounding,
 * within the same bound.
 *
 * min / max: four __m256 accumulators with vminps / vmaxps (exact).  Those
 * instructions drop a NaN operand in one position, so NaNs are tracked on
 * the side (vcmpps unordered, ORed into a mask): any NaN input makes the
 * result a quiet NaN, like NumPy's np.min / np.max.  -0.0 and +0.0 compare
 * equal, so either may be returned when both are the extreme.
 *
 * Threads: parts of at least REDUCE_GRAIN floats, boundaries at multiples
 * of 32 floats.
 */
#include <immintrin.h>
#include <math.h>

#include "internal.h"

#define REDUCE_GRAIN ((size_t)1 << 18) /* floats per thread at least (1 MiB) */
#define STEP 32                        /* floats per unrolled iteration */

struct reduce_job {
    const float *x;
    size_t n;
    int op;
    double partial[GPU_AVX2_MAX_THREADS]; /* per part: sum, or min/max */
    int nan[GPU_AVX2_MAX_THREADS];        /* per part (min/max): saw a NaN */
};

static __m256d widen_lo(const float *p) { return _mm256_cvtps_pd(_mm_loadu_ps(p)); }

static double hsum_pd(__m256d v)
{
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

static double sum_range(const float *x, size_t n)
{
    __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
    __m256d a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    size_t i = 0;
    double tail = 0.0;
    for (; i + STEP <= n; i += STEP) {
        a0 = _mm256_add_pd(a0, widen_lo(x + i));
        a1 = _mm256_add_pd(a1, widen_lo(x + i + 4));
        a2 = _mm256_add_pd(a2, widen_lo(x + i + 8));
        a3 = _mm256_add_pd(a3, widen_lo(x + i + 12));
        a4 = _mm256_add_pd(a4, widen_lo(x + i + 16));
        a5 = _mm256_add_pd(a5, widen_lo(x + i + 20));
        a6 = _mm256_add_pd(a6, widen_lo(x + i + 24));
        a7 = _mm256_add_pd(a7, widen_lo(x + i + 28));
    }
    for (; i < n; i++)
        tail += (double)x[i];
    a0 = _mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(a2, a3));
    a4 = _mm256_add_pd(_mm256_add_pd(a4, a5), _mm256_add_pd(a6, a7));
    return hsum_pd(_mm256_add_pd(a0, a4)) + tail;
}

/* Horizontal min (is_max == 0) or max of the 8 lanes. */
static float hext_ps(__m256 v, int is_max)
{
    __m128 s = is_max ? _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1))
                      : _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    __m128 t = _mm_movehl_ps(s, s);
    s = is_max ? _mm_max_ps(s, t) : _mm_min_ps(s, t);
    t = _mm_shuffle_ps(s, s, 1);
    s = is_max ? _mm_max_ss(s, t) : _mm_min_ss(s, t);
    return _mm_cvtss_f32(s);
}

static __m256 ext_ps(__m256 a, __m256 b, int is_max)
{
    return is_max ? _mm256_max_ps(a, b) : _mm256_min_ps(a, b);
}

/* min or max of x[0..n-1] (n >= 1); *nan = 1 when some x[i] is NaN. */
static float extreme_range(const float *x, size_t n, int is_max, int *nan)
{
    __m256 m0 = _mm256_set1_ps(x[0]), m1 = m0, m2 = m0, m3 = m0;
    __m256 bad = _mm256_setzero_ps();
    size_t i = 0;
    float best;
    assert(n >= 1);
    for (; i + STEP <= n; i += STEP) {
        __m256 v0 = _mm256_loadu_ps(x + i), v1 = _mm256_loadu_ps(x + i + 8);
        __m256 v2 = _mm256_loadu_ps(x + i + 16), v3 = _mm256_loadu_ps(x + i + 24);
        bad = _mm256_or_ps(bad, _mm256_cmp_ps(v0, v1, _CMP_UNORD_Q));
        bad = _mm256_or_ps(bad, _mm256_cmp_ps(v2, v3, _CMP_UNORD_Q));
        m0 = ext_ps(m0, v0, is_max);
        m1 = ext_ps(m1, v1, is_max);
        m2 = ext_ps(m2, v2, is_max);
        m3 = ext_ps(m3, v3, is_max);
    }
    best = hext_ps(ext_ps(ext_ps(m0, m1, is_max), ext_ps(m2, m3, is_max), is_max), is_max);
    *nan = _mm256_movemask_ps(bad) != 0 || isnan(x[0]);
    for (; i < n; i++) {
        if (isnan(x[i]))
            *nan = 1;
        else if (is_max ? x[i] > best : x[i] < best)
            best = x[i];
    }
    return best;
}

static void reduce_part(void *ctx, size_t part, size_t parts)
{
    struct reduce_job *job = ctx;
    size_t lo, hi;
    gpu_avx2_split(job->n, parts, part, STEP, &lo, &hi);
    assert(lo < hi); /* parts <= n / REDUCE_GRAIN, so no part is empty */
    if (job->op == GPU_AVX2_SUM)
        job->partial[part] = sum_range(job->x + lo, hi - lo);
    else
        job->partial[part] =
            extreme_range(job->x + lo, hi - lo, job->op == GPU_AVX2_MAX, &job->nan[part]);
}

static double combine(const struct reduce_job *job, size_t parts)
{
    double r = job->partial[0];
    int nan = job->nan[0];
    for (size_t i = 1; i < parts; i++) {
        double v = job->partial[i];
        nan |= job->nan[i];
        if (job->op == GPU_AVX2_SUM)
            r += v;
        else if (job->op == GPU_AVX2_MAX ? v > r : v < r)
            r = v;
    }
    return (job->op != GPU_AVX2_SUM && nan) ? (double)NAN : r;
}

int gpu_avx2_reduce(const float *x, size_t n, int op, double *result, int threads)
{
    struct reduce_job job = {0};
    size_t bytes, parts;
    int rc;
    if ((rc = gpu_avx2_check_common(threads)) != GPU_AVX2_OK)
        return rc;
    if (x == NULL || result == NULL)
        return GPU_AVX2_ERR_NULL;
    if (n == 0)
        return GPU_AVX2_ERR_EMPTY;
    if (op != GPU_AVX2_SUM && op != GPU_AVX2_MIN && op != GPU_AVX2_MAX)
        return GPU_AVX2_ERR_OP;
    if ((rc = gpu_avx2_bytes(n, 1, sizeof(float), &bytes)) != GPU_AVX2_OK ||
        (rc = gpu_avx2_check_align(x, sizeof(float))) != GPU_AVX2_OK ||
        (rc = gpu_avx2_check_align(result, sizeof(double))) != GPU_AVX2_OK ||
        (rc = gpu_avx2_check_disjoint(x, bytes, result, sizeof(double))) != GPU_AVX2_OK)
        return rc;
    job.x = x;
    job.n = n;
    job.op = op;
    parts = gpu_avx2_parts(threads, n, REDUCE_GRAIN);
    gpu_avx2_run(parts, reduce_part, &job);
    *result = combine(&job, parts);
    return GPU_AVX2_OK;
}

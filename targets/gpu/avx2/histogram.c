/*
 * histogram.c -- counts[b] = #{i : keys[i] % nbins == b}, modulo 2^32.
 *
 * Bins are computed 8 keys at a time in AVX2, then counted with scalar
 * increments (AVX2 has no conflict-free scatter).  Bin of a key: a mask when
 * nbins is a power of two; otherwise the quotient in double precision,
 * q = floor(fma(key, 1/nbins, 2^-19)), which is exact for 32-bit keys and
 * nbins <= 2^16 (the proof is at mod4), and key - q * nbins.  The few keys of
 * a batch's scalar tail use Lemire's direct remainder (D. Lemire, O. Kaser,
 * N. Kurz, "Faster Remainder by Direct Computation", Software: Practice and
 * Experience, 2019): with M = floor((2^64 - 1) / d) + 1,
 * key % d = ((M * key mod 2^64) * d) >> 64, exact for all 32-bit values.
 *
 * Increments of the same few counters back to back form a dependency chain,
 * so for nbins <= SPLIT_MAX_BINS consecutive keys go to COPIES interleaved
 * sub-histograms (small enough to stay in L1) that are folded at the end
 * (measured: 3 bins 1.7x faster; beyond L1 the copies cost more than they
 * save).  Every part (thread) counts into its own zeroed private histogram;
 * the caller adds them up in part order.  Counting is exact (wrapping
 * uint32 addition is associative), so results do not depend on the thread
 * count.
 *
 * Threads: parts of at least max(HIST_GRAIN, 4 * nbins) keys, so zeroing
 * and merging the private histograms stays small next to the counting.
 */
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define HIST_GRAIN ((size_t)1 << 17) /* keys per thread at least */
#define COPIES 4                     /* sub-histograms for small nbins */
#define SPLIT_MAX_BINS 1024          /* 4 copies of 1024 counts: 16 KiB, in L1 */
#define BATCH 256                    /* bins computed per batch */

struct hist_job {
    const uint32_t *keys;
    size_t n;
    uint32_t nbins, mask; /* mask = nbins - 1 when nbins is a power of two */
    uint64_t magic;       /* Lemire's M for nbins */
    size_t copies;        /* sub-histograms per part */
    uint32_t *priv;       /* parts x copies x nbins counters, zeroed */
};

static uint32_t fastmod(uint32_t key, uint64_t magic, uint32_t d)
{
    uint64_t low = magic * key;
    return (uint32_t)(((unsigned __int128)low * d) >> 64);
}

/* key % d for 4 keys, 3 <= d <= 2^16, in double: q = floor(fma(k, 1/d, 2^-19)) is
 * floor(k / d) exactly (the fma lands within 2^-21 + 2^-23 of k / d + 2^-19, above
 * k / d and below the next integer, as frac(k / d) <= 1 - 2^-16), and k - q d is
 * exact (integers below 2^32). */
static __m128i mod4(__m128i k, __m256d inv, __m256d d)
{
    __m128i flip = _mm_xor_si128(k, _mm_set1_epi32(INT32_MIN)); /* k - 2^31 as int32 */
    __m256d kd = _mm256_add_pd(_mm256_cvtepi32_pd(flip), _mm256_set1_pd(2147483648.0));
    __m256d q = _mm256_floor_pd(_mm256_fmadd_pd(kd, inv, _mm256_set1_pd(0x1p-19)));
    return _mm256_cvttpd_epi32(_mm256_fnmadd_pd(q, d, kd));
}

/* bins[i] = keys[i] % nbins for i < n (n <= BATCH). */
static void bins_of(const struct hist_job *job, const uint32_t *keys, size_t n, uint32_t *bins)
{
    size_t i = 0;
    assert(n <= BATCH);
    if (job->mask != 0 || job->nbins == 1) {
        __m256i m = _mm256_set1_epi32((int)job->mask);
        for (; i + 8 <= n; i += 8) {
            __m256i k = _mm256_loadu_si256((const __m256i *)(keys + i));
            _mm256_storeu_si256((__m256i *)(bins + i), _mm256_and_si256(k, m));
        }
        for (; i < n; i++)
            bins[i] = keys[i] & job->mask;
    } else {
        __m256d inv = _mm256_set1_pd(1.0 / job->nbins), d = _mm256_set1_pd(job->nbins);
        for (; i + 8 <= n; i += 8) {
            __m128i k0 = _mm_loadu_si128((const __m128i *)(keys + i));
            __m128i k1 = _mm_loadu_si128((const __m128i *)(keys + i + 4));
            _mm_storeu_si128((__m128i *)(bins + i), mod4(k0, inv, d));
            _mm_storeu_si128((__m128i *)(bins + i + 4), mod4(k1, inv, d));
        }
        for (; i < n; i++)
            bins[i] = fastmod(keys[i], job->magic, job->nbins);
    }
}

/* Count n keys into the copies of hist (copies x nbins counters). */
static void count_range(const struct hist_job *job, const uint32_t *keys, size_t n,
                        uint32_t *hist)
{
    uint32_t bins[BATCH];
    size_t stride = job->copies == COPIES ? job->nbins : 0; /* 0: all in copy 0 */
    for (size_t i = 0; i < n; i += BATCH) {
        size_t m = GPU_AVX2_MIN(BATCH, n - i), j = 0;
        bins_of(job, keys + i, m, bins);
        for (; j + 4 <= m; j += 4) {
            hist[bins[j]]++;
            hist[stride + bins[j + 1]]++;
            hist[2 * stride + bins[j + 2]]++;
            hist[3 * stride + bins[j + 3]]++;
        }
        for (; j < m; j++)
            hist[bins[j]]++;
    }
}

static void hist_part(void *ctx, size_t part, size_t parts)
{
    struct hist_job *job = ctx;
    size_t lo, hi, nb = job->nbins;
    uint32_t *hist = job->priv + part * job->copies * nb;
    gpu_avx2_split(job->n, parts, part, 8, &lo, &hi);
    count_range(job, job->keys + lo, hi - lo, hist);
    for (size_t c = 1; c < job->copies; c++)
        for (size_t b = 0; b < nb; b++)
            hist[b] += hist[c * nb + b];
}

static void merge(const struct hist_job *job, size_t parts, uint32_t *counts)
{
    size_t nb = job->nbins, stride = job->copies * nb;
    memcpy(counts, job->priv, nb * sizeof(uint32_t));
    for (size_t p = 1; p < parts; p++)
        for (size_t b = 0; b < nb; b++)
            counts[b] += job->priv[p * stride + b];
}

static int check_hist(const uint32_t *keys, size_t n, size_t nbins, const uint32_t *counts)
{
    size_t kbytes;
    int rc;
    if (keys == NULL || counts == NULL)
        return GPU_AVX2_ERR_NULL;
    if (n == 0)
        return GPU_AVX2_ERR_EMPTY;
    if (nbins < 1 || nbins > GPU_AVX2_MAX_BINS)
        return GPU_AVX2_ERR_NBINS;
    if ((rc = gpu_avx2_bytes(n, 1, sizeof(uint32_t), &kbytes)) != GPU_AVX2_OK ||
        (rc = gpu_avx2_check_align(keys, sizeof(uint32_t))) != GPU_AVX2_OK ||
        (rc = gpu_avx2_check_align(counts, sizeof(uint32_t))) != GPU_AVX2_OK)
        return rc;
    return gpu_avx2_check_disjoint(keys, kbytes, counts, nbins * sizeof(uint32_t));
}

int gpu_avx2_histogram(const uint32_t *keys, size_t n, size_t nbins, uint32_t *counts,
                       int threads)
{
    struct hist_job job;
    size_t parts;
    int rc;
    if ((rc = gpu_avx2_check_common(threads)) != GPU_AVX2_OK ||
        (rc = check_hist(keys, n, nbins, counts)) != GPU_AVX2_OK)
        return rc;
    job.keys = keys;
    job.n = n;
    job.nbins = (uint32_t)nbins;
    job.mask = (nbins & (nbins - 1)) == 0 ? (uint32_t)(nbins - 1) : 0;
    job.magic = UINT64_MAX / nbins + 1;
    job.copies = nbins <= SPLIT_MAX_BINS ? COPIES : 1;
    parts = gpu_avx2_parts(threads, n, HIST_GRAIN > 4 * nbins ? HIST_GRAIN : 4 * nbins);
    job.priv = calloc(parts * job.copies * nbins, sizeof(uint32_t));
    if (job.priv == NULL)
        return GPU_AVX2_ERR_NOMEM;
    gpu_avx2_run(parts, hist_part, &job);
    merge(&job, parts, counts);
    free(job.priv);
    return GPU_AVX2_OK;
}

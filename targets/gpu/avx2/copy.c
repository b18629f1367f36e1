/*
 * copy.c -- dst[i] = src[i] for n floats: the bandwidth limit the other
 * operations are measured against (every byte read once and written once).
 *
 * Below STREAM_MIN_BYTES the copy is memcpy (the data is likely cached and
 * will be read again soon).  From there on the destination is written with
 * non-temporal stores (vmovntps): a few scalar stores until dst is 32-byte
 * aligned, then 128 bytes per iteration (unaligned loads, aligned streaming
 * stores), a scalar tail, and an sfence so the weakly ordered stores are
 * visible before the part reports done.  Streaming skips the read-for-ownership
 * of the destination lines, so memory moves 2 bytes per byte copied, not 3.
 *
 * Threads: parts of at least COPY_GRAIN floats, boundaries at multiples of
 * 16 floats (64 bytes: with dst from aligned_empty, no cache line is written
 * by two threads).
 */
#include <immintrin.h>
#include <string.h>

#include "internal.h"

#define STREAM_MIN_BYTES ((size_t)8 << 20) /* streaming above 8 MiB */
#define COPY_GRAIN ((size_t)1 << 18)       /* floats per thread at least (1 MiB) */

struct copy_job {
    const float *src;
    float *dst;
    size_t n;
    int stream;
};

static void stream_range(const float *src, float *dst, size_t n)
{
    size_t i = 0;
    for (; i < n && ((uintptr_t)(dst + i) & 31) != 0; i++)
        dst[i] = src[i];
    for (; i + 32 <= n; i += 32) {
        __m256 v0 = _mm256_loadu_ps(src + i), v1 = _mm256_loadu_ps(src + i + 8);
        __m256 v2 = _mm256_loadu_ps(src + i + 16), v3 = _mm256_loadu_ps(src + i + 24);
        _mm256_stream_ps(dst + i, v0);
        _mm256_stream_ps(dst + i + 8, v1);
        _mm256_stream_ps(dst + i + 16, v2);
        _mm256_stream_ps(dst + i + 24, v3);
    }
    for (; i < n; i++)
        dst[i] = src[i];
    _mm_sfence();
}

static void copy_part(void *ctx, size_t part, size_t parts)
{
    const struct copy_job *job = ctx;
    size_t lo, hi;
    gpu_avx2_split(job->n, parts, part, 16, &lo, &hi);
    if (job->stream)
        stream_range(job->src + lo, job->dst + lo, hi - lo);
    else
        memcpy(job->dst + lo, job->src + lo, (hi - lo) * sizeof(float));
}

int gpu_avx2_copy(const float *src, float *dst, size_t n, int threads)
{
    struct copy_job job = {src, dst, n, 0};
    size_t bytes;
    int rc;
    if ((rc = gpu_avx2_check_common(threads)) != GPU_AVX2_OK)
        return rc;
    if (src == NULL || dst == NULL)
        return GPU_AVX2_ERR_NULL;
    if (n == 0)
        return GPU_AVX2_ERR_EMPTY;
    if ((rc = gpu_avx2_bytes(n, 1, sizeof(float), &bytes)) != GPU_AVX2_OK ||
        (rc = gpu_avx2_check_align(src, sizeof(float))) != GPU_AVX2_OK ||
        (rc = gpu_avx2_check_align(dst, sizeof(float))) != GPU_AVX2_OK ||
        (rc = gpu_avx2_check_disjoint(src, bytes, dst, bytes)) != GPU_AVX2_OK)
        return rc;
    job.stream = bytes >= STREAM_MIN_BYTES;
    gpu_avx2_run(gpu_avx2_parts(threads, n, COPY_GRAIN), copy_part, &job);
    return GPU_AVX2_OK;
}

/*
 * transpose.c -- out (cols x rows) = transpose of in (rows x cols), float32.
 *
 * Cache blocking: the matrix is walked in tiles of TILE columns by `tr`
 * rows (32 x 32 floats, 4 KiB; 16 x 32 when the output is streamed, see
 * below).  A full tile is transposed in 8 x 8 blocks in registers (the usual
 * AVX2 sequence: vunpcklps/vunpckhps, vshufps, vperm2f128, three rounds of 8
 * shuffles) into a contiguous 4 KiB buffer, one 8-row strip of the input at
 * a time, then each of the buffer's rows is written to its output row in one
 * 128-byte burst.  So input lines are read whole while at most 16 of them
 * are live and output lines are written whole, which keeps power-of-two
 * strides (whose rows all fall into the same cache sets) from thrashing.
 * For matrices of STREAM_MIN_BYTES and more whose output rows are 32-byte
 * aligned the bursts are non-temporal stores (no read-for-ownership of the
 * output; an sfence ends each part), and tiles are 16 rows high: 16 input
 * rows read side by side keep the hardware prefetchers ahead where 32 do not
 * (measured: 4000 x 4000 twice as fast, in-cache sizes faster with 32).
 * Partial tiles at the right and bottom
 * edges go through 8 x 8 blocks straight to the output and an element by
 * element copy of the ragged rest (cols % 8, rows % 8), so any rows,
 * cols >= 1 work.
 *
 * Threads: the rows of `in` (= columns of `out`) are split into parts of
 * whole tiles, at least TRANSPOSE_GRAIN elements each; parts write disjoint
 * elements, and the result is a permutation, exact for any thread count.
 */
#include <immintrin.h>

#include "internal.h"

#define TILE 32
#define TRANSPOSE_GRAIN ((size_t)1 << 16)  /* elements per thread at least */
#define STREAM_MIN_BYTES ((size_t)8 << 20) /* non-temporal output from 8 MiB */

struct transpose_job {
    const float *in;
    float *out;
    size_t rows, cols;
    int stream; /* full tiles written with non-temporal stores */
    size_t tr;  /* rows per tile: TILE, or TILE / 2 when streaming */
};

/* out[c * ldo + r] = in[r * ldi + c] for an 8 x 8 block. */
static void block8x8(const float *in, size_t ldi, float *out, size_t ldo)
{
    __m256 r0 = _mm256_loadu_ps(in + 0 * ldi), r1 = _mm256_loadu_ps(in + 1 * ldi);
    __m256 r2 = _mm256_loadu_ps(in + 2 * ldi), r3 = _mm256_loadu_ps(in + 3 * ldi);
    __m256 r4 = _mm256_loadu_ps(in + 4 * ldi), r5 = _mm256_loadu_ps(in + 5 * ldi);
    __m256 r6 = _mm256_loadu_ps(in + 6 * ldi), r7 = _mm256_loadu_ps(in + 7 * ldi);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    _mm256_storeu_ps(out + 0 * ldo, _mm256_permute2f128_ps(s0, s4, 0x20));
    _mm256_storeu_ps(out + 1 * ldo, _mm256_permute2f128_ps(s1, s5, 0x20));
    _mm256_storeu_ps(out + 2 * ldo, _mm256_permute2f128_ps(s2, s6, 0x20));
    _mm256_storeu_ps(out + 3 * ldo, _mm256_permute2f128_ps(s3, s7, 0x20));
    _mm256_storeu_ps(out + 4 * ldo, _mm256_permute2f128_ps(s0, s4, 0x31));
    _mm256_storeu_ps(out + 5 * ldo, _mm256_permute2f128_ps(s1, s5, 0x31));
    _mm256_storeu_ps(out + 6 * ldo, _mm256_permute2f128_ps(s2, s6, 0x31));
    _mm256_storeu_ps(out + 7 * ldo, _mm256_permute2f128_ps(s3, s7, 0x31));
}

/* Element by element for rows [r0, r1) x columns [c0, c1). */
static void scalar_rect(const struct transpose_job *job, size_t r0, size_t r1, size_t c0,
                        size_t c1)
{
    for (size_t r = r0; r < r1; r++)
        for (size_t c = c0; c < c1; c++)
            job->out[c * job->rows + r] = job->in[r * job->cols + c];
}

/* A full tile (tr rows x TILE columns) at (r0, c0), through a contiguous buffer. */
static void full_tile(const struct transpose_job *job, size_t r0, size_t c0)
{
    _Alignas(64) float buf[TILE * TILE];
    const float *in = job->in + r0 * job->cols + c0;
    size_t tr = job->tr;
    assert(tr % 8 == 0 && tr <= TILE);
    for (size_t r = 0; r < tr; r += 8)
        for (size_t c = 0; c < TILE; c += 8)
            block8x8(in + r * job->cols + c, job->cols, buf + c * tr + r, tr);
    for (size_t c = 0; c < TILE; c++) {
        float *dst = job->out + (c0 + c) * job->rows + r0;
        for (size_t r = 0; r < tr; r += 8) {
            __m256 v = _mm256_load_ps(buf + c * tr + r);
            if (job->stream)
                _mm256_stream_ps(dst + r, v);
            else
                _mm256_storeu_ps(dst + r, v);
        }
    }
}

/* A partial tile: rows [r0, r1) x columns [c0, c1), 8 x 8 blocks plus ragged edges. */
static void edge_tile(const struct transpose_job *job, size_t r0, size_t r1, size_t c0, size_t c1)
{
    size_t rfull = r0 + (r1 - r0) / 8 * 8, cfull = c0 + (c1 - c0) / 8 * 8;
    for (size_t r = r0; r < rfull; r += 8)
        for (size_t c = c0; c < cfull; c += 8)
            block8x8(job->in + r * job->cols + c, job->cols, job->out + c * job->rows + r,
                     job->rows);
    scalar_rect(job, r0, rfull, cfull, c1);
    scalar_rect(job, rfull, r1, c0, c1);
}

static void transpose_part(void *ctx, size_t part, size_t parts)
{
    const struct transpose_job *job = ctx;
    size_t lo, hi;
    gpu_avx2_split(job->rows, parts, part, TILE, &lo, &hi);
    for (size_t r = lo; r < hi; r += job->tr)
        for (size_t c = 0; c < job->cols; c += TILE) {
            if (r + job->tr <= hi && c + TILE <= job->cols)
                full_tile(job, r, c);
            else
                edge_tile(job, r, GPU_AVX2_MIN(r + job->tr, hi), c,
                          GPU_AVX2_MIN(c + TILE, job->cols));
        }
    if (job->stream)
        _mm_sfence();
}

int gpu_avx2_transpose(const float *in, size_t rows, size_t cols, float *out, int threads)
{
    struct transpose_job job = {in, out, rows, cols, 0, TILE};
    size_t bytes;
    int rc;
    if ((rc = gpu_avx2_check_common(threads)) != GPU_AVX2_OK)
        return rc;
    if (in == NULL || out == NULL)
        return GPU_AVX2_ERR_NULL;
    if (rows == 0 || cols == 0)
        return GPU_AVX2_ERR_EMPTY;
    if ((rc = gpu_avx2_bytes(rows, cols, sizeof(float), &bytes)) != GPU_AVX2_OK ||
        (rc = gpu_avx2_check_align(in, sizeof(float))) != GPU_AVX2_OK ||
        (rc = gpu_avx2_check_align(out, sizeof(float))) != GPU_AVX2_OK ||
        (rc = gpu_avx2_check_disjoint(in, bytes, out, bytes)) != GPU_AVX2_OK)
        return rc;
    job.stream = bytes >= STREAM_MIN_BYTES && rows % 8 == 0 && ((uintptr_t)out & 31) == 0;
    job.tr = job.stream ? TILE / 2 : TILE;
    gpu_avx2_run(gpu_avx2_parts(threads, rows * cols, TRANSPOSE_GRAIN), transpose_part, &job);
    return GPU_AVX2_OK;
}

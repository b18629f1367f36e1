/*
 * sgemm_kernel.c -- the SGEMM micro-kernel: a 6 x 16 tile of C held in
 * twelve ymm accumulators (6 rows x 2 vectors of 8), updated per k step by
 * two loads of packed B, six broadcasts of packed A and twelve FMAs -- the
 * register blocking of the BLIS Haswell/Zen sgemm kernel (15 of 16 ymm
 * registers in use, 12 independent FMA chains to cover the FMA latency of
 * two pipes).
 *
 * Every C element is the same sequence of operations wherever its tile
 * lies (edges run on zero-padded panels): a chain of FMAs from 0 over the
 * kc steps, then one add to C (or a store for the first k block).  That is
 * what makes SGEMM bitwise independent of the thread count.
 */
#include <immintrin.h>

#include "internal.h"

#define MR GPU_AVX2_MR
#define NR GPU_AVX2_NR

#define FMA_ROW(i)                                                                           \
    do {                                                                                     \
        __m256 ai = _mm256_broadcast_ss(a + (i));                                            \
        c##i##0 = _mm256_fmadd_ps(ai, b0, c##i##0);                                          \
        c##i##1 = _mm256_fmadd_ps(ai, b1, c##i##1);                                          \
    } while (0)

#define STORE_ROW(i)                                                                         \
    do {                                                                                     \
        _mm256_store_ps(tile + (i) * NR, c##i##0);                                           \
        _mm256_store_ps(tile + (i) * NR + 8, c##i##1);                                       \
    } while (0)

/* Write (or add) the mr x nr valid part of the tile into c. */
static void put_tile(const float *tile, float *c, size_t ldc, size_t mr, size_t nr,
                     int accumulate)
{
    for (size_t i = 0; i < mr; i++, c += ldc, tile += NR) {
        if (nr == NR) {
            __m256 t0 = _mm256_load_ps(tile), t1 = _mm256_load_ps(tile + 8);
            if (accumulate) {
                t0 = _mm256_add_ps(_mm256_loadu_ps(c), t0);
                t1 = _mm256_add_ps(_mm256_loadu_ps(c + 8), t1);
            }
            _mm256_storeu_ps(c, t0);
            _mm256_storeu_ps(c + 8, t1);
        } else {
            for (size_t j = 0; j < nr; j++)
                c[j] = accumulate ? c[j] + tile[j] : tile[j];
        }
    }
}

void gpu_avx2_kernel(size_t kc, const float *a, const float *b, float *c, size_t ldc,
                     size_t mr, size_t nr, int accumulate)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    _Alignas(32) float tile[MR * NR];
    assert(mr >= 1 && mr <= MR && nr >= 1 && nr <= NR);
    assert(((uintptr_t)b & 31) == 0);
    for (size_t p = 0; p < kc; p++, a += MR, b += NR) {
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
        FMA_ROW(0);
        FMA_ROW(1);
        FMA_ROW(2);
        FMA_ROW(3);
        FMA_ROW(4);
        FMA_ROW(5);
    }
    STORE_ROW(0);
    STORE_ROW(1);
    STORE_ROW(2);
    STORE_ROW(3);
    STORE_ROW(4);
    STORE_ROW(5);
    put_tile(tile, c, ldc, mr, nr, accumulate);
}

/*
 * sgemm_pack.c -- packing of A and B blocks for the SGEMM micro-kernel
 * (the layout of Goto & van de Geijn, "Anatomy of High-Performance Matrix
 * Multiplication", ACM TOMS 2008, as in BLIS).
 *
 * A (mc x kc) becomes ceil(mc / MR) panels, each kc steps of MR floats (the
 * MR rows of one k column, contiguous), so the kernel broadcasts them one by
 * one.  B (kc x nc) becomes ceil(nc / NR) panels, each kc steps of NR floats
 * (one row segment), so the kernel loads two ymm per step.  Rows/columns past
 * the matrix edge are zero, so edge tiles run the same kernel and the padded
 * lanes contribute nothing.
 */
#include <immintrin.h>
#include <string.h>

#include "internal.h"

#define MR GPU_AVX2_MR
#define NR GPU_AVX2_NR

static void pack_a_panel(const float *a, size_t lda, size_t mr, size_t kc, float *dst)
{
    assert(mr >= 1 && mr <= MR);
    if (mr < MR)
        memset(dst, 0, kc * MR * sizeof(float));
    for (size_t i = 0; i < mr; i++) {
        const float *row = a + i * lda;
        for (size_t p = 0; p < kc; p++)
            dst[p * MR + i] = row[p];
    }
}

void gpu_avx2_pack_a(const float *a, size_t lda, size_t mc, size_t kc, float *dst)
{
    for (size_t i = 0; i < mc; i += MR)
        pack_a_panel(a + i * lda, lda, GPU_AVX2_MIN(MR, mc - i), kc, dst + i * kc);
}

static void pack_b_panel(const float *b, size_t ldb, size_t kc, size_t nr, float *dst)
{
    assert(nr >= 1 && nr <= NR);
    for (size_t p = 0; p < kc; p++, b += ldb, dst += NR) {
        if (nr == NR) {
            _mm256_store_ps(dst, _mm256_loadu_ps(b));
            _mm256_store_ps(dst + 8, _mm256_loadu_ps(b + 8));
        } else {
            size_t j = 0;
            for (; j < nr; j++)
                dst[j] = b[j];
            for (; j < NR; j++)
                dst[j] = 0.0f;
        }
    }
}

void gpu_avx2_pack_b(const float *b, size_t ldb, size_t kc, size_t nc, float *dst)
{
    assert(((uintptr_t)dst & 31) == 0);
    for (size_t j = 0; j < nc; j += NR)
        pack_b_panel(b + j, ldb, kc, GPU_AVX2_MIN(NR, nc - j), dst + j * kc);
}

/*
 * internal.h -- declarations shared between the AVX2 sources but not exported
 * to Python: argument checks (check.c), the thread pool (parallel.c) and the
 * pieces of SGEMM (sgemm_pack.c, sgemm_kernel.c).
 */
#ifndef GPU_AVX2_INTERNAL_H
#define GPU_AVX2_INTERNAL_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include "avx2/gpu_avx2.h"

#define GPU_AVX2_MIN(a, b) ((a) < (b) ? (a) : (b))

/* ---- check.c: argument validation (each returns GPU_AVX2_OK or an error) ---- */

/* *out = a * b * elem, or GPU_AVX2_ERR_OVERFLOW when that exceeds size_t. */
int gpu_avx2_bytes(size_t a, size_t b, size_t elem, size_t *out);
/* GPU_AVX2_ERR_ALIGN when p is not a multiple of align (a power of two). */
int gpu_avx2_check_align(const void *p, size_t align);
/* GPU_AVX2_ERR_OVERLAP when [a, a + abytes) and [b, b + bbytes) intersect;
 * GPU_AVX2_ERR_OVERFLOW when either range wraps the address space. */
int gpu_avx2_check_disjoint(const void *a, size_t abytes, const void *b, size_t bbytes);
/* GPU_AVX2_ERR_THREADS unless 0 <= threads <= GPU_AVX2_MAX_THREADS;
 * GPU_AVX2_ERR_UNSUPPORTED when the CPU lacks AVX2/FMA. */
int gpu_avx2_check_common(int threads);

/* ---- parallel.c: partitioning over a persistent thread pool ---- */

/* One part of a parallel job: work on part `part` of `parts`. */
typedef void (*gpu_avx2_part_fn)(void *ctx, size_t part, size_t parts);

/* How many parts to split `work` units into: the requested thread count
 * (0 = online CPUs, counted once per process), at most work / grain (at
 * least 1). */
size_t gpu_avx2_parts(int threads, size_t work, size_t grain);
/* Run fn(ctx, i, parts) for i in [0, parts), each part once, on the calling
 * thread and the pool's workers (all on the caller when parts == 1, when
 * there are no workers, or when called from inside a part); return when all
 * have run, their writes visible to the caller.  Thread-safe: concurrent
 * calls run one after the other. */
void gpu_avx2_run(size_t parts, gpu_avx2_part_fn fn, void *ctx);
/* The half-open range [*lo, *hi) of part `part` of `parts` over [0, n),
 * contiguous, in order, with inner boundaries at multiples of `align`. */
void gpu_avx2_split(size_t n, size_t parts, size_t part, size_t align, size_t *lo,
                    size_t *hi);

/* ---- sgemm_pack.c / sgemm_kernel.c ---- */

#define GPU_AVX2_MR 6  /* micro-tile rows of C (A panel height) */
#define GPU_AVX2_NR 16 /* micro-tile columns of C (B panel width, 2 ymm) */

/* Pack rows [0, mc) x columns [0, kc) of a (stride lda) into panels of MR
 * rows, each stored k-major (kc x MR), zero-padded to a multiple of MR. */
void gpu_avx2_pack_a(const float *a, size_t lda, size_t mc, size_t kc, float *dst);
/* Pack rows [0, kc) x columns [0, nc) of b (stride ldb) into panels of NR
 * columns, each stored k-major (kc x NR), zero-padded to a multiple of NR. */
void gpu_avx2_pack_b(const float *b, size_t ldb, size_t kc, size_t nc, float *dst);
/* One micro-tile: acc = sum over p < kc of a[p*MR + i] * b[p*NR + j]; then
 * c[i*ldc + j] = acc (accumulate == 0) or += acc, for i < mr, j < nr. */
void gpu_avx2_kernel(size_t kc, const float *a, const float *b, float *c, size_t ldc,
                     size_t mr, size_t nr, int accumulate);

#endif /* GPU_AVX2_INTERNAL_H */

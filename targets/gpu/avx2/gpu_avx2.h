/*
 * gpu_avx2.h -- public API of the AVX2 CPU implementation of the gpu plugin's
 * operations (the same ones the OpenCL kernels run; see plugins/gpu/api.py).
 *
 * Operations (float32 unless said; arrays are contiguous, row-major):
 *   gpu_avx2_reduce     sum / min / max of n floats       (reduce.c)
 *   gpu_avx2_scan       exclusive / inclusive prefix sums  (scan.c)
 *                       of uint32, wrapping modulo 2^32
 *   gpu_avx2_histogram  counts of keys % nbins             (histogram.c)
 *   gpu_avx2_transpose  rows x cols -> cols x rows         (transpose.c)
 *   gpu_avx2_sgemm      C(m x n) = A(m x k) . B(k x n)     (sgemm*.c)
 *   gpu_avx2_copy       streaming copy                     (copy.c)
 *
 * Status convention: every entry point returns GPU_AVX2_OK (0) or one of the
 * negative GPU_AVX2_ERR_* codes below, and it validates all of its arguments
 * (NULL pointers, zero sizes, size products that overflow size_t, pointers
 * not aligned to their element, overlapping input and output, out-of-range
 * modes, thread counts) before it touches any memory; gpu_avx2_strerror()
 * gives a sentence for each code.  On an error the outputs are unchanged.
 *
 * Threads: the last argument of every operation is the number of POSIX
 * threads to use: 0 means the number of online CPUs, 1..GPU_AVX2_MAX_THREADS
 * an explicit count.  It is an upper bound: small inputs use fewer threads
 * (each thread gets at least a fixed grain of work, see each .c file).
 * Parts run on a persistent pool of workers (parallel.c), created on first
 * use; calls are thread-safe and run one at a time, and threads = 0 is the
 * online CPU count, read once per process.  Results do
 * not depend on the thread count, except reduce's sum, whose rounding may
 * change within the bound stated in reduce.c (sgemm is bitwise identical).
 *
 * The text between the LAB-CDEF markers is fed verbatim to cffi's cdef()
 * parser, so it must contain only plain declarations.
 */
#ifndef GPU_AVX2_H
#define GPU_AVX2_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* LAB-CDEF-BEGIN */
enum {
    GPU_AVX2_OK = 0,
    GPU_AVX2_ERR_NULL = -1,
    GPU_AVX2_ERR_EMPTY = -2,
    GPU_AVX2_ERR_OVERFLOW = -3,
    GPU_AVX2_ERR_ALIGN = -4,
    GPU_AVX2_ERR_OVERLAP = -5,
    GPU_AVX2_ERR_OP = -6,
    GPU_AVX2_ERR_MODE = -7,
    GPU_AVX2_ERR_NBINS = -8,
    GPU_AVX2_ERR_THREADS = -9,
    GPU_AVX2_ERR_NOMEM = -10,
    GPU_AVX2_ERR_UNSUPPORTED = -11
};

enum { GPU_AVX2_SUM = 0, GPU_AVX2_MIN = 1, GPU_AVX2_MAX = 2 };
enum { GPU_AVX2_EXCLUSIVE = 0, GPU_AVX2_INCLUSIVE = 1 };
enum { GPU_AVX2_MAX_BINS = 65536, GPU_AVX2_MAX_THREADS = 256 };

/* 1 when this CPU runs AVX2 and FMA instructions, else 0. */
int gpu_avx2_supported(void);
/* The number of online CPUs (what threads = 0 means), at least 1. */
int gpu_avx2_online_cpus(void);
/* A sentence for a status code (never NULL; unknown codes get one too). */
const char *gpu_avx2_strerror(int status);

/* *result = sum, min or max of x[0..n-1].  min/max: exact; any NaN input
 * makes the result NaN.  sum: accumulated in double (bound in reduce.c). */
int gpu_avx2_reduce(const float *x, size_t n, int op, double *result, int threads);

/* Prefix sums modulo 2^32: exclusive out[0] = 0, out[i] = in[0]+..+in[i-1];
 * inclusive adds in[i].  out == in (in place) is allowed; any other overlap
 * is GPU_AVX2_ERR_OVERLAP. */
int gpu_avx2_scan(const uint32_t *in, uint32_t *out, size_t n, int inclusive,
                  int threads);

/* counts[b] = number of i with keys[i] % nbins == b, modulo 2^32, for
 * 1 <= nbins <= GPU_AVX2_MAX_BINS; counts must not overlap keys. */
int gpu_avx2_histogram(const uint32_t *keys, size_t n, size_t nbins, uint32_t *counts,
                       int threads);

/* out[c * rows + r] = in[r * cols + c]; out must not overlap in. */
int gpu_avx2_transpose(const float *in, size_t rows, size_t cols, float *out, int threads);

/* c = a . b with a m x k, b k x n, c m x n, all row-major and dense;
 * c must not overlap a or b. */
int gpu_avx2_sgemm(const float *a, const float *b, float *c, size_t m, size_t n, size_t k,
                   int threads);

/* dst[i] = src[i]; non-temporal stores for large n; no overlap allowed. */
int gpu_avx2_copy(const float *src, float *dst, size_t n, int threads);
/* LAB-CDEF-END */

#ifdef __cplusplus
}
#endif

#endif /* GPU_AVX2_H */

/*
 * sgemm.c -- C (m x n) = A (m x k) . B (k x n), float32, row-major, dense.
 *
 * The five loops of Goto & van de Geijn ("Anatomy of High-Performance Matrix
 * Multiplication", ACM TOMS 2008) as BLIS orders them:
 *   jc over n by NC   -- a KC x NC block of B is packed (L3-sized)
 *   pc over k by KC   -- the k block: first block stores C, later ones add
 *   ic over m by MC   -- an MC x KC block of A is packed (L2-sized)
 *   jr over nc by NR  -- one KC x NR panel of B stays in L1
 *   ir over mc by MR  -- the 6 x 16 micro-kernel (sgemm_kernel.c)
 * Packing is in sgemm_pack.c.  Edges (m % 6, n % 16, k % KC) run the same
 * kernel on zero-padded panels, so any m, n, k >= 1 work.
 *
 * Error: every C element is one FMA chain per k block plus one add per
 * block, i.e. about k roundings, within api.gemm_tolerance.
 *
 * Threads: C is cut into parts along its longer side (rows in multiples of
 * MR, or columns in multiples of NR), at least SGEMM_GRAIN multiply-adds
 * each; each part runs the whole blocked algorithm on its sub-matrices with
 * its own packing buffers (B is packed once per part: O(k n) next to
 * O(m k n / T) work).  Each C element is computed by the same operations in
 * any partition, so results are bitwise independent of the thread count.
 */
#include <stdlib.h>

#include "internal.h"

#define MR GPU_AVX2_MR
#define NR GPU_AVX2_NR
#define KC 256                       /* k block: a KC x NR B panel is 16 KiB (L1) */
#define MC 144                       /* m block: MC x KC of A is 144 KiB (L2) */
#define NC 3072                      /* n block: KC x NC of B is 3 MiB (L3) */
#define SGEMM_GRAIN ((size_t)1 << 20) /* multiply-adds per thread at least */

struct gemm_view {
    const float *a, *b;
    float *c;
    size_t m, n, k, lda, ldb, ldc;
};

struct gemm_job {
    struct gemm_view whole;
    int by_rows;       /* split C by rows (else by columns) */
    int failed[GPU_AVX2_MAX_THREADS]; /* part could not get its buffers */
};

static size_t round_up(size_t x, size_t to) { return (x + to - 1) / to * to; }

static void macro_kernel(const struct gemm_view *v, size_t mc, size_t nc, size_t kc,
                         const float *pa, const float *pb, float *c, int accumulate)
{
    for (size_t j = 0; j < nc; j += NR)
        for (size_t i = 0; i < mc; i += MR)
            gpu_avx2_kernel(kc, pa + i * kc, pb + j * kc, c + i * v->ldc + j, v->ldc,
                            GPU_AVX2_MIN(MR, mc - i), GPU_AVX2_MIN(NR, nc - j), accumulate);
}

static void blocked(const struct gemm_view *v, float *pa, float *pb)
{
    for (size_t jc = 0; jc < v->n; jc += NC) {
        size_t nc = GPU_AVX2_MIN(NC, v->n - jc);
        for (size_t pc = 0; pc < v->k; pc += KC) {
            size_t kc = GPU_AVX2_MIN(KC, v->k - pc);
            gpu_avx2_pack_b(v->b + pc * v->ldb + jc, v->ldb, kc, nc, pb);
            for (size_t ic = 0; ic < v->m; ic += MC) {
                size_t mc = GPU_AVX2_MIN(MC, v->m - ic);
                gpu_avx2_pack_a(v->a + ic * v->lda + pc, v->lda, mc, kc, pa);
                macro_kernel(v, mc, nc, kc, pa, pb, v->c + ic * v->ldc + jc, pc > 0);
            }
        }
    }
}

/* Packing buffers sized for this view, 64-byte aligned; 0 on failure. */
static int run_view(const struct gemm_view *v)
{
    size_t kc = GPU_AVX2_MIN(KC, v->k);
    size_t abytes = round_up(round_up(GPU_AVX2_MIN(MC, v->m), MR) * kc * sizeof(float), 64);
    size_t bbytes = round_up(round_up(GPU_AVX2_MIN(NC, v->n), NR) * kc * sizeof(float), 64);
    float *pa = aligned_alloc(64, abytes), *pb = aligned_alloc(64, bbytes);
    if (pa != NULL && pb != NULL)
        blocked(v, pa, pb);
    free(pa);
    free(pb);
    return pa != NULL && pb != NULL;
}

static void gemm_part(void *ctx, size_t part, size_t parts)
{
    struct gemm_job *job = ctx;
    struct gemm_view v = job->whole;
    size_t lo, hi;
    gpu_avx2_split(job->by_rows ? v.m : v.n, parts, part, job->by_rows ? MR : NR, &lo, &hi);
    if (lo == hi)
        return;
    if (job->by_rows) {
        v.a += lo * v.lda;
        v.c += lo * v.ldc;
        v.m = hi - lo;
    } else {
        v.b += lo;
        v.c += lo;
        v.n = hi - lo;
    }
    job->failed[part] = !run_view(&v);
}

static int check_gemm(const float *a, const float *b, const float *c, size_t m, size_t n,
                      size_t k)
{
    size_t ab, bb, cb, flops;
    int rc;
    if (a == NULL || b == NULL || c == NULL)
        return GPU_AVX2_ERR_NULL;
    if (m == 0 || n == 0 || k == 0)
        return GPU_AVX2_ERR_EMPTY;
    if ((rc = gpu_avx2_bytes(m, k, sizeof(float), &ab)) != GPU_AVX2_OK ||
        (rc = gpu_avx2_bytes(k, n, sizeof(float), &bb)) != GPU_AVX2_OK ||
        (rc = gpu_avx2_bytes(m, n, sizeof(float), &cb)) != GPU_AVX2_OK ||
        (rc = gpu_avx2_bytes(m * n, k, 1, &flops)) != GPU_AVX2_OK)
        return rc;
    if ((rc = gpu_avx2_check_align(a, sizeof(float))) != GPU_AVX2_OK ||
        (rc = gpu_avx2_check_align(b, sizeof(float))) != GPU_AVX2_OK ||
        (rc = gpu_avx2_check_align(c, sizeof(float))) != GPU_AVX2_OK ||
        (rc = gpu_avx2_check_disjoint(a, ab, c, cb)) != GPU_AVX2_OK ||
        (rc = gpu_avx2_check_disjoint(b, bb, c, cb)) != GPU_AVX2_OK)
        return rc;
    return GPU_AVX2_OK;
}

int gpu_avx2_sgemm(const float *a, const float *b, float *c, size_t m, size_t n, size_t k,
                   int threads)
{
    struct gemm_job job = {{a, b, c, m, n, k, k, n, n}, m >= n, {0}};
    size_t parts;
    int rc;
    if ((rc = gpu_avx2_check_common(threads)) != GPU_AVX2_OK ||
        (rc = check_gemm(a, b, c, m, n, k)) != GPU_AVX2_OK)
        return rc;
    parts = gpu_avx2_parts(threads, m * n * k, SGEMM_GRAIN);
    parts = GPU_AVX2_MIN(parts, job.by_rows ? (m + MR - 1) / MR : (n + NR - 1) / NR);
    gpu_avx2_run(parts, gemm_part, &job);
    for (size_t i = 0; i < parts; i++)
        if (job.failed[i])
            return GPU_AVX2_ERR_NOMEM;
    return GPU_AVX2_OK;
}

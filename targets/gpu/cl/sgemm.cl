/* sgemm.cl: C (m x n) = A (m x k) @ B (k x n), float32, row-major (portable OpenCL 1.2 C).
 *
 * Algorithm: tiled GEMM with local-memory tiles and register blocking (V. Volkov and
 * J. W. Demmel, "Benchmarking GPUs to Tune Dense Linear Algebra", SC08; C. Nugteren's CLBlast
 * and "Tutorial: OpenCL SGEMM tuning for Kepler", kernels 3-6). A work-group of
 * (TSN / WPTN) x (TSM / WPTM) work-items computes one TSM x TSN tile of C; each work-item
 * holds WPTM x WPTN outputs in registers, at rows tm + i * (TSM / WPTM) and columns
 * tn + j * (TSN / WPTN) of the tile (strided, so neighbouring work-items read neighbouring
 * local words). For each step of TSK along k the work-group loads a TSM x TSK tile of A
 * (stored transposed, As[kk][mm]) and a TSK x TSN tile of B into local memory, coalesced
 * along the rows of A and B, then each work-item does WPTM * WPTN multiply-adds per kk from
 * WPTM + WPTN local loads. Out-of-range elements of edge tiles load as 0 and out-of-range
 * outputs are not stored, so any m, n, k >= 1 work. Each output is summed in k order in
 * float32 (error within k ulps of |A| @ |B|).
 *
 * The grid is one-dimensional in work-groups (group g computes tile g % tiles_n of tile row
 * g / tiles_n), so that tall matrices never exceed a device's per-dimension group limit.
 *
 * Build options (plugins/gpu/cl/params.py): -D TSM, TSN, TSK (tile sizes), -D WPTM, WPTN
 * (outputs per work-item along m and n; divide TSM and TSN). The host keeps
 * TSM * TSK and TSK * TSN multiples of the work-group size and every matrix under 2^31
 * elements (32-bit indices).
 */

#ifndef TSM
#error "sgemm.cl needs -D TSM, TSN, TSK, WPTM, WPTN"
#endif

#define RTSM (TSM / WPTM) /* work-items along m (local dimension 1) */
#define RTSN (TSN / WPTN) /* work-items along n (local dimension 0) */
#define THREADS (RTSM * RTSN)
#define LOADS_A ((TSM * TSK) / THREADS)
#define LOADS_B ((TSK * TSN) / THREADS)

#if (TSM * TSK) % THREADS != 0 || (TSK * TSN) % THREADS != 0
#error "tile sizes must be multiples of the work-group size"
#endif

__kernel void sgemm(uint m, uint n, uint k, __global const float *A, uint aoff,
                    __global const float *B, uint boff, __global float *C, uint coff,
                    uint tiles_n)
{
    __local float As[TSK][TSM + 1];
    __local float Bs[TSK][TSN + 1];
    const uint tn = get_local_id(0);
    const uint tm = get_local_id(1);
    const uint tid = tm * RTSN + tn;
    const uint g = get_group_id(0);
    const uint gn0 = (g % tiles_n) * TSN;
    const uint gm0 = (g / tiles_n) * TSM;
    A += aoff;
    B += boff;
    C += coff;

    float acc[WPTM][WPTN];
    for (uint i = 0; i < WPTM; ++i)
        for (uint j = 0; j < WPTN; ++j)
            acc[i][j] = 0.0f;

    for (uint k0 = 0; k0 < k; k0 += TSK) {
        for (uint l = 0; l < LOADS_A; ++l) {
            const uint e = tid + l * THREADS;
            const uint r = e / TSK, c = e % TSK; /* row of the A tile, column along k */
            const uint gr = gm0 + r, gc = k0 + c;
            As[c][r] = (gr < m && gc < k) ? A[gr * k + gc] : 0.0f;
        }
        for (uint l = 0; l < LOADS_B; ++l) {
            const uint e = tid + l * THREADS;
            const uint r = e / TSN, c = e % TSN; /* row of the B tile (along k), column */
            const uint gr = k0 + r, gc = gn0 + c;
            Bs[r][c] = (gr < k && gc < n) ? B[gr * n + gc] : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);

        for (uint kk = 0; kk < TSK; ++kk) {
            float a[WPTM], b[WPTN];
            for (uint i = 0; i < WPTM; ++i)
                a[i] = As[kk][tm + i * RTSM];
            for (uint j = 0; j < WPTN; ++j)
                b[j] = Bs[kk][tn + j * RTSN];
            for (uint i = 0; i < WPTM; ++i)
                for (uint j = 0; j < WPTN; ++j)
                    acc[i][j] += a[i] * b[j]; /* contracted to an FMA where available */
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    for (uint i = 0; i < WPTM; ++i) {
        const uint r = gm0 + tm + i * RTSM;
        if (r >= m)
            continue;
        for (uint j = 0; j < WPTN; ++j) {
            const uint c = gn0 + tn + j * RTSN;
            if (c < n)
                C[r * n + c] = acc[i][j];
        }
    }
}

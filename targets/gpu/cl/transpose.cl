/* transpose.cl: out (cols x rows) = transpose of a (rows x cols), float32, row-major
 * (portable OpenCL 1.2 C).
 *
 * Algorithm: tiled through local memory (G. Ruetsch and P. Micikevicius, "Optimizing Matrix
 * Transpose in CUDA", NVIDIA, 2009): a work-group of TDIM x TROWS work-items moves one
 * TDIM x TDIM tile; it reads the tile's rows from the input (coalesced along a row), each
 * work-item TDIM / TROWS of them, then writes the tile's columns as rows of the output (again
 * coalesced). The tile has TDIM + 1 columns so that reading a column of it touches TDIM
 * different banks (the padding column against bank conflicts). Edge tiles check every
 * global index, so any rows, cols >= 1 work.
 *
 * The grid is one-dimensional in work-groups (group g is tile g % tiles_c of tile row
 * g / tiles_c) so that tall or wide matrices never exceed a device's limit on work-groups
 * along the second dimension.
 *
 * Build options (plugins/gpu/cl/params.py): -D TDIM=n (tile side), -D TROWS=n (work-items
 * along the second local dimension, divides TDIM). Local size is (TDIM, TROWS). Indices are
 * 32-bit (the host keeps rows * cols under 2^31).
 */

#ifndef TDIM
#error "transpose.cl needs -D TDIM=<tile side>"
#endif
#ifndef TROWS
#define TROWS TDIM
#endif

__kernel void transpose(__global const float *a, uint aoff, __global float *out, uint ooff,
                        uint rows, uint cols, uint tiles_c)
{
    __local float tile[TDIM][TDIM + 1];
    const uint tx = get_local_id(0);
    const uint ty = get_local_id(1);
    const uint g = get_group_id(0);
    const uint c0 = (g % tiles_c) * TDIM; /* first input column of the tile */
    const uint r0 = (g / tiles_c) * TDIM; /* first input row of the tile */
    a += aoff;
    out += ooff;

    for (uint j = ty; j < TDIM; j += TROWS) {
        const uint r = r0 + j, c = c0 + tx;
        if (r < rows && c < cols)
            tile[j][tx] = a[r * cols + c];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint j = ty; j < TDIM; j += TROWS) {
        const uint r = c0 + j, c = r0 + tx; /* output row r (input column), output column c */
        if (r < cols && c < rows)
            out[r * rows + c] = tile[tx][j];
    }
}

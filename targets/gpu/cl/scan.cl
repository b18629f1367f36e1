/* scan.cl: exclusive and inclusive prefix sums of a uint32 vector, wrapping modulo 2^32
 * (portable OpenCL 1.2 C).
 *
 * Algorithm: "reduce, then scan" over tiles of TILE = WG * ITEMS elements, each work-group
 * scanning one tile in local memory (D. Merrill and M. Garland, "Single-pass Parallel Prefix
 * Scan with Decoupled Look-back", NVIDIA 2016, section 2, the three-kernel form; the
 * in-tile scan after M. Harris, S. Sengupta and J. D. Owens, "Parallel Prefix Sum (Scan)
 * with CUDA", GPU Gems 3, ch. 39, with G. E. Blelloch's work-efficient up-sweep/down-sweep,
 * "Prefix Sums and Their Applications", 1990):
 *   1. scan_reduce: each work-group sums its tile into sums[tile];
 *   2. the host scans sums exclusively, recursively with these same kernels (a single tile
 *      is scanned by one scan_tile call);
 *   3. scan_tile: each work-group loads its tile into local memory (coalesced), each
 *      work-item sums ITEMS consecutive entries, a Blelloch scan over the WG work-item sums
 *      gives each its offset, the carry-in sums[tile] is added (the add-back), and the
 *      work-items write their ITEMS entries back scanned; the tile is stored coalesced.
 * The input is read twice and the output written once. Tiles past n read as 0 and are not
 * stored, so any n >= 1 works; scan_tile may run in place (x == y): each work-group reads
 * its whole tile before it writes it.
 *
 * CPU devices (CHUNKED=1) also use scan_chunk_reduce / scan_chunk_apply: the same three
 * steps with one contiguous chunk of the input per work-item instead of one tile per
 * work-group, scanned serially (a CPU runs a work-group's work-items one after another, so
 * a serial scan over a chunk streams memory with no barriers). The host launches at most
 * one tile's worth of work-items, so their sums are scanned by a single scan_tile.
 *
 * Local memory: the tile has one padding word every 32 entries so that work-items reading
 * ITEMS consecutive entries hit different banks (GPU Gems 3, 39.2.3).
 *
 * Build options (plugins/gpu/cl/params.py): -D WG=n (a power of two, the local size),
 * -D ITEMS=n (entries per work-item in a tile). Indices are 32-bit (arrays under 2^31 elements).
 */

#ifndef WG
#error "scan.cl needs -D WG=<work-group size, a power of two>"
#endif
#ifndef ITEMS
#define ITEMS 8
#endif

#define TILE (WG * ITEMS)
#define PAD(i) ((i) + ((i) >> 5))
#define TILE_PADDED (PAD(TILE - 1) + 1)

/* Exclusive Blelloch scan of one value per work-item over the work-group; every
 * work-item must call it. s has WG entries. */
uint group_exclusive_scan(__local uint *s, uint v)
{
    const uint lid = get_local_id(0);
    s[lid] = v;
    /* up-sweep: build partial sums in place */
    for (uint d = 1; d < WG; d <<= 1) {
        barrier(CLK_LOCAL_MEM_FENCE);
        const uint i = (lid + 1) * 2 * d - 1;
        if (i < WG)
            s[i] += s[i - d];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lid == 0)
        s[WG - 1] = 0;
    /* down-sweep: push prefixes back down the tree */
    for (uint d = WG / 2; d >= 1; d >>= 1) {
        barrier(CLK_LOCAL_MEM_FENCE);
        const uint i = (lid + 1) * 2 * d - 1;
        if (i < WG) {
            const uint t = s[i - d];
            s[i - d] = s[i];
            s[i] += t;
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    const uint r = s[lid];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

/* Step 1: sums[g] = x[g*TILE] + ... + x[min((g+1)*TILE, n) - 1] (mod 2^32). */
__kernel void scan_reduce(__global const uint *x, uint xoff, uint n, __global uint *sums)
{
    __local uint scratch[WG];
    const uint lid = get_local_id(0);
    const uint base = get_group_id(0) * TILE;
    x += xoff;
    uint acc = 0;
    for (uint j = 0; j < ITEMS; ++j) {
        const uint i = base + j * WG + lid;
        if (i < n)
            acc += x[i];
    }
    scratch[lid] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint s = WG / 2; s > 0; s >>= 1) {
        if (lid < s)
            scratch[lid] += scratch[lid + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0)
        sums[get_group_id(0)] = scratch[0];
}

/* Step 3: y[i] = carry[g] + (exclusive or inclusive) scan of the tile, for i < n.
 * carry is read only when use_carry != 0 (any valid buffer may be passed otherwise). */
__kernel void scan_tile(__global const uint *x, uint xoff, __global uint *y, uint yoff, uint n,
                        __global const uint *carry, uint use_carry, uint inclusive)
{
    __local uint tile[TILE_PADDED];
    __local uint sums[WG];
    const uint lid = get_local_id(0);
    const uint g = get_group_id(0);
    const uint base = g * TILE;
    x += xoff;
    y += yoff;

    for (uint j = 0; j < ITEMS; ++j) {
        const uint i = j * WG + lid;
        tile[PAD(i)] = base + i < n ? x[base + i] : 0u;
    }
    barrier(CLK_LOCAL_MEM_FENCE);

    const uint first = lid * ITEMS;
    uint acc = 0;
    for (uint j = 0; j < ITEMS; ++j)
        acc += tile[PAD(first + j)];

    uint run = group_exclusive_scan(sums, acc);
    if (use_carry)
        run += carry[g];

    for (uint j = 0; j < ITEMS; ++j) {
        const uint v = tile[PAD(first + j)];
        if (inclusive) {
            run += v;
            tile[PAD(first + j)] = run;
        } else {
            tile[PAD(first + j)] = run;
            run += v;
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);

    for (uint j = 0; j < ITEMS; ++j) {
        const uint i = j * WG + lid;
        if (base + i < n)
            y[base + i] = tile[PAD(i)];
    }
}

/* CPU step 1: sums[w] = sum of chunk w = x[w*chunk .. min((w+1)*chunk, n)) (mod 2^32),
 * w the global id. */
__kernel void scan_chunk_reduce(__global const uint *x, uint xoff, uint n, uint chunk,
                                __global uint *sums)
{
    const uint w = get_global_id(0);
    const uint lo = min(w * chunk, n), hi = min(lo + chunk, n); /* w * chunk < n + chunk */
    x += xoff;
    uint16 acc16 = (uint16)(0u);
    uint i = lo;
    for (; i + 16 <= hi; i += 16)
        acc16 += vload16(0, x + i);
    uint acc = 0;
    for (; i < hi; ++i)
        acc += x[i];
    uint8 a8 = acc16.lo + acc16.hi;
    uint4 a4 = a8.lo + a8.hi;
    uint2 a2 = a4.lo + a4.hi;
    sums[w] = acc + a2.x + a2.y;
}

/* CPU step 3: chunk w of y = its scan (exclusive or inclusive) plus carry[w]. */
__kernel void scan_chunk_apply(__global const uint *x, uint xoff, __global uint *y, uint yoff,
                               uint n, uint chunk, __global const uint *carry, uint inclusive)
{
    const uint w = get_global_id(0);
    const uint lo = min(w * chunk, n), hi = min(lo + chunk, n);
    x += xoff;
    y += yoff;
    uint run = carry[w];
    if (inclusive) {
        for (uint i = lo; i < hi; ++i) {
            run += x[i];
            y[i] = run;
        }
    } else {
        for (uint i = lo; i < hi; ++i) {
            const uint v = x[i];
            y[i] = run;
            run += v;
        }
    }
}

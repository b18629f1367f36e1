/* histogram.cl: counts of keys % nbins over a uint32 vector (portable OpenCL 1.2 C).
 *
 * Algorithm: privatized histograms (R. Shams and R. A. Kennedy, "Efficient Histogram
 * Algorithms for NVIDIA CUDA Compatible Devices", 2007; NVIDIA's "histogram64/256" SDK
 * notes): each work-group counts into its own sub-histograms in local memory, then adds them
 * into the global histogram with one global atomic per non-zero bin.
 *   hist_local: `copies` sub-histograms of nbins counters each (a __local argument, so
 *     nbins and copies need no rebuild); work-item l counts into copy l % copies. With
 *     copies < WG the counts are local atomic_inc (several copies spread contention on
 *     GPUs). With copies == WG (CPU devices, where one work-item at a time runs and a whole
 *     copy per work-item fits) no two work-items share a copy, so plain increments are
 *     race-free and no atomics are needed. The host zeroes `out` before the launch.
 *   hist_global: when even one copy does not fit in local memory, every key is one global
 *     atomic_inc.
 * The bin is k & mask when nbins is a power of two (pow2 != 0), else k % nbins computed
 * without a division: with M = floor((2^64 - 1) / nbins) + 1 (passed in by the host),
 * k % nbins = high 64 bits of ((M * k mod 2^64) * nbins), exact for every 32-bit k and
 * nbins >= 2 (D. Lemire, O. Kaser and N. Kurz, "Faster Remainder by Direct Computation",
 * 2019).
 * Work-items take VEC-wide vectors of keys grid-stride (GPU) or in one contiguous chunk each
 * (CHUNKED=1, CPU), like reduce.cl; work-item 0 takes the trailing n % VEC keys.
 *
 * Build options (plugins/gpu/cl/params.py): -D WG=n (local size, a power of two),
 * -D VEC=1|2|4|8|16, -D CHUNKED=0|1. Indices are 32-bit (arrays under 2^31 elements).
 */

#ifndef WG
#error "histogram.cl needs -D WG=<work-group size, a power of two>"
#endif
#ifndef VEC
#define VEC 4
#endif
#ifndef CHUNKED
#define CHUNKED 0
#endif

#if VEC == 1
typedef uint uintv;
#define VLOAD(i, p) ((p)[i])
#define VSTORE(v, p) ((p)[0] = (v))
#elif VEC == 2
typedef uint2 uintv;
#define VLOAD(i, p) vload2((i), (p))
#define VSTORE(v, p) vstore2((v), 0, (p))
#elif VEC == 4
typedef uint4 uintv;
#define VLOAD(i, p) vload4((i), (p))
#define VSTORE(v, p) vstore4((v), 0, (p))
#elif VEC == 8
typedef uint8 uintv;
#define VLOAD(i, p) vload8((i), (p))
#define VSTORE(v, p) vstore8((v), 0, (p))
#elif VEC == 16
typedef uint16 uintv;
#define VLOAD(i, p) vload16((i), (p))
#define VSTORE(v, p) vstore16((v), 0, (p))
#else
#error "VEC must be 1, 2, 4, 8 or 16"
#endif

/* The vectors [first, last) with step `step` of this work-item, out of nv whole vectors. */
void my_vectors(uint nv, uint *first, uint *last, uint *step)
{
    const uint gid = (uint)get_global_id(0);
    const uint gsize = (uint)get_global_size(0);
#if CHUNKED
    const uint per = nv / gsize + (nv % gsize != 0);
    const uint lo = gid * per;
    *first = min(lo, nv);
    *last = min(lo + per, nv);
    *step = 1;
#else
    *first = gid;
    *last = nv;
    *step = gsize;
#endif
}

uint bin_of(uint k, uint nbins, uint mask, uint pow2, ulong magic)
{
    return pow2 ? (k & mask) : (uint)mul_hi(magic * (ulong)k, (ulong)nbins);
}

__kernel void hist_local(__global const uint *keys, uint koff, uint n, uint nbins, uint mask,
                         uint pow2, ulong magic, __local uint *bins, uint copies,
                         __global uint *out)
{
    const uint lid = get_local_id(0);
    const uint total = nbins * copies; /* the host keeps this within local memory */
    keys += koff;
    for (uint i = lid; i < total; i += WG)
        bins[i] = 0;
    barrier(CLK_LOCAL_MEM_FENCE);

    __local uint *mine = bins + (lid & (copies - 1)) * nbins;
    const uint nv = n / VEC;
    uint first, last, step;
    my_vectors(nv, &first, &last, &step);
    if (copies == WG) { /* a private copy per work-item: no atomics needed */
        for (uint v = first; v < last; v += step) {
            uint k[VEC];
            VSTORE(VLOAD(v, keys), k);
            for (uint j = 0; j < VEC; ++j)
                mine[bin_of(k[j], nbins, mask, pow2, magic)] += 1u;
        }
        if (get_global_id(0) == 0)
            for (uint i = nv * VEC; i < n; ++i)
                mine[bin_of(keys[i], nbins, mask, pow2, magic)] += 1u;
    } else {
        for (uint v = first; v < last; v += step) {
            uint k[VEC];
            VSTORE(VLOAD(v, keys), k);
            for (uint j = 0; j < VEC; ++j)
                atomic_inc(&mine[bin_of(k[j], nbins, mask, pow2, magic)]);
        }
        if (get_global_id(0) == 0)
            for (uint i = nv * VEC; i < n; ++i)
                atomic_inc(&mine[bin_of(keys[i], nbins, mask, pow2, magic)]);
    }
    barrier(CLK_LOCAL_MEM_FENCE);

    for (uint b = lid; b < nbins; b += WG) {
        uint c = 0;
        for (uint r = 0; r < copies; ++r)
            c += bins[r * nbins + b];
        if (c != 0)
            atomic_add(&out[b], c);
    }
}

__kernel void hist_global(__global const uint *keys, uint koff, uint n, uint nbins, uint mask,
                          uint pow2, ulong magic, __global uint *out)
{
    keys += koff;
    const uint nv = n / VEC;
    uint first, last, step;
    my_vectors(nv, &first, &last, &step);
    for (uint v = first; v < last; v += step) {
        uint k[VEC];
        VSTORE(VLOAD(v, keys), k);
        for (uint j = 0; j < VEC; ++j)
            atomic_inc(&out[bin_of(k[j], nbins, mask, pow2, magic)]);
    }
    if (get_global_id(0) == 0)
        for (uint i = nv * VEC; i < n; ++i)
            atomic_inc(&out[bin_of(keys[i], nbins, mask, pow2, magic)]);
}

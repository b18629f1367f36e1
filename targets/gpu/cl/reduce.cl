/* reduce.cl: sum, min and max of a float32 vector (portable OpenCL 1.2 C).
 *
 * Algorithm: two passes, "work-group then global" (M. Harris, "Optimizing Parallel Reduction
 * in CUDA", NVIDIA, 2007, kernels 6-7: each work-item first accumulates many elements, then a
 * tree in local memory).
 *   pass 1 (reduce_{sum,min,max}): a grid of at most a few work-groups per compute unit.
 *     Each work-item accumulates VEC-wide vectors of the input, either grid-stride (GPU:
 *     neighbouring work-items read neighbouring vectors, so loads coalesce) or one
 *     contiguous chunk per work-item (CHUNKED=1, CPU: each work-item streams its own cache
 *     lines). The up to VEC-1 trailing elements are taken by work-item 0. The work-group then
 *     combines its work-items' values with a tree in local memory and writes one partial.
 *   pass 2 (reduce_final): one work-group combines the partials the same way.
 * The host skips pass 2 when pass 1 ran a single work-group.
 *
 * Sums are compensated (Kahan, one compensation per vector lane) in each work-item, then
 * pairwise (a tree) across lanes, work-items and work-groups, so the error stays a few ulps
 * of the sum of magnitudes at 2^28 elements (the contract allows 2^-16 of it). A running
 * uncompensated sum is kept beside the compensated one: Kahan turns an infinite input into
 * NaN (inf - inf in the compensation), so where the compensated total is NaN and the plain
 * one is not, the plain one (+-inf) is the answer. min/max are exact and propagate NaN as
 * NumPy does. FP contraction is off: it would break the compensation.
 *
 * Build options (chosen per device by plugins/gpu/cl/params.py):
 *   -D WG=n       work-group size, a power of two (local size of every launch)
 *   -D VEC=n      vector width of the loads: 1, 2, 4, 8 or 16
 *   -D CHUNKED=0|1  grid-stride (0) or contiguous chunk per work-item (1)
 * Indices are 32-bit: the host keeps every array under 2^31 elements. Helper functions are
 * plain (not `inline`, whose C99 meaning can leave an undefined symbol); compilers inline
 * them.
 */

#pragma OPENCL FP_CONTRACT OFF

#ifndef WG
#error "reduce.cl needs -D WG=<work-group size, a power of two>"
#endif
#ifndef VEC
#define VEC 4
#endif
#ifndef CHUNKED
#define CHUNKED 0
#endif

#if VEC == 1
typedef float floatv;
typedef int intv;
#define VLOAD(i, p) ((p)[i])
#define VSTORE(v, p) ((p)[0] = (v))
#define ANY(x) ((x) != 0) /* scalar relations give 1, not -1: any() would miss it */
#elif VEC == 2
typedef float2 floatv;
typedef int2 intv;
#define VLOAD(i, p) vload2((i), (p))
#define VSTORE(v, p) vstore2((v), 0, (p))
#elif VEC == 4
typedef float4 floatv;
typedef int4 intv;
#define VLOAD(i, p) vload4((i), (p))
#define VSTORE(v, p) vstore4((v), 0, (p))
#elif VEC == 8
typedef float8 floatv;
typedef int8 intv;
#define VLOAD(i, p) vload8((i), (p))
#define VSTORE(v, p) vstore8((v), 0, (p))
#elif VEC == 16
typedef float16 floatv;
typedef int16 intv;
#define VLOAD(i, p) vload16((i), (p))
#define VSTORE(v, p) vstore16((v), 0, (p))
#else
#error "VEC must be 1, 2, 4, 8 or 16"
#endif
#ifndef ANY
#define ANY(x) any(x)
#endif

#define OP_SUM 0
#define OP_MIN 1
#define OP_MAX 2

/* NaN-propagating min/max (fmin/fmax drop NaNs; NumPy keeps them). */
float nan_min(float a, float b) { return isnan(a) ? a : (isnan(b) ? b : fmin(a, b)); }
float nan_max(float a, float b) { return isnan(a) ? a : (isnan(b) ? b : fmax(a, b)); }

float combine(float a, float b, const int op)
{
    if (op == OP_SUM)
        return a + b;
    return op == OP_MIN ? nan_min(a, b) : nan_max(a, b);
}

float identity(const int op)
{
    return op == OP_SUM ? 0.0f : (op == OP_MIN ? INFINITY : -INFINITY);
}

/* Tree reduction of one value per work-item over the work-group, in local memory.
 * Every work-item of the group must call it; all get the group's result. */
float group_reduce(__local float *scratch, float v, const int op)
{
    const uint lid = get_local_id(0);
    scratch[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint s = WG / 2; s > 0; s >>= 1) {
        if (lid < s)
            scratch[lid] = combine(scratch[lid], scratch[lid + s], op);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float r = scratch[0];
    barrier(CLK_LOCAL_MEM_FENCE); /* scratch may be reused by the caller */
    return r;
}

/* The vectors [first, last) with step `step` that this work-item accumulates, out of
 * nv = n / VEC whole vectors. */
void my_vectors(uint nv, uint *first, uint *last, uint *step)
{
    const uint gid = (uint)get_global_id(0);
    const uint gsize = (uint)get_global_size(0);
#if CHUNKED
    const uint per = nv / gsize + (nv % gsize != 0);
    const uint lo = gid * per; /* <= nv + gsize: no overflow for nv < 2^31 */
    *first = min(lo, nv);
    *last = min(lo + per, nv);
    *step = 1;
#else
    *first = gid;
    *last = nv;
    *step = gsize;
#endif
}

/* Horizontal pairwise combine of the VEC lanes of v. */
float lanes_combine(floatv v, const int op)
{
    float l[VEC];
    VSTORE(v, l);
    for (uint w = VEC / 2; w > 0; w >>= 1)
        for (uint i = 0; i < w; ++i)
            l[i] = combine(l[i], l[i + w], op);
    return l[0];
}

/* Pass 1, sum: x[0..n) -> partial[group]. */
__kernel void reduce_sum(__global const float *x, uint xoff, uint n, __global float *partial)
{
    __local float scratch[WG];
    x += xoff;
    const uint nv = n / VEC;
    uint first, last, step;
    my_vectors(nv, &first, &last, &step);

    floatv s = (floatv)(0.0f), c = (floatv)(0.0f), plain = (floatv)(0.0f);
    for (uint v = first; v < last; v += step) {
        const floatv a = VLOAD(v, x);
        const floatv y = a - c; /* Kahan: c holds the low part lost so far */
        const floatv t = s + y;
        c = (t - s) - y;
        s = t;
        plain += a;
    }
    float total = lanes_combine(s - c, OP_SUM);
    float total_plain = lanes_combine(plain, OP_SUM);
    if (get_global_id(0) == 0) {
        for (uint i = nv * VEC; i < n; ++i) { /* fewer than VEC trailing elements */
            total += x[i];
            total_plain += x[i];
        }
    }
    if (isnan(total) && !isnan(total_plain))
        total = total_plain; /* infinities in the input: see the header */
    total = group_reduce(scratch, total, OP_SUM);
    if (get_local_id(0) == 0)
        partial[get_group_id(0)] = total;
}

/* Pass 1, min or max (op is a constant after inlining). */
void minmax_pass1(__global const float *x, uint n, __global float *partial,
                         __local float *scratch, const int op)
{
    const uint nv = n / VEC;
    uint first, last, step;
    my_vectors(nv, &first, &last, &step);

    floatv m = (floatv)(identity(op));
    intv nan_seen = (intv)(0);
    for (uint v = first; v < last; v += step) {
        const floatv a = VLOAD(v, x);
        nan_seen |= isnan(a);
        m = op == OP_MIN ? fmin(m, a) : fmax(m, a);
    }
    float total = lanes_combine(m, op);
    if (ANY(nan_seen))
        total = NAN;
    if (get_global_id(0) == 0)
        for (uint i = nv * VEC; i < n; ++i)
            total = combine(total, x[i], op);
    total = group_reduce(scratch, total, op);
    if (get_local_id(0) == 0)
        partial[get_group_id(0)] = total;
}

__kernel void reduce_min(__global const float *x, uint xoff, uint n, __global float *partial)
{
    __local float scratch[WG];
    minmax_pass1(x + xoff, n, partial, scratch, OP_MIN);
}

__kernel void reduce_max(__global const float *x, uint xoff, uint n, __global float *partial)
{
    __local float scratch[WG];
    minmax_pass1(x + xoff, n, partial, scratch, OP_MAX);
}

/* Pass 2: one work-group combines count partials into out[0]. op: 0 sum, 1 min, 2 max. */
__kernel void reduce_final(__global const float *partial, uint count, __global float *out,
                           uint op)
{
    __local float scratch[WG];
    const int o = (int)op;
    float acc = identity(o);
    for (uint i = get_local_id(0); i < count; i += WG)
        acc = combine(acc, partial[i], o);
    acc = group_reduce(scratch, acc, o);
    if (get_local_id(0) == 0)
        out[0] = acc;
}

/*
 * check.c -- the argument checks every entry point runs before it touches
 * memory: size products (overflow of size_t), pointer alignment, overlap of
 * input and output ranges, the thread count and CPU support.
 */
#include "internal.h"

int gpu_avx2_bytes(size_t a, size_t b, size_t elem, size_t *out)
{
    size_t ab;
    assert(out != NULL);
    if (__builtin_mul_overflow(a, b, &ab) || __builtin_mul_overflow(ab, elem, out))
        return GPU_AVX2_ERR_OVERFLOW;
    return GPU_AVX2_OK;
}

int gpu_avx2_check_align(const void *p, size_t align)
{
    assert(align != 0 && (align & (align - 1)) == 0);
    return ((uintptr_t)p & (align - 1)) ? GPU_AVX2_ERR_ALIGN : GPU_AVX2_OK;
}

int gpu_avx2_check_disjoint(const void *a, size_t abytes, const void *b, size_t bbytes)
{
    uintptr_t a0 = (uintptr_t)a, b0 = (uintptr_t)b, a1, b1;
    if (__builtin_add_overflow(a0, abytes, &a1) || __builtin_add_overflow(b0, bbytes, &b1))
        return GPU_AVX2_ERR_OVERFLOW;
    return (a0 < b1 && b0 < a1) ? GPU_AVX2_ERR_OVERLAP : GPU_AVX2_OK;
}

int gpu_avx2_check_common(int threads)
{
    if (threads < 0 || threads > GPU_AVX2_MAX_THREADS)
        return GPU_AVX2_ERR_THREADS;
    if (!gpu_avx2_supported())
        return GPU_AVX2_ERR_UNSUPPORTED;
    return GPU_AVX2_OK;
}

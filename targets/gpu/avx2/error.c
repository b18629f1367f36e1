/*
 * error.c -- gpu_avx2_strerror(): one sentence per status code of
 * gpu_avx2.h, naming what was wrong and what is valid.
 */
#include "internal.h"

const char *gpu_avx2_strerror(int status)
{
    switch (status) {
    case GPU_AVX2_OK:
        return "ok";
    case GPU_AVX2_ERR_NULL:
        return "a pointer argument is NULL; every array must be given";
    case GPU_AVX2_ERR_EMPTY:
        return "a size is 0; every length and dimension must be at least 1";
    case GPU_AVX2_ERR_OVERFLOW:
        return "an array size in bytes overflows size_t (or its address range wraps)";
    case GPU_AVX2_ERR_ALIGN:
        return "an array is not aligned to its element size (4 bytes)";
    case GPU_AVX2_ERR_OVERLAP:
        return "the output overlaps an input; only scan may run in place (out == in)";
    case GPU_AVX2_ERR_OP:
        return "unknown reduce op; valid: 0 (sum), 1 (min), 2 (max)";
    case GPU_AVX2_ERR_MODE:
        return "unknown scan mode; valid: 0 (exclusive), 1 (inclusive)";
    case GPU_AVX2_ERR_NBINS:
        return "nbins out of range; valid: 1 to 65536";
    case GPU_AVX2_ERR_THREADS:
        return "thread count out of range; valid: 0 (all online CPUs) to 256";
    case GPU_AVX2_ERR_NOMEM:
        return "out of memory for the operation's scratch buffers";
    case GPU_AVX2_ERR_UNSUPPORTED:
        return "this CPU lacks AVX2 or FMA";
    default:
        return "unknown status code";
    }
}

/*
 * cpu.c -- what the machine offers: gpu_avx2_supported() asks the CPU (via
 * the compiler's __builtin_cpu_supports, i.e. CPUID and XGETBV for OS
 * support of the ymm state) whether AVX2 and FMA run; gpu_avx2_online_cpus()
 * is what threads = 0 means.
 *
 * The rest of the library is compiled with -mavx2 -mfma, so callers must ask
 * gpu_avx2_supported() before anything else (the Python wrapper does, and
 * every entry point checks it again); the code here does no vector
 * arithmetic itself.
 */
#define _GNU_SOURCE
#include <unistd.h>

#include "internal.h"

int gpu_avx2_supported(void)
{
    /* The CPU model is filled in by a constructor of the compiler's runtime
     * when the library loads; reading it is cheap and thread-safe. */
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

int gpu_avx2_online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        return 1;
    return n > GPU_AVX2_MAX_THREADS ? GPU_AVX2_MAX_THREADS : (int)n;
}

/*
 * parallel.c -- spawn-per-call partitioning over POSIX threads.
 *
 * An operation splits its work into `parts` contiguous pieces (fixed by the
 * input size and the requested thread count, never by timing), runs piece 0
 * on the calling thread and the others on freshly created threads, and joins
 * them all before it returns.  There is no pool and no state between calls:
 * creation costs some tens of microseconds, so every operation only splits
 * work above a grain that dwarfs it.  If a thread cannot be created its part
 * runs on the caller afterwards: same partition, same results.
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "internal.h"

struct job {
    gpu_avx2_part_fn fn;
    void *ctx;
    size_t part, parts;
};

static void *job_main(void *arg)
{
    struct job *j = arg;
    j->fn(j->ctx, j->part, j->parts);
    return NULL;
}

size_t gpu_avx2_parts(int threads, size_t work, size_t grain)
{
    size_t want = threads > 0 ? (size_t)threads : (size_t)gpu_avx2_online_cpus();
    size_t most = grain ? work / grain : work;
    assert(threads >= 0 && threads <= GPU_AVX2_MAX_THREADS);
    if (most < 1)
        most = 1;
    return want < most ? want : most;
}

void gpu_avx2_run(size_t parts, gpu_avx2_part_fn fn, void *ctx)
{
    pthread_t tid[GPU_AVX2_MAX_THREADS];
    struct job jobs[GPU_AVX2_MAX_THREADS];
    int started[GPU_AVX2_MAX_THREADS];
    assert(parts >= 1 && parts <= GPU_AVX2_MAX_THREADS && fn != NULL);
    for (size_t i = 1; i < parts; i++) {
        jobs[i] = (struct job){fn, ctx, i, parts};
        started[i] = pthread_create(&tid[i], NULL, job_main, &jobs[i]) == 0;
    }
    fn(ctx, 0, parts);
    for (size_t i = 1; i < parts; i++) {
        if (started[i])
            pthread_join(tid[i], NULL);
        else
            fn(ctx, i, parts);
    }
}

void gpu_avx2_split(size_t n, size_t parts, size_t part, size_t align, size_t *lo,
                    size_t *hi)
{
    size_t units, base, extra, a, b;
    assert(parts >= 1 && part < parts && align >= 1);
    units = n / align; /* whole aligned units; the remainder goes to the last part */
    base = units / parts;
    extra = units % parts;
    a = part * base + (part < extra ? part : extra);
    b = a + base + (part < extra ? 1 : 0);
    *lo = a * align;
    *hi = part + 1 == parts ? n : b * align;
    assert(*lo <= *hi && *hi <= n);
}

/*
 * parallel.c -- partitioning over a persistent pool of POSIX threads.
 *
 * An operation splits its work into `parts` contiguous pieces (fixed by the
 * input size and the requested thread count, never by timing) and hands
 * them to gpu_avx2_run(), which returns once every part has run.  Which
 * thread runs a part does not matter: same partition, same results.
 *
 * Why a pool: creating and joining threads on every call cost tens of
 * microseconds, and on a shared machine a freshly created thread could wait
 * a whole scheduler slice for a CPU, so calls of 50-100 us varied twentyfold.
 * Workers are created once, on the first call with more than one part:
 * online CPUs - 1 of them (the caller is the last one), detached, with every
 * signal blocked (signals go to the application's threads), living for the
 * process (cffi never unloads the library, which must not be dlclose()d
 * while they live).  If none can be created, every part runs on the caller.
 *
 * Dispatch: the caller publishes the job (fn, ctx, parts) and wakes as many
 * sleeping workers as there are parts besides its own, then claims and runs
 * parts itself.  Parts are claimed from one atomic word, generation |
 * parts | next part, by compare-and-swap: a worker that wakes late, or is
 * descheduled, only takes what is left, so the caller (and any awake worker)
 * runs the rest instead of waiting for it; and since a claim names the
 * generation it read, a stale worker can never take a part of a newer job
 * with an older job's fn and ctx.  Every part run bumps `finished`; the
 * caller waits for it to reach `parts` -- only for parts already claimed.
 * Waits spin before they sleep on a condition variable: the caller up to
 * CALLER_SPIN_NS for the workers' parts, a worker up to WORKER_SPIN_NS for
 * the next job, so back-to-back calls skip a slow futex wake-up; neither
 * spins while the thread it waits for shares its CPU, where spinning would
 * only keep that thread off it (see the constants for what was measured).
 *
 * threads = 0 means the online CPUs as counted on the first such call: the
 * count is kept, as the pool's size is.
 *
 * Concurrency: one job at a time.  Concurrent callers (several Python
 * threads with the GIL released) queue on job_lock and each gets the whole
 * pool in turn.  A call made from inside a part (by a worker, or by a caller
 * running its share) runs all its parts on its own thread rather than wait
 * for the pool it is part of.  fork(): pthread_atfork handlers hold both
 * locks across fork(), so no job is half published, and reset the pool in
 * the child, which has no workers: its first parallel call creates new ones.
 */
#define _GNU_SOURCE
#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>

#include "internal.h"

/* Spin budgets, in nanoseconds, before sleeping on a condition variable.
 * Measured on a 2-CPU VM (2^20-float copy and reduce, threads = 0, 5-60 us
 * between calls): with no spin a sleeping worker took ~40 us to wake, so a
 * 33 us reduce took 80-95 us, worse than one thread (65 us); a worker that
 * spins through the gap between calls gets 33 us.  The caller spins for the
 * parts workers claimed (a part is tens of microseconds; a sleeping caller
 * wakes late too).  Under a competing busy process spinning hurt instead:
 * a worker spinning on the caller's CPU kept the caller off it (p95 180 us),
 * so neither spins while a thread it waits for shares its CPU (see
 * poll_job, poll_parts); then p95 ~80 us, and 20-200 us budgets measured
 * alike. */
#define CALLER_SPIN_NS 50000L
#define WORKER_SPIN_NS 100000L
#define SPIN_CHECKS 16 /* polls between two clock reads */

/* The job word: generation << GEN_SHIFT | parts << PART_BITS | next. */
#define PART_BITS 12
#define PART_MASK ((UINT64_C(1) << PART_BITS) - 1)
#define GEN_SHIFT (2 * PART_BITS)
static_assert(GPU_AVX2_MAX_THREADS < PART_MASK, "parts must fit the job word");

static struct {
    pthread_mutex_t job_lock; /* held by a caller for its whole job */
    pthread_mutex_t lock;     /* guards sleepers; the condition variables' */
    pthread_cond_t wake;      /* workers: the generation moved */
    pthread_cond_t done;      /* the caller: finished reached parts */
    size_t sleepers;          /* workers waiting on wake (under lock) */
    size_t workers;           /* started (under job_lock) */
    int tried;                /* creation attempted (under job_lock) */
    _Atomic uint64_t word;    /* see PART_BITS */
    _Atomic(gpu_avx2_part_fn) fn;
    _Atomic(void *) ctx;
    atomic_size_t finished; /* parts of the current job run to the end */
    atomic_int caller_cpu;  /* where the job's caller last ran */
    atomic_int beside;      /* workers running a part on caller_cpu */
} pool = {.job_lock = PTHREAD_MUTEX_INITIALIZER,
          .lock = PTHREAD_MUTEX_INITIALIZER,
          .wake = PTHREAD_COND_INITIALIZER,
          .done = PTHREAD_COND_INITIALIZER};

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static _Thread_local int in_part; /* this thread is a worker or runs a job */

struct claim {
    gpu_avx2_part_fn fn;
    void *ctx;
    size_t part, parts;
};

static uint64_t gen_of(uint64_t word) { return word >> GEN_SHIFT; }
static size_t parts_of(uint64_t word) { return (size_t)((word >> PART_BITS) & PART_MASK); }
static size_t next_of(uint64_t word) { return (size_t)(word & PART_MASK); }

static long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

/* Busy-poll for about ns nanoseconds: 1 once poll(arg) > 0 (ready), 0 when
 * it is < 0 (spinning would only delay a thread on this CPU) or time is up. */
static int spin(int (*poll)(uint64_t), uint64_t arg, long ns)
{
    long deadline = now_ns() + ns;
    do {
        for (int i = 0; i < SPIN_CHECKS; i++) {
            int r = poll(arg);
            if (r != 0)
                return r > 0;
            _mm_pause();
        }
    } while (now_ns() < deadline);
    return 0;
}

static int on_caller_cpu(void)
{
    return sched_getcpu() == atomic_load_explicit(&pool.caller_cpu, memory_order_relaxed);
}

static int new_job(uint64_t seen)
{
    return gen_of(atomic_load_explicit(&pool.word, memory_order_acquire)) != seen;
}

static int all_finished(uint64_t parts)
{
    return atomic_load_explicit(&pool.finished, memory_order_acquire) == parts;
}

/* A worker's poll for the next job: stop when it would keep the caller
 * (between two calls, on this CPU) from running. */
static int poll_job(uint64_t seen)
{
    if (new_job(seen))
        return 1;
    return on_caller_cpu() ? -1 : 0;
}

/* The caller's poll for the workers' parts: stop when one of them runs on
 * the caller's CPU, where it can only progress once the caller sleeps. */
static int poll_parts(uint64_t parts)
{
    if (all_finished(parts))
        return 1;
    return atomic_load_explicit(&pool.beside, memory_order_relaxed) > 0 ? -1 : 0;
}

/* Take the next unclaimed part of the current job into *c; 0 when none is
 * left.  fn and ctx are read after the word and validated by the CAS: had a
 * newer job replaced them, the word's generation would have moved too. */
static int claim_part(struct claim *c)
{
    uint64_t w = atomic_load_explicit(&pool.word, memory_order_acquire);
    for (;;) {
        c->part = next_of(w);
        c->parts = parts_of(w);
        if (c->part >= c->parts)
            return 0;
        c->fn = atomic_load_explicit(&pool.fn, memory_order_relaxed);
        c->ctx = atomic_load_explicit(&pool.ctx, memory_order_relaxed);
        if (atomic_compare_exchange_weak_explicit(&pool.word, &w, w + 1,
                                                  memory_order_acquire,
                                                  memory_order_acquire))
            return 1;
    }
}

static void signal_done(void)
{
    pthread_mutex_lock(&pool.lock);
    pthread_cond_signal(&pool.done);
    pthread_mutex_unlock(&pool.lock);
}

/* Run a claimed part; a worker counts itself beside the caller meanwhile
 * when it shares the caller's CPU. */
static void run_claim(const struct claim *c, int worker)
{
    int beside = worker && on_caller_cpu();
    assert(c->fn != NULL && c->part < c->parts && c->parts <= GPU_AVX2_MAX_THREADS);
    if (beside)
        atomic_fetch_add_explicit(&pool.beside, 1, memory_order_relaxed);
    c->fn(c->ctx, c->part, c->parts);
    if (beside)
        atomic_fetch_sub_explicit(&pool.beside, 1, memory_order_relaxed);
}

/* Claim and run parts until none is left; a worker that runs the job's
 * last part wakes the caller. */
static void run_parts(int worker)
{
    struct claim c;
    while (claim_part(&c)) {
        run_claim(&c, worker);
        if (atomic_fetch_add_explicit(&pool.finished, 1, memory_order_release) + 1 ==
                c.parts &&
            worker)
            signal_done();
    }
}

/* Wait for a generation other than seen; the generation found. */
static uint64_t await_job(uint64_t seen)
{
    if (!spin(poll_job, seen, WORKER_SPIN_NS)) {
        pthread_mutex_lock(&pool.lock);
        while (!new_job(seen)) {
            pool.sleepers++;
            pthread_cond_wait(&pool.wake, &pool.lock);
            pool.sleepers--;
        }
        pthread_mutex_unlock(&pool.lock);
    }
    return gen_of(atomic_load_explicit(&pool.word, memory_order_acquire));
}

static void *worker_main(void *arg)
{
    uint64_t seen = (uint64_t)(uintptr_t)arg; /* the generation at creation */
    in_part = 1;
    for (;;) {
        seen = await_job(seen);
        run_parts(1);
    }
    return NULL;
}

/* The online CPUs, counted once per process: glibc's sysconf reads sysfs,
 * 5 us a call (measured), a tenth of a 2^20-float reduce. */
static size_t online_cpus(void)
{
    static atomic_size_t count;
    size_t n = atomic_load_explicit(&count, memory_order_relaxed);
    if (n == 0) {
        n = (size_t)gpu_avx2_online_cpus();
        atomic_store_explicit(&count, n, memory_order_relaxed);
    }
    return n;
}

/* Create the workers, once per process (under job_lock, no job published). */
static void start_workers(void)
{
    size_t want = online_cpus() - 1;
    uint64_t gen = gen_of(atomic_load_explicit(&pool.word, memory_order_relaxed));
    pthread_attr_t attr;
    sigset_t all, old;
    pool.tried = 1;
    if (want == 0 || pthread_attr_init(&attr) != 0)
        return;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* inherited by the workers */
    while (pool.workers < want) {
        pthread_t tid;
        if (pthread_create(&tid, &attr, worker_main, (void *)(uintptr_t)gen) != 0)
            break;
        pool.workers++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
}

static void before_fork(void)
{
    pthread_mutex_lock(&pool.job_lock);
    pthread_mutex_lock(&pool.lock);
}

static void after_fork_parent(void)
{
    pthread_mutex_unlock(&pool.lock);
    pthread_mutex_unlock(&pool.job_lock);
}

/* The child has only the forking thread: forget the workers (their waits
 * live on in the condition variables, so those are made afresh too). */
static void after_fork_child(void)
{
    pthread_mutex_init(&pool.job_lock, NULL);
    pthread_mutex_init(&pool.lock, NULL);
    pthread_cond_init(&pool.wake, NULL);
    pthread_cond_init(&pool.done, NULL);
    pool.sleepers = pool.workers = 0;
    pool.tried = 0;
    atomic_store_explicit(&pool.beside, 0, memory_order_relaxed);
}

static void register_atfork(void)
{
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

/* Make the job current and wake up to parts - 1 sleeping workers. */
static void publish(size_t parts, gpu_avx2_part_fn fn, void *ctx)
{
    uint64_t gen = gen_of(atomic_load_explicit(&pool.word, memory_order_relaxed)) + 1;
    assert(parts >= 2 && parts <= GPU_AVX2_MAX_THREADS);
    assert(next_of(atomic_load(&pool.word)) == parts_of(atomic_load(&pool.word)));
    atomic_store_explicit(&pool.fn, fn, memory_order_relaxed);
    atomic_store_explicit(&pool.ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&pool.finished, 0, memory_order_relaxed);
    atomic_store_explicit(&pool.caller_cpu, sched_getcpu(), memory_order_relaxed);
    pthread_mutex_lock(&pool.lock);
    atomic_store_explicit(&pool.word, gen << GEN_SHIFT | (uint64_t)parts << PART_BITS,
                          memory_order_release);
    for (size_t i = 0; i < pool.sleepers && i + 1 < parts; i++)
        pthread_cond_signal(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
}

/* Wait until the parts claimed by workers have run. */
static void await_parts(size_t parts)
{
    atomic_store_explicit(&pool.caller_cpu, sched_getcpu(), memory_order_relaxed);
    if (spin(poll_parts, parts, CALLER_SPIN_NS))
        return;
    pthread_mutex_lock(&pool.lock);
    while (!all_finished(parts))
        pthread_cond_wait(&pool.done, &pool.lock);
    pthread_mutex_unlock(&pool.lock);
}

static void run_inline(size_t parts, gpu_avx2_part_fn fn, void *ctx)
{
    for (size_t i = 0; i < parts; i++)
        fn(ctx, i, parts);
}

/* Under job_lock: 1 when the job ran on the pool, 0 when there is none. */
static int run_pooled(size_t parts, gpu_avx2_part_fn fn, void *ctx)
{
    if (!pool.tried)
        start_workers();
    if (pool.workers == 0)
        return 0;
    in_part = 1;
    publish(parts, fn, ctx);
    run_parts(0);
    await_parts(parts);
    in_part = 0;
    assert(next_of(atomic_load(&pool.word)) == parts);
    return 1;
}

size_t gpu_avx2_parts(int threads, size_t work, size_t grain)
{
    size_t want = threads > 0 ? (size_t)threads : online_cpus();
    size_t most = grain ? work / grain : work;
    assert(threads >= 0 && threads <= GPU_AVX2_MAX_THREADS);
    if (most < 1)
        most = 1;
    return want < most ? want : most;
}

void gpu_avx2_run(size_t parts, gpu_avx2_part_fn fn, void *ctx)
{
    int pooled;
    assert(parts >= 1 && parts <= GPU_AVX2_MAX_THREADS && fn != NULL);
    if (parts == 1 || in_part) {
        run_inline(parts, fn, ctx);
        return;
    }
    pthread_once(&atfork_once, register_atfork);
    pthread_mutex_lock(&pool.job_lock);
    pooled = run_pooled(parts, fn, ctx);
    pthread_mutex_unlock(&pool.job_lock);
    if (!pooled)
        run_inline(parts, fn, ctx);
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

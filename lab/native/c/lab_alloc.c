/*
 * lab_alloc.c - an LD_PRELOAD allocation counter for the lab's benchmark process.
 *
 * Interposes malloc, calloc, realloc, reallocarray, free, aligned_alloc, posix_memalign,
 * memalign, valloc and pvalloc, and forwards every call to glibc's own allocator through
 * its exported __libc_* entry points (no dlsym bootstrap, so it is safe before main and
 * inside the dynamic loader's first allocations). Behaviour of each call follows the
 * glibc 2.36 malloc(3)/posix_memalign(3) manual pages; only counting is added.
 *
 * Counting is off until lab_alloc_enable(1). While on, every allocation request is counted
 * in all_allocs/all_bytes, and a request whose immediate caller (__builtin_return_address(0))
 * lies in one of up to LAB_ALLOC_MAX_RANGES registered half-open address ranges [lo, hi)
 * is also counted in core_allocs/core_bytes; a free of a non-NULL pointer from such a caller
 * counts in core_frees. Bytes are the bytes requested (calloc: nmemb * size, saturated);
 * realloc(p, n > 0) and realloc(NULL, n) count as one allocation of n bytes, realloc(p, 0)
 * with p != NULL frees p in glibc and counts as a free. A request counts whether or not it
 * succeeds; posix_memalign with an invalid alignment (EINVAL) allocates nothing and is not
 * counted. Allocations libc makes on a caller's behalf (strdup, fopen, ...) have a caller
 * inside libc and so count only in all_*.
 *
 * Concurrency: counters are relaxed atomics, so counts from several threads are exact and
 * the hooks never take a lock; "all" means all threads of the process. The hooks call
 * nothing but __libc_* and never allocate, so they are reentrancy- and signal-safe. The
 * control functions are serialized by a spin lock among themselves; changing the ranges
 * while another thread allocates may misattribute that thread's concurrent calls.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define LAB_ALLOC_API __attribute__((visibility("default")))
#define LAB_ALLOC_MAX_RANGES 16

/* glibc's allocator itself; exported by libc.so.6 (GLIBC_2.2.5). */
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t nmemb, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void __libc_free(void *ptr);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void *__libc_valloc(size_t size);
extern void *__libc_pvalloc(size_t size);

/* What lab_alloc_read() copies out; Python mirrors this layout with ctypes. */
struct lab_alloc_counts {
    uint64_t core_allocs;
    uint64_t core_bytes;
    uint64_t core_frees;
    uint64_t all_allocs;
    uint64_t all_bytes;
};

struct lab_alloc_range {
    _Atomic uintptr_t lo;
    _Atomic uintptr_t hi;
};

/* All state is zero-initialized static storage: valid before any constructor runs. */
static atomic_int lab_alloc_on;
static atomic_int lab_alloc_nranges;
static atomic_flag lab_alloc_ctl = ATOMIC_FLAG_INIT;
static struct lab_alloc_range lab_alloc_ranges[LAB_ALLOC_MAX_RANGES];
static atomic_uint_least64_t lab_alloc_core_allocs;
static atomic_uint_least64_t lab_alloc_core_bytes;
static atomic_uint_least64_t lab_alloc_core_frees;
static atomic_uint_least64_t lab_alloc_all_allocs;
static atomic_uint_least64_t lab_alloc_all_bytes;

#define LAB_ALLOC_RELAXED memory_order_relaxed

static int lab_alloc_counting(void)
{
    return atomic_load_explicit(&lab_alloc_on, LAB_ALLOC_RELAXED) != 0;
}

/* Whether addr lies in a registered range; reads the published prefix of the table. */
static int lab_alloc_in_core(uintptr_t addr)
{
    int n = atomic_load_explicit(&lab_alloc_nranges, memory_order_acquire);
    for (int i = 0; i < n; i++) {
        uintptr_t lo = atomic_load_explicit(&lab_alloc_ranges[i].lo, LAB_ALLOC_RELAXED);
        uintptr_t hi = atomic_load_explicit(&lab_alloc_ranges[i].hi, LAB_ALLOC_RELAXED);
        if (addr >= lo && addr < hi)
            return 1;
    }
    return 0;
}

static void lab_alloc_add(atomic_uint_least64_t *counter, uint64_t amount)
{
    atomic_fetch_add_explicit(counter, amount, LAB_ALLOC_RELAXED);
}

/* Count one allocation request of size bytes made from caller. */
static void lab_alloc_note_alloc(void *caller, size_t size)
{
    if (!lab_alloc_counting())
        return;
    lab_alloc_add(&lab_alloc_all_allocs, 1);
    lab_alloc_add(&lab_alloc_all_bytes, size);
    if (lab_alloc_in_core((uintptr_t)caller)) {
        lab_alloc_add(&lab_alloc_core_allocs, 1);
        lab_alloc_add(&lab_alloc_core_bytes, size);
    }
}

/* Count one free of a non-NULL pointer made from caller. */
static void lab_alloc_note_free(void *caller)
{
    if (lab_alloc_counting() && lab_alloc_in_core((uintptr_t)caller))
        lab_alloc_add(&lab_alloc_core_frees, 1);
}

static size_t lab_alloc_mul_sat(size_t a, size_t b)
{
    size_t out;
    return __builtin_mul_overflow(a, b, &out) ? SIZE_MAX : out;
}

/* ---- the interposed allocator ------------------------------------------------------- */

LAB_ALLOC_API void *malloc(size_t size)
{
    lab_alloc_note_alloc(__builtin_return_address(0), size);
    return __libc_malloc(size);
}

LAB_ALLOC_API void *calloc(size_t nmemb, size_t size)
{
    lab_alloc_note_alloc(__builtin_return_address(0), lab_alloc_mul_sat(nmemb, size));
    return __libc_calloc(nmemb, size);
}

LAB_ALLOC_API void *realloc(void *ptr, size_t size)
{
    void *caller = __builtin_return_address(0);
    if (ptr != NULL && size == 0)
        lab_alloc_note_free(caller);
    else
        lab_alloc_note_alloc(caller, size);
    return __libc_realloc(ptr, size);
}

LAB_ALLOC_API void *reallocarray(void *ptr, size_t nmemb, size_t size)
{
    void *caller = __builtin_return_address(0);
    size_t bytes;
    if (__builtin_mul_overflow(nmemb, size, &bytes)) {
        errno = ENOMEM;
        return NULL;
    }
    if (ptr != NULL && bytes == 0)
        lab_alloc_note_free(caller);
    else
        lab_alloc_note_alloc(caller, bytes);
    return __libc_realloc(ptr, bytes);
}

LAB_ALLOC_API void free(void *ptr)
{
    if (ptr == NULL)
        return;
    lab_alloc_note_free(__builtin_return_address(0));
    __libc_free(ptr);
}

LAB_ALLOC_API void *memalign(size_t alignment, size_t size)
{
    lab_alloc_note_alloc(__builtin_return_address(0), size);
    return __libc_memalign(alignment, size);
}

LAB_ALLOC_API void *aligned_alloc(size_t alignment, size_t size)
{
    lab_alloc_note_alloc(__builtin_return_address(0), size);
    return __libc_memalign(alignment, size);
}

LAB_ALLOC_API int posix_memalign(void **memptr, size_t alignment, size_t size)
{
    size_t words = alignment / sizeof(void *);
    if (alignment % sizeof(void *) != 0 || words == 0 || (words & (words - 1)) != 0)
        return EINVAL;
    lab_alloc_note_alloc(__builtin_return_address(0), size);
    void *mem = __libc_memalign(alignment, size);
    if (mem == NULL)
        return ENOMEM;
    *memptr = mem;
    return 0;
}

LAB_ALLOC_API void *valloc(size_t size)
{
    lab_alloc_note_alloc(__builtin_return_address(0), size);
    return __libc_valloc(size);
}

LAB_ALLOC_API void *pvalloc(size_t size)
{
    lab_alloc_note_alloc(__builtin_return_address(0), size);
    return __libc_pvalloc(size);
}

/* ---- the control API ------------------------------------------------------------------ */

static void lab_alloc_lock(void)
{
    while (atomic_flag_test_and_set_explicit(&lab_alloc_ctl, memory_order_acquire))
        ;
}

static void lab_alloc_unlock(void)
{
    atomic_flag_clear_explicit(&lab_alloc_ctl, memory_order_release);
}

/* Register [lo, hi) as core code; 0 on success, -1 when lo >= hi or the table is full. */
LAB_ALLOC_API int lab_alloc_add_range(uintptr_t lo, uintptr_t hi)
{
    if (lo >= hi)
        return -1;
    lab_alloc_lock();
    int n = atomic_load_explicit(&lab_alloc_nranges, LAB_ALLOC_RELAXED);
    assert(n >= 0 && n <= LAB_ALLOC_MAX_RANGES);
    int rc = -1;
    if (n < LAB_ALLOC_MAX_RANGES) {
        atomic_store_explicit(&lab_alloc_ranges[n].lo, lo, LAB_ALLOC_RELAXED);
        atomic_store_explicit(&lab_alloc_ranges[n].hi, hi, LAB_ALLOC_RELAXED);
        atomic_store_explicit(&lab_alloc_nranges, n + 1, memory_order_release);
        rc = 0;
    }
    lab_alloc_unlock();
    return rc;
}

/* Forget every registered range. */
LAB_ALLOC_API void lab_alloc_clear_ranges(void)
{
    lab_alloc_lock();
    atomic_store_explicit(&lab_alloc_nranges, 0, memory_order_release);
    lab_alloc_unlock();
}

/* Turn counting on (on != 0) or off; counters keep their values. */
LAB_ALLOC_API void lab_alloc_enable(int on)
{
    atomic_store_explicit(&lab_alloc_on, on != 0, memory_order_seq_cst);
}

/* Zero every counter (the ranges and the on/off state are kept). */
LAB_ALLOC_API void lab_alloc_reset(void)
{
    lab_alloc_lock();
    atomic_store_explicit(&lab_alloc_core_allocs, 0, LAB_ALLOC_RELAXED);
    atomic_store_explicit(&lab_alloc_core_bytes, 0, LAB_ALLOC_RELAXED);
    atomic_store_explicit(&lab_alloc_core_frees, 0, LAB_ALLOC_RELAXED);
    atomic_store_explicit(&lab_alloc_all_allocs, 0, LAB_ALLOC_RELAXED);
    atomic_store_explicit(&lab_alloc_all_bytes, 0, LAB_ALLOC_RELAXED);
    lab_alloc_unlock();
}

/* Copy the counters into *out (each value is read atomically, the set is not a snapshot). */
LAB_ALLOC_API void lab_alloc_read(struct lab_alloc_counts *out)
{
    assert(out != NULL);
    out->core_allocs = atomic_load_explicit(&lab_alloc_core_allocs, LAB_ALLOC_RELAXED);
    out->core_bytes = atomic_load_explicit(&lab_alloc_core_bytes, LAB_ALLOC_RELAXED);
    out->core_frees = atomic_load_explicit(&lab_alloc_core_frees, LAB_ALLOC_RELAXED);
    out->all_allocs = atomic_load_explicit(&lab_alloc_all_allocs, LAB_ALLOC_RELAXED);
    out->all_bytes = atomic_load_explicit(&lab_alloc_all_bytes, LAB_ALLOC_RELAXED);
}

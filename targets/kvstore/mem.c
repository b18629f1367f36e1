/*
 * mem.c -- accounted allocation (see mem.h).
 *
 * The counter is a C11 atomic updated with relaxed ordering: I/O threads
 * allocate client buffers concurrently with the execution of commands, and
 * only the total matters (Redis's zmalloc used_memory works the same way).
 * Sizes come from malloc_usable_size() so that the figure reflects what the
 * allocator really hands out.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "mem.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_size_t used_memory;

static void out_of_memory(size_t n)
{
    fprintf(stderr, "kvstore-server: out of memory allocating %zu bytes\n", n);
    abort();
}

static void account_add(void *p)
{
    atomic_fetch_add_explicit(&used_memory, malloc_usable_size(p),
                              memory_order_relaxed);
}

static void account_sub(size_t n)
{
    atomic_fetch_sub_explicit(&used_memory, n, memory_order_relaxed);
}

void *kv_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        out_of_memory(n);
    account_add(p);
    return p;
}

void *kv_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (p == NULL)
        out_of_memory(count * size);
    account_add(p);
    return p;
}

void *kv_realloc(void *p, size_t n)
{
    if (p == NULL)
        return kv_malloc(n);
    size_t old = malloc_usable_size(p);
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        out_of_memory(n);
    account_sub(old);
    account_add(q);
    return q;
}

void kv_free(void *p)
{
    if (p == NULL)
        return;
    account_sub(malloc_usable_size(p));
    free(p);
}

char *kv_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = kv_malloc(n);
    memcpy(d, s, n);
    return d;
}

size_t kv_used_memory(void)
{
    return atomic_load_explicit(&used_memory, memory_order_relaxed);
}

size_t kv_rss_memory(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, resident = 0;
    if (f == NULL)
        return 0;
    if (fscanf(f, "%lu %lu", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

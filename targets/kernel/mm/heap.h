/*
 * heap.h - the kernel heap: a first-fit allocator with boundary tags over a region that grows
 * upward on demand (the kernel maps more pages; the host build uses a fixed buffer).
 *
 * Host-buildable. Blocks carry a header magic so a free of a pointer the heap never returned,
 * or a second free, is detected and refused (-K_EINVAL) instead of corrupting the heap.
 */
#ifndef K_HEAP_H
#define K_HEAP_H

#include "lib/klib.h"

#define K_HEAP_ALIGN 16u

/* Make [old_end, old_end + bytes) usable; 0 on success, negative when it cannot. */
typedef int (*k_heap_grow_fn)(void *ctx, uintptr_t old_end, size_t bytes);

struct k_heap {
    uintptr_t start;   /* first byte of the region, K_HEAP_ALIGN-aligned */
    uintptr_t end;     /* end of the usable part */
    uintptr_t limit;   /* the region never grows past this */
    void *free_list;   /* implementation's free blocks */
    size_t used;       /* payload bytes currently allocated */
    size_t nblocks;    /* blocks currently allocated */
    k_heap_grow_fn grow;
    void *ctx;
};

/* Heap over [start, start + initial), growable up to limit through grow (may be NULL).
 * 0, or -K_EINVAL when start is unaligned, initial too small or limit < start + initial. */
int k_heap_init(struct k_heap *h, uintptr_t start, size_t initial, uintptr_t limit,
                k_heap_grow_fn grow, void *ctx);
/* size bytes aligned to K_HEAP_ALIGN, or NULL (size 0, overflow, or no memory). */
void *k_heap_alloc(struct k_heap *h, size_t size);
/* Same, zero-filled. */
void *k_heap_calloc(struct k_heap *h, size_t n, size_t size);
/* 0, or -K_EINVAL for a pointer the heap did not hand out or already freed. NULL is 0. */
int k_heap_free(struct k_heap *h, void *p);
/* Usable size of an allocated block, or 0 when p is not one. */
size_t k_heap_size(const struct k_heap *h, const void *p);
/* Walk every block: 0 when headers, tags, the free list and the counters agree, else -1. */
int k_heap_check(const struct k_heap *h);

#endif

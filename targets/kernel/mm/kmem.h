/*
 * kmem.h - the kernel's memory glue: the physical frame allocator (mm/frame.h) over the
 * Multiboot memory map, and the kernel heap (mm/heap.h) in the K_HEAP_BASE window whose
 * grow callback maps fresh frames.
 */
#ifndef K_KMEM_H
#define K_KMEM_H

#include "arch/multiboot.h"
#include "lib/klib.h"
#include "mm/frame.h"
#include "mm/heap.h"

/* Set up frames from the memory map, paging (mm/paging.h) and the heap. */
void k_kmem_init(const struct k_mb_info *mbi);
struct k_frames *k_kmem_frames(void);
struct k_heap *k_kmem_heap(void);
/* Highest physical address the frame allocator covers (exclusive). */
uint32_t k_kmem_phys_top(void);

/* One frame (physical == kernel virtual), or 0 when memory is exhausted. */
uint32_t k_frame_alloc(void);
/* Same, zero-filled. */
uint32_t k_frame_alloc_zeroed(void);
void k_frame_free(uint32_t pa);

void *kmalloc(size_t size);
void *kcalloc(size_t n, size_t size);
void kfree(void *p);

#endif

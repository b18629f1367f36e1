/*
 * kmem.c - physical memory and kernel heap set-up (Multiboot 0.6.96, 3.3 "boot information
 * format": mmap_* fields, else mem_upper). The frame allocator covers [1 MiB, top of the
 * RAM region that holds 1 MiB), capped at K_PHYS_LIMIT; holes in it, the kernel image and
 * the allocator's own bitmap (static) are reserved. The heap starts at K_HEAP_BASE with no
 * pages and grows through heap_grow, which maps one fresh frame per page into the shared
 * kernel page tables (mm/paging.c).
 */
#include "mm/kmem.h"

#include "lib/kerrno.h"
#include "lib/kprintf.h"
#include "mm/paging.h"

#define LOW_MEM 0x100000u
#define MAX_FRAMES (K_PHYS_LIMIT / K_FRAME_SIZE)
#define HEAP_INITIAL 0x4000u

extern char _kernel_start[], _kernel_end[];

static struct k_frames k_phys;
static uint32_t k_phys_bitmap[MAX_FRAMES / 32];
static struct k_heap k_kheap;
static uint32_t k_top;

/* End of the available region containing LOW_MEM, from the memory map (or mem_upper). */
static uint32_t find_top(const struct k_mb_info *mbi)
{
    if (!(mbi->flags & K_MB_INFO_MMAP))
        return LOW_MEM + (mbi->mem_upper << 10);
    uint32_t top = LOW_MEM;
    uintptr_t p = mbi->mmap_addr, end = mbi->mmap_addr + mbi->mmap_length;
    while (p < end) {
        const struct k_mb_mmap *e = (const struct k_mb_mmap *)p;
        if (e->type == K_MB_MEM_AVAILABLE && e->base <= LOW_MEM && e->base + e->len > LOW_MEM) {
            uint64_t t = e->base + e->len;
            top = t > K_PHYS_LIMIT ? K_PHYS_LIMIT : (uint32_t)t;
        }
        p += e->size + 4;
    }
    return top & ~(K_FRAME_SIZE - 1);
}

/* Reserve what the memory map says is not RAM inside our range. */
static void reserve_holes(const struct k_mb_info *mbi)
{
    if (!(mbi->flags & K_MB_INFO_MMAP))
        return;
    uintptr_t p = mbi->mmap_addr, end = mbi->mmap_addr + mbi->mmap_length;
    while (p < end) {
        const struct k_mb_mmap *e = (const struct k_mb_mmap *)p;
        if (e->type != K_MB_MEM_AVAILABLE && e->base < k_top) {
            uint64_t len = e->len;
            if (e->base + len > k_top)
                len = k_top - e->base;
            k_frames_reserve(&k_phys, (uint32_t)e->base, (uint32_t)len);
        }
        p += e->size + 4;
    }
}

/* Unmap [start, end) of the heap again and free its frames (a growth that failed midway). */
static void heap_shrink(uintptr_t start, uintptr_t end)
{
    for (uintptr_t va = start; va < end; va += K_PAGE) {
        uint32_t pa = k_pd_unmap(k_pd_kernel(), (uint32_t)va);
        kassert(pa != 0);
        k_frame_free(pa);
    }
}

/* All of [old_end, old_end + bytes) mapped, or nothing: the heap's end stays where it was
 * when frames run out, so the next growth maps the same pages again. */
static int heap_grow(void *ctx, uintptr_t old_end, size_t bytes)
{
    (void)ctx;
    for (uintptr_t va = old_end; va < old_end + bytes; va += K_PAGE) {
        uint32_t pa = k_frame_alloc();
        if (pa == 0) {
            heap_shrink(old_end, va);
            return -K_ENOMEM;
        }
        int rc = k_pd_map(k_pd_kernel(), (uint32_t)va, pa, K_PTE_W);
        kassert(rc == 0);
    }
    return 0;
}

void k_kmem_init(const struct k_mb_info *mbi)
{
    k_top = find_top(mbi);
    kassert(k_top > LOW_MEM + 4 * 1024 * 1024);
    int rc = k_frames_init(&k_phys, LOW_MEM, (k_top - LOW_MEM) / K_FRAME_SIZE, k_phys_bitmap);
    kassert(rc == 0);
    reserve_holes(mbi);
    k_frames_reserve(&k_phys, (uint32_t)(uintptr_t)_kernel_start,
                     (uint32_t)(_kernel_end - _kernel_start));
    k_paging_init(k_top);
    kassert(heap_grow(NULL, K_HEAP_BASE, HEAP_INITIAL) == 0);
    rc = k_heap_init(&k_kheap, K_HEAP_BASE, HEAP_INITIAL, K_HEAP_LIMIT, heap_grow, NULL);
    kassert(rc == 0);
}

struct k_frames *k_kmem_frames(void)
{
    return &k_phys;
}

struct k_heap *k_kmem_heap(void)
{
    return &k_kheap;
}

uint32_t k_kmem_phys_top(void)
{
    return k_top;
}

uint32_t k_frame_alloc(void)
{
    return k_frames_alloc(&k_phys);
}

uint32_t k_frame_alloc_zeroed(void)
{
    uint32_t pa = k_frames_alloc(&k_phys);
    if (pa != 0)
        memset((void *)(uintptr_t)pa, 0, K_FRAME_SIZE);
    return pa;
}

void k_frame_free(uint32_t pa)
{
    int rc = k_frames_free(&k_phys, pa);
    kassert(rc == 0);
}

void *kmalloc(size_t size)
{
    return k_heap_alloc(&k_kheap, size);
}

void *kcalloc(size_t n, size_t size)
{
    return k_heap_calloc(&k_kheap, n, size);
}

void kfree(void *p)
{
    int rc = k_heap_free(&k_kheap, p);
    kassert(rc == 0);
}

/*
 * test_mm.c - in-guest tests of memory management: the physical frame allocator
 * (mm/frame.h over the Multiboot memory map), two-level paging (mm/paging.h, Intel SDM
 * vol. 3, 4.3) and the kernel heap (mm/heap.h through mm/kmem.c).
 */
#include "ktest/ktest.h"
#include "lib/kerrno.h"
#include "mm/kmem.h"
#include "mm/paging.h"
#include "sys/uaccess.h"

extern char _kernel_start[], _kernel_end[];

#define TEST_VA 0x50000000u

KTEST_CASE(frames, alloc_free)
{
    struct k_frames *fa = k_kmem_frames();
    uint32_t n0 = k_frames_free_count(fa);
    uint32_t a = k_frame_alloc(), b = k_frame_alloc();
    KEXPECT(a != 0 && b != 0 && a != b);
    KEXPECT((a & (K_FRAME_SIZE - 1)) == 0);
    KEXPECT_EQ(k_frames_is_used(fa, a), 1);
    KEXPECT_EQ(k_frames_free_count(fa), n0 - 2);
    KEXPECT_EQ(k_frames_free(fa, a), 0);
    KEXPECT_EQ(k_frames_free(fa, a), -K_EINVAL); /* double free refused */
    KEXPECT_EQ(k_frames_is_used(fa, a), 0);
    KEXPECT_EQ(k_frames_free(fa, b), 0);
    KEXPECT_EQ(k_frames_free_count(fa), n0);
    KEXPECT_EQ(k_frames_check(fa), 0);
}

KTEST_CASE(frames, exhaustion)
{
    /* a private allocator over 8 frames taken from the real one */
    uint32_t run = k_frames_alloc_run(k_kmem_frames(), 8);
    KEXPECT(run != 0);
    struct k_frames small;
    uint32_t bitmap[1];
    KEXPECT_EQ(k_frames_init(&small, run, 8, bitmap), 0);
    uint32_t got[8];
    for (int i = 0; i < 8; i++) {
        got[i] = k_frames_alloc(&small);
        KEXPECT(got[i] >= run && got[i] < run + 8 * K_FRAME_SIZE);
    }
    KEXPECT_EQ(k_frames_alloc(&small), 0);
    KEXPECT_EQ(k_frames_free_count(&small), 0);
    KEXPECT_EQ(k_frames_free(&small, got[3]), 0);
    KEXPECT_EQ(k_frames_alloc(&small), got[3]);
    KEXPECT_EQ(k_frames_free(&small, run + 8 * K_FRAME_SIZE), -K_EINVAL);
    KEXPECT_EQ(k_frames_check(&small), 0);
    for (uint32_t i = 0; i < 8; i++)
        k_frame_free(run + i * K_FRAME_SIZE);
}

KTEST_CASE(frames, reserved)
{
    struct k_frames *fa = k_kmem_frames();
    KEXPECT_EQ(k_frames_is_used(fa, (uint32_t)(uintptr_t)_kernel_start), 1);
    KEXPECT_EQ(k_frames_is_used(fa, (uint32_t)(uintptr_t)_kernel_end - 1), 1);
    KEXPECT(k_kmem_phys_top() >= 16u * 1024 * 1024);
    KEXPECT(k_frames_free_count(fa) > 1024);
    KEXPECT_EQ(k_frames_is_used(fa, 0x1000), -K_EINVAL); /* below the managed range */
}

KTEST_CASE(paging, map_lookup_unmap)
{
    uint32_t before = k_frames_free_count(k_kmem_frames());
    uint32_t pd = k_pd_create(), f = k_frame_alloc();
    KEXPECT(pd != 0 && f != 0);
    KEXPECT_EQ(k_pd_map(pd, TEST_VA, f, K_PTE_U | K_PTE_W), 0);
    KEXPECT_EQ(k_pd_map(pd, TEST_VA, f, K_PTE_U), -K_EEXIST);
    KEXPECT_EQ(k_pd_map(pd, TEST_VA + 1, f, K_PTE_U), -K_EINVAL);
    uint32_t pa = 0, fl = 0;
    KEXPECT_EQ(k_pd_lookup(pd, TEST_VA + 0x123, &pa, &fl), 0);
    KEXPECT_EQ(pa, f + 0x123);
    KEXPECT((fl & (K_PTE_P | K_PTE_U | K_PTE_W)) == (K_PTE_P | K_PTE_U | K_PTE_W));
    KEXPECT_EQ(k_pd_user_pages(pd), 1);
    KEXPECT_EQ(k_pd_unmap(pd, TEST_VA), f);
    KEXPECT_EQ(k_pd_lookup(pd, TEST_VA, NULL, NULL), -K_ENOENT);
    KEXPECT_EQ(k_pd_unmap(pd, TEST_VA), 0);
    k_frame_free(f);
    k_pd_free(pd);
    KEXPECT_EQ(k_frames_free_count(k_kmem_frames()), before);
}

KTEST_CASE(paging, kernel_shared_supervisor)
{
    uint32_t pd = k_pd_create();
    KEXPECT(pd != 0);
    uint32_t pa = 0, fl = 0;
    uint32_t kva = (uint32_t)(uintptr_t)_kernel_start;
    KEXPECT_EQ(k_pd_lookup(pd, kva, &pa, &fl), 0);
    KEXPECT_EQ(pa, kva); /* identity mapped */
    KEXPECT((fl & K_PTE_U) == 0);
    void *h = kmalloc(64);
    KEXPECT(h != NULL);
    KEXPECT_EQ(k_pd_lookup(pd, (uint32_t)(uintptr_t)h, &pa, &fl), 0); /* heap seen too */
    KEXPECT((fl & K_PTE_U) == 0);
    kfree(h);
    KEXPECT_EQ(k_pd_lookup(pd, 0, NULL, NULL), -K_ENOENT); /* NULL page unmapped */
    KEXPECT_EQ(k_pd_lookup(pd, K_USER_BASE, NULL, NULL), -K_ENOENT);
    k_pd_free(pd);
}

KTEST_CASE(paging, separate_spaces)
{
    uint32_t pd1 = k_pd_create(), pd2 = k_pd_create();
    uint32_t f1 = k_frame_alloc_zeroed(), f2 = k_frame_alloc_zeroed();
    KEXPECT(pd1 && pd2 && f1 && f2);
    KEXPECT_EQ(k_pd_map(pd1, TEST_VA, f1, K_PTE_U | K_PTE_W), 0);
    KEXPECT_EQ(k_pd_map(pd2, TEST_VA, f2, K_PTE_U | K_PTE_W), 0);
    volatile uint32_t *va = (volatile uint32_t *)(uintptr_t)TEST_VA;
    uint32_t saved = k_pd_current();
    k_pd_switch(pd1);
    *va = 0x1111;
    k_pd_switch(pd2);
    *va = 0x2222;
    k_pd_switch(pd1);
    uint32_t v1 = *va;
    k_pd_switch(saved);
    KEXPECT_EQ(v1, 0x1111);
    KEXPECT_EQ(*(uint32_t *)(uintptr_t)f2, 0x2222);
    k_pd_free(pd1);
    k_pd_free(pd2);
}

KTEST_CASE(paging, copy_is_deep)
{
    uint32_t before = k_frames_free_count(k_kmem_frames());
    uint32_t src = k_pd_create(), dst = k_pd_create(), f = k_frame_alloc_zeroed();
    KEXPECT(src && dst && f);
    memset((void *)(uintptr_t)f, 0x5a, K_PAGE);
    KEXPECT_EQ(k_pd_map(src, TEST_VA, f, K_PTE_U), 0);
    KEXPECT_EQ(k_pd_map(src, TEST_VA + 0x800000, k_frame_alloc_zeroed(), K_PTE_U | K_PTE_W),
               0);
    KEXPECT_EQ(k_pd_copy(dst, src), 0);
    KEXPECT_EQ(k_pd_user_pages(dst), 2);
    uint32_t pa = 0, fl = 0;
    KEXPECT_EQ(k_pd_lookup(dst, TEST_VA, &pa, &fl), 0);
    KEXPECT(pa != f);
    KEXPECT((fl & (K_PTE_U | K_PTE_W)) == K_PTE_U); /* same flags */
    KEXPECT_EQ(memcmp((void *)(uintptr_t)pa, (void *)(uintptr_t)f, K_PAGE), 0);
    *(uint8_t *)(uintptr_t)pa = 1;
    KEXPECT_EQ(*(uint8_t *)(uintptr_t)f, 0x5a);
    k_pd_free(src);
    k_pd_free(dst);
    KEXPECT_EQ(k_frames_free_count(k_kmem_frames()), before);
}

KTEST_CASE(paging, free_range)
{
    uint32_t pd = k_pd_create();
    KEXPECT(pd != 0);
    for (uint32_t i = 0; i < 6; i++)
        KEXPECT_EQ(k_pd_map(pd, TEST_VA + i * K_PAGE, k_frame_alloc(), K_PTE_U), 0);
    KEXPECT_EQ(k_pd_free_range(pd, TEST_VA + K_PAGE, TEST_VA + 4 * K_PAGE), 3);
    KEXPECT_EQ(k_pd_user_pages(pd), 3);
    KEXPECT_EQ(k_pd_free_range(pd, TEST_VA - 0x1000000, TEST_VA), 0); /* no tables there */
    k_pd_free(pd);
}

KTEST_CASE(heap, many_sizes)
{
    struct k_heap *h = k_kmem_heap();
    size_t used0 = h->used, blocks0 = h->nblocks;
    uint8_t *p[64];
    for (int i = 0; i < 64; i++) {
        size_t sz = (size_t)(i * 211 % 3000) + 1;
        p[i] = kmalloc(sz);
        KEXPECT(p[i] != NULL);
        KEXPECT(((uintptr_t)p[i] & (K_HEAP_ALIGN - 1)) == 0);
        KEXPECT(k_heap_size(h, p[i]) >= sz);
        memset(p[i], i, sz);
    }
    KEXPECT_EQ(k_heap_check(h), 0);
    for (int i = 0; i < 64; i += 2)
        kfree(p[i]);
    for (int i = 1; i < 64; i += 2) {
        size_t sz = (size_t)(i * 211 % 3000) + 1;
        for (size_t j = 0; j < sz; j++)
            KEXPECT_EQ(p[i][j], i);
        kfree(p[i]);
    }
    KEXPECT_EQ(k_heap_check(h), 0);
    KEXPECT_EQ(h->used, used0);
    KEXPECT_EQ(h->nblocks, blocks0);
}

KTEST_CASE(heap, grows)
{
    struct k_heap *h = k_kmem_heap();
    uintptr_t end0 = h->end;
    size_t big = 2u * 1024 * 1024;
    uint8_t *p = kmalloc(big);
    KEXPECT(p != NULL);
    KEXPECT((uintptr_t)p >= h->start && (uintptr_t)p + big <= h->end);
    KEXPECT(h->end >= end0); /* grew (or had room) without moving */
    p[0] = 1;
    p[big - 1] = 2;
    KEXPECT(p[0] + p[big - 1] == 3);
    kfree(p);
    KEXPECT_EQ(k_heap_check(h), 0);
    KEXPECT(kmalloc(0) == NULL);
}

KTEST_CASE(heap, bad_free_refused)
{
    struct k_heap *h = k_kmem_heap();
    uint8_t *p = kmalloc(100);
    KEXPECT(p != NULL);
    KEXPECT_EQ(k_heap_free(h, p + 16), -K_EINVAL);
    KEXPECT_EQ(k_heap_free(h, p), 0);
    KEXPECT_EQ(k_heap_free(h, p), -K_EINVAL);
    KEXPECT_EQ(k_heap_free(h, NULL), 0);
    KEXPECT_EQ(k_heap_check(h), 0);
}

KTEST_CASE(heap, calloc_zeroed)
{
    uint8_t *p = kmalloc(512);
    KEXPECT(p != NULL);
    memset(p, 0xff, 512);
    kfree(p);
    uint8_t *q = kcalloc(16, 32);
    KEXPECT(q != NULL);
    for (int i = 0; i < 512; i++)
        KEXPECT_EQ(q[i], 0);
    kfree(q);
    KEXPECT(kcalloc(0x10000, 0x10000) == NULL); /* overflow */
}

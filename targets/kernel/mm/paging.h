/*
 * paging.h - two-level 32-bit paging with 4 KiB pages (Intel SDM vol. 3, 4.3 "32-bit
 * paging"). Address spaces are page directories named by their physical address. Every one
 * shares the kernel's page tables for [0, K_USER_BASE): all RAM identity-mapped and the
 * kernel heap window, supervisor-only; [K_USER_BASE, K_USER_TOP) is per process.
 */
#ifndef K_PAGING_H
#define K_PAGING_H

#include "lib/klib.h"

#define K_PAGE 4096u
#define K_PTE_P 0x001u
#define K_PTE_W 0x002u
#define K_PTE_U 0x004u
#define K_PTE_G 0x100u

/* The kernel heap's virtual window (shared page tables, mapped on demand by mm/kmem.c). */
#define K_HEAP_BASE 0x30000000u
#define K_HEAP_LIMIT 0x34000000u
/* Physical memory above this is not used (it would collide with the heap window). */
#define K_PHYS_LIMIT K_HEAP_BASE

/* Build the kernel page tables (identity map of [4 KiB, phys_top); page 0 stays unmapped to
 * catch NULL dereferences) and turn paging on. Frames come from k_kmem_frames(). */
void k_paging_init(uint32_t phys_top);
/* The kernel-only address space (the one kernel threads run in). */
uint32_t k_pd_kernel(void);
/* A new address space: the kernel part shared, no user page. 0 when out of memory. */
uint32_t k_pd_create(void);
/* Map va -> pa with flags (K_PTE_W, K_PTE_U). 0, -K_EEXIST (already mapped), -K_ENOMEM,
 * -K_EINVAL (unaligned, or a kernel address outside the preallocated kernel tables). */
int k_pd_map(uint32_t pd, uint32_t va, uint32_t pa, uint32_t flags);
/* Physical frame and flags of va. 0, or -K_ENOENT when not mapped. */
int k_pd_lookup(uint32_t pd, uint32_t va, uint32_t *pa, uint32_t *flags);
/* Remove the mapping of va; the frame it mapped (not freed), or 0 when none. */
uint32_t k_pd_unmap(uint32_t pd, uint32_t va);
/* Unmap every page of [start, end) and free its frames; the number of pages freed. */
uint32_t k_pd_free_range(uint32_t pd, uint32_t start, uint32_t end);
/* Copy every user page of src into dst (fresh frames, same flags). 0 or -K_ENOMEM. */
int k_pd_copy(uint32_t dst, uint32_t src);
/* Free every user page, the user page tables and the directory (not the current one). */
void k_pd_free(uint32_t pd);
/* User pages mapped in pd. */
uint32_t k_pd_user_pages(uint32_t pd);
/* Load pd into CR3 (no-op when already loaded). */
void k_pd_switch(uint32_t pd);
/* The address space currently loaded. */
uint32_t k_pd_current(void);

#endif

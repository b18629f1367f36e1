/*
 * uaccess.h - system call argument checks: is [addr, addr+len) user memory the process may
 * read (or write)? Every pointer a system call receives goes through here before the kernel
 * touches it, so a pointer into the kernel or into an unmapped hole returns -K_EFAULT instead
 * of faulting the kernel.
 *
 * Host-buildable. A process's user address space is described as a list of disjoint ranges
 * (program segments, stack, heap/mmap regions); pages of a range may be mapped lazily, the
 * kernel's page fault handler maps them on first touch.
 */
#ifndef K_UACCESS_H
#define K_UACCESS_H

#include "lib/klib.h"

#define K_USER_BASE 0x40000000u /* lowest user address */
#define K_USER_TOP 0xC0000000u  /* one past the highest user address */
#define K_VMAP_MAX 16u

struct k_vrange {
    uint32_t start; /* page-aligned */
    uint32_t end;   /* page-aligned, > start */
    uint8_t writable;
    uint8_t lazy;   /* pages are mapped on first touch (zero-filled) */
};

struct k_vmap {
    struct k_vrange r[K_VMAP_MAX];
    uint32_t n; /* kept sorted by start, never overlapping */
};

void k_vmap_init(struct k_vmap *m);
/* Add [start, start+len) (page-aligned start, len rounded up to pages). 0, -K_EINVAL (outside
 * [K_USER_BASE, K_USER_TOP), unaligned, len 0, overlap), -K_ENOMEM (table full). */
int k_vmap_add(struct k_vmap *m, uint32_t start, uint32_t len, int writable, int lazy);
/* Find a free gap of len bytes (rounded to pages) at or above hint; its start, or 0. */
uint32_t k_vmap_find_gap(const struct k_vmap *m, uint32_t hint, uint32_t len);
/* The range containing addr, or NULL. */
const struct k_vrange *k_vmap_lookup(const struct k_vmap *m, uint32_t addr);
/* 0 when every byte of [addr, addr+len) is in ranges (writable ones when write), else
 * -K_EFAULT; len 0 is 0; wrap-around is -K_EFAULT. */
int k_uaccess_check(const struct k_vmap *m, uint32_t addr, uint32_t len, int write);
/* How many bytes from addr (at most max) are accessible without a gap: the bound within
 * which a NUL-terminated user string may be scanned. 0 when addr itself is not. */
uint32_t k_uaccess_span(const struct k_vmap *m, uint32_t addr, uint32_t max, int write);

#endif

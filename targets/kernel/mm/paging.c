/*
 * paging.c - 32-bit two-level paging (Intel SDM vol. 3, 4.3; 4.10 for the TLB rules):
 * a page directory of 1024 PDEs each naming a page table of 1024 PTEs. Physical memory is
 * identity mapped, so a table's physical address is also the pointer the kernel uses.
 *
 * Kernel half [0, K_USER_BASE): page tables built once at boot (identity map of RAM, global
 * and supervisor-only, and the empty heap window) and shared by pointer in every directory,
 * so a heap page mapped later is seen everywhere. User half: per directory, PDEs with U|W so
 * that the PTE alone decides the access. CR0.WP makes the kernel honour read-only user pages.
 */
#include "mm/paging.h"

#include "arch/x86.h"
#include "lib/kerrno.h"
#include "mm/kmem.h"
#include "sys/uaccess.h"

#define PDE_PS 0x080u
#define NENT 1024u
#define CR0_PG 0x80000000u
#define CR0_WP 0x00010000u
#define CR4_TSD 0x004u
#define CR4_PGE 0x080u
#define KERNEL_PDES (K_USER_BASE >> 22)
#define USER_PDE_END (K_USER_TOP >> 22)

static uint32_t *k_kpd;

static uint32_t pdx(uint32_t va)
{
    return va >> 22;
}

static uint32_t ptx(uint32_t va)
{
    return (va >> 12) & 0x3ffu;
}

static uint32_t *table_of(uint32_t entry)
{
    return (uint32_t *)(uintptr_t)(entry & ~0xfffu);
}

static uint32_t alloc_table(void)
{
    return k_frame_alloc_zeroed();
}

void k_paging_init(uint32_t phys_top)
{
    uint32_t kpd = alloc_table();
    kassert(kpd != 0);
    k_kpd = (uint32_t *)(uintptr_t)kpd;
    kassert(phys_top <= K_PHYS_LIMIT);
    for (uint32_t va = 0; va < K_ALIGN_UP(phys_top, 1u << 22); va += 1u << 22) {
        uint32_t pt = alloc_table();
        kassert(pt != 0);
        uint32_t *t = table_of(pt);
        for (uint32_t i = 0; i < NENT; i++) {
            uint32_t a = va + i * K_PAGE;
            if (a != 0 && a < phys_top)
                t[i] = a | K_PTE_P | K_PTE_W | K_PTE_G;
        }
        k_kpd[pdx(va)] = pt | K_PTE_P | K_PTE_W;
    }
    for (uint32_t va = K_HEAP_BASE; va < K_HEAP_LIMIT; va += 1u << 22) {
        uint32_t pt = alloc_table();
        kassert(pt != 0);
        k_kpd[pdx(va)] = pt | K_PTE_P | K_PTE_W;
    }
    k_write_cr4((k_read_cr4() | CR4_PGE) & ~CR4_TSD);
    k_write_cr3(kpd);
    k_write_cr0(k_read_cr0() | CR0_PG | CR0_WP);
}

uint32_t k_pd_kernel(void)
{
    return (uint32_t)(uintptr_t)k_kpd;
}

uint32_t k_pd_current(void)
{
    return k_read_cr3() & ~0xfffu;
}

void k_pd_switch(uint32_t pd)
{
    if (k_pd_current() != pd)
        k_write_cr3(pd);
}

uint32_t k_pd_create(void)
{
    uint32_t pd = alloc_table();
    if (pd == 0)
        return 0;
    memcpy((void *)(uintptr_t)pd, k_kpd, KERNEL_PDES * sizeof(uint32_t));
    return pd;
}

/* The PTE slot of va in pd, creating the user page table when create; NULL when absent. */
static uint32_t *pte_slot(uint32_t pd, uint32_t va, bool create)
{
    uint32_t *dir = (uint32_t *)(uintptr_t)pd;
    uint32_t *pde = &dir[pdx(va)];
    if (!(*pde & K_PTE_P)) {
        if (!create || va < K_USER_BASE || va >= K_USER_TOP)
            return NULL;
        uint32_t pt = alloc_table();
        if (pt == 0)
            return NULL;
        *pde = pt | K_PTE_P | K_PTE_W | K_PTE_U;
    }
    return &table_of(*pde)[ptx(va)];
}

static void flush(uint32_t pd, uint32_t va)
{
    if (va < K_USER_BASE || pd == k_pd_current())
        k_invlpg(va);
}

int k_pd_map(uint32_t pd, uint32_t va, uint32_t pa, uint32_t flags)
{
    if ((va | pa) & (K_PAGE - 1) || va >= K_USER_TOP)
        return -K_EINVAL;
    bool user = va >= K_USER_BASE;
    if (!user && (pd != k_pd_kernel() || (flags & K_PTE_U)))
        return -K_EINVAL; /* kernel mappings only through the shared kernel tables */
    uint32_t *pte = pte_slot(pd, va, true);
    if (pte == NULL)
        return user ? -K_ENOMEM : -K_EINVAL;
    if (*pte & K_PTE_P)
        return -K_EEXIST;
    *pte = pa | K_PTE_P | (flags & (K_PTE_W | K_PTE_U)) | (user ? 0 : K_PTE_G);
    flush(pd, va);
    return 0;
}

int k_pd_lookup(uint32_t pd, uint32_t va, uint32_t *pa, uint32_t *flags)
{
    uint32_t *pte = pte_slot(pd, va & ~(K_PAGE - 1), false);
    if (pte == NULL || !(*pte & K_PTE_P))
        return -K_ENOENT;
    if (pa != NULL)
        *pa = (*pte & ~0xfffu) | (va & 0xfffu);
    if (flags != NULL)
        *flags = *pte & 0xfffu;
    return 0;
}

uint32_t k_pd_unmap(uint32_t pd, uint32_t va)
{
    uint32_t *pte = pte_slot(pd, va, false);
    if (pte == NULL || !(*pte & K_PTE_P))
        return 0;
    uint32_t pa = *pte & ~0xfffu;
    *pte = 0;
    flush(pd, va);
    return pa;
}

uint32_t k_pd_free_range(uint32_t pd, uint32_t start, uint32_t end)
{
    uint32_t n = 0;
    for (uint32_t va = start; va < end; va += K_PAGE) {
        uint32_t *dir = (uint32_t *)(uintptr_t)pd;
        if (!(dir[pdx(va)] & K_PTE_P)) {
            va = (va | 0x3fffffu) - K_PAGE + 1; /* skip to the next table */
            continue;
        }
        uint32_t pa = k_pd_unmap(pd, va);
        if (pa != 0) {
            k_frame_free(pa);
            n++;
        }
    }
    return n;
}

int k_pd_copy(uint32_t dst, uint32_t src)
{
    uint32_t *sdir = (uint32_t *)(uintptr_t)src;
    for (uint32_t i = KERNEL_PDES; i < USER_PDE_END; i++) {
        if (!(sdir[i] & K_PTE_P))
            continue;
        uint32_t *t = table_of(sdir[i]);
        for (uint32_t j = 0; j < NENT; j++) {
            if (!(t[j] & K_PTE_P))
                continue;
            uint32_t frame = k_frame_alloc();
            if (frame == 0)
                return -K_ENOMEM;
            memcpy((void *)(uintptr_t)frame, table_of(t[j]), K_PAGE);
            int rc = k_pd_map(dst, (i << 22) | (j << 12), frame, t[j] & 0xfffu);
            if (rc != 0) {
                k_frame_free(frame);
                return rc;
            }
        }
    }
    return 0;
}

void k_pd_free(uint32_t pd)
{
    kassert(pd != k_pd_current() && pd != k_pd_kernel());
    uint32_t *dir = (uint32_t *)(uintptr_t)pd;
    for (uint32_t i = KERNEL_PDES; i < USER_PDE_END; i++) {
        if (!(dir[i] & K_PTE_P))
            continue;
        uint32_t *t = table_of(dir[i]);
        for (uint32_t j = 0; j < NENT; j++)
            if (t[j] & K_PTE_P)
                k_frame_free(t[j] & ~0xfffu);
        k_frame_free(dir[i] & ~0xfffu);
        dir[i] = 0;
    }
    k_frame_free(pd);
}

uint32_t k_pd_user_pages(uint32_t pd)
{
    uint32_t n = 0;
    uint32_t *dir = (uint32_t *)(uintptr_t)pd;
    for (uint32_t i = KERNEL_PDES; i < USER_PDE_END; i++) {
        if (!(dir[i] & K_PTE_P))
            continue;
        uint32_t *t = table_of(dir[i]);
        for (uint32_t j = 0; j < NENT; j++)
            n += (t[j] & K_PTE_P) != 0;
    }
    return n;
}

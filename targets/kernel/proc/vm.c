/*
 * vm.c - demand paging and mmap (Intel SDM vol. 3, 4.7 page-fault error code: bit 0 P,
 * bit 1 W/R, bit 2 U/S). Lazy ranges get a zeroed frame on their first touch, whether the
 * touch comes from user mode or from the kernel copying system call data after the range
 * was checked with k_uaccess_check. Protection violations and holes are not handled here:
 * the trap code kills the process (user mode) or panics (kernel mode).
 */
#include "proc/vm.h"

#include "lib/kerrno.h"
#include "mm/kmem.h"
#include "mm/paging.h"
#include "proc/proc.h"

#define PF_PRESENT 0x1u
#define PF_WRITE 0x2u
#define MMAP_MAX (256u * 1024u * 1024u)
/* mmap's result is an int32_t: regions end at or below 2 GiB so no address looks negative */
#define MMAP_TOP 0x80000000u

static uint32_t k_nfaults;

int k_vm_fault(uint32_t addr, uint32_t err)
{
    struct k_proc *p = k_proc_current();
    if (p->kernel_thread || addr < K_USER_BASE || addr >= K_USER_TOP || (err & PF_PRESENT))
        return -K_EFAULT;
    const struct k_vrange *r = k_vmap_lookup(&p->vm, addr);
    if (r == NULL || !r->lazy || ((err & PF_WRITE) && !r->writable))
        return -K_EFAULT;
    uint32_t frame = k_frame_alloc_zeroed();
    if (frame == 0)
        return -K_ENOMEM;
    uint32_t flags = K_PTE_U | (r->writable ? K_PTE_W : 0);
    if (k_pd_map(p->pd, addr & ~(K_PAGE - 1), frame, flags) != 0) {
        k_frame_free(frame);
        return -K_ENOMEM;
    }
    k_nfaults++;
    return 0;
}

int32_t k_vm_mmap(uint32_t len, int writable)
{
    struct k_proc *p = k_proc_current();
    if (len == 0 || len > MMAP_MAX)
        return -K_EINVAL;
    uint32_t size = K_ALIGN_UP(len, K_PAGE);
    uint32_t addr = k_vmap_find_gap(&p->vm, p->mmap_hint, len);
    if (addr == 0 || addr + size > MMAP_TOP)
        addr = k_vmap_find_gap(&p->vm, K_USER_BASE, len);
    if (addr == 0 || addr + size > MMAP_TOP)
        return -K_ENOMEM;
    int rc = k_vmap_add(&p->vm, addr, len, writable, 1);
    if (rc != 0)
        return rc;
    p->mmap_hint = addr + size;
    return (int32_t)addr;
}

int k_vm_munmap(uint32_t addr, uint32_t len)
{
    struct k_proc *p = k_proc_current();
    if ((addr & (K_PAGE - 1)) || len == 0 || len > K_USER_TOP - addr)
        return -K_EINVAL;
    uint32_t end = addr + K_ALIGN_UP(len, K_PAGE);
    uint32_t i = 0;
    while (i < p->vm.n && !(p->vm.r[i].start <= addr && addr < p->vm.r[i].end))
        i++;
    if (i == p->vm.n || end > p->vm.r[i].end || !p->vm.r[i].lazy)
        return -K_EINVAL;
    struct k_vrange r = p->vm.r[i];
    if (r.start < addr && end < r.end && p->vm.n >= K_VMAP_MAX)
        return -K_ENOMEM; /* no room to split the range in two */
    memmove(&p->vm.r[i], &p->vm.r[i + 1], (p->vm.n - i - 1) * sizeof r);
    p->vm.n--;
    if (r.start < addr)
        kassert(k_vmap_add(&p->vm, r.start, addr - r.start, r.writable, 1) == 0);
    if (end < r.end)
        kassert(k_vmap_add(&p->vm, end, r.end - end, r.writable, 1) == 0);
    k_pd_free_range(p->pd, addr, end);
    if (p->mmap_hint > addr)
        p->mmap_hint = addr;
    return 0;
}

uint32_t k_vm_faults(void)
{
    return k_nfaults;
}

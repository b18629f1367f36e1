/*
 * vm.h - a process's user memory beyond program loading: demand paging of lazy ranges and
 * the mmap/munmap operations on its k_vmap (sys/uaccess.h).
 */
#ifndef K_VM_H
#define K_VM_H

#include "lib/klib.h"

/* Page fault at addr with the CPU's error code (Intel SDM vol. 3, 4.7): map a zeroed page
 * when addr is an absent page of a lazy range of the current process that allows the
 * access. 0 when handled (also for a kernel-mode touch of user memory), else negative. */
int k_vm_fault(uint32_t addr, uint32_t err);
/* A new lazy zero-filled range of len bytes (at most 256 MiB) in the current process, below
 * 2 GiB; its address or -K_EINVAL / -K_ENOMEM. */
int32_t k_vm_mmap(uint32_t len, int writable);
/* Remove [addr, addr+len) (inside one lazy range) and free its pages. 0, -K_EINVAL, or
 * -K_ENOMEM (no room to split the range). */
int k_vm_munmap(uint32_t addr, uint32_t len);
/* Demand-paging faults served since boot. */
uint32_t k_vm_faults(void);

#endif

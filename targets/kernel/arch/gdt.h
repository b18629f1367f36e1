/*
 * gdt.h - segmentation (Intel SDM vol. 3, ch. 3 and 7): flat 4 GiB kernel and user code/data
 * segments and one TSS whose esp0 is the kernel stack the CPU switches to on a ring 3 -> 0
 * trap.
 */
#ifndef K_GDT_H
#define K_GDT_H

#include "lib/klib.h"

#define K_SEG_KCODE 0x08u
#define K_SEG_KDATA 0x10u
#define K_SEG_UCODE (0x18u | 3u)
#define K_SEG_UDATA (0x20u | 3u)
#define K_SEG_TSS 0x28u

void k_gdt_init(void);
/* Kernel stack top used for the next trap from user mode. */
void k_gdt_set_kstack(uint32_t esp0);

#endif

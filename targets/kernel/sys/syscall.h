/*
 * syscall.h - the int 0x80 system call dispatcher (ABI in sys/syscall_nr.h).
 */
#ifndef K_SYSCALL_H
#define K_SYSCALL_H

#include "arch/trap.h"

void k_syscall(struct k_trapframe *tf);
/* System calls served since boot. */
uint32_t k_syscall_count(void);

#endif

/*
 * trap.h - the trap frame isr.S builds on every interrupt, exception and system call, and
 * the dispatcher (Intel SDM vol. 3, ch. 6: interrupt and exception handling).
 */
#ifndef K_TRAP_H
#define K_TRAP_H

#include "lib/klib.h"

#define K_T_DIVIDE 0
#define K_T_GPF 13
#define K_T_PGFLT 14
#define K_IRQ0 32
#define K_T_SYSCALL 0x80

struct k_trapframe {
    uint32_t gs, fs, es, ds;
    uint32_t edi, esi, ebp, kesp, ebx, edx, ecx, eax; /* pushal order */
    uint32_t vector, err;
    uint32_t eip, cs, eflags;
    uint32_t uesp, uss; /* only when the trap came from ring 3 */
};

typedef void (*k_irq_fn)(struct k_trapframe *tf);

void k_idt_init(void);
void k_irq_register(int irq, k_irq_fn fn);
void k_trap(struct k_trapframe *tf);
/* Print every register of tf (and cr2) on the console. */
void k_trap_dump(const struct k_trapframe *tf);
const char *k_trap_name(uint32_t vector);

static inline bool k_trap_from_user(const struct k_trapframe *tf)
{
    return (tf->cs & 3u) == 3u;
}

/* Where a new process's first return to user mode starts (isr.S). */
void k_trapret(void);

#endif

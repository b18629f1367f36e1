/*
 * idt.c - the interrupt descriptor table (Intel SDM vol. 3, 6.10-6.11): interrupt gates for
 * the 32 exceptions and the 16 remapped PIC IRQs (DPL 0: user code cannot raise them with
 * int), and the system call gate int 0x80 with DPL 3. All are interrupt gates, so the kernel
 * is entered with interrupts off (see proc/sched.c for the locking rule this gives).
 */
#include "arch/gdt.h"
#include "arch/trap.h"

struct k_idt_gate {
    uint16_t off_lo;
    uint16_t sel;
    uint8_t zero;
    uint8_t type; /* P | DPL | 0 | 1110 (32-bit interrupt gate) */
    uint16_t off_hi;
} __attribute__((packed));

struct k_idt_ptr {
    uint16_t limit;
    uint32_t base;
} __attribute__((packed));

extern const uint32_t k_isr_vectors[48];
extern void k_isr_syscall(void);

static struct k_idt_gate k_idt[256];

static void idt_set(int vec, uint32_t handler, uint8_t dpl)
{
    k_idt[vec] = (struct k_idt_gate){
        .off_lo = handler & 0xffffu, .sel = K_SEG_KCODE, .zero = 0,
        .type = (uint8_t)(0x8e | (dpl << 5)), .off_hi = handler >> 16,
    };
}

void k_idt_init(void)
{
    for (int v = 0; v < 48; v++)
        idt_set(v, k_isr_vectors[v], 0);
    idt_set(K_T_SYSCALL, (uint32_t)(uintptr_t)k_isr_syscall, 3);
    struct k_idt_ptr p = {.limit = sizeof k_idt - 1, .base = (uint32_t)(uintptr_t)k_idt};
    __asm__ volatile("lidt %0" : : "m"(p));
}

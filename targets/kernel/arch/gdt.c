/*
 * gdt.c - the global descriptor table and the task state segment (Intel SDM vol. 3, 3.4.5
 * segment descriptors, 7.2 TSS). Segments are flat (base 0, limit 4 GiB): protection comes
 * from paging. The TSS is used only for its ss0:esp0, the stack of traps from ring 3; the
 * I/O bitmap offset points past the limit so user mode has no port access.
 */
#include "arch/gdt.h"

struct k_tss {
    uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
    uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
    uint32_t es, cs, ss, ds, fs, gs, ldt;
    uint16_t trap, iomap;
} __attribute__((packed));

struct k_gdt_ptr {
    uint16_t limit;
    uint32_t base;
} __attribute__((packed));

static uint64_t k_gdt[6];
static struct k_tss k_tss;

/* One segment descriptor: access byte (P, DPL, S, type) and flags (G, D/B). */
static uint64_t gdt_entry(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
    uint64_t d = limit & 0xffffu;
    d |= (uint64_t)(base & 0xffffffu) << 16;
    d |= (uint64_t)access << 40;
    d |= (uint64_t)((limit >> 16) & 0xfu) << 48;
    d |= (uint64_t)(flags & 0xfu) << 52;
    d |= (uint64_t)((base >> 24) & 0xffu) << 56;
    return d;
}

static void gdt_load(void)
{
    struct k_gdt_ptr p = {.limit = sizeof k_gdt - 1, .base = (uint32_t)(uintptr_t)k_gdt};
    __asm__ volatile(
        "lgdt %0\n\t"
        "movw %1, %%ax\n\t"
        "movw %%ax, %%ds\n\t"
        "movw %%ax, %%es\n\t"
        "movw %%ax, %%fs\n\t"
        "movw %%ax, %%gs\n\t"
        "movw %%ax, %%ss\n\t"
        "ljmp %2, $1f\n"
        "1:\n\t"
        "movw %3, %%ax\n\t"
        "ltr %%ax"
        :
        : "m"(p), "i"(K_SEG_KDATA), "i"(K_SEG_KCODE), "i"(K_SEG_TSS)
        : "eax", "memory");
}

void k_gdt_init(void)
{
    k_gdt[0] = 0;
    k_gdt[1] = gdt_entry(0, 0xfffff, 0x9a, 0xc); /* kernel code: P, DPL0, code RX */
    k_gdt[2] = gdt_entry(0, 0xfffff, 0x92, 0xc); /* kernel data: P, DPL0, data RW */
    k_gdt[3] = gdt_entry(0, 0xfffff, 0xfa, 0xc); /* user code: P, DPL3 */
    k_gdt[4] = gdt_entry(0, 0xfffff, 0xf2, 0xc); /* user data: P, DPL3 */
    memset(&k_tss, 0, sizeof k_tss);
    k_tss.ss0 = K_SEG_KDATA;
    k_tss.iomap = sizeof k_tss;
    k_gdt[5] = gdt_entry((uint32_t)(uintptr_t)&k_tss, sizeof k_tss - 1, 0x89, 0x0);
    gdt_load();
}

void k_gdt_set_kstack(uint32_t esp0)
{
    k_tss.esp0 = esp0;
}

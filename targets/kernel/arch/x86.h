/*
 * x86.h - inline wrappers for the i386 instructions the kernel needs (port I/O, interrupt
 * flag, control registers, TLB, TSC), following the Intel SDM vol. 2 (instruction set) and
 * vol. 3 (system programming).
 */
#ifndef K_X86_H
#define K_X86_H

#include "lib/klib.h"

#define K_EFLAGS_IF 0x200u

static inline uint8_t k_inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline void k_outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint16_t k_inw(uint16_t port)
{
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline void k_outl(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline void k_insw(uint16_t port, void *dst, uint32_t count)
{
    __asm__ volatile("cld; rep insw" : "+D"(dst), "+c"(count) : "d"(port) : "memory");
}

static inline void k_cli(void)
{
    __asm__ volatile("cli" ::: "memory");
}

static inline void k_sti(void)
{
    __asm__ volatile("sti" ::: "memory");
}

/* Enable interrupts and halt until the next one (sti's one-instruction shadow makes the
 * pair atomic: an interrupt pending at sti wakes the hlt). */
static inline void k_sti_hlt(void)
{
    __asm__ volatile("sti; hlt" ::: "memory");
}

static inline uint32_t k_eflags(void)
{
    uint32_t f;
    __asm__ volatile("pushfl; popl %0" : "=r"(f));
    return f;
}

static inline uint64_t k_rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static inline uint32_t k_read_cr0(void)
{
    uint32_t v;
    __asm__ volatile("mov %%cr0, %0" : "=r"(v));
    return v;
}

static inline void k_write_cr0(uint32_t v)
{
    __asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory");
}

static inline uint32_t k_read_cr2(void)
{
    uint32_t v;
    __asm__ volatile("mov %%cr2, %0" : "=r"(v));
    return v;
}

static inline uint32_t k_read_cr3(void)
{
    uint32_t v;
    __asm__ volatile("mov %%cr3, %0" : "=r"(v));
    return v;
}

static inline void k_write_cr3(uint32_t v)
{
    __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory");
}

static inline uint32_t k_read_cr4(void)
{
    uint32_t v;
    __asm__ volatile("mov %%cr4, %0" : "=r"(v));
    return v;
}

static inline void k_write_cr4(uint32_t v)
{
    __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory");
}

static inline void k_invlpg(uint32_t va)
{
    __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

#endif

/*
 * panic.c - kpanic (lib/klib.h): print "LAB PANIC <message>" on the console (the lab's
 * serial protocol, plugins/kernel/ktest.py) and leave QEMU through isa-debug-exit with
 * value 2. Before the message: the registers at the call (general registers as kpanic
 * found them, the caller's eip, control registers) and a frame-pointer backtrace (the
 * kernel is built with -fno-omit-frame-pointer); a frame pointer is followed only while it
 * points at mapped memory. Interrupts stay off; a nested panic exits at once.
 */
#include <stdarg.h>

#include "arch/x86.h"
#include "dev/qexit.h"
#include "lib/kprintf.h"
#include "mm/paging.h"

#define BACKTRACE_MAX 10

/* Whether the 8 bytes of a stack frame at fp can be read (mapped kernel memory). */
static bool frame_readable(uint32_t fp)
{
    if (fp < 0x1000 || (fp & 3) || fp >= K_HEAP_LIMIT || k_pd_current() == 0)
        return false;
    if (!(k_read_cr0() & 0x80000000u))
        return true; /* paging not on yet: physical memory */
    return k_pd_lookup(k_pd_current(), fp, NULL, NULL) == 0 &&
           k_pd_lookup(k_pd_current(), fp + 7, NULL, NULL) == 0;
}

static void dump_registers(const uint32_t *gpr, uint32_t eip, uint32_t fp)
{
    k_printf("kpanic from eip=0x%08x eflags=0x%08x cs=0x%04x\n", eip, k_eflags(), 0x08u);
    k_printf("eax=0x%08x ebx=0x%08x ecx=0x%08x edx=0x%08x\n", gpr[0], gpr[1], gpr[2], gpr[3]);
    k_printf("esi=0x%08x edi=0x%08x ebp=0x%08x esp=0x%08x\n", gpr[4], gpr[5], fp, gpr[6]);
    k_printf("cr0=0x%08x cr2=0x%08x cr3=0x%08x cr4=0x%08x\n", k_read_cr0(), k_read_cr2(),
             k_read_cr3(), k_read_cr4());
    k_printf("backtrace:");
    for (int i = 0; i < BACKTRACE_MAX && frame_readable(fp); i++) {
        const uint32_t *frame = (const uint32_t *)(uintptr_t)fp;
        if (frame[1] == 0)
            break;
        k_printf(" 0x%08x", frame[1]);
        if (frame[0] <= fp)
            break; /* frames go up the stack */
        fp = frame[0];
    }
    k_printf("\n");
}

static int k_panicking;

_Noreturn void kpanic(const char *fmt, ...)
{
    uint32_t gpr[7], fp;
    __asm__ volatile("movl %%eax, 0(%1)\n\t"
                     "movl %%ebx, 4(%1)\n\t"
                     "movl %%ecx, 8(%1)\n\t"
                     "movl %%edx, 12(%1)\n\t"
                     "movl %%esi, 16(%1)\n\t"
                     "movl %%edi, 20(%1)\n\t"
                     "movl %%esp, 24(%1)\n\t"
                     "movl %%ebp, %0"
                     : "=m"(fp)
                     : "r"(gpr)
                     : "memory");
    k_cli();
    if (k_panicking++ == 0) {
        dump_registers(gpr, (uint32_t)(uintptr_t)__builtin_return_address(0), fp);
        va_list ap;
        va_start(ap, fmt);
        k_printf("\nLAB PANIC ");
        k_vprintf(fmt, ap);
        k_printf("\n");
        va_end(ap);
    }
    k_qexit(K_QEXIT_PANIC);
}

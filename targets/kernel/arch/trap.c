/*
 * trap.c - the trap dispatcher (Intel SDM vol. 3, ch. 6, table 6-1 for the exception list).
 * Exceptions: a page fault first goes to the demand pager (proc/vm.c); anything unhandled
 * from user mode kills only that process, from kernel mode it is a panic with a register
 * dump. IRQs go to their registered handler and are acknowledged at the 8259A; int 0x80 is a
 * system call. On the way back to user mode a process whose time slice ran out (or that a
 * higher priority one preempts) yields.
 */
#include "arch/trap.h"

#include "arch/pic.h"
#include "arch/x86.h"
#include "lib/kerrno.h"
#include "lib/kprintf.h"
#include "proc/proc.h"
#include "proc/sched.h"
#include "proc/vm.h"
#include "sys/syscall.h"

static k_irq_fn k_irq_handlers[16];

static const char *const k_trap_names[32] = {
    "divide error", "debug", "NMI", "breakpoint", "overflow", "bound range exceeded",
    "invalid opcode", "device not available", "double fault", "coprocessor segment overrun",
    "invalid TSS", "segment not present", "stack-segment fault", "general protection fault",
    "page fault", "reserved 15", "x87 floating-point error", "alignment check",
    "machine check", "SIMD floating-point exception", "virtualization exception",
    "control protection exception", "reserved 22", "reserved 23", "reserved 24",
    "reserved 25", "reserved 26", "reserved 27", "hypervisor injection",
    "VMM communication", "security exception", "reserved 31",
};

const char *k_trap_name(uint32_t vector)
{
    if (vector < 32)
        return k_trap_names[vector];
    if (vector >= K_IRQ0 && vector < K_IRQ0 + 16)
        return "IRQ";
    return vector == K_T_SYSCALL ? "system call" : "unknown";
}

void k_irq_register(int irq, k_irq_fn fn)
{
    kassert(irq >= 0 && irq < 16);
    k_irq_handlers[irq] = fn;
}

void k_trap_dump(const struct k_trapframe *tf)
{
    bool user = k_trap_from_user(tf);
    uint32_t esp = user ? tf->uesp : (uint32_t)(uintptr_t)&tf->uesp;
    k_printf("trap %u (%s) err=0x%x from %s mode\n", tf->vector, k_trap_name(tf->vector),
             tf->err, user ? "user" : "kernel");
    k_printf("eip=0x%08x cs=0x%04x eflags=0x%08x esp=0x%08x ss=0x%04x\n", tf->eip, tf->cs,
             tf->eflags, esp, user ? tf->uss : 0x10u);
    k_printf("eax=0x%08x ebx=0x%08x ecx=0x%08x edx=0x%08x\n", tf->eax, tf->ebx, tf->ecx,
             tf->edx);
    k_printf("esi=0x%08x edi=0x%08x ebp=0x%08x\n", tf->esi, tf->edi, tf->ebp);
    k_printf("ds=0x%04x es=0x%04x fs=0x%04x gs=0x%04x cr2=0x%08x cr3=0x%08x\n", tf->ds,
             tf->es, tf->fs, tf->gs, k_read_cr2(), k_read_cr3());
}

static _Noreturn void trap_panic(const struct k_trapframe *tf, uint32_t cr2)
{
    k_trap_dump(tf);
    if (tf->vector == K_T_PGFLT)
        kpanic("%s in kernel at 0x%x (eip 0x%x, err 0x%x)", k_trap_name(tf->vector), cr2,
               tf->eip, tf->err);
    kpanic("%s in kernel (eip 0x%x, err 0x%x)", k_trap_name(tf->vector), tf->eip, tf->err);
}

/*
 * A fault from user mode kills the process. So does a kernel-mode fault on a lazy user page
 * that no frame is left for (a system call copying into user memory when memory is
 * exhausted), as Linux's out-of-memory path does: the process cannot go on, the kernel can.
 * Anything else in kernel mode is a kernel bug: panic.
 */
static void trap_exception(struct k_trapframe *tf)
{
    uint32_t cr2 = tf->vector == K_T_PGFLT ? k_read_cr2() : 0;
    int rc = tf->vector == K_T_PGFLT ? k_vm_fault(cr2, tf->err) : -K_EFAULT;
    if (rc == 0)
        return;
    if (!k_proc_current()->kernel_thread && (k_trap_from_user(tf) || rc == -K_ENOMEM))
        k_proc_fault(tf, cr2);
    trap_panic(tf, cr2);
}

static void trap_irq(struct k_trapframe *tf)
{
    int irq = (int)tf->vector - K_IRQ0;
    if ((irq == 7 || irq == 15) && !k_pic_is_real(irq)) {
        if (irq == 15)
            k_pic_eoi(2); /* the master saw a real cascade interrupt */
        return;
    }
    if (k_irq_handlers[irq] != NULL)
        k_irq_handlers[irq](tf);
    k_pic_eoi(irq);
}

void k_trap(struct k_trapframe *tf)
{
    if (tf->vector < 32)
        trap_exception(tf);
    else if (tf->vector < K_IRQ0 + 16)
        trap_irq(tf);
    else if (tf->vector == K_T_SYSCALL)
        k_syscall(tf);
    else
        trap_panic(tf, 0);
    if (k_trap_from_user(tf))
        k_sched_user_return(tf);
}

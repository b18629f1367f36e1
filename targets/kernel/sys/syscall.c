/*
 * syscall.c - system call dispatch (ABI: sys/syscall_nr.h; int 0x80, number in eax,
 * arguments in ebx, ecx, edx, esi, edi, result in eax). Every pointer argument is checked
 * against the caller's user ranges with k_uaccess_check / k_uaccess_span (sys/uaccess.h)
 * before the kernel touches it, so kernel addresses and unmapped holes give -K_EFAULT; the
 * touches themselves may fault in lazy pages (proc/vm.c). Strings are copied into kernel
 * buffers first, so a later change of user memory cannot affect the checked copy.
 */
#include "sys/syscall.h"

#include "arch/pit.h"
#include "lib/kerrno.h"
#include "proc/proc.h"
#include "proc/sched.h"
#include "proc/vm.h"
#include "sys/file.h"
#include "sys/syscall_nr.h"

typedef int32_t (*k_sys_fn)(struct k_trapframe *tf);

static uint32_t k_nsyscalls;

static struct k_vmap *uvm(void)
{
    return &k_proc_current()->vm;
}

/* Copy the NUL-terminated user string at uaddr (at most max-1 chars) into buf[max].
 * 0, -K_EFAULT (not user memory before its NUL), -K_ENAMETOOLONG (no NUL within max). */
static int copy_in_str(uint32_t uaddr, char *buf, uint32_t max)
{
    uint32_t span = k_uaccess_span(uvm(), uaddr, max, 0);
    if (span == 0)
        return -K_EFAULT;
    const char *s = (const char *)(uintptr_t)uaddr;
    size_t n = strnlen(s, span);
    if (n == span)
        return span < max ? -K_EFAULT : -K_ENAMETOOLONG;
    memcpy(buf, s, n + 1);
    return 0;
}

static int32_t sys_exit(struct k_trapframe *tf)
{
    k_proc_exit((int)tf->ebx);
}

static int32_t sys_write(struct k_trapframe *tf)
{
    if (k_uaccess_check(uvm(), tf->ecx, tf->edx, 0) != 0)
        return -K_EFAULT;
    return k_file_write((int)tf->ebx, (const void *)(uintptr_t)tf->ecx, tf->edx);
}

static int32_t sys_read(struct k_trapframe *tf)
{
    if (k_uaccess_check(uvm(), tf->ecx, tf->edx, 1) != 0)
        return -K_EFAULT;
    return k_file_read((int)tf->ebx, (void *)(uintptr_t)tf->ecx, tf->edx);
}

static int32_t sys_spawn(struct k_trapframe *tf)
{
    char path[K_PATH_MAX], arg[K_ARG_MAX];
    int rc = copy_in_str(tf->ebx, path, sizeof path);
    if (rc != 0)
        return rc;
    arg[0] = '\0';
    if (tf->ecx != 0 && (rc = copy_in_str(tf->ecx, arg, sizeof arg)) != 0)
        return rc == -K_ENAMETOOLONG ? -K_E2BIG : rc;
    return k_proc_spawn(path, arg);
}

static int32_t sys_fork(struct k_trapframe *tf)
{
    return k_proc_fork(tf);
}

static int32_t sys_wait(struct k_trapframe *tf)
{
    uint32_t ustatus = tf->ecx;
    if (ustatus != 0 && k_uaccess_check(uvm(), ustatus, sizeof(int), 1) != 0)
        return -K_EFAULT;
    int status = 0;
    int pid = k_proc_wait((int)tf->ebx, &status);
    if (pid > 0 && ustatus != 0)
        *(int *)(uintptr_t)ustatus = status;
    return pid;
}

static int32_t sys_sleep(struct k_trapframe *tf)
{
    uint32_t ms = tf->ebx;
    uint32_t ticks = ms / (1000u / K_HZ) + (ms % (1000u / K_HZ) != 0);
    if (ticks > 0)
        k_sched_sleep_ticks(ticks);
    return 0;
}

static int32_t sys_getpid(struct k_trapframe *tf)
{
    (void)tf;
    return k_proc_current()->pid;
}

static int32_t sys_mmap(struct k_trapframe *tf)
{
    return k_vm_mmap(tf->ebx, tf->ecx != 0);
}

static int32_t sys_yield(struct k_trapframe *tf)
{
    (void)tf;
    k_sched_yield();
    return 0;
}

static int32_t sys_open(struct k_trapframe *tf)
{
    char path[K_PATH_MAX];
    int rc = copy_in_str(tf->ebx, path, sizeof path);
    return rc != 0 ? rc : k_file_open(path);
}

static int32_t sys_close(struct k_trapframe *tf)
{
    return k_file_close((int)tf->ebx);
}

static int32_t sys_munmap(struct k_trapframe *tf)
{
    return k_vm_munmap(tf->ebx, tf->ecx);
}

static int32_t sys_uptime(struct k_trapframe *tf)
{
    (void)tf;
    return (int32_t)k_ticks();
}

static int32_t sys_setprio(struct k_trapframe *tf)
{
    int pid = (int)tf->ebx;
    if (tf->ecx >= K_NPRIO)
        return -K_EINVAL;
    struct k_proc *p = pid == 0 ? k_proc_current() : k_proc_find(pid);
    if (p == NULL || p->kernel_thread || p->state == K_ZOMBIE)
        return -K_ESRCH;
    k_sched_set_prio(p, (uint8_t)tf->ecx);
    return 0;
}

static const k_sys_fn k_sys_table[K_SYS_COUNT] = {
    [K_SYS_EXIT] = sys_exit,     [K_SYS_WRITE] = sys_write,   [K_SYS_READ] = sys_read,
    [K_SYS_SPAWN] = sys_spawn,   [K_SYS_FORK] = sys_fork,     [K_SYS_WAIT] = sys_wait,
    [K_SYS_SLEEP] = sys_sleep,   [K_SYS_GETPID] = sys_getpid, [K_SYS_MMAP] = sys_mmap,
    [K_SYS_YIELD] = sys_yield,   [K_SYS_OPEN] = sys_open,     [K_SYS_CLOSE] = sys_close,
    [K_SYS_MUNMAP] = sys_munmap, [K_SYS_UPTIME] = sys_uptime, [K_SYS_SETPRIO] = sys_setprio,
};

void k_syscall(struct k_trapframe *tf)
{
    k_nsyscalls++;
    uint32_t nr = tf->eax;
    k_sys_fn fn = nr < K_SYS_COUNT ? k_sys_table[nr] : NULL;
    tf->eax = fn != NULL ? (uint32_t)fn(tf) : (uint32_t)-K_ENOSYS;
}

uint32_t k_syscall_count(void)
{
    return k_nsyscalls;
}

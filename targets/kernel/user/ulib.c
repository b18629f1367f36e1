/*
 * ulib.c - user-mode runtime (see ulib.h): _start, the int $0x80 system call stubs
 * (sys/syscall_nr.h ABI), u_printf (lib/format.c's printf subset to fd 1) and kpanic for the
 * kernel library files linked into programs (no libgcc is linked).
 */
#include "ulib.h"

__attribute__((section(".text.start"), used)) _Noreturn void _start(const char *arg);

_Noreturn void _start(const char *arg)
{
    u_exit(main(arg));
}

int32_t u_syscall(uint32_t nr, uint32_t a, uint32_t b, uint32_t c)
{
    int32_t r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
    return r;
}

_Noreturn void u_exit(int status)
{
    u_syscall(K_SYS_EXIT, (uint32_t)status, 0, 0);
    for (;;)
        ;
}

int32_t u_write(int fd, const void *buf, uint32_t len)
{
    return u_syscall(K_SYS_WRITE, (uint32_t)fd, (uint32_t)(uintptr_t)buf, len);
}

int32_t u_read(int fd, void *buf, uint32_t len)
{
    return u_syscall(K_SYS_READ, (uint32_t)fd, (uint32_t)(uintptr_t)buf, len);
}

int32_t u_spawn(const char *path, const char *arg)
{
    return u_syscall(K_SYS_SPAWN, (uint32_t)(uintptr_t)path, (uint32_t)(uintptr_t)arg, 0);
}

int32_t u_fork(void)
{
    return u_syscall(K_SYS_FORK, 0, 0, 0);
}

int32_t u_wait(int pid, int *status)
{
    return u_syscall(K_SYS_WAIT, (uint32_t)pid, (uint32_t)(uintptr_t)status, 0);
}

int32_t u_sleep(uint32_t ms)
{
    return u_syscall(K_SYS_SLEEP, ms, 0, 0);
}

int32_t u_getpid(void)
{
    return u_syscall(K_SYS_GETPID, 0, 0, 0);
}

int32_t u_mmap(uint32_t len, int writable)
{
    return u_syscall(K_SYS_MMAP, len, (uint32_t)writable, 0);
}

int32_t u_yield(void)
{
    return u_syscall(K_SYS_YIELD, 0, 0, 0);
}

int32_t u_open(const char *path)
{
    return u_syscall(K_SYS_OPEN, (uint32_t)(uintptr_t)path, 0, 0);
}

int32_t u_close(int fd)
{
    return u_syscall(K_SYS_CLOSE, (uint32_t)fd, 0, 0);
}

int32_t u_munmap(void *addr, uint32_t len)
{
    return u_syscall(K_SYS_MUNMAP, (uint32_t)(uintptr_t)addr, len, 0);
}

int32_t u_uptime(void)
{
    return u_syscall(K_SYS_UPTIME, 0, 0, 0);
}

int32_t u_setprio(int pid, int prio)
{
    return u_syscall(K_SYS_SETPRIO, (uint32_t)pid, (uint32_t)prio, 0);
}

uint32_t u_atou(const char *s)
{
    uint32_t v = 0;
    while (*s >= '0' && *s <= '9')
        v = v * 10 + (uint32_t)(*s++ - '0');
    return v;
}

_Noreturn void kpanic(const char *fmt, ...)
{
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    k_vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    u_printf("user panic: %s\n", msg);
    u_exit(127);
}

int u_printf(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = k_vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    u_write(1, buf, (uint32_t)(n < (int)sizeof buf ? n : (int)sizeof buf - 1));
    return n;
}

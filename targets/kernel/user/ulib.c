/*
 * ulib.c - user-mode runtime (see ulib.h): _start, the int $0x80 system call stubs
 * (sys/syscall_nr.h ABI), a printf subset (%d %u %x %s %c %llu %lld, width and '0'/'-') and
 * kpanic for the kernel library files linked into programs (no libgcc is linked).
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

struct ubuf {
    char *buf;
    size_t size, n;
};

static void put(struct ubuf *b, char c)
{
    if (b->n + 1 < b->size)
        b->buf[b->n] = c;
    b->n++;
}

static void put_num(struct ubuf *b, uint64_t v, unsigned base, bool neg, int width, bool zero,
                    bool left)
{
    char tmp[24];
    int i = 0;
    do {
        uint32_t r;
        v = k_udiv64(v, base, &r);
        tmp[i++] = "0123456789abcdef"[r];
    } while (v != 0);
    int len = i + (neg ? 1 : 0);
    if (neg && zero)
        put(b, '-');
    for (; !left && width > len; width--)
        put(b, zero ? '0' : ' ');
    if (neg && !zero)
        put(b, '-');
    while (i > 0)
        put(b, tmp[--i]);
    for (; left && width > len; width--)
        put(b, ' ');
}

static int u_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct ubuf b = {buf, size, 0};
    for (const char *p = fmt; *p != '\0'; p++) {
        if (*p != '%') {
            put(&b, *p);
            continue;
        }
        p++;
        bool zero = false, left = false;
        int width = 0, lmod = 0;
        for (; *p == '0' || *p == '-'; p++) {
            if (*p == '0')
                zero = true;
            else
                left = true;
        }
        for (; *p >= '0' && *p <= '9'; p++)
            width = width * 10 + (*p - '0');
        for (; *p == 'l'; p++)
            lmod++;
        if (*p == '\0')
            break;
        if (*p == 'd') {
            int64_t v = lmod == 2 ? va_arg(ap, long long) : va_arg(ap, int);
            put_num(&b, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, 10, v < 0, width, zero,
                    left);
        } else if (*p == 'u' || *p == 'x') {
            uint64_t v = lmod == 2 ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned int);
            put_num(&b, v, *p == 'x' ? 16 : 10, false, width, zero, left);
        } else if (*p == 's') {
            const char *s = va_arg(ap, const char *);
            int len = (int)strlen(s);
            for (; !left && width > len; width--)
                put(&b, ' ');
            while (*s != '\0')
                put(&b, *s++);
            for (; left && width > len; width--)
                put(&b, ' ');
        } else if (*p == 'c') {
            put(&b, (char)va_arg(ap, int));
        } else {
            put(&b, *p);
        }
    }
    if (size > 0)
        buf[b.n < size ? b.n : size - 1] = '\0';
    return (int)b.n;
}

int u_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = u_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

_Noreturn void kpanic(const char *fmt, ...)
{
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    u_vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    u_printf("user panic: %s\n", msg);
    u_exit(127);
}

int u_printf(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = u_vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    u_write(1, buf, (uint32_t)(n < (int)sizeof buf ? n : (int)sizeof buf - 1));
    return n;
}

/*
 * ulib.h - the user programs' library: system call wrappers (ABI in sys/syscall_nr.h: int
 * $0x80, number in eax, arguments in ebx, ecx, edx), a small printf and rdtsc. Programs
 * define int main(const char *arg); _start (ulib.c) calls it and exits with
 * its result.
 */
#ifndef U_ULIB_H
#define U_ULIB_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/div64.h"
#include "lib/format.h"
#include "lib/kerrno.h"
#include "lib/klib.h"
#include "lib/kvarg.h"
#include "sys/syscall_nr.h"

int main(const char *arg);

int32_t u_syscall(uint32_t nr, uint32_t a, uint32_t b, uint32_t c);
_Noreturn void u_exit(int status);
int32_t u_write(int fd, const void *buf, uint32_t len);
int32_t u_read(int fd, void *buf, uint32_t len);
int32_t u_spawn(const char *path, const char *arg);
int32_t u_fork(void);
int32_t u_wait(int pid, int *status);
int32_t u_sleep(uint32_t ms);
int32_t u_getpid(void);
/* The mapped address, or a negative K_E* (addresses stay below 0x80000000). */
int32_t u_mmap(uint32_t len, int writable);
int32_t u_yield(void);
int32_t u_open(const char *path);
int32_t u_close(int fd);
int32_t u_munmap(void *addr, uint32_t len);
int32_t u_uptime(void);
int32_t u_setprio(int pid, int prio);

static inline uint64_t u_rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

int u_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Strings, memory, 64-bit division, formatting (k_snprintf) and "key=value" arguments come
 * from the kernel's own freestanding library (lib/string.c, lib/div64.c, lib/format.c,
 * lib/kvarg.c), linked into every program;
 * kpanic (a failed kassert in them) prints the message and exits with status 127. */
uint32_t u_atou(const char *s);

#endif

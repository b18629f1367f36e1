/*
 * ulib.h - the user programs' library: system call wrappers (ABI in sys/syscall_nr.h: int
 * $0x80, number in eax, arguments in ebx, ecx, edx), a small printf, string helpers and
 * rdtsc. Programs define int main(const char *arg); _start (ulib.c) calls it and exits with
 * its result.
 */
#ifndef U_ULIB_H
#define U_ULIB_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/kerrno.h"
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
int u_snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
size_t u_strlen(const char *s);
int u_strcmp(const char *a, const char *b);
int u_strncmp(const char *a, const char *b, size_t n);
int u_memcmp(const void *a, const void *b, size_t n);
void *memset(void *dst, int c, size_t n);
void *memcpy(void *restrict dst, const void *restrict src, size_t n);
/* n / d for 64-bit n (no libgcc); remainder in *rem when not NULL. */
uint64_t u_udiv64(uint64_t n, uint32_t d, uint32_t *rem);
/* Value of "key=value" in a space-separated argument string, copied into out. */
bool u_arg_get(const char *arg, const char *key, char *out, size_t n);
uint32_t u_atou(const char *s);

#endif

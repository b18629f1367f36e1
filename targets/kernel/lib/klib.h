/*
 * klib.h - the freestanding C library subset every kernel file may use.
 *
 * Kernel build (freestanding, -nostdinc): lib/string.c defines the mem and str functions and
 * lib/panic.c kpanic(). Host build (-DKERNEL_HOST, through cffi for tests and fuzzing): the
 * same names come from the C library and kassert is assert(3), so host-buildable files
 * (frame, heap, runq, elf, labfs, uaccess) compile unchanged on both sides.
 */
#ifndef K_KLIB_H
#define K_KLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef KERNEL_HOST
#include <assert.h>
#include <string.h>
#define kassert(cond) assert(cond)
#else
void *memset(void *dst, int c, size_t n);
void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
_Noreturn void kpanic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define kassert(cond) \
    ((cond) ? (void)0 : kpanic("assertion failed: %s (%s:%d)", #cond, __FILE__, __LINE__))
#endif

#define K_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define K_ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))
#define K_ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a) - 1))

#endif

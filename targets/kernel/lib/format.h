/*
 * format.h - the printf subset shared by the kernel and user programs (C11 7.21.6.1 for %d %i
 * %u %x %X %s %c %p %% with the l and ll length modifiers, '0' and '-' flags, a width and a
 * %s precision). The kernel prints through it (lib/kprintf.c), programs too (user/ulib.c).
 */
#ifndef K_FORMAT_H
#define K_FORMAT_H

#include <stdarg.h>

#include "lib/klib.h"

typedef void (*k_putc_fn)(void *ctx, char c);

/* Format into sink; the number of characters produced. */
int k_vformat(k_putc_fn sink, void *ctx, const char *fmt, va_list ap);
/* Format into buf (always NUL-terminated when size > 0); the untruncated length. */
int k_snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int k_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);

#endif

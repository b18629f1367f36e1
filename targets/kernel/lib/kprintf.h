/*
 * kprintf.h - formatted output to the kernel's console, in the printf subset of
 * lib/format.h (whose snprintf and k_vformat it also offers).
 */
#ifndef K_KPRINTF_H
#define K_KPRINTF_H

#include "lib/format.h"

/* Format to the console (serial + VGA), one buffered write per call. */
int k_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int k_vprintf(const char *fmt, va_list ap);

#endif

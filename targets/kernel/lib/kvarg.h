/*
 * kvarg.h - "key=value" words of a space-separated argument string: the kernel's multiboot
 * command line (Multiboot 0.6.96, 3.3: cmdline) and the argument string a program gets from
 * spawn. Shared by the kernel and the user library.
 */
#ifndef K_KVARG_H
#define K_KVARG_H

#include "lib/klib.h"

/* Copy the value of the first word "key=value" of args into out (at most n - 1 bytes, always
 * NUL-terminated; n > 0). true when found, false (out empty) when not. */
bool k_kvarg_get(const char *args, const char *key, char *out, size_t n);

#endif

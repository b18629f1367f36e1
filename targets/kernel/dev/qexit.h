/*
 * qexit.h - leaving QEMU through its isa-debug-exit device (iobase 0xf4, iosize 4): writing
 * v makes QEMU exit with status (v << 1) | 1.
 */
#ifndef K_QEXIT_H
#define K_QEXIT_H

#include "lib/klib.h"

#define K_QEXIT_OK 0u
#define K_QEXIT_FAIL 1u
#define K_QEXIT_PANIC 2u

_Noreturn void k_qexit(uint32_t value);

#endif

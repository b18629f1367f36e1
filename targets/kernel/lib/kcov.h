/*
 * kcov.h - guest code coverage for the system call fuzzer, like Linux's KCOV: files built
 * with gcc's -fsanitize-coverage=trace-pc (the fuzz flavor of the image, K_KCOV defined) call
 * __sanitizer_cov_trace_pc at every basic block; the block's address is hashed into a bitmap
 * that mode=fuzz prints at the end ("LAB KCOV <hex>"), and the lab feeds it to libFuzzer as
 * coverage counters (plugins/kernel/sysfuzz.py).
 */
#ifndef K_KCOV_H
#define K_KCOV_H

#include "lib/klib.h"

#define K_KCOV_BITS 4096u

/* Clear the bitmap (before the fuzz program starts). */
void k_kcov_reset(void);
/* Print the bitmap as one "LAB KCOV <K_KCOV_BITS/4 hex digits>" line; nothing when the
 * kernel was built without coverage. */
void k_kcov_dump(void);

#endif

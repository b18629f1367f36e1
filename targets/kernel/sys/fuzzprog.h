/*
 * fuzzprog.h - the system call fuzzer's program (mode=fuzz, main.c): Multiboot module 0
 * (QEMU's -initrd file), copied into a kernel buffer at boot and served read-only as
 * /dev/fuzzprog (sys/file.c) to the processes the kernel itself started, so a copy of
 * /bin/sysfuzz spawned by a fuzz program cannot read the program and run it again.
 */
#ifndef K_FUZZPROG_H
#define K_FUZZPROG_H

#include "arch/multiboot.h"
#include "lib/klib.h"

#define K_FUZZPROG_MAX 4096u
#define K_FUZZPROG_PATH "/dev/fuzzprog"

/* Copy module 0 (its first K_FUZZPROG_MAX bytes). Call before k_kmem_init: until then no
 * frame is handed out, so nothing has overwritten the module (QEMU puts it right after the
 * kernel image, where the first frames would come from) and paging is still off. */
void k_fuzzprog_load(const struct k_mb_info *mbi);
/* Whether the boot brought a module (an empty one counts). */
bool k_fuzzprog_present(void);
uint32_t k_fuzzprog_size(void);
/* Whether the current process may open /dev/fuzzprog: there is a program and the process
 * was spawned by a kernel thread (mode=fuzz's /bin/sysfuzz), not by a user process. */
bool k_fuzzprog_may_open(void);
/* Copy up to len bytes from offset off into buf (already checked writable); bytes copied, 0
 * at or past the end. */
uint32_t k_fuzzprog_read(uint32_t off, void *buf, uint32_t len);

#endif

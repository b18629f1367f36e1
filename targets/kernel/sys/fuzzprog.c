/*
 * fuzzprog.c - module 0 of the Multiboot information as the fuzzer's program (sys/fuzzprog.h;
 * Multiboot Specification 0.6.96, 3.3: flags bit 3, mods_count, mods_addr). Only the copy
 * is kept: the module's own memory is ordinary free RAM to the frame allocator afterwards.
 */
#include "sys/fuzzprog.h"

#include "proc/proc.h"

static uint8_t k_fuzzprog[K_FUZZPROG_MAX];
static uint32_t k_fuzzprog_len;
static bool k_fuzzprog_loaded;

/* Module 0's entry, or NULL when the loader passed no module. */
static const struct k_mb_module *first_module(const struct k_mb_info *mbi)
{
    if (!(mbi->flags & K_MB_INFO_MODS) || mbi->mods_count == 0 || mbi->mods_addr == 0)
        return NULL;
    return (const struct k_mb_module *)(uintptr_t)mbi->mods_addr;
}

void k_fuzzprog_load(const struct k_mb_info *mbi)
{
    const struct k_mb_module *m = first_module(mbi);
    if (m == NULL || m->mod_end < m->mod_start || m->mod_start == 0)
        return;
    uint32_t len = m->mod_end - m->mod_start;
    if (len > K_FUZZPROG_MAX)
        len = K_FUZZPROG_MAX;
    memcpy(k_fuzzprog, (const void *)(uintptr_t)m->mod_start, len);
    k_fuzzprog_len = len;
    k_fuzzprog_loaded = true;
}

bool k_fuzzprog_present(void)
{
    return k_fuzzprog_loaded;
}

uint32_t k_fuzzprog_size(void)
{
    return k_fuzzprog_len;
}

bool k_fuzzprog_may_open(void)
{
    const struct k_proc *parent = k_proc_current()->parent;
    return k_fuzzprog_loaded && parent != NULL && parent->kernel_thread;
}

uint32_t k_fuzzprog_read(uint32_t off, void *buf, uint32_t len)
{
    if (off >= k_fuzzprog_len)
        return 0;
    uint32_t n = k_fuzzprog_len - off;
    if (n > len)
        n = len;
    memcpy(buf, k_fuzzprog + off, n);
    return n;
}

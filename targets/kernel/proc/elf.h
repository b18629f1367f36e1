/*
 * elf.h - validation of user program images: ELF32, little-endian, i386, ET_EXEC
 * (System V ABI, ELF-64/32 object file format: "Tool Interface Standard ELF v1.2").
 *
 * Host-buildable. The loader only maps what k_elf_parse accepted: every PT_LOAD segment lies
 * inside the file, inside the user range, page-aligned congruently, memsz >= filesz, and no
 * two segments overlap; the entry point is inside an executable segment.
 */
#ifndef K_ELF_H
#define K_ELF_H

#include "lib/klib.h"

#define K_ELF_MAX_SEGS 8

struct k_elf_seg {
    uint32_t vaddr;  /* page-aligned start in the user address space */
    uint32_t memsz;  /* bytes mapped from vaddr (rounded by the loader to pages) */
    uint32_t offset; /* file offset of the bytes copied to vaddr + (p_vaddr & 0xfff) */
    uint32_t filesz; /* bytes copied from the file; the rest is zero */
    uint32_t skew;   /* p_vaddr & 0xfff */
    uint8_t writable;
    uint8_t executable;
};

struct k_elf_info {
    uint32_t entry;
    uint32_t nsegs;
    struct k_elf_seg segs[K_ELF_MAX_SEGS];
};

/* Parse image[0..len) whose segments must lie in [user_lo, user_hi). 0, -K_ENOEXEC for a
 * file that is not a valid program by the rules above, -K_E2BIG for more than
 * K_ELF_MAX_SEGS loadable segments. */
int k_elf_parse(const uint8_t *image, size_t len, uint32_t user_lo, uint32_t user_hi,
                struct k_elf_info *out);

#endif

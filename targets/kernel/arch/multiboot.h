/*
 * multiboot.h - the boot information a Multiboot 0.6.96 loader passes in ebx (Multiboot
 * Specification 0.6.96, 3.3 "Boot information format").
 */
#ifndef K_MULTIBOOT_H
#define K_MULTIBOOT_H

#include "lib/klib.h"

#define K_MB_BOOT_MAGIC 0x2BADB002u
#define K_MB_INFO_MEM 0x001u
#define K_MB_INFO_CMDLINE 0x004u
#define K_MB_INFO_MODS 0x008u
#define K_MB_INFO_MMAP 0x040u
#define K_MB_MEM_AVAILABLE 1u

struct k_mb_info {
    uint32_t flags;
    uint32_t mem_lower, mem_upper;
    uint32_t boot_device;
    uint32_t cmdline;
    uint32_t mods_count, mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length, mmap_addr;
} __attribute__((packed));

struct k_mb_mmap {
    uint32_t size; /* of the rest of the entry; the next one is at +size+4 */
    uint64_t base;
    uint64_t len;
    uint32_t type;
} __attribute__((packed));

/* One entry of the mods_addr array (3.3: mods_count entries of 16 bytes); QEMU's -initrd
 * file is module 0. */
struct k_mb_module {
    uint32_t mod_start; /* physical address of the first byte */
    uint32_t mod_end;   /* one past the last byte */
    uint32_t string;    /* its command line (physical address of a C string), or 0 */
    uint32_t reserved;
} __attribute__((packed));

#endif

/*
 * labfs.h - LABFS, the read-only file system of the disk image the lab builds
 * (plugins/kernel/diskfs.py writes it; this is the kernel's reader).
 *
 * On disk (little-endian, 512-byte sectors):
 *   sector 0: superblock  magic "LABFS1\0\0" | u32 version (1) | u32 nfiles |
 *             u32 dir_start | u32 dir_sectors | u32 total_sectors | u32 dir_crc (CRC-32/ISO-HDLC
 *             of the nfiles directory entries) | zero padding
 *   dir_start..: nfiles entries of 64 bytes: char name[48] (absolute path, NUL-terminated,
 *             NUL-padded) | u32 start_sector | u32 size (bytes) | u32 crc (CRC-32 of the data)
 *             | u32 flags (0)
 *   data: each file contiguous from start_sector.
 * Host-buildable: the reader goes through a read callback and validates every field; a
 * corrupt image gives -K_EBADFS, never an out-of-range read.
 */
#ifndef K_LABFS_H
#define K_LABFS_H

#include "lib/klib.h"

#define K_LABFS_SECTOR 512u
#define K_LABFS_NAME_MAX 48u
#define K_LABFS_MAX_FILES 1024u

/* Read count sectors from sector into buf; 0 on success, negative on an I/O error. */
typedef int (*k_labfs_read_fn)(void *ctx, uint32_t sector, uint32_t count, void *buf);

struct k_labfs {
    k_labfs_read_fn read;
    void *ctx;
    uint32_t nfiles;
    uint32_t dir_start;
    uint32_t dir_sectors;
    uint32_t total_sectors;
};

struct k_labfs_entry {
    char name[K_LABFS_NAME_MAX];
    uint32_t start;
    uint32_t size;
    uint32_t crc;
};

/* Read and validate the superblock and directory (CRC, names, ranges inside total_sectors).
 * 0, -K_EIO when a read fails, -K_EBADFS when anything is corrupt. */
int k_labfs_mount(struct k_labfs *fs, k_labfs_read_fn read, void *ctx);
/* Entry i (0 <= i < nfiles). 0, -K_ENOENT past the end, -K_EIO, -K_EBADFS. */
int k_labfs_entry_at(struct k_labfs *fs, uint32_t i, struct k_labfs_entry *out);
/* The entry named path (exact match). 0, -K_ENOENT, -K_ENAMETOOLONG, -K_EIO, -K_EBADFS. */
int k_labfs_lookup(struct k_labfs *fs, const char *path, struct k_labfs_entry *out);
/* Copy up to len bytes of the file from offset off; bytes copied (0 at or past the end) or
 * -K_EIO. Reads whole sectors through a bounce buffer, so buf needs only len bytes. */
int32_t k_labfs_read(struct k_labfs *fs, const struct k_labfs_entry *e, uint32_t off,
                     void *buf, uint32_t len);
/* CRC-32/ISO-HDLC (the zlib/PNG one), continuing from crc (start with 0). */
uint32_t k_labfs_crc32(uint32_t crc, const void *data, size_t len);

#endif

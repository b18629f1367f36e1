/*
 * kfs.h - the kernel side of LABFS (fs/labfs.h): the file system mounted over the ATA disk
 * (dev/ata.h) through a small sector cache, and whole-file loads for the program loader.
 */
#ifndef K_KFS_H
#define K_KFS_H

#include "fs/labfs.h"
#include "lib/klib.h"

#define K_FS_MAX_FILE (4u * 1024u * 1024u)

/* Mount LABFS from the primary ATA disk. 0, -K_EIO, -K_EBADFS. */
int k_fs_init(void);
bool k_fs_mounted(void);
struct k_labfs *k_fs(void);
int k_fs_lookup(const char *path, struct k_labfs_entry *e);
int32_t k_fs_read(const struct k_labfs_entry *e, uint32_t off, void *buf, uint32_t len);
/* The whole file at path in a kmalloc'd buffer (*buf, *len; the caller kfrees it).
 * 0, -K_ENOENT, -K_E2BIG (larger than K_FS_MAX_FILE), -K_ENOMEM, -K_EIO, -K_EBADFS. */
int k_fs_load(const char *path, uint8_t **buf, uint32_t *len);
/* Sector cache hits and misses since boot. */
void k_fs_cache_stats(uint32_t *hits, uint32_t *misses);

#endif

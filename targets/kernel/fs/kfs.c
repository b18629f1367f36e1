/*
 * kfs.c - LABFS mounted over the ATA PIO driver (ATA/ATAPI-6 READ SECTORS through
 * dev/ata.c). The disk is read-only, so a direct-mapped cache of CACHE_SLOTS sectors never
 * needs invalidating: directory lookups and repeated program loads (spawn) hit it instead
 * of issuing PIO commands. (The directory's CRC is checked at mount; file CRCs are left to
 * the tests, so a program load costs no more than its reads.)
 */
#include "fs/kfs.h"

#include "dev/ata.h"
#include "lib/kerrno.h"
#include "mm/kmem.h"

#define CACHE_SLOTS 256u
#define NO_SECTOR 0xffffffffu

static struct k_labfs k_lfs;
static bool k_lfs_ok;
static uint8_t k_cache[CACHE_SLOTS][K_LABFS_SECTOR];
static uint32_t k_cache_tag[CACHE_SLOTS];
static uint32_t k_cache_hits, k_cache_misses;

static int cached_read(void *ctx, uint32_t sector, uint32_t count, void *buf)
{
    (void)ctx;
    uint8_t *dst = buf;
    for (uint32_t i = 0; i < count; i++, sector++, dst += K_LABFS_SECTOR) {
        uint32_t slot = sector % CACHE_SLOTS;
        if (k_cache_tag[slot] != sector) {
            k_cache_misses++;
            int rc = k_ata_read(sector, 1, k_cache[slot]);
            if (rc != 0) {
                k_cache_tag[slot] = NO_SECTOR;
                return rc;
            }
            k_cache_tag[slot] = sector;
        } else {
            k_cache_hits++;
        }
        memcpy(dst, k_cache[slot], K_LABFS_SECTOR);
    }
    return 0;
}

int k_fs_init(void)
{
    for (uint32_t i = 0; i < CACHE_SLOTS; i++)
        k_cache_tag[i] = NO_SECTOR;
    int rc = k_labfs_mount(&k_lfs, cached_read, NULL);
    k_lfs_ok = rc == 0;
    return rc;
}

bool k_fs_mounted(void)
{
    return k_lfs_ok;
}

struct k_labfs *k_fs(void)
{
    return &k_lfs;
}

int k_fs_lookup(const char *path, struct k_labfs_entry *e)
{
    if (!k_lfs_ok)
        return -K_EIO;
    return k_labfs_lookup(&k_lfs, path, e);
}

int32_t k_fs_read(const struct k_labfs_entry *e, uint32_t off, void *buf, uint32_t len)
{
    if (!k_lfs_ok)
        return -K_EIO;
    return k_labfs_read(&k_lfs, e, off, buf, len);
}

int k_fs_load(const char *path, uint8_t **buf, uint32_t *len)
{
    struct k_labfs_entry e;
    int rc = k_fs_lookup(path, &e);
    if (rc != 0)
        return rc;
    if (e.size > K_FS_MAX_FILE)
        return -K_E2BIG;
    uint8_t *data = kmalloc(e.size > 0 ? e.size : 1);
    if (data == NULL)
        return -K_ENOMEM;
    int32_t n = k_fs_read(&e, 0, data, e.size);
    if (n != (int32_t)e.size) {
        kfree(data);
        return n < 0 ? n : -K_EIO;
    }
    *buf = data;
    *len = e.size;
    return 0;
}

void k_fs_cache_stats(uint32_t *hits, uint32_t *misses)
{
    *hits = k_cache_hits;
    *misses = k_cache_misses;
}

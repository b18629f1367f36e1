/*
 * labfs.c - the LABFS reader of fs/labfs.h (on-disk format there; plugins/kernel/diskfs.py
 * writes images and holds the independent Python reader with the same rules).
 *
 * Validity rules checked by k_labfs_mount (anything else is -K_EBADFS):
 *   superblock: magic "LABFS1\0\0", version 1, nfiles <= K_LABFS_MAX_FILES, dir_sectors ==
 *   ceil(nfiles * 64 / 512), dir_start >= 1, dir_start + dir_sectors <= total_sectors, and the
 *   device holds total_sectors (its last sector reads; -K_EIO otherwise);
 *   directory: CRC-32 of the nfiles entries == dir_crc; each entry valid (below); names in
 *   strictly increasing strcmp order (so unique, and lookups bisect).
 * Entry: name NUL-terminated and NUL-padded, 2..47 bytes of printable ASCII without space
 *   ('!'..'~'), starting with '/', with no empty component ("//" or a trailing '/'); flags 0;
 *   start >= 1 and start + ceil(size / 512) <= total_sectors; a non-empty file's sectors do not
 *   overlap the directory. File data CRCs are not read at mount (the reader of a whole file
 *   can compare k_labfs_crc32 of it with the entry's crc).
 * Padding bytes (superblock tail, directory tail) are not checked.
 */
#include "fs/labfs.h"

#include "lib/kerrno.h"

#define SB_MAGIC "LABFS1\0\0"
#define ENTRY_SIZE 64u
#define ENTRIES_PER_SECTOR (K_LABFS_SECTOR / ENTRY_SIZE)

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t sectors_for(uint32_t bytes)
{
    return bytes / K_LABFS_SECTOR + (bytes % K_LABFS_SECTOR != 0);
}

static int read_sectors(struct k_labfs *fs, uint32_t sector, uint32_t count, void *buf)
{
    return fs->read(fs->ctx, sector, count, buf) == 0 ? 0 : -K_EIO;
}

/* strnlen(s, max), spelled out: the host's <string.h> hides strnlen under -std=c11. */
static size_t bounded_len(const char *s, size_t max)
{
    size_t n = 0;
    while (n < max && s[n] != '\0')
        n++;
    return n;
}

static bool name_ok(const char *name)
{
    size_t n = bounded_len(name, K_LABFS_NAME_MAX);
    if (n < 2 || n >= K_LABFS_NAME_MAX || name[0] != '/' || name[n - 1] == '/')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < '!' || c > '~' || (c == '/' && name[i + 1] == '/'))
            return false;
    }
    for (size_t i = n; i < K_LABFS_NAME_MAX; i++)
        if (name[i] != '\0')
            return false;
    return true;
}

/* Decode and validate the 64-byte directory entry at raw. */
static bool decode_entry(const struct k_labfs *fs, const uint8_t *raw, struct k_labfs_entry *e)
{
    memcpy(e->name, raw, K_LABFS_NAME_MAX);
    e->start = le32(raw + 48);
    e->size = le32(raw + 52);
    e->crc = le32(raw + 56);
    uint32_t flags = le32(raw + 60);
    if (flags != 0 || !name_ok(e->name) || e->start == 0)
        return false;
    uint64_t end = (uint64_t)e->start + sectors_for(e->size);
    if (end > fs->total_sectors)
        return false;
    uint64_t dir_end = (uint64_t)fs->dir_start + fs->dir_sectors;
    return e->size == 0 || end <= fs->dir_start || e->start >= dir_end;
}

static int check_superblock(struct k_labfs *fs, const uint8_t *sb, uint32_t *dir_crc)
{
    if (memcmp(sb, SB_MAGIC, 8) != 0 || le32(sb + 8) != 1)
        return -K_EBADFS;
    uint32_t nfiles = le32(sb + 12), dir_start = le32(sb + 16), dir_sectors = le32(sb + 20);
    uint32_t total = le32(sb + 24);
    if (nfiles > K_LABFS_MAX_FILES || dir_sectors != sectors_for(nfiles * ENTRY_SIZE) ||
        dir_start == 0 || (uint64_t)dir_start + dir_sectors > total)
        return -K_EBADFS;
    fs->nfiles = nfiles;
    fs->dir_start = dir_start;
    fs->dir_sectors = dir_sectors;
    fs->total_sectors = total;
    *dir_crc = le32(sb + 28);
    return 0;
}

int k_labfs_mount(struct k_labfs *fs, k_labfs_read_fn read, void *ctx)
{
    uint8_t buf[K_LABFS_SECTOR];
    char prev[K_LABFS_NAME_MAX];
    struct k_labfs_entry e;
    uint32_t dir_crc = 0, crc = 0;
    memset(fs, 0, sizeof *fs);
    if (read == NULL)
        return -K_EIO;
    fs->read = read;
    fs->ctx = ctx;
    int rc = read_sectors(fs, 0, 1, buf);
    if (rc == 0)
        rc = check_superblock(fs, buf, &dir_crc);
    if (rc == 0)
        rc = read_sectors(fs, fs->total_sectors - 1, 1, buf); /* the device is big enough */
    for (uint32_t s = 0; rc == 0 && s < fs->dir_sectors; s++) {
        rc = read_sectors(fs, fs->dir_start + s, 1, buf);
        for (uint32_t k = 0; rc == 0 && k < ENTRIES_PER_SECTOR; k++) {
            uint32_t i = s * ENTRIES_PER_SECTOR + k;
            if (i >= fs->nfiles)
                break;
            const uint8_t *raw = buf + k * ENTRY_SIZE;
            crc = k_labfs_crc32(crc, raw, ENTRY_SIZE);
            if (!decode_entry(fs, raw, &e) || (i > 0 && strcmp(prev, e.name) >= 0))
                rc = -K_EBADFS;
            memcpy(prev, e.name, K_LABFS_NAME_MAX);
        }
    }
    if (rc == 0 && crc != dir_crc)
        rc = -K_EBADFS;
    if (rc != 0)
        memset(fs, 0, sizeof *fs);
    return rc;
}

int k_labfs_entry_at(struct k_labfs *fs, uint32_t i, struct k_labfs_entry *out)
{
    uint8_t buf[K_LABFS_SECTOR];
    if (i >= fs->nfiles)
        return -K_ENOENT;
    int rc = read_sectors(fs, fs->dir_start + i / ENTRIES_PER_SECTOR, 1, buf);
    if (rc != 0)
        return rc;
    return decode_entry(fs, buf + (i % ENTRIES_PER_SECTOR) * ENTRY_SIZE, out) ? 0 : -K_EBADFS;
}

int k_labfs_lookup(struct k_labfs *fs, const char *path, struct k_labfs_entry *out)
{
    if (path == NULL)
        return -K_ENOENT;
    if (bounded_len(path, K_LABFS_NAME_MAX) >= K_LABFS_NAME_MAX)
        return -K_ENAMETOOLONG;
    uint32_t lo = 0, hi = fs->nfiles;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        struct k_labfs_entry e;
        int rc = k_labfs_entry_at(fs, mid, &e);
        if (rc != 0)
            return rc;
        int cmp = strcmp(path, e.name);
        if (cmp == 0) {
            *out = e;
            return 0;
        }
        if (cmp < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -K_ENOENT;
}

int32_t k_labfs_read(struct k_labfs *fs, const struct k_labfs_entry *e, uint32_t off,
                     void *buf, uint32_t len)
{
    uint8_t bounce[K_LABFS_SECTOR];
    if ((uint64_t)e->start + sectors_for(e->size) > fs->total_sectors || e->start == 0)
        return -K_EIO;
    if (off >= e->size || len == 0)
        return 0;
    uint32_t n = e->size - off;
    if (n > len)
        n = len;
    if (n > INT32_MAX)
        n = INT32_MAX;
    uint8_t *dst = buf;
    uint32_t done = 0;
    while (done < n) {
        uint32_t pos = off + done;
        uint32_t sector = e->start + pos / K_LABFS_SECTOR, within = pos % K_LABFS_SECTOR;
        uint32_t left = n - done;
        if (within == 0 && left >= K_LABFS_SECTOR) {
            uint32_t whole = left / K_LABFS_SECTOR;
            if (read_sectors(fs, sector, whole, dst + done) != 0)
                return -K_EIO;
            done += whole * K_LABFS_SECTOR;
            continue;
        }
        if (read_sectors(fs, sector, 1, bounce) != 0)
            return -K_EIO;
        uint32_t chunk = K_LABFS_SECTOR - within;
        if (chunk > left)
            chunk = left;
        memcpy(dst + done, bounce + within, chunk);
        done += chunk;
    }
    return (int32_t)n;
}

/* CRC-32/ISO-HDLC, reflected polynomial 0xedb88320, four bits at a time. */
uint32_t k_labfs_crc32(uint32_t crc, const void *data, size_t len)
{
    static const uint32_t nibble[16] = {
        0x00000000u, 0x1db71064u, 0x3b6e20c8u, 0x26d930acu, 0x76dc4190u, 0x6b6b51f4u,
        0x4db26158u, 0x5005713cu, 0xedb88320u, 0xf00f9344u, 0xd6d6a3e8u, 0xcb61b38cu,
        0x9b64c2b0u, 0x86d3d2d4u, 0xa00ae278u, 0xbdbdf21cu,
    };
    const uint8_t *p = data;
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        crc = (crc >> 4) ^ nibble[crc & 15u];
        crc = (crc >> 4) ^ nibble[crc & 15u];
    }
    return ~crc;
}

/*
 * host.c - host glue of the kernel-host cffi build (host/khost.h): a memory-backed read
 * callback for LABFS and a grow callback for heaps inside a host buffer, in C so that tests
 * and fuzz targets do not pay for a Python callback on every sector or growth.
 */
#include "host/khost.h"

int khost_disk_read(void *ctx, uint32_t sector, uint32_t count, void *buf)
{
    struct khost_disk *d = ctx;
    uint64_t lo = (uint64_t)sector * K_LABFS_SECTOR;
    uint64_t bytes = (uint64_t)count * K_LABFS_SECTOR;
    if (d->fail_after >= 0 && d->reads >= (uint32_t)d->fail_after)
        return -K_EIO;
    if (lo > d->len || bytes > d->len - lo)
        return -K_EIO;
    d->reads++;
    memcpy(buf, d->data + lo, (size_t)bytes);
    return 0;
}

int khost_heap_grow(void *ctx, uintptr_t old_end, size_t bytes)
{
    struct khost_arena *a = ctx;
    if (a->fail || old_end > a->max_end || bytes > a->max_end - old_end)
        return -K_ENOMEM;
    a->grows++;
    memset((void *)old_end, 0xcd, bytes);
    return 0;
}

k_labfs_read_fn khost_disk_read_fn(void)
{
    return khost_disk_read;
}

k_heap_grow_fn khost_heap_grow_fn(void)
{
    return khost_heap_grow;
}

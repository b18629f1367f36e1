/*
 * khost.h - the public header of the kernel-host cffi build (recipe `kernel-host`): the six
 * hardware-free kernel subsystems compiled for the host with -DKERNEL_HOST (mm/frame, mm/heap,
 * proc/runq, proc/elf, fs/labfs, sys/uaccess) plus the host glue of host/host.c (a memory
 * disk for LABFS and a grow callback for heaps living in a host buffer), and the guest
 * coverage feed of the syscalls fuzz target (host/kcov_feed.c).
 *
 * The C side gets the real declarations from the module headers; the block between the
 * LAB-CDEF markers restates them for cffi's cdef() (which takes neither includes nor macro
 * expressions), so it sits inside `#if 0`. cffi checks every restated constant and struct
 * against the real ones when it compiles the module, so the two cannot drift apart silently.
 */
#ifndef K_HOST_KHOST_H
#define K_HOST_KHOST_H

#include "fs/labfs.h"
#include "lib/kerrno.h"
#include "mm/frame.h"
#include "mm/heap.h"
#include "proc/elf.h"
#include "proc/runq.h"
#include "sys/uaccess.h"

/* A LABFS device over host memory: sectors [0, len / 512) read; any read past the end, or
 * every read from the fail_after-th on (when fail_after >= 0), fails with -K_EIO. */
struct khost_disk {
    const uint8_t *data;
    size_t len;
    uint32_t reads;
    int32_t fail_after;
};

/* A heap region inside a host buffer: growth succeeds while old_end + bytes <= max_end and
 * fail is 0; the grown bytes are filled with 0xcd (so calloc's zeroing is observable). */
struct khost_arena {
    uintptr_t max_end;
    uint32_t grows;
    int32_t fail;
};

int khost_disk_read(void *ctx, uint32_t sector, uint32_t count, void *buf);
int khost_heap_grow(void *ctx, uintptr_t old_end, size_t bytes);
k_labfs_read_fn khost_disk_read_fn(void);

/* Guest coverage (host/kcov_feed.c): OR a "LAB KCOV" bitmap of nbytes (at most
 * KHOST_KCOV_BYTES) into this module's libFuzzer counters; the number of bits set. */
#define KHOST_KCOV_BYTES 512
uint32_t khost_kcov_feed(const uint8_t *bitmap, size_t nbytes);
/* Counter i (tests). */
uint8_t khost_kcov_counter(uint32_t i);
k_heap_grow_fn khost_heap_grow_fn(void);

#if 0
/* LAB-CDEF-BEGIN */
#define K_EPERM 1
#define K_ENOENT 2
#define K_EIO 5
#define K_E2BIG 7
#define K_ENOEXEC 8
#define K_ENOMEM 12
#define K_EFAULT 14
#define K_EINVAL 22
#define K_ENAMETOOLONG 36
#define K_EBADFS 117

/* mm/frame.h */
#define K_FRAME_SIZE 4096
struct k_frames {
    uint32_t base;
    uint32_t nframes;
    uint32_t nfree;
    uint32_t hint;
    uint32_t *bitmap;
};
size_t k_frames_bitmap_words(uint32_t nframes);
int k_frames_init(struct k_frames *fa, uint32_t base, uint32_t nframes, uint32_t *bitmap);
uint32_t k_frames_reserve(struct k_frames *fa, uint32_t addr, uint32_t len);
uint32_t k_frames_alloc(struct k_frames *fa);
uint32_t k_frames_alloc_run(struct k_frames *fa, uint32_t n);
int k_frames_free(struct k_frames *fa, uint32_t addr);
int k_frames_is_used(const struct k_frames *fa, uint32_t addr);
uint32_t k_frames_free_count(const struct k_frames *fa);
int k_frames_check(const struct k_frames *fa);

/* mm/heap.h */
#define K_HEAP_ALIGN 16
typedef int (*k_heap_grow_fn)(void *ctx, uintptr_t old_end, size_t bytes);
struct k_heap {
    uintptr_t start;
    uintptr_t end;
    uintptr_t limit;
    void *free_list;
    size_t used;
    size_t nblocks;
    k_heap_grow_fn grow;
    void *ctx;
};
int k_heap_init(struct k_heap *h, uintptr_t start, size_t initial, uintptr_t limit,
                k_heap_grow_fn grow, void *ctx);
void *k_heap_alloc(struct k_heap *h, size_t size);
void *k_heap_calloc(struct k_heap *h, size_t n, size_t size);
int k_heap_free(struct k_heap *h, void *p);
size_t k_heap_size(const struct k_heap *h, const void *p);
int k_heap_check(const struct k_heap *h);

/* proc/runq.h */
#define K_NPRIO 4
struct k_runq_node {
    struct k_runq_node *next;
    uint8_t prio;
    uint8_t queued;
};
struct k_runq {
    struct k_runq_node *head[4];
    struct k_runq_node *tail[4];
    uint32_t count;
};
void k_runq_init(struct k_runq *q);
int k_runq_push(struct k_runq *q, struct k_runq_node *n);
struct k_runq_node *k_runq_pop(struct k_runq *q);
struct k_runq_node *k_runq_peek(const struct k_runq *q);
int k_runq_remove(struct k_runq *q, struct k_runq_node *n);
uint32_t k_runq_count(const struct k_runq *q);
int k_runq_check(const struct k_runq *q);

/* proc/elf.h */
#define K_ELF_MAX_SEGS 8
struct k_elf_seg {
    uint32_t vaddr;
    uint32_t memsz;
    uint32_t offset;
    uint32_t filesz;
    uint32_t skew;
    uint8_t writable;
    uint8_t executable;
};
struct k_elf_info {
    uint32_t entry;
    uint32_t nsegs;
    struct k_elf_seg segs[8];
};
int k_elf_parse(const uint8_t *image, size_t len, uint32_t user_lo, uint32_t user_hi,
                struct k_elf_info *out);

/* fs/labfs.h */
#define K_LABFS_SECTOR 512
#define K_LABFS_NAME_MAX 48
#define K_LABFS_MAX_FILES 1024
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
    char name[48];
    uint32_t start;
    uint32_t size;
    uint32_t crc;
};
int k_labfs_mount(struct k_labfs *fs, k_labfs_read_fn read, void *ctx);
int k_labfs_entry_at(struct k_labfs *fs, uint32_t i, struct k_labfs_entry *out);
int k_labfs_lookup(struct k_labfs *fs, const char *path, struct k_labfs_entry *out);
int32_t k_labfs_read(struct k_labfs *fs, const struct k_labfs_entry *e, uint32_t off,
                     void *buf, uint32_t len);
uint32_t k_labfs_crc32(uint32_t crc, const void *data, size_t len);

/* sys/uaccess.h */
#define K_USER_BASE 0x40000000
#define K_USER_TOP 0xC0000000
#define K_VMAP_MAX 16
struct k_vrange {
    uint32_t start;
    uint32_t end;
    uint8_t writable;
    uint8_t lazy;
};
struct k_vmap {
    struct k_vrange r[16];
    uint32_t n;
};
void k_vmap_init(struct k_vmap *m);
int k_vmap_add(struct k_vmap *m, uint32_t start, uint32_t len, int writable, int lazy);
uint32_t k_vmap_find_gap(const struct k_vmap *m, uint32_t hint, uint32_t len);
const struct k_vrange *k_vmap_lookup(const struct k_vmap *m, uint32_t addr);
int k_uaccess_check(const struct k_vmap *m, uint32_t addr, uint32_t len, int write);
uint32_t k_uaccess_span(const struct k_vmap *m, uint32_t addr, uint32_t max, int write);

/* host/host.c */
struct khost_disk {
    const uint8_t *data;
    size_t len;
    uint32_t reads;
    int32_t fail_after;
};
struct khost_arena {
    uintptr_t max_end;
    uint32_t grows;
    int32_t fail;
};
int khost_disk_read(void *ctx, uint32_t sector, uint32_t count, void *buf);
int khost_heap_grow(void *ctx, uintptr_t old_end, size_t bytes);
k_labfs_read_fn khost_disk_read_fn(void);
k_heap_grow_fn khost_heap_grow_fn(void);
#define KHOST_KCOV_BYTES 512
uint32_t khost_kcov_feed(const uint8_t *bitmap, size_t nbytes);
uint8_t khost_kcov_counter(uint32_t i);

/* LAB-CDEF-END */
#endif

#endif

/*
 * heap.c - the kernel heap of mm/heap.h: first-fit over an address-ordered, doubly linked
 * free list, with boundary tags (Knuth, TAOCP vol. 1, 2.5) for constant-time coalescing.
 *
 * Layout of a block (every block starts K_HEAP_ALIGN-aligned; sizes are multiples of it):
 *   [header 16 B: size, magic][payload: size - 32 bytes][footer 16 B: size, magic]
 * The magic of both tags is MAGIC_USED or MAGIC_FREE mixed with the header's address and the
 * block size, so a pointer into the middle of a payload, a copied header or a stale one does
 * not validate. A free block's payload holds its free-list links. No two free blocks are ever
 * adjacent (they are merged on free and on growth), and the blocks tile [start, end) exactly.
 *
 * `used` counts usable payload bytes (k_heap_size) of allocated blocks, `nblocks` their number.
 * The heap wipes memory when it takes it over (init, growth) so that only tags it wrote
 * itself can validate. Growth: when no free block fits, the heap asks grow() for at least what is missing (rounded
 * up to GROW_STEP, clamped to limit) and appends it, merged with a free last block.
 */
#include "mm/heap.h"

#include "lib/kerrno.h"

#define TAG 16u                    /* header and footer size */
#define OVERHEAD (2u * TAG)
#define MIN_BLOCK (OVERHEAD + 16u) /* room for the two free-list links */
#define GROW_STEP 4096u
#define MAGIC_USED 0x4b48a11cu
#define MAGIC_FREE 0x4b48f4eeu

struct tag {
    size_t size;
    uint32_t magic;
};

struct fnode {
    struct fnode *next;
    struct fnode *prev;
};

_Static_assert(sizeof(struct tag) <= TAG, "a boundary tag fits in 16 bytes");
_Static_assert(sizeof(struct fnode) <= MIN_BLOCK - OVERHEAD, "free links fit in a payload");

static uint32_t magic_of(uintptr_t hdr, size_t size, bool used)
{
    return (used ? MAGIC_USED : MAGIC_FREE) ^ (uint32_t)hdr ^ ((uint32_t)size << 3);
}

static struct tag *hdr_at(uintptr_t a)
{
    return (struct tag *)a;
}

static struct tag *ftr_of(uintptr_t hdr, size_t size)
{
    return (struct tag *)(hdr + size - TAG);
}

static struct fnode *node_of(uintptr_t hdr)
{
    return (struct fnode *)(hdr + TAG);
}

static uintptr_t hdr_of_node(const struct fnode *n)
{
    return (uintptr_t)n - TAG;
}

static void set_tags(uintptr_t hdr, size_t size, bool used)
{
    uint32_t m = magic_of(hdr, size, used);
    hdr_at(hdr)->size = size;
    hdr_at(hdr)->magic = m;
    ftr_of(hdr, size)->size = size;
    ftr_of(hdr, size)->magic = m;
}

/* Wipe a tag that becomes payload or the interior of a merged block. */
static void scrub(uintptr_t tag_addr)
{
    memset((void *)tag_addr, 0, TAG);
}

/* Whether a block with a valid header and footer of the given kind starts at hdr. Reads only
 * inside [start, end). */
static bool block_valid(const struct k_heap *h, uintptr_t hdr, bool used)
{
    if (hdr < h->start || hdr >= h->end || (hdr & (K_HEAP_ALIGN - 1)) != 0 ||
        h->end - hdr < MIN_BLOCK)
        return false;
    const struct tag *t = hdr_at(hdr);
    size_t size = t->size;
    if (size < MIN_BLOCK || size % K_HEAP_ALIGN != 0 || size > h->end - hdr)
        return false;
    uint32_t m = magic_of(hdr, size, used);
    const struct tag *f = ftr_of(hdr, size);
    return t->magic == m && f->size == size && f->magic == m;
}

/* The header of the allocated block whose payload is p, or 0. */
static uintptr_t used_block(const struct k_heap *h, const void *p)
{
    uintptr_t a = (uintptr_t)p;
    if (a < h->start + TAG || (a & (K_HEAP_ALIGN - 1)) != 0)
        return 0;
    return block_valid(h, a - TAG, true) ? a - TAG : 0;
}

static void list_insert(struct k_heap *h, uintptr_t hdr)
{
    struct fnode *n = node_of(hdr), *prev = NULL, *cur = h->free_list;
    while (cur != NULL && (uintptr_t)cur < (uintptr_t)n) {
        prev = cur;
        cur = cur->next;
    }
    n->prev = prev;
    n->next = cur;
    if (cur != NULL)
        cur->prev = n;
    if (prev != NULL)
        prev->next = n;
    else
        h->free_list = n;
}

static void list_remove(struct k_heap *h, uintptr_t hdr)
{
    struct fnode *n = node_of(hdr);
    if (n->prev != NULL)
        n->prev->next = n->next;
    else
        h->free_list = n->next;
    if (n->next != NULL)
        n->next->prev = n->prev;
}

/* Replace free block old_hdr in the list by new_hdr (same neighbours in address order). */
static void list_replace(struct k_heap *h, uintptr_t old_hdr, uintptr_t new_hdr)
{
    struct fnode *o = node_of(old_hdr), *n = node_of(new_hdr);
    struct fnode *prev = o->prev, *next = o->next;
    n->prev = prev;
    n->next = next;
    if (prev != NULL)
        prev->next = n;
    else
        h->free_list = n;
    if (next != NULL)
        next->prev = n;
}

/* Turn free block hdr into an allocated block of `need` bytes, splitting off the rest. */
static void *take(struct k_heap *h, uintptr_t hdr, size_t need)
{
    size_t size = hdr_at(hdr)->size;
    if (size - need >= MIN_BLOCK) {
        uintptr_t rest = hdr + need;
        set_tags(rest, size - need, false);
        list_replace(h, hdr, rest);
        set_tags(hdr, need, true);
    } else {
        list_remove(h, hdr);
        need = size;
        set_tags(hdr, size, true);
    }
    h->used += need - OVERHEAD;
    h->nblocks++;
    return (void *)(hdr + TAG);
}

/* The free block ending at `at` (a block boundary), or 0. */
static uintptr_t free_block_before(const struct k_heap *h, uintptr_t at)
{
    if (at - h->start < MIN_BLOCK)
        return 0;
    const struct tag *f = (const struct tag *)(at - TAG);
    if (f->size < MIN_BLOCK || f->size > at - h->start)
        return 0;
    uintptr_t hdr = at - f->size;
    return block_valid(h, hdr, false) ? hdr : 0;
}

/* Make [end, end + bytes) part of the heap as a free block (merged with a free last block).
 * The new memory is wiped first: bytes the heap never wrote could hold what looks like a
 * valid tag (a previous heap's, at the same address) and let a bogus free through. */
static void append_free(struct k_heap *h, size_t bytes)
{
    uintptr_t hdr = h->end;
    memset((void *)hdr, 0, bytes);
    size_t size = bytes;
    uintptr_t last = free_block_before(h, h->end);
    h->end += bytes;
    if (last != 0) {
        size += hdr_at(last)->size;
        scrub(last + hdr_at(last)->size - TAG);
        set_tags(last, size, false);
        return;
    }
    set_tags(hdr, size, false);
    list_insert(h, hdr);
}

/* Grow the heap so that a block of `need` bytes fits at its end. */
static bool grow_for(struct k_heap *h, size_t need)
{
    if (h->grow == NULL)
        return false;
    uintptr_t last = free_block_before(h, h->end);
    size_t have = last != 0 ? hdr_at(last)->size : 0;
    size_t missing = need - have;
    size_t room = h->limit - h->end;
    if (missing > room)
        return false;
    size_t bytes = missing <= SIZE_MAX - GROW_STEP ? K_ALIGN_UP(missing, (size_t)GROW_STEP)
                                                   : missing;
    if (bytes > room)
        bytes = room;
    if (bytes < MIN_BLOCK && last == 0)
        return false;
    if (h->grow(h->ctx, h->end, bytes) != 0)
        return false;
    append_free(h, bytes);
    return true;
}

int k_heap_init(struct k_heap *h, uintptr_t start, size_t initial, uintptr_t limit,
                k_heap_grow_fn grow, void *ctx)
{
    if ((start & (K_HEAP_ALIGN - 1)) != 0)
        return -K_EINVAL;
    initial = K_ALIGN_DOWN(initial, (size_t)K_HEAP_ALIGN);
    if (initial < MIN_BLOCK || initial > UINTPTR_MAX - start || limit < start + initial)
        return -K_EINVAL;
    h->start = start;
    h->end = start + initial;
    h->limit = K_ALIGN_DOWN(limit, (uintptr_t)K_HEAP_ALIGN);
    h->free_list = NULL;
    h->used = 0;
    h->nblocks = 0;
    h->grow = grow;
    h->ctx = ctx;
    memset((void *)start, 0, initial); /* no stale tag may survive (see append_free) */
    set_tags(start, initial, false);
    list_insert(h, start);
    return 0;
}

void *k_heap_alloc(struct k_heap *h, size_t size)
{
    if (size == 0 || size > SIZE_MAX - MIN_BLOCK - K_HEAP_ALIGN)
        return NULL;
    size_t need = K_ALIGN_UP(size, (size_t)K_HEAP_ALIGN) + OVERHEAD;
    if (need < MIN_BLOCK)
        need = MIN_BLOCK;
    for (int attempt = 0; attempt < 2; attempt++) {
        for (struct fnode *n = h->free_list; n != NULL; n = n->next) {
            uintptr_t hdr = hdr_of_node(n);
            kassert(block_valid(h, hdr, false));
            if (hdr_at(hdr)->size >= need)
                return take(h, hdr, need);
        }
        if (attempt == 0 && !grow_for(h, need))
            return NULL;
    }
    return NULL;
}

void *k_heap_calloc(struct k_heap *h, size_t n, size_t size)
{
    if (n != 0 && size > SIZE_MAX / n)
        return NULL;
    void *p = k_heap_alloc(h, n * size);
    if (p != NULL)
        memset(p, 0, n * size);
    return p;
}

int k_heap_free(struct k_heap *h, void *p)
{
    if (p == NULL)
        return 0;
    uintptr_t hdr = used_block(h, p);
    if (hdr == 0)
        return -K_EINVAL;
    size_t size = hdr_at(hdr)->size;
    kassert(h->nblocks > 0 && h->used >= size - OVERHEAD);
    h->used -= size - OVERHEAD;
    h->nblocks--;

    uintptr_t next = hdr + size;
    bool next_free = next < h->end && block_valid(h, next, false);
    uintptr_t prev = hdr > h->start ? free_block_before(h, hdr) : 0;

    if (next_free) {
        size_t nsize = hdr_at(next)->size;
        list_remove(h, next);
        scrub(next);
        scrub(hdr + size - TAG);
        size += nsize;
    }
    if (prev != 0) {
        size_t psize = hdr_at(prev)->size;
        scrub(prev + psize - TAG);
        scrub(hdr);
        set_tags(prev, psize + size, false);
        return 0;
    }
    set_tags(hdr, size, false);
    list_insert(h, hdr);
    return 0;
}

size_t k_heap_size(const struct k_heap *h, const void *p)
{
    uintptr_t hdr = p != NULL ? used_block(h, p) : 0;
    return hdr != 0 ? hdr_at(hdr)->size - OVERHEAD : 0;
}

/* The free list is address-ordered, back-linked, and holds exactly nfree valid free blocks. */
static int check_list(const struct k_heap *h, size_t nfree)
{
    const struct fnode *prev = NULL;
    size_t seen = 0;
    for (const struct fnode *n = h->free_list; n != NULL; n = n->next) {
        uintptr_t hdr = (uintptr_t)n - TAG;
        if (++seen > nfree || (uintptr_t)n < h->start + TAG || !block_valid(h, hdr, false) ||
            n->prev != prev || (prev != NULL && (uintptr_t)prev >= (uintptr_t)n))
            return -1;
        prev = n;
    }
    return seen == nfree ? 0 : -1;
}

int k_heap_check(const struct k_heap *h)
{
    if ((h->start & (K_HEAP_ALIGN - 1)) != 0 || h->end < h->start + MIN_BLOCK ||
        h->end > h->limit || (h->end & (K_HEAP_ALIGN - 1)) != 0)
        return -1;
    size_t used = 0, nblocks = 0, nfree = 0;
    bool prev_free = false;
    uintptr_t a = h->start;
    while (a < h->end) {
        bool is_used = block_valid(h, a, true);
        if (!is_used && !block_valid(h, a, false))
            return -1;
        if (!is_used && prev_free)
            return -1; /* two adjacent free blocks: a missed merge */
        size_t size = hdr_at(a)->size;
        if (is_used) {
            used += size - OVERHEAD;
            nblocks++;
        } else {
            nfree++;
        }
        prev_free = !is_used;
        a += size;
    }
    if (a != h->end || used != h->used || nblocks != h->nblocks)
        return -1;
    return check_list(h, nfree);
}

/*
 * frame.c - the physical frame allocator of mm/frame.h: one bit per 4 KiB frame, bit set =
 * used, over [base, base + nframes * 4 KiB).
 *
 * Policy (the fuzz target's Python model replicates it exactly):
 *   - k_frames_alloc is next-fit: it takes the lowest free frame at or above `hint`, else the
 *     lowest free frame below it, and moves `hint` just past the frame it took (0 after the
 *     last frame). Nothing else changes `hint`.
 *   - k_frames_alloc_run is first-fit from frame 0: the lowest run of n free frames.
 * Every entry point validates its arguments; an allocator whose init failed or never ran
 * (all zero) has no frames, so every operation on it fails cleanly.
 */
#include "mm/frame.h"

#include "lib/kerrno.h"

#define FRAME_SHIFT 12u
#define WORD_BITS 32u

static bool bit_get(const struct k_frames *fa, uint32_t i)
{
    return (fa->bitmap[i / WORD_BITS] >> (i % WORD_BITS)) & 1u;
}

static void bit_set(struct k_frames *fa, uint32_t i)
{
    fa->bitmap[i / WORD_BITS] |= 1u << (i % WORD_BITS);
}

static void bit_clear(struct k_frames *fa, uint32_t i)
{
    fa->bitmap[i / WORD_BITS] &= ~(1u << (i % WORD_BITS));
}

static uint32_t frame_addr(const struct k_frames *fa, uint32_t i)
{
    return fa->base + (i << FRAME_SHIFT);
}

/* The index of the frame holding addr, or false when addr is outside the range. */
static bool frame_index(const struct k_frames *fa, uint32_t addr, uint32_t *out)
{
    if (fa->nframes == 0 || addr < fa->base)
        return false;
    uint32_t i = (addr - fa->base) >> FRAME_SHIFT;
    if (i >= fa->nframes)
        return false;
    *out = i;
    return true;
}

/* Number of set bits in a 32-bit word (no builtins in the freestanding build). */
static uint32_t popcount32(uint32_t w)
{
    w = w - ((w >> 1) & 0x55555555u);
    w = (w & 0x33333333u) + ((w >> 2) & 0x33333333u);
    w = (w + (w >> 4)) & 0x0f0f0f0fu;
    return (w * 0x01010101u) >> 24;
}

/* Lowest clear bit index in [from, to), or `to` when every frame there is used. */
static uint32_t find_clear(const struct k_frames *fa, uint32_t from, uint32_t to)
{
    uint32_t i = from;
    while (i < to) {
        if (i % WORD_BITS == 0 && fa->bitmap[i / WORD_BITS] == 0xffffffffu) {
            i += WORD_BITS;
            continue;
        }
        if (!bit_get(fa, i))
            return i;
        i++;
    }
    return to;
}

size_t k_frames_bitmap_words(uint32_t nframes)
{
    return (size_t)(nframes / WORD_BITS) + (nframes % WORD_BITS != 0);
}

int k_frames_init(struct k_frames *fa, uint32_t base, uint32_t nframes, uint32_t *bitmap)
{
    if (base == 0 || (base & (K_FRAME_SIZE - 1)) != 0 || nframes == 0 || bitmap == NULL)
        return -K_EINVAL;
    /* base + nframes * 4 KiB must not pass 4 GiB; (0 - base) is 4 GiB - base here. */
    if (nframes > (uint32_t)(0u - base) >> FRAME_SHIFT)
        return -K_EINVAL;
    fa->base = base;
    fa->nframes = nframes;
    fa->nfree = nframes;
    fa->hint = 0;
    fa->bitmap = bitmap;
    memset(bitmap, 0, k_frames_bitmap_words(nframes) * sizeof(uint32_t));
    return 0;
}

uint32_t k_frames_reserve(struct k_frames *fa, uint32_t addr, uint32_t len)
{
    if (fa->nframes == 0 || len == 0)
        return 0;
    uint64_t lo = addr, hi = (uint64_t)addr + len;
    uint64_t rlo = fa->base, rhi = (uint64_t)fa->base + ((uint64_t)fa->nframes << FRAME_SHIFT);
    if (lo < rlo)
        lo = rlo;
    if (hi > rhi)
        hi = rhi;
    if (lo >= hi)
        return 0;
    uint32_t first = (uint32_t)((lo - rlo) >> FRAME_SHIFT);
    uint32_t last = (uint32_t)((hi - rlo - 1) >> FRAME_SHIFT);
    uint32_t marked = 0;
    for (uint32_t i = first; i <= last; i++) {
        if (!bit_get(fa, i)) {
            bit_set(fa, i);
            marked++;
        }
    }
    kassert(marked <= fa->nfree);
    fa->nfree -= marked;
    return marked;
}

uint32_t k_frames_alloc(struct k_frames *fa)
{
    if (fa->nfree == 0 || fa->nframes == 0)
        return 0;
    uint32_t hint = fa->hint < fa->nframes ? fa->hint : 0;
    uint32_t i = find_clear(fa, hint, fa->nframes);
    if (i == fa->nframes) {
        i = find_clear(fa, 0, hint);
        kassert(i < hint); /* nfree > 0 promises a clear bit */
    }
    bit_set(fa, i);
    fa->nfree--;
    fa->hint = i + 1 < fa->nframes ? i + 1 : 0;
    return frame_addr(fa, i);
}

uint32_t k_frames_alloc_run(struct k_frames *fa, uint32_t n)
{
    if (n == 0 || n > fa->nfree)
        return 0;
    uint32_t i = 0;
    while (fa->nframes - i >= n) {
        i = find_clear(fa, i, fa->nframes);
        if (fa->nframes - i < n)
            break;
        uint32_t j = i + 1;
        while (j - i < n && !bit_get(fa, j))
            j++;
        if (j - i == n) {
            for (uint32_t k = i; k < j; k++)
                bit_set(fa, k);
            fa->nfree -= n;
            return frame_addr(fa, i);
        }
        i = j + 1; /* frame j is used */
    }
    return 0;
}

int k_frames_free(struct k_frames *fa, uint32_t addr)
{
    uint32_t i;
    if ((addr & (K_FRAME_SIZE - 1)) != 0 || !frame_index(fa, addr, &i) || !bit_get(fa, i))
        return -K_EINVAL;
    bit_clear(fa, i);
    fa->nfree++;
    return 0;
}

int k_frames_is_used(const struct k_frames *fa, uint32_t addr)
{
    uint32_t i;
    if (!frame_index(fa, addr, &i))
        return -K_EINVAL;
    return bit_get(fa, i) ? 1 : 0;
}

uint32_t k_frames_free_count(const struct k_frames *fa)
{
    return fa->nfree;
}

int k_frames_check(const struct k_frames *fa)
{
    if (fa->nframes == 0)
        return fa->nfree == 0 ? 0 : -1;
    if (fa->bitmap == NULL || fa->nfree > fa->nframes || fa->hint >= fa->nframes)
        return -1;
    size_t words = k_frames_bitmap_words(fa->nframes);
    uint32_t used = 0;
    for (size_t w = 0; w < words; w++)
        used += popcount32(fa->bitmap[w]);
    uint32_t tail = fa->nframes % WORD_BITS;
    if (tail != 0 && (fa->bitmap[words - 1] >> tail) != 0)
        return -1;
    return fa->nframes - used == fa->nfree ? 0 : -1;
}

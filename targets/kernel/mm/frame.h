/*
 * frame.h - the physical frame allocator: one bit per 4 KiB frame over a contiguous range.
 *
 * Host-buildable (no hardware access): the bitmap memory is the caller's. Every operation
 * validates its arguments and returns an error instead of corrupting the bitmap, so the
 * fuzzer can drive it with arbitrary sequences; the kernel kasserts the results.
 */
#ifndef K_FRAME_H
#define K_FRAME_H

#include "lib/klib.h"

#define K_FRAME_SIZE 4096u

struct k_frames {
    uint32_t base;    /* physical address of frame 0, page-aligned and > 0 */
    uint32_t nframes; /* frames covered by the bitmap */
    uint32_t nfree;   /* frames currently free; always == number of clear bits */
    uint32_t hint;    /* index where the next search starts */
    uint32_t *bitmap; /* k_frames_bitmap_words(nframes) words, bit set = used */
};

/* Words of bitmap needed for nframes frames. */
size_t k_frames_bitmap_words(uint32_t nframes);
/* Set up the allocator with every frame free. 0, or -K_EINVAL (base 0 or unaligned,
 * nframes 0, bitmap NULL, range wrapping past 4 GiB). */
int k_frames_init(struct k_frames *fa, uint32_t base, uint32_t nframes, uint32_t *bitmap);
/* Mark every frame overlapping [addr, addr+len) used (kernel image, multiboot data...);
 * parts outside the range are ignored. Returns the number of frames newly marked. */
uint32_t k_frames_reserve(struct k_frames *fa, uint32_t addr, uint32_t len);
/* One free frame's physical address, or 0 when none is left. */
uint32_t k_frames_alloc(struct k_frames *fa);
/* n contiguous free frames (first fit); the first one's address, or 0. n == 0 gives 0. */
uint32_t k_frames_alloc_run(struct k_frames *fa, uint32_t n);
/* Free the frame at addr. 0, or -K_EINVAL (outside the range, unaligned, already free). */
int k_frames_free(struct k_frames *fa, uint32_t addr);
/* 1 when the frame holding addr is used, 0 when free, -K_EINVAL when outside the range. */
int k_frames_is_used(const struct k_frames *fa, uint32_t addr);
uint32_t k_frames_free_count(const struct k_frames *fa);
/* 0 when nfree matches the bitmap and the bits past nframes are clear, else -1. */
int k_frames_check(const struct k_frames *fa);

#endif

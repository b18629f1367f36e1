/*
 * bitio.h -- the LSB-first bit writer used by the encoder.
 *
 * DEFLATE packs data elements starting with the least significant bit of
 * each byte (RFC 1951 section 3.1.1); Huffman codes are therefore stored
 * pre-reversed (huffman.c) and everything is appended at the current bit
 * position of a 64-bit buffer.  cz_bw_flush writes all complete bytes with a
 * single unaligned 8-byte store when 8 bytes of room remain, and byte by byte
 * (setting `overflow` instead of writing past the end) near the end of the
 * output, so the writer never overruns its buffer.  Stored blocks and the
 * container framing use cz_bw_align + cz_bw_bytes.
 *
 * Call chain: oneshot.c / stream.c create the writer -> deflate.c
 * cz_emit_block / cz_emit_stored -> cz_bw_put / cz_bw_flush.  (The decoder's
 * bit reader lives in inflate.c.)
 */
#ifndef CZ_BITIO_H
#define CZ_BITIO_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline void cz_bitio_store64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

typedef struct cz_bitw {
    uint64_t bb;      /* pending bits, LSB first */
    unsigned bc;      /* number of pending bits, < 64 */
    uint8_t *p;       /* next output byte */
    uint8_t *end;     /* end of output buffer */
    int overflow;     /* set once output did not fit */
} cz_bitw;

static inline void cz_bw_init(cz_bitw *bw, uint8_t *out, size_t cap)
{
    bw->bb = 0;
    bw->bc = 0;
    bw->p = out;
    bw->end = out + cap;
    bw->overflow = 0;
}

/* Write whole pending bytes; keeps < 8 bits pending. */
static inline void cz_bw_flush(cz_bitw *bw)
{
    if (bw->end - bw->p >= 8) {
        unsigned nbytes = bw->bc >> 3; /* <= 7 since bc < 64 */
        cz_bitio_store64(bw->p, bw->bb);
        bw->p += nbytes;
        bw->bb >>= nbytes * 8u;
        bw->bc &= 7u;
        return;
    }
    while (bw->bc >= 8) {
        if (bw->p < bw->end)
            *bw->p++ = (uint8_t)bw->bb;
        else
            bw->overflow = 1;
        bw->bb >>= 8;
        bw->bc -= 8;
    }
}

/* Append n bits (n + pending <= 63; callers flush at least every 56 bits). */
static inline void cz_bw_put(cz_bitw *bw, uint64_t bits, unsigned n)
{
    assert(bw->bc + n <= 63u);
    assert(n == 64 || (bits >> n) == 0);
    bw->bb |= bits << bw->bc;
    bw->bc += n;
}

static inline void cz_bw_put_flush(cz_bitw *bw, uint64_t bits, unsigned n)
{
    cz_bw_put(bw, bits, n);
    cz_bw_flush(bw);
}

/* Pad to a byte boundary with zero bits and write everything out. */
static inline void cz_bw_align(cz_bitw *bw)
{
    bw->bc = (bw->bc + 7u) & ~7u;
    cz_bw_flush(bw);
    assert(bw->bc == 0);
}

static inline void cz_bw_bytes(cz_bitw *bw, const uint8_t *src, size_t n)
{
    assert(bw->bc == 0);
    if ((size_t)(bw->end - bw->p) < n) {
        bw->overflow = 1;
        n = (size_t)(bw->end - bw->p);
    }
    memcpy(bw->p, src, n);
    bw->p += n;
}

#endif /* CZ_BITIO_H */

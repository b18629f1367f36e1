/*
 * cz_internal.h -- declarations shared between the .c files of the compress
 * core; nothing here is part of the public API (see compress.h).
 *
 * It defines the DEFLATE constants of RFC 1951 section 3.2.5, unaligned
 * little/big-endian load/store helpers, the generated tables (tables.c), and
 * the interfaces between the layers:
 *   framing.c  <- one-shot entry points, stream.c
 *   lz77.c     <- deflate.c, stream.c          (string matching -> symbols)
 *   deflate.c  <- one-shot cz_deflate, stream.c (symbols -> blocks)
 *   huffman.c  <- deflate.c                     (code construction)
 *   bitio.h    <- deflate.c, oneshot.c, stream.c (LSB-first bit writer)
 *   inflate.c  <- one-shot cz_inflate, stream.c (blocks -> bytes)
 *   slowdown.c <- one-shot cz_deflate, stream.c (test-only injected cost)
 */
#ifndef CZ_INTERNAL_H
#define CZ_INTERNAL_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "compress.h"

/* ---- RFC 1951 constants ---- */
#define CZ_WSIZE 32768u          /* maximum distance / window size */
#define CZ_WMASK (CZ_WSIZE - 1u)
#define CZ_MIN_MATCH 3u
#define CZ_MAX_MATCH 258u
#define CZ_NUM_LITLEN 288u        /* including the two invalid symbols */
#define CZ_NUM_DIST 32u           /* including the two invalid symbols */
#define CZ_NUM_CODELEN 19u
#define CZ_MAX_CODELEN 15u
#define CZ_MAX_CLCODELEN 7u
#define CZ_END_BLOCK 256u

/* internal status: the decoder core ran out of input (not final) */
#define CZ_NEED_INPUT 3

/* ---- generated tables (tables.c) ---- */
extern const uint16_t cz_len_base[29];
extern const uint8_t cz_len_extra[29];
extern const uint16_t cz_dist_base[30];
extern const uint8_t cz_dist_extra[30];
extern const uint8_t cz_len_code[256];   /* (len - 3) -> code index 0..28 */
extern const uint8_t cz_dist_code[512];  /* see cz_dist_to_code() */
extern const uint32_t cz_crc_table[8][256];

static inline unsigned cz_dist_to_code(unsigned dist)
{
    unsigned d = dist - 1u;
    assert(dist >= 1u && dist <= CZ_WSIZE);
    return d < 256u ? cz_dist_code[d] : cz_dist_code[256u + (d >> 7)];
}

/* ---- unaligned memory access (memcpy compiles to single moves) ---- */
static inline uint64_t cz_load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v; /* little-endian host assumed (x86-64), checked in cz_le() */
}
static inline uint32_t cz_load32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static inline void cz_store64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static inline uint32_t cz_get_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}
static inline uint32_t cz_get_le32(const uint8_t *p)
{
    return ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[1] << 8) | (uint32_t)p[0];
}
static inline void cz_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void cz_put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "compress core assumes a little-endian host"
#endif

/* ---- huffman.c ---- */
void cz_huff_lengths(const uint32_t *freq, unsigned n, unsigned maxlen,
                     uint8_t *lens);
void cz_huff_codes(const uint8_t *lens, unsigned n, uint16_t *codes);

/* ---- lz77.c: string matcher producing a symbol buffer ---- */
/* symbol encoding: literal = byte value (< 256); match =
 * CZ_SYM_MATCH | (dist - 1) << 8 | (len - 3) */
#define CZ_SYM_MATCH 0x80000000u

typedef struct cz_lz {
    const uint8_t *win;      /* window base; positions are offsets into it */
    uint32_t *head;          /* hash -> most recent position */
    uint32_t *prev;          /* position & WMASK -> previous position */
    uint32_t *head3;         /* 3-byte hash -> most recent position */
    uint32_t cand3;          /* last candidate from head3 */
    unsigned hash_bits;
    uint32_t pmask;          /* prev[] size - 1 */
    unsigned max_chain, good, nice, max_lazy;
    int level;               /* 0 = no matching; 1..3 greedy; 4..9 lazy */
    size_t ins;              /* positions < ins are in the hash chains */
    size_t pos;              /* next position to encode */
    uint32_t *syms;          /* symbol buffer */
    size_t nsyms, sym_cap;
    uint32_t lfreq[CZ_NUM_LITLEN];
    uint32_t dfreq[CZ_NUM_DIST];
} cz_lz;

int cz_lz_init(cz_lz *lz, int level, size_t expected_len);
void cz_lz_free(cz_lz *lz);
void cz_lz_reset_block(cz_lz *lz);
/* Encode positions [lz->pos, limit) reading bytes < end; stops early when
 * the symbol buffer is full.  Returns 1 if it stopped for a full buffer. */
int cz_lz_run(cz_lz *lz, size_t limit, size_t end);
/* Subtract `shift` from every stored position (window slide). */
void cz_lz_slide(cz_lz *lz, size_t shift);

#include "bitio.h"

/* ---- deflate.c: block encoder ---- */
/* Emit one block for the symbols in lz (raw bytes raw[0..raw_len) may be
 * NULL when unavailable, which rules out a stored block). */
void cz_emit_block(cz_bitw *bw, const cz_lz *lz, const uint8_t *raw,
                   size_t raw_len, int final);
void cz_emit_stored(cz_bitw *bw, const uint8_t *raw, size_t raw_len,
                    int final);

/* ---- framing.c ---- */
size_t cz_header_write(uint8_t *out, int level, int format);
size_t cz_trailer_write(uint8_t *out, int format, uint32_t check,
                        uint64_t total);
uint32_t cz_check_init(int format);
uint32_t cz_check_update(int format, uint32_t check, const uint8_t *buf,
                         size_t len);
int cz_valid_format(int format);

/* incremental container header parser (zlib / gzip); byte oriented */
typedef struct cz_hdr {
    int format;
    unsigned state;      /* parser state, see framing.c */
    unsigned flags;      /* gzip FLG */
    uint32_t need;       /* bytes still to skip/collect in this state */
    uint32_t crc;        /* running CRC-32 of the gzip header */
    uint8_t buf[10];
    unsigned nbuf;
    size_t fed;          /* header bytes consumed so far */
} cz_hdr;
void cz_hdr_init(cz_hdr *h, int format);
/* Feeds bytes; *used gets the number consumed.  Returns CZ_STREAM_END when
 * the header is complete, CZ_NEED_INPUT if more bytes are needed, or an
 * error; *err_off gets the offset (within in) of a bad byte. */
int cz_hdr_feed(cz_hdr *h, const uint8_t *in, size_t len, size_t *used,
                size_t *err_off);
/* Trailer check: returns CZ_OK or CZ_ERR_CHECKSUM / CZ_ERR_LENGTH. */
size_t cz_trailer_size(int format);
int cz_trailer_check(int format, const uint8_t *tr, uint32_t check,
                     uint64_t total);

/* ---- inflate.c: block decoder core ---- */
#define CZ_LITLEN_TABLEBITS 11u
#define CZ_DIST_TABLEBITS 8u
#define CZ_LITLEN_ENOUGH 2560u   /* >= 2342, enough(288, 11, 15) */
#define CZ_DIST_ENOUGH 512u      /* >= 402, enough(32, 8, 15) */

typedef struct cz_icore {
    int mode;            /* see inflate.c */
    int final_block;     /* BFINAL of the current block */
    unsigned bitoff;     /* bits of in[0] already consumed at next entry */
    uint32_t stored_left;
    const uint32_t *lt;  /* current block's tables: litlen/dist below, or */
    const uint32_t *dt;  /* the shared fixed-code tables (inflate.c) */
    unsigned lbits;      /* primary widths of lt / dt, <= the */
    unsigned dbits;      /* CZ_*_TABLEBITS maxima */
    uint32_t litlen[CZ_LITLEN_ENOUGH];
    uint32_t dist[CZ_DIST_ENOUGH];
} cz_icore;

typedef struct cz_iio {
    const uint8_t *in;
    size_t in_len;
    int final_input;     /* no more input will follow in[] */
    uint8_t *out;        /* out[0..out_pos) is history (window) */
    size_t out_pos;
    size_t out_cap;
    size_t in_used;      /* result: whole bytes consumed */
    size_t err_pos;      /* result: offset in in[] of an error */
} cz_iio;

void cz_icore_init(cz_icore *c);
/* Decodes until the final block ends (CZ_STREAM_END; in_used then points
 * just past it), output is full (CZ_BUF_ERROR), input is exhausted
 * (CZ_NEED_INPUT; only when !final_input) or an error (< 0). */
int cz_icore_run(cz_icore *c, cz_iio *io);

/* ---- slowdown.c: TEST-ONLY injected cost (not RFC 1951 behaviour) ---- */
/* With -DCZ_TEST_SLOWDOWN_PPM=N (0 < N <= 1000000), a deterministic busy
 * loop costing N ppm of the compression of in[0..in_len); without it, a
 * no-op that compiles to nothing.  It never touches the output. */
#if defined(CZ_TEST_SLOWDOWN_PPM) && CZ_TEST_SLOWDOWN_PPM > 0
void cz_test_slowdown(const uint8_t *in, size_t in_len);
#else
static inline void cz_test_slowdown(const uint8_t *in, size_t in_len)
{
    (void)in;
    (void)in_len;
}
#endif

#endif /* CZ_INTERNAL_H */

/*
 * deflate.c -- the DEFLATE block encoder (RFC 1951 sections 3.2.3 - 3.2.7).
 *
 * Given one block's symbols (from lz77.c) and their frequencies, it builds
 * the dynamic literal/length and distance codes (huffman.c, limited to 15
 * bits), run-length codes their lengths with symbols 16/17/18 and builds the
 * code-length code (limited to 7 bits) as in section 3.2.7, then computes the
 * exact size of the block in each of the three encodings -- stored
 * (section 3.2.4, split into chunks of at most 65535 bytes), fixed Huffman
 * (section 3.2.6) and dynamic Huffman -- and writes the smallest.
 *
 * Symbols are written with a 64-bit bit buffer: a whole symbol (at most 48
 * bits: 15 + 5 length bits, 15 + 13 distance bits) is added and then all
 * complete bytes are stored with one unaligned 8-byte write.  Lengths use a
 * per-block table combining the Huffman code with the extra bits.
 *
 * Call chain: oneshot.c cz_deflate / stream.c deflater ->
 * cz_emit_block -> build_dynamic (huffman.c) -> write_dynamic_header ->
 * write_symbols; or cz_emit_stored.
 */
#include "cz_internal.h"

static const uint8_t clen_order[CZ_NUM_CODELEN] = {
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

typedef struct code_set {
    uint8_t llen[CZ_NUM_LITLEN];
    uint16_t lcode[CZ_NUM_LITLEN];
    uint8_t dlen[CZ_NUM_DIST];
    uint16_t dcode[CZ_NUM_DIST];
} code_set;

typedef struct dyn_header {
    unsigned hlit, hdist, hclen, nrle;
    uint8_t rsym[CZ_NUM_LITLEN + CZ_NUM_DIST];
    uint8_t rext[CZ_NUM_LITLEN + CZ_NUM_DIST];
    uint8_t cllen[CZ_NUM_CODELEN];
    uint16_t clcode[CZ_NUM_CODELEN];
} dyn_header;

/* ------------------------------------------------------------------ */
/* stored blocks                                                       */

void cz_emit_stored(cz_bitw *bw, const uint8_t *raw, size_t raw_len,
                    int final)
{
    do {
        size_t n = raw_len > 65535u ? 65535u : raw_len;
        int last = final && n == raw_len;
        cz_bw_put_flush(bw, (uint64_t)(last ? 1u : 0u), 3);
        cz_bw_align(bw);
        cz_bw_put_flush(bw, (uint64_t)n | ((uint64_t)(~n & 0xffffu) << 16),
                        32);
        cz_bw_bytes(bw, raw, n);
        raw += n;
        raw_len -= n;
    } while (raw_len > 0);
}

static uint64_t stored_cost(size_t raw_len)
{
    size_t chunks = raw_len / 65535u + (raw_len % 65535u != 0 || !raw_len);
    /* 3 header bits + up to 7 alignment bits + LEN/NLEN per chunk */
    return (uint64_t)chunks * 42u + (uint64_t)raw_len * 8u;
}

/* ------------------------------------------------------------------ */
/* code construction and costs                                         */

/* The fixed code's lengths (section 3.2.6); its codes are only made when
 * the block is written with it (fixed_codes). */
static void fixed_lengths(code_set *cs)
{
    memset(cs->llen, 8, 144);
    memset(cs->llen + 144, 9, 112);
    memset(cs->llen + 256, 7, 24);
    memset(cs->llen + 280, 8, 8);
    memset(cs->dlen, 5, CZ_NUM_DIST);
}

static void fixed_codes(code_set *cs)
{
    cz_huff_codes(cs->llen, CZ_NUM_LITLEN, cs->lcode);
    cz_huff_codes(cs->dlen, CZ_NUM_DIST, cs->dcode);
}

static uint64_t extra_bits_cost(const uint32_t *lfreq, const uint32_t *dfreq)
{
    uint64_t bits = 0;
    unsigned i;
    for (i = 0; i < 29; i++)
        bits += (uint64_t)lfreq[257 + i] * cz_len_extra[i];
    for (i = 0; i < 30; i++)
        bits += (uint64_t)dfreq[i] * cz_dist_extra[i];
    return bits;
}

static uint64_t code_cost(const code_set *cs, const uint32_t *lfreq,
                          const uint32_t *dfreq)
{
    uint64_t bits = 0;
    unsigned i;
    for (i = 0; i < 286; i++)
        bits += (uint64_t)lfreq[i] * cs->llen[i];
    for (i = 0; i < 30; i++)
        bits += (uint64_t)dfreq[i] * cs->dlen[i];
    return bits;
}

/* Appends run-length coded items for one run of `count` copies of v. */
static void rle_run(dyn_header *h, uint32_t *clfreq, uint8_t v,
                    unsigned count)
{
#define ITEM(s, e) (h->rsym[h->nrle] = (uint8_t)(s), \
                    h->rext[h->nrle++] = (uint8_t)(e), clfreq[s]++)
    if (v == 0) {
        while (count >= 11) {
            unsigned n = count > 138 ? 138 : count;
            ITEM(18, n - 11);
            count -= n;
        }
        if (count >= 3) {
            ITEM(17, count - 3);
            count = 0;
        }
    } else {
        ITEM(v, 0);
        count--;
        while (count >= 3) {
            unsigned n = count > 6 ? 6 : count;
            ITEM(16, n - 3);
            count -= n;
        }
    }
    while (count-- > 0)
        ITEM(v, 0);
#undef ITEM
}

/* Builds the code-length code for the dynamic header; returns its cost. */
static uint64_t build_header(dyn_header *h, const code_set *cs)
{
    static const uint8_t ext[3] = {2, 3, 7};
    uint8_t all[CZ_NUM_LITLEN + CZ_NUM_DIST];
    uint32_t clfreq[CZ_NUM_CODELEN] = {0};
    unsigned i, n, total;
    uint64_t bits;

    h->hlit = 286;
    while (h->hlit > 257 && cs->llen[h->hlit - 1] == 0)
        h->hlit--;
    h->hdist = 30;
    while (h->hdist > 1 && cs->dlen[h->hdist - 1] == 0)
        h->hdist--;
    memcpy(all, cs->llen, h->hlit);
    memcpy(all + h->hlit, cs->dlen, h->hdist);
    total = h->hlit + h->hdist;
    h->nrle = 0;
    for (i = 0; i < total; i += n) {
        for (n = 1; i + n < total && all[i + n] == all[i]; n++)
            ;
        rle_run(h, clfreq, all[i], n);
    }
    cz_huff_lengths(clfreq, CZ_NUM_CODELEN, CZ_MAX_CLCODELEN, h->cllen);
    cz_huff_codes(h->cllen, CZ_NUM_CODELEN, h->clcode);
    h->hclen = CZ_NUM_CODELEN;
    while (h->hclen > 4 && h->cllen[clen_order[h->hclen - 1]] == 0)
        h->hclen--;
    bits = 3 + 5 + 5 + 4 + 3u * (uint64_t)h->hclen;
    for (i = 0; i < CZ_NUM_CODELEN; i++)
        bits += (uint64_t)clfreq[i] * h->cllen[i];
    for (i = 16; i < 19; i++)
        bits += (uint64_t)clfreq[i] * ext[i - 16];
    return bits;
}

static void write_header(cz_bitw *bw, const dyn_header *h, int final)
{
    static const uint8_t ext[3] = {2, 3, 7};
    unsigned i;
    cz_bw_put_flush(bw, (uint64_t)(final ? 1u : 0u) | (2u << 1), 3);
    cz_bw_put_flush(bw, (uint64_t)(h->hlit - 257u) | ((h->hdist - 1u) << 5) |
                            ((h->hclen - 4u) << 10), 14);
    for (i = 0; i < h->hclen; i++)
        cz_bw_put_flush(bw, h->cllen[clen_order[i]], 3);
    for (i = 0; i < h->nrle; i++) {
        unsigned s = h->rsym[i];
        cz_bw_put(bw, h->clcode[s], h->cllen[s]);
        if (s >= 16)
            cz_bw_put(bw, h->rext[i], ext[s - 16]);
        cz_bw_flush(bw);
    }
}

/* ------------------------------------------------------------------ */
/* symbol output                                                       */

static void write_symbols(cz_bitw *bw, const uint32_t *syms, size_t n,
                          const code_set *cs)
{
    uint32_t lenbits[256];
    uint8_t lennb[256];
    uint64_t bb = bw->bb;
    unsigned bc = bw->bc, i;
    uint8_t *p = bw->p, *end = bw->end;
    size_t k;

    for (i = 0; i < 256; i++) {
        unsigned c = cz_len_code[i], s = 257 + c;
        lenbits[i] = cs->lcode[s] |
                     ((i + 3u - cz_len_base[c]) << cs->llen[s]);
        lennb[i] = (uint8_t)(cs->llen[s] + cz_len_extra[c]);
    }
    for (k = 0; k <= n; k++) {
        if (k == n) {
            bb |= (uint64_t)cs->lcode[CZ_END_BLOCK] << bc;
            bc += cs->llen[CZ_END_BLOCK];
        } else if (!(syms[k] & CZ_SYM_MATCH)) {
            uint32_t s = syms[k];
            bb |= (uint64_t)cs->lcode[s] << bc;
            bc += cs->llen[s];
        } else {
            uint32_t s = syms[k];
            unsigned l = s & 0xffu, d = ((s >> 8) & 0x7fffu) + 1u;
            unsigned dc = cz_dist_to_code(d);
            bb |= (uint64_t)lenbits[l] << bc;
            bc += lennb[l];
            bb |= (uint64_t)(cs->dcode[dc] |
                             ((uint32_t)(d - cz_dist_base[dc]) << cs->dlen[dc]))
                  << bc;
            bc += cs->dlen[dc] + cz_dist_extra[dc];
        }
        assert(bc < 64);
        if (end - p >= 8) {
            unsigned nb = bc >> 3;
            cz_store64(p, bb);
            p += nb;
            bb >>= nb * 8u;
            bc &= 7u;
        } else {
            bw->bb = bb;
            bw->bc = bc;
            bw->p = p;
            cz_bw_flush(bw);
            bb = bw->bb;
            bc = bw->bc;
            p = bw->p;
        }
    }
    bw->bb = bb;
    bw->bc = bc;
    bw->p = p;
}

/* ------------------------------------------------------------------ */

void cz_emit_block(cz_bitw *bw, const cz_lz *lz, const uint8_t *raw,
                   size_t raw_len, int final)
{
    uint32_t lfreq[CZ_NUM_LITLEN];
    code_set dyn, fix;
    dyn_header hdr;
    uint64_t extra, dyn_bits, fix_bits, st_bits;

    if (lz->level == 0 || lz->nsyms == 0) {
        if (raw != NULL && raw_len > 0) {
            cz_emit_stored(bw, raw, raw_len, final);
            return;
        }
    }
    memcpy(lfreq, lz->lfreq, sizeof lfreq);
    lfreq[CZ_END_BLOCK] = 1;
    cz_huff_lengths(lfreq, 286, CZ_MAX_CODELEN, dyn.llen);
    dyn.llen[286] = dyn.llen[287] = 0;
    cz_huff_lengths(lz->dfreq, 30, CZ_MAX_CODELEN, dyn.dlen);
    dyn.dlen[30] = dyn.dlen[31] = 0;
    fixed_lengths(&fix);

    extra = extra_bits_cost(lfreq, lz->dfreq);
    dyn_bits = build_header(&hdr, &dyn) + code_cost(&dyn, lfreq, lz->dfreq);
    fix_bits = 3 + code_cost(&fix, lfreq, lz->dfreq);
    st_bits = raw ? stored_cost(raw_len) : UINT64_MAX;
    if (st_bits <= dyn_bits + extra && st_bits <= fix_bits + extra) {
        cz_emit_stored(bw, raw, raw_len, final);
    } else if (fix_bits <= dyn_bits) {
        fixed_codes(&fix);
        cz_bw_put_flush(bw, (uint64_t)(final ? 1u : 0u) | (1u << 1), 3);
        write_symbols(bw, lz->syms, lz->nsyms, &fix);
    } else {
        cz_huff_codes(dyn.llen, CZ_NUM_LITLEN, dyn.lcode);
        cz_huff_codes(dyn.dlen, CZ_NUM_DIST, dyn.dcode);
        write_header(bw, &hdr, final);
        write_symbols(bw, lz->syms, lz->nsyms, &dyn);
    }
}

/*
 * lz77.c -- the string matcher: turns bytes into DEFLATE literal and
 * <length, distance> symbols (RFC 1951 section 4, "Compression algorithm
 * details": hash chains, lazy matching).
 *
 * Positions are offsets into a window buffer (the caller's whole input for
 * one-shot compression, the streaming deflater's sliding buffer otherwise).
 * Every encoded position p is hashed on its next 4 bytes (multiplicative
 * hash); head[] holds the most recent position per hash and prev[p & mask]
 * the one before, forming chains of strictly decreasing positions that are
 * walked only back to the 32 KiB distance limit.  Chains are never trusted:
 * any stale or colliding candidate is verified byte by byte (8 bytes at a
 * time), so a bogus candidate can only cost time, never correctness.
 *
 * Levels follow zlib's configuration table (good / lazy / nice / chain):
 * levels 1-3 are greedy (inserting match positions only for short matches),
 * 4-9 use lazy evaluation: after finding a match at p the matcher also tries
 * p+1 (and keeps going while that improves) unless the match is already
 * "lazy" long; chains are shortened to a quarter once a "good" match is in
 * hand and the search stops at "nice" length.  Level 0 emits no symbols
 * (the block encoder then writes stored blocks).
 *
 * Symbol frequencies for the block's Huffman codes are counted here, as the
 * symbols are produced.
 *
 * Call chain: oneshot.c cz_deflate / stream.c deflater -> cz_lz_run ->
 * greedy_run | lazy_run -> insert_pos, find_match, match_len; then
 * deflate.c cz_emit_block consumes lz->syms and the frequencies.
 */
#include <stdlib.h>

#include "cz_internal.h"

#define HASH_MULT 0x1E35A7BDu
#define FIND_MIN 4u    /* shortest match searched for (4-byte hash) */
#define HASH3_BITS 12u
#define TOO_FAR3 4096u /* farthest length-3 match worth coding (zlib) */

typedef struct lz_config {
    uint16_t good, lazy, nice, chain;
} lz_config;

static const lz_config config[10] = {
    {0, 0, 0, 0},        {4, 4, 8, 4},        {4, 5, 16, 8},
    {4, 6, 32, 32},      {4, 4, 16, 16},      {8, 16, 32, 32},
    {8, 16, 128, 128},   {8, 32, 128, 256},   {32, 128, 258, 1024},
    {32, 258, 258, 4096}};

static unsigned ceil_log2(size_t n)
{
    unsigned b = 0;
    while (b < 40 && ((size_t)1 << b) < n)
        b++;
    return b;
}

int cz_lz_init(cz_lz *lz, int level, size_t expected_len)
{
    size_t psize = CZ_WSIZE;
    unsigned bits = 15;
    memset(lz, 0, sizeof *lz);
    assert(level >= 0 && level <= 9);
    lz->level = level;
    lz->good = config[level].good;
    lz->max_lazy = config[level].lazy;
    lz->nice = config[level].nice;
    lz->max_chain = config[level].chain;
    lz->sym_cap = 16384;
    if (expected_len != 0 && expected_len < CZ_WSIZE) {
        psize = (size_t)1 << ceil_log2(expected_len);
        bits = ceil_log2(expected_len) + 1;
        bits = bits < 10 ? 10 : bits > 15 ? 15 : bits;
    }
    lz->hash_bits = bits;
    lz->pmask = (uint32_t)(psize - 1);
    if (level == 0)
        return CZ_OK;
    lz->head = calloc((size_t)1 << bits, sizeof *lz->head);
    lz->head3 = calloc((size_t)1 << HASH3_BITS, sizeof *lz->head3);
    lz->prev = calloc(psize, sizeof *lz->prev);
    lz->syms = malloc(lz->sym_cap * sizeof *lz->syms);
    if (!lz->head || !lz->head3 || !lz->prev || !lz->syms) {
        cz_lz_free(lz);
        return CZ_ERR_NOMEM;
    }
    return CZ_OK;
}

void cz_lz_free(cz_lz *lz)
{
    free(lz->head);
    free(lz->head3);
    free(lz->prev);
    free(lz->syms);
    lz->head = lz->head3 = lz->prev = lz->syms = NULL;
}

void cz_lz_reset_block(cz_lz *lz)
{
    lz->nsyms = 0;
    memset(lz->lfreq, 0, sizeof lz->lfreq);
    memset(lz->dfreq, 0, sizeof lz->dfreq);
}

static void slide_array(uint32_t *a, size_t n, size_t shift)
{
    size_t i;
    for (i = 0; i < n; i++)
        a[i] = a[i] > shift ? a[i] - (uint32_t)shift : 0;
}

void cz_lz_slide(cz_lz *lz, size_t shift)
{
    assert(shift <= lz->pos && shift <= lz->ins);
    if (lz->head) {
        slide_array(lz->head, (size_t)1 << lz->hash_bits, shift);
        slide_array(lz->head3, (size_t)1 << HASH3_BITS, shift);
        slide_array(lz->prev, (size_t)lz->pmask + 1, shift);
    }
    lz->pos -= shift;
    lz->ins -= shift;
}

/* ------------------------------------------------------------------ */

static inline uint32_t hash4(const uint8_t *p, unsigned bits)
{
    return (cz_load32(p) * HASH_MULT) >> (32u - bits);
}

static inline uint32_t hash3(const uint8_t *p)
{
    return ((cz_load32(p) & 0xffffffu) * HASH_MULT) >> (32u - HASH3_BITS);
}

/* Links position p (p + 4 <= end) into its chain and into the length-3
 * table; returns the previous head, the first candidate for p, and leaves
 * the previous length-3 candidate in lz->cand3. */
static inline uint32_t insert_pos(cz_lz *lz, size_t p)
{
    uint32_t h = hash4(lz->win + p, lz->hash_bits);
    uint32_t h3 = hash3(lz->win + p);
    uint32_t cand = lz->head[h];
    lz->head[h] = (uint32_t)p;
    lz->prev[p & lz->pmask] = cand;
    lz->cand3 = lz->head3[h3];
    lz->head3[h3] = (uint32_t)p;
    return cand;
}

/* A length-3 match at pos from the length-3 table, if close enough. */
static inline unsigned try_len3(const cz_lz *lz, size_t pos, unsigned *dist)
{
    uint32_t c3 = lz->cand3;
    const uint8_t *a = lz->win + c3, *b = lz->win + pos;
    if (c3 >= pos || pos - c3 > TOO_FAR3)
        return 0;
    if (a[0] != b[0] || a[1] != b[1] || a[2] != b[2])
        return 0;
    *dist = (unsigned)(pos - c3);
    return 3;
}

/* Inserts positions [lz->ins, to) that have 4 bytes before end. */
static void insert_upto(cz_lz *lz, size_t to, size_t end)
{
    size_t p = lz->ins, stop = end >= 4 ? end - 3 : 0;
    if (stop > to)
        stop = to;
    for (; p < stop; p++)
        insert_pos(lz, p);
    if (to > lz->ins)
        lz->ins = to;
}

static inline unsigned match_len(const uint8_t *a, const uint8_t *b,
                                 unsigned max)
{
    unsigned len = 0;
    while (len + 8 <= max) {
        uint64_t x = cz_load64(a + len) ^ cz_load64(b + len);
        if (x != 0) {
#if defined(__GNUC__)
            return len + ((unsigned)__builtin_ctzll(x) >> 3);
#else
            while ((x & 0xffu) == 0) {
                x >>= 8;
                len++;
            }
            return len;
#endif
        }
        len += 8;
    }
    while (len < max && a[len] == b[len])
        len++;
    return len;
}

/*
 * Walks the chain from cand looking for a match at pos longer than best.
 * Returns the best length found (best itself if none); *dist is set when a
 * longer match is found.
 */
static unsigned find_match(const cz_lz *lz, size_t pos, uint32_t cand,
                           size_t end, unsigned best, unsigned chain,
                           unsigned *dist)
{
    const uint8_t *win = lz->win, *cur = win + pos;
    size_t avail = end - pos;
    unsigned max_len = avail > CZ_MAX_MATCH ? CZ_MAX_MATCH : (unsigned)avail;
    unsigned nice = lz->nice < max_len ? lz->nice : max_len;
    size_t limit = pos > CZ_WSIZE ? pos - CZ_WSIZE : 0;
    unsigned qoff = best >= 3 ? best - 3 : 0;

    if (best >= max_len || max_len < FIND_MIN)
        return best;
    while (cand >= limit && cand < pos) {
        const uint8_t *m = win + cand;
        uint32_t next;
        if (cz_load32(m + qoff) == cz_load32(cur + qoff) &&
            cz_load32(m) == cz_load32(cur)) {
            unsigned len = match_len(m, cur, max_len);
            if (len > best) {
                best = len;
                *dist = (unsigned)(pos - cand);
                if (len >= nice)
                    break;
                qoff = best - 3;
            }
        }
        if (--chain == 0)
            break;
        next = lz->prev[cand & lz->pmask];
        if (next >= cand)
            break;
        cand = next;
    }
    return best;
}

static inline void put_lit(cz_lz *lz, unsigned c)
{
    assert(lz->nsyms < lz->sym_cap);
    lz->syms[lz->nsyms++] = c;
    lz->lfreq[c]++;
}

static inline void put_match(cz_lz *lz, unsigned len, unsigned dist)
{
    assert(lz->nsyms < lz->sym_cap);
    assert(len >= CZ_MIN_MATCH && len <= CZ_MAX_MATCH);
    lz->syms[lz->nsyms++] =
        CZ_SYM_MATCH | ((uint32_t)(dist - 1u) << 8) | (len - CZ_MIN_MATCH);
    lz->lfreq[257u + cz_len_code[len - CZ_MIN_MATCH]]++;
    lz->dfreq[cz_dist_to_code(dist)]++;
}

/* Search at pos (which must be the next position to insert). */
static inline unsigned search_at(cz_lz *lz, size_t pos, size_t end,
                                 unsigned best, unsigned chain,
                                 unsigned *dist)
{
    uint32_t cand;
    unsigned len;
    assert(lz->ins == pos);
    if (pos + 4 > end) {
        lz->ins = pos + 1;
        return best;
    }
    cand = insert_pos(lz, pos);
    lz->ins = pos + 1;
    len = find_match(lz, pos, cand, end, best, chain, dist);
    if (len < CZ_MIN_MATCH && lz->level >= 4)
        len = try_len3(lz, pos, dist) ? CZ_MIN_MATCH : len;
    return len;
}

static int greedy_run(cz_lz *lz, size_t limit, size_t end)
{
    size_t pos = lz->pos;
    while (pos < limit) {
        unsigned dist = 0, len;
        if (lz->nsyms >= lz->sym_cap) {
            lz->pos = pos;
            return 1;
        }
        if (lz->ins < pos)
            lz->ins = pos; /* positions skipped after a long match */
        len = search_at(lz, pos, end, FIND_MIN - 1, lz->max_chain, &dist);
        if (len < FIND_MIN) {
            put_lit(lz, lz->win[pos]);
            lz->ins = pos + 1;
            pos++;
            continue;
        }
        put_match(lz, len, dist);
        if (len <= lz->max_lazy)
            insert_upto(lz, pos + len, end);
        pos += len;
    }
    lz->pos = pos;
    return 0;
}

static int lazy_run(cz_lz *lz, size_t limit, size_t end)
{
    size_t pos = lz->pos;
    while (pos < limit) {
        unsigned dist = 0, len;
        if (lz->nsyms + 2 > lz->sym_cap) {
            lz->pos = pos;
            return 1;
        }
        len = search_at(lz, pos, end, CZ_MIN_MATCH - 1, lz->max_chain,
                        &dist);
        if (len < CZ_MIN_MATCH) {
            put_lit(lz, lz->win[pos]);
            lz->ins = pos + 1;
            pos++;
            continue;
        }
        while (len < lz->max_lazy && lz->nsyms + 2 <= lz->sym_cap) {
            unsigned dist1 = 0, chain = lz->max_chain, len1;
            if (len >= lz->good)
                chain = chain >> 2 ? chain >> 2 : 1;
            len1 = search_at(lz, pos + 1, end, len, chain, &dist1);
            if (len1 <= len)
                break;
            put_lit(lz, lz->win[pos]);
            pos++;
            len = len1;
            dist = dist1;
        }
        put_match(lz, len, dist);
        insert_upto(lz, pos + len, end);
        pos += len;
    }
    lz->pos = pos;
    return 0;
}

int cz_lz_run(cz_lz *lz, size_t limit, size_t end)
{
    assert(limit <= end);
    if (lz->pos >= limit)
        return 0;
    if (lz->level == 0) {
        lz->pos = limit;
        lz->ins = limit;
        return 0;
    }
    if (lz->level <= 3)
        return greedy_run(lz, limit, end);
    return lazy_run(lz, limit, end);
}

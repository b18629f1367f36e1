/*
 * inflate.c -- the DEFLATE block decoder (RFC 1951 sections 3.2.3 - 3.2.7).
 *
 * Design (in the spirit of libdeflate):
 *   - a 64-bit bit buffer, LSB first (section 3.1.1).  The fast path refills
 *     it branch-free with one unaligned 8-byte load; the slow path refills a
 *     byte at a time and, past the end of the input, shifts in virtual zero
 *     bytes while counting them ("over"), so no bit read is ever bounds
 *     checked.  After each decoded unit (block header, symbol) the slow path
 *     asks whether virtual bits were consumed: if so the input was
 *     truncated (final input) or the unit must be retried once more input
 *     arrives (streaming), from a checkpoint saved at the unit's start.
 *   - Huffman decoding (section 3.2.2) through a primary table indexed by the
 *     next 11 (literal/length) or 8 (distance) bits at most -- fewer when
 *     the code's longest codeword is shorter, so small blocks fill small
 *     tables -- plus subtables for longer codes.  Each 32-bit entry holds the decoded value (literal,
 *     length base or distance base), flags, the codeword length and the total
 *     number of bits including extra bits, so one shift consumes a codeword
 *     and its extra bits together.
 *   - a fast loop, used while at least 16 input bytes remain and each
 *     symbol's output (plus 16 bytes of copy overshoot) fits, that decodes
 *     up to three literals per refill and copies matches 8 or 16 bytes at a
 *     time; and a careful slow loop for buffer ends.
 *   - decode tables are built libdeflate-style (canonical codewords made
 *     directly as bit-reversed indices, the primary table widened by
 *     doubling copies), which matters for small inputs where building the
 *     tables costs as much as decoding.
 *   - code-length validation as zlib: over-subscribed codes are rejected;
 *     incomplete codes only when they are a single 1-bit code (or the empty
 *     distance code); the end-of-block code must be present.
 *
 * The decoder writes into out[], where out[0..out_pos) is the history that
 * distances may reach (the whole output for one-shot calls, a 32 KiB window
 * for streaming).  It stops only at unit boundaries, so resuming needs just
 * the mode, the current tables and the bit offset into the next byte.
 *
 * Call chain: cz_inflate (oneshot.c) / cz_inflater_write (stream.c)
 *   -> cz_icore_run -> read_block_header -> read_dynamic -> build_table
 *                   -> huff_block (fast loop, slow loop) / copy_stored
 */
#include <threads.h>

#include "cz_internal.h"

enum { M_HEADER = 0, M_STORED = 1, M_HUFF = 2, M_DONE = 3 };

/* decode table entry: value << 16 | flags | codeword bits << 8 | total */
#define E_LITERAL 0x1000u
#define E_SUBTABLE 0x2000u
#define E_EOB 0x4000u
#define E_INVALID 0x8000u
#define E_TOTAL(e) ((e) & 0xffu)
#define E_CW(e) (((e) >> 8) & 0xfu)
#define E_VAL(e) ((e) >> 16)

#define BITMASK(n) ((((uint64_t)1) << (n)) - 1u)
#define CL_TABLEBITS 7u

#define FAST_IN_MARGIN 16
#define FAST_OUT_MARGIN 8      /* >= the 3 literals of one iteration */
#define FAST_COPY_SLACK 16u    /* copy_match_fast writes < 16 bytes past */

static const uint8_t clen_order[CZ_NUM_CODELEN] = {
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

/* ------------------------------------------------------------------ */
/* bit reader                                                          */

typedef struct br {
    uint64_t bb;          /* bits, LSB = next; bits above bl are the next
                             input bytes or zero, never anything else */
    unsigned bl;          /* valid bits in bb, always < 64 */
    const uint8_t *ip;    /* next byte to load */
    const uint8_t *iend;
    const uint8_t *istart;
    size_t over;          /* virtual zero bytes loaded past iend */
} br;

static void br_init(br *b, const uint8_t *in, size_t len)
{
    b->bb = 0;
    b->bl = 0;
    b->ip = in;
    b->iend = in + len;
    b->istart = in;
    b->over = 0;
}

static inline void br_refill(br *b)
{
    if (b->iend - b->ip >= 8) { /* whole bytes up to 56..63 bits at once */
        b->bb |= cz_load64(b->ip) << b->bl;
        b->ip += (63u - b->bl) >> 3;
        b->bl |= 56u;
        return;
    }
    while (b->bl < 56) {
        uint64_t v = 0;
        if (b->ip < b->iend)
            v = *b->ip++;
        else
            b->over++;
        b->bb |= v << b->bl;
        b->bl += 8;
    }
}

static inline void br_drop(br *b, unsigned n)
{
    assert(n <= b->bl);
    b->bb >>= n;
    b->bl -= n;
}

static inline uint32_t br_bits(br *b, unsigned n)
{
    uint32_t v;
    assert(n <= 32);
    if (b->bl < n)
        br_refill(b);
    v = (uint32_t)(b->bb & BITMASK(n));
    br_drop(b, n);
    return v;
}

/* Have bits beyond the real input been consumed? */
static inline int br_overrun(const br *b)
{
    return (uint64_t)b->over * 8u > b->bl;
}

/* Absolute bit position of the next unread bit. */
static inline uint64_t br_pos(const br *b)
{
    return (uint64_t)(size_t)(b->ip - b->istart + (ptrdiff_t)b->over) * 8u -
           b->bl;
}

/* Consume a table entry's bits; returns value + extra bits. */
static inline unsigned br_take(br *b, uint32_t e)
{
    uint64_t saved = b->bb;
    unsigned t = E_TOTAL(e);
    br_drop(b, t);
    return E_VAL(e) + (unsigned)((saved & BITMASK(t)) >> E_CW(e));
}

static inline uint32_t br_lookup(br *b, const uint32_t *table,
                                 unsigned tbits)
{
    uint32_t e;
    br_refill(b);
    e = table[b->bb & BITMASK(tbits)];
    if (e & E_SUBTABLE) { /* its total is the primary width, tbits */
        br_drop(b, E_TOTAL(e));
        e = table[E_VAL(e) + (b->bb & BITMASK(E_CW(e)))];
    }
    return e;
}

/* Return whole bytes held in the bit buffer to the input (byte aligned). */
static void br_unread(br *b)
{
    size_t held = b->bl / 8u;
    assert((b->bl & 7u) == 0 && held >= b->over);
    b->ip -= held - b->over;
    b->over = 0;
    b->bb = 0;
    b->bl = 0;
}

/* ------------------------------------------------------------------ */
/* decode table construction                                           */

/* Index of the highest set bit of v (v != 0). */
static inline unsigned bsr32(uint32_t v)
{
    assert(v != 0);
#if defined(__GNUC__)
    return 31u - (unsigned)__builtin_clz(v);
#else
    unsigned r = 0;
    while (v >>= 1)
        r++;
    return r;
#endif
}

/* The next codeword of the same length in canonical order, for codewords
 * held bit-reversed (as table indices): set the highest clear bit of the
 * len-bit value, clear the bits above it. */
static inline unsigned next_reversed(unsigned cw, unsigned len)
{
    unsigned bit = 1u << bsr32(cw ^ ((1u << len) - 1u));
    return (cw & (bit - 1u)) | bit;
}

/* Kraft check: 0 complete, > 0 incomplete, error if over-subscribed. */
static int check_kraft(const unsigned *count, unsigned *maxlen, int *left)
{
    unsigned len;
    int l = 1;
    *maxlen = 0;
    for (len = 1; len <= CZ_MAX_CODELEN; len++) {
        l = l * 2 - (int)count[len];
        if (l < 0)
            return CZ_ERR_OVERSUBSCRIBED;
        if (count[len])
            *maxlen = len;
    }
    *left = l;
    return CZ_OK;
}

static void fill(uint32_t *t, unsigned start, unsigned size, unsigned step,
                 uint32_t e)
{
    unsigned i;
    for (i = start; i < size; i += step)
        t[i] = e;
}

/* Doubles the filled part of the primary table from 1 << from to
 * 1 << to entries: codewords shorter than the index width repeat. */
static void grow_table(uint32_t *table, unsigned from, unsigned to)
{
    for (; from < to; from++)
        memcpy(table + (1u << from), table, sizeof *table << from);
}

/* Fills the subtables for the codewords of length > tbits, starting at
 * codeword cw (bit-reversed) of length len with cnt codes of that length
 * left; sorted[] continues with their symbols.  The code is complete. */
static int build_subtables(uint32_t *table, unsigned tbits, unsigned cap,
                           const unsigned *count, const uint16_t *sorted,
                           const uint32_t *tmpl, unsigned cw, unsigned len,
                           unsigned cnt)
{
    unsigned next_free = 1u << tbits, prefix = ~0u, sub_start = 0;
    unsigned tmask = (1u << tbits) - 1u;
    for (;;) {
        unsigned sl = len - tbits, i;
        uint32_t e;
        if ((cw & tmask) != prefix) {
            /* a new subtable, as large as the codes under this prefix
             * need (zlib's method): grow while the codespace is not full */
            unsigned sub_bits = sl, used = cnt;
            while (used < (1u << sub_bits)) {
                sub_bits++;
                used = (used << 1) + count[tbits + sub_bits];
            }
            prefix = cw & tmask;
            sub_start = next_free;
            next_free += 1u << sub_bits;
            if (next_free > cap)
                return CZ_ERR_OVERSUBSCRIBED; /* cannot happen */
            table[prefix] = ((uint32_t)sub_start << 16) | E_SUBTABLE |
                            (sub_bits << 8) | tbits;
        }
        e = tmpl[*sorted++] + (sl << 8) + sl;
        for (i = sub_start + (cw >> tbits); i < next_free; i += 1u << sl)
            table[i] = e;
        if (cw == (1u << len) - 1u)
            return CZ_OK; /* the all-ones codeword is the last */
        cw = next_reversed(cw, len);
        for (cnt--; cnt == 0; cnt = count[++len])
            ;
    }
}

/*
 * Complete code: codewords are generated in canonical order directly as
 * bit-reversed table indices (libdeflate's method).  Each length's entries
 * are written once into a table as wide as that length, which is then
 * doubled by copying before the next length, so the primary table costs
 * one memcpy per length instead of a strided fill per symbol.
 */
static int build_complete(uint32_t *table, unsigned tbits, unsigned cap,
                          const unsigned *count, const uint16_t *sorted,
                          const uint32_t *tmpl)
{
    unsigned len = 1, cw = 0, cnt;
    while ((cnt = count[len]) == 0)
        len++;
    if (len > tbits)
        return build_subtables(table, tbits, cap, count, sorted, tmpl, 0,
                               len, cnt);
    for (;;) {
        do {
            table[cw] = tmpl[*sorted++] + (len << 8) + len;
            if (cw == (1u << len) - 1u) {
                grow_table(table, len, tbits);
                return CZ_OK;
            }
            cw = next_reversed(cw, len);
        } while (--cnt);
        do {
            len++;
            if (len <= tbits)
                grow_table(table, len - 1u, len);
        } while ((cnt = count[len]) == 0);
        if (len > tbits)
            return build_subtables(table, tbits, cap, count, sorted, tmpl,
                                   cw, len, cnt);
    }
}

/* count[len] = number of lens[0..n) equal to len (count[0] = 0); four
 * histograms so runs of equal lengths do not serialise on one counter. */
static void count_lengths(const uint8_t *lens, unsigned n, unsigned *count)
{
    unsigned h[4][16] = {{0}}, i;
    for (i = 0; i + 4 <= n; i += 4) {
        h[0][lens[i]]++;
        h[1][lens[i + 1]]++;
        h[2][lens[i + 2]]++;
        h[3][lens[i + 3]]++;
    }
    for (; i < n; i++)
        h[0][lens[i]]++;
    for (i = 0; i < 16; i++)
        count[i] = h[0][i] + h[1][i] + h[2][i] + h[3][i];
    count[0] = 0;
}

/*
 * Builds the decode table for code lengths lens[0..n) (each <= 15).  tmpl[s]
 * is symbol s's entry less its codeword length fields.  *tbits is the widest
 * primary table allowed on entry and the width used on return: that of the
 * longest codeword when it is shorter, since a narrower table is cheaper to
 * fill and decodes the same.  Invalid entries (unused codes) are only
 * possible for the permitted incomplete codes: an empty code or a single
 * 1-bit codeword (zlib's rule); their tables keep the full width, so an
 * invalid symbol consumes the same bits as it always did.
 */
static int build_table(uint32_t *table, unsigned *tbits, unsigned cap,
                       const uint8_t *lens, unsigned n, const uint32_t *tmpl,
                       int incomplete_ok)
{
    unsigned count[16] = {0}, offs[16];
    uint16_t sorted[CZ_NUM_LITLEN];
    unsigned i, len, maxlen, tb = *tbits;
    int left, r;

    assert(n <= CZ_NUM_LITLEN && cap >= (1u << tb));
    count_lengths(lens, n, count);
    r = check_kraft(count, &maxlen, &left);
    if (r != CZ_OK)
        return r;
    offs[1] = 0;
    for (len = 1; len < CZ_MAX_CODELEN; len++)
        offs[len + 1] = offs[len] + count[len];
    for (i = 0; i < n;) { /* runs of equal lengths keep offs[] in a register */
        unsigned v = lens[i], o = v ? offs[v] : 0;
        for (; i < n && lens[i] == v; i++)
            if (v)
                sorted[o++] = (uint16_t)i;
        if (v)
            offs[v] = o;
    }
    if (left == 0) {
        if (maxlen < tb)
            *tbits = tb = maxlen;
        return build_complete(table, tb, cap, count, sorted, tmpl);
    }
    if (!incomplete_ok || maxlen > 1)
        return CZ_ERR_INCOMPLETE;
    fill(table, 0, 1u << tb, 1, E_INVALID | tb);
    if (count[1]) /* the single codeword 0 */
        fill(table, 0, 1u << tb, 2, tmpl[sorted[0]] + (1u << 8) + 1u);
    return CZ_OK;
}

/* Per-symbol entries less the codeword length fields (build_table's tmpl)
 * and the fixed code's tables (section 3.2.6) are the same for every stream:
 * built once per process (C11 call_once) and shared read-only, so neither a
 * dynamic block nor a small fixed-code stream pays for them. */
static uint32_t litlen_tmpl[CZ_NUM_LITLEN];
static uint32_t dist_tmpl[CZ_NUM_DIST];
static uint32_t fixed_litlen[CZ_LITLEN_ENOUGH];
static uint32_t fixed_dist[CZ_DIST_ENOUGH];
static unsigned fixed_lbits = CZ_LITLEN_TABLEBITS;
static unsigned fixed_dbits = CZ_DIST_TABLEBITS;
static once_flag shared_once = ONCE_FLAG_INIT;

static void make_templates(void)
{
    unsigned s;
    for (s = 0; s < 256; s++)
        litlen_tmpl[s] = (s << 16) | E_LITERAL;
    litlen_tmpl[CZ_END_BLOCK] = E_EOB;
    for (s = 0; s < 29; s++)
        litlen_tmpl[257 + s] =
            ((uint32_t)cz_len_base[s] << 16) | cz_len_extra[s];
    litlen_tmpl[286] = litlen_tmpl[287] = E_INVALID;
    for (s = 0; s < 30; s++)
        dist_tmpl[s] = ((uint32_t)cz_dist_base[s] << 16) | cz_dist_extra[s];
    dist_tmpl[30] = dist_tmpl[31] = E_INVALID;
}

static void build_shared_once(void)
{
    uint8_t lens[CZ_NUM_LITLEN + CZ_NUM_DIST];
    int r;
    make_templates();
    memset(lens, 8, 144);
    memset(lens + 144, 9, 112);
    memset(lens + 256, 7, 24);
    memset(lens + 280, 8, 8);
    memset(lens + CZ_NUM_LITLEN, 5, CZ_NUM_DIST);
    r = build_table(fixed_litlen, &fixed_lbits, CZ_LITLEN_ENOUGH, lens,
                    CZ_NUM_LITLEN, litlen_tmpl, 1);
    assert(r == CZ_OK && fixed_lbits == 9u);
    r = build_table(fixed_dist, &fixed_dbits, CZ_DIST_ENOUGH,
                    lens + CZ_NUM_LITLEN, CZ_NUM_DIST, dist_tmpl, 1);
    assert(r == CZ_OK && fixed_dbits == 5u);
    (void)r;
}

static void use_fixed(cz_icore *c)
{
    call_once(&shared_once, build_shared_once);
    c->lt = fixed_litlen;
    c->dt = fixed_dist;
    c->lbits = fixed_lbits;
    c->dbits = fixed_dbits;
}

static int build_main_tables(cz_icore *c, const uint8_t *lens, unsigned nlit,
                             unsigned ndist)
{
    int r;
    call_once(&shared_once, build_shared_once);
    c->lt = c->litlen;
    c->dt = c->dist;
    c->lbits = CZ_LITLEN_TABLEBITS;
    c->dbits = CZ_DIST_TABLEBITS;
    r = build_table(c->litlen, &c->lbits, CZ_LITLEN_ENOUGH, lens, nlit,
                    litlen_tmpl, 1);
    if (r != CZ_OK)
        return r;
    return build_table(c->dist, &c->dbits, CZ_DIST_ENOUGH, lens + nlit,
                       ndist, dist_tmpl, 1);
}

/* ------------------------------------------------------------------ */
/* block headers (section 3.2.3, 3.2.4, 3.2.7)                        */

/* Code-length code entries: symbols 0-15 are lengths; the repeat symbols
 * 16-18 (section 3.2.7) carry their base count as the value and their extra
 * bits in the total, so one br_take reads symbol and count together, and a
 * flag saying what they repeat (the E_* flags of the main tables are free
 * here: this table has no subtables, literals or end of block). */
#define CL_PREV E_LITERAL   /* 16: copy the previous length 3-6 times */
#define CL_ZERO E_EOB       /* 17, 18: zero 3-10 / 11-138 times */
#define CL_REPEAT (CL_PREV | CL_ZERO)
#define LENS_SLACK 16u      /* read_lengths stores runs 16 bytes at a time */

static int read_codelen_code(br *b, uint32_t *clt, unsigned *clbits)
{
    static const uint32_t tmpl[CZ_NUM_CODELEN] = {
        0u << 16,  1u << 16,  2u << 16,  3u << 16,  4u << 16,
        5u << 16,  6u << 16,  7u << 16,  8u << 16,  9u << 16,
        10u << 16, 11u << 16, 12u << 16, 13u << 16, 14u << 16,
        15u << 16, (3u << 16) | CL_PREV | 2u, (3u << 16) | CL_ZERO | 3u,
        (11u << 16) | CL_ZERO | 7u};
    uint8_t cl[CZ_NUM_CODELEN] = {0};
    unsigned i, hclen = br_bits(b, 4) + 4u;
    for (i = 0; i < hclen; i++)
        cl[clen_order[i]] = (uint8_t)br_bits(b, 3);
    *clbits = CL_TABLEBITS;
    return build_table(clt, clbits, 1u << CL_TABLEBITS, cl, CZ_NUM_CODELEN,
                       tmpl, 0);
}

/* Decodes the run-length coded literal/length + distance code lengths into
 * lens[0..total), which has LENS_SLACK bytes of room past total.  Works on
 * a local copy of the bit reader: stores into lens (bytes, which may alias
 * anything) would otherwise force it back to memory at every symbol. */
static int read_lengths(br *b, const uint32_t *clt, unsigned clbits,
                        uint8_t *lens, unsigned total)
{
    br lb = *b;
    unsigned i = 0;
    int r = CZ_OK;
    while (i < total) {
        uint32_t e = br_lookup(&lb, clt, clbits);
        unsigned rep, k;
        uint8_t v = 0;
        if (!(e & CL_REPEAT)) {
            br_drop(&lb, E_TOTAL(e));
            lens[i++] = (uint8_t)E_VAL(e);
            continue;
        }
        if ((e & CL_PREV) && i == 0) {
            br_drop(&lb, E_CW(e)); /* the error is before the extra bits */
            r = CZ_ERR_BAD_CODE_LENGTHS;
            break;
        }
        if (e & CL_PREV)
            v = lens[i - 1];
        rep = br_take(&lb, e);
        if (rep > total - i) {
            r = CZ_ERR_BAD_CODE_LENGTHS;
            break;
        }
        for (k = 0; k < rep; k += 16) /* may overshoot into the slack */
            memset(lens + i + k, v, 16);
        i += rep;
    }
    *b = lb;
    return r;
}

static int read_dynamic(cz_icore *c, br *b)
{
    uint32_t clt[1u << CL_TABLEBITS];
    uint8_t lens[CZ_NUM_LITLEN + CZ_NUM_DIST + LENS_SLACK];
    unsigned nlit, ndist, clbits;
    int r;
    br_refill(b);
    nlit = br_bits(b, 5) + 257u;
    ndist = br_bits(b, 5) + 1u;
    if (nlit > 286 || ndist > 30)
        return CZ_ERR_TOO_MANY_CODES;
    r = read_codelen_code(b, clt, &clbits);
    if (r != CZ_OK)
        return r;
    r = read_lengths(b, clt, clbits, lens, nlit + ndist);
    if (r != CZ_OK)
        return r;
    if (lens[CZ_END_BLOCK] == 0)
        return CZ_ERR_MISSING_EOB;
    return build_main_tables(c, lens, nlit, ndist);
}

static int read_stored_header(cz_icore *c, br *b)
{
    uint32_t len, nlen;
    br_drop(b, b->bl & 7u); /* to a byte boundary */
    len = br_bits(b, 16);
    nlen = br_bits(b, 16);
    if (len != (~nlen & 0xffffu))
        return CZ_ERR_BAD_STORED_LEN;
    c->stored_left = len;
    return CZ_OK;
}

static int read_block_header(cz_icore *c, br *b)
{
    unsigned h = br_bits(b, 3);
    int r = CZ_OK;
    c->final_block = (int)(h & 1u);
    switch (h >> 1) {
    case 0:
        r = read_stored_header(c, b);
        c->mode = M_STORED;
        break;
    case 1:
        use_fixed(c);
        c->mode = M_HUFF;
        break;
    case 2:
        r = read_dynamic(c, b);
        c->mode = M_HUFF;
        break;
    default:
        r = CZ_ERR_BAD_BLOCK_TYPE;
        break;
    }
    return r;
}

/* ------------------------------------------------------------------ */
/* Huffman-coded block data                                            */

/* Match copy with room for 8 bytes of overshoot past op + len. */
static inline void copy_match_fast(uint8_t *op, unsigned dist, unsigned len)
{
    const uint8_t *src = op - dist;
    uint8_t *end = op + len;
    if (dist >= 8) {
        cz_store64(op, cz_load64(src));
        cz_store64(op + 8, cz_load64(src + 8));
        op += 16;
        src += 16;
        while (op < end) {
            cz_store64(op, cz_load64(src));
            cz_store64(op + 8, cz_load64(src + 8));
            op += 16;
            src += 16;
        }
    } else if (dist == 1) {
        uint64_t v = 0x0101010101010101ull * src[0];
        do {
            cz_store64(op, v);
            op += 8;
        } while (op < end);
    } else {
        /* step by whole periods of the pattern */
        uint64_t v;
        do {
            memcpy(&v, src, 8);
            memcpy(op, &v, 8);
            op += dist;
        } while (op < end);
    }
}

static void copy_match_slow(uint8_t *op, unsigned dist, unsigned len)
{
    const uint8_t *src = op - dist;
    while (len--)
        *op++ = *src++;
}

/*
 * Fast loop: requires FAST_IN_MARGIN input and FAST_OUT_MARGIN output bytes
 * at the top of every iteration, so neither bounds nor overrun checks are
 * needed for literals; a match is taken only if its length plus the copy's
 * overshoot fits the output, else the symbol is undone (no input was loaded
 * since its start) and the slow loop finishes the last few bytes.  Returns CZ_OK when it must hand over to the slow loop,
 * CZ_STREAM_END at the end of block, or an error.
 */
static int huff_fast(const cz_icore *c, br *b, uint8_t **opp,
                     const uint8_t *ostart, const uint8_t *oend)
{
    const uint32_t *lt = c->lt, *dt = c->dt;
    const uint64_t lmask = BITMASK(c->lbits), dmask = BITMASK(c->dbits);
    uint8_t *op = *opp;
    uint64_t bb = b->bb, saved, sym_bb;
    unsigned bl = b->bl, len, dist, t, sym_bl;
    const uint8_t *ip = b->ip, *iend = b->iend;
    uint32_t e;
    int ret = CZ_OK;

    if (b->over != 0)
        return CZ_OK;
#define CONSUME(n) (bb >>= (n), bl -= (n))
#define REFILL_FAST()                                                        \
    (bb |= cz_load64(ip) << bl, ip += (63u - bl) >> 3, bl |= 56u)
    while (iend - ip >= FAST_IN_MARGIN && oend - op >= FAST_OUT_MARGIN) {
        REFILL_FAST();
        e = lt[bb & lmask];
        if (e & E_LITERAL) {
            CONSUME(E_TOTAL(e));
            *op++ = (uint8_t)E_VAL(e);
            e = lt[bb & lmask];
            if (e & E_LITERAL) {
                CONSUME(E_TOTAL(e));
                *op++ = (uint8_t)E_VAL(e);
                e = lt[bb & lmask];
                if (e & E_LITERAL) {
                    CONSUME(E_TOTAL(e));
                    *op++ = (uint8_t)E_VAL(e);
                    continue;
                }
            }
        }
        sym_bb = bb; /* the symbol's start, to hand it to the slow loop */
        sym_bl = bl;
        if (e & E_SUBTABLE) { /* its total is the primary width */
            CONSUME(E_TOTAL(e));
            e = lt[E_VAL(e) + (bb & BITMASK(E_CW(e)))];
            if (e & E_LITERAL) {
                CONSUME(E_TOTAL(e));
                *op++ = (uint8_t)E_VAL(e);
                continue;
            }
        }
        if (e & (E_EOB | E_INVALID)) {
            CONSUME(E_TOTAL(e));
            ret = (e & E_EOB) ? CZ_STREAM_END : CZ_ERR_INVALID_LITLEN;
            break;
        }
        saved = bb;
        t = E_TOTAL(e);
        len = E_VAL(e) + (unsigned)((saved & BITMASK(t)) >> E_CW(e));
        if ((size_t)(oend - op) < len + FAST_COPY_SLACK) {
            bb = sym_bb; /* no room for a fast copy: undo, go slow */
            bl = sym_bl;
            break;
        }
        CONSUME(t);
        if (bl < 28u)
            REFILL_FAST();
        e = dt[bb & dmask];
        if (e & E_SUBTABLE) {
            CONSUME(E_TOTAL(e));
            e = dt[E_VAL(e) + (bb & BITMASK(E_CW(e)))];
        }
        saved = bb;
        t = E_TOTAL(e);
        CONSUME(t);
        if (e & E_INVALID) {
            ret = CZ_ERR_INVALID_DIST;
            break;
        }
        dist = E_VAL(e) + (unsigned)((saved & BITMASK(t)) >> E_CW(e));
        if (dist > (size_t)(op - ostart)) {
            ret = CZ_ERR_DIST_TOO_FAR;
            break;
        }
        copy_match_fast(op, dist, len);
        op += len;
    }
#undef CONSUME
#undef REFILL_FAST
    b->bb = bb;
    b->bl = bl;
    b->ip = ip;
    *opp = op;
    return ret;
}

/* Decides between "need more input"/"truncated" and a real error. */
static int slow_fail(br *b, const br *cp, int err, int final_input)
{
    if (!br_overrun(b))
        return err;
    if (final_input)
        return CZ_ERR_TRUNCATED;
    *b = *cp;
    return CZ_NEED_INPUT;
}

/* One symbol with full checks.  Returns CZ_OK to continue, CZ_STREAM_END at
 * end of block, CZ_BUF_ERROR / CZ_NEED_INPUT (state rolled back) or an
 * error. */
static int huff_slow_symbol(const cz_icore *c, br *b, uint8_t **opp,
                            const uint8_t *ostart, const uint8_t *oend,
                            int final_input)
{
    br cp = *b;
    uint8_t *op = *opp;
    uint32_t e = br_lookup(b, c->lt, c->lbits);
    unsigned len, dist;
    if (e & (E_EOB | E_INVALID)) {
        br_drop(b, E_TOTAL(e));
        if (br_overrun(b))
            return slow_fail(b, &cp, 0, final_input);
        return (e & E_EOB) ? CZ_STREAM_END : CZ_ERR_INVALID_LITLEN;
    }
    len = br_take(b, e);
    if (e & E_LITERAL) {
        if (br_overrun(b))
            return slow_fail(b, &cp, 0, final_input);
        if (op == oend) {
            *b = cp;
            return CZ_BUF_ERROR;
        }
        *op++ = (uint8_t)len;
        *opp = op;
        return CZ_OK;
    }
    e = br_lookup(b, c->dt, c->dbits);
    dist = br_take(b, e);
    if (br_overrun(b))
        return slow_fail(b, &cp, 0, final_input);
    if (e & E_INVALID)
        return CZ_ERR_INVALID_DIST;
    if (dist > (size_t)(op - ostart))
        return CZ_ERR_DIST_TOO_FAR;
    if (len > (size_t)(oend - op)) {
        *b = cp;
        return CZ_BUF_ERROR;
    }
    copy_match_slow(op, dist, len);
    *opp = op + len;
    return CZ_OK;
}

static int huff_block(cz_icore *c, br *b, uint8_t **opp, const uint8_t *ostart,
                      const uint8_t *oend, int final_input)
{
    int r = huff_fast(c, b, opp, ostart, oend);
    while (r == CZ_OK)
        r = huff_slow_symbol(c, b, opp, ostart, oend, final_input);
    if (r == CZ_STREAM_END) {
        c->mode = c->final_block ? M_DONE : M_HEADER;
        return CZ_OK;
    }
    return r;
}

/* ------------------------------------------------------------------ */
/* stored block data (section 3.2.4)                                   */

static int copy_stored(cz_icore *c, br *b, uint8_t **opp, const uint8_t *oend,
                       int final_input)
{
    size_t n = c->stored_left;
    size_t in_avail = (size_t)(b->iend - b->ip);
    size_t out_avail = (size_t)(oend - *opp);
    assert(b->bl == 0 && b->over == 0);
    if (n > in_avail)
        n = in_avail;
    if (n > out_avail)
        n = out_avail;
    memcpy(*opp, b->ip, n);
    *opp += n;
    b->ip += n;
    c->stored_left -= (uint32_t)n;
    if (c->stored_left == 0) {
        c->mode = c->final_block ? M_DONE : M_HEADER;
        return CZ_OK;
    }
    if (*opp == oend)
        return CZ_BUF_ERROR;
    return final_input ? CZ_ERR_TRUNCATED : CZ_NEED_INPUT;
}

/* ------------------------------------------------------------------ */
/* driver                                                              */

void cz_icore_init(cz_icore *c)
{
    c->mode = M_HEADER;
    c->final_block = 0;
    c->lt = c->litlen;
    c->dt = c->dist;
    c->lbits = CZ_LITLEN_TABLEBITS;
    c->dbits = CZ_DIST_TABLEBITS;
    c->bitoff = 0;
    c->stored_left = 0;
}

static int header_step(cz_icore *c, br *b, int final_input)
{
    br cp = *b;
    int r = read_block_header(c, b);
    if (br_overrun(b)) {
        c->mode = M_HEADER; /* the header is read again, tables rebuilt */
        return slow_fail(b, &cp, r, final_input);
    }
    if (r == CZ_OK && c->mode == M_STORED)
        br_unread(b);
    if (r != CZ_OK)
        c->mode = M_HEADER;
    return r;
}

static void finish_io(cz_icore *c, cz_iio *io, const br *b, int r)
{
    uint64_t pos = br_pos(b);
    if (r == CZ_STREAM_END) {
        io->in_used = (size_t)((pos + 7u) / 8u);
        c->bitoff = 0;
    } else if (r >= 0) {
        io->in_used = (size_t)(pos / 8u);
        c->bitoff = (unsigned)(pos % 8u);
    } else {
        io->in_used = (size_t)(pos / 8u);
        io->err_pos = pos > 0 ? (size_t)((pos - 1u) / 8u) : 0;
        if (r == CZ_ERR_TRUNCATED || io->err_pos > io->in_len)
            io->err_pos = io->in_len;
    }
    if (io->in_used > io->in_len)
        io->in_used = io->in_len;
}

int cz_icore_run(cz_icore *c, cz_iio *io)
{
    br b;
    uint8_t *op = io->out + io->out_pos;
    const uint8_t *ostart = io->out, *oend = io->out + io->out_cap;
    int r = CZ_OK;

    assert(io->out_pos <= io->out_cap);
    br_init(&b, io->in, io->in_len);
    if (c->bitoff) {
        br_refill(&b);
        br_drop(&b, c->bitoff);
    }
    while (r == CZ_OK) {
        switch (c->mode) {
        case M_HEADER:
            r = header_step(c, &b, io->final_input);
            break;
        case M_STORED:
            r = copy_stored(c, &b, &op, oend, io->final_input);
            break;
        case M_HUFF:
            r = huff_block(c, &b, &op, ostart, oend, io->final_input);
            break;
        default:
            r = CZ_STREAM_END;
            break;
        }
    }
    io->out_pos = (size_t)(op - ostart);
    finish_io(c, io, &b, r);
    return r;
}

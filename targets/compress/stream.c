/*
 * stream.c -- the streaming API: cz_deflater_* and cz_inflater_*.
 *
 * Deflater.  Input is copied into a 256 KiB window buffer; the matcher
 * (lz77.c) runs over it but, until the caller flushes, stops 262 bytes short
 * of the data end so that every match search sees a full 258-byte
 * lookahead.  Blocks are encoded (deflate.c) into a pending buffer that is
 * large enough for any block, then copied out as the caller's output buffer
 * allows; no new block is started while pending output remains.  When the
 * window is full, the current block is ended and the window slides down,
 * keeping 32 KiB of history (RFC 1951 section 2: distances reach 32 KiB
 * back).  CZ_SYNC_FLUSH ends the block and appends an empty stored block
 * (byte alignment marker 00 00 FF FF, as zlib's Z_SYNC_FLUSH); CZ_FINISH
 * writes the final block and the container trailer (framing.c).  A
 * test-only build (-DCZ_TEST_SLOWDOWN_PPM, slowdown.c) adds a busy loop
 * costing a set fraction of the work on each chunk of input taken.
 *   Returns: CZ_OK when all input was consumed (and, for a flush, all its
 *   output delivered); CZ_BUF_ERROR when the output buffer filled first
 *   (call again with the unconsumed input and more room); CZ_STREAM_END when
 *   a CZ_FINISH completed and everything was delivered.
 *
 * Inflater.  Decodes with the block decoder (inflate.c) into a 128 KiB
 * window whose last 32 KiB are kept as history when it slides; decoded bytes
 * are copied to the caller (and checksummed) as room allows.  The block
 * decoder stops only at unit boundaries (a block header or one symbol, at
 * most about 290 bytes of input), so when the input runs out mid-unit the
 * unfinished tail is kept in a small carry buffer and decoding resumes from
 * it, with the next input appended, on the next call.  Container headers and
 * trailers are parsed byte by byte (framing.c), so they may be split
 * anywhere.
 *   Returns: CZ_OK for progress (call again while output filled the buffer
 *   or input remains), CZ_STREAM_END once the trailer was verified and all
 *   output delivered (*consumed then ends at the stream end; the remaining
 *   input is trailing data), or a negative error, after which the object
 *   only repeats that error; cz_inflater_error_pos() gives the absolute
 *   input offset of the malformation.
 *
 * Call chain: codec.py Compressor/Decompressor -> cz_deflater_write ->
 * cz_lz_run, cz_emit_block, cz_trailer_write;  cz_inflater_write ->
 * cz_hdr_feed, body_direct / body_carry -> cz_icore_run, cz_trailer_check.
 */
#include <stdlib.h>

#include "cz_internal.h"

#define DWIN_SIZE (256u * 1024u)
#define DLOOKAHEAD (CZ_MAX_MATCH + 4u)
#define IWIN_SIZE (128u * 1024u)
#define CARRY_CAP 1024u

enum { DS_HEADER = 0, DS_RUN, DS_FINISHED };
enum { IS_HEADER = 0, IS_BODY, IS_TRAILER, IS_DONE, IS_ERROR };

struct cz_deflater {
    int level, format, state, dirty;
    uint32_t check;
    uint64_t total_in;
    cz_lz lz;
    uint8_t *win;
    size_t wend, block_start;
    uint8_t *pend;
    size_t pend_cap, pend_rd;
    cz_bitw bw;
};

struct cz_inflater {
    int format, state, err;
    size_t err_pos;
    size_t total_in;       /* input bytes consumed (reported) so far */
    uint64_t total_out;
    uint32_t check;
    cz_hdr hdr;
    uint8_t *win;
    size_t wr, rd;         /* decoded up to wr, delivered up to rd */
    size_t carry_len;
    uint8_t carry[CARRY_CAP];
    uint8_t trailer[8];
    size_t ntrail;
    cz_icore core;
};

/* ================================================================== */
/* deflater                                                            */

cz_deflater *cz_deflater_new(int level, int format)
{
    cz_deflater *d;
    if (level < 0 || level > 9 || !cz_valid_format(format))
        return NULL;
    d = calloc(1, sizeof *d);
    if (d == NULL)
        return NULL;
    d->level = level;
    d->format = format;
    d->check = cz_check_init(format);
    if (cz_lz_init(&d->lz, level, 0) != CZ_OK) {
        free(d);
        return NULL;
    }
    d->win = malloc(DWIN_SIZE);
    d->pend_cap = DWIN_SIZE + 8u * d->lz.sym_cap + 4096u;
    d->pend = malloc(d->pend_cap);
    if (d->win == NULL || d->pend == NULL) {
        cz_deflater_free(d);
        return NULL;
    }
    d->lz.win = d->win;
    cz_bw_init(&d->bw, d->pend, d->pend_cap);
    return d;
}

void cz_deflater_free(cz_deflater *d)
{
    if (d == NULL)
        return;
    cz_lz_free(&d->lz);
    free(d->win);
    free(d->pend);
    free(d);
}

static size_t d_drain(cz_deflater *d, uint8_t *out, size_t cap)
{
    size_t have = (size_t)(d->bw.p - d->pend) - d->pend_rd;
    size_t n = have < cap ? have : cap;
    if (n)
        memcpy(out, d->pend + d->pend_rd, n);
    d->pend_rd += n;
    if (d->pend_rd == (size_t)(d->bw.p - d->pend)) {
        d->bw.p = d->pend; /* partial bits stay in bw.bb */
        d->pend_rd = 0;
    }
    return n;
}

static int d_block_empty(const cz_deflater *d)
{
    return d->lz.nsyms == 0 && d->lz.pos == d->block_start;
}

static void d_emit(cz_deflater *d, int final)
{
    assert(d->bw.p == d->pend);
    cz_emit_block(&d->bw, &d->lz, d->win + d->block_start,
                  d->lz.pos - d->block_start, final);
    assert(!d->bw.overflow);
    d->block_start = d->lz.pos;
    cz_lz_reset_block(&d->lz);
}

static void d_slide(cz_deflater *d)
{
    size_t shift = d->lz.pos > CZ_WSIZE ? d->lz.pos - CZ_WSIZE : 0;
    assert(shift > 0 && d->block_start >= shift);
    memmove(d->win, d->win + shift, d->wend - shift);
    d->wend -= shift;
    d->block_start -= shift;
    cz_lz_slide(&d->lz, shift);
}

static void d_take_input(cz_deflater *d, const uint8_t *in, size_t n)
{
    memcpy(d->win + d->wend, in, n);
    d->check = cz_check_update(d->format, d->check, in, n);
    cz_test_slowdown(in, n); /* no-op unless CZ_TEST_SLOWDOWN_PPM */
    d->total_in += n;
    d->wend += n;
    d->dirty = 1;
}

static void d_finish(cz_deflater *d)
{
    uint8_t tr[8];
    d_emit(d, 1);
    cz_bw_align(&d->bw);
    cz_bw_bytes(&d->bw, tr,
                cz_trailer_write(tr, d->format, d->check, d->total_in));
    d->state = DS_FINISHED;
}

static void d_sync(cz_deflater *d)
{
    if (!d_block_empty(d))
        d_emit(d, 0);
    cz_bw_put_flush(&d->bw, 0, 3); /* empty stored block, not final */
    cz_bw_align(&d->bw);
    cz_bw_put_flush(&d->bw, 0xffff0000u, 32);
    d->dirty = 0;
}

/* One step of work; returns 1 to go on, 0 when nothing more can be done. */
static int d_step(cz_deflater *d, const uint8_t *in, size_t in_len,
                  size_t *c, int flush)
{
    int all_in, flushing;
    size_t limit;
    if (*c < in_len && d->wend < DWIN_SIZE) {
        size_t n = in_len - *c;
        if (n > DWIN_SIZE - d->wend)
            n = DWIN_SIZE - d->wend;
        d_take_input(d, in + *c, n);
        *c += n;
    }
    all_in = *c == in_len;
    flushing = all_in && flush != CZ_NO_FLUSH;
    limit = flushing ? d->wend
                     : d->wend > DLOOKAHEAD ? d->wend - DLOOKAHEAD : 0;
    if (d->lz.pos < limit && cz_lz_run(&d->lz, limit, d->wend)) {
        d_emit(d, 0); /* symbol buffer full */
        return 1;
    }
    if (!all_in) { /* window full: end the block, then slide */
        if (!d_block_empty(d))
            d_emit(d, 0);
        else
            d_slide(d);
        return 1;
    }
    if (flush == CZ_FINISH) {
        d_finish(d);
        return 1;
    }
    if (flush == CZ_SYNC_FLUSH && d->dirty) {
        d_sync(d);
        return 1;
    }
    return 0;
}

int cz_deflater_write(cz_deflater *d, const uint8_t *in, size_t in_len,
                      int flush, uint8_t *out, size_t out_cap,
                      size_t *consumed, size_t *produced)
{
    size_t c = 0, p = 0;
    int r = CZ_OK;
    if (d == NULL || consumed == NULL || produced == NULL ||
        (in == NULL && in_len) || (out == NULL && out_cap) ||
        (flush != CZ_NO_FLUSH && flush != CZ_SYNC_FLUSH &&
         flush != CZ_FINISH))
        return CZ_ERR_BAD_ARG;
    *consumed = *produced = 0;
    if (d->state == DS_FINISHED && in_len > 0)
        return CZ_ERR_STATE;
    if (in == NULL)
        in = d->pend; /* never read: in_len == 0 */
    if (d->state == DS_HEADER) {
        uint8_t hdr[10];
        cz_bw_bytes(&d->bw, hdr, cz_header_write(hdr, d->level, d->format));
        d->state = DS_RUN;
    }
    for (;;) {
        if (out_cap > p)
            p += d_drain(d, out + p, out_cap - p);
        if (d->bw.p != d->pend) {
            r = CZ_BUF_ERROR;
            break;
        }
        if (d->state == DS_FINISHED) {
            r = CZ_STREAM_END;
            break;
        }
        if (!d_step(d, in, in_len, &c, flush))
            break;
    }
    *consumed = c;
    *produced = p;
    return r;
}

/* ================================================================== */
/* inflater                                                            */

cz_inflater *cz_inflater_new(int format)
{
    cz_inflater *s;
    if (!cz_valid_format(format))
        return NULL;
    s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->win = malloc(IWIN_SIZE);
    if (s->win == NULL) {
        free(s);
        return NULL;
    }
    s->format = format;
    s->check = cz_check_init(format);
    cz_hdr_init(&s->hdr, format);
    cz_icore_init(&s->core);
    return s;
}

void cz_inflater_free(cz_inflater *s)
{
    if (s == NULL)
        return;
    free(s->win);
    free(s);
}

size_t cz_inflater_error_pos(const cz_inflater *s)
{
    return s ? s->err_pos : 0;
}

static size_t i_deliver(cz_inflater *s, uint8_t *out, size_t cap)
{
    size_t n = s->wr - s->rd;
    if (n > cap)
        n = cap;
    if (n == 0)
        return 0;
    memcpy(out, s->win + s->rd, n);
    s->check = cz_check_update(s->format, s->check, out, n);
    s->total_out += n;
    s->rd += n;
    return n;
}

static void i_slide(cz_inflater *s)
{
    size_t keep = s->wr < CZ_WSIZE ? s->wr : CZ_WSIZE;
    assert(s->rd == s->wr);
    memmove(s->win, s->win + s->wr - keep, keep);
    s->wr = s->rd = keep;
}

static int i_run(cz_inflater *s, const uint8_t *in, size_t len, size_t *pos)
{
    cz_iio io;
    int r;
    io.in = in;
    io.in_len = len;
    io.final_input = 0;
    io.out = s->win;
    io.out_pos = s->wr;
    io.out_cap = IWIN_SIZE;
    io.in_used = 0;
    io.err_pos = 0;
    r = cz_icore_run(&s->core, &io);
    s->wr = io.out_pos;
    *pos = r < 0 ? io.err_pos : io.in_used;
    return r;
}

/* Decodes straight from the caller's input. */
static int body_direct(cz_inflater *s, const uint8_t *in, size_t len,
                       size_t *used)
{
    size_t pos;
    int r = i_run(s, in, len, &pos);
    *used = 0;
    if (r < 0) {
        s->err_pos = s->total_in + pos;
        return r;
    }
    if (r == CZ_NEED_INPUT) {
        size_t tail = len - pos;
        if (tail > CARRY_CAP)
            return CZ_ERR_STATE; /* cannot happen: units are < 300 B */
        memcpy(s->carry, in + pos, tail);
        s->carry_len = tail;
        *used = len;
        return r;
    }
    *used = pos;
    return r;
}

/* Decodes from the carry buffer with (part of) the new input appended. */
static int body_carry(cz_inflater *s, const uint8_t *in, size_t len,
                      size_t *used)
{
    size_t old = s->carry_len, add = CARRY_CAP - old, pos;
    int r;
    if (add > len)
        add = len;
    if (add)
        memcpy(s->carry + old, in, add);
    r = i_run(s, s->carry, old + add, &pos);
    *used = 0;
    if (r < 0) {
        s->err_pos = s->total_in - old + pos;
        return r;
    }
    if (r == CZ_NEED_INPUT && add < len && pos >= old) {
        s->carry_len = 0; /* resume directly from the caller's input */
        *used = pos - old;
        return CZ_OK;
    }
    if (r == CZ_NEED_INPUT) {
        if (add < len)
            return CZ_ERR_STATE; /* cannot happen: see CARRY_CAP */
        memmove(s->carry, s->carry + pos, old + add - pos);
        s->carry_len = old + add - pos;
        *used = add;
        return r;
    }
    if (pos >= old) {
        s->carry_len = 0;
        *used = pos - old;
    } else {
        memmove(s->carry, s->carry + pos, old - pos);
        s->carry_len = old - pos;
    }
    return r;
}

/* Returns CZ_OK to go on, CZ_NEED_INPUT when stalled, or an error. */
static int i_body(cz_inflater *s, const uint8_t *in, size_t in_len,
                  size_t *c)
{
    size_t used = 0;
    int r;
    if (*c == in_len && s->carry_len == 0)
        return CZ_NEED_INPUT;
    if (s->rd == s->wr && IWIN_SIZE - s->wr < IWIN_SIZE / 4u)
        i_slide(s);
    if (s->carry_len)
        r = body_carry(s, in + *c, in_len - *c, &used);
    else
        r = body_direct(s, in + *c, in_len - *c, &used);
    *c += used;
    s->total_in += used;
    if (r == CZ_STREAM_END) {
        s->state = IS_TRAILER;
        return CZ_OK;
    }
    if (r == CZ_NEED_INPUT)
        return *c == in_len ? CZ_NEED_INPUT : CZ_OK;
    return r < 0 ? r : CZ_OK;
}

static int i_header(cz_inflater *s, const uint8_t *in, size_t in_len,
                    size_t *c)
{
    size_t used = 0, ep = 0;
    int r = cz_hdr_feed(&s->hdr, in + *c, in_len - *c, &used, &ep);
    *c += used;
    s->total_in += used;
    if (r == CZ_STREAM_END) {
        s->state = IS_BODY;
        return CZ_OK;
    }
    if (r < 0)
        s->err_pos = ep;
    return r;
}

static int i_trailer(cz_inflater *s, const uint8_t *in, size_t in_len,
                     size_t *c)
{
    size_t tsize = cz_trailer_size(s->format), n = tsize - s->ntrail;
    int r;
    if (n > in_len - *c)
        n = in_len - *c;
    memcpy(s->trailer + s->ntrail, in + *c, n);
    s->ntrail += n;
    *c += n;
    s->total_in += n;
    if (s->ntrail < tsize)
        return CZ_NEED_INPUT;
    assert(s->rd == s->wr);
    r = cz_trailer_check(s->format, s->trailer, s->check, s->total_out);
    if (r < 0) {
        s->err_pos = s->total_in - tsize + (r == CZ_ERR_LENGTH ? 4u : 0u);
        return r;
    }
    s->state = IS_DONE;
    return CZ_OK;
}

static int i_step(cz_inflater *s, const uint8_t *in, size_t in_len,
                  size_t *c)
{
    switch (s->state) {
    case IS_HEADER:
        return i_header(s, in, in_len, c);
    case IS_BODY:
        return i_body(s, in, in_len, c);
    case IS_TRAILER:
        return i_trailer(s, in, in_len, c);
    default:
        return CZ_STREAM_END;
    }
}

int cz_inflater_write(cz_inflater *s, const uint8_t *in, size_t in_len,
                      uint8_t *out, size_t out_cap, size_t *consumed,
                      size_t *produced)
{
    size_t c = 0, p = 0;
    int r = CZ_OK;
    if (s == NULL || consumed == NULL || produced == NULL ||
        (in == NULL && in_len) || (out == NULL && out_cap))
        return CZ_ERR_BAD_ARG;
    *consumed = *produced = 0;
    if (s->state == IS_ERROR)
        return s->err;
    if (in == NULL)
        in = s->carry; /* never read: in_len == 0 */
    for (;;) {
        if (out_cap > p)
            p += i_deliver(s, out + p, out_cap - p);
        if (s->rd < s->wr) {
            r = CZ_OK;
            break;
        }
        r = i_step(s, in, in_len, &c);
        if (r == CZ_NEED_INPUT) {
            if (out_cap > p)
                p += i_deliver(s, out + p, out_cap - p);
            r = CZ_OK;
            break;
        }
        if (r != CZ_OK)
            break;
    }
    if (r < 0) {
        s->state = IS_ERROR;
        s->err = r;
    }
    *consumed = c;
    *produced = p;
    return r;
}

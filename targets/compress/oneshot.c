/*
 * oneshot.c -- whole-buffer compression and decompression.
 *
 * cz_deflate writes the container header (framing.c), then runs the matcher
 * (lz77.c) directly over the caller's input -- no copy, no window sliding,
 * since every position fits the hash tables' 32-bit entries -- emitting a
 * block (deflate.c) each time the symbol buffer fills and a final block at
 * the end, then the trailer (RFC 1950 Adler-32 / RFC 1952 CRC-32 + ISIZE).
 * Inputs of 2 GiB or more go through the streaming deflater instead.
 * A test-only build (-DCZ_TEST_SLOWDOWN_PPM, slowdown.c) ends with a busy
 * loop costing a set fraction of the work (streamed inputs pay it in
 * stream.c instead, never twice); the normal build has none.
 * cz_deflate_bound gives an output size that is always sufficient: every
 * block costs at most its stored encoding (RFC 1951 section 3.2.4).
 *
 * cz_inflate parses the header (framing.c), decodes all blocks with the
 * block decoder (inflate.c) straight into the caller's buffer (which is the
 * history window), verifies the trailer and reports how much input the
 * stream occupied (in_used) so callers can detect trailing data.  When the
 * output buffer is too small it returns CZ_BUF_ERROR, with *out_len = the
 * bytes decoded and *in_used = the input consumed so far (a hint for sizing
 * the retry); callers retry with a larger buffer.
 *
 * cz_deflate_once / cz_inflate_once wrap the two with no out-parameters:
 * they return the output length on success (for inflate: a clean CZ_OK
 * with no trailing input) and -1 otherwise, so a binding needs one foreign
 * call for the common case and repeats the full call only to report why.
 *
 * Call chain: codec.py -> cz_deflate -> cz_header_write, cz_lz_run,
 * cz_emit_block, cz_trailer_write;  codec.py -> cz_inflate -> cz_hdr_feed,
 * cz_icore_run, cz_check_update, cz_trailer_check.
 */
#include "cz_internal.h"

#define DIRECT_MAX ((size_t)1 << 31)

size_t cz_deflate_bound(size_t in_len, int format)
{
    /* stored worst case: every block (>= 16 K symbols, so >= 16 KiB of
     * input, except the last) costs at most 6 bytes more than its input,
     * plus 5 bytes per 64 KiB chunk, plus the framing */
    return in_len + in_len / 2048u + 128u + cz_trailer_size(format) + 10u;
}

static uint8_t dummy_byte;

static int deflate_streamed(const uint8_t *in, size_t in_len, uint8_t *out,
                            size_t out_cap, size_t *out_len, int level,
                            int format)
{
    cz_deflater *d = cz_deflater_new(level, format);
    size_t consumed = 0, produced = 0;
    int r;
    if (d == NULL)
        return CZ_ERR_NOMEM;
    r = cz_deflater_write(d, in, in_len, CZ_FINISH, out, out_cap, &consumed,
                          &produced);
    cz_deflater_free(d);
    *out_len = produced;
    return r == CZ_STREAM_END ? CZ_OK : r;
}

static void deflate_blocks(cz_bitw *bw, cz_lz *lz, const uint8_t *in,
                           size_t in_len)
{
    size_t block_start = 0;
    for (;;) {
        int full = cz_lz_run(lz, in_len, in_len);
        int final = !full && lz->pos >= in_len;
        cz_emit_block(bw, lz, in + block_start, lz->pos - block_start,
                      final);
        if (final || bw->overflow)
            return;
        block_start = lz->pos;
        cz_lz_reset_block(lz);
    }
}

int cz_deflate(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap,
               size_t *out_len, int level, int format)
{
    cz_lz lz;
    cz_bitw bw;
    size_t hdr, tsize = cz_trailer_size(format);
    int r;

    if (out_len == NULL || (in == NULL && in_len) || (out == NULL && out_cap))
        return CZ_ERR_BAD_ARG;
    *out_len = 0;
    if (!cz_valid_format(format))
        return CZ_ERR_BAD_FORMAT;
    if (level < 0 || level > 9)
        return CZ_ERR_BAD_LEVEL;
    if (in == NULL)
        in = &dummy_byte;
    if (in_len >= DIRECT_MAX)
        return deflate_streamed(in, in_len, out, out_cap, out_len, level,
                                format);
    if (out_cap < 10 + tsize + 2)
        return CZ_BUF_ERROR;
    hdr = cz_header_write(out, level, format);
    r = cz_lz_init(&lz, level, in_len);
    if (r != CZ_OK)
        return r;
    lz.win = in;
    cz_bw_init(&bw, out + hdr, out_cap - hdr - tsize);
    deflate_blocks(&bw, &lz, in, in_len);
    cz_lz_free(&lz);
    cz_bw_align(&bw);
    if (bw.overflow)
        return CZ_BUF_ERROR;
    if (format != CZ_RAW) {
        uint32_t check = cz_check_update(format, cz_check_init(format), in,
                                         in_len);
        bw.p += cz_trailer_write(bw.p, format, check, in_len);
    }
    *out_len = (size_t)(bw.p - out);
    cz_test_slowdown(in, in_len); /* no-op unless CZ_TEST_SLOWDOWN_PPM */
    return CZ_OK;
}

/* ------------------------------------------------------------------ */

static int inflate_trailer(const uint8_t *in, size_t in_len, size_t pos,
                           const uint8_t *out, size_t out_len, int format,
                           size_t *err_pos)
{
    size_t tsize = cz_trailer_size(format);
    uint32_t check;
    int r;
    if (in_len - pos < tsize) {
        *err_pos = in_len;
        return CZ_ERR_TRUNCATED;
    }
    if (format == CZ_RAW)
        return CZ_OK;
    check = cz_check_update(format, cz_check_init(format), out, out_len);
    r = cz_trailer_check(format, in + pos, check, out_len);
    *err_pos = pos + (r == CZ_ERR_LENGTH ? 4u : 0u);
    return r;
}

static int inflate_body(const uint8_t *in, size_t in_len, size_t start,
                        uint8_t *out, size_t out_cap, size_t *out_len,
                        size_t *pos, size_t *err_pos)
{
    cz_icore core, *c = &core; /* ~12 KiB; its tables are written only
                                  for the dynamic blocks that need them */
    cz_iio io;
    int r;
    cz_icore_init(c);
    io.in = in + start;
    io.in_len = in_len - start;
    io.final_input = 1;
    io.out = out;
    io.out_pos = 0;
    io.out_cap = out_cap;
    io.in_used = 0;
    io.err_pos = 0;
    r = cz_icore_run(c, &io);
    *out_len = io.out_pos;
    *pos = start + io.in_used;
    if (r < 0)
        *err_pos = start + io.err_pos;
    return r;
}

int cz_inflate(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap,
               size_t *out_len, size_t *in_used, size_t *err_pos, int format)
{
    cz_hdr h;
    size_t used = 0, pos = 0, epos = 0, olen = 0;
    int r;

    if ((in == NULL && in_len) || (out == NULL && out_cap))
        return CZ_ERR_BAD_ARG;
    if (!cz_valid_format(format))
        return CZ_ERR_BAD_FORMAT;
    if (in == NULL)
        in = &dummy_byte;
    if (out == NULL)
        out = &dummy_byte;
    cz_hdr_init(&h, format);
    r = cz_hdr_feed(&h, in, in_len, &used, &epos);
    if (r == CZ_NEED_INPUT) {
        r = CZ_ERR_TRUNCATED;
        epos = in_len;
    }
    if (r == CZ_STREAM_END)
        r = inflate_body(in, in_len, used, out, out_cap, &olen, &pos, &epos);
    if (r == CZ_STREAM_END) {
        r = inflate_trailer(in, in_len, pos, out, olen, format, &epos);
        pos += cz_trailer_size(format);
    }
    if (out_len)
        *out_len = olen;
    if (in_used) /* on CZ_BUF_ERROR: input consumed when output filled */
        *in_used = r == CZ_OK || r == CZ_BUF_ERROR ? pos : 0;
    if (err_pos)
        *err_pos = r < 0 ? epos : 0;
    return r;
}

/* ------------------------------------------------------------------ */

int64_t cz_deflate_once(const char *in, size_t in_len, char *out,
                        size_t out_cap, int level, int format)
{
    size_t out_len = 0;
    int r = cz_deflate((const uint8_t *)in, in_len, (uint8_t *)out, out_cap,
                       &out_len, level, format);
    if (r != CZ_OK || (uint64_t)out_len > (uint64_t)INT64_MAX)
        return -1;
    return (int64_t)out_len;
}

int64_t cz_inflate_once(const char *in, size_t in_len, char *out,
                        size_t out_cap, int format)
{
    size_t out_len = 0, used = 0, epos = 0;
    int r = cz_inflate((const uint8_t *)in, in_len, (uint8_t *)out, out_cap,
                       &out_len, &used, &epos, format);
    if (r != CZ_OK || used != in_len ||
        (uint64_t)out_len > (uint64_t)INT64_MAX)
        return -1;
    return (int64_t)out_len;
}

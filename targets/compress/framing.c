/*
 * framing.c -- the containers around a DEFLATE stream.
 *
 *   raw  : no header or trailer.
 *   zlib : RFC 1950 section 2.2: CMF (CM = 8, CINFO <= 7), FLG with FCHECK so
 *          that CMF*256 + FLG is a multiple of 31, FDICT (a preset
 *          dictionary, which this library does not support and reports as
 *          CZ_ERR_ZLIB_DICT) and FLEVEL; trailer = Adler-32 of the
 *          uncompressed data, big-endian (section 2.2, 8.2).
 *   gzip : RFC 1952 section 2.3: ID1 ID2 CM FLG MTIME XFL OS, then optional
 *          FEXTRA (XLEN + data), FNAME and FCOMMENT (zero terminated), FHCRC
 *          (low 16 bits of the CRC-32 of the header); reserved FLG bits must
 *          be zero.  Trailer = CRC-32 and ISIZE (length mod 2^32), both
 *          little-endian.  Only a single member is decoded.
 *
 * The header parser is incremental and byte oriented so that a streaming
 * decoder can be fed one byte at a time (gzip names are unbounded, so the
 * header is never buffered whole); the one-shot decoder uses the same parser.
 *
 * Call chain: oneshot.c (cz_deflate / cz_inflate) and stream.c call
 * cz_header_write / cz_trailer_write when encoding and cz_hdr_feed /
 * cz_trailer_check when decoding; cz_check_update -> checksum.c.
 */
#include "cz_internal.h"

enum {
    H_ZLIB = 0,
    H_GZ_FIXED,
    H_GZ_XLEN,
    H_GZ_EXTRA,
    H_GZ_NAME,
    H_GZ_COMMENT,
    H_GZ_HCRC,
    H_DONE
};

#define GZ_FHCRC 0x02u
#define GZ_FEXTRA 0x04u
#define GZ_FNAME 0x08u
#define GZ_FCOMMENT 0x10u
#define GZ_RESERVED 0xe0u

int cz_valid_format(int format)
{
    return format == CZ_RAW || format == CZ_ZLIB || format == CZ_GZIP;
}

size_t cz_header_write(uint8_t *out, int level, int format)
{
    if (format == CZ_ZLIB) {
        unsigned flevel = level < 2 ? 0u : level < 6 ? 1u : level == 6 ? 2u
                                                                        : 3u;
        unsigned h = (0x78u << 8) | (flevel << 6);
        h += 31u - h % 31u;
        out[0] = (uint8_t)(h >> 8);
        out[1] = (uint8_t)h;
        return 2;
    }
    if (format == CZ_GZIP) {
        static const uint8_t fixed[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
        memcpy(out, fixed, 10);
        out[8] = level == 9 ? 2 : level == 1 ? 4 : 0;
        return 10;
    }
    return 0;
}

size_t cz_trailer_size(int format)
{
    return format == CZ_ZLIB ? 4u : format == CZ_GZIP ? 8u : 0u;
}

size_t cz_trailer_write(uint8_t *out, int format, uint32_t check,
                        uint64_t total)
{
    if (format == CZ_ZLIB) {
        cz_put_be32(out, check);
    } else if (format == CZ_GZIP) {
        cz_put_le32(out, check);
        cz_put_le32(out + 4, (uint32_t)total);
    }
    return cz_trailer_size(format);
}

uint32_t cz_check_init(int format)
{
    return format == CZ_ZLIB ? 1u : 0u;
}

uint32_t cz_check_update(int format, uint32_t check, const uint8_t *buf,
                         size_t len)
{
    if (format == CZ_ZLIB)
        return cz_adler32(check, buf, len);
    if (format == CZ_GZIP)
        return cz_crc32(check, buf, len);
    return check;
}

int cz_trailer_check(int format, const uint8_t *tr, uint32_t check,
                     uint64_t total)
{
    if (format == CZ_ZLIB)
        return cz_get_be32(tr) == check ? CZ_OK : CZ_ERR_CHECKSUM;
    if (format == CZ_GZIP) {
        if (cz_get_le32(tr) != check)
            return CZ_ERR_CHECKSUM;
        if (cz_get_le32(tr + 4) != (uint32_t)total)
            return CZ_ERR_LENGTH;
    }
    return CZ_OK;
}

/* ------------------------------------------------------------------ */
/* incremental header parser                                           */

void cz_hdr_init(cz_hdr *h, int format)
{
    memset(h, 0, sizeof *h);
    h->format = format;
    h->state = format == CZ_RAW ? H_DONE
               : format == CZ_ZLIB ? H_ZLIB : H_GZ_FIXED;
    h->need = format == CZ_ZLIB ? 2u : 10u;
}

static int zlib_header_check(const uint8_t *b, size_t *err_pos)
{
    unsigned cmf = b[0], flg = b[1];
    if ((cmf & 15u) != 8u || (cmf >> 4) > 7u) {
        *err_pos = 0;
        return CZ_ERR_BAD_ZLIB_HEADER;
    }
    *err_pos = 1;
    if ((cmf * 256u + flg) % 31u != 0)
        return CZ_ERR_BAD_ZLIB_HEADER;
    if (flg & 0x20u)
        return CZ_ERR_ZLIB_DICT;
    return CZ_OK;
}

static int gzip_fixed_check(cz_hdr *h, size_t *err_pos)
{
    const uint8_t *b = h->buf;
    if (b[0] != 0x1f || b[1] != 0x8b) {
        *err_pos = b[0] != 0x1f ? 0 : 1;
        return CZ_ERR_BAD_GZIP_HEADER;
    }
    if (b[2] != 8 || (b[3] & GZ_RESERVED)) {
        *err_pos = b[2] != 8 ? 2 : 3;
        return CZ_ERR_BAD_GZIP_HEADER;
    }
    h->flags = b[3];
    return CZ_OK;
}

/* Next gzip state after `from`, skipping absent optional fields. */
static unsigned gzip_next_state(const cz_hdr *h, unsigned from)
{
    if (from < H_GZ_XLEN && (h->flags & GZ_FEXTRA))
        return H_GZ_XLEN;
    if (from < H_GZ_NAME && (h->flags & GZ_FNAME))
        return H_GZ_NAME;
    if (from < H_GZ_COMMENT && (h->flags & GZ_FCOMMENT))
        return H_GZ_COMMENT;
    if (from < H_GZ_HCRC && (h->flags & GZ_FHCRC))
        return H_GZ_HCRC;
    return H_DONE;
}

/* Collect up to h->need bytes into h->buf; returns 1 when complete. */
static int collect(cz_hdr *h, const uint8_t *in, size_t len, size_t *i)
{
    while (h->nbuf < h->need && *i < len)
        h->buf[h->nbuf++] = in[(*i)++];
    return h->nbuf == h->need;
}

static void enter(cz_hdr *h, unsigned state)
{
    h->state = state;
    h->nbuf = 0;
    h->need = state == H_GZ_XLEN || state == H_GZ_HCRC ? 2u : 0u;
}

/* Processes one state's worth of bytes; returns CZ_OK to continue. */
static int hdr_step(cz_hdr *h, const uint8_t *in, size_t len, size_t *i,
                    size_t *err_pos)
{
    size_t start = *i;
    int r = CZ_OK;
    if (*i == len)
        return CZ_NEED_INPUT;
    switch (h->state) {
    case H_ZLIB:
        if (!collect(h, in, len, i))
            return CZ_NEED_INPUT;
        r = zlib_header_check(h->buf, err_pos);
        enter(h, H_DONE);
        return r;
    case H_GZ_FIXED:
        if (!collect(h, in, len, i))
            break;
        r = gzip_fixed_check(h, err_pos);
        enter(h, gzip_next_state(h, H_GZ_FIXED));
        break;
    case H_GZ_XLEN:
        if (!collect(h, in, len, i))
            break;
        h->crc = cz_crc32(h->crc, in + start, *i - start);
        start = *i;
        h->need = (uint32_t)h->buf[0] | ((uint32_t)h->buf[1] << 8);
        h->state = H_GZ_EXTRA;
        /* fall through */
    case H_GZ_EXTRA: {
        size_t n = len - *i < h->need ? len - *i : h->need;
        *i += n;
        h->need -= (uint32_t)n;
        if (h->need == 0)
            enter(h, gzip_next_state(h, H_GZ_EXTRA));
        break;
    }
    case H_GZ_NAME:
    case H_GZ_COMMENT: {
        const uint8_t *z = memchr(in + *i, 0, len - *i);
        *i = z ? (size_t)(z - in) + 1 : len;
        if (z)
            enter(h, gzip_next_state(h, h->state));
        break;
    }
    case H_GZ_HCRC:
        if (!collect(h, in, len, i))
            return CZ_NEED_INPUT;
        if (((uint32_t)h->buf[0] | ((uint32_t)h->buf[1] << 8)) !=
            (h->crc & 0xffffu)) {
            *err_pos = 0; /* the caller knows where the field ends */
            r = CZ_ERR_GZIP_HCRC;
        }
        enter(h, H_DONE);
        return r;
    default:
        return CZ_OK;
    }
    h->crc = cz_crc32(h->crc, in + start, *i - start);
    if (r == CZ_OK && h->state != H_DONE && *i == len)
        return CZ_NEED_INPUT;
    return r;
}

int cz_hdr_feed(cz_hdr *h, const uint8_t *in, size_t len, size_t *used,
                size_t *err_off)
{
    size_t i = 0;
    int r = CZ_OK;
    while (h->state != H_DONE && r == CZ_OK) {
        unsigned state = h->state;
        size_t rel = 0;
        r = hdr_step(h, in, len, &i, &rel);
        if (r < 0) /* fixed fields: rel is already the absolute offset */
            *err_off = state == H_GZ_HCRC ? h->fed + i - 1 : rel;
    }
    h->fed += i;
    *used = i;
    return r == CZ_OK ? CZ_STREAM_END : r;
}

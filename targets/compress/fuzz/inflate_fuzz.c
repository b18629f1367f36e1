/*
 * inflate_fuzz.c -- plain libFuzzer harness of the compress `inflate` fuzz
 * target (plugins/compress/fuzz.py), for measuring the engine's speed limit
 * against the in-process Python target (`lab fuzz --vs-raw`).
 *
 * Same work as the Python target: input byte 0 (mod 3) selects the framing
 * -- raw DEFLATE (RFC 1951), zlib (RFC 1950) or gzip (RFC 1952) -- and the
 * rest is one compressed stream, decoded
 *   - by our core's one-shot cz_inflate() (compress.h) into a buffer of
 *     CZ_FUZZ_LIMIT bytes, and
 *   - by zlib's inflate() (inflateInit2 with windowBits -15 / 15 / 31),
 * both under the contract of plugins/compress/codec.py: exactly one complete
 * stream (truncated input, bytes after the end of the stream and a second
 * gzip member are rejected), at most CZ_FUZZ_LIMIT bytes of output (more is
 * rejected as a decompression bomb; exactly the limit is accepted), no
 * preset dictionary (zlib's Z_NEED_DICT is a rejection).  Either both
 * decoders reject the input or both accept it with identical output;
 * anything else prints the two outcomes and abort()s.
 *
 * Build: the recipe's sources (every .c file directly in targets/compress,
 * not this folder) plus this file, linked with zlib, e.g. with SRC set to
 * those files:  clang -std=c11 -fsanitize=fuzzer,address,undefined \
 *   -I targets/compress $SRC targets/compress/fuzz/inflate_fuzz.c -lz
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "compress.h"

#define CZ_FUZZ_LIMIT ((size_t)1 << 20) /* fuzz.py LIMIT */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One decoder's verdict on an input: accepted with len bytes, or why not. */
typedef struct cz_fuzz_result {
    int accepted;
    size_t len;
    const char *why; /* when rejected */
    int code;        /* the status behind `why` */
} cz_fuzz_result;

static uint8_t *cz_fuzz_ours_buf;
static uint8_t *cz_fuzz_zlib_buf;

static void cz_fuzz_init(void)
{
    if (cz_fuzz_ours_buf != NULL)
        return;
    /* zlib gets one byte more, so that "more than the limit" is seen */
    cz_fuzz_ours_buf = malloc(CZ_FUZZ_LIMIT);
    cz_fuzz_zlib_buf = malloc(CZ_FUZZ_LIMIT + 1);
    if (cz_fuzz_ours_buf == NULL || cz_fuzz_zlib_buf == NULL)
        abort();
}

static cz_fuzz_result cz_fuzz_reject(const char *why, int code)
{
    cz_fuzz_result r = {0, 0, why, code};
    return r;
}

/* Our core, as Codec.decompress(stream, fmt, max_output=LIMIT): a single
 * call with the limit as capacity decides what the Codec's growing retries
 * end with (CZ_BUF_ERROR at full capacity is its decompression-bomb error). */
static cz_fuzz_result cz_fuzz_ours(const uint8_t *in, size_t n, int format)
{
    size_t out_len = 0, in_used = 0, err_pos = 0;
    int st = cz_inflate(in, n, cz_fuzz_ours_buf, CZ_FUZZ_LIMIT, &out_len,
                        &in_used, &err_pos, format);
    cz_fuzz_result r = {1, out_len, NULL, st};
    if (st == CZ_BUF_ERROR)
        return cz_fuzz_reject("output over the limit", st);
    if (st != CZ_OK)
        return cz_fuzz_reject(cz_strerror(st), st);
    if (in_used != n)
        return cz_fuzz_reject("trailing data after the stream", st);
    if (out_len > CZ_FUZZ_LIMIT) /* would be a bug of cz_inflate itself */
        abort();
    return r;
}

/* zlib, as fuzz.py's zlib_decompress(): decompressobj(wbits) with
 * max_length = LIMIT + 1, then eof / unused_data checks. */
static cz_fuzz_result cz_fuzz_zlib(const uint8_t *in, size_t n, int wbits)
{
    z_stream zs;
    int st;
    cz_fuzz_result r = {0, 0, NULL, 0};
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, wbits) != Z_OK)
        abort();
    zs.next_in = (Bytef *)(uintptr_t)in; /* zlib does not write the input */
    zs.avail_in = (uInt)n;               /* n <= max_len, far below 4 GiB */
    zs.next_out = cz_fuzz_zlib_buf;
    zs.avail_out = (uInt)(CZ_FUZZ_LIMIT + 1);
    do {
        st = inflate(&zs, Z_NO_FLUSH);
    } while (st == Z_OK && zs.avail_in > 0 && zs.avail_out > 0);
    r.len = (size_t)zs.total_out;
    r.code = st;
    if (st == Z_NEED_DICT)
        r = cz_fuzz_reject("zlib: preset dictionary needed", st);
    else if (st != Z_OK && st != Z_STREAM_END && st != Z_BUF_ERROR)
        r = cz_fuzz_reject(zs.msg != NULL ? zs.msg : "zlib error", st);
    else if (r.len > CZ_FUZZ_LIMIT)
        r = cz_fuzz_reject("output over the limit", st);
    else if (st != Z_STREAM_END)
        r = cz_fuzz_reject("truncated stream", st);
    else if (zs.avail_in > 0)
        r = cz_fuzz_reject("trailing data after the stream", st);
    else
        r.accepted = 1;
    inflateEnd(&zs);
    return r;
}

static void cz_fuzz_print(const char *who, const cz_fuzz_result *r)
{
    if (r->accepted)
        fprintf(stderr, "  %s: accepted, %zu bytes\n", who, r->len);
    else
        fprintf(stderr, "  %s: rejected (%s, status %d)\n", who, r->why,
                r->code);
}

static size_t cz_fuzz_first_difference(size_t len)
{
    size_t i = 0;
    while (i < len && cz_fuzz_ours_buf[i] == cz_fuzz_zlib_buf[i])
        i++;
    return i;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int formats[3] = {CZ_RAW, CZ_ZLIB, CZ_GZIP};
    static const int wbits[3] = {-15, 15, 31};
    static const char *const names[3] = {"raw", "zlib", "gzip"};
    cz_fuzz_result ours, ref;
    unsigned sel;

    if (size == 0) /* no framing byte: both sides reject */
        return 0;
    cz_fuzz_init();
    sel = data[0] % 3u;
    ours = cz_fuzz_ours(data + 1, size - 1, formats[sel]);
    ref = cz_fuzz_zlib(data + 1, size - 1, wbits[sel]);
    if (!ours.accepted && !ref.accepted)
        return 0;
    if (ours.accepted && ref.accepted && ours.len == ref.len &&
        memcmp(cz_fuzz_ours_buf, cz_fuzz_zlib_buf, ours.len) == 0)
        return 0;
    fprintf(stderr, "cz_fuzz: %s stream of %zu bytes: our core and zlib "
                    "disagree\n", names[sel], size - 1);
    cz_fuzz_print("ours", &ours);
    cz_fuzz_print("zlib", &ref);
    if (ours.accepted && ref.accepted)
        fprintf(stderr, "  outputs differ at byte %zu\n",
                cz_fuzz_first_difference(ours.len < ref.len ? ours.len
                                                            : ref.len));
    abort();
}

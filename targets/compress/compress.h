/*
 * compress.h -- public API of the compress core (DEFLATE, RFC 1951, in raw,
 * zlib (RFC 1950) and gzip (RFC 1952) containers).
 *
 * Two families of entry points:
 *   - one-shot: cz_deflate() / cz_inflate() take the whole input and a caller
 *     supplied output buffer (see cz_deflate_bound());
 *   - streaming: cz_deflater_* / cz_inflater_* objects accept input in pieces
 *     and write output into caller buffers of any size.
 * cz_deflate_once / cz_inflate_once are the one-shot calls reduced to plain
 * arguments and one return value (the output length, or < 0 when the full
 * call would not succeed cleanly), for bindings whose per-argument cost
 * matters on small inputs (cffi: `char *` parameters accept bytes objects
 * without a copy); callers repeat the full call to learn the status.
 *
 * Call chains (see each .c file's header for detail):
 *   cz_deflate  -> framing.c (header) -> lz77.c (matching) -> deflate.c
 *                  (block encoding, huffman.c) -> framing.c (trailer)
 *   cz_inflate  -> framing.c (header) -> inflate.c (blocks) -> checksum.c
 *   cz_deflater_write / cz_inflater_write -> stream.c -> the same cores.
 *
 * Status convention: CZ_OK (0) and CZ_STREAM_END (1) and CZ_BUF_ERROR (2,
 * "output buffer full or more input needed") are not errors; every negative
 * value names one distinct malformation or misuse; cz_strerror() gives a
 * sentence for each.  Decoders never read outside the given buffers, always
 * terminate and allocate a bounded amount of memory.
 *
 * The text between the LAB-CDEF markers is fed verbatim to cffi's cdef()
 * parser, so it must contain only plain declarations.
 */
#ifndef CZ_COMPRESS_H
#define CZ_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* LAB-CDEF-BEGIN */
enum { CZ_RAW = 0, CZ_ZLIB = 1, CZ_GZIP = 2 };
enum { CZ_NO_FLUSH = 0, CZ_SYNC_FLUSH = 2, CZ_FINISH = 4 };
enum {
    CZ_OK = 0,
    CZ_STREAM_END = 1,
    CZ_BUF_ERROR = 2,
    CZ_ERR_BAD_BLOCK_TYPE = -1,
    CZ_ERR_BAD_STORED_LEN = -2,
    CZ_ERR_TOO_MANY_CODES = -3,
    CZ_ERR_BAD_CODE_LENGTHS = -4,
    CZ_ERR_OVERSUBSCRIBED = -5,
    CZ_ERR_INCOMPLETE = -6,
    CZ_ERR_MISSING_EOB = -7,
    CZ_ERR_INVALID_LITLEN = -8,
    CZ_ERR_INVALID_DIST = -9,
    CZ_ERR_DIST_TOO_FAR = -10,
    CZ_ERR_BAD_ZLIB_HEADER = -11,
    CZ_ERR_ZLIB_DICT = -12,
    CZ_ERR_BAD_GZIP_HEADER = -13,
    CZ_ERR_GZIP_HCRC = -14,
    CZ_ERR_CHECKSUM = -15,
    CZ_ERR_LENGTH = -16,
    CZ_ERR_TRUNCATED = -17,
    CZ_ERR_OUTPUT_LIMIT = -18,
    CZ_ERR_BAD_LEVEL = -19,
    CZ_ERR_BAD_FORMAT = -20,
    CZ_ERR_NOMEM = -21,
    CZ_ERR_BAD_ARG = -22,
    CZ_ERR_TRAILING = -23,
    CZ_ERR_STATE = -24
};

typedef struct cz_deflater cz_deflater;
typedef struct cz_inflater cz_inflater;

const char *cz_strerror(int status);

size_t cz_deflate_bound(size_t in_len, int format);
int cz_deflate(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap,
               size_t *out_len, int level, int format);
int cz_inflate(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap,
               size_t *out_len, size_t *in_used, size_t *err_pos, int format);

cz_deflater *cz_deflater_new(int level, int format);
int cz_deflater_write(cz_deflater *d, const uint8_t *in, size_t in_len,
                      int flush, uint8_t *out, size_t out_cap,
                      size_t *consumed, size_t *produced);
void cz_deflater_free(cz_deflater *d);

cz_inflater *cz_inflater_new(int format);
int cz_inflater_write(cz_inflater *s, const uint8_t *in, size_t in_len,
                      uint8_t *out, size_t out_cap,
                      size_t *consumed, size_t *produced);
size_t cz_inflater_error_pos(const cz_inflater *s);
void cz_inflater_free(cz_inflater *s);

uint32_t cz_adler32(uint32_t adler, const uint8_t *buf, size_t len);
uint32_t cz_crc32(uint32_t crc, const uint8_t *buf, size_t len);

int64_t cz_deflate_once(const char *in, size_t in_len, char *out,
                        size_t out_cap, int level, int format);
int64_t cz_inflate_once(const char *in, size_t in_len, char *out,
                        size_t out_cap, int format);
/* LAB-CDEF-END */

#ifdef __cplusplus
}
#endif

#endif /* CZ_COMPRESS_H */

/*
 * status.c -- human-readable sentences for every status code of compress.h.
 *
 * The error codes mirror the malformations a DEFLATE decoder can detect
 * (RFC 1951 section 3.2: block type, stored length, code length sets,
 * symbols, distances), the container checks of RFC 1950 / RFC 1952
 * (headers, checksums, ISIZE) and misuse of the API.  codec.py turns them
 * into CompressError / ValueError messages, adding the input position.
 *
 * Call chain: codec.py (Python) -> cz_strerror.
 */
#include "cz_internal.h"

const char *cz_strerror(int status)
{
    switch (status) {
    case CZ_OK: return "ok";
    case CZ_STREAM_END: return "end of stream";
    case CZ_BUF_ERROR: return "output buffer full or more input needed";
    case CZ_ERR_BAD_BLOCK_TYPE: return "invalid block type";
    case CZ_ERR_BAD_STORED_LEN:
        return "invalid stored block lengths (LEN != ~NLEN)";
    case CZ_ERR_TOO_MANY_CODES:
        return "too many length or distance symbols";
    case CZ_ERR_BAD_CODE_LENGTHS:
        return "invalid code lengths (bad repeat of code lengths)";
    case CZ_ERR_OVERSUBSCRIBED: return "over-subscribed Huffman code";
    case CZ_ERR_INCOMPLETE: return "incomplete Huffman code";
    case CZ_ERR_MISSING_EOB: return "missing end-of-block code";
    case CZ_ERR_INVALID_LITLEN: return "invalid literal/length code";
    case CZ_ERR_INVALID_DIST: return "invalid distance code";
    case CZ_ERR_DIST_TOO_FAR: return "invalid distance too far back";
    case CZ_ERR_BAD_ZLIB_HEADER: return "invalid zlib header";
    case CZ_ERR_ZLIB_DICT:
        return "zlib stream needs a preset dictionary (unsupported)";
    case CZ_ERR_BAD_GZIP_HEADER: return "invalid gzip header";
    case CZ_ERR_GZIP_HCRC: return "gzip header CRC mismatch";
    case CZ_ERR_CHECKSUM: return "incorrect data check (checksum mismatch)";
    case CZ_ERR_LENGTH: return "incorrect length check (gzip ISIZE)";
    case CZ_ERR_TRUNCATED: return "truncated input (unexpected end of stream)";
    case CZ_ERR_OUTPUT_LIMIT: return "output exceeds the output limit";
    case CZ_ERR_BAD_LEVEL: return "invalid compression level (valid: 0-9)";
    case CZ_ERR_BAD_FORMAT:
        return "invalid format (valid: raw, zlib, gzip)";
    case CZ_ERR_NOMEM: return "out of memory";
    case CZ_ERR_BAD_ARG: return "invalid argument";
    case CZ_ERR_TRAILING: return "trailing data after end of stream";
    case CZ_ERR_STATE: return "stream used after finish or error";
    default: return "unknown status code";
    }
}

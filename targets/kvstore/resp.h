/*
 * resp.h -- RESP2, https://redis.io/docs/reference/protocol-spec/
 *
 * Request side: an incremental parser that owns the client's query buffer.
 * It accepts multibulk requests (arrays of bulk strings) and inline
 * commands (a line of space-separated words with Redis's quoting rules),
 * copes with partial reads and pipelined requests, enforces the limits
 * (bulk length <= proto-max-bulk-len, arrays <= 1M elements, inline and
 * length lines <= 64 KiB) and reports violations with Redis 7.0's exact
 * protocol error texts; the connection is then closed after the reply.
 *
 * Reply side: builders for simple strings, errors, integers, bulk strings,
 * the null bulk string and array headers, appending to a kv_outbuf.
 */
#ifndef KV_RESP_H
#define KV_RESP_H

#include <limits.h>
#include <stddef.h>

#include "buf.h"

#define KV_PROTO_INLINE_MAX (64 * 1024)
#define KV_PROTO_MAX_ARRAY INT_MAX /* Redis 7.0: any count up to INT_MAX */
#define KV_PROTO_READ_CHUNK (16 * 1024)
#define KV_PROTO_BIG_STEP (1024 * 1024)

/* One argument of a parsed command.  p[len] is a NUL byte. */
typedef struct kv_arg {
    const char *p;
    size_t len;
} kv_arg;

typedef struct kv_arg_slot {
    size_t off, len; /* relative to the start of the request */
} kv_arg_slot;

typedef struct kv_parser {
    char *buf;
    size_t cap, len; /* buf[0, len) holds received bytes */
    size_t start;    /* first byte of the request being parsed */
    size_t pos;      /* next byte to parse */
    int in_multibulk;
    long long mb_left;  /* bulks still expected, -1: count line unread */
    long long bulklen;  /* length of the pending bulk, -1: unread */
    kv_arg_slot *slots; /* arguments parsed so far (multibulk) */
    size_t nslots, slots_cap;
    kv_arg *argv;
    size_t argv_cap;
    char *scratch; /* unescaped inline arguments */
    size_t scratch_cap;
    long long max_bulk;
    char err[96]; /* protocol error text (without the "-ERR " prefix) */
} kv_parser;

typedef enum { KV_PARSE_MORE, KV_PARSE_COMMAND, KV_PARSE_ERROR } kv_parse_status;

void kv_parser_init(kv_parser *p, long long max_bulk);
void kv_parser_free(kv_parser *p);
/* Forgets every received byte and any partial request (keeps the memory). */
void kv_parser_reset(kv_parser *p);
/* Room to read into (at least KV_PROTO_READ_CHUNK bytes, more when a large
 * bulk is pending); *avail receives its size.  Invalidates argv. */
char *kv_parser_space(kv_parser *p, size_t *avail);
void kv_parser_commit(kv_parser *p, size_t n);
/* Bytes received and not yet consumed by complete requests. */
size_t kv_parser_pending(const kv_parser *p);
/* Parses the next request.  KV_PARSE_COMMAND: argc and argv hold it, valid
 * until the next call.  KV_PARSE_ERROR: p->err holds the message. */
kv_parse_status kv_parser_next(kv_parser *p, int *argc, kv_arg **argv);

/* Reply builders. */
void kv_reply_raw(kv_outbuf *o, const void *p, size_t n);
void kv_reply_simple(kv_outbuf *o, const char *s);
void kv_reply_ok(kv_outbuf *o);
/* "-ERR msg", or msg as is when it starts with '-' (e.g. "-NOPROTO ...");
 * CR and LF inside msg become spaces, as in Redis. */
void kv_reply_error(kv_outbuf *o, const char *msg);
#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
void kv_reply_errorf(kv_outbuf *o, const char *fmt, ...);
void kv_reply_int(kv_outbuf *o, long long v);
void kv_reply_bulk(kv_outbuf *o, const void *p, size_t n);
void kv_reply_bulk_cstr(kv_outbuf *o, const char *s);
void kv_reply_bulk_ll(kv_outbuf *o, long long v);
void kv_reply_null(kv_outbuf *o);
void kv_reply_array(kv_outbuf *o, long long n);

#endif

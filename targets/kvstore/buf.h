/*
 * buf.h -- a client's pending output: a fixed buffer inside the client
 * (most replies fit, no allocation) followed by a list of heap blocks, as
 * Redis's client->buf + client->reply.  Bytes leave in the order they were
 * appended; kv_outbuf_iov() exposes the pending bytes for writev/sendmsg
 * and kv_outbuf_consume() drops what the socket accepted.
 */
#ifndef KV_BUF_H
#define KV_BUF_H

#include <stddef.h>
#include <sys/uio.h>

#define KV_OUT_STATIC 16384
#define KV_OUT_BLOCK 16384

typedef struct kv_outblock {
    struct kv_outblock *next;
    size_t size, used;
    char data[];
} kv_outblock;

typedef struct kv_outbuf {
    size_t pending;     /* bytes not yet consumed, static part + blocks */
    size_t sent;        /* bytes consumed from the first non-empty chunk */
    size_t static_used; /* bytes in static_buf (0 once fully consumed) */
    kv_outblock *head, *tail;
    char static_buf[KV_OUT_STATIC];
} kv_outbuf;

void kv_outbuf_init(kv_outbuf *o);
void kv_outbuf_free(kv_outbuf *o);
void kv_outbuf_append(kv_outbuf *o, const void *p, size_t n);
/* Fills up to MAX iovecs with pending bytes; returns how many. */
int kv_outbuf_iov(const kv_outbuf *o, struct iovec *iov, int max);
void kv_outbuf_consume(kv_outbuf *o, size_t n);

static inline size_t kv_outbuf_pending(const kv_outbuf *o)
{
    return o->pending;
}

#endif

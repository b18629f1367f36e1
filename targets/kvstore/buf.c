/*
 * buf.c -- chained output buffer (see buf.h).  Invariants: the static
 * buffer is appended to only while the block list is empty, so it always
 * precedes the blocks; `sent` applies to the static buffer when it holds
 * bytes, else to the head block.
 */
#include "buf.h"
#include "mem.h"

#include <assert.h>
#include <string.h>

void kv_outbuf_init(kv_outbuf *o)
{
    o->pending = o->sent = o->static_used = 0;
    o->head = o->tail = NULL;
}

void kv_outbuf_free(kv_outbuf *o)
{
    kv_outblock *b = o->head;
    while (b) {
        kv_outblock *next = b->next;
        kv_free(b);
        b = next;
    }
    kv_outbuf_init(o);
}

static void append_block(kv_outbuf *o, const char *p, size_t n)
{
    size_t size = n > KV_OUT_BLOCK ? n : KV_OUT_BLOCK;
    kv_outblock *b = kv_malloc(sizeof *b + size);
    b->next = NULL;
    b->size = size;
    b->used = n;
    memcpy(b->data, p, n);
    if (o->tail)
        o->tail->next = b;
    else
        o->head = b;
    o->tail = b;
}

void kv_outbuf_append(kv_outbuf *o, const void *data, size_t n)
{
    const char *p = data;
    o->pending += n;
    if (o->head == NULL) {
        size_t room = KV_OUT_STATIC - o->static_used;
        size_t take = n < room ? n : room;
        memcpy(o->static_buf + o->static_used, p, take);
        o->static_used += take;
        p += take;
        n -= take;
    } else if (o->tail->used < o->tail->size) {
        size_t room = o->tail->size - o->tail->used;
        size_t take = n < room ? n : room;
        memcpy(o->tail->data + o->tail->used, p, take);
        o->tail->used += take;
        p += take;
        n -= take;
    }
    if (n)
        append_block(o, p, n);
}

int kv_outbuf_iov(const kv_outbuf *o, struct iovec *iov, int max)
{
    int n = 0;
    size_t skip = o->sent;
    if (o->static_used && n < max) {
        iov[n].iov_base = (char *)o->static_buf + skip;
        iov[n].iov_len = o->static_used - skip;
        n++;
        skip = 0;
    }
    for (const kv_outblock *b = o->head; b && n < max; b = b->next) {
        iov[n].iov_base = (char *)b->data + skip;
        iov[n].iov_len = b->used - skip;
        n++;
        skip = 0;
    }
    return n;
}

void kv_outbuf_consume(kv_outbuf *o, size_t n)
{
    assert(n <= o->pending);
    o->pending -= n;
    if (o->static_used) {
        size_t left = o->static_used - o->sent;
        if (n < left) {
            o->sent += n;
            return;
        }
        n -= left;
        o->static_used = o->sent = 0;
    }
    while (n) {
        kv_outblock *b = o->head;
        size_t left;
        assert(b != NULL);
        left = b->used - o->sent;
        if (n < left) {
            o->sent += n;
            return;
        }
        n -= left;
        o->sent = 0;
        o->head = b->next;
        if (o->head == NULL)
            o->tail = NULL;
        kv_free(b);
    }
    /* A fully drained head block leaves `sent` at 0 for the next one. */
}

/*
 * link_mem.c -- the stack's way out: ts_link_send records a frame in the
 * capture and hands it to the injected link callback, or, when none was
 * configured, keeps a copy in the memory link (a bounded FIFO the caller
 * drains with ts_link_pop: tests, fuzzers, in-process benchmarks).
 */
#include "ts.h"

struct ts_linkq_frame {
    size_t len;
    uint8_t *data;
};

struct ts_linkq {
    struct ts_linkq_frame *ring;
    size_t cap, head, count, bytes;
};

int ts_link_init(struct ts_stack *s);
void ts_link_fini(struct ts_stack *s);

int ts_link_init(struct ts_stack *s)
{
    if (s->cfg.link)
        return 0;
    struct ts_linkq *q = ts_alloc(s, sizeof *q);
    if (!q)
        return -ENOMEM;
    q->cap = s->cfg.link_queue;
    q->ring = ts_alloc(s, q->cap * sizeof *q->ring);
    if (!q->ring) {
        ts_free(s, q, sizeof *q);
        return -ENOMEM;
    }
    s->linkq = q;
    return 0;
}

void ts_link_fini(struct ts_stack *s)
{
    struct ts_linkq *q = s->linkq;
    if (!q)
        return;
    for (size_t i = 0; i < q->count; i++) {
        struct ts_linkq_frame *f = &q->ring[(q->head + i) % q->cap];
        ts_free(s, f->data, f->len);
    }
    ts_free(s, q->ring, q->cap * sizeof *q->ring);
    ts_free(s, q, sizeof *q);
    s->linkq = NULL;
}

static int linkq_push(struct ts_stack *s, const uint8_t *frame, size_t len)
{
    struct ts_linkq *q = s->linkq;
    uint8_t *copy = q->count < q->cap ? ts_alloc(s, len) : NULL;
    if (!copy) {
        TS_STAT_INC(s, LINK_DROP_QUEUE);
        return -ENOBUFS;
    }
    memcpy(copy, frame, len);
    q->ring[(q->head + q->count) % q->cap] = (struct ts_linkq_frame){ len, copy };
    q->count++;
    q->bytes += len;
    return 0;
}

int ts_link_send(struct ts_stack *s, const uint8_t *frame, size_t len)
{
    assert(len >= TS_ETH_HLEN && len <= TS_ETH_HLEN + (size_t)(s->tso > s->mtu ? s->tso : s->mtu));
    ts_pcap_frame(s, frame, len);
    int rc = s->cfg.link ? s->cfg.link(s->cfg.link_arg, frame, len) : linkq_push(s, frame, len);
    if (rc < 0) {
        TS_STAT_INC(s, LINK_TX_ERR);
        return rc;
    }
    TS_STAT_INC(s, LINK_TX);
    return 0;
}

ssize_t ts_link_pop(struct ts_stack *s, uint8_t *buf, size_t cap)
{
    struct ts_linkq *q = s->linkq;
    if (!q || q->count == 0)
        return -EAGAIN;
    struct ts_linkq_frame *f = &q->ring[q->head];
    if (f->len > cap)
        return -EMSGSIZE;
    size_t len = f->len;
    memcpy(buf, f->data, len);
    ts_free(s, f->data, len);
    q->head = (q->head + 1) % q->cap;
    q->count--;
    q->bytes -= len;
    return (ssize_t)len;
}

size_t ts_link_pending(struct ts_stack *s)
{
    return s->linkq ? s->linkq->count : 0;
}

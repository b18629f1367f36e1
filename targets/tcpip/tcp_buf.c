/*
 * tcp_buf.c -- byte rings and the out-of-order assembler used by TCP
 * (RFC 9293 3.8.6 buffers, 3.10.7.4 segment text queueing). The assembler
 * keeps at most TS_TCP_OOO_MAX ranges; a segment that would need more is
 * refused, so memory stays bounded by the receive buffer.
 */
#include "tcp_buf.h"
#include "ts.h"

uint32_t ts_tcp_ring_write(struct ts_tcp_ring *r, const uint8_t *data, uint32_t n)
{
    uint32_t room = ts_tcp_ring_free(r);
    if (n > room)
        n = room;
    ts_tcp_ring_write_at(r, r->len, data, n);
    r->len += n;
    return n;
}

/* Write n bytes at offset off from the head (off + n <= cap). */
void ts_tcp_ring_write_at(struct ts_tcp_ring *r, uint32_t off, const uint8_t *data, uint32_t n)
{
    assert((uint64_t)off + n <= r->cap);
    if (n == 0)
        return;
    uint32_t pos = (uint32_t)(((uint64_t)r->head + off) % r->cap);
    uint32_t first = r->cap - pos;
    if (first > n)
        first = n;
    memcpy(r->buf + pos, data, first);
    if (n > first)
        memcpy(r->buf, data + first, n - first);
}

void ts_tcp_ring_peek(const struct ts_tcp_ring *r, uint32_t off, uint8_t *out, uint32_t n)
{
    assert((uint64_t)off + n <= r->len);
    if (n == 0)
        return;
    uint32_t pos = (uint32_t)(((uint64_t)r->head + off) % r->cap);
    uint32_t first = r->cap - pos;
    if (first > n)
        first = n;
    memcpy(out, r->buf + pos, first);
    if (n > first)
        memcpy(out + first, r->buf, n - first);
}

uint32_t ts_tcp_ring_read(struct ts_tcp_ring *r, uint8_t *out, uint32_t n)
{
    if (n > r->len)
        n = r->len;
    ts_tcp_ring_peek(r, 0, out, n);
    ts_tcp_ring_drop(r, n);
    return n;
}

void ts_tcp_ring_drop(struct ts_tcp_ring *r, uint32_t n)
{
    assert(n <= r->len);
    r->len -= n;
    /* head must not jump back to 0 when empty: out-of-order bytes of the
     * receive ring live at fixed offsets past head + len */
    r->head = r->cap ? (uint32_t)(((uint64_t)r->head + n) % r->cap) : 0;
}

static void ts_tcp_ooo_remove(struct ts_tcp_ooo *o, uint32_t i, uint32_t count)
{
    memmove(&o->r[i], &o->r[i + count], (o->n - i - count) * sizeof o->r[0]);
    o->n -= count;
}

int ts_tcp_ooo_add(struct ts_tcp_ooo *o, uint32_t rcv_nxt, uint32_t start, uint32_t end)
{
    uint32_t s = start - rcv_nxt, e = end - rcv_nxt;  /* offsets, 0 < s < e */
    assert(s > 0 && s < e);
    uint32_t i = 0;
    while (i < o->n && o->r[i].end - rcv_nxt < s)  /* ranges wholly before */
        i++;
    uint32_t j = i;                                  /* ranges touching [s, e] */
    while (j < o->n && o->r[j].start - rcv_nxt <= e)
        j++;
    if (i == j) {                                    /* a new range at i */
        if (o->n >= TS_TCP_OOO_MAX)
            return -1;
        memmove(&o->r[i + 1], &o->r[i], (o->n - i) * sizeof o->r[0]);
        o->n++;
        o->r[i].start = start;
        o->r[i].end = end;
        return 0;
    }
    if (o->r[i].start - rcv_nxt < s)
        start = o->r[i].start;
    if (o->r[j - 1].end - rcv_nxt > e)
        end = o->r[j - 1].end;
    o->r[i].start = start;
    o->r[i].end = end;
    ts_tcp_ooo_remove(o, i + 1, j - i - 1);
    return 0;
}

uint32_t ts_tcp_ooo_advance(struct ts_tcp_ooo *o, uint32_t end)
{
    uint32_t k = 0;
    while (k < o->n && (int32_t)(o->r[k].start - end) <= 0) {
        if ((int32_t)(o->r[k].end - end) > 0)
            end = o->r[k].end;
        k++;
    }
    if (k)
        ts_tcp_ooo_remove(o, 0, k);
    return end;
}

TS_NOCOV int ts_tcp_ooo_check(const struct ts_tcp_ooo *o, uint32_t rcv_nxt, uint32_t limit,
                     char *err, size_t cap)
{
    if (o->n > TS_TCP_OOO_MAX)
        return ts_errf(err, cap, "tcp: %u ooo ranges > %u", o->n, TS_TCP_OOO_MAX);
    uint32_t prev = 0;
    for (uint32_t i = 0; i < o->n; i++) {
        uint32_t s = o->r[i].start - rcv_nxt, e = o->r[i].end - rcv_nxt;
        if (s == 0 || s >= e || e > limit)
            return ts_errf(err, cap, "tcp: ooo range %u [+%u,+%u) outside (0,%u]",
                           i, s, e, limit);
        if (i > 0 && s <= prev)
            return ts_errf(err, cap, "tcp: ooo range %u at +%u not after +%u", i, s, prev);
        prev = e;
    }
    return 0;
}

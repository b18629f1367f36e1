/*
 * tcp_buf.h -- the TCP byte rings: a send ring (unacknowledged + unsent
 * bytes, RFC 9293 3.8.6 "send buffer") and a receive ring (in-order bytes
 * the application has not read) with an out-of-order assembler that records
 * at most TS_TCP_OOO_MAX disjoint ranges of bytes held beyond RCV.NXT in
 * the ring's free space (the approach of smoltcp's Assembler; RFC 9293
 * 3.10.7.4 "seventh, process the segment text" allows queueing them).
 * Data is copied once into the ring and once out of it.
 */
#ifndef TS_TCP_BUF_H
#define TS_TCP_BUF_H

#include <stddef.h>
#include <stdint.h>

#define TS_TCP_OOO_MAX 32

struct ts_tcp_ring {
    uint8_t *buf;
    uint32_t cap, head, len;     /* bytes [head, head+len) mod cap */
};

/* Out-of-order ranges, absolute sequence numbers [start, end), sorted,
 * disjoint and non-adjacent, all strictly beyond RCV.NXT. */
struct ts_tcp_ooo {
    uint32_t n;
    struct { uint32_t start, end; } r[TS_TCP_OOO_MAX];
};

static inline uint32_t ts_tcp_ring_free(const struct ts_tcp_ring *r) { return r->cap - r->len; }

uint32_t ts_tcp_ring_write(struct ts_tcp_ring *r, const uint8_t *data, uint32_t n);
void ts_tcp_ring_write_at(struct ts_tcp_ring *r, uint32_t off, const uint8_t *data, uint32_t n);
void ts_tcp_ring_peek(const struct ts_tcp_ring *r, uint32_t off, uint8_t *out, uint32_t n);
uint32_t ts_tcp_ring_read(struct ts_tcp_ring *r, uint8_t *out, uint32_t n);
void ts_tcp_ring_drop(struct ts_tcp_ring *r, uint32_t n);

/* Record [start, end) beyond rcv_nxt; -1 if it needs more than the range
 * limit (nothing changed then). */
int ts_tcp_ooo_add(struct ts_tcp_ooo *o, uint32_t rcv_nxt, uint32_t start, uint32_t end);
/* In-order bytes now end at `end`: swallow the ranges it reaches and return
 * the new end of contiguous data. */
uint32_t ts_tcp_ooo_advance(struct ts_tcp_ooo *o, uint32_t end);
/* 0, or -1 with a description (sortedness, bounds). */
int ts_tcp_ooo_check(const struct ts_tcp_ooo *o, uint32_t rcv_nxt, uint32_t limit,
                     char *err, size_t cap);

#endif

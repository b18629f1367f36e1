/*
 * tcp_out.c -- segment output: headers and options (RFC 9293 3.1, MSS 3.7.1,
 * window scale RFC 7323 2), the send loop limited by the peer's window and
 * cwnd (RFC 5681), Nagle (RFC 896, RFC 1122 4.2.3.4), sender and receiver
 * silly window avoidance (RFC 9293 3.8.6.2.1/2), window updates, FIN, and
 * RST replies (RFC 9293 3.10.7.1 reset generation). Segments are built in a
 * struct ts_pkt on the C stack; the payload is copied once from the ring.
 */
#include "tcp.h"

uint32_t ts_tcp_fin_seq(const struct ts_tcb *t)
{
    return t->snd_buf_seq + t->sbuf.len;
}

int ts_tcp_fin_acked(const struct ts_tcb *t)
{
    return t->fin_queued && SEQ_GT(t->snd_una, ts_tcp_fin_seq(t));
}

/* Data in the ring not yet sent (from snd_nxt on). */
uint32_t ts_tcp_unsent(const struct ts_tcb *t)
{
    uint32_t end = t->snd_buf_seq + t->sbuf.len;
    uint32_t start = SEQ_LT(t->snd_nxt, t->snd_buf_seq) ? t->snd_buf_seq : t->snd_nxt;
    return SEQ_LT(start, end) ? end - start : 0;
}

/* Receive window to advertise (RFC 9293 3.8.6.2.2): the free space of the
 * ring, but the right edge only moves by min(rcvbuf/2, MSS) or more and
 * never moves left. Updates rcv_adv; returns the unscaled window. */
uint32_t ts_tcp_rcv_window(struct ts_tcb *t)
{
    uint32_t free = ts_tcp_ring_free(&t->rbuf);
    uint32_t max = (uint32_t)65535 << t->rcv_wscale;
    uint32_t cur = SEQ_GT(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0;
    uint32_t step = t->rbuf.cap / 2 < t->rcv_mss ? t->rbuf.cap / 2 : t->rcv_mss;
    if (free > max)
        free = max;
    uint32_t wnd = cur;
    if (free > cur && free - cur >= step)
        wnd = free;
    wnd = (wnd >> t->rcv_wscale) << t->rcv_wscale;
    if (wnd > cur)
        t->rcv_adv = t->rcv_nxt + wnd;
    else
        wnd = cur;
    return wnd;
}

static size_t ts_tcp_put_syn_opts(struct ts_tcb *t, uint8_t *o)
{
    o[0] = 2;
    o[1] = 4;
    ts_put16(o + 2, t->rcv_mss);
    if ((t->state == TS_SYN_SENT && t->wscale_opt) || (t->state != TS_SYN_SENT && t->wscale_ok)) {
        o[4] = 1;
        o[5] = 3;
        o[6] = 3;
        o[7] = t->rcv_wscale;
        return 8;
    }
    return 4;
}

static void ts_tcp_finish(struct ts_stack *s, struct ts_pkt *p, uint32_t src, uint32_t dst)
{
    uint8_t *h = ts_pkt_data(p);
    uint32_t sum = ts_csum_pseudo(src, dst, TS_IP_TCP, (uint16_t)p->len);
    ts_put16(h + 16, ts_csum_fold(ts_csum_add(sum, h, p->len)));
    struct ts_ip_out o = { .src = src, .dst = dst, .proto = TS_IP_TCP, .ttl = 64 };
    TS_STAT_INC(s, TCP_TX);
    if (ts_ip_output(s, p, &o) < 0)
        TS_STAT_INC(s, TCP_TX_ERR);
}

int ts_tcp_send_seg(struct ts_tcb *t, uint32_t seq, uint32_t len, uint8_t flags)
{
    struct ts_pkt p;
    ts_pkt_init(&p);
    if (len) {
        uint32_t off = seq - t->snd_buf_seq;
        assert((uint64_t)off + len <= t->sbuf.len);
        ts_tcp_ring_peek(&t->sbuf, off, ts_pkt_put(&p, len), len);
    }
    uint8_t opts[8];
    size_t olen = (flags & TS_TCP_SYN) ? ts_tcp_put_syn_opts(t, opts) : 0;
    uint8_t *h = ts_pkt_push(&p, TS_TCP_HLEN + olen);
    memcpy(h + TS_TCP_HLEN, opts, olen);
    uint32_t wnd;
    if (flags & TS_TCP_SYN) {   /* never scaled in a SYN (RFC 7323 2.2) */
        wnd = t->rbuf.cap > 65535 ? 65535 : t->rbuf.cap;
        if (flags & TS_TCP_ACK)
            t->rcv_adv = t->rcv_nxt + wnd;
    } else {
        wnd = (flags & TS_TCP_ACK) ? ts_tcp_rcv_window(t) >> t->rcv_wscale : 0;
        if (wnd > 65535)
            wnd = 65535;
    }
    ts_put16(h, t->lport);
    ts_put16(h + 2, t->rport);
    ts_put32(h + 4, seq);
    ts_put32(h + 8, (flags & TS_TCP_ACK) ? t->rcv_nxt : 0);
    h[12] = (uint8_t)((TS_TCP_HLEN + olen) / 4) << 4;
    h[13] = flags;
    ts_put16(h + 14, (uint16_t)wnd);
    ts_put16(h + 16, 0);
    ts_put16(h + 18, 0);
    if (flags & TS_TCP_ACK) {
        t->ack_now = 0;
        t->ack_delayed = 0;
        t->t_delack = TS_TCP_OFF;
        t->rcv_unacked = 0;
    }
    if (flags & TS_TCP_RST)
        TS_STAT_INC(t->s, TCP_RST_TX);
    ts_tcp_finish(t->s, &p, t->lip, t->rip);
    return 0;
}

/* Account for a segment [seq, seq+len(+fin)) just sent. */
static void ts_tcp_sent(struct ts_tcb *t, uint32_t seq, uint32_t seglen)
{
    uint32_t end = seq + seglen;
    if (SEQ_LT(seq, t->snd_max)) {
        t->retransmits++;
        TS_STAT_INC(t->s, TCP_RETRANSMITS);
        if (t->rtt_timing && SEQ_LT(seq, t->rtt_seq))
            t->rtt_timing = 0;   /* Karn: no sample from retransmitted data */
    } else if (!t->rtt_timing) {
        t->rtt_timing = 1;
        t->rtt_seq = end;
        t->rtt_time = ts_now(t->s);
    }
    if (SEQ_GT(end, t->snd_nxt))
        t->snd_nxt = end;
    if (SEQ_GT(end, t->snd_max))
        t->snd_max = end;
}

void ts_tcp_send_syn(struct ts_tcb *t)
{
    uint8_t flags = TS_TCP_SYN | (t->state == TS_SYN_SENT ? 0 : TS_TCP_ACK);
    ts_tcp_send_seg(t, t->iss, 0, flags);
    ts_tcp_sent(t, t->iss, 1);
}

/* A pure ACK carries SND.MAX, not SND.NXT: after an RTO pulled SND.NXT back
 * (go-back-N), the peer may already hold everything up to SND.MAX, and an
 * ACK numbered below its RCV.NXT would be rejected as old, so two such peers
 * could never exchange their acknowledgments (Linux keeps SND.NXT there). */
void ts_tcp_send_ack(struct ts_tcb *t)
{
    ts_tcp_send_seg(t, t->snd_max, 0, TS_TCP_ACK);
}

void ts_tcp_send_rst(struct ts_tcb *t)
{
    ts_tcp_send_seg(t, t->snd_max, 0, TS_TCP_RST | TS_TCP_ACK);
}

/* Resend the first unacknowledged segment, whatever the windows say (RTO,
 * fast retransmit, RFC 6582 partial ACK). */
void ts_tcp_retransmit_first(struct ts_tcb *t)
{
    if (t->state == TS_SYN_SENT || t->state == TS_SYN_RECEIVED) {
        ts_tcp_send_syn(t);
        return;
    }
    uint32_t seq = t->snd_una;
    uint32_t data_end = t->snd_buf_seq + t->sbuf.len;
    uint32_t len = SEQ_LT(seq, data_end) ? data_end - seq : 0;
    uint32_t sent = t->snd_max - seq;
    uint8_t flags = TS_TCP_ACK;
    if (len > sent)
        len = sent;
    if (len > t->mss)
        len = t->mss;
    uint32_t seglen = len;
    if (t->fin_queued && seq + len == data_end && SEQ_GT(t->snd_max, data_end)) {
        flags |= TS_TCP_FIN;
        seglen++;
    }
    if (seglen == 0)
        return;
    ts_tcp_send_seg(t, seq, len, flags | (len ? TS_TCP_PSH : 0));
    ts_tcp_sent(t, seq, seglen);
}

/* Persist timeout (RFC 9293 3.8.6.1, RFC 1122 4.2.2.17). With a window
 * too small for SWS avoidance, send what fits (3.8.6.2.1 override). With a
 * zero window, probe the way Linux does: a segment with an old sequence
 * number, which the peer must answer with an ACK carrying its window. A
 * probe byte beyond the window would move SND.NXT past the peer's RCV.NXT,
 * and two such peers with zero windows answer each other's ACKs forever. */
void ts_tcp_persist_probe(struct ts_tcb *t)
{
    uint32_t unsent = ts_tcp_unsent(t);
    uint32_t flight = ts_tcp_in_flight(t);
    uint32_t len = t->snd_wnd > flight ? t->snd_wnd - flight : 0;
    if (len == 0) {
        ts_tcp_send_seg(t, t->snd_una - 1, 0, TS_TCP_ACK);
        return;
    }
    if (len > unsent)
        len = unsent;
    if (len > t->mss)
        len = t->mss;
    if (len == 0)
        return;
    uint32_t seq = t->snd_nxt;
    ts_tcp_send_seg(t, seq, len, TS_TCP_ACK | TS_TCP_PSH);
    ts_tcp_sent(t, seq, len);
}

/* May a segment of len < MSS go now? Nagle and sender SWS avoidance. */
static int ts_tcp_small_ok(const struct ts_tcb *t, uint32_t len, uint32_t unsent,
                           uint32_t flight)
{
    if (len == unsent)   /* all queued data: Nagle (RFC 1122 4.2.3.4) */
        return t->nodelay || flight == 0 || t->fin_queued;
    uint32_t wnd_left = t->snd_wnd > flight ? t->snd_wnd - flight : 0;
    return len == wnd_left && len >= t->max_snd_wnd / 2;   /* RFC 9293 3.8.6.2.1 */
}

/* The most payload one segment may carry: the MSS, or with segmentation
 * offload (cfg.tso) as many whole MSS as the link takes in one packet. */
static uint32_t ts_tcp_send_max(const struct ts_tcb *t)
{
    uint32_t tso = t->s->tso;
    if (tso <= t->mss + 40u)
        return t->mss;
    uint32_t n = (tso - 40u) / t->mss;
    return n * t->mss;
}

static int ts_tcp_send_data(struct ts_tcb *t)
{
    uint32_t unsent = ts_tcp_unsent(t);
    uint32_t flight = ts_tcp_in_flight(t);
    uint32_t win = t->snd_wnd < t->cwnd ? t->snd_wnd : t->cwnd;
    uint32_t len = win > flight ? win - flight : 0;
    uint32_t seq = SEQ_LT(t->snd_nxt, t->snd_buf_seq) ? t->snd_buf_seq : t->snd_nxt;
    if (len > unsent)
        len = unsent;
    uint32_t most = ts_tcp_send_max(t);
    if (len > most)
        len = most;
    if (len == 0)
        return 0;
    if (len < t->mss && SEQ_GEQ(seq, t->snd_max) && !ts_tcp_small_ok(t, len, unsent, flight))
        return 0;
    uint8_t flags = TS_TCP_ACK;
    uint32_t seglen = len;
    if (len == unsent) {
        flags |= TS_TCP_PSH;
        if (t->fin_queued) {
            flags |= TS_TCP_FIN;
            seglen++;
        }
    }
    ts_tcp_send_seg(t, seq, len, flags);
    ts_tcp_sent(t, seq, seglen);
    return 1;
}

/* Send what the windows, Nagle and SWS avoidance allow, then the FIN, then a
 * pending ACK; re-arm the retransmission and persist timers. */
int ts_tcp_output(struct ts_tcb *t)
{
    int sent = 0;
    if (ts_tcp_synced(t->state) && t->state != TS_TIME_WAIT) {
        while (ts_tcp_send_data(t))
            sent++;
        if (t->fin_queued && ts_tcp_unsent(t) == 0 && t->snd_nxt == ts_tcp_fin_seq(t)) {
            ts_tcp_send_seg(t, t->snd_nxt, 0, TS_TCP_FIN | TS_TCP_ACK);
            ts_tcp_sent(t, t->snd_nxt, 1);
            sent++;
        }
    }
    if (t->ack_now && t->state != TS_CLOSED)
        ts_tcp_send_ack(t);
    ts_tcp_arm_timers(t);
    return sent;
}

/* After the application read: announce a window that grew by 2 MSS (or
 * half the buffer), or any useful opening of a window below one MSS. */
void ts_tcp_window_update(struct ts_tcb *t)
{
    uint32_t cur = SEQ_GT(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0;
    uint32_t free = ts_tcp_ring_free(&t->rbuf);
    uint32_t half = t->rbuf.cap / 2;
    uint32_t big = 2u * t->rcv_mss < half ? 2u * t->rcv_mss : half;
    uint32_t small = t->rcv_mss < half ? t->rcv_mss : half;
    if (free <= cur)
        return;
    if (free - cur >= big || (cur < t->rcv_mss && free - cur >= small)) {
        t->ack_now = 1;
        ts_tcp_output(t);
    }
}

/* RST for a segment no connection wants (RFC 9293 3.10.7.1). */
void ts_tcp_reply_rst(struct ts_stack *s, const struct ts_ip_info *ip, const uint8_t *seg,
                      uint32_t seg_len)
{
    uint8_t flags = seg[13];
    if (flags & TS_TCP_RST)
        return;
    struct ts_pkt p;
    ts_pkt_init(&p);
    uint8_t *h = ts_pkt_push(&p, TS_TCP_HLEN);
    memset(h, 0, TS_TCP_HLEN);
    ts_put16(h, ts_get16(seg + 2));
    ts_put16(h + 2, ts_get16(seg));
    if (flags & TS_TCP_ACK) {
        ts_put32(h + 4, ts_get32(seg + 8));
        h[13] = TS_TCP_RST;
    } else {
        ts_put32(h + 8, ts_get32(seg + 4) + seg_len);
        h[13] = TS_TCP_RST | TS_TCP_ACK;
    }
    h[12] = (TS_TCP_HLEN / 4) << 4;
    TS_STAT_INC(s, TCP_RST_TX);
    ts_tcp_finish(s, &p, ip->dst, ip->src);
}

/*
 * tcp_ack.c -- segment arrival in SYN-RECEIVED and the synchronized states
 * (RFC 9293 3.10.7.4): sequence acceptability and trimming to the window,
 * RST (with RFC 5961 3 exact-match/challenge ACK), SYN (RFC 5961 4
 * challenge ACK), ACK processing with the send-window update rule, RTT
 * sampling (RFC 6298, Karn), duplicate ACKs, fast retransmit and NewReno
 * fast recovery (RFC 5681 3.2, RFC 6582 3.2 with partial ACKs), segment
 * text with the out-of-order assembler, delayed/immediate ACKs (RFC 5681
 * 4.2), and FIN processing with the close state transitions (3.6).
 */
#include "tcp.h"

static int ts_tcp_in_wnd(uint32_t x, uint32_t rcv_nxt, uint32_t wnd)
{
    return SEQ_LEQ(rcv_nxt, x) && SEQ_LT(x, rcv_nxt + wnd);
}

/* RFC 9293 3.10.7.4 "first, check sequence number", the four cases. */
static int ts_tcp_acceptable(const struct ts_tcp_seg *g, uint32_t rcv_nxt, uint32_t wnd)
{
    if (g->seglen == 0)
        return wnd == 0 ? g->seq == rcv_nxt : ts_tcp_in_wnd(g->seq, rcv_nxt, wnd);
    if (wnd == 0)
        return 0;
    return ts_tcp_in_wnd(g->seq, rcv_nxt, wnd) ||
           ts_tcp_in_wnd(g->seq + g->seglen - 1, rcv_nxt, wnd);
}

/* Cut what lies before RCV.NXT and beyond the advertised edge. */
static void ts_tcp_trim(struct ts_tcb *t, struct ts_tcp_seg *g)
{
    if (SEQ_LT(g->seq, t->rcv_nxt)) {
        uint32_t d = t->rcv_nxt - g->seq;
        if (g->flags & TS_TCP_SYN) {
            g->flags &= (uint8_t)~TS_TCP_SYN;
            g->seq++;
            d--;
        }
        if (d > g->len)
            d = g->len;
        g->data += d;
        g->len -= d;
        g->seq += d;
        if (SEQ_LT(g->seq, t->rcv_nxt))   /* a duplicate FIN */
            g->flags &= (uint8_t)~TS_TCP_FIN;
    }
    /* A FIN right at the edge is taken (it needs no buffer space; Linux is
     * as lenient), one behind trimmed data is not. */
    uint32_t room = SEQ_GT(t->rcv_adv, g->seq) ? t->rcv_adv - g->seq : 0;
    if (g->len > room) {
        g->len = room;
        g->flags &= (uint8_t)~TS_TCP_FIN;
        t->ack_now = 1;
    }
}

static void ts_tcp_enter_recovery(struct ts_tcb *t, uint64_t now)
{
    TS_STAT_INC(t->s, TCP_FAST_RETRANSMITS);
    t->cc->on_loss(t, now);
    t->recover = t->snd_max;
    t->in_recovery = 1;
    t->cwnd = t->ssthresh + 3u * t->mss;
    ts_tcp_retransmit_first(t);
}

/* A duplicate ACK (RFC 5681 2, conditions a-e; window must not be 0). */
static void ts_tcp_dupack(struct ts_tcb *t, uint64_t now)
{
    TS_STAT_INC(t->s, TCP_DUP_ACKS);
    t->dupacks++;
    if (t->in_recovery) {
        if (t->cwnd <= UINT32_MAX / 2)
            t->cwnd += t->mss;   /* inflation, RFC 6582 3.2 step 4 */
        return;
    }
    if (t->dupacks != 3)
        return;
    /* RFC 6582 3.2 step 2: only if this loss is past the last recovery
     * point, or the ack heuristic of 4.1 says the dupacks are real. */
    if (SEQ_GT(t->snd_una, t->recover) ||
        (t->cwnd > t->mss && t->snd_una - t->recover <= 4u * t->mss))
        ts_tcp_enter_recovery(t, now);
}

/* Grow cwnd only while it limits the sender (RFC 7661 spirit, as Linux's
 * tcp_is_cwnd_limited): an application- or receiver-limited flow would
 * otherwise inflate it without bound and CUBIC's W_max with it. */
static int ts_tcp_cwnd_limited(const struct ts_tcb *t, uint32_t flight)
{
    if (t->cwnd < t->ssthresh)
        return flight >= t->cwnd / 2;
    return (uint64_t)flight + 3u * t->mss >= t->cwnd;
}

static void ts_tcp_new_ack(struct ts_tcb *t, uint32_t ack, uint64_t now)
{
    uint32_t acked = ack - t->snd_una;
    uint32_t flight = t->snd_max - t->snd_una;   /* before this ACK */
    if (t->rtt_timing && SEQ_GEQ(ack, t->rtt_seq)) {
        ts_tcp_rtt_sample(t, (uint32_t)(now - t->rtt_time));
        t->rtt_timing = 0;
    }
    t->retries = 0;
    t->backoff = 0;
    if (SEQ_GT(ack, t->snd_buf_seq)) {
        uint32_t n = ack - t->snd_buf_seq;
        if (n > t->sbuf.len)
            n = t->sbuf.len;
        ts_tcp_ring_drop(&t->sbuf, n);
        t->snd_buf_seq += n;
    }
    t->snd_una = ack;
    if (SEQ_LT(t->snd_nxt, ack))
        t->snd_nxt = ack;
    if (t->in_recovery && SEQ_GEQ(ack, t->recover)) {   /* full ACK */
        uint32_t flight = t->snd_max - t->snd_una;
        t->in_recovery = 0;
        t->dupacks = 0;
        t->cwnd = t->ssthresh < flight + t->mss ? t->ssthresh : flight + t->mss;
        if (t->cwnd < t->mss)
            t->cwnd = t->mss;
    } else if (t->in_recovery) {   /* partial ACK, RFC 6582 3.2 step 5 */
        ts_tcp_retransmit_first(t);
        t->cwnd = t->cwnd > acked ? t->cwnd - acked : 0;
        if (acked >= t->mss)
            t->cwnd += t->mss;
        if (t->cwnd < t->mss)
            t->cwnd = t->mss;
    } else {
        t->dupacks = 0;
        if (ts_tcp_cwnd_limited(t, flight))
            t->cc->on_ack(t, acked, now);
    }
    ts_tcp_restart_rtx(t);
}

/* RFC 9293 3.10.7.4 "fifth, check the ACK field". 0: go on, -1: drop. */
static int ts_tcp_ack(struct ts_tcb *t, const struct ts_tcp_seg *g)
{
    uint64_t now = ts_now(t->s);
    if (SEQ_GT(g->ack, t->snd_max)) {
        TS_STAT_INC(t->s, TCP_DROP_BAD_ACK);
        t->ack_now = 1;
        return -1;
    }
    uint32_t old_wnd = t->snd_wnd;
    if (SEQ_GEQ(g->ack, t->snd_una) &&
        (SEQ_LT(t->snd_wl1, g->seq) || (t->snd_wl1 == g->seq && SEQ_LEQ(t->snd_wl2, g->ack)))) {
        t->snd_wnd = g->wnd << t->snd_wscale;
        if (t->snd_wnd > t->max_snd_wnd)
            t->max_snd_wnd = t->snd_wnd;
        t->snd_wl1 = g->seq;
        t->snd_wl2 = g->ack;
    }
    if (SEQ_GT(g->ack, t->snd_una)) {
        ts_tcp_new_ack(t, g->ack, now);
    } else if (g->ack == t->snd_una) {
        if (g->seglen == 0 && t->snd_wnd == old_wnd && t->snd_wnd != 0 &&
            t->snd_max != t->snd_una)
            ts_tcp_dupack(t, now);
        if (t->snd_wnd == 0)
            t->retries = 0;   /* the peer answers our probes (RFC 1122 4.2.2.17) */
    }
    return 0;
}

/* RFC 9293 3.10.7.4 "seventh, process the segment text". */
static void ts_tcp_data(struct ts_tcb *t, const struct ts_tcp_seg *g)
{
    if (g->len > t->rcv_seg_max)
        t->rcv_seg_max = g->len;
    if (g->seq == t->rcv_nxt) {
        int filled = t->ooo.n > 0;
        ts_tcp_ring_write_at(&t->rbuf, t->rbuf.len, g->data, g->len);
        uint32_t end = ts_tcp_ooo_advance(&t->ooo, t->rcv_nxt + g->len);
        uint32_t n = end - t->rcv_nxt;
        t->rbuf.len += n;
        t->rcv_nxt = end;
        t->rcv_unacked += n;
        ts_tcp_schedule_ack(t, filled);   /* at once when filling a hole */
        return;
    }
    TS_STAT_INC(t->s, TCP_OOO_SEGS);
    t->ack_now = 1;                        /* RFC 5681 4.2: immediate dupack */
    if (ts_tcp_ooo_add(&t->ooo, t->rcv_nxt, g->seq, g->seq + g->len) < 0) {
        TS_STAT_INC(t->s, TCP_DROP_OOO_LIMIT);
        return;
    }
    ts_tcp_ring_write_at(&t->rbuf, t->rbuf.len + (g->seq - t->rcv_nxt), g->data, g->len);
}

/* RFC 9293 3.10.7.4 "eighth, check the FIN bit". */
static void ts_tcp_fin(struct ts_tcb *t)
{
    t->rcv_nxt++;
    if (SEQ_LT(t->rcv_adv, t->rcv_nxt))
        t->rcv_adv = t->rcv_nxt;   /* a FIN at the window's edge */
    t->fin_rcvd = 1;
    t->fin_ooo = 0;
    t->ooo.n = 0;   /* anything held beyond the peer's FIN is bogus */
    t->ack_now = 1;
    switch (t->state) {
    case TS_ESTABLISHED:
        ts_tcp_set_state(t, TS_CLOSE_WAIT);
        break;
    case TS_FIN_WAIT_1:
        if (ts_tcp_fin_acked(t))
            ts_tcp_enter_time_wait(t);
        else
            ts_tcp_set_state(t, TS_CLOSING);
        break;
    case TS_FIN_WAIT_2:
        ts_tcp_enter_time_wait(t);
        break;
    default:
        break;
    }
}

/* Answering an unacceptable segment without data with an ACK is rate
 * limited (as Linux's tcp_oow_rate_limited, RFC 5961 7): two stacks that
 * each find the other's ACKs unacceptable would otherwise loop. */
static int ts_tcp_oow_limited(struct ts_tcb *t, const struct ts_tcp_seg *g)
{
    uint64_t now = ts_now(t->s);
    if (g->len && !(g->flags & TS_TCP_SYN))
        return 0;
    if (t->oow_acked && now - t->oow_ack_time < TS_TCP_OOW_RATE_US) {
        TS_STAT_INC(t->s, TCP_ACK_RATELIMITED);
        return 1;
    }
    t->oow_acked = 1;
    t->oow_ack_time = now;
    return 0;
}

/* RST in the window (RFC 9293 3.10.7.4 second, RFC 5961 3.2). 1: t gone. */
static int ts_tcp_rst(struct ts_tcb *t, const struct ts_tcp_seg *g)
{
    if (g->seq != t->rcv_nxt) {
        if (!ts_tcp_oow_limited(t, g)) {
            TS_STAT_INC(t->s, TCP_CHALLENGE_ACKS);
            ts_tcp_send_ack(t);
        }
        return 0;
    }
    TS_STAT_INC(t->s, TCP_RST_RX);
    int err = ECONNRESET;
    if (t->state == TS_SYN_RECEIVED)
        err = t->parent ? 0 : ECONNREFUSED;
    else if (t->state == TS_CLOSING || t->state == TS_LAST_ACK || t->state == TS_TIME_WAIT)
        err = 0;
    ts_tcp_closed(t, err);
    return 1;
}

/* After the ACK: close-state transitions on our FIN being acknowledged.
 * 1: t gone. */
static int ts_tcp_fin_ack_state(struct ts_tcb *t)
{
    if (!ts_tcp_fin_acked(t))
        return 0;
    if (t->state == TS_FIN_WAIT_1)
        ts_tcp_set_state(t, TS_FIN_WAIT_2);
    else if (t->state == TS_CLOSING)
        ts_tcp_enter_time_wait(t);
    else if (t->state == TS_LAST_ACK)
        return ts_tcp_closed(t, 0) || 1;
    return 0;
}

/* The FIN counts once every byte before it has arrived; one that comes
 * ahead of a hole is remembered (it is within the window) so that filling
 * the hole completes the close without waiting for a retransmission. */
static void ts_tcp_fin_check(struct ts_tcb *t, const struct ts_tcp_seg *g)
{
    if (t->fin_ooo && SEQ_GEQ(t->rcv_nxt, t->fin_ooo_seq)) {
        t->fin_ooo = 0;
        if (t->rcv_nxt == t->fin_ooo_seq && !t->fin_rcvd && t->state != TS_CLOSE_WAIT)
            ts_tcp_fin(t);
    }
    if (!(g->flags & TS_TCP_FIN))
        return;
    uint32_t fin = g->seq + g->len;
    if (fin == t->rcv_nxt) {
        if (t->state == TS_TIME_WAIT)
            t->t_2msl = ts_now(t->s) + 2 * TS_TCP_MSL_US;
        if (!t->fin_rcvd)
            ts_tcp_fin(t);
        else
            t->ack_now = 1;
    } else if (SEQ_GT(fin, t->rcv_nxt) && !t->fin_rcvd && !t->released &&
               (t->state == TS_ESTABLISHED || t->state == TS_FIN_WAIT_1 ||
                t->state == TS_FIN_WAIT_2)) {
        t->fin_ooo = 1;
        t->fin_ooo_seq = fin;
    }
}

static int ts_tcp_check_seq(struct ts_tcb *t, struct ts_tcp_seg *g)
{
    uint32_t wnd = SEQ_GT(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0;
    if (ts_tcp_acceptable(g, t->rcv_nxt, wnd))
        return 0;
    if (wnd == 0 && g->seq == t->rcv_nxt && !(g->flags & TS_TCP_SYN)) {
        /* zero window: still take the ACK (RFC 9293 3.8.6.1), and a FIN
         * that carries no data */
        if (g->len)
            g->flags &= (uint8_t)~TS_TCP_FIN;
        g->len = 0;
        t->ack_now = 1;
        return 0;
    }
    TS_STAT_INC(t->s, TCP_DROP_OUT_OF_WINDOW);
    if (g->flags & TS_TCP_RST)
        return -1;
    if (t->state == TS_TIME_WAIT && (g->flags & TS_TCP_FIN))
        t->t_2msl = ts_now(t->s) + 2 * TS_TCP_MSL_US;
    if (!ts_tcp_oow_limited(t, g)) {
        t->ack_now = 1;
        ts_tcp_output(t);
    }
    return -1;
}

void ts_tcp_input_synced(struct ts_tcb *t, struct ts_tcp_seg *g, const struct ts_ip_info *ip,
                         const uint8_t *raw)
{
    struct ts_stack *s = t->s;
    if (t->state == TS_SYN_RECEIVED && (g->flags & TS_TCP_SYN) && !(g->flags & TS_TCP_ACK) &&
        g->seq == t->irs) {
        ts_tcp_retransmit_first(t);   /* the peer did not get our SYN-ACK */
        return;
    }
    if (ts_tcp_check_seq(t, g) < 0)
        return;
    if (g->flags & TS_TCP_RST) {
        ts_tcp_rst(t, g);
        return;
    }
    if (g->flags & TS_TCP_SYN) {   /* RFC 5961 4.2 */
        if (!ts_tcp_oow_limited(t, g)) {
            TS_STAT_INC(s, TCP_CHALLENGE_ACKS);
            ts_tcp_send_ack(t);
        }
        return;
    }
    if (!(g->flags & TS_TCP_ACK)) {
        TS_STAT_INC(s, TCP_DROP_NO_ACK);
        return;
    }
    if (t->state == TS_SYN_RECEIVED) {
        if (SEQ_LEQ(g->ack, t->snd_una) || SEQ_GT(g->ack, t->snd_max)) {
            TS_STAT_INC(s, TCP_DROP_BAD_ACK);
            ts_tcp_reply_rst(s, ip, raw, g->seglen);
            return;
        }
        ts_tcp_set_state(t, TS_ESTABLISHED);
        t->snd_wl1 = g->seq - 1;   /* let this segment set the window */
    }
    if (ts_tcp_ack(t, g) < 0) {
        ts_tcp_output(t);
        return;
    }
    if (ts_tcp_fin_ack_state(t))
        return;
    ts_tcp_trim(t, g);
    int st = t->state;
    if (g->len > 0 && (st == TS_ESTABLISHED || st == TS_FIN_WAIT_1 || st == TS_FIN_WAIT_2)) {
        if (t->released) {   /* nobody will read it: reset (RFC 2525 2.17) */
            TS_STAT_INC(s, TCP_DROP_AFTER_CLOSE);
            ts_tcp_send_rst(t);
            ts_tcp_closed(t, ECONNRESET);
            return;
        }
        ts_tcp_data(t, g);
    }
    ts_tcp_fin_check(t, g);
    ts_tcp_output(t);
}

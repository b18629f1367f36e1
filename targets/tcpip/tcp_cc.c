/*
 * tcp_cc.c -- congestion control shared pieces and NewReno (RFC 5681 3.1:
 * slow start with appropriate byte counting RFC 3465 L=2, congestion
 * avoidance by byte counting, ssthresh = max(FlightSize/2, 2*SMSS); the
 * fast recovery of RFC 6582 is driven by tcp_in.c). Initial window 10
 * segments (RFC 6928).
 */
#include "tcp.h"

uint32_t ts_tcp_cc_slow_start(struct ts_tcb *t, uint32_t acked)
{
    uint32_t inc = acked < 2u * t->mss ? acked : 2u * t->mss;
    uint32_t room = t->ssthresh > t->cwnd ? t->ssthresh - t->cwnd : 0;
    if (inc > room)
        inc = room;    /* RFC 5681: slow start up to ssthresh, then CA */
    t->cwnd += inc;
    return acked - inc;
}

uint32_t ts_tcp_cc_half_flight(const struct ts_tcb *t)
{
    uint32_t half = (t->snd_max - t->snd_una) / 2;
    return half > 2u * t->mss ? half : 2u * t->mss;
}

static void ts_tcp_reno_init(struct ts_tcb *t)
{
    t->cwnd = TS_TCP_IW_SEGS * (uint32_t)t->mss;
    t->ssthresh = UINT32_MAX / 2;
    t->cc_acc = 0;
}

static void ts_tcp_reno_on_ack(struct ts_tcb *t, uint32_t acked, uint64_t now)
{
    (void)now;
    if (t->cwnd < t->ssthresh)
        acked = ts_tcp_cc_slow_start(t, acked);
    if (acked == 0 || t->cwnd < t->ssthresh)
        return;
    t->cc_acc += acked;   /* RFC 5681 eq. 3 by byte counting */
    if (t->cc_acc >= t->cwnd) {
        t->cc_acc -= t->cwnd;
        if (t->cwnd <= UINT32_MAX / 2)
            t->cwnd += t->mss;
    }
}

static void ts_tcp_reno_on_loss(struct ts_tcb *t, uint64_t now)
{
    (void)now;
    t->ssthresh = ts_tcp_cc_half_flight(t);
    t->cc_acc = 0;
}

static void ts_tcp_reno_on_timeout(struct ts_tcb *t, uint64_t now)
{
    (void)now;
    t->ssthresh = ts_tcp_cc_half_flight(t);
    t->cwnd = t->mss;    /* loss window, RFC 5681 3.1 */
    t->cc_acc = 0;
}

const struct ts_tcp_cc_ops ts_tcp_newreno = {
    .name = "newreno",
    .init = ts_tcp_reno_init,
    .on_ack = ts_tcp_reno_on_ack,
    .on_loss = ts_tcp_reno_on_loss,
    .on_timeout = ts_tcp_reno_on_timeout,
};

const struct ts_tcp_cc_ops *ts_tcp_cc_ops_for(int kind)
{
    return kind == TS_CC_CUBIC ? &ts_tcp_cubic : &ts_tcp_newreno;
}

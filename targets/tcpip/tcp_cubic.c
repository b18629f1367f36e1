/*
 * tcp_cubic.c -- CUBIC congestion control (RFC 9438): on loss W_max is
 * recorded (with fast convergence, 4.7) and cwnd multiplied by beta 0.7
 * (4.6); in congestion avoidance cwnd follows W_cubic(t) = C (t - K)^3 +
 * W_max with C = 0.4 (4.2), K = cbrt((W_max - cwnd_epoch)/C), targeting
 * W_cubic(t + RTT) and clamped to 1.5 cwnd (4.4/4.5), but never below the
 * Reno-friendly estimate W_est (4.3, alpha 3(1-beta)/(1+beta)). Slow start
 * is standard (4.10). Windows are kept in bytes, CUBIC's formula runs in
 * segments.
 */
#include "tcp.h"

#include <math.h>

#define TS_CUBIC_C 0.4
#define TS_CUBIC_BETA 0.7

static void ts_cubic_init(struct ts_tcb *t)
{
    t->cwnd = TS_TCP_IW_SEGS * (uint32_t)t->mss;
    t->ssthresh = UINT32_MAX / 2;
    t->cc_acc = 0;
    memset(&t->cubic, 0, sizeof t->cubic);
}

static uint32_t ts_cubic_clamp(double w)
{
    if (!(w > 0))
        return 0;
    return w > (double)(UINT32_MAX / 2) ? UINT32_MAX / 2 : (uint32_t)w;
}

static void ts_cubic_epoch(struct ts_tcb *t, uint64_t now)
{
    struct ts_tcp_cubic *c = &t->cubic;
    double mss = t->mss, cwnd = t->cwnd / mss, wmax = c->w_max / mss;
    c->epoch_start = now ? now : 1;
    if (cwnd < wmax) {
        c->k = cbrt((wmax - cwnd) / TS_CUBIC_C);
        c->origin = c->w_max;
    } else {
        c->k = 0;
        c->origin = t->cwnd;
    }
    c->w_est = t->cwnd;
}

static void ts_cubic_on_ack(struct ts_tcb *t, uint32_t acked, uint64_t now)
{
    struct ts_tcp_cubic *c = &t->cubic;
    if (t->cwnd < t->ssthresh)
        acked = ts_tcp_cc_slow_start(t, acked);
    if (acked == 0 || t->cwnd < t->ssthresh)
        return;
    if (c->epoch_start == 0)
        ts_cubic_epoch(t, now);
    double mss = t->mss, cwnd = t->cwnd;
    double rtt = (t->srtt ? t->srtt : 100000) / 1e6;
    double el = (double)(now - c->epoch_start) / 1e6 + rtt - c->k;
    double target = (TS_CUBIC_C * el * el * el) * mss + c->origin;   /* bytes */
    if (target < cwnd)
        target = cwnd;
    if (target > 1.5 * cwnd)
        target = 1.5 * cwnd;
    double alpha = 3.0 * (1.0 - TS_CUBIC_BETA) / (1.0 + TS_CUBIC_BETA);
    c->w_est += alpha * mss * (double)acked / cwnd;                  /* 4.3 */
    double cubic_now = TS_CUBIC_C * (el - rtt) * (el - rtt) * (el - rtt) * mss + c->origin;
    double next;
    if (cubic_now < c->w_est)
        next = c->w_est > cwnd ? c->w_est : cwnd;                    /* Reno-friendly */
    else
        next = cwnd + (target - cwnd) * (double)acked / cwnd;        /* 4.4, 4.5 */
    uint32_t w = ts_cubic_clamp(next);
    if (w > t->cwnd)
        t->cwnd = w;
}

/* Multiplicative decrease and fast convergence (RFC 9438 4.6, 4.7). */
static void ts_cubic_reduce(struct ts_tcb *t)
{
    struct ts_tcp_cubic *c = &t->cubic;
    double cwnd = t->cwnd;
    if (cwnd < c->w_max)
        c->w_max = cwnd * (1.0 + TS_CUBIC_BETA) / 2.0;
    else
        c->w_max = cwnd;
    c->cwnd_prior = t->cwnd;
    uint32_t ss = ts_cubic_clamp(cwnd * TS_CUBIC_BETA);
    t->ssthresh = ss > 2u * t->mss ? ss : 2u * t->mss;
    c->epoch_start = 0;
    t->cc_acc = 0;
}

static void ts_cubic_on_loss(struct ts_tcb *t, uint64_t now)
{
    (void)now;
    ts_cubic_reduce(t);
}

static void ts_cubic_on_timeout(struct ts_tcb *t, uint64_t now)
{
    (void)now;
    ts_cubic_reduce(t);
    t->cwnd = t->mss;
}

const struct ts_tcp_cc_ops ts_tcp_cubic = {
    .name = "cubic",
    .init = ts_cubic_init,
    .on_ack = ts_cubic_on_ack,
    .on_loss = ts_cubic_on_loss,
    .on_timeout = ts_cubic_on_timeout,
};

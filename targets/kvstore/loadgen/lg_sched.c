/*
 * lg_sched.c -- the fixed-rate schedule (--rate), after wrk2
 * (https://github.com/giltene/wrk2): every request has an INTENDED send
 * time fixed in advance, independent of how fast the server answers.
 *
 * The total rate R is split evenly over the N connections: connection i
 * sends its n-th request at  start + i/R + n * N/R  (seconds), so the
 * union of all connections is one evenly spaced stream of period 1/R.
 * A request is sent at or after its intended time, when its connection
 * has a free pipeline slot; its latency is measured from the intended time,
 * not from the moment it could actually be sent.  That is the correction
 * for coordinated omission: when the server stalls, the requests that
 * should have been sent during the stall are charged the time they waited
 * rather than silently not being issued.
 *
 * Times are computed from n by multiplication (not accumulated), so
 * rounding does not drift over long runs.
 */
#include <assert.h>
#include <math.h>

#include "lg.h"

#define LG_SCHED_FAR_NS 1e18 /* about 31 years: beyond any run */

/* Nanoseconds as an integer; the clamp keeps the conversion defined. */
static uint64_t offset_ns(double ns)
{
    assert(ns >= 0.0);
    return (uint64_t)(ns < LG_SCHED_FAR_NS ? ns : LG_SCHED_FAR_NS);
}

void lg_sched_init(lg_sched *s, uint64_t start_ns, double total_rate,
                   int conn_index, int nconns)
{
    assert(total_rate > 0.0 && nconns > 0);
    assert(conn_index >= 0 && conn_index < nconns);
    double period_ns = 1e9 / total_rate; /* between any two requests */
    s->origin_ns = start_ns + offset_ns(period_ns * conn_index);
    s->interval_ns = period_ns * nconns; /* between this one's requests */
    s->n = 0;
}

uint64_t lg_sched_due(const lg_sched *s)
{
    return s->origin_ns + offset_ns(s->interval_ns * (double)s->n);
}

void lg_sched_advance(lg_sched *s)
{
    s->n++;
    assert(s->n > 0);
}

/* First request number whose intended time is at or after t_ns. */
static double first_at(const lg_sched *s, uint64_t t_ns)
{
    if (t_ns <= s->origin_ns)
        return 0.0;
    return ceil((double)(t_ns - s->origin_ns) / s->interval_ns);
}

/* How many requests not yet issued were intended in [from_ns, to_ns):
 * what a server (or generator) too slow for the rate left unsent. */
uint64_t lg_sched_missed(const lg_sched *s, uint64_t from_ns, uint64_t to_ns)
{
    assert(from_ns <= to_ns);
    double lo = first_at(s, from_ns), hi = first_at(s, to_ns);
    if (lo < (double)s->n)
        lo = (double)s->n;
    return hi > lo ? (uint64_t)(hi - lo) : 0;
}

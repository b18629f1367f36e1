/*
 * tcp_cc.h -- congestion control interface. The generic code (tcp_in.c)
 * runs loss detection, fast retransmit and NewReno fast recovery (RFC 5681
 * 3.2, RFC 6582); an algorithm is a small ops table that grows cwnd on new
 * ACKs, picks ssthresh when loss is detected, and reacts to an RTO. Adding
 * an algorithm (BBR...) is one file with one ops table plus an entry in
 * ts_tcp_cc_ops_for().
 */
#ifndef TS_TCP_CC_H
#define TS_TCP_CC_H

#include <stdint.h>

struct ts_tcb;

struct ts_tcp_cc_ops {
    const char *name;
    void (*init)(struct ts_tcb *t);
    /* `acked` bytes newly acknowledged outside fast recovery. */
    void (*on_ack)(struct ts_tcb *t, uint32_t acked, uint64_t now);
    /* Loss detected by duplicate ACKs: set ssthresh (the generic code then
     * sets cwnd = ssthresh + 3 MSS, RFC 6582 3.2 step 2). */
    void (*on_loss)(struct ts_tcb *t, uint64_t now);
    /* Retransmission timeout: set ssthresh and cwnd (RFC 5681 3.1). */
    void (*on_timeout)(struct ts_tcb *t, uint64_t now);
};

/* Per-connection CUBIC state (RFC 9438 4). Windows in bytes. */
struct ts_tcp_cubic {
    double w_max;                /* window before the last reduction */
    double k;                    /* seconds to reach w_max again */
    double origin;               /* W_max or cwnd at epoch start */
    double w_est;                /* Reno-friendly estimate (4.3) */
    uint64_t epoch_start;        /* us; 0: no epoch */
    uint32_t cwnd_prior;
};

extern const struct ts_tcp_cc_ops ts_tcp_newreno;
extern const struct ts_tcp_cc_ops ts_tcp_cubic;
const struct ts_tcp_cc_ops *ts_tcp_cc_ops_for(int kind);

/* Shared pieces: slow start growth (RFC 5681 3.1 with RFC 3465 L=2) and the
 * loss reaction ssthresh = max(FlightSize/2, 2*SMSS) (RFC 5681 eq. 4). */
uint32_t ts_tcp_cc_slow_start(struct ts_tcb *t, uint32_t acked);
uint32_t ts_tcp_cc_half_flight(const struct ts_tcb *t);

#endif

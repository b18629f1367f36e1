/*
 * tcp.h -- TCP internals shared by tcp*.c: the transmission control block
 * (RFC 9293 3.3.1 variables), the TCB table, sequence arithmetic, timers
 * and the functions the TCP files call in one another.
 */
#ifndef TS_TCP_H
#define TS_TCP_H

#include "ts.h"
#include "tcp_buf.h"
#include "tcp_cc.h"

/* Sequence comparisons modulo 2^32 (RFC 9293 3.4). */
#define SEQ_LT(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define SEQ_LEQ(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) <= 0)
#define SEQ_GT(a, b) SEQ_LT(b, a)
#define SEQ_GEQ(a, b) SEQ_LEQ(b, a)

#define TS_TCP_FIN 0x01
#define TS_TCP_SYN 0x02
#define TS_TCP_RST 0x04
#define TS_TCP_PSH 0x08
#define TS_TCP_ACK 0x10
#define TS_TCP_URG 0x20

#define TS_TCP_HLEN 20
#define TS_TCP_OFF 0xffffffffffffffffull  /* a timer that is not armed */
#define TS_TCP_MSL_US 30000000ull         /* RFC 9293 3.4.2: 2 min; Linux 30 s */
#define TS_TCP_FIN_TIMEOUT_US 60000000ull /* orphaned FIN-WAIT-2 (as Linux) */
#define TS_TCP_RTO_INIT_US 1000000u       /* RFC 6298 2.1 */
/* RFC 6298 2.4 says the RTO SHOULD be at least 1 s; like Linux we use
 * 200 ms, which modern networks and RFC 8961 consider safe. */
#define TS_TCP_RTO_MIN_US 200000u
#define TS_TCP_RTO_MAX_US 60000000u
#define TS_TCP_DELACK_US 40000u           /* RFC 1122 4.2.3.2: < 0.5 s */
#define TS_TCP_OOW_RATE_US 500000u        /* Linux tcp_invalid_ratelimit */
#define TS_TCP_MAX_RETRIES 15             /* data: RFC 1122 4.2.3.5 R2 */
#define TS_TCP_SYN_RETRIES 6
#define TS_TCP_SYNACK_RETRIES 5
#define TS_TCP_DEFAULT_MSS 536            /* RFC 9293 3.7.1 */
#define TS_TCP_MIN_MSS 64
#define TS_TCP_BUF_MIN 1024u
#define TS_TCP_BUF_MAX (64u << 20)
#define TS_TCP_DEFAULT_BUF (256u << 10)
#define TS_TCP_IW_SEGS 10                 /* RFC 6928 */
#define TS_TCP_HASH 256
#define TS_TCP_EPHEMERAL_LO 49152u

struct ts_tcb {
    struct ts_stack *s;
    struct ts_tcb *next, *prev;  /* table list */
    struct ts_tcb *hnext;        /* hash chain of connected TCBs */
    struct ts_tcb *parent;       /* listener of a not yet accepted child */
    struct ts_tcb *qnext;        /* next child of the same listener */
    struct ts_tcb *children;     /* listener: SYN-RECEIVED and accept queue */
    int backlog, n_syn, n_acc;   /* listener */

    uint8_t state;
    uint8_t hashed, app_owned, released, bound, completed;
    uint8_t fin_queued, fin_rcvd, ack_delayed, ack_now;
    uint8_t nodelay, delack, wscale_opt, cc_kind, wscale_ok;
    int err, soft_err;

    uint32_t lip, rip;
    uint16_t lport, rport;

    /* Send sequence space. snd_nxt may be pulled back to snd_una by an RTO;
     * snd_max is the highest sequence number sent. */
    uint32_t iss, snd_una, snd_nxt, snd_max, snd_wnd, max_snd_wnd;
    uint32_t snd_wl1, snd_wl2;
    uint32_t snd_buf_seq;        /* sequence number of sbuf's first byte */
    uint8_t snd_wscale, rcv_wscale;
    uint16_t mss;                /* effective send MSS */
    uint16_t rcv_mss;            /* the MSS we announced */

    /* Receive sequence space; rcv_adv is the right edge we advertised. */
    uint32_t irs, rcv_nxt, rcv_adv;
    uint32_t rcv_unacked;        /* bytes received since the last ACK sent */
    uint32_t rcv_seg_max;        /* largest segment received (ACK every 2) */
    uint32_t fin_ooo_seq;        /* a FIN that came before a hole was filled */
    uint8_t fin_ooo;

    struct ts_tcp_ring sbuf, rbuf;
    uint32_t sndbuf_size, rcvbuf_size;
    struct ts_tcp_ooo ooo;

    /* Timers: absolute us, TS_TCP_OFF when not armed. */
    uint64_t t_rtx, t_persist, t_delack, t_2msl;

    /* RTT estimation (RFC 6298), Karn's algorithm: one timed segment. */
    uint32_t srtt, rttvar, rto;  /* us; srtt 0: no sample yet */
    uint8_t backoff, rtt_timing;
    uint32_t retries;            /* consecutive RTO expirations */
    uint32_t rtt_seq;
    uint64_t rtt_time;
    uint32_t retransmits;        /* total segments retransmitted */
    uint64_t oow_ack_time;       /* last ACK for an unacceptable segment */
    uint8_t oow_acked;

    /* Congestion control. */
    const struct ts_tcp_cc_ops *cc;
    uint32_t cwnd, ssthresh, cc_acc;
    uint32_t dupacks, recover;
    uint8_t in_recovery;
    struct ts_tcp_cubic cubic;
};

struct ts_tcp_table {
    struct ts_tcb *all;
    struct ts_tcb *hash[TS_TCP_HASH];
    int count;
    size_t mem;                  /* bytes TCP holds through ts_alloc */
};

/* tcp.c */
struct ts_tcb *ts_tcp_lookup(struct ts_stack *s, uint32_t lip, uint16_t lport,
                             uint32_t rip, uint16_t rport);
struct ts_tcb *ts_tcp_lookup_listener(struct ts_stack *s, uint32_t lip, uint16_t lport);
struct ts_tcb *ts_tcp_new(struct ts_stack *s);
int ts_tcp_alloc_bufs(struct ts_tcb *t);
uint32_t ts_tcp_clamp_buf(size_t n);
void ts_tcp_hash_add(struct ts_tcb *t);
void ts_tcp_set_state(struct ts_tcb *t, int state);
/* The connection is over: CLOSED, timers off, unhashed, and freed if no
 * one holds it (the caller must not touch t after a return of 1). */
int ts_tcp_closed(struct ts_tcb *t, int err);
void ts_tcp_free(struct ts_tcb *t);
void ts_tcp_init_seq(struct ts_tcb *t);
void ts_tcp_choose_wscale(struct ts_tcb *t);

/* A received segment, parsed and checksummed (tcp_in.c). */
struct ts_tcp_seg {
    uint32_t seq, ack;
    uint32_t len;                /* payload bytes */
    uint32_t seglen;             /* len + SYN + FIN */
    uint32_t wnd;                /* the raw 16-bit window field */
    uint8_t flags;
    int wscale;                  /* -1: no option */
    uint16_t mss;                /* 0: no option */
    const uint8_t *data;
};

/* tcp_in.c */
void ts_tcp_parse_opts(const uint8_t *opt, size_t len, uint16_t *mss, int *wscale);

/* tcp_ack.c: RFC 9293 3.10.7.4 for the synchronized states. */
void ts_tcp_input_synced(struct ts_tcb *t, struct ts_tcp_seg *g, const struct ts_ip_info *ip,
                         const uint8_t *raw);

/* tcp_out.c */
int ts_tcp_output(struct ts_tcb *t);                      /* send what may go */
int ts_tcp_send_seg(struct ts_tcb *t, uint32_t seq, uint32_t len, uint8_t flags);
void ts_tcp_send_ack(struct ts_tcb *t);
void ts_tcp_send_syn(struct ts_tcb *t);
void ts_tcp_send_rst(struct ts_tcb *t);
void ts_tcp_retransmit_first(struct ts_tcb *t);
void ts_tcp_persist_probe(struct ts_tcb *t);
void ts_tcp_reply_rst(struct ts_stack *s, const struct ts_ip_info *ip, const uint8_t *seg,
                      uint32_t seg_len);
uint32_t ts_tcp_rcv_window(struct ts_tcb *t);             /* what to advertise */
uint32_t ts_tcp_unsent(const struct ts_tcb *t);
uint32_t ts_tcp_fin_seq(const struct ts_tcb *t);
int ts_tcp_fin_acked(const struct ts_tcb *t);
void ts_tcp_window_update(struct ts_tcb *t);              /* after the app read */

/* tcp_timer.c */
void ts_tcp_rtt_sample(struct ts_tcb *t, uint32_t rtt_us);
uint32_t ts_tcp_cur_rto(const struct ts_tcb *t);
void ts_tcp_arm_timers(struct ts_tcb *t);                 /* rtx/persist from state */
void ts_tcp_restart_rtx(struct ts_tcb *t);
void ts_tcp_enter_time_wait(struct ts_tcb *t);
void ts_tcp_timers(struct ts_tcb *t, uint64_t now);       /* run what is due */
uint64_t ts_tcp_next_timer(const struct ts_tcb *t);
void ts_tcp_schedule_ack(struct ts_tcb *t, int now);

/* tcp_check.c */
int ts_tcp_check_tcb(struct ts_stack *s, const struct ts_tcb *t, char *err, size_t cap);

static inline int ts_tcp_synced(int state)
{
    return state >= TS_ESTABLISHED;
}

static inline uint32_t ts_tcp_in_flight(const struct ts_tcb *t)
{
    return t->snd_nxt - t->snd_una;
}

#endif

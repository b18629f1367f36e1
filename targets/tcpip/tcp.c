/*
 * tcp.c -- the TCB table (a list of all TCBs and a hash of connected ones
 * keyed by the 4-tuple), TCB life cycle (RFC 9293 3.3.2 state machine
 * bookkeeping, 3.4.1 ISN selection from the stack's seeded generator), the
 * module hooks of ts.h, ts_tcp_count and ts_tcp_info. The socket calls are
 * in tcp_sock.c, segment arrival in tcp_in.c, output in tcp_out.c.
 */
#include "tcp.h"

static size_t ts_tcp_hash(uint16_t lport, uint32_t rip, uint16_t rport)
{
    uint32_t h = (uint32_t)lport * 0x9e3779b1u ^ rip * 0x85ebca6bu ^ (uint32_t)rport * 0xc2b2ae35u;
    h ^= h >> 15;
    return h % TS_TCP_HASH;
}

struct ts_tcb *ts_tcp_lookup(struct ts_stack *s, uint32_t lip, uint16_t lport,
                             uint32_t rip, uint16_t rport)
{
    struct ts_tcb *t = s->tcp->hash[ts_tcp_hash(lport, rip, rport)];
    for (; t; t = t->hnext)
        if (t->lport == lport && t->rport == rport && t->rip == rip && t->lip == lip)
            return t;
    return NULL;
}

struct ts_tcb *ts_tcp_lookup_listener(struct ts_stack *s, uint32_t lip, uint16_t lport)
{
    struct ts_tcb *wild = NULL;
    for (struct ts_tcb *t = s->tcp->all; t; t = t->next) {
        if (t->state != TS_LISTEN || t->lport != lport)
            continue;
        if (t->lip == lip)
            return t;
        if (t->lip == 0)
            wild = t;
    }
    return wild;
}

void ts_tcp_hash_add(struct ts_tcb *t)
{
    assert(!t->hashed);
    struct ts_tcb **b = &t->s->tcp->hash[ts_tcp_hash(t->lport, t->rip, t->rport)];
    t->hnext = *b;
    *b = t;
    t->hashed = 1;
}

static void ts_tcp_hash_del(struct ts_tcb *t)
{
    if (!t->hashed)
        return;
    struct ts_tcb **p = &t->s->tcp->hash[ts_tcp_hash(t->lport, t->rip, t->rport)];
    while (*p != t)
        p = &(*p)->hnext;
    *p = t->hnext;
    t->hnext = NULL;
    t->hashed = 0;
}

uint32_t ts_tcp_clamp_buf(size_t n)
{
    if (n == 0)
        n = TS_TCP_DEFAULT_BUF;
    if (n < TS_TCP_BUF_MIN)
        n = TS_TCP_BUF_MIN;
    if (n > TS_TCP_BUF_MAX)
        n = TS_TCP_BUF_MAX;
    return (uint32_t)n;
}

struct ts_tcb *ts_tcp_new(struct ts_stack *s)
{
    struct ts_tcp_table *tab = s->tcp;
    struct ts_tcb *t = ts_alloc(s, sizeof *t);
    if (!t) {
        TS_STAT_INC(s, TCP_DROP_MEMORY);
        return NULL;
    }
    t->s = s;
    t->state = TS_CLOSED;
    t->app_owned = 1;
    t->delack = 1;
    t->wscale_opt = 1;
    t->cc_kind = TS_CC_NEWRENO;
    t->sndbuf_size = ts_tcp_clamp_buf(s->cfg.tcp_sndbuf);
    t->rcvbuf_size = ts_tcp_clamp_buf(s->cfg.tcp_rcvbuf);
    t->t_rtx = t->t_persist = t->t_delack = t->t_2msl = TS_TCP_OFF;
    t->rto = TS_TCP_RTO_INIT_US;
    t->next = tab->all;
    if (tab->all)
        tab->all->prev = t;
    tab->all = t;
    tab->count++;
    tab->mem += sizeof *t;
    return t;
}

int ts_tcp_alloc_bufs(struct ts_tcb *t)
{
    struct ts_stack *s = t->s;
    if (t->sbuf.buf)
        return 0;
    uint8_t *sb = ts_alloc(s, t->sndbuf_size);
    uint8_t *rb = sb ? ts_alloc(s, t->rcvbuf_size) : NULL;
    if (!rb) {
        if (sb)
            ts_free(s, sb, t->sndbuf_size);
        TS_STAT_INC(s, TCP_DROP_MEMORY);
        return -ENOMEM;
    }
    t->sbuf = (struct ts_tcp_ring){ .buf = sb, .cap = t->sndbuf_size };
    t->rbuf = (struct ts_tcp_ring){ .buf = rb, .cap = t->rcvbuf_size };
    s->tcp->mem += (size_t)t->sndbuf_size + t->rcvbuf_size;
    return 0;
}

/* Pick the receive window scale (RFC 7323 2.3): the smallest shift that lets
 * the whole receive buffer be advertised, at most 14. */
void ts_tcp_choose_wscale(struct ts_tcb *t)
{
    uint8_t ws = 0;
    while (ws < 14 && (t->rcvbuf_size >> ws) > 65535)
        ws++;
    t->rcv_wscale = t->wscale_opt ? ws : 0;
}

/* Initial send sequence and congestion state (RFC 9293 3.4.1, RFC 6928). */
void ts_tcp_init_seq(struct ts_tcb *t)
{
    t->iss = ts_random(t->s);
    t->snd_una = t->snd_nxt = t->snd_max = t->iss;
    t->snd_buf_seq = t->iss + 1;
    t->recover = t->iss;
    t->rcv_mss = (uint16_t)(t->s->mtu > 40 + TS_TCP_MIN_MSS ? t->s->mtu - 40 : TS_TCP_MIN_MSS);
    t->mss = TS_TCP_DEFAULT_MSS < t->rcv_mss ? TS_TCP_DEFAULT_MSS : t->rcv_mss;
    t->cc = ts_tcp_cc_ops_for(t->cc_kind);
    t->cc->init(t);
}

static void ts_tcp_unlink_child(struct ts_tcb *t)
{
    struct ts_tcb *l = t->parent;
    if (!l)
        return;
    struct ts_tcb **p = &l->children;
    while (*p != t)
        p = &(*p)->qnext;
    *p = t->qnext;
    if (t->completed)
        l->n_acc--;
    else
        l->n_syn--;
    t->parent = NULL;
    t->qnext = NULL;
}

void ts_tcp_free(struct ts_tcb *t)
{
    struct ts_stack *s = t->s;
    struct ts_tcp_table *tab = s->tcp;
    assert(!t->children);
    ts_tcp_hash_del(t);
    ts_tcp_unlink_child(t);
    if (t->prev)
        t->prev->next = t->next;
    else
        tab->all = t->next;
    if (t->next)
        t->next->prev = t->prev;
    if (t->sbuf.buf) {
        ts_free(s, t->sbuf.buf, t->sbuf.cap);
        ts_free(s, t->rbuf.buf, t->rbuf.cap);
        tab->mem -= (size_t)t->sbuf.cap + t->rbuf.cap;
    }
    tab->count--;
    tab->mem -= sizeof *t;
    ts_free(s, t, sizeof *t);
}

void ts_tcp_set_state(struct ts_tcb *t, int state)
{
    t->state = (uint8_t)state;
    if (ts_tcp_synced(state) && !t->completed) {
        t->completed = 1;
        TS_STAT_INC(t->s, TCP_ESTABLISHED);
        if (t->parent) {
            t->parent->n_syn--;
            t->parent->n_acc++;
        }
    }
}

int ts_tcp_closed(struct ts_tcb *t, int err)
{
    if (err && !t->err)
        t->err = err;
    t->state = TS_CLOSED;
    t->t_rtx = t->t_persist = t->t_delack = t->t_2msl = TS_TCP_OFF;
    t->ack_delayed = 0;
    ts_tcp_hash_del(t);
    if (t->parent || !t->app_owned) {
        ts_tcp_free(t);
        return 1;
    }
    return 0;
}

/* Module hooks (ts.h). */
int ts_tcp_init(struct ts_stack *s)
{
    s->tcp = ts_alloc(s, sizeof *s->tcp);
    return s->tcp ? 0 : -ENOMEM;
}

void ts_tcp_fini(struct ts_stack *s)
{
    if (!s->tcp)
        return;
    while (s->tcp->all) {
        struct ts_tcb *t = s->tcp->all;
        while (t->children)   /* free children before their listener */
            t = t->children;
        ts_tcp_free(t);
    }
    ts_free(s, s->tcp, sizeof *s->tcp);
    s->tcp = NULL;
}

void ts_tcp_tick(struct ts_stack *s, uint64_t now)
{
    struct ts_tcb *t = s->tcp->all, *next;
    for (; t; t = next) {
        next = t->next;   /* timers may free t, never another TCB */
        if (ts_tcp_next_timer(t) <= now)
            ts_tcp_timers(t, now);
    }
}

uint64_t ts_tcp_deadline(struct ts_stack *s)
{
    uint64_t d = TS_NO_DEADLINE;
    for (struct ts_tcb *t = s->tcp->all; t; t = t->next) {
        uint64_t x = ts_tcp_next_timer(t);
        if (x < d)
            d = x;
    }
    return d;
}

int ts_tcp_count(struct ts_stack *s)
{
    return s->tcp ? s->tcp->count : 0;
}

long ts_tcp_info(struct ts_tcb *t, const char *name)
{
    static const char *const names[] = {
        "cwnd", "ssthresh", "srtt_us", "rto_us", "retransmits", "snd_wnd", "rcv_wnd",
        "snd_wscale", "rcv_wscale", "dupacks", "in_flight", "mss", "rcv_mss",
        "soft_error", "in_recovery", "backoff", "rcv_buffered", "snd_buffered", "ooo_ranges",
    };
    long v[] = {
        t->cwnd, t->ssthresh, t->srtt, ts_tcp_cur_rto(t), t->retransmits, t->snd_wnd,
        (long)(t->rcv_adv - t->rcv_nxt), t->snd_wscale,
        t->rcv_wscale, t->dupacks, ts_tcp_in_flight(t), t->mss,
        t->rcv_mss, t->soft_err, t->in_recovery, t->backoff, t->rbuf.len, t->sbuf.len,
        t->ooo.n,
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0)
            return v[i];
    return -1;
}

/*
 * tcp_check.c -- TCP invariants for ts_check (run by the stateful fuzzer
 * after every step): per TCB the send sequence space and ring accounting
 * (RFC 9293 3.3.1), the receive window against the ring's free space and
 * the out-of-order ranges, state facts (3.3.2), timers armed exactly when
 * due (RFC 6298 5.1/5.2, persist, delayed ACK, TIME-WAIT) and congestion
 * window bounds; per table the TCB count, listener backlogs, the hash and
 * the memory held.
 */
#include "tcp.h"

#define FAIL(...) return ts_errf(err, cap, __VA_ARGS__)

TS_NOCOV static int ts_tcp_check_send(const struct ts_tcb *t, char *err, size_t cap)
{
    if (!SEQ_LEQ(t->snd_una, t->snd_nxt) || !SEQ_LEQ(t->snd_nxt, t->snd_max))
        FAIL("tcp %u: snd_una %u snd_nxt %u snd_max %u out of order", t->lport,
             t->snd_una, t->snd_nxt, t->snd_max);
    if (t->sbuf.len > t->sbuf.cap || t->rbuf.len > t->rbuf.cap)
        FAIL("tcp %u: ring overfull", t->lport);
    uint32_t fin_end = ts_tcp_fin_seq(t) + (t->fin_queued ? 1 : 0);
    if (SEQ_GT(t->snd_max, fin_end))
        FAIL("tcp %u: snd_max %u beyond queued data end %u", t->lport, t->snd_max, fin_end);
    int pre = t->state == TS_SYN_SENT || t->state == TS_SYN_RECEIVED;
    if (pre && (t->snd_una != t->iss || t->snd_buf_seq != t->iss + 1))
        FAIL("tcp %u: SYN not acked but snd_una %u iss %u buf %u", t->lport, t->snd_una,
             t->iss, t->snd_buf_seq);
    if (!pre && ts_tcp_fin_acked(t) && (t->sbuf.len != 0 || t->snd_una != t->snd_buf_seq + 1))
        FAIL("tcp %u: FIN acked with %u bytes in the send ring", t->lport, t->sbuf.len);
    if (!pre && !ts_tcp_fin_acked(t) && t->snd_una != t->snd_buf_seq)
        FAIL("tcp %u: send ring starts at %u, snd_una %u", t->lport, t->snd_buf_seq, t->snd_una);
    if (t->snd_max - t->snd_una > t->sbuf.len + 2)
        FAIL("tcp %u: %u bytes unacked, ring holds %u", t->lport, t->snd_max - t->snd_una,
             t->sbuf.len);
    if (t->cwnd < t->mss || t->mss < TS_TCP_MIN_MSS || t->mss > t->rcv_mss)
        FAIL("tcp %u: cwnd %u mss %u rcv_mss %u", t->lport, t->cwnd, t->mss, t->rcv_mss);
    if (t->snd_wscale > 14 || t->rcv_wscale > 14)
        FAIL("tcp %u: window scale %u/%u", t->lport, t->snd_wscale, t->rcv_wscale);
    return 0;
}

TS_NOCOV static int ts_tcp_check_recv(const struct ts_tcb *t, char *err, size_t cap)
{
    if (t->state == TS_SYN_SENT) {
        if (t->rbuf.len || t->ooo.n || t->fin_rcvd)
            FAIL("tcp %u: data accepted in SYN-SENT", t->lport);
        return 0;
    }
    int32_t wnd = (int32_t)(t->rcv_adv - t->rcv_nxt);
    uint32_t free = t->rbuf.cap - t->rbuf.len;
    if (wnd < 0 || (uint32_t)wnd > free)
        FAIL("tcp %u: advertised window %d, free space %u", t->lport, wnd, free);
    if (t->state == TS_SYN_RECEIVED && (t->rbuf.len || t->ooo.n))
        FAIL("tcp %u: data accepted in SYN-RECEIVED", t->lport);
    if (ts_tcp_ooo_check(&t->ooo, t->rcv_nxt, (uint32_t)wnd, err, cap))
        return -1;
    if (t->fin_rcvd && t->ooo.n)
        FAIL("tcp %u: out-of-order data after FIN", t->lport);
    if (t->fin_ooo && (t->fin_rcvd || !SEQ_GT(t->fin_ooo_seq, t->rcv_nxt) ||
                       SEQ_GT(t->fin_ooo_seq, t->rcv_adv)))
        FAIL("tcp %u: early FIN at %u, rcv_nxt %u", t->lport, t->fin_ooo_seq, t->rcv_nxt);
    return 0;
}

TS_NOCOV static int ts_tcp_check_state(const struct ts_tcb *t, char *err, size_t cap)
{
    int st = t->state;
    int want_fin_rcvd = st == TS_CLOSE_WAIT || st == TS_CLOSING || st == TS_LAST_ACK ||
                        st == TS_TIME_WAIT;
    int want_fin_q = st == TS_FIN_WAIT_1 || st == TS_FIN_WAIT_2 || st == TS_CLOSING ||
                     st == TS_LAST_ACK || st == TS_TIME_WAIT;
    if (t->fin_rcvd != want_fin_rcvd)
        FAIL("tcp %u: state %d with fin_rcvd %u", t->lport, st, t->fin_rcvd);
    if (t->fin_queued != want_fin_q)
        FAIL("tcp %u: state %d with fin_queued %u", t->lport, st, t->fin_queued);
    if ((st == TS_FIN_WAIT_2 || st == TS_TIME_WAIT) && !ts_tcp_fin_acked(t))
        FAIL("tcp %u: state %d but our FIN is not acked", t->lport, st);
    if (ts_tcp_synced(st) != t->completed)
        FAIL("tcp %u: state %d completed %u", t->lport, st, t->completed);
    return 0;
}

TS_NOCOV static int ts_tcp_check_timers(const struct ts_tcb *t, char *err, size_t cap)
{
    int st = t->state;
    int active = st != TS_CLOSED && st != TS_LISTEN && st != TS_TIME_WAIT;
    int rtx = active && t->snd_max != t->snd_una;
    int persist = active && !rtx && ts_tcp_synced(st) && ts_tcp_unsent(t) > 0;
    int msl = st == TS_TIME_WAIT || (st == TS_FIN_WAIT_2 && t->released);
    if ((t->t_rtx != TS_TCP_OFF) != rtx)
        FAIL("tcp %u: retransmission timer %s with %u bytes in flight (state %d)", t->lport,
             t->t_rtx != TS_TCP_OFF ? "armed" : "off", t->snd_max - t->snd_una, st);
    if ((t->t_persist != TS_TCP_OFF) != persist)
        FAIL("tcp %u: persist timer %s, unsent %u, snd_wnd %u", t->lport,
             t->t_persist != TS_TCP_OFF ? "armed" : "off", ts_tcp_unsent(t), t->snd_wnd);
    if ((t->t_2msl != TS_TCP_OFF) != msl)
        FAIL("tcp %u: 2MSL timer %s in state %d", t->lport,
             t->t_2msl != TS_TCP_OFF ? "armed" : "off", st);
    if ((t->t_delack != TS_TCP_OFF) != t->ack_delayed)
        FAIL("tcp %u: delayed ACK timer and flag disagree", t->lport);
    if (t->rto < TS_TCP_RTO_MIN_US || t->rto > TS_TCP_RTO_MAX_US)
        FAIL("tcp %u: rto %u out of bounds", t->lport, t->rto);
    return 0;
}

TS_NOCOV static int ts_tcp_check_listener(const struct ts_tcb *l, char *err, size_t cap)
{
    int syn = 0, acc = 0;
    for (const struct ts_tcb *c = l->children; c; c = c->qnext) {
        if (c->parent != l || c->app_owned)
            FAIL("tcp %u: child not owned by its listener", l->lport);
        if (c->completed)
            acc++;
        else
            syn++;
    }
    if (syn != l->n_syn || acc != l->n_acc)
        FAIL("tcp %u: listener counts %d/%d, children %d/%d", l->lport, l->n_syn, l->n_acc,
             syn, acc);
    if (syn + acc > l->backlog)
        FAIL("tcp %u: %d children over backlog %d", l->lport, syn + acc, l->backlog);
    return 0;
}

TS_NOCOV int ts_tcp_check_tcb(struct ts_stack *s, const struct ts_tcb *t, char *err, size_t cap)
{
    if (t->state > TS_TIME_WAIT)
        FAIL("tcp: bad state %d", t->state);
    int connected = t->state > TS_LISTEN;
    if (t->hashed != connected)
        FAIL("tcp %u: hashed %u in state %d", t->lport, t->hashed, t->state);
    if (connected && ts_tcp_lookup(s, t->lip, t->lport, t->rip, t->rport) != t)
        FAIL("tcp %u: lookup does not find the TCB", t->lport);
    if (t->children && t->state != TS_LISTEN)
        FAIL("tcp %u: children but not listening", t->lport);
    if (t->state == TS_LISTEN)
        return ts_tcp_check_listener(t, err, cap);
    if (t->parent && (t->app_owned || t->parent->state != TS_LISTEN))
        FAIL("tcp %u: child with a bad parent", t->lport);
    if (!t->parent && !t->app_owned && t->state == TS_CLOSED)
        FAIL("tcp %u: a closed TCB nobody holds", t->lport);
    if (t->state == TS_CLOSED) {
        if (ts_tcp_next_timer(t) != TS_TCP_OFF)
            FAIL("tcp %u: timer armed in CLOSED", t->lport);
        return 0;
    }
    if (!t->sbuf.buf || !t->rbuf.buf)
        FAIL("tcp %u: connection without buffers", t->lport);
    if (ts_tcp_check_send(t, err, cap) || ts_tcp_check_recv(t, err, cap) ||
        ts_tcp_check_state(t, err, cap) || ts_tcp_check_timers(t, err, cap))
        return -1;
    return 0;
}

TS_NOCOV int ts_tcp_check(struct ts_stack *s, char *err, size_t cap)
{
    const struct ts_tcp_table *tab = s->tcp;
    if (!tab)
        return 0;
    int n = 0;
    size_t mem = sizeof *tab;
    for (const struct ts_tcb *t = tab->all; t; t = t->next) {
        if (t->next && t->next->prev != t)
            FAIL("tcp: TCB list links broken");
        n++;
        mem += sizeof *t;
        if (t->sbuf.buf)
            mem += (size_t)t->sbuf.cap + t->rbuf.cap;
        if (ts_tcp_check_tcb(s, t, err, cap))
            return -1;
    }
    if (n != tab->count)
        FAIL("tcp: %d TCBs listed, count says %d", n, tab->count);
    if (mem != tab->mem + sizeof *tab)
        FAIL("tcp: %zu bytes held, accounted %zu", mem, tab->mem + sizeof *tab);
    if (mem > s->mem_used)
        FAIL("tcp: holds %zu bytes, the stack accounts %zu", mem, s->mem_used);
    return 0;
}

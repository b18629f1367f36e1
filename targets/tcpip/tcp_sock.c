/*
 * tcp_sock.c -- the non-blocking socket calls of tcpip.h on top of the TCB
 * (RFC 9293 3.10.1-3.10.6 user calls: OPEN, SEND, RECEIVE, CLOSE, ABORT,
 * STATUS). close() with unread data resets the connection (RFC 2525 2.17,
 * RFC 1122 4.2.2.13); a released TCB finishes closing by itself and is
 * freed when it reaches CLOSED.
 */
#include "tcp.h"

struct ts_tcb *ts_tcp_socket(struct ts_stack *s)
{
    return ts_tcp_new(s);
}

int ts_tcp_setopt(struct ts_tcb *t, int opt, long value)
{
    switch (opt) {
    case TS_TCP_NODELAY:
        t->nodelay = value != 0;
        if (t->nodelay && t->sbuf.buf && ts_tcp_synced(t->state))
            ts_tcp_output(t);
        return 0;
    case TS_TCP_CC:
        if (value != TS_CC_NEWRENO && value != TS_CC_CUBIC)
            return -EINVAL;
        t->cc_kind = (uint8_t)value;
        if (t->cc) {   /* switch live: keep cwnd, start a fresh epoch */
            t->cc = ts_tcp_cc_ops_for(t->cc_kind);
            memset(&t->cubic, 0, sizeof t->cubic);
            t->cubic.w_max = t->cwnd;
        }
        return 0;
    case TS_TCP_SNDBUF:
    case TS_TCP_RCVBUF:
        if (t->sbuf.buf || (t->state != TS_CLOSED && t->state != TS_LISTEN))
            return -EISCONN;
        if (value <= 0)
            return -EINVAL;
        if (opt == TS_TCP_SNDBUF)
            t->sndbuf_size = ts_tcp_clamp_buf((size_t)value);
        else
            t->rcvbuf_size = ts_tcp_clamp_buf((size_t)value);
        return 0;
    case TS_TCP_WSCALE:
        if (t->state != TS_CLOSED && t->state != TS_LISTEN)
            return -EISCONN;
        t->wscale_opt = value != 0;
        return 0;
    case TS_TCP_DELACK:
        t->delack = value != 0;
        return 0;
    }
    return -ENOPROTOOPT;
}

long ts_tcp_getopt(struct ts_tcb *t, int opt)
{
    switch (opt) {
    case TS_TCP_NODELAY: return t->nodelay;
    case TS_TCP_CC: return t->cc_kind;
    case TS_TCP_SNDBUF: return t->sndbuf_size;
    case TS_TCP_RCVBUF: return t->rcvbuf_size;
    case TS_TCP_WSCALE: return t->wscale_opt;
    case TS_TCP_DELACK: return t->delack;
    }
    return -ENOPROTOOPT;
}

static int ts_tcp_port_busy(struct ts_stack *s, struct ts_tcb *self, uint32_t ip, uint16_t port)
{
    for (struct ts_tcb *t = s->tcp->all; t; t = t->next) {
        if (t == self || t->lport != port || !t->bound || t->hashed)
            continue;   /* connected TCBs do not block a bind (SO_REUSEADDR) */
        if (t->lip == 0 || ip == 0 || t->lip == ip)
            return 1;
    }
    return 0;
}

static int ts_tcp_port_used(struct ts_stack *s, uint16_t port)
{
    for (struct ts_tcb *t = s->tcp->all; t; t = t->next)
        if (t->lport == port)
            return 1;
    return 0;
}

static uint16_t ts_tcp_ephemeral(struct ts_stack *s)
{
    uint32_t range = 65536u - TS_TCP_EPHEMERAL_LO;
    uint32_t start = ts_random(s) % range;
    for (uint32_t i = 0; i < range; i++) {
        uint16_t p = (uint16_t)(TS_TCP_EPHEMERAL_LO + (start + i) % range);
        if (!ts_tcp_port_used(s, p))
            return p;
    }
    return 0;
}

int ts_tcp_bind(struct ts_tcb *t, uint32_t ip, uint16_t port)
{
    struct ts_stack *s = t->s;
    if (t->state != TS_CLOSED || t->bound || t->rip)
        return -EINVAL;
    if (ip && !ts_is_local(s, ip))
        return -EADDRNOTAVAIL;
    if (port == 0 && !(port = ts_tcp_ephemeral(s)))
        return -EADDRINUSE;
    if (ts_tcp_port_busy(s, t, ip, port))
        return -EADDRINUSE;
    t->lip = ip;
    t->lport = port;
    t->bound = 1;
    return 0;
}

int ts_tcp_listen(struct ts_tcb *t, int backlog)
{
    if (backlog < 1)
        backlog = 1;
    if (backlog > 1024)
        backlog = 1024;
    if (t->state == TS_LISTEN) {
        t->backlog = backlog;
        return 0;
    }
    if (t->state != TS_CLOSED || t->rip)
        return -EINVAL;
    if (!t->bound) {
        int r = ts_tcp_bind(t, 0, 0);
        if (r < 0)
            return r;
    }
    t->backlog = backlog;
    t->state = TS_LISTEN;
    return 0;
}

struct ts_tcb *ts_tcp_accept(struct ts_tcb *t)
{
    if (t->state != TS_LISTEN)
        return NULL;
    for (struct ts_tcb *c = t->children; c; c = c->qnext) {
        if (!c->completed)
            continue;
        struct ts_tcb **p = &t->children;
        while (*p != c)
            p = &(*p)->qnext;
        *p = c->qnext;
        t->n_acc--;
        c->parent = NULL;
        c->qnext = NULL;
        c->app_owned = 1;
        return c;
    }
    return NULL;
}

int ts_tcp_connect(struct ts_tcb *t, uint32_t ip, uint16_t port)
{
    struct ts_stack *s = t->s;
    if (t->state == TS_SYN_SENT)
        return -EALREADY;
    if (t->state != TS_CLOSED || t->rip)
        return -EISCONN;
    if (ip == 0 || port == 0 || ts_is_bcast(s, ip))
        return -EINVAL;
    uint32_t lip = t->lip ? t->lip : s->ip;
    if (lip == 0)
        return -ENETUNREACH;
    uint16_t lport = t->lport;
    if (!t->bound && !(lport = ts_tcp_ephemeral(s)))
        return -EADDRNOTAVAIL;
    if (ts_tcp_lookup(s, lip, lport, ip, port))
        return -EADDRINUSE;
    int r = ts_tcp_alloc_bufs(t);
    if (r < 0)
        return r;
    t->lip = lip;
    t->lport = lport;
    t->rip = ip;
    t->rport = port;
    ts_tcp_init_seq(t);
    ts_tcp_choose_wscale(t);
    ts_tcp_hash_add(t);
    t->state = TS_SYN_SENT;
    TS_STAT_INC(s, TCP_ACTIVE_OPENS);
    ts_tcp_send_syn(t);
    ts_tcp_arm_timers(t);
    return -EINPROGRESS;
}

ssize_t ts_tcp_send(struct ts_tcb *t, const uint8_t *buf, size_t len)
{
    if (t->err)
        return -t->err;
    if (t->state == TS_CLOSED || t->state == TS_LISTEN)
        return -ENOTCONN;
    if (t->fin_queued)
        return -EPIPE;
    if (len == 0)
        return 0;
    if (len > UINT32_MAX)
        len = UINT32_MAX;
    uint32_t n = ts_tcp_ring_write(&t->sbuf, buf, (uint32_t)len);
    if (n == 0)
        return -EAGAIN;
    if (ts_tcp_synced(t->state))
        ts_tcp_output(t);
    return n;
}

ssize_t ts_tcp_recv(struct ts_tcb *t, uint8_t *buf, size_t cap)
{
    if (t->rbuf.len > 0 && cap > 0) {
        uint32_t n = ts_tcp_ring_read(&t->rbuf, buf, cap > UINT32_MAX ? UINT32_MAX : (uint32_t)cap);
        if (ts_tcp_synced(t->state) && t->state != TS_TIME_WAIT)
            ts_tcp_window_update(t);
        return n;
    }
    if (t->rbuf.len > 0)
        return 0;
    if (t->fin_rcvd)
        return 0;
    if (t->err)
        return -t->err;
    if (t->state == TS_CLOSED || t->state == TS_LISTEN)
        return -ENOTCONN;
    return -EAGAIN;
}

int ts_tcp_shutdown(struct ts_tcb *t)
{
    if (t->fin_queued)
        return 0;
    if (t->state == TS_ESTABLISHED)
        ts_tcp_set_state(t, TS_FIN_WAIT_1);
    else if (t->state == TS_CLOSE_WAIT)
        ts_tcp_set_state(t, TS_LAST_ACK);
    else
        return t->err ? -t->err : -ENOTCONN;
    t->fin_queued = 1;
    ts_tcp_output(t);
    return 0;
}

static void ts_tcp_close_listener(struct ts_tcb *t)
{
    while (t->children) {
        struct ts_tcb *c = t->children;
        if (c->state != TS_CLOSED)
            ts_tcp_send_rst(c);
        ts_tcp_closed(c, ECONNRESET);   /* a child: freed */
    }
    ts_tcp_free(t);
}

/* RST (RFC 9293 3.10.5 ABORT) where the peer knows of us, then free. */
void ts_tcp_abort(struct ts_tcb *t)
{
    if (t->state == TS_LISTEN) {
        ts_tcp_close_listener(t);
        return;
    }
    if (t->state >= TS_SYN_RECEIVED && t->state != TS_TIME_WAIT)
        ts_tcp_send_rst(t);
    t->app_owned = 0;
    ts_tcp_closed(t, ECONNABORTED);
}

void ts_tcp_close(struct ts_tcb *t)
{
    switch (t->state) {
    case TS_LISTEN:
        ts_tcp_close_listener(t);
        return;
    case TS_CLOSED:
    case TS_SYN_SENT:
    case TS_SYN_RECEIVED:
        ts_tcp_abort(t);
        return;
    default:
        break;
    }
    if (t->rbuf.len > 0) {   /* unread data: reset (RFC 2525 2.17) */
        ts_tcp_abort(t);
        return;
    }
    t->app_owned = 0;
    t->released = 1;
    if (t->state == TS_ESTABLISHED || t->state == TS_CLOSE_WAIT)
        ts_tcp_shutdown(t);
    ts_tcp_arm_timers(t);
}

int ts_tcp_state(struct ts_tcb *t) { return t->state; }
int ts_tcp_error(struct ts_tcb *t) { return t->err; }
uint32_t ts_tcp_local_ip(struct ts_tcb *t) { return t->lip; }
uint16_t ts_tcp_local_port(struct ts_tcb *t) { return t->lport; }
uint32_t ts_tcp_remote_ip(struct ts_tcb *t) { return t->rip; }
uint16_t ts_tcp_remote_port(struct ts_tcb *t) { return t->rport; }

int ts_tcp_events(struct ts_tcb *t)
{
    int ev = 0;
    if (t->state == TS_LISTEN)
        return t->n_acc > 0 ? TS_EV_READ : 0;
    if (t->rbuf.len > 0 || t->fin_rcvd || t->err)
        ev |= TS_EV_READ;
    if ((t->state == TS_ESTABLISHED || t->state == TS_CLOSE_WAIT) && !t->fin_queued &&
        ts_tcp_ring_free(&t->sbuf) > 0)
        ev |= TS_EV_WRITE;
    if (t->err)
        ev |= TS_EV_ERR;
    if ((t->state == TS_CLOSED && (t->err || t->completed)) || (t->fin_rcvd && t->fin_queued))
        ev |= TS_EV_HUP;
    return ev;
}

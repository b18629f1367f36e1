/*
 * tcp_in.c -- segment arrival (RFC 9293 3.10.7): header and checksum
 * validation (every field is distrusted), option parsing (MSS 3.7.1,
 * window scale RFC 7323 2.2), TCB demultiplexing, CLOSED (3.10.7.1: RST),
 * LISTEN (3.10.7.2: bounded backlog of SYN-RECEIVED children and accept
 * queue), SYN-SENT (3.10.7.3, simultaneous open), and ICMP errors about our
 * segments (RFC 1122 4.2.3.9, validated per RFC 5927). The synchronized
 * states are in tcp_ack.c.
 */
#include "tcp.h"

void ts_tcp_parse_opts(const uint8_t *opt, size_t len, uint16_t *mss, int *wscale)
{
    size_t i = 0;
    while (i < len) {
        uint8_t kind = opt[i];
        if (kind == 0)
            break;
        if (kind == 1) {
            i++;
            continue;
        }
        if (i + 1 >= len || opt[i + 1] < 2 || opt[i + 1] > len - i)
            break;            /* malformed: ignore the rest */
        uint8_t olen = opt[i + 1];
        if (kind == 2 && olen == 4)
            *mss = ts_get16(opt + i + 2);
        else if (kind == 3 && olen == 3)
            *wscale = opt[i + 2] > 14 ? 14 : opt[i + 2];   /* RFC 7323 2.3 */
        i += olen;
    }
}

/* Apply the peer's SYN options: effective MSS, window scaling (both sides
 * must offer it), and the initial window that depends on the MSS. */
static void ts_tcp_syn_opts(struct ts_tcb *t, const struct ts_tcp_seg *g)
{
    uint32_t m = g->mss ? g->mss : TS_TCP_DEFAULT_MSS;
    if (m > t->rcv_mss)
        m = t->rcv_mss;
    if (m < TS_TCP_MIN_MSS)
        m = TS_TCP_MIN_MSS;
    t->mss = (uint16_t)m;
    if (g->wscale >= 0 && t->wscale_opt) {
        t->wscale_ok = 1;
        t->snd_wscale = (uint8_t)g->wscale;
    } else {
        t->wscale_ok = 0;
        t->snd_wscale = t->rcv_wscale = 0;
    }
    t->irs = g->seq;
    t->rcv_nxt = g->seq + 1;
    t->rcv_adv = t->rcv_nxt;
    t->snd_wnd = t->max_snd_wnd = g->wnd;   /* never scaled in a SYN */
    t->snd_wl1 = g->seq;
    t->snd_wl2 = g->ack;
    t->cc->init(t);
}

static void ts_tcp_listen_input(struct ts_stack *s, struct ts_tcb *l, struct ts_tcp_seg *g,
                                const struct ts_ip_info *ip, const uint8_t *raw)
{
    if (g->flags & TS_TCP_RST)
        return;
    if (g->flags & TS_TCP_ACK) {
        ts_tcp_reply_rst(s, ip, raw, g->seglen);
        return;
    }
    if (!(g->flags & TS_TCP_SYN)) {
        TS_STAT_INC(s, TCP_DROP_LISTEN);
        return;
    }
    if (l->n_syn + l->n_acc >= l->backlog) {
        TS_STAT_INC(s, TCP_DROP_BACKLOG);
        return;
    }
    struct ts_tcb *c = ts_tcp_new(s);
    if (!c)
        return;
    c->app_owned = 0;
    c->parent = l;
    struct ts_tcb **tail = &l->children;
    while (*tail)
        tail = &(*tail)->qnext;
    *tail = c;
    l->n_syn++;
    c->nodelay = l->nodelay;
    c->delack = l->delack;
    c->wscale_opt = l->wscale_opt;
    c->cc_kind = l->cc_kind;
    c->sndbuf_size = l->sndbuf_size;
    c->rcvbuf_size = l->rcvbuf_size;
    if (ts_tcp_alloc_bufs(c) < 0) {
        ts_tcp_free(c);
        return;
    }
    c->lip = ip->dst;
    c->lport = l->lport;
    c->rip = ip->src;
    c->rport = ts_get16(raw);
    ts_tcp_init_seq(c);
    ts_tcp_choose_wscale(c);
    ts_tcp_syn_opts(c, g);
    ts_tcp_hash_add(c);
    c->state = TS_SYN_RECEIVED;
    TS_STAT_INC(s, TCP_PASSIVE_OPENS);
    ts_tcp_send_syn(c);
    ts_tcp_arm_timers(c);
}

static void ts_tcp_syn_sent_input(struct ts_stack *s, struct ts_tcb *t, struct ts_tcp_seg *g,
                                  const struct ts_ip_info *ip, const uint8_t *raw)
{
    if ((g->flags & TS_TCP_ACK) && (SEQ_LEQ(g->ack, t->iss) || SEQ_GT(g->ack, t->snd_max))) {
        TS_STAT_INC(s, TCP_DROP_BAD_ACK);
        if (!(g->flags & TS_TCP_RST))
            ts_tcp_reply_rst(s, ip, raw, g->seglen);
        return;
    }
    if (g->flags & TS_TCP_RST) {
        if (g->flags & TS_TCP_ACK) {
            TS_STAT_INC(s, TCP_RST_RX);
            ts_tcp_closed(t, ECONNREFUSED);
        }
        return;
    }
    if (!(g->flags & TS_TCP_SYN))
        return;
    ts_tcp_syn_opts(t, g);
    t->retries = 0;
    if (g->flags & TS_TCP_ACK) {
        if (t->rtt_timing)
            ts_tcp_rtt_sample(t, (uint32_t)(ts_now(s) - t->rtt_time));
        t->rtt_timing = 0;
        t->backoff = 0;
        t->snd_una = g->ack;
        ts_tcp_set_state(t, TS_ESTABLISHED);
        t->ack_now = 1;       /* data or FIN on a SYN-ACK is not queued */
        ts_tcp_output(t);
        return;
    }
    t->state = TS_SYN_RECEIVED;   /* simultaneous open (RFC 9293 3.5) */
    t->rtt_timing = 0;
    ts_tcp_send_syn(t);
    ts_tcp_arm_timers(t);
}

static int ts_tcp_parse(struct ts_stack *s, const struct ts_ip_info *ip, const uint8_t *p,
                        size_t len, struct ts_tcp_seg *g)
{
    if (len < TS_TCP_HLEN) {
        TS_STAT_INC(s, TCP_DROP_SHORT);
        return -1;
    }
    size_t off = (size_t)(p[12] >> 4) * 4;
    if (off < TS_TCP_HLEN || off > len) {
        TS_STAT_INC(s, TCP_DROP_BAD_OFFSET);
        return -1;
    }
    if (ip->bcast || ts_is_bcast(s, ip->dst) || ts_is_bcast(s, ip->src) || ip->src == 0 ||
        (ip->src >> 28) == 14 || (ip->dst >> 28) == 14 || ts_get16(p) == 0 ||
        ts_get16(p + 2) == 0) {
        TS_STAT_INC(s, TCP_DROP_BAD_ADDR);
        return -1;
    }
    uint32_t sum = ts_csum_pseudo(ip->src, ip->dst, TS_IP_TCP, (uint16_t)len);
    if (len > 65535 || ts_csum_fold(ts_csum_add(sum, p, len)) != 0) {
        TS_STAT_INC(s, TCP_DROP_CHECKSUM);
        return -1;
    }
    g->flags = p[13] & 0x3f;
    if ((g->flags & TS_TCP_SYN) && (g->flags & (TS_TCP_RST | TS_TCP_FIN))) {
        TS_STAT_INC(s, TCP_DROP_BAD_FLAGS);
        return -1;
    }
    g->seq = ts_get32(p + 4);
    g->ack = ts_get32(p + 8);
    g->wnd = ts_get16(p + 14);
    g->data = p + off;
    g->len = (uint32_t)(len - off);
    g->seglen = g->len + !!(g->flags & TS_TCP_SYN) + !!(g->flags & TS_TCP_FIN);
    g->mss = 0;
    g->wscale = -1;
    if (g->flags & TS_TCP_SYN)
        ts_tcp_parse_opts(p + TS_TCP_HLEN, off - TS_TCP_HLEN, &g->mss, &g->wscale);
    return 0;
}

void ts_tcp_input(struct ts_stack *s, const struct ts_ip_info *ip, const uint8_t *p, size_t len)
{
    struct ts_tcp_seg g;
    TS_STAT_INC(s, TCP_RX);
    if (ts_tcp_parse(s, ip, p, len, &g) < 0)
        return;
    uint16_t sport = ts_get16(p), dport = ts_get16(p + 2);
    struct ts_tcb *t = ts_tcp_lookup(s, ip->dst, dport, ip->src, sport);
    if (t && t->state == TS_TIME_WAIT && !t->app_owned && (g.flags & TS_TCP_SYN) &&
        !(g.flags & TS_TCP_ACK) && SEQ_GT(g.seq, t->rcv_nxt) &&
        ts_tcp_lookup_listener(s, ip->dst, dport)) {
        ts_tcp_free(t);   /* a new incarnation (RFC 9293 3.6.1, RFC 6191) */
        t = NULL;
    }
    if (!t)
        t = ts_tcp_lookup_listener(s, ip->dst, dport);
    if (!t || t->state == TS_CLOSED) {
        TS_STAT_INC(s, TCP_DROP_NO_SOCKET);
        ts_tcp_reply_rst(s, ip, p, g.seglen);
        return;
    }
    if (t->state == TS_LISTEN)
        ts_tcp_listen_input(s, t, &g, ip, p);
    else if (t->state == TS_SYN_SENT)
        ts_tcp_syn_sent_input(s, t, &g, ip, p);
    else
        ts_tcp_input_synced(t, &g, ip, p);
}

/* ICMP error about a segment we sent: src/sport are ours. */
void ts_tcp_icmp(struct ts_stack *s, uint8_t type, uint8_t code, uint32_t src, uint32_t dst,
                 uint16_t sport, uint16_t dport, uint32_t seq)
{
    if (!s->tcp)
        return;
    struct ts_tcb *t = ts_tcp_lookup(s, src, sport, dst, dport);
    if (!t || SEQ_LT(seq, t->snd_una) || SEQ_GEQ(seq, t->snd_max))
        return;   /* not about data in flight: forged or stale (RFC 5927 4.1) */
    int err;
    if (type == 3 && (code == 2 || code == 3)) {
        if (t->state == TS_SYN_SENT) {   /* RFC 1122 4.2.3.9 permits aborting */
            TS_STAT_INC(s, TCP_ICMP_HARD);
            ts_tcp_closed(t, ECONNREFUSED);
            return;
        }
        err = ECONNREFUSED;
    } else if (type == 3) {
        if (code == 4)
            return;   /* fragmentation needed: no PMTU discovery, segments use DF=0 */
        err = code == 0 || code == 6 ? ENETUNREACH : EHOSTUNREACH;
    } else if (type == 11) {
        err = EHOSTUNREACH;
    } else if (type == 12) {
        err = EPROTO;
    } else {
        return;
    }
    TS_STAT_INC(s, TCP_ICMP_SOFT);
    t->soft_err = err;
}

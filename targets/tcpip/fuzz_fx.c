/*
 * fuzz_fx.c -- a stack in a fixed state for fuzz harnesses and tests (see
 * tcpip.h, "Harness support"). The fabricated peer builds Ethernet/IPv4/TCP
 * frames (RFC 791, RFC 9293 3.1 header layout) whose sequence and
 * acknowledgment numbers are offsets from what each side has sent so far, so
 * a fuzzer reaches deep connection states without guessing 32-bit numbers.
 * Checksums of injected frames are fixed up here (ts_fix_checksums) when the
 * caller asks; the stack itself always verifies them.
 */
#include "ts.h"

#include <stdlib.h>

#define FX_US_IP 0x0a4d0002u       /* 10.77.0.2 */
#define FX_PEER_IP 0x0a4d0001u     /* 10.77.0.1 */
#define FX_MASK 0xffffff00u
#define FX_HTTP_PORT 80
#define FX_UDP_PORT 7
#define FX_PEER_PORT0 40000
#define FX_CONNS 8
#define FX_OUT (FX_CONNS - 1)      /* the connection "us" opened (TS_FX_CONNECT), once seen */
#define FX_SOCKS 8
#define FX_FRAME_MAX (TS_ETH_HLEN + 60 + 60 + 65535)
#define FX_TH_FIN 0x01
#define FX_TH_SYN 0x02
#define FX_TH_RST 0x04
#define FX_TH_ACK 0x10

/* One fixture at a time uses them (harnesses are single-threaded): no 64 KiB
 * allocations per input. */
static uint8_t fx_frame_buf[FX_FRAME_MAX], fx_drain_buf[FX_FRAME_MAX];

static const uint8_t fx_us_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t fx_peer_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };

struct fx_conn {
    uint32_t peer_nxt;    /* next sequence number the peer sends */
    uint32_t us_nxt;      /* highest sequence number "us" sent, plus its length */
    int us_seen;          /* us_nxt is known */
};

struct ts_fx {
    struct ts_stack *s;
    uint64_t now;
    struct ts_tcb *listener;
    struct ts_tcb *socks[FX_SOCKS];     /* [0]: the fixture's accepted connection */
    struct ts_udp *udp;
    struct fx_conn conns[FX_CONNS];     /* peer port FX_PEER_PORT0 + index; FX_OUT: the
                                           connection us opened, when there is one */
    uint16_t out_port;                  /* local port of the connection "us" opened, or 0 */
    uint32_t dhcp_xid;
    size_t frames_out;
    uint8_t *frame;                     /* fx_frame_buf: scratch for injected frames */
    uint8_t *drain;                     /* fx_drain_buf: what "us" sends */
};

/* ------------------------------------------------------- frame building */

TS_NOCOV static size_t fx_eth_ip(uint8_t *f, uint8_t proto, size_t l4len)
{
    memcpy(f, fx_us_mac, 6);
    memcpy(f + 6, fx_peer_mac, 6);
    ts_put16(f + 12, TS_ETH_IPV4);
    uint8_t *ip = f + TS_ETH_HLEN;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    ts_put16(ip + 2, (uint16_t)(20 + l4len));
    ip[6] = 0x40;                                   /* DF */
    ip[8] = 64;
    ip[9] = proto;
    ts_put32(ip + 12, FX_PEER_IP);
    ts_put32(ip + 16, FX_US_IP);
    return TS_ETH_HLEN + 20;
}

TS_NOCOV static void fx_arp_reply(struct ts_fx *fx)
{
    uint8_t f[42];
    memcpy(f, fx_us_mac, 6);
    memcpy(f + 6, fx_peer_mac, 6);
    ts_put16(f + 12, TS_ETH_ARP);
    ts_put16(f + 14, 1);
    ts_put16(f + 16, TS_ETH_IPV4);
    f[18] = 6;
    f[19] = 4;
    ts_put16(f + 20, 2);
    memcpy(f + 22, fx_peer_mac, 6);
    ts_put32(f + 28, FX_PEER_IP);
    memcpy(f + 32, fx_us_mac, 6);
    ts_put32(f + 38, FX_US_IP);
    ts_input(fx->s, f, sizeof f);
}

/* ------------------------------------------------- learning from output */

TS_NOCOV static void fx_learn_tcp(struct ts_fx *fx, const uint8_t *tcp, size_t len)
{
    if (len < 20)
        return;
    uint16_t sport = ts_get16(tcp), dport = ts_get16(tcp + 2);
    struct fx_conn *c;
    if (dport >= FX_PEER_PORT0 && dport < FX_PEER_PORT0 + FX_CONNS) {
        c = &fx->conns[dport - FX_PEER_PORT0];
    } else if (dport == FX_HTTP_PORT && sport != FX_HTTP_PORT) {
        if (sport != fx->out_port && (tcp[13] & FX_TH_SYN)) {   /* a new active open */
            fx->out_port = sport;
            fx->conns[FX_OUT].us_seen = 0;
        }
        if (sport != fx->out_port)
            return;
        c = &fx->conns[FX_OUT];
    } else {
        return;
    }
    size_t off = (size_t)(tcp[12] >> 4) * 4;
    if (off < 20 || off > len)
        return;
    uint32_t end = ts_get32(tcp + 4) + (uint32_t)(len - off) + !!(tcp[13] & FX_TH_SYN) +
                   !!(tcp[13] & FX_TH_FIN);
    if (tcp[13] & FX_TH_RST)
        return;
    if (!c->us_seen || (int32_t)(end - c->us_nxt) > 0)
        c->us_nxt = end;
    c->us_seen = 1;
}

TS_NOCOV static void fx_learn_dhcp(struct ts_fx *fx, const uint8_t *udp, size_t len)
{
    if (len >= 8 + 8 && ts_get16(udp + 2) == 67)
        fx->dhcp_xid = ts_get32(udp + 8 + 4);
}

TS_NOCOV static void fx_learn(struct ts_fx *fx, const uint8_t *f, size_t len)
{
    fx->frames_out++;
    if (len < TS_ETH_HLEN + 20)
        return;
    if (ts_get16(f + 12) == TS_ETH_ARP) {
        if (len >= 42 && ts_get16(f + 20) == 1 && ts_get32(f + 38) == FX_PEER_IP)
            fx_arp_reply(fx);
        return;
    }
    const uint8_t *ip = f + TS_ETH_HLEN;
    size_t ihl = (size_t)(ip[0] & 15) * 4, tot = ts_get16(ip + 2);
    if (ts_get16(f + 12) != TS_ETH_IPV4 || ihl < 20 || tot < ihl || tot > len - TS_ETH_HLEN)
        return;
    if (ts_get16(ip + 6) & 0x3fff)                 /* a fragment */
        return;
    if (ip[9] == TS_IP_TCP)
        fx_learn_tcp(fx, ip + ihl, tot - ihl);
    else if (ip[9] == TS_IP_UDP)
        fx_learn_dhcp(fx, ip + ihl, tot - ihl);
}

/* Parse and drop everything "us" sent; answering ARP may make it send more. */
TS_NOCOV static void fx_drain(struct ts_fx *fx)
{
    for (int round = 0; round < 64; round++) {
        ssize_t n = ts_link_pop(fx->s, fx->drain, FX_FRAME_MAX);
        if (n < 0)
            return;
        fx_learn(fx, fx->drain, (size_t)n);
    }
    while (ts_link_pop(fx->s, fx->drain, FX_FRAME_MAX) > 0)
        fx->frames_out++;
}

/* --------------------------------------------------------------- public */

TS_NOCOV void ts_fx_frame(struct ts_fx *fx, const uint8_t *frame, size_t len, int fix)
{
    if (len > FX_FRAME_MAX)
        len = FX_FRAME_MAX;
    memcpy(fx->frame, frame, len);
    if (fix)
        ts_fix_checksums(fx->frame, len);
    ts_input(fx->s, fx->frame, len);
    fx_drain(fx);
}

TS_NOCOV int ts_fx_segment(struct ts_fx *fx, int conn, uint8_t flags, int32_t seq_delta,
                           int32_t ack_delta, uint16_t window, const uint8_t *opts,
                           size_t optlen, const uint8_t *payload, size_t len)
{
    if (conn < 0 || conn >= FX_CONNS)
        return -EINVAL;
    optlen = optlen > 40 ? 40 : optlen & ~(size_t)3;
    size_t max = (size_t)fx->s->mtu - 20 - 20 - optlen;
    len = len > max ? max : len;
    struct fx_conn *c = &fx->conns[conn];
    uint8_t *f = fx->frame;
    size_t hl = 20 + optlen;
    uint8_t *tcp = f + fx_eth_ip(f, TS_IP_TCP, hl + len);
    int out = conn == FX_OUT && fx->out_port != 0;  /* answer our own connection */
    ts_put16(tcp, out ? FX_HTTP_PORT : (uint16_t)(FX_PEER_PORT0 + conn));
    ts_put16(tcp + 2, out ? fx->out_port : FX_HTTP_PORT);
    ts_put32(tcp + 4, c->peer_nxt + (uint32_t)seq_delta);
    ts_put32(tcp + 8, c->us_nxt + (uint32_t)ack_delta);
    tcp[12] = (uint8_t)((hl / 4) << 4);
    tcp[13] = flags;
    ts_put16(tcp + 14, window);
    ts_put16(tcp + 16, 0);
    ts_put16(tcp + 18, 0);
    if (optlen)
        memcpy(tcp + 20, opts, optlen);
    if (len)
        memcpy(tcp + hl, payload, len);
    size_t flen = (size_t)(tcp - f) + hl + len;
    ts_fix_checksums(f, flen);
    if (seq_delta == 0)
        c->peer_nxt += (uint32_t)len + !!(flags & FX_TH_SYN) + !!(flags & FX_TH_FIN);
    ts_input(fx->s, f, flen);
    fx_drain(fx);
    return 0;
}

TS_NOCOV void ts_fx_fragment(struct ts_fx *fx, uint16_t ident, uint8_t proto, uint16_t off8,
                             int more, const uint8_t *payload, size_t len)
{
    len = len > (size_t)fx->s->mtu - 20 ? (size_t)fx->s->mtu - 20 : len;
    uint8_t *f = fx->frame;
    size_t hl = fx_eth_ip(f, proto, len);
    uint8_t *ip = f + TS_ETH_HLEN;
    ts_put16(ip + 4, (uint16_t)(0x4000 + ident));
    ts_put16(ip + 6, (uint16_t)((more ? 0x2000 : 0) | (off8 & 0x1fff)));
    memcpy(f + hl, payload, len);
    ts_fix_checksums(f, hl + len);
    ts_input(fx->s, f, hl + len);
    fx_drain(fx);
}

#define FX_BOOTP_LEN 236
#define FX_DHCP_OPTS_MAX 312

TS_NOCOV void ts_fx_dhcp_reply(struct ts_fx *fx, uint8_t type, int xid_ok, uint32_t yiaddr,
                               int bcast, const uint8_t *opts, size_t len)
{
    len = len > FX_DHCP_OPTS_MAX ? FX_DHCP_OPTS_MAX : len;
    uint8_t *f = fx->frame;
    size_t dlen = FX_BOOTP_LEN + 4 + (type ? 3 : 0) + len + 1;
    size_t hl = fx_eth_ip(f, TS_IP_UDP, 8 + dlen);
    uint8_t *ip = f + TS_ETH_HLEN, *udp = f + hl, *b = udp + 8;
    if (bcast)
        memset(f, 0xff, 6);
    ip[6] = 0;
    ts_put16(ip + 4, 1);
    ts_put32(ip + 16, bcast ? TS_BCAST : yiaddr);
    ts_put16(udp, 67);
    ts_put16(udp + 2, 68);
    ts_put16(udp + 4, (uint16_t)(8 + dlen));
    ts_put16(udp + 6, 0);
    memset(b, 0, FX_BOOTP_LEN);
    b[0] = 2; b[1] = 1; b[2] = 6;
    ts_put32(b + 4, xid_ok ? fx->dhcp_xid : fx->dhcp_xid ^ 0x5a5a5a5au);
    ts_put16(b + 10, bcast ? 0x8000 : 0);
    ts_put32(b + 16, yiaddr);
    ts_put32(b + 20, FX_PEER_IP);
    memcpy(b + 28, fx_us_mac, 6);
    uint8_t *o = b + FX_BOOTP_LEN;
    ts_put32(o, 0x63825363u);
    o += 4;
    if (type) {
        o[0] = 53; o[1] = 1; o[2] = type;
        o += 3;
    }
    memcpy(o, opts, len);
    o[len] = 255;
    ts_fix_checksums(f, hl + 8 + dlen);
    ts_input(fx->s, f, hl + 8 + dlen);
    fx_drain(fx);
}

TS_NOCOV void ts_fx_advance(struct ts_fx *fx, uint64_t us)
{
    uint64_t end = fx->now + us;
    for (int i = 0; i < 256 && fx->now < end; i++) {
        int64_t wait = ts_next_timeout(fx->s);
        uint64_t next = wait < 0 ? end : fx->now + (uint64_t)(wait > 0 ? wait : 1);
        fx->now = next < end ? next : end;
        ts_clock_set(fx->s, fx->now);
        ts_poll(fx->s);
        fx_drain(fx);
    }
    fx->now = end;
    ts_clock_set(fx->s, fx->now);
    ts_poll(fx->s);
    fx_drain(fx);
}

TS_NOCOV static long fx_app_sock(struct ts_fx *fx, struct ts_tcb *t, int op, long arg)
{
    static const uint8_t junk[4096];
    uint8_t buf[4096];
    size_t n = arg < 0 ? 0 : (size_t)arg;
    switch (op) {
    case TS_FX_SEND:
        return (long)ts_tcp_send(t, junk, n > sizeof junk ? sizeof junk : n);
    case TS_FX_RECV:
        return (long)ts_tcp_recv(t, buf, n > sizeof buf ? sizeof buf : n);
    case TS_FX_SHUTDOWN:
        return ts_tcp_shutdown(t);
    case TS_FX_NODELAY:
        return ts_tcp_setopt(t, TS_TCP_NODELAY, arg & 1);
    case TS_FX_CC:
        return ts_tcp_setopt(t, TS_TCP_CC, arg & 1);
    default:
        (void)fx;
        return -EINVAL;
    }
}

TS_NOCOV static long fx_app_release(struct ts_fx *fx, int sock, int op)
{
    struct ts_tcb *t = fx->socks[sock];
    fx->socks[sock] = NULL;
    if (op == TS_FX_CLOSE)
        ts_tcp_close(t);
    else
        ts_tcp_abort(t);
    return 0;
}

TS_NOCOV static long fx_app_new(struct ts_fx *fx, int sock, int op)
{
    if (op == TS_FX_ACCEPT) {
        fx->socks[sock] = ts_tcp_accept(fx->listener);
        return fx->socks[sock] ? 0 : -EAGAIN;
    }
    struct ts_tcb *t = ts_tcp_socket(fx->s);
    if (!t)
        return -ENOMEM;
    fx->socks[sock] = t;
    return ts_tcp_connect(t, FX_PEER_IP, FX_HTTP_PORT);
}

TS_NOCOV long ts_fx_app(struct ts_fx *fx, int op, int sock, long arg)
{
    if (sock < 0 || sock >= FX_SOCKS || !fx->listener)
        return -EINVAL;
    long rc;
    if (op == TS_FX_ACCEPT || op == TS_FX_CONNECT)
        rc = fx->socks[sock] ? -EISCONN : fx_app_new(fx, sock, op);
    else if (!fx->socks[sock])
        rc = -ENOTCONN;
    else if (op == TS_FX_CLOSE || op == TS_FX_ABORT)
        rc = fx_app_release(fx, sock, op);
    else
        rc = fx_app_sock(fx, fx->socks[sock], op, arg);
    fx_drain(fx);
    return rc;
}

/* ------------------------------------------------------------ life cycle */

TS_NOCOV static int fx_handshake(struct ts_fx *fx)
{
    static const uint8_t mss[4] = { 2, 4, 0x05, 0xb4 };   /* MSS 1460 */
    struct fx_conn *c = &fx->conns[0];
    ts_fx_segment(fx, 0, FX_TH_SYN, 0, 0, 65535, mss, sizeof mss, NULL, 0);
    if (!c->us_seen)
        return -1;
    ts_fx_segment(fx, 0, FX_TH_ACK, 0, 0, 65535, NULL, 0, NULL, 0);
    fx->socks[0] = ts_tcp_accept(fx->listener);
    if (!fx->socks[0])
        return -1;
    static const uint8_t req[] = "GET / HTTP/1.1\r\nHost: fx\r\n\r\n";
    ts_fx_segment(fx, 0, FX_TH_ACK | 0x08, 0, 0, 65535, NULL, 0, req, sizeof req - 1);
    return 0;
}

TS_NOCOV static int fx_setup_tcp(struct ts_fx *fx)
{
    fx->udp = ts_udp_socket(fx->s);
    if (!fx->udp || ts_udp_bind(fx->udp, 0, FX_UDP_PORT) != 0)
        return -1;
    fx->listener = ts_tcp_socket(fx->s);
    if (!fx->listener || ts_tcp_bind(fx->listener, 0, FX_HTTP_PORT) != 0 ||
        ts_tcp_listen(fx->listener, 4) != 0)
        return -1;
    for (int i = 0; i < FX_CONNS; i++)
        fx->conns[i].peer_nxt = 0x10000000u * (uint32_t)(i + 1);
    return fx_handshake(fx);
}

TS_NOCOV struct ts_fx *ts_fx_new(int kind, uint64_t seed)
{
    struct ts_fx *fx = calloc(1, sizeof *fx);
    if (!fx)
        return NULL;
    fx->frame = fx_frame_buf;
    fx->drain = fx_drain_buf;
    /* Small buffers: full windows and full queues are within the fuzzer's reach, and a
     * fresh fixture per input stays cheap under ASan. */
    struct ts_config cfg = { .seed = seed, .mem_limit = 2u << 20, .tcp_sndbuf = 16u << 10,
                             .tcp_rcvbuf = 16u << 10, .reasm_limit = 64u << 10,
                             .link_queue = 64 };
    memcpy(cfg.mac, fx_us_mac, 6);
    if (kind == TS_FX_TCP) {
        cfg.ip = FX_US_IP;
        cfg.netmask = FX_MASK;
    }
    fx->now = 1000000;
    cfg.link = NULL;
    fx->s = ts_stack_new(&cfg);
    if (!fx->s)
        goto fail;
    ts_clock_set(fx->s, fx->now);
    int rc = kind == TS_FX_TCP ? fx_setup_tcp(fx) : ts_dhcp_start(fx->s);
    fx_drain(fx);
    if (rc != 0)
        goto fail;
    return fx;
fail:
    ts_fx_free(fx);
    return NULL;
}

TS_NOCOV void ts_fx_free(struct ts_fx *fx)
{
    if (!fx)
        return;
    if (fx->s) {
        for (int i = 0; i < FX_SOCKS; i++)
            if (fx->socks[i])
                ts_tcp_abort(fx->socks[i]);
        if (fx->listener)
            ts_tcp_close(fx->listener);
        if (fx->udp)
            ts_udp_close(fx->udp);
        ts_stack_free(fx->s);
    }
    free(fx);
}

TS_NOCOV struct ts_stack *ts_fx_stack(struct ts_fx *fx) { return fx->s; }
TS_NOCOV struct ts_udp *ts_fx_udp(struct ts_fx *fx) { return fx->udp; }
TS_NOCOV uint32_t ts_fx_dhcp_xid(struct ts_fx *fx) { return fx->dhcp_xid; }
TS_NOCOV size_t ts_fx_frames_out(struct ts_fx *fx) { return fx->frames_out; }

TS_NOCOV struct ts_tcb *ts_fx_sock(struct ts_fx *fx, int sock)
{
    return sock >= 0 && sock < FX_SOCKS ? fx->socks[sock] : NULL;
}

TS_NOCOV int ts_fx_established(struct ts_fx *fx)
{
    return fx->socks[0] && ts_tcp_state(fx->socks[0]) == TS_ESTABLISHED;
}

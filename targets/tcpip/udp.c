/*
 * udp.c -- UDP (RFC 768, RFC 1122 4.1): input validation (length,
 * checksum over the pseudo header; a zero checksum means "none" and is
 * accepted, 4.1.3.4), demultiplexing to the socket bound to the
 * destination port (an exact local address before the 0 wildcard), ICMP
 * port unreachable when none (not for broadcasts, 4.1.3.1), and output
 * with a checksum always computed.
 *
 * Sockets: a bounded receive queue each (64 datagrams, 256 KiB; overflow
 * dropped and counted), or, for in-stack users such as DHCP, a callback.
 * Ephemeral ports come from 49152..65535 (RFC 6335).
 * Source addresses: ts_udp_output's src 0 means the interface address;
 * while the interface has none (s->ip == 0) the datagram goes out from
 * 0.0.0.0, as a DHCP client must send (RFC 2131 4.1), and the checksum's
 * pseudo header uses 0.0.0.0 too.
 */
#include "ts.h"
#include "ip.h"

#define UDP_HLEN 8
#define UDP_QUEUE_MAX 64
#define UDP_QUEUE_BYTES (256u * 1024u)
#define UDP_EPHEMERAL_LO 49152u
#define UDP_EPHEMERAL_N 16384u
#define UDP_PAYLOAD_MAX (TS_IP_MAXLEN - TS_IP_HLEN - UDP_HLEN)

struct udp_dgram {
    struct udp_dgram *next;
    uint32_t ip;
    uint16_t port;
    size_t len;
    uint8_t data[];
};

struct ts_udp {
    struct ts_stack *s;
    struct ts_udp *next;
    uint32_t lip;
    uint16_t lport;              /* 0: not bound */
    ts_udp_cb cb;
    void *cb_arg;
    struct udp_dgram *head, *tail;
    size_t qcount, qbytes;
};

struct ts_udp_table {
    struct ts_udp *socks;
    size_t count;
    uint16_t next_port;
};

static size_t dgram_size(size_t len) { return sizeof(struct udp_dgram) + len; }

static struct ts_udp *udp_lookup(struct ts_stack *s, uint32_t dst, uint16_t port)
{
    struct ts_udp *wild = NULL;
    for (struct ts_udp *u = s->udp->socks; u != NULL; u = u->next) {
        if (u->lport != port)
            continue;
        if (u->lip == dst)
            return u;
        if (u->lip == 0)
            wild = u;
    }
    return wild;
}

static int udp_in_use(struct ts_stack *s, uint32_t ip, uint16_t port)
{
    for (struct ts_udp *u = s->udp->socks; u != NULL; u = u->next)
        if (u->lport == port && (u->lip == 0 || ip == 0 || u->lip == ip))
            return 1;
    return 0;
}

static uint16_t udp_ephemeral(struct ts_stack *s)
{
    for (uint32_t i = 0; i < UDP_EPHEMERAL_N; i++) {
        uint16_t port = (uint16_t)(UDP_EPHEMERAL_LO + (s->udp->next_port++ % UDP_EPHEMERAL_N));
        if (!udp_in_use(s, 0, port))
            return port;
    }
    return 0;
}

/* ------------------------------------------------------------------ input */

static void udp_enqueue(struct ts_stack *s, struct ts_udp *u, const struct ts_ip_info *ip,
                        uint16_t sport, const uint8_t *data, size_t len)
{
    if (u->qcount >= UDP_QUEUE_MAX || u->qbytes + len > UDP_QUEUE_BYTES) {
        TS_STAT_INC(s, UDP_DROP_QUEUE);
        return;
    }
    struct udp_dgram *d = ts_alloc(s, dgram_size(len));
    if (d == NULL) {
        TS_STAT_INC(s, UDP_DROP_NOMEM);
        return;
    }
    d->ip = ip->src;
    d->port = sport;
    d->len = len;
    if (len > 0)
        memcpy(d->data, data, len);
    if (u->tail != NULL)
        u->tail->next = d;
    else
        u->head = d;
    u->tail = d;
    u->qcount++;
    u->qbytes += len;
    TS_STAT_INC(s, UDP_DELIVER);
}

/* Length and checksum; returns the UDP length, or 0 (counted). */
static size_t udp_validate(struct ts_stack *s, const struct ts_ip_info *ip, const uint8_t *p,
                           size_t len)
{
    if (len < UDP_HLEN) {
        TS_STAT_INC(s, UDP_DROP_SHORT);
        return 0;
    }
    size_t ulen = ts_get16(p + 4);
    if (ulen < UDP_HLEN || ulen > len) {
        TS_STAT_INC(s, UDP_DROP_LEN);
        return 0;
    }
    if (ts_get16(p + 6) == 0) {
        TS_STAT_INC(s, UDP_RX_NO_CSUM);
        return ulen;
    }
    uint32_t sum = ts_csum_pseudo(ip->src, ip->dst, TS_IP_UDP, (uint16_t)ulen);
    if (ts_csum_fold(ts_csum_add(sum, p, ulen)) != 0) {
        TS_STAT_INC(s, UDP_DROP_CHECKSUM);
        return 0;
    }
    return ulen;
}

void ts_udp_input(struct ts_stack *s, const struct ts_ip_info *ip, const uint8_t *p, size_t len)
{
    TS_STAT_INC(s, UDP_RX);
    size_t ulen = udp_validate(s, ip, p, len);
    if (ulen == 0)
        return;
    uint16_t sport = ts_get16(p), dport = ts_get16(p + 2);
    struct ts_udp *u = dport != 0 ? udp_lookup(s, ip->dst, dport) : NULL;
    if (u == NULL) {
        TS_STAT_INC(s, UDP_DROP_NO_PORT);
        if (!ip->bcast)
            ts_icmp_error(s, 3, 3, ip->hdr, ip->hlen + len);
        return;
    }
    if (u->cb != NULL) {
        TS_STAT_INC(s, UDP_DELIVER);
        u->cb(u->cb_arg, ip, sport, p + UDP_HLEN, ulen - UDP_HLEN);
        return;
    }
    udp_enqueue(s, u, ip, sport, p + UDP_HLEN, ulen - UDP_HLEN);
}

/* ----------------------------------------------------------------- output */

int ts_udp_output(struct ts_stack *s, uint32_t src, uint16_t sport, uint32_t dst,
                  uint16_t dport, const uint8_t *data, size_t len)
{
    if (len > UDP_PAYLOAD_MAX || (data == NULL && len > 0))
        return -EMSGSIZE;
    struct ts_pkt p;
    ts_pkt_init(&p);
    if (len > 0)
        memcpy(ts_pkt_put(&p, len), data, len);
    uint8_t *h = ts_pkt_push(&p, UDP_HLEN);
    uint16_t ulen = (uint16_t)(len + UDP_HLEN);
    uint32_t from = src != 0 ? src : s->ip;
    ts_put16(h, sport);
    ts_put16(h + 2, dport);
    ts_put16(h + 4, ulen);
    ts_put16(h + 6, 0);
    uint16_t sum = ts_csum_fold(ts_csum_add(ts_csum_pseudo(from, dst, TS_IP_UDP, ulen), h, ulen));
    ts_put16(h + 6, sum == 0 ? 0xffff : sum);
    struct ts_ip_out o = {.src = from, .dst = dst, .proto = TS_IP_UDP};
    int rc = ts_ip_output(s, &p, &o);
    if (rc < 0) {
        TS_STAT_INC(s, UDP_TX_ERR);
        return rc;
    }
    TS_STAT_INC(s, UDP_TX);
    return 0;
}

/* ---------------------------------------------------------------- sockets */

struct ts_udp *ts_udp_socket(struct ts_stack *s)
{
    struct ts_udp *u = ts_alloc(s, sizeof *u);
    if (u == NULL)
        return NULL;
    u->s = s;
    u->next = s->udp->socks;
    s->udp->socks = u;
    s->udp->count++;
    return u;
}

int ts_udp_bind(struct ts_udp *u, uint32_t ip, uint16_t port)
{
    struct ts_stack *s = u->s;
    if (u->lport != 0)
        return -EINVAL;
    if (ip != 0 && !ts_is_local(s, ip) && !ts_is_bcast(s, ip))
        return -EADDRNOTAVAIL;
    if (port == 0)
        port = udp_ephemeral(s);
    else if (udp_in_use(s, ip, port))
        return -EADDRINUSE;
    if (port == 0)
        return -EADDRINUSE;
    u->lip = ip;
    u->lport = port;
    return 0;
}

struct ts_udp *ts_udp_open_cb(struct ts_stack *s, uint16_t port, ts_udp_cb cb, void *arg)
{
    if (cb == NULL || port == 0 || udp_in_use(s, 0, port))
        return NULL;
    struct ts_udp *u = ts_udp_socket(s);
    if (u == NULL)
        return NULL;
    u->lport = port;
    u->cb = cb;
    u->cb_arg = arg;
    return u;
}

ssize_t ts_udp_sendto(struct ts_udp *u, const uint8_t *buf, size_t len, uint32_t ip,
                      uint16_t port)
{
    if (port == 0 || ip == 0)
        return -EINVAL;
    if (len > UDP_PAYLOAD_MAX)
        return -EMSGSIZE;
    if (u->lport == 0) {
        int rc = ts_udp_bind(u, 0, 0);
        if (rc < 0)
            return rc;
    }
    uint32_t src = ts_is_bcast(u->s, u->lip) ? 0 : u->lip;
    int rc = ts_udp_output(u->s, src, u->lport, ip, port, buf, len);
    return rc < 0 ? rc : (ssize_t)len;
}

ssize_t ts_udp_recvfrom(struct ts_udp *u, uint8_t *buf, size_t cap, uint32_t *ip,
                        uint16_t *port)
{
    struct udp_dgram *d = u->head;
    if (d == NULL)
        return -EAGAIN;
    size_t n = d->len < cap ? d->len : cap;
    if (n > 0)
        memcpy(buf, d->data, n);
    if (ip != NULL)
        *ip = d->ip;
    if (port != NULL)
        *port = d->port;
    u->head = d->next;
    if (u->head == NULL)
        u->tail = NULL;
    u->qcount--;
    u->qbytes -= d->len;
    ts_free(u->s, d, dgram_size(d->len));
    return (ssize_t)n;
}

static void udp_destroy(struct ts_stack *s, struct ts_udp *u)
{
    while (u->head != NULL) {
        struct udp_dgram *d = u->head;
        u->head = d->next;
        ts_free(s, d, dgram_size(d->len));
    }
    ts_free(s, u, sizeof *u);
}

void ts_udp_close(struct ts_udp *u)
{
    if (u == NULL)
        return;
    struct ts_stack *s = u->s;
    for (struct ts_udp **pp = &s->udp->socks; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == u) {
            *pp = u->next;
            s->udp->count--;
            udp_destroy(s, u);
            return;
        }
    }
    assert(!"ts_udp_close: unknown socket");
}

/* ------------------------------------------------------------ module hooks */

int ts_udp_init(struct ts_stack *s)
{
    s->udp = ts_alloc(s, sizeof *s->udp);
    if (s->udp == NULL)
        return -ENOMEM;
    s->udp->next_port = (uint16_t)ts_random(s);
    return 0;
}

void ts_udp_fini(struct ts_stack *s)
{
    if (s->udp == NULL)
        return;
    while (s->udp->socks != NULL) {
        struct ts_udp *u = s->udp->socks;
        s->udp->socks = u->next;
        udp_destroy(s, u);
    }
    ts_free(s, s->udp, sizeof *s->udp);
    s->udp = NULL;
}

void ts_udp_tick(struct ts_stack *s, uint64_t now)
{
    (void)s;
    (void)now;
}

uint64_t ts_udp_deadline(struct ts_stack *s)
{
    (void)s;
    return TS_NO_DEADLINE;
}

TS_NOCOV static int udp_check_sock(const struct ts_udp *u, char *err, size_t cap)
{
    size_t n = 0, bytes = 0;
    const struct udp_dgram *last = NULL;
    for (const struct udp_dgram *d = u->head; d != NULL; d = d->next) {
        n++;
        bytes += d->len;
        last = d;
        if (n > UDP_QUEUE_MAX)
            break;
    }
    if (n != u->qcount || bytes != u->qbytes || last != u->tail)
        return ts_errf(err, cap, "udp: port %u queue %zu/%zu bytes, accounted %zu/%zu",
                       u->lport, n, bytes, u->qcount, u->qbytes);
    if (u->qcount > UDP_QUEUE_MAX || u->qbytes > UDP_QUEUE_BYTES)
        return ts_errf(err, cap, "udp: port %u queue over its bounds", u->lport);
    if (u->cb != NULL && u->head != NULL)
        return ts_errf(err, cap, "udp: callback socket with a queue");
    return 0;
}

TS_NOCOV int ts_udp_check(struct ts_stack *s, char *err, size_t cap)
{
    if (s->udp == NULL)
        return ts_errf(err, cap, "udp: no state");
    size_t count = 0;
    for (const struct ts_udp *u = s->udp->socks; u != NULL; u = u->next) {
        if (u->s != s)
            return ts_errf(err, cap, "udp: socket of another stack");
        if (udp_check_sock(u, err, cap) < 0)
            return -1;
        for (const struct ts_udp *v = u->next; v != NULL && u->lport != 0; v = v->next)
            if (v->lport == u->lport && v->lip == u->lip)
                return ts_errf(err, cap, "udp: port %u bound twice", u->lport);
        count++;
    }
    if (count != s->udp->count)
        return ts_errf(err, cap, "udp: %zu sockets, accounted %zu", count, s->udp->count);
    return 0;
}

/*
 * ts.h -- internals shared by the stack's modules: the stack itself, the
 * output packet buffer, byte-order and checksum helpers, bounded memory,
 * and the interface every protocol module implements.
 *
 * Module contract (M = arp, route, ip, icmp, udp, tcp, dhcp): ts_M_init
 * allocates the module's state in struct ts_stack (0 or -ENOMEM); ts_M_fini
 * frees it; ts_M_tick runs what is due at `now`; ts_M_deadline returns the
 * earliest time (us) the module needs ts_M_tick, UINT64_MAX for none;
 * ts_M_check verifies the module's invariants (0, or -1 with err filled).
 * All dynamic memory goes through ts_alloc/ts_free so the stack can bound
 * and audit it (cfg.mem_limit).
 */
#ifndef TS_TS_H
#define TS_TS_H

#include "tcpip.h"
#include "stats.h"

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#define TS_ETH_HLEN 14
#define TS_ETH_IPV4 0x0800
#define TS_ETH_ARP 0x0806
#define TS_IP_ICMP 1
#define TS_IP_TCP 6
#define TS_IP_UDP 17
#define TS_MTU_MIN 576
#define TS_MTU_MAX 65521
#define TS_HEADROOM 128                  /* Ethernet 14 + IPv4 60 + TCP 60 */
#define TS_PKT_CAP (TS_HEADROOM + 65535)
#define TS_NO_DEADLINE UINT64_MAX
#define TS_BCAST 0xffffffffu

/* An outgoing packet built back to front: payload first (ts_pkt_put), then
 * each layer prepends its header (ts_pkt_push). Lives on the C stack. */
struct ts_pkt {
    size_t off, len;
    uint8_t buf[TS_PKT_CAP];
};

static inline uint8_t *ts_pkt_init(struct ts_pkt *p)
{
    p->off = TS_HEADROOM;
    p->len = 0;
    return p->buf + p->off;
}

static inline uint8_t *ts_pkt_put(struct ts_pkt *p, size_t n)
{
    assert(p->off + p->len + n <= TS_PKT_CAP);
    uint8_t *tail = p->buf + p->off + p->len;
    p->len += n;
    return tail;
}

static inline uint8_t *ts_pkt_push(struct ts_pkt *p, size_t n)
{
    assert(p->off >= n);
    p->off -= n;
    p->len += n;
    return p->buf + p->off;
}

static inline uint8_t *ts_pkt_data(struct ts_pkt *p) { return p->buf + p->off; }

/* Big-endian field access. */
static inline uint16_t ts_get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t ts_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void ts_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void ts_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* Internet checksum (RFC 1071), in checksum.c. */
uint32_t ts_csum_add(uint32_t sum, const void *data, size_t len);
uint16_t ts_csum_fold(uint32_t sum);
uint32_t ts_csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len);

/* What the IP layer tells a transport about a received datagram. */
struct ts_ip_info {
    uint32_t src, dst;
    uint8_t proto, ttl, tos;
    int bcast;                   /* sent to a broadcast address */
    const uint8_t *hdr;          /* the IPv4 header (for ICMP errors) */
    size_t hlen;
};

/* What a transport asks of ip_output. src 0: the interface address. */
struct ts_ip_out {
    uint32_t src, dst;
    uint8_t proto, ttl, tos;
    int df;
};

struct ts_arp;
struct ts_routes;
struct ts_ipstate;
struct ts_icmp;
struct ts_udp_table;
struct ts_tcp_table;
struct ts_dhcp;
struct ts_pcap;
struct ts_linkq;

struct ts_stack {
    struct ts_config cfg;        /* defaults filled in */
    uint8_t mac[6];
    uint16_t mtu;
    uint32_t tso;                /* 0, or the largest IP packet the link segments */
    uint32_t ip, netmask;
    uint64_t manual_now;
    uint64_t rng;
    size_t mem_used, mem_peak;
    uint64_t stats[TS_ST_COUNT];
    struct ts_arp *arp;
    struct ts_routes *routes;
    struct ts_ipstate *ipst;
    struct ts_icmp *icmp;
    struct ts_udp_table *udp;
    struct ts_tcp_table *tcp;
    struct ts_dhcp *dhcp;
    struct ts_pcap *pcap;
    struct ts_linkq *linkq;
};

/* Invariant checks are the harnesses' oracle, not code under test: clang builds
 * leave them out of the fuzzer's coverage feedback (they would add thousands of
 * meaningless features per input and a traced comparison per table entry). */
#if defined(__clang__) && __clang_major__ >= 13
#define TS_NOCOV __attribute__((no_sanitize("coverage")))
#else
#define TS_NOCOV
#endif

#define TS_STAT_INC(s, id) ((s)->stats[TS_ST_##id]++)
#define TS_STAT_ADD(s, id, n) ((s)->stats[TS_ST_##id] += (n))

/* ip_out.c: may this IPv4 packet (header first) leave whole although it is
 * over the MTU, because the link segments TCP itself (cfg.tso)? */
int ts_ip_tso_ok(const struct ts_stack *s, const uint8_t *ip, size_t len);

/* stack.c */
void *ts_alloc(struct ts_stack *s, size_t n);          /* zeroed; NULL over the limit */
void ts_free(struct ts_stack *s, void *p, size_t n);
uint32_t ts_random(struct ts_stack *s);
int ts_is_local(struct ts_stack *s, uint32_t ip);       /* our address */
int ts_is_bcast(struct ts_stack *s, uint32_t ip);       /* limited or subnet broadcast */
int ts_link_send(struct ts_stack *s, const uint8_t *frame, size_t len);
int ts_errf(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));              /* fills err, returns -1 */

/* pcap.c */
void ts_pcap_frame(struct ts_stack *s, const uint8_t *frame, size_t len);

/* eth.c */
void ts_eth_input(struct ts_stack *s, const uint8_t *frame, size_t len);
int ts_eth_output(struct ts_stack *s, struct ts_pkt *p, const uint8_t dst[6], uint16_t type);

/* arp.c: resolve next_hop and send p (an IPv4 packet), or queue a copy of
 * it until the reply comes (one per entry, as RFC 1122 2.3.2.2 allows). */
void ts_arp_input(struct ts_stack *s, const uint8_t *pkt, size_t len);
int ts_arp_output(struct ts_stack *s, struct ts_pkt *p, uint32_t next_hop);

/* ip_in.c, ip_out.c, ip_frag.c */
void ts_ip_input(struct ts_stack *s, const uint8_t *pkt, size_t len, int link_bcast);
int ts_ip_output(struct ts_stack *s, struct ts_pkt *p, const struct ts_ip_out *o);

/* icmp.c: an error about `orig` (the offending datagram, header first). */
void ts_icmp_input(struct ts_stack *s, const struct ts_ip_info *ip, const uint8_t *p, size_t len);
void ts_icmp_error(struct ts_stack *s, uint8_t type, uint8_t code, const uint8_t *orig, size_t len);

/* udp.c: in-stack users (DHCP) bind a port with a callback. */
typedef void (*ts_udp_cb)(void *arg, const struct ts_ip_info *ip, uint16_t sport,
                          const uint8_t *data, size_t len);
void ts_udp_input(struct ts_stack *s, const struct ts_ip_info *ip, const uint8_t *p, size_t len);
struct ts_udp *ts_udp_open_cb(struct ts_stack *s, uint16_t port, ts_udp_cb cb, void *arg);
int ts_udp_output(struct ts_stack *s, uint32_t src, uint16_t sport, uint32_t dst,
                  uint16_t dport, const uint8_t *data, size_t len);

/* tcp_in.c; tcp.c receives ICMP errors about its segments (RFC 1122 4.2.3.9). */
void ts_tcp_input(struct ts_stack *s, const struct ts_ip_info *ip, const uint8_t *p, size_t len);
void ts_tcp_icmp(struct ts_stack *s, uint8_t type, uint8_t code, uint32_t src, uint32_t dst,
                 uint16_t sport, uint16_t dport, uint32_t seq);

/* Module hooks, see the header comment. */
#define TS_MODULE(m)                                                       \
    int ts_##m##_init(struct ts_stack *s);                                 \
    void ts_##m##_fini(struct ts_stack *s);                                \
    void ts_##m##_tick(struct ts_stack *s, uint64_t now);                  \
    uint64_t ts_##m##_deadline(struct ts_stack *s);                        \
    int ts_##m##_check(struct ts_stack *s, char *err, size_t cap);
TS_MODULE(arp)
TS_MODULE(route)
TS_MODULE(ip)
TS_MODULE(icmp)
TS_MODULE(udp)
TS_MODULE(tcp)
TS_MODULE(dhcp)
#undef TS_MODULE

#endif

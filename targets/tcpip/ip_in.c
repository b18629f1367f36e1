/*
 * ip_in.c -- IPv4 input (RFC 791 3.1, RFC 1122 3.2.1): header validation
 * (version, IHL, total length, checksum, option lengths), address checks
 * (RFC 1122 3.2.1.3: our address, limited or subnet broadcast; anything
 * while unconfigured, for DHCP), Ethernet padding trimmed, fragments to
 * reassembly, then demultiplexing to ICMP, UDP or TCP. A datagram with an
 * unknown protocol draws an ICMP protocol unreachable (RFC 1122 3.2.2.1).
 * TTL: RFC 1122 3.2.1.7 forbids discarding a datagram addressed to us just
 * because its TTL is low, so it is not checked on input.
 * Also holds the IP module's hooks (state, reassembly timers, checks).
 */
#include "ts.h"
#include "ip.h"
#include "stats.h"

#define IPOPT_END 0
#define IPOPT_NOP 1

/* RFC 791 3.1 options: each is END, NOP, or type, length >= 2, data. */
static int ip_options_ok(const uint8_t *opt, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t type = opt[i];
        if (type == IPOPT_END)
            return 1;
        if (type == IPOPT_NOP) {
            i++;
            continue;
        }
        if (i + 1 >= len || opt[i + 1] < 2 || opt[i + 1] > len - i)
            return 0;
        i += opt[i + 1];
    }
    return 1;
}

/* Source addresses a datagram may not carry (RFC 1122 3.2.1.3). */
static int ip_bad_src(struct ts_stack *s, uint32_t src)
{
    return ts_is_bcast(s, src) || ts_ip_is_mcast(src) || ts_ip_is_class_e(src) ||
           ts_ip_is_loop(src) || (s->ip != 0 && src == s->ip);
}

static int ip_for_us(struct ts_stack *s, uint32_t dst)
{
    return s->ip == 0 || ts_is_local(s, dst) || ts_is_bcast(s, dst);
}

void ts_ip_deliver(struct ts_stack *s, const uint8_t *dgram, size_t hlen, size_t total, int bcast)
{
    assert(hlen >= TS_IP_HLEN && hlen <= total);
    struct ts_ip_info info = {
        .src = ts_get32(dgram + 12), .dst = ts_get32(dgram + 16),
        .proto = dgram[9], .ttl = dgram[8], .tos = dgram[1],
        .bcast = bcast, .hdr = dgram, .hlen = hlen,
    };
    const uint8_t *pl = dgram + hlen;
    size_t plen = total - hlen;
    TS_STAT_INC(s, IP_DELIVER);
    switch (info.proto) {
    case TS_IP_ICMP:
        ts_icmp_input(s, &info, pl, plen);
        break;
    case TS_IP_UDP:
        ts_udp_input(s, &info, pl, plen);
        break;
    case TS_IP_TCP:
        ts_tcp_input(s, &info, pl, plen);
        break;
    default:
        TS_STAT_INC(s, IP_DROP_PROTO);
        if (!bcast)
            ts_icmp_error(s, 3, 2, dgram, total);
        break;
    }
}

/* Header checks; returns the header length, or 0 (counted). */
static size_t ip_check_header(struct ts_stack *s, const uint8_t *pkt, size_t len)
{
    if (pkt == NULL || len < TS_IP_HLEN) {
        TS_STAT_INC(s, IP_DROP_SHORT);
        return 0;
    }
    if ((pkt[0] >> 4) != 4) {
        TS_STAT_INC(s, IP_DROP_VERSION);
        return 0;
    }
    size_t hlen = (size_t)(pkt[0] & 0xf) * 4;
    if (hlen < TS_IP_HLEN || hlen > len) {
        TS_STAT_INC(s, IP_DROP_HLEN);
        return 0;
    }
    if (ts_csum_fold(ts_csum_add(0, pkt, hlen)) != 0) {
        TS_STAT_INC(s, IP_DROP_CHECKSUM);
        return 0;
    }
    size_t total = ts_get16(pkt + 2);
    if (total < hlen || total > len) {
        TS_STAT_INC(s, IP_DROP_LEN);
        return 0;
    }
    if (!ip_options_ok(pkt + TS_IP_HLEN, hlen - TS_IP_HLEN)) {
        TS_STAT_INC(s, IP_DROP_OPTIONS);
        return 0;
    }
    return hlen;
}

void ts_ip_input(struct ts_stack *s, const uint8_t *pkt, size_t len, int link_bcast)
{
    TS_STAT_INC(s, IP_RX);
    size_t hlen = ip_check_header(s, pkt, len);
    if (hlen == 0)
        return;
    size_t total = ts_get16(pkt + 2);          /* drops the link's padding */
    uint32_t src = ts_get32(pkt + 12), dst = ts_get32(pkt + 16);
    if (ip_bad_src(s, src)) {
        TS_STAT_INC(s, IP_DROP_BAD_SRC);
        return;
    }
    if (!ip_for_us(s, dst)) {
        TS_STAT_INC(s, IP_DROP_NOT_US);
        return;
    }
    int bcast = link_bcast || ts_is_bcast(s, dst);
    if (bcast)
        TS_STAT_INC(s, IP_RX_BCAST);
    uint16_t frag = ts_get16(pkt + 6);
    if ((frag & (TS_IP_MF | TS_IP_OFFMASK)) != 0)
        ts_ip_reasm_input(s, pkt, hlen, total, bcast);
    else
        ts_ip_deliver(s, pkt, hlen, total, bcast);
}

/* ------------------------------------------------------------ module hooks */

int ts_ip_init(struct ts_stack *s)
{
    s->ipst = ts_alloc(s, sizeof *s->ipst);
    if (s->ipst == NULL)
        return -ENOMEM;
    s->ipst->next_id = (uint16_t)ts_random(s);
    if (ts_ip_reasm_init(s) != 0) {
        ts_free(s, s->ipst, sizeof *s->ipst);
        s->ipst = NULL;
        return -ENOMEM;
    }
    return 0;
}

void ts_ip_fini(struct ts_stack *s)
{
    if (s->ipst == NULL)
        return;
    ts_ip_reasm_fini(s);
    ts_free(s, s->ipst, sizeof *s->ipst);
    s->ipst = NULL;
}

void ts_ip_tick(struct ts_stack *s, uint64_t now)
{
    if (s->ipst != NULL)
        ts_ip_reasm_tick(s, now);
}

uint64_t ts_ip_deadline(struct ts_stack *s)
{
    return s->ipst != NULL ? ts_ip_reasm_deadline(s) : TS_NO_DEADLINE;
}

TS_NOCOV int ts_ip_check(struct ts_stack *s, char *err, size_t cap)
{
    if (s->ipst == NULL)
        return ts_errf(err, cap, "ip: no state");
    return ts_ip_reasm_check(s, err, cap);
}

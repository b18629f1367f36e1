/*
 * ip_out.c -- IPv4 output (RFC 791 3.1/3.2, RFC 1122 3.2.1): prepends a
 * 20-byte header (no options; identification from a per-stack counter,
 * TTL 64 unless asked, DF as asked, header checksum), chooses the next hop
 * with ts_route_lookup and hands the packet to ARP. Datagrams larger than
 * the link MTU are fragmented (ip_frag.c) unless DF is set (-EMSGSIZE).
 * An oversized datagram to an unresolved next hop is queued whole in ARP
 * and fragmented when the address is known.
 * Source 0 means the interface address; while the interface has no address
 * it stays 0.0.0.0 (how a DHCP client must send, RFC 2131 4.1).
 */
#include "ts.h"
#include "ip.h"

uint16_t ts_ip_next_id(struct ts_stack *s)
{
    return s->ipst->next_id++;
}

void ts_ip_fill_header(uint8_t *h, size_t total, uint16_t id, uint16_t frag,
                       uint8_t ttl, uint8_t proto, uint8_t tos, uint32_t src, uint32_t dst)
{
    assert(total <= TS_IP_MAXLEN);
    h[0] = 0x45;
    h[1] = tos;
    ts_put16(h + 2, (uint16_t)total);
    ts_put16(h + 4, id);
    ts_put16(h + 6, frag);
    h[8] = ttl;
    h[9] = proto;
    ts_put16(h + 10, 0);
    ts_put32(h + 12, src);
    ts_put32(h + 16, dst);
    ts_put16(h + 10, ts_csum_fold(ts_csum_add(0, h, TS_IP_HLEN)));
}

int ts_ip_tso_ok(const struct ts_stack *s, const uint8_t *ip, size_t len)
{
    return s->tso != 0 && len <= s->tso && len >= TS_IP_HLEN && ip[9] == TS_IP_TCP &&
           (ts_get16(ip + 6) & 0x3fff) == 0;
}

int ts_ip_output(struct ts_stack *s, struct ts_pkt *p, const struct ts_ip_out *o)
{
    assert(p != NULL && o != NULL && s->ipst != NULL);
    uint32_t hop = ts_route_lookup(s, o->dst);
    if (hop == 0) {
        TS_STAT_INC(s, IP_TX_NO_ROUTE);
        return -EHOSTUNREACH;
    }
    size_t total = p->len + TS_IP_HLEN;
    if (total > TS_IP_MAXLEN) {
        TS_STAT_INC(s, IP_TX_TOO_BIG);
        return -EMSGSIZE;
    }
    int whole = s->tso != 0 && total <= s->tso && o->proto == TS_IP_TCP;   /* offloaded */
    if (total > s->mtu && o->df && !whole) {
        TS_STAT_INC(s, IP_TX_DF);
        return -EMSGSIZE;
    }
    uint32_t src = o->src ? o->src : s->ip;
    uint8_t ttl = o->ttl ? o->ttl : TS_IP_TTL;
    uint16_t frag = o->df ? TS_IP_DF : 0;
    uint8_t hdr[TS_IP_HLEN];
    ts_ip_fill_header(hdr, total, ts_ip_next_id(s), frag, ttl, o->proto, o->tos, src, o->dst);
    if (total > s->mtu && !whole && ts_arp_resolved(s, hop))
        return ts_ip_fragment(s, ts_pkt_data(p), p->len, hdr, hop);
    memcpy(ts_pkt_push(p, TS_IP_HLEN), hdr, TS_IP_HLEN);
    TS_STAT_INC(s, IP_TX);
    int rc = ts_arp_output(s, p, hop);
    if (rc < 0)
        TS_STAT_INC(s, IP_TX_ERR);
    return rc;
}

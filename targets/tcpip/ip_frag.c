/*
 * ip_frag.c -- IPv4 fragmentation on output (RFC 791 2.3 "Fragmentation"
 * and 3.2, RFC 1122 3.3.3): the payload is cut into pieces of at most
 * MTU - 20 bytes rounded down to a multiple of 8; every piece gets a copy
 * of the header with its offset (in 8-byte units), MF on all but the last,
 * its own total length and checksum. Each fragment is built in its own
 * struct ts_pkt and handed to ARP. A datagram whose next hop is not yet
 * resolved waits whole in the ARP queue and is fragmented when the reply
 * comes (arp.c calls ts_ip_fragment then), so no fragment is lost to the
 * one-packet queue.
 */
#include "ts.h"
#include "ip.h"

static int frag_send(struct ts_stack *s, const uint8_t *data, size_t off, size_t n, int more,
                     const uint8_t hdr[TS_IP_HLEN], uint32_t next_hop)
{
    struct ts_pkt q;
    ts_pkt_init(&q);
    memcpy(ts_pkt_put(&q, n), data + off, n);
    uint8_t *h = ts_pkt_push(&q, TS_IP_HLEN);
    uint16_t frag = (uint16_t)((off / 8) | (more ? TS_IP_MF : 0));
    ts_ip_fill_header(h, n + TS_IP_HLEN, ts_get16(hdr + 4), frag, hdr[8], hdr[9], hdr[1],
                      ts_get32(hdr + 12), ts_get32(hdr + 16));
    TS_STAT_INC(s, IP_FRAG_CREATED);
    TS_STAT_INC(s, IP_TX);
    return ts_arp_output(s, &q, next_hop);
}

int ts_ip_fragment(struct ts_stack *s, const uint8_t *data, size_t len,
                   const uint8_t hdr[TS_IP_HLEN], uint32_t next_hop)
{
    assert(s->mtu >= TS_MTU_MIN);
    size_t chunk = ((size_t)s->mtu - TS_IP_HLEN) & ~(size_t)7;
    assert(len > chunk && (ts_get16(hdr + 6) & TS_IP_DF) == 0);
    for (size_t off = 0; off < len; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        int rc = frag_send(s, data, off, n, off + n < len, hdr, next_hop);
        if (rc < 0) {
            TS_STAT_INC(s, IP_TX_ERR);
            return rc;
        }
    }
    TS_STAT_INC(s, IP_FRAG_OK);
    return 0;
}

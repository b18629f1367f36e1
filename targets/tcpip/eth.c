/*
 * eth.c -- Ethernet II framing (DIX / IEEE 802.3 type field, RFC 894 for
 * IPv4 over Ethernet). Input drops what is not for this host (other unicast
 * addresses, multicast we have not joined), short frames and unknown
 * EtherTypes (802.1Q tags included), each counted, and hands ARP and IPv4
 * payloads up. Output prepends the header and pads to the 60-byte minimum.
 */
#include "ts.h"
#include "ip.h"

#define ETH_MIN_FRAME 60            /* without the FCS */

static const uint8_t eth_bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static int eth_is_mcast(const uint8_t *mac) { return (mac[0] & 1) != 0; }

/* 1: unicast to us, 2: broadcast, 0: not for us (counted). */
static int eth_accept_dst(struct ts_stack *s, const uint8_t *dst)
{
    if (memcmp(dst, s->mac, 6) == 0)
        return 1;
    if (memcmp(dst, eth_bcast, 6) == 0)
        return 2;
    if (eth_is_mcast(dst))
        TS_STAT_INC(s, ETH_DROP_MCAST);
    else
        TS_STAT_INC(s, ETH_DROP_NOT_US);
    return 0;
}

void ts_eth_input(struct ts_stack *s, const uint8_t *frame, size_t len)
{
    TS_STAT_INC(s, ETH_RX);
    if (frame == NULL || len < TS_ETH_HLEN) {
        TS_STAT_INC(s, ETH_DROP_SHORT);
        return;
    }
    int kind = eth_accept_dst(s, frame);
    if (kind == 0)
        return;
    if (eth_is_mcast(frame + 6)) {      /* a source is never a group address */
        TS_STAT_INC(s, ETH_DROP_BAD_SRC);
        return;
    }
    if (kind == 2)
        TS_STAT_INC(s, ETH_RX_BCAST);
    uint16_t type = ts_get16(frame + 12);
    const uint8_t *pl = frame + TS_ETH_HLEN;
    size_t plen = len - TS_ETH_HLEN;
    switch (type) {
    case TS_ETH_ARP:
        ts_arp_input(s, pl, plen);
        break;
    case TS_ETH_IPV4:
        ts_ip_input(s, pl, plen, kind == 2);
        break;
    default:                             /* 802.1Q (0x8100), IPv6, lengths */
        TS_STAT_INC(s, ETH_DROP_TYPE);
        break;
    }
}

int ts_eth_output(struct ts_stack *s, struct ts_pkt *p, const uint8_t dst[6], uint16_t type)
{
    assert(p != NULL && dst != NULL);
    uint8_t *h = ts_pkt_push(p, TS_ETH_HLEN);
    memcpy(h, dst, 6);
    memcpy(h + 6, s->mac, 6);
    ts_put16(h + 12, type);
    if (p->len < ETH_MIN_FRAME) {
        size_t pad = ETH_MIN_FRAME - p->len;
        memset(ts_pkt_put(p, pad), 0, pad);
        TS_STAT_INC(s, ETH_TX_PAD);
    }
    int rc = ts_link_send(s, ts_pkt_data(p), p->len);
    if (rc < 0)
        TS_STAT_INC(s, ETH_TX_ERR);
    else
        TS_STAT_INC(s, ETH_TX);
    return rc < 0 ? rc : 0;
}

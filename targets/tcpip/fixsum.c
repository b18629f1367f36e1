/*
 * fixsum.c -- ts_fix_checksums for fuzz harnesses: in one Ethernet II
 * frame carrying IPv4, recompute in place the header checksum (RFC 791)
 * and, in a datagram's first fragment, the ICMP (RFC 792), UDP (RFC 768)
 * or TCP (RFC 9293 3.1) checksum over the bytes present. Anything too
 * malformed to locate a field is left alone; every access is bounds
 * checked against len, so garbage input is safe.
 */
#include "ts.h"
#include "ip.h"

TS_NOCOV static void fix_l4(uint8_t *ip, uint8_t *l4, size_t len)
{
    uint32_t src = ts_get32(ip + 12), dst = ts_get32(ip + 16);
    switch (ip[9]) {
    case TS_IP_ICMP:
        if (len < 4)
            return;
        ts_put16(l4 + 2, 0);
        ts_put16(l4 + 2, ts_csum_fold(ts_csum_add(0, l4, len)));
        break;
    case TS_IP_UDP: {
        if (len < 8)
            return;
        size_t ulen = ts_get16(l4 + 4);
        if (ulen < 8 || ulen > len)
            ulen = len;
        ts_put16(l4 + 6, 0);
        uint32_t sum = ts_csum_pseudo(src, dst, TS_IP_UDP, ts_get16(l4 + 4));
        uint16_t c = ts_csum_fold(ts_csum_add(sum, l4, ulen));
        ts_put16(l4 + 6, c == 0 ? 0xffff : c);
        break;
    }
    case TS_IP_TCP:
        if (len < 20 || len > 0xffff)
            return;
        ts_put16(l4 + 16, 0);
        ts_put16(l4 + 16, ts_csum_fold(ts_csum_add(
                              ts_csum_pseudo(src, dst, TS_IP_TCP, (uint16_t)len), l4, len)));
        break;
    default:
        break;
    }
}

TS_NOCOV void ts_fix_checksums(uint8_t *frame, size_t len)
{
    if (frame == NULL || len < TS_ETH_HLEN + TS_IP_HLEN || ts_get16(frame + 12) != TS_ETH_IPV4)
        return;
    uint8_t *ip = frame + TS_ETH_HLEN;
    size_t avail = len - TS_ETH_HLEN;
    size_t hlen = (size_t)(ip[0] & 0xf) * 4;
    if ((ip[0] >> 4) != 4 || hlen < TS_IP_HLEN || hlen > avail)
        return;
    ts_put16(ip + 10, 0);
    ts_put16(ip + 10, ts_csum_fold(ts_csum_add(0, ip, hlen)));
    size_t total = ts_get16(ip + 2);
    if (total < hlen || total > avail || (ts_get16(ip + 6) & TS_IP_OFFMASK) != 0)
        return;
    fix_l4(ip, ip + hlen, total - hlen);
}

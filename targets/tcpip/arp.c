/*
 * arp.c -- the Address Resolution Protocol for IPv4 over Ethernet
 * (RFC 826), with the cache rules of RFC 1122 2.3.2: a bounded cache
 * (oldest entry replaced), entries that time out, requests retried a few
 * times then given up, and at most one packet queued per unresolved
 * address (the latest, RFC 1122 2.3.2.2). Gratuitous ARP (RFC 5227 3)
 * refreshes an existing entry through RFC 826's merge rule; nothing else
 * of RFC 5227 (probing, defence) is implemented.
 */
#include "ts.h"
#include "ip.h"

#define ARP_ENTRIES 64
#define ARP_REACHABLE_US 300000000ull    /* 300 s */
#define ARP_RETRY_US 1000000ull          /* 1 s between requests */
#define ARP_MAX_REQUESTS 5               /* then the entry is dropped */
#define ARP_LEN 28
#define ARP_OP_REQUEST 1
#define ARP_OP_REPLY 2

enum arp_state { ARP_FREE = 0, ARP_PENDING, ARP_REACHABLE };

struct arp_entry {
    enum arp_state state;
    uint32_t ip;
    uint8_t mac[6];
    uint8_t tries;              /* requests sent (pending) */
    uint64_t timer;             /* pending: next retry; reachable: expiry */
    uint64_t stamp;             /* last creation/update, for replacement */
    uint8_t *queued;            /* pending: one IPv4 packet, ts_alloc'd */
    size_t queued_len;
};

struct ts_arp {
    struct arp_entry e[ARP_ENTRIES];
    size_t queued_count, queued_bytes;
    int hwm;                    /* entries [hwm, ARP_ENTRIES) have never been used */
};

static const uint8_t arp_bcast_mac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static void arp_drop_queued(struct ts_stack *s, struct arp_entry *e)
{
    if (e->queued == NULL)
        return;
    assert(s->arp->queued_count > 0 && s->arp->queued_bytes >= e->queued_len);
    ts_free(s, e->queued, e->queued_len);
    s->arp->queued_count--;
    s->arp->queued_bytes -= e->queued_len;
    e->queued = NULL;
    e->queued_len = 0;
}

static void arp_clear(struct ts_stack *s, struct arp_entry *e)
{
    arp_drop_queued(s, e);
    memset(e, 0, sizeof *e);
}

static struct arp_entry *arp_find(struct ts_stack *s, uint32_t ip)
{
    for (int i = 0; i < s->arp->hwm; i++) {
        struct arp_entry *e = &s->arp->e[i];
        if (e->state != ARP_FREE && e->ip == ip)
            return e;
    }
    return NULL;
}

/* A free entry, or the least recently updated one (its queue dropped). */
static struct arp_entry *arp_slot(struct ts_stack *s)
{
    struct arp_entry *old = NULL;
    for (int i = 0; i < ARP_ENTRIES; i++) {
        struct arp_entry *e = &s->arp->e[i];
        if (e->state == ARP_FREE) {
            if (i >= s->arp->hwm)
                s->arp->hwm = i + 1;
            return e;
        }
        if (old == NULL || e->stamp < old->stamp)
            old = e;
    }
    assert(old != NULL);
    if (old->queued != NULL)
        TS_STAT_INC(s, ARP_DROP_UNRESOLVED);
    TS_STAT_INC(s, ARP_CACHE_EVICT);
    arp_clear(s, old);
    return old;
}

static int arp_send(struct ts_stack *s, uint16_t op, const uint8_t tha[6], uint32_t tpa,
                    const uint8_t eth_dst[6])
{
    struct ts_pkt p;
    ts_pkt_init(&p);
    uint8_t *a = ts_pkt_put(&p, ARP_LEN);
    ts_put16(a, 1);
    ts_put16(a + 2, TS_ETH_IPV4);
    a[4] = 6;
    a[5] = 4;
    ts_put16(a + 6, op);
    memcpy(a + 8, s->mac, 6);
    ts_put32(a + 14, s->ip);
    memcpy(a + 18, tha, 6);
    ts_put32(a + 24, tpa);
    TS_STAT_INC(s, ARP_TX);
    s->stats[op == ARP_OP_REQUEST ? TS_ST_ARP_TX_REQUEST : TS_ST_ARP_TX_REPLY]++;
    return ts_eth_output(s, &p, eth_dst, TS_ETH_ARP);
}

void ts_arp_request(struct ts_stack *s, uint32_t ip)
{
    static const uint8_t zero[6];
    arp_send(s, ARP_OP_REQUEST, zero, ip, arp_bcast_mac);
}

int ts_arp_lookup(struct ts_stack *s, uint32_t ip, uint8_t mac_out[6])
{
    struct arp_entry *e = arp_find(s, ip);
    if (e == NULL)
        return -ENOENT;
    if (e->state != ARP_REACHABLE)
        return -EAGAIN;
    if (mac_out != NULL)
        memcpy(mac_out, e->mac, 6);
    return 0;
}

/* Send a packet that was waiting for e's address (entry now reachable). */
static void arp_flush(struct ts_stack *s, struct arp_entry *e)
{
    if (e->queued == NULL)
        return;
    struct ts_pkt p;
    ts_pkt_init(&p);
    memcpy(ts_pkt_put(&p, e->queued_len), e->queued, e->queued_len);
    uint8_t mac[6];
    memcpy(mac, e->mac, 6);
    uint32_t hop = e->ip;
    arp_drop_queued(s, e);           /* before sending: the link may re-enter */
    TS_STAT_INC(s, ARP_QUEUE_SENT);
    if (p.len <= s->mtu || ts_ip_tso_ok(s, ts_pkt_data(&p), p.len)) {
        ts_eth_output(s, &p, mac, TS_ETH_IPV4);
        return;
    }
    /* a whole datagram over the MTU (ip_out.c queued it unfragmented) */
    const uint8_t *d = ts_pkt_data(&p);
    ts_ip_fragment(s, d + 20, p.len - 20, d, hop);
}

static void arp_set(struct ts_stack *s, struct arp_entry *e, const uint8_t mac[6])
{
    uint64_t now = ts_now(s);
    memcpy(e->mac, mac, 6);
    e->state = ARP_REACHABLE;
    e->tries = 0;
    e->timer = now + ARP_REACHABLE_US;
    e->stamp = now;
    arp_flush(s, e);
}

/* RFC 826 "Packet Reception", after the header checks. */
static void arp_merge(struct ts_stack *s, uint16_t op, const uint8_t *sha, uint32_t spa,
                      uint32_t tpa)
{
    int for_us = s->ip != 0 && ts_is_local(s, tpa);
    int merged = 0;
    if (spa != 0) {
        struct arp_entry *e = arp_find(s, spa);
        if (e != NULL) {
            arp_set(s, e, sha);
            TS_STAT_INC(s, ARP_CACHE_UPDATE);
            merged = 1;
        }
    }
    if (!for_us) {
        if (!merged)
            TS_STAT_INC(s, ARP_IGNORED);
        return;
    }
    if (!merged && spa != 0) {
        struct arp_entry *e = arp_slot(s);
        e->ip = spa;
        arp_set(s, e, sha);
        TS_STAT_INC(s, ARP_CACHE_ADD);
    }
    if (op == ARP_OP_REQUEST)
        arp_send(s, ARP_OP_REPLY, sha, spa, sha);
}

void ts_arp_input(struct ts_stack *s, const uint8_t *pkt, size_t len)
{
    TS_STAT_INC(s, ARP_RX);
    if (pkt == NULL || len < ARP_LEN) {
        TS_STAT_INC(s, ARP_DROP_SHORT);
        return;
    }
    if (ts_get16(pkt) != 1) {
        TS_STAT_INC(s, ARP_DROP_HTYPE);
        return;
    }
    if (ts_get16(pkt + 2) != TS_ETH_IPV4) {
        TS_STAT_INC(s, ARP_DROP_PTYPE);
        return;
    }
    if (pkt[4] != 6 || pkt[5] != 4) {
        TS_STAT_INC(s, ARP_DROP_ADDR_LEN);
        return;
    }
    uint16_t op = ts_get16(pkt + 6);
    if (op != ARP_OP_REQUEST && op != ARP_OP_REPLY) {
        TS_STAT_INC(s, ARP_DROP_OP);
        return;
    }
    s->stats[op == ARP_OP_REQUEST ? TS_ST_ARP_RX_REQUEST : TS_ST_ARP_RX_REPLY]++;
    const uint8_t *sha = pkt + 8;
    uint32_t spa = ts_get32(pkt + 14), tpa = ts_get32(pkt + 24);
    if ((sha[0] & 1) || memcmp(sha, s->mac, 6) == 0 || ts_is_bcast(s, spa) ||
        spa == TS_BCAST || ts_ip_is_mcast(spa) || ts_ip_is_loop(spa)) {
        TS_STAT_INC(s, ARP_DROP_BAD_SENDER);
        return;
    }
    if (s->ip != 0 && spa == s->ip) {    /* someone else claims our address */
        TS_STAT_INC(s, ARP_CONFLICT);
        return;
    }
    arp_merge(s, op, sha, spa, tpa);
}

/* RFC 1112 6.4: IPv4 multicast to 01:00:5e + low 23 bits. */
static void arp_mcast_mac(uint32_t ip, uint8_t mac[6])
{
    mac[0] = 0x01; mac[1] = 0x00; mac[2] = 0x5e;
    mac[3] = (uint8_t)((ip >> 16) & 0x7f);
    mac[4] = (uint8_t)(ip >> 8);
    mac[5] = (uint8_t)ip;
}

static int arp_queue(struct ts_stack *s, struct arp_entry *e, const struct ts_pkt *p)
{
    uint8_t *copy = ts_alloc(s, p->len ? p->len : 1);
    if (copy == NULL) {
        TS_STAT_INC(s, ARP_DROP_NOMEM);
        return -ENOMEM;
    }
    if (e->queued != NULL) {
        TS_STAT_INC(s, ARP_QUEUE_REPLACED);
        arp_drop_queued(s, e);
    }
    memcpy(copy, p->buf + p->off, p->len);
    e->queued = copy;
    e->queued_len = p->len ? p->len : 1;
    s->arp->queued_count++;
    s->arp->queued_bytes += e->queued_len;
    TS_STAT_INC(s, ARP_QUEUED);
    return 0;
}

static int arp_no_resolution(struct ts_stack *s, uint32_t next_hop)
{
    return next_hop == TS_BCAST || ts_is_bcast(s, next_hop) || ts_ip_is_mcast(next_hop);
}

int ts_arp_resolved(struct ts_stack *s, uint32_t next_hop)
{
    if (arp_no_resolution(s, next_hop))
        return 1;
    struct arp_entry *e = arp_find(s, next_hop);
    return e != NULL && e->state == ARP_REACHABLE;
}

int ts_arp_output(struct ts_stack *s, struct ts_pkt *p, uint32_t next_hop)
{
    uint8_t mac[6];
    if (next_hop == TS_BCAST || ts_is_bcast(s, next_hop))
        return ts_eth_output(s, p, arp_bcast_mac, TS_ETH_IPV4);
    if (ts_ip_is_mcast(next_hop)) {
        arp_mcast_mac(next_hop, mac);
        return ts_eth_output(s, p, mac, TS_ETH_IPV4);
    }
    struct arp_entry *e = arp_find(s, next_hop);
    if (e != NULL && e->state == ARP_REACHABLE) {
        assert(p->len <= s->mtu || ts_ip_tso_ok(s, ts_pkt_data(p), p->len));
        memcpy(mac, e->mac, 6);
        return ts_eth_output(s, p, mac, TS_ETH_IPV4);
    }
    if (e == NULL) {
        e = arp_slot(s);
        uint64_t now = ts_now(s);
        e->state = ARP_PENDING;
        e->ip = next_hop;
        e->tries = 1;
        e->timer = now + ARP_RETRY_US;
        e->stamp = now;
        ts_arp_request(s, next_hop);
    }
    return arp_queue(s, e, p);
}

static void arp_tick_entry(struct ts_stack *s, struct arp_entry *e, uint64_t now)
{
    if (e->state == ARP_FREE || now < e->timer)
        return;
    if (e->state == ARP_REACHABLE) {
        TS_STAT_INC(s, ARP_CACHE_EXPIRE);
        arp_clear(s, e);
    } else if (e->tries >= ARP_MAX_REQUESTS) {
        if (e->queued != NULL)
            TS_STAT_INC(s, ARP_DROP_UNRESOLVED);
        arp_clear(s, e);
    } else {
        e->tries++;
        e->timer = now + ARP_RETRY_US;
        TS_STAT_INC(s, ARP_RETRY);
        ts_arp_request(s, e->ip);
    }
}

void ts_arp_tick(struct ts_stack *s, uint64_t now)
{
    if (s->arp == NULL)
        return;
    for (int i = 0; i < s->arp->hwm; i++)
        arp_tick_entry(s, &s->arp->e[i], now);
}

uint64_t ts_arp_deadline(struct ts_stack *s)
{
    uint64_t d = TS_NO_DEADLINE;
    if (s->arp == NULL)
        return d;
    for (int i = 0; i < s->arp->hwm; i++) {
        const struct arp_entry *e = &s->arp->e[i];
        if (e->state != ARP_FREE && e->timer < d)
            d = e->timer;
    }
    return d;
}

int ts_arp_init(struct ts_stack *s)
{
    s->arp = ts_alloc(s, sizeof *s->arp);
    return s->arp == NULL ? -ENOMEM : 0;
}

void ts_arp_fini(struct ts_stack *s)
{
    if (s->arp == NULL)
        return;
    for (int i = 0; i < s->arp->hwm; i++)
        arp_clear(s, &s->arp->e[i]);
    ts_free(s, s->arp, sizeof *s->arp);
    s->arp = NULL;
}

TS_NOCOV static int arp_check_entry(const struct arp_entry *e, uint64_t now, char *err, size_t cap)
{
    if (e->state > ARP_REACHABLE)
        return ts_errf(err, cap, "arp: entry state %d", (int)e->state);
    if (e->state == ARP_FREE)
        return e->queued == NULL ? 0 : ts_errf(err, cap, "arp: free entry holds a packet");
    if (e->state == ARP_REACHABLE && e->queued != NULL)
        return ts_errf(err, cap, "arp: reachable entry holds a packet");
    if ((e->queued == NULL) != (e->queued_len == 0))
        return ts_errf(err, cap, "arp: queued length %zu mismatched", e->queued_len);
    if (e->state == ARP_PENDING && (e->tries < 1 || e->tries > ARP_MAX_REQUESTS))
        return ts_errf(err, cap, "arp: pending entry with %u requests", e->tries);
    uint64_t span = e->state == ARP_PENDING ? ARP_RETRY_US : ARP_REACHABLE_US;
    if (e->timer > now + span)
        return ts_errf(err, cap, "arp: timer %llu beyond now+%llu",
                       (unsigned long long)e->timer, (unsigned long long)span);
    return 0;
}

TS_NOCOV int ts_arp_check(struct ts_stack *s, char *err, size_t cap)
{
    if (s->arp == NULL)
        return ts_errf(err, cap, "arp: no state");
    uint64_t now = ts_now(s);
    size_t count = 0, bytes = 0;
    if (s->arp->hwm < 0 || s->arp->hwm > ARP_ENTRIES)
        return ts_errf(err, cap, "arp: high-water mark %d", s->arp->hwm);
    for (int i = 0; i < s->arp->hwm; i++) {
        const struct arp_entry *e = &s->arp->e[i];
        if (e->state == ARP_FREE && e->queued == NULL)
            continue;                       /* the common case, kept cheap for fuzzing */
        if (arp_check_entry(e, now, err, cap) < 0)
            return -1;
        for (int j = 0; j < i && e->state != ARP_FREE; j++)
            if (s->arp->e[j].state != ARP_FREE && s->arp->e[j].ip == e->ip)
                return ts_errf(err, cap, "arp: two entries for one address");
        if (e->queued != NULL) {
            count++;
            bytes += e->queued_len;
        }
    }
    if (count != s->arp->queued_count || bytes != s->arp->queued_bytes)
        return ts_errf(err, cap, "arp: queued %zu/%zu bytes, accounted %zu/%zu", count,
                       bytes, s->arp->queued_count, s->arp->queued_bytes);
    return 0;
}

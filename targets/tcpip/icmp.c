/*
 * icmp.c -- ICMP for IPv4 (RFC 792, RFC 1122 3.2.2): echo reply to echo
 * requests (never to broadcasts, RFC 1122 3.2.2.6 allows ignoring them),
 * checksum validation, errors received (destination unreachable, time
 * exceeded, source quench) passed to TCP for TCP originals (RFC 1122
 * 4.2.3.9), and errors sent about received datagrams with the original
 * header + 8 bytes, never about ICMP errors, broadcasts, non-first
 * fragments or odd sources (RFC 1122 3.2.2), rate limited with a token
 * bucket (RFC 1812 4.3.2.8 style). ts_ping sends echo requests and counts
 * the replies per identifier in a small table.
 */
#include "ts.h"
#include "ip.h"

#define ICMP_ECHO_REPLY 0
#define ICMP_UNREACH 3
#define ICMP_QUENCH 4
#define ICMP_ECHO 8
#define ICMP_TIME_EXCEEDED 11
#define ICMP_HLEN 8
#define ICMP_RATE 100                /* errors per second */
#define ICMP_BURST 100
#define ICMP_PING_IDS 16

struct ping_slot {
    int used;
    uint16_t id;
    uint32_t replies;
    uint64_t sent_at, last_rtt, stamp;
};

struct ts_icmp {
    uint32_t tokens;             /* error token bucket */
    uint64_t refill_at;          /* when tokens were last topped up */
    struct ping_slot ping[ICMP_PING_IDS];
};

static uint16_t icmp_sum(const uint8_t *p, size_t len)
{
    return ts_csum_fold(ts_csum_add(0, p, len));
}

static int icmp_send(struct ts_stack *s, struct ts_pkt *p, uint32_t src, uint32_t dst)
{
    uint8_t *m = ts_pkt_data(p);
    ts_put16(m + 2, 0);
    ts_put16(m + 2, icmp_sum(m, p->len));
    struct ts_ip_out o = {.src = src, .dst = dst, .proto = TS_IP_ICMP};
    int rc = ts_ip_output(s, p, &o);
    if (rc < 0)
        TS_STAT_INC(s, ICMP_TX_FAIL);
    else
        TS_STAT_INC(s, ICMP_TX);
    return rc;
}

/* ------------------------------------------------------------------ echo */

static void icmp_echo(struct ts_stack *s, const struct ts_ip_info *ip, const uint8_t *p, size_t len)
{
    TS_STAT_INC(s, ICMP_RX_ECHO_REQUEST);
    if (ip->bcast || ip->src == 0 || !ts_is_local(s, ip->dst)) {
        TS_STAT_INC(s, ICMP_DROP_BCAST_ECHO);
        return;
    }
    struct ts_pkt q;
    ts_pkt_init(&q);
    uint8_t *m = ts_pkt_put(&q, len);
    memcpy(m, p, len);
    m[0] = ICMP_ECHO_REPLY;
    m[1] = 0;
    TS_STAT_INC(s, ICMP_TX_ECHO_REPLY);
    icmp_send(s, &q, ip->dst, ip->src);
}

static struct ping_slot *ping_find(struct ts_stack *s, uint16_t id, int create)
{
    struct ping_slot *old = NULL;
    for (int i = 0; i < ICMP_PING_IDS; i++) {
        struct ping_slot *p = &s->icmp->ping[i];
        if (p->used && p->id == id)
            return p;
        if (old == NULL || !p->used || (old->used && p->stamp < old->stamp))
            old = p;
    }
    if (!create)
        return NULL;
    *old = (struct ping_slot){.used = 1, .id = id};
    return old;
}

static void icmp_echo_reply(struct ts_stack *s, const uint8_t *p)
{
    TS_STAT_INC(s, ICMP_RX_ECHO_REPLY);
    struct ping_slot *ps = ping_find(s, ts_get16(p + 4), 0);
    if (ps == NULL) {
        TS_STAT_INC(s, ICMP_RX_ECHO_UNKNOWN);
        return;
    }
    ps->replies++;
    ps->last_rtt = ts_now(s) - ps->sent_at;
}

int ts_ping(struct ts_stack *s, uint32_t dst, uint16_t id, uint16_t seq,
            const uint8_t *data, size_t len)
{
    if (len > TS_IP_MAXLEN - TS_IP_HLEN - ICMP_HLEN || (data == NULL && len > 0))
        return -EMSGSIZE;
    struct ts_pkt q;
    ts_pkt_init(&q);
    uint8_t *m = ts_pkt_put(&q, ICMP_HLEN + len);
    m[0] = ICMP_ECHO;
    m[1] = 0;
    ts_put16(m + 4, id);
    ts_put16(m + 6, seq);
    if (len > 0)
        memcpy(m + ICMP_HLEN, data, len);
    struct ping_slot *ps = ping_find(s, id, 1);
    ps->sent_at = ps->stamp = ts_now(s);
    TS_STAT_INC(s, ICMP_TX_ECHO_REQUEST);
    return icmp_send(s, &q, 0, dst);
}

uint32_t ts_ping_replies(struct ts_stack *s, uint16_t id)
{
    struct ping_slot *ps = s->icmp ? ping_find(s, id, 0) : NULL;
    return ps != NULL ? ps->replies : 0;
}

/* ------------------------------------------------------- errors received */

/* The datagram quoted in an error we received: one of ours? */
static void icmp_rx_error(struct ts_stack *s, uint8_t type, uint8_t code, const uint8_t *p,
                          size_t len)
{
    s->stats[type == ICMP_UNREACH  ? TS_ST_ICMP_RX_UNREACH
             : type == ICMP_QUENCH ? TS_ST_ICMP_RX_QUENCH
                                   : TS_ST_ICMP_RX_TIME_EXCEEDED]++;
    const uint8_t *in = p + ICMP_HLEN;
    size_t inlen = len - ICMP_HLEN;
    size_t ihl = inlen >= TS_IP_HLEN ? (size_t)(in[0] & 0xf) * 4 : 0;
    if (inlen < TS_IP_HLEN || (in[0] >> 4) != 4 || ihl < TS_IP_HLEN || inlen < ihl + 8) {
        TS_STAT_INC(s, ICMP_DROP_BAD_INNER);
        return;
    }
    uint32_t src = ts_get32(in + 12), dst = ts_get32(in + 16);
    if (!ts_is_local(s, src) || (ts_get16(in + 6) & TS_IP_OFFMASK) != 0) {
        TS_STAT_INC(s, ICMP_DROP_BAD_INNER);
        return;
    }
    const uint8_t *l4 = in + ihl;
    if (in[9] == TS_IP_TCP) {
        TS_STAT_INC(s, ICMP_RX_ERR_TCP);
        ts_tcp_icmp(s, type, code, src, dst, ts_get16(l4), ts_get16(l4 + 2), ts_get32(l4 + 4));
    } else if (in[9] == TS_IP_UDP) {
        TS_STAT_INC(s, ICMP_RX_ERR_UDP);
    } else {
        TS_STAT_INC(s, ICMP_RX_ERR_OTHER);
    }
}

void ts_icmp_input(struct ts_stack *s, const struct ts_ip_info *ip, const uint8_t *p, size_t len)
{
    TS_STAT_INC(s, ICMP_RX);
    if (len < ICMP_HLEN) {
        TS_STAT_INC(s, ICMP_DROP_SHORT);
        return;
    }
    if (icmp_sum(p, len) != 0) {
        TS_STAT_INC(s, ICMP_DROP_CHECKSUM);
        return;
    }
    switch (p[0]) {
    case ICMP_ECHO:
        icmp_echo(s, ip, p, len);
        break;
    case ICMP_ECHO_REPLY:
        icmp_echo_reply(s, p);
        break;
    case ICMP_UNREACH:
    case ICMP_QUENCH:
    case ICMP_TIME_EXCEEDED:
        icmp_rx_error(s, p[0], p[1], p, len);
        break;
    default:
        TS_STAT_INC(s, ICMP_RX_OTHER);
        break;
    }
}

/* ----------------------------------------------------------- errors sent */

static int icmp_is_error_type(uint8_t type)
{
    return type == ICMP_UNREACH || type == ICMP_QUENCH || type == 5 ||
           type == ICMP_TIME_EXCEEDED || type == 12;
}

/* RFC 1122 3.2.2: the datagrams an error must not be sent about. */
static int icmp_error_allowed(struct ts_stack *s, const uint8_t *orig, size_t len, size_t *hlen)
{
    if (orig == NULL || len < TS_IP_HLEN || (orig[0] >> 4) != 4)
        return 0;
    *hlen = (size_t)(orig[0] & 0xf) * 4;
    if (*hlen < TS_IP_HLEN || *hlen > len)
        return 0;
    uint32_t src = ts_get32(orig + 12), dst = ts_get32(orig + 16);
    if (src == 0 || ts_is_bcast(s, src) || ts_ip_is_mcast(src) || ts_ip_is_class_e(src) ||
        ts_ip_is_loop(src) || ts_is_bcast(s, dst) || ts_ip_is_mcast(dst))
        return 0;
    if ((ts_get16(orig + 6) & TS_IP_OFFMASK) != 0)
        return 0;
    if (orig[9] == TS_IP_ICMP && (len <= *hlen || icmp_is_error_type(orig[*hlen])))
        return 0;
    return 1;
}

static int icmp_take_token(struct ts_stack *s)
{
    struct ts_icmp *ic = s->icmp;
    uint64_t now = ts_now(s);
    if (now > ic->refill_at) {
        uint64_t add = (now - ic->refill_at) * ICMP_RATE / 1000000u;
        if (add > 0) {
            ic->tokens = add >= ICMP_BURST - ic->tokens ? ICMP_BURST : ic->tokens + (uint32_t)add;
            ic->refill_at += add * 1000000u / ICMP_RATE;
        }
    }
    if (ic->tokens == 0)
        return 0;
    ic->tokens--;
    return 1;
}

void ts_icmp_error(struct ts_stack *s, uint8_t type, uint8_t code, const uint8_t *orig, size_t len)
{
    size_t hlen = 0;
    if (s->icmp == NULL || !icmp_error_allowed(s, orig, len, &hlen)) {
        TS_STAT_INC(s, ICMP_ERR_SUPPRESSED);
        return;
    }
    if (!icmp_take_token(s)) {
        TS_STAT_INC(s, ICMP_ERR_RATELIMIT);
        return;
    }
    size_t n = hlen + (len - hlen < 8 ? len - hlen : 8);
    struct ts_pkt q;
    ts_pkt_init(&q);
    uint8_t *m = ts_pkt_put(&q, ICMP_HLEN + n);
    memset(m, 0, ICMP_HLEN);
    m[0] = type;
    m[1] = code;
    memcpy(m + ICMP_HLEN, orig, n);
    TS_STAT_INC(s, ICMP_TX_ERROR);
    icmp_send(s, &q, 0, ts_get32(orig + 12));
}

/* ------------------------------------------------------------ module hooks */

int ts_icmp_init(struct ts_stack *s)
{
    s->icmp = ts_alloc(s, sizeof *s->icmp);
    if (s->icmp == NULL)
        return -ENOMEM;
    s->icmp->tokens = ICMP_BURST;
    s->icmp->refill_at = ts_now(s);
    return 0;
}

void ts_icmp_fini(struct ts_stack *s)
{
    if (s->icmp != NULL)
        ts_free(s, s->icmp, sizeof *s->icmp);
    s->icmp = NULL;
}

void ts_icmp_tick(struct ts_stack *s, uint64_t now)
{
    (void)s;
    (void)now;
}

uint64_t ts_icmp_deadline(struct ts_stack *s)
{
    (void)s;
    return TS_NO_DEADLINE;
}

TS_NOCOV int ts_icmp_check(struct ts_stack *s, char *err, size_t cap)
{
    const struct ts_icmp *ic = s->icmp;
    if (ic == NULL)
        return ts_errf(err, cap, "icmp: no state");
    if (ic->tokens > ICMP_BURST)
        return ts_errf(err, cap, "icmp: %u tokens over the burst", ic->tokens);
    if (ic->refill_at > ts_now(s))
        return ts_errf(err, cap, "icmp: refill time in the future");
    for (int i = 0; i < ICMP_PING_IDS; i++)
        for (int j = 0; j < i && ic->ping[i].used; j++)
            if (ic->ping[j].used && ic->ping[j].id == ic->ping[i].id)
                return ts_errf(err, cap, "icmp: ping id %u twice", ic->ping[i].id);
    return 0;
}

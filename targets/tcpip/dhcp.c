/*
 * dhcp.c -- the DHCP client (RFC 2131) with the options of RFC 2132.
 *
 * State machine (RFC 2131 section 4.4, figure 5): ts_dhcp_start sends a
 * DHCPDISCOVER (INIT -> SELECTING) broadcast from 0.0.0.0:68 to
 * 255.255.255.255:67; the first acceptable DHCPOFFER is answered with a
 * broadcast DHCPREQUEST carrying the server identifier and the requested
 * address (REQUESTING); the DHCPACK configures the interface address, mask
 * and default route (BOUND). At T1 (option 58, default lease/2) a unicast
 * DHCPREQUEST goes to the server (RENEWING), at T2 (option 59, default
 * 7/8 lease) a broadcast one (REBINDING); when the lease expires the address
 * is removed and the client starts over. A DHCPNAK restarts it.
 *
 * Timing (section 4.1): DISCOVER and REQUEST in SELECTING/REQUESTING are
 * retransmitted after 4, 8, 16, 32, 64, 64... seconds, each randomized by
 * a uniform -1..+1 s from ts_random (deterministic under a seed); in
 * REQUESTING the client gives up after the 64 s attempt and restarts. In
 * RENEWING and REBINDING (section 4.4.5) it retransmits after half the time
 * left until T2 (resp. the lease end), at least 60 s.
 *
 * The client sets the BROADCAST flag while it has no address, so servers
 * broadcast their replies (the stack drops unicast to an address it does
 * not have yet). Every reply is validated (op, htype/hlen, xid, chaddr,
 * magic cookie, each option inside its area, the END option, option
 * overload 52 into file/sname, option lengths and values, the server
 * identifier, the offered address and mask) and every drop is counted by
 * reason (stats_dhcp.def). Memory: one struct per stack, nothing else.
 */
#include "ts.h"

#define DHCP_SERVER_PORT 67
#define DHCP_CLIENT_PORT 68
#define DHCP_FIXED_LEN 236           /* BOOTP header up to and without options */
#define DHCP_MIN_LEN 240             /* with the magic cookie */
#define DHCP_MAGIC 0x63825363u
#define DHCP_FLAG_BROADCAST 0x8000u
#define DHCP_OUT_CAP 576             /* RFC 2131: messages fit in 576 bytes */
#define DHCP_INFINITE 0xffffffffu
#define SEC 1000000ull

/* Offsets in the BOOTP header (RFC 2131 figure 1). */
enum {
    OFF_OP = 0, OFF_HTYPE = 1, OFF_HLEN = 2, OFF_HOPS = 3, OFF_XID = 4,
    OFF_SECS = 8, OFF_FLAGS = 10, OFF_CIADDR = 12, OFF_YIADDR = 16,
    OFF_SIADDR = 20, OFF_GIADDR = 24, OFF_CHADDR = 28, OFF_SNAME = 44,
    OFF_FILE = 108, OFF_COOKIE = 236, OFF_OPTIONS = 240
};
#define SNAME_LEN 64
#define FILE_LEN 128

/* Option codes (RFC 2132). */
enum {
    OPT_PAD = 0, OPT_MASK = 1, OPT_ROUTER = 3, OPT_DNS = 6, OPT_REQ_IP = 50,
    OPT_LEASE = 51, OPT_OVERLOAD = 52, OPT_MSGTYPE = 53, OPT_SERVER = 54,
    OPT_PRL = 55, OPT_MAXSIZE = 57, OPT_T1 = 58, OPT_T2 = 59,
    OPT_CLIENT_ID = 61, OPT_END = 255
};

/* DHCP message types (option 53). */
enum {
    MSG_DISCOVER = 1, MSG_OFFER = 2, MSG_REQUEST = 3, MSG_DECLINE = 4,
    MSG_ACK = 5, MSG_NAK = 6, MSG_RELEASE = 7, MSG_INFORM = 8
};

/* The options of one received message this client uses. */
enum { HAVE_TYPE = 1, HAVE_SERVER = 2, HAVE_LEASE = 4, HAVE_MASK = 8,
       HAVE_ROUTER = 16, HAVE_T1 = 32, HAVE_T2 = 64, HAVE_OVERLOAD = 128 };

struct dhcp_opts {
    unsigned have;
    uint8_t type, overload;
    uint32_t server, lease, mask, router, t1, t2;
};

/* Result of parsing one option area. */
enum { AREA_OK, AREA_NO_END, AREA_TRUNC, AREA_BAD, AREA_DUP };

struct ts_dhcp {
    int state;                   /* enum ts_dhcp_state */
    struct ts_udp *sock;         /* port 68, open while state != OFF */
    uint32_t xid;
    uint64_t started;            /* start of the current exchange (secs field) */
    uint64_t next_tx;            /* retransmission time, TS_NO_DEADLINE: none */
    unsigned tries;              /* transmissions in the current exchange */
    uint32_t offer_ip, server;   /* chosen offer / lease server */
    uint32_t ip, mask, router;   /* the lease */
    uint32_t lease_s;
    uint64_t bound_at, t1_at, t2_at, expire_at;
    int configured;              /* ts_set_addr done with ip/mask */
    int route_set;               /* default route via router added */
};

static const uint8_t dhcp_prl[] = {OPT_MASK, OPT_ROUTER, OPT_DNS, OPT_LEASE,
                                   OPT_SERVER, OPT_T1, OPT_T2};

/* ---- small helpers ------------------------------------------------------ */

static uint64_t min64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* now + s seconds, saturating at TS_NO_DEADLINE. */
static uint64_t after_s(uint64_t now, uint64_t s)
{
    uint64_t d = s * SEC;
    return d >= TS_NO_DEADLINE - now ? TS_NO_DEADLINE - 1 : now + d;
}

/* A unicast address a server may hand out: not 0, loopback, class D/E. */
static int addr_usable(uint32_t a)
{
    uint8_t top = (uint8_t)(a >> 24);
    return a != 0 && top != 0 && top != 127 && top < 224;
}

/* A netmask: contiguous ones from the top, /1 to /30. */
static int mask_valid(uint32_t m)
{
    uint32_t inv = ~m;
    return m != 0 && (inv & (inv + 1)) == 0 && inv >= 3;
}

/* The classful default mask (RFC 2131 leaves it to the client). */
static uint32_t mask_default(uint32_t a)
{
    if ((a >> 31) == 0)
        return 0xff000000u;
    return (a >> 30) == 2 ? 0xffff0000u : 0xffffff00u;
}

/* ---- building and sending messages -------------------------------------- */

static uint8_t *opt_put(uint8_t *o, uint8_t code, const void *val, uint8_t len)
{
    o[0] = code;
    o[1] = len;
    memcpy(o + 2, val, len);
    return o + 2 + len;
}

static uint8_t *opt_put32(uint8_t *o, uint8_t code, uint32_t v)
{
    uint8_t b[4];
    ts_put32(b, v);
    return opt_put(o, code, b, 4);
}

/* The fixed header of a BOOTREQUEST; returns where the options start. */
static uint8_t *msg_header(struct ts_stack *s, struct ts_dhcp *d, uint8_t *m,
                           uint32_t ciaddr, int bcast_flag)
{
    uint64_t secs = (ts_now(s) - d->started) / SEC;
    memset(m, 0, DHCP_OUT_CAP);
    m[OFF_OP] = 1;
    m[OFF_HTYPE] = 1;
    m[OFF_HLEN] = 6;
    ts_put32(m + OFF_XID, d->xid);
    ts_put16(m + OFF_SECS, (uint16_t)(secs > 0xffff ? 0xffff : secs));
    ts_put16(m + OFF_FLAGS, bcast_flag ? DHCP_FLAG_BROADCAST : 0);
    ts_put32(m + OFF_CIADDR, ciaddr);
    memcpy(m + OFF_CHADDR, s->mac, 6);
    ts_put32(m + OFF_COOKIE, DHCP_MAGIC);
    return m + OFF_OPTIONS;
}

/* Options every message carries: type and client identifier. */
static uint8_t *msg_common_opts(struct ts_stack *s, uint8_t *o, uint8_t type)
{
    uint8_t cid[7];
    cid[0] = 1;                              /* htype Ethernet, RFC 2132 9.14 */
    memcpy(cid + 1, s->mac, 6);
    o = opt_put(o, OPT_MSGTYPE, &type, 1);
    return opt_put(o, OPT_CLIENT_ID, cid, sizeof cid);
}

/* Options of DISCOVER and REQUEST: parameter list and maximum size. */
static uint8_t *msg_param_opts(struct ts_stack *s, uint8_t *o)
{
    uint8_t b[2];
    uint32_t max = (uint32_t)s->mtu - 28u;
    if (max < DHCP_OUT_CAP)
        max = DHCP_OUT_CAP;
    if (max > 0xffff)
        max = 0xffff;
    ts_put16(b, (uint16_t)max);
    o = opt_put(o, OPT_MAXSIZE, b, 2);
    return opt_put(o, OPT_PRL, dhcp_prl, sizeof dhcp_prl);
}

static void msg_send(struct ts_stack *s, uint32_t src, uint32_t dst,
                     const uint8_t *m, uint8_t *end)
{
    *end++ = OPT_END;
    size_t len = (size_t)(end - m);
    if (len < 300)                           /* BOOTP relays expect >= 300 */
        len = 300;
    assert(len <= DHCP_OUT_CAP);
    if (ts_udp_output(s, src, DHCP_CLIENT_PORT, dst, DHCP_SERVER_PORT, m, len) < 0)
        TS_STAT_INC(s, DHCP_TX_ERR);
}

static void send_discover(struct ts_stack *s, struct ts_dhcp *d)
{
    uint8_t m[DHCP_OUT_CAP];
    uint8_t *o = msg_header(s, d, m, 0, 1);
    o = msg_common_opts(s, o, MSG_DISCOVER);
    o = msg_param_opts(s, o);
    TS_STAT_INC(s, DHCP_TX_DISCOVER);
    msg_send(s, 0, TS_BCAST, m, o);
}

/* REQUEST in REQUESTING: broadcast, server id and requested address. */
static void send_request_select(struct ts_stack *s, struct ts_dhcp *d)
{
    uint8_t m[DHCP_OUT_CAP];
    uint8_t *o = msg_header(s, d, m, 0, 1);
    o = msg_common_opts(s, o, MSG_REQUEST);
    o = opt_put32(o, OPT_REQ_IP, d->offer_ip);
    o = opt_put32(o, OPT_SERVER, d->server);
    o = msg_param_opts(s, o);
    TS_STAT_INC(s, DHCP_TX_REQUEST);
    msg_send(s, 0, TS_BCAST, m, o);
}

/* REQUEST in RENEWING (unicast to the server) or REBINDING (broadcast):
 * ciaddr filled, no server id nor requested address (RFC 2131 4.3.2). */
static void send_request_extend(struct ts_stack *s, struct ts_dhcp *d)
{
    uint8_t m[DHCP_OUT_CAP];
    uint8_t *o = msg_header(s, d, m, d->ip, 0);
    o = msg_common_opts(s, o, MSG_REQUEST);
    o = msg_param_opts(s, o);
    TS_STAT_INC(s, DHCP_TX_REQUEST);
    uint32_t dst = d->state == TS_DHCP_RENEWING ? d->server : TS_BCAST;
    msg_send(s, d->ip, dst, m, o);
}

static void send_release(struct ts_stack *s, struct ts_dhcp *d)
{
    uint8_t m[DHCP_OUT_CAP];
    d->xid = ts_random(s);
    d->started = ts_now(s);
    uint8_t *o = msg_header(s, d, m, d->ip, 0);
    o = msg_common_opts(s, o, MSG_RELEASE);
    o = opt_put32(o, OPT_SERVER, d->server);
    TS_STAT_INC(s, DHCP_TX_RELEASE);
    msg_send(s, d->ip, d->server, m, o);
}

/* ---- timers ------------------------------------------------------------- */

/* Backoff of RFC 2131 4.1: 4, 8, 16, 32, 64 s, then 64 s, +-1 s. */
static uint64_t backoff_us(struct ts_stack *s, unsigned tries)
{
    assert(tries >= 1);
    unsigned shift = tries - 1 < 4 ? tries - 1 : 4;
    uint64_t base = (4ull << shift) * SEC;
    uint64_t jitter = ts_random(s) % (2 * SEC + 1);
    return base - SEC + jitter;
}

/* Retransmission in RENEWING/REBINDING (RFC 2131 4.4.5): half the time to
 * `limit`, at least 60 s, never past limit (whose own event takes over). */
static uint64_t extend_retry_at(uint64_t now, uint64_t limit)
{
    uint64_t half = limit > now ? (limit - now) / 2 : 0;
    if (half < 60 * SEC)
        half = 60 * SEC;
    return min64(now + half, limit);
}

/* ---- address configuration ---------------------------------------------- */

static void deconfigure(struct ts_stack *s, struct ts_dhcp *d)
{
    if (d->route_set)
        ts_route_del(s, 0, 0);
    if (d->configured && s->ip == d->ip)
        ts_set_addr(s, 0, 0);
    d->route_set = 0;
    d->configured = 0;
    d->ip = d->mask = d->router = 0;
    d->lease_s = 0;
    d->bound_at = d->t1_at = d->t2_at = d->expire_at = TS_NO_DEADLINE;
}

static void configure(struct ts_stack *s, struct ts_dhcp *d)
{
    int announce = !d->configured || s->ip != d->ip || s->netmask != d->mask;
    if (announce)
        ts_set_addr(s, d->ip, d->mask);
    d->configured = 1;
    if (d->route_set)
        ts_route_del(s, 0, 0);
    d->route_set = 0;
    if (d->router != 0) {
        ts_route_del(s, 0, 0);              /* replace any earlier default */
        d->route_set = ts_route_add(s, 0, 0, d->router) == 0;
    }
    if (announce)
        ts_arp_request(s, d->ip);           /* gratuitous ARP (RFC 5227 3) */
}

/* ---- transitions -------------------------------------------------------- */

/* INIT -> SELECTING: a new exchange and its first DISCOVER. */
static void enter_selecting(struct ts_stack *s, struct ts_dhcp *d)
{
    uint64_t now = ts_now(s);
    d->state = TS_DHCP_SELECTING;
    d->xid = ts_random(s);
    d->started = now;
    d->tries = 1;
    d->offer_ip = d->server = 0;
    send_discover(s, d);
    d->next_tx = now + backoff_us(s, d->tries);
}

/* Lost the lease or told to start over: drop the address, rediscover. */
static void restart(struct ts_stack *s, struct ts_dhcp *d)
{
    TS_STAT_INC(s, DHCP_RESTART);
    deconfigure(s, d);
    enter_selecting(s, d);
}

static void enter_requesting(struct ts_stack *s, struct ts_dhcp *d,
                             uint32_t ip, uint32_t server)
{
    uint64_t now = ts_now(s);
    d->state = TS_DHCP_REQUESTING;
    d->offer_ip = ip;
    d->server = server;
    d->tries = 1;
    send_request_select(s, d);
    d->next_tx = now + backoff_us(s, d->tries);
}

/* T1 (RENEWING, unicast to the server, retries until T2) or T2 (REBINDING,
 * broadcast, retries until the lease ends): RFC 2131 4.4.5. */
static void enter_extend(struct ts_stack *s, struct ts_dhcp *d, uint64_t now, int state)
{
    assert(state == TS_DHCP_RENEWING || state == TS_DHCP_REBINDING);
    int renew = state == TS_DHCP_RENEWING;
    s->stats[renew ? TS_ST_DHCP_RENEW : TS_ST_DHCP_REBIND]++;
    d->state = state;
    d->xid = ts_random(s);
    d->started = now;
    d->tries = 1;
    send_request_extend(s, d);
    d->next_tx = extend_retry_at(now, renew ? d->t2_at : d->expire_at);
}

/* T1/T2 from the options, or the defaults of RFC 2131 4.4.5 when absent or
 * inconsistent (T1 <= T2 <= lease must hold). */
static void lease_timers(struct ts_stack *s, const struct dhcp_opts *o,
                         uint32_t lease, uint32_t *t1, uint32_t *t2)
{
    uint32_t d1 = lease / 2, d2 = (uint32_t)((uint64_t)lease * 7 / 8);
    *t1 = (o->have & HAVE_T1) ? o->t1 : d1;
    *t2 = (o->have & HAVE_T2) ? o->t2 : d2;
    if (*t2 > lease || *t1 > *t2) {
        TS_STAT_INC(s, DHCP_BAD_TIMERS);
        *t1 = d1;
        *t2 = d2;
    }
}

/* DHCPACK accepted: record the lease, configure, arm T1. */
static void enter_bound(struct ts_stack *s, struct ts_dhcp *d, uint32_t ip,
                        const struct dhcp_opts *o)
{
    uint64_t now = ts_now(s);
    uint32_t t1, t2;
    d->ip = ip;
    d->mask = (o->have & HAVE_MASK) ? o->mask : mask_default(ip);
    d->router = 0;
    if (o->have & HAVE_ROUTER) {
        if ((o->router & d->mask) == (ip & d->mask) && o->router != ip &&
            addr_usable(o->router))
            d->router = o->router;
        else
            TS_STAT_INC(s, DHCP_BAD_ROUTER);
    }
    if (o->have & HAVE_SERVER)
        d->server = o->server;
    d->lease_s = o->lease;
    d->bound_at = now;
    if (o->lease == DHCP_INFINITE) {
        d->t1_at = d->t2_at = d->expire_at = TS_NO_DEADLINE;
    } else {
        lease_timers(s, o, o->lease, &t1, &t2);
        d->t1_at = after_s(now, t1);
        d->t2_at = after_s(now, t2);
        d->expire_at = after_s(now, o->lease);
    }
    d->state = TS_DHCP_BOUND;
    d->next_tx = TS_NO_DEADLINE;
    d->tries = 0;
    TS_STAT_INC(s, DHCP_BOUND);
    configure(s, d);
}

/* ---- parsing ------------------------------------------------------------ */

static int opt_u32(const uint8_t *v, uint8_t len, uint32_t *out)
{
    if (len != 4)
        return AREA_BAD;
    *out = ts_get32(v);
    return AREA_OK;
}

/* One option's value into o; AREA_OK, AREA_BAD or AREA_DUP. Options the
 * client does not use are skipped. */
static int opt_one(struct dhcp_opts *o, uint8_t code, const uint8_t *v,
                   uint8_t len, int main_area)
{
    unsigned bit;
    uint32_t *dst;
    switch (code) {
    case OPT_MSGTYPE:
        if (o->have & HAVE_TYPE)
            return AREA_DUP;
        if (len != 1)
            return AREA_BAD;
        o->type = v[0];
        o->have |= HAVE_TYPE;
        return AREA_OK;
    case OPT_OVERLOAD:
        if (!main_area)
            return AREA_OK;                  /* only meaningful in options */
        if (o->have & HAVE_OVERLOAD)
            return AREA_DUP;
        if (len != 1 || v[0] < 1 || v[0] > 3)
            return AREA_BAD;
        o->overload = v[0];
        o->have |= HAVE_OVERLOAD;
        return AREA_OK;
    case OPT_ROUTER:                         /* a list: the first one */
        if (o->have & HAVE_ROUTER)
            return AREA_DUP;
        if (len < 4 || len % 4 != 0)
            return AREA_BAD;
        o->router = ts_get32(v);
        o->have |= HAVE_ROUTER;
        return AREA_OK;
    case OPT_SERVER: bit = HAVE_SERVER; dst = &o->server; break;
    case OPT_LEASE: bit = HAVE_LEASE; dst = &o->lease; break;
    case OPT_MASK: bit = HAVE_MASK; dst = &o->mask; break;
    case OPT_T1: bit = HAVE_T1; dst = &o->t1; break;
    case OPT_T2: bit = HAVE_T2; dst = &o->t2; break;
    default:
        return AREA_OK;
    }
    if (o->have & bit)
        return AREA_DUP;
    o->have |= bit;
    return opt_u32(v, len, dst);
}

/* Walk one option area (RFC 2132 section 2): pad, end, code-length-value,
 * each value inside the area. */
static int opt_area(struct dhcp_opts *o, const uint8_t *p, size_t n, int main_area)
{
    size_t i = 0;
    while (i < n) {
        uint8_t code = p[i];
        if (code == OPT_PAD) {
            i++;
            continue;
        }
        if (code == OPT_END)
            return AREA_OK;
        if (i + 1 >= n || i + 2 + (size_t)p[i + 1] > n)
            return AREA_TRUNC;
        int r = opt_one(o, code, p + i + 2, p[i + 1], main_area);
        if (r != AREA_OK)
            return r;
        i += 2 + (size_t)p[i + 1];
    }
    return AREA_NO_END;
}

/* Count the failure of an option area; returns -1 (drop). */
static int opt_fail(struct ts_stack *s, int r)
{
    switch (r) {
    case AREA_TRUNC: TS_STAT_INC(s, DHCP_DROP_OPT_LEN); break;
    case AREA_BAD: TS_STAT_INC(s, DHCP_DROP_OPT_BAD); break;
    case AREA_DUP: TS_STAT_INC(s, DHCP_DROP_OPT_DUP); break;
    default: TS_STAT_INC(s, DHCP_DROP_NO_END); break;
    }
    return -1;
}

/* All options of a message, including the overloaded file and sname fields
 * (RFC 2131 4.1: options, then file, then sname). The overloaded areas may
 * end without END (they are padded to their size). 0, or -1 counted. */
static int opt_parse(struct ts_stack *s, struct dhcp_opts *o,
                     const uint8_t *m, size_t len)
{
    memset(o, 0, sizeof *o);
    int r = opt_area(o, m + OFF_OPTIONS, len - OFF_OPTIONS, 1);
    if (r != AREA_OK)
        return opt_fail(s, r);
    if (o->overload & 1) {
        r = opt_area(o, m + OFF_FILE, FILE_LEN, 0);
        if (r != AREA_OK && r != AREA_NO_END)
            return opt_fail(s, r);
    }
    if (o->overload & 2) {
        r = opt_area(o, m + OFF_SNAME, SNAME_LEN, 0);
        if (r != AREA_OK && r != AREA_NO_END)
            return opt_fail(s, r);
    }
    return 0;
}

/* The fixed header of a reply to us; 0, or -1 counted. */
static int check_header(struct ts_stack *s, const struct ts_dhcp *d,
                        const uint8_t *m, size_t len)
{
    if (len < DHCP_MIN_LEN) {
        TS_STAT_INC(s, DHCP_DROP_SHORT);
        return -1;
    }
    if (m[OFF_OP] != 2) {
        TS_STAT_INC(s, DHCP_DROP_OP);
        return -1;
    }
    if (m[OFF_HTYPE] != 1 || m[OFF_HLEN] != 6) {
        TS_STAT_INC(s, DHCP_DROP_HW);
        return -1;
    }
    if (ts_get32(m + OFF_COOKIE) != DHCP_MAGIC) {
        TS_STAT_INC(s, DHCP_DROP_COOKIE);
        return -1;
    }
    if (ts_get32(m + OFF_XID) != d->xid) {
        TS_STAT_INC(s, DHCP_DROP_XID);
        return -1;
    }
    if (memcmp(m + OFF_CHADDR, s->mac, 6) != 0) {
        TS_STAT_INC(s, DHCP_DROP_CHADDR);
        return -1;
    }
    return 0;
}

/* ---- receiving ---------------------------------------------------------- */

static void rx_offer(struct ts_stack *s, struct ts_dhcp *d, uint32_t yiaddr,
                     const struct dhcp_opts *o)
{
    if (d->state != TS_DHCP_SELECTING) {
        TS_STAT_INC(s, DHCP_DROP_STATE);
        return;
    }
    if (!(o->have & HAVE_SERVER) || !addr_usable(o->server)) {
        TS_STAT_INC(s, DHCP_DROP_NO_SERVER);
        return;
    }
    if (!addr_usable(yiaddr)) {
        TS_STAT_INC(s, DHCP_DROP_ADDR);
        return;
    }
    if ((o->have & HAVE_MASK) && !mask_valid(o->mask)) {
        TS_STAT_INC(s, DHCP_DROP_MASK);
        return;
    }
    TS_STAT_INC(s, DHCP_RX_OFFER);
    enter_requesting(s, d, yiaddr, o->server);
}

/* Whether an ACK/NAK comes from the server this state talks to: the chosen
 * one in REQUESTING and RENEWING, any in REBINDING. */
static int server_ok(const struct ts_dhcp *d, const struct dhcp_opts *o)
{
    if (d->state == TS_DHCP_REBINDING)
        return 1;
    return !(o->have & HAVE_SERVER) || o->server == d->server;
}

static int extending(const struct ts_dhcp *d)
{
    return d->state == TS_DHCP_RENEWING || d->state == TS_DHCP_REBINDING;
}

static void rx_ack(struct ts_stack *s, struct ts_dhcp *d, uint32_t yiaddr,
                   const struct dhcp_opts *o)
{
    if (d->state != TS_DHCP_REQUESTING && !extending(d)) {
        TS_STAT_INC(s, DHCP_DROP_STATE);
        return;
    }
    if (!server_ok(d, o)) {
        TS_STAT_INC(s, DHCP_DROP_SERVER);
        return;
    }
    uint32_t want = d->state == TS_DHCP_REQUESTING ? d->offer_ip : d->ip;
    if (yiaddr != want || !addr_usable(yiaddr)) {
        TS_STAT_INC(s, DHCP_DROP_ADDR);
        return;
    }
    if ((o->have & HAVE_MASK) && !mask_valid(o->mask)) {
        TS_STAT_INC(s, DHCP_DROP_MASK);
        return;
    }
    if (!(o->have & HAVE_LEASE)) {
        TS_STAT_INC(s, DHCP_DROP_NO_LEASE);
        return;
    }
    if ((o->have & HAVE_SERVER) && !addr_usable(o->server)) {
        TS_STAT_INC(s, DHCP_DROP_NO_SERVER);
        return;
    }
    TS_STAT_INC(s, DHCP_RX_ACK);
    enter_bound(s, d, yiaddr, o);
}

static void rx_nak(struct ts_stack *s, struct ts_dhcp *d, const struct dhcp_opts *o)
{
    if (d->state != TS_DHCP_REQUESTING && !extending(d)) {
        TS_STAT_INC(s, DHCP_DROP_STATE);
        return;
    }
    if (!server_ok(d, o)) {
        TS_STAT_INC(s, DHCP_DROP_SERVER);
        return;
    }
    TS_STAT_INC(s, DHCP_RX_NAK);
    restart(s, d);
}

/* UDP callback for port 68. */
static void dhcp_input(void *arg, const struct ts_ip_info *ip, uint16_t sport,
                       const uint8_t *m, size_t len)
{
    struct ts_stack *s = arg;
    struct ts_dhcp *d = s->dhcp;
    struct dhcp_opts o;
    (void)ip;
    TS_STAT_INC(s, DHCP_RX);
    if (d == NULL || d->state == TS_DHCP_OFF) {
        TS_STAT_INC(s, DHCP_DROP_STATE);
        return;
    }
    if (sport != DHCP_SERVER_PORT) {
        TS_STAT_INC(s, DHCP_DROP_PORT);
        return;
    }
    if (check_header(s, d, m, len) < 0 || opt_parse(s, &o, m, len) < 0)
        return;
    if (!(o.have & HAVE_TYPE)) {
        TS_STAT_INC(s, DHCP_DROP_NO_TYPE);
        return;
    }
    uint32_t yiaddr = ts_get32(m + OFF_YIADDR);
    switch (o.type) {
    case MSG_OFFER: rx_offer(s, d, yiaddr, &o); break;
    case MSG_ACK: rx_ack(s, d, yiaddr, &o); break;
    case MSG_NAK: rx_nak(s, d, &o); break;
    default: TS_STAT_INC(s, DHCP_DROP_TYPE); break;
    }
}

/* ---- timers: one step of what is due ------------------------------------ */

/* Retransmit in SELECTING/REQUESTING; REQUESTING gives up after 64 s. */
static void tick_acquire(struct ts_stack *s, struct ts_dhcp *d, uint64_t now)
{
    if (d->state == TS_DHCP_REQUESTING && d->tries >= 5) {
        restart(s, d);
        return;
    }
    d->tries++;
    TS_STAT_INC(s, DHCP_RETRANSMIT);
    if (d->state == TS_DHCP_SELECTING)
        send_discover(s, d);
    else
        send_request_select(s, d);
    d->next_tx = now + backoff_us(s, d->tries);
}

static void tick_extend(struct ts_stack *s, struct ts_dhcp *d, uint64_t now)
{
    uint64_t limit = d->state == TS_DHCP_RENEWING ? d->t2_at : d->expire_at;
    d->tries++;
    TS_STAT_INC(s, DHCP_RETRANSMIT);
    send_request_extend(s, d);
    d->next_tx = extend_retry_at(now, limit);
}

/* Run the one event due at now; returns 0 when nothing was due. */
static int tick_step(struct ts_stack *s, struct ts_dhcp *d, uint64_t now)
{
    switch (d->state) {
    case TS_DHCP_SELECTING:
    case TS_DHCP_REQUESTING:
        if (now < d->next_tx)
            return 0;
        tick_acquire(s, d, now);
        return 1;
    case TS_DHCP_BOUND:
        if (now < d->t1_at)
            return 0;
        enter_extend(s, d, now, TS_DHCP_RENEWING);
        return 1;
    case TS_DHCP_RENEWING:
        if (now >= d->t2_at)
            enter_extend(s, d, now, TS_DHCP_REBINDING);
        else if (now >= d->next_tx)
            tick_extend(s, d, now);
        else
            return 0;
        return 1;
    case TS_DHCP_REBINDING:
        if (now >= d->expire_at) {
            TS_STAT_INC(s, DHCP_EXPIRED);
            restart(s, d);
        } else if (now >= d->next_tx) {
            tick_extend(s, d, now);
        } else {
            return 0;
        }
        return 1;
    default:
        return 0;
    }
}

/* ---- module hooks ------------------------------------------------------- */

int ts_dhcp_init(struct ts_stack *s)
{
    struct ts_dhcp *d = ts_alloc(s, sizeof *d);
    if (d == NULL)
        return -ENOMEM;
    d->state = TS_DHCP_OFF;
    d->next_tx = TS_NO_DEADLINE;
    d->bound_at = d->t1_at = d->t2_at = d->expire_at = TS_NO_DEADLINE;
    s->dhcp = d;
    return 0;
}

void ts_dhcp_fini(struct ts_stack *s)
{
    struct ts_dhcp *d = s->dhcp;
    if (d == NULL)
        return;
    if (d->sock != NULL && s->udp != NULL)
        ts_udp_close(d->sock);
    ts_free(s, d, sizeof *d);
    s->dhcp = NULL;
}

void ts_dhcp_tick(struct ts_stack *s, uint64_t now)
{
    struct ts_dhcp *d = s->dhcp;
    if (d == NULL)
        return;
    /* A clock jump may make several events due (T1, T2, expiry): bounded. */
    for (int i = 0; i < 8 && tick_step(s, d, now); i++)
        ;
}

uint64_t ts_dhcp_deadline(struct ts_stack *s)
{
    const struct ts_dhcp *d = s->dhcp;
    if (d == NULL)
        return TS_NO_DEADLINE;
    switch (d->state) {
    case TS_DHCP_SELECTING:
    case TS_DHCP_REQUESTING:
        return d->next_tx;
    case TS_DHCP_BOUND:
        return d->t1_at;
    case TS_DHCP_RENEWING:
        return min64(d->next_tx, d->t2_at);
    case TS_DHCP_REBINDING:
        return min64(d->next_tx, d->expire_at);
    default:
        return TS_NO_DEADLINE;
    }
}

TS_NOCOV static int check_acquire(struct ts_stack *s, const struct ts_dhcp *d,
                         char *err, size_t cap)
{
    if (d->next_tx == TS_NO_DEADLINE || d->next_tx > ts_now(s) + 66 * SEC)
        return ts_errf(err, cap, "dhcp: state %d retransmission at %llu",
                       d->state, (unsigned long long)d->next_tx);
    if (d->configured || d->route_set)
        return ts_errf(err, cap, "dhcp: state %d holds a configured lease", d->state);
    if (d->state == TS_DHCP_REQUESTING && (d->offer_ip == 0 || d->server == 0))
        return ts_errf(err, cap, "dhcp: requesting without an offer");
    if (d->tries < 1 || (d->state == TS_DHCP_REQUESTING && d->tries > 5))
        return ts_errf(err, cap, "dhcp: %u transmissions", d->tries);
    return 0;
}

TS_NOCOV static int check_lease(struct ts_stack *s, const struct ts_dhcp *d,
                       char *err, size_t cap)
{
    if (!d->configured || d->ip == 0 || !mask_valid(d->mask))
        return ts_errf(err, cap, "dhcp: lease without a valid address");
    if (s->ip != d->ip || s->netmask != d->mask)
        return ts_errf(err, cap, "dhcp: interface %08x/%08x, lease %08x/%08x",
                       s->ip, s->netmask, d->ip, d->mask);
    if (!(d->bound_at <= d->t1_at && d->t1_at <= d->t2_at && d->t2_at <= d->expire_at))
        return ts_errf(err, cap, "dhcp: lease timers out of order");
    if (d->route_set && d->router == 0)
        return ts_errf(err, cap, "dhcp: default route without a router");
    if (d->state == TS_DHCP_BOUND && d->next_tx != TS_NO_DEADLINE)
        return ts_errf(err, cap, "dhcp: bound with a retransmission pending");
    if (d->state == TS_DHCP_RENEWING && (d->next_tx > d->t2_at || d->server == 0))
        return ts_errf(err, cap, "dhcp: renewing past T2 or without a server");
    if (d->state == TS_DHCP_REBINDING && d->next_tx > d->expire_at)
        return ts_errf(err, cap, "dhcp: rebinding retransmission past expiry");
    return 0;
}

TS_NOCOV int ts_dhcp_check(struct ts_stack *s, char *err, size_t cap)
{
    const struct ts_dhcp *d = s->dhcp;
    if (d == NULL)
        return 0;
    switch (d->state) {
    case TS_DHCP_OFF:
        if (d->sock != NULL || d->configured || d->next_tx != TS_NO_DEADLINE)
            return ts_errf(err, cap, "dhcp: off with state left");
        return 0;
    case TS_DHCP_SELECTING:
    case TS_DHCP_REQUESTING:
        if (d->sock == NULL)
            return ts_errf(err, cap, "dhcp: running without a socket");
        return check_acquire(s, d, err, cap);
    case TS_DHCP_BOUND:
    case TS_DHCP_RENEWING:
    case TS_DHCP_REBINDING:
        if (d->sock == NULL)
            return ts_errf(err, cap, "dhcp: running without a socket");
        return check_lease(s, d, err, cap);
    default:
        return ts_errf(err, cap, "dhcp: unknown state %d", d->state);
    }
}

/* ---- public API --------------------------------------------------------- */

int ts_dhcp_start(struct ts_stack *s)
{
    struct ts_dhcp *d = s->dhcp;
    if (d == NULL)
        return -ENOMEM;
    if (d->state != TS_DHCP_OFF)
        return -EALREADY;
    d->sock = ts_udp_open_cb(s, DHCP_CLIENT_PORT, dhcp_input, s);
    if (d->sock == NULL)
        return -EADDRINUSE;
    enter_selecting(s, d);
    return 0;
}

/* Stop the client: release a held lease (RFC 2131 4.4.6), remove the
 * address it configured, close the port. */
void ts_dhcp_stop(struct ts_stack *s)
{
    struct ts_dhcp *d = s->dhcp;
    if (d == NULL || d->state == TS_DHCP_OFF)
        return;
    if (d->configured)
        send_release(s, d);
    deconfigure(s, d);
    ts_udp_close(d->sock);
    d->sock = NULL;
    d->state = TS_DHCP_OFF;
    d->next_tx = TS_NO_DEADLINE;
    d->tries = 0;
    d->offer_ip = d->server = 0;
}

int ts_dhcp_state(struct ts_stack *s)
{
    return s->dhcp != NULL ? s->dhcp->state : TS_DHCP_OFF;
}

uint32_t ts_dhcp_server(struct ts_stack *s)
{
    return s->dhcp != NULL ? s->dhcp->server : 0;
}

uint32_t ts_dhcp_lease_s(struct ts_stack *s)
{
    return s->dhcp != NULL ? s->dhcp->lease_s : 0;
}

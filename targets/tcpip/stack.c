/*
 * stack.c -- one host: the stack's life cycle, its injected clock, its
 * bounded memory, its interface address, the timers of every module, the
 * statistics table and the invariant check that fuzzers run after each step.
 */
#include "ts.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define TS_DEFAULT_MEM (64u << 20)
#define TS_DEFAULT_REASM (256u << 10)
#define TS_DEFAULT_TCPBUF (256u << 10)
#define TS_DEFAULT_LINKQ 1024u

int ts_link_init(struct ts_stack *s);        /* link_mem.c */
void ts_link_fini(struct ts_stack *s);

static const char *const stat_names[TS_ST_COUNT] = {
#define TS_STAT_DEF(id, name) [TS_ST_##id] = name,
#include "stats_link.def"
#include "stats_eth.def"
#include "stats_arp.def"
#include "stats_ip.def"
#include "stats_icmp.def"
#include "stats_udp.def"
#include "stats_tcp.def"
#include "stats_dhcp.def"
#undef TS_STAT_DEF
};

struct ts_module {
    const char *name;
    int (*init)(struct ts_stack *);
    void (*fini)(struct ts_stack *);
    void (*tick)(struct ts_stack *, uint64_t);
    uint64_t (*deadline)(struct ts_stack *);
    int (*check)(struct ts_stack *, char *, size_t);
};

#define TS_MOD(m) { #m, ts_##m##_init, ts_##m##_fini, ts_##m##_tick, ts_##m##_deadline, \
                    ts_##m##_check }
static const struct ts_module modules[] = {   /* initialized in this order */
    TS_MOD(route), TS_MOD(arp), TS_MOD(ip), TS_MOD(icmp), TS_MOD(udp), TS_MOD(tcp),
    TS_MOD(dhcp),
};
#define TS_NMODULES (sizeof modules / sizeof modules[0])

static void stack_defaults(struct ts_config *c)
{
    if (c->mtu == 0)
        c->mtu = 1500;
    if (c->mem_limit == 0)
        c->mem_limit = TS_DEFAULT_MEM;
    if (c->reasm_limit == 0)
        c->reasm_limit = TS_DEFAULT_REASM;
    if (c->tcp_sndbuf == 0)
        c->tcp_sndbuf = TS_DEFAULT_TCPBUF;
    if (c->tcp_rcvbuf == 0)
        c->tcp_rcvbuf = TS_DEFAULT_TCPBUF;
    if (c->link_queue == 0)
        c->link_queue = TS_DEFAULT_LINKQ;
}

struct ts_stack *ts_stack_new(const struct ts_config *cfg)
{
    if (cfg->mtu != 0 && (cfg->mtu < TS_MTU_MIN || cfg->mtu > TS_MTU_MAX))
        return NULL;
    if (cfg->tso != 0 && (cfg->tso < (cfg->mtu ? cfg->mtu : 1500u) || cfg->tso > 65535))
        return NULL;
    struct ts_stack *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->cfg = *cfg;
    stack_defaults(&s->cfg);
    memcpy(s->mac, cfg->mac, 6);
    s->mtu = s->cfg.mtu;
    s->tso = s->cfg.tso;
    s->ip = cfg->ip;
    s->netmask = cfg->netmask;
    s->rng = cfg->seed ^ 0x9e3779b97f4a7c15ull;
    if (ts_link_init(s) != 0)
        goto fail;
    for (size_t i = 0; i < TS_NMODULES; i++) {
        if (modules[i].init(s) != 0) {
            while (i-- > 0)
                modules[i].fini(s);
            ts_link_fini(s);
            goto fail;
        }
    }
    return s;
fail:
    free(s);
    return NULL;
}

void ts_stack_free(struct ts_stack *s)
{
    if (!s)
        return;
    for (size_t i = TS_NMODULES; i-- > 0;)
        modules[i].fini(s);
    ts_pcap_close(s);
    ts_link_fini(s);
    assert(s->mem_used == 0);
    free(s);
}

/* ------------------------------------------------------------------ clock */

uint64_t ts_now(struct ts_stack *s)
{
    return s->cfg.clock ? s->cfg.clock(s->cfg.clock_arg) : s->manual_now;
}

void ts_clock_set(struct ts_stack *s, uint64_t now_us)
{
    assert(!s->cfg.clock);
    if (now_us > s->manual_now)           /* time never goes backwards */
        s->manual_now = now_us;
}

void ts_poll(struct ts_stack *s)
{
    uint64_t now = ts_now(s);
    for (size_t i = 0; i < TS_NMODULES; i++)
        if (modules[i].deadline(s) <= now)
            modules[i].tick(s, now);
}

int64_t ts_next_timeout(struct ts_stack *s)
{
    uint64_t next = TS_NO_DEADLINE;
    for (size_t i = 0; i < TS_NMODULES; i++) {
        uint64_t d = modules[i].deadline(s);
        if (d < next)
            next = d;
    }
    if (next == TS_NO_DEADLINE)
        return -1;
    uint64_t now = ts_now(s);
    return next <= now ? 0 : (int64_t)(next - now);
}

/* ------------------------------------------------------------------ input */

void ts_input(struct ts_stack *s, const uint8_t *frame, size_t len)
{
    TS_STAT_INC(s, LINK_RX);
    ts_pcap_frame(s, frame, len);
    ts_eth_input(s, frame, len);
}

/* ----------------------------------------------------------------- memory */

void *ts_alloc(struct ts_stack *s, size_t n)
{
    assert(n > 0);
    if (n > s->cfg.mem_limit - s->mem_used) {
        TS_STAT_INC(s, MEM_FAIL);
        return NULL;
    }
    void *p = calloc(1, n);
    if (!p) {
        TS_STAT_INC(s, MEM_FAIL);
        return NULL;
    }
    s->mem_used += n;
    if (s->mem_used > s->mem_peak)
        s->mem_peak = s->mem_used;
    return p;
}

void ts_free(struct ts_stack *s, void *p, size_t n)
{
    if (!p)
        return;
    assert(n <= s->mem_used);
    s->mem_used -= n;
    free(p);
}

size_t ts_mem_used(struct ts_stack *s) { return s->mem_used; }
size_t ts_mem_peak(struct ts_stack *s) { return s->mem_peak; }

/* splitmix64: deterministic for a given cfg.seed (fuzzing), seeded from the
 * clock and the process by the daemon. */
uint32_t ts_random(struct ts_stack *s)
{
    uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (uint32_t)((z ^ (z >> 31)) >> 32);
}

/* -------------------------------------------------------------- interface */

void ts_set_addr(struct ts_stack *s, uint32_t ip, uint32_t netmask)
{
    s->ip = ip;
    s->netmask = netmask;
}

uint32_t ts_get_addr(struct ts_stack *s) { return s->ip; }
uint32_t ts_get_netmask(struct ts_stack *s) { return s->netmask; }

int ts_is_local(struct ts_stack *s, uint32_t ip)
{
    return s->ip != 0 && ip == s->ip;
}

int ts_is_bcast(struct ts_stack *s, uint32_t ip)
{
    if (ip == TS_BCAST)
        return 1;
    return s->ip != 0 && s->netmask != 0 && s->netmask != TS_BCAST &&
           (ip & s->netmask) == (s->ip & s->netmask) && (ip | s->netmask) == TS_BCAST;
}

/* ------------------------------------------------------------- statistics */

int ts_stats_count(void) { return TS_ST_COUNT; }

const char *ts_stat_name(int i)
{
    return i >= 0 && i < TS_ST_COUNT ? stat_names[i] : NULL;
}

uint64_t ts_stat_value(struct ts_stack *s, int i)
{
    return i >= 0 && i < TS_ST_COUNT ? s->stats[i] : UINT64_MAX;
}

uint64_t ts_stat(struct ts_stack *s, const char *name)
{
    for (int i = 0; i < TS_ST_COUNT; i++)
        if (strcmp(stat_names[i], name) == 0)
            return s->stats[i];
    return UINT64_MAX;
}

/* ------------------------------------------------------------- invariants */

TS_NOCOV int ts_errf(char *err, size_t cap, const char *fmt, ...)
{
    if (err && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return -1;
}

TS_NOCOV int ts_check(struct ts_stack *s, char *err, size_t cap)
{
    if (s->mem_used > s->cfg.mem_limit)
        return ts_errf(err, cap, "memory: %zu bytes used over the %zu limit", s->mem_used,
                       s->cfg.mem_limit);
    if (s->mem_peak < s->mem_used)
        return ts_errf(err, cap, "memory: peak %zu below used %zu", s->mem_peak, s->mem_used);
    if (s->ip != 0 && ts_is_bcast(s, s->ip))
        return ts_errf(err, cap, "interface: address is a broadcast address");
    for (size_t i = 0; i < TS_NMODULES; i++)
        if (modules[i].check(s, err, cap) != 0)
            return -1;
    return 0;
}

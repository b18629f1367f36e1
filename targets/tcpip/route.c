/*
 * route.c -- the host's IPv4 routing table (RFC 1122 3.3.1): a small
 * fixed table searched by longest-prefix match. The subnet of the
 * interface address is an implicit on-link route (next hop = destination)
 * and the limited broadcast 255.255.255.255 always routes to itself. A
 * default route 0/0 via cfg.gateway is installed at start-up.
 */
#include "ts.h"
#include "ip.h"

#define ROUTE_MAX 16

struct route {
    uint32_t dst, mask, gw;     /* gw 0: on-link */
};

struct ts_routes {
    int n;
    struct route r[ROUTE_MAX];
};

static int mask_ok(uint32_t mask) { return (~mask & (~mask + 1)) == 0; }

static int prefix_len(uint32_t mask)
{
    int n = 0;
    while (mask & 0x80000000u) {
        n++;
        mask <<= 1;
    }
    return n;
}

static int route_find(struct ts_routes *rt, uint32_t dst, uint32_t mask)
{
    for (int i = 0; i < rt->n; i++)
        if (rt->r[i].dst == dst && rt->r[i].mask == mask)
            return i;
    return -1;
}

int ts_route_add(struct ts_stack *s, uint32_t dst, uint32_t mask, uint32_t gateway)
{
    struct ts_routes *rt = s->routes;
    if (rt == NULL || !mask_ok(mask) || (dst & ~mask) != 0 || gateway == TS_BCAST)
        return -EINVAL;
    int i = route_find(rt, dst, mask);
    if (i < 0) {
        if (rt->n >= ROUTE_MAX)
            return -ENOSPC;
        i = rt->n++;
    }
    rt->r[i] = (struct route){dst, mask, gateway};
    return 0;
}

int ts_route_del(struct ts_stack *s, uint32_t dst, uint32_t mask)
{
    struct ts_routes *rt = s->routes;
    int i = rt ? route_find(rt, dst, mask) : -1;
    if (i < 0)
        return -ENOENT;
    rt->r[i] = rt->r[--rt->n];
    return 0;
}

uint32_t ts_route_lookup(struct ts_stack *s, uint32_t dst)
{
    if (dst == TS_BCAST || ts_ip_is_mcast(dst))
        return dst;
    if (dst == 0)
        return 0;
    int best = -1;
    uint32_t hop = 0;
    if (s->ip != 0 && mask_ok(s->netmask) && (dst & s->netmask) == (s->ip & s->netmask)) {
        best = prefix_len(s->netmask);
        hop = dst;
    }
    struct ts_routes *rt = s->routes;
    for (int i = 0; rt != NULL && i < rt->n; i++) {
        const struct route *r = &rt->r[i];
        int len = prefix_len(r->mask);
        if ((dst & r->mask) == r->dst && len > best) {
            best = len;
            hop = r->gw ? r->gw : dst;
        }
    }
    return hop;
}

int ts_route_init(struct ts_stack *s)
{
    s->routes = ts_alloc(s, sizeof *s->routes);
    if (s->routes == NULL)
        return -ENOMEM;
    if (s->cfg.gateway != 0)
        ts_route_add(s, 0, 0, s->cfg.gateway);
    return 0;
}

void ts_route_fini(struct ts_stack *s)
{
    if (s->routes != NULL)
        ts_free(s, s->routes, sizeof *s->routes);
    s->routes = NULL;
}

void ts_route_tick(struct ts_stack *s, uint64_t now)
{
    (void)s;
    (void)now;
}

uint64_t ts_route_deadline(struct ts_stack *s)
{
    (void)s;
    return TS_NO_DEADLINE;
}

TS_NOCOV int ts_route_check(struct ts_stack *s, char *err, size_t cap)
{
    struct ts_routes *rt = s->routes;
    if (rt == NULL)
        return ts_errf(err, cap, "route: no table");
    if (rt->n < 0 || rt->n > ROUTE_MAX)
        return ts_errf(err, cap, "route: %d entries", rt->n);
    for (int i = 0; i < rt->n; i++) {
        const struct route *r = &rt->r[i];
        if (!mask_ok(r->mask) || (r->dst & ~r->mask) != 0)
            return ts_errf(err, cap, "route: entry %d has a bad mask", i);
        if (route_find(rt, r->dst, r->mask) != i)
            return ts_errf(err, cap, "route: duplicate entry %d", i);
    }
    return 0;
}

/*
 * ip_reasm.c -- IPv4 reassembly (RFC 791 3.2 "Reassembly", RFC 1122
 * 3.3.2), with a sorted interval list in place of RFC 815's hole
 * descriptors (equivalent: the datagram is complete when the last fragment
 * is known and the held bytes cover [0, total) without gaps).
 *
 * Bounds: at most TS_REASM_SLOTS datagrams in flight (the oldest is dropped
 * for a new one), at most cfg.reasm_limit bytes held in fragment buffers
 * (node + data, all ts_alloc'd; the oldest other datagrams are dropped to
 * make room, then the datagram itself), 65535 bytes per datagram, 30 s per
 * datagram, after which ICMP time exceeded (code 1) goes to the source if
 * fragment 0 arrived (RFC 792, RFC 1122 3.3.2).
 * Overlaps (RFC 5722's spirit, also for IPv4): an exact duplicate of a held
 * fragment is dropped alone; any other overlap drops the whole datagram.
 */
#include "ts.h"
#include "ip.h"

struct frag {
    struct frag *next;          /* sorted by off */
    uint32_t off, len;          /* bytes of the reassembled payload */
    uint8_t data[];
};

struct reasm {
    int used;
    uint32_t src, dst;
    uint16_t id;
    uint8_t proto;
    int bcast;
    int have_last;
    uint32_t total;             /* payload length, once the last is known */
    uint32_t held;              /* payload bytes held (no overlaps) */
    size_t bytes;               /* allocation bytes of the fragments */
    uint64_t created, expire;
    size_t hlen;                /* of fragment 0, 0 until it arrives */
    size_t first_len;           /* hlen + up to 8 payload bytes, for ICMP */
    uint8_t first[TS_IP_HLEN_MAX + 8];
    struct frag *frags;
};

struct ts_reasm_table {
    struct reasm slot[TS_REASM_SLOTS];
    size_t bytes;               /* sum of every slot's bytes */
};

static size_t frag_size(uint32_t len) { return sizeof(struct frag) + len; }

static void reasm_free(struct ts_stack *s, struct reasm *r)
{
    struct ts_reasm_table *t = s->ipst->reasm;
    while (r->frags != NULL) {
        struct frag *f = r->frags;
        r->frags = f->next;
        size_t n = frag_size(f->len);
        assert(r->bytes >= n && t->bytes >= n);
        r->bytes -= n;
        t->bytes -= n;
        ts_free(s, f, n);
    }
    assert(r->bytes == 0);
    memset(r, 0, sizeof *r);
}

static struct reasm *reasm_oldest(struct ts_stack *s, const struct reasm *except)
{
    struct reasm *old = NULL;
    for (int i = 0; i < TS_REASM_SLOTS; i++) {
        struct reasm *r = &s->ipst->reasm->slot[i];
        if (r->used && r != except && (old == NULL || r->created < old->created))
            old = r;
    }
    return old;
}

static struct reasm *reasm_get(struct ts_stack *s, const uint8_t *h)
{
    uint32_t src = ts_get32(h + 12), dst = ts_get32(h + 16);
    uint16_t id = ts_get16(h + 4);
    struct reasm *free_slot = NULL;
    for (int i = 0; i < TS_REASM_SLOTS; i++) {
        struct reasm *r = &s->ipst->reasm->slot[i];
        if (!r->used) {
            if (free_slot == NULL)
                free_slot = r;
        } else if (r->src == src && r->dst == dst && r->id == id && r->proto == h[9]) {
            return r;
        }
    }
    if (free_slot == NULL) {
        free_slot = reasm_oldest(s, NULL);
        assert(free_slot != NULL);
        TS_STAT_INC(s, IP_REASM_SLOTS);
        reasm_free(s, free_slot);
    }
    uint64_t now = ts_now(s);
    *free_slot = (struct reasm){.used = 1, .src = src, .dst = dst, .id = id, .proto = h[9],
                                .created = now, .expire = now + TS_REASM_TIMEOUT_US};
    return free_slot;
}

/* Make room for n more bytes: drop other datagrams, oldest first. */
static int reasm_room(struct ts_stack *s, const struct reasm *r, size_t n)
{
    struct ts_reasm_table *t = s->ipst->reasm;
    while (t->bytes + n > s->cfg.reasm_limit) {
        struct reasm *old = reasm_oldest(s, r);
        if (old == NULL)
            return 0;
        TS_STAT_INC(s, IP_REASM_LIMIT);
        reasm_free(s, old);
    }
    return 1;
}

enum { INS_OK, INS_DUP, INS_BAD };

/* Insert [off, off+len) in order; exact duplicates and overlaps refused. */
static int reasm_insert(struct reasm *r, struct frag *nf)
{
    struct frag **pp = &r->frags;
    while (*pp != NULL && (*pp)->off + (*pp)->len <= nf->off) {
        pp = &(*pp)->next;
    }
    struct frag *next = *pp;
    if (next != NULL && next->off < nf->off + nf->len) {
        if (next->off == nf->off && next->len == nf->len &&
            memcmp(next->data, nf->data, nf->len) == 0)
            return INS_DUP;
        return INS_BAD;
    }
    nf->next = next;
    *pp = nf;
    r->held += nf->len;
    return INS_OK;
}

static uint32_t reasm_end(const struct reasm *r)
{
    const struct frag *f = r->frags;
    while (f != NULL && f->next != NULL)
        f = f->next;
    return f != NULL ? f->off + f->len : 0;
}

/* Does the fragment agree with what the datagram already knows? Fragment
 * 0's header length counts for the whole datagram's 65535-byte bound. */
static int reasm_consistent(const struct reasm *r, size_t hlen, uint32_t off, uint32_t len,
                            int more)
{
    if (r->have_last && off + len > r->total)
        return 0;
    size_t h0 = off == 0 ? hlen : r->hlen;
    uint32_t end = reasm_end(r);
    if (h0 + (end > off + len ? end : off + len) > TS_IP_MAXLEN)
        return 0;
    if (!more) {
        if (r->have_last && off + len != r->total)
            return 0;
        for (const struct frag *f = r->frags; f != NULL; f = f->next)
            if (f->off + f->len > off + len)
                return 0;
    }
    return 1;
}

static void reasm_note_first(struct reasm *r, const uint8_t *h, size_t hlen, size_t plen)
{
    size_t n = plen < 8 ? plen : 8;
    r->hlen = hlen;
    r->first_len = hlen + n;
    memcpy(r->first, h, hlen + n);
}

static void reasm_complete(struct ts_stack *s, struct reasm *r)
{
    size_t hlen = r->hlen, total = hlen + r->total;
    int bcast = r->bcast;
    uint8_t *d = ts_alloc(s, total);
    if (d == NULL) {
        TS_STAT_INC(s, IP_REASM_NOMEM);
        reasm_free(s, r);
        return;
    }
    memcpy(d, r->first, hlen);
    for (const struct frag *f = r->frags; f != NULL; f = f->next)
        memcpy(d + hlen + f->off, f->data, f->len);
    reasm_free(s, r);                  /* before delivery: it may re-enter */
    ts_put16(d + 2, (uint16_t)total);
    ts_put16(d + 6, 0);
    ts_put16(d + 10, 0);
    ts_put16(d + 10, ts_csum_fold(ts_csum_add(0, d, hlen)));
    TS_STAT_INC(s, IP_REASM_OK);
    ts_ip_deliver(s, d, hlen, total, bcast);
    ts_free(s, d, total);
}

/* The fragment's payload bounds; 0 when malformed (counted). */
static int reasm_bounds(struct ts_stack *s, const uint8_t *h, size_t hlen, size_t total,
                        uint32_t *off, uint32_t *len, int *more)
{
    uint16_t fl = ts_get16(h + 6);
    *off = (uint32_t)(fl & TS_IP_OFFMASK) * 8;
    *len = (uint32_t)(total - hlen);
    *more = (fl & TS_IP_MF) != 0;
    if (*len == 0 || (*more && *len % 8 != 0)) {
        TS_STAT_INC(s, IP_REASM_BAD_LEN);
        return 0;
    }
    if (hlen + *off + *len > TS_IP_MAXLEN) {
        TS_STAT_INC(s, IP_REASM_TOO_BIG);
        return 0;
    }
    return 1;
}

static void reasm_add(struct ts_stack *s, struct reasm *r, const uint8_t *h, size_t hlen,
                      uint32_t off, uint32_t len, int more)
{
    size_t n = frag_size(len);
    if (!reasm_room(s, r, n) || s->ipst->reasm->bytes + n > s->cfg.reasm_limit) {
        TS_STAT_INC(s, IP_REASM_LIMIT);
        reasm_free(s, r);
        return;
    }
    struct frag *f = ts_alloc(s, n);
    if (f == NULL) {
        TS_STAT_INC(s, IP_REASM_NOMEM);
        reasm_free(s, r);
        return;
    }
    f->off = off;
    f->len = len;
    memcpy(f->data, h + hlen, len);
    int rc = reasm_insert(r, f);
    if (rc != INS_OK) {
        ts_free(s, f, n);
        s->stats[rc == INS_DUP ? TS_ST_IP_REASM_DUP : TS_ST_IP_REASM_OVERLAP]++;
        if (rc == INS_BAD)
            reasm_free(s, r);
        return;
    }
    r->bytes += n;
    s->ipst->reasm->bytes += n;
    if (!more) {
        r->have_last = 1;
        r->total = off + len;
    }
    if (off == 0)
        reasm_note_first(r, h, hlen, len);
    if (r->have_last && r->held == r->total)
        reasm_complete(s, r);
}

void ts_ip_reasm_input(struct ts_stack *s, const uint8_t *h, size_t hlen, size_t total, int bcast)
{
    TS_STAT_INC(s, IP_REASM_FRAGS);
    uint32_t off, len;
    int more;
    if (!reasm_bounds(s, h, hlen, total, &off, &len, &more))
        return;
    struct reasm *r = reasm_get(s, h);
    r->bcast |= bcast;
    if (!reasm_consistent(r, hlen, off, len, more)) {
        TS_STAT_INC(s, IP_REASM_INCONSISTENT);
        reasm_free(s, r);
        return;
    }
    reasm_add(s, r, h, hlen, off, len, more);
}

void ts_ip_reasm_tick(struct ts_stack *s, uint64_t now)
{
    for (int i = 0; i < TS_REASM_SLOTS; i++) {
        struct reasm *r = &s->ipst->reasm->slot[i];
        if (!r->used || now < r->expire)
            continue;
        TS_STAT_INC(s, IP_REASM_TIMEOUT);
        uint8_t orig[sizeof r->first];
        size_t n = r->first_len;
        int bcast = r->bcast;
        memcpy(orig, r->first, n);
        reasm_free(s, r);
        if (n > 0 && !bcast)
            ts_icmp_error(s, 11, 1, orig, n);
    }
}

uint64_t ts_ip_reasm_deadline(struct ts_stack *s)
{
    uint64_t d = TS_NO_DEADLINE;
    for (int i = 0; i < TS_REASM_SLOTS; i++) {
        const struct reasm *r = &s->ipst->reasm->slot[i];
        if (r->used && r->expire < d)
            d = r->expire;
    }
    return d;
}

size_t ts_ip_reasm_bytes(struct ts_stack *s)
{
    return s->ipst && s->ipst->reasm ? s->ipst->reasm->bytes : 0;
}

int ts_ip_reasm_init(struct ts_stack *s)
{
    s->ipst->reasm = ts_alloc(s, sizeof *s->ipst->reasm);
    return s->ipst->reasm == NULL ? -ENOMEM : 0;
}

void ts_ip_reasm_fini(struct ts_stack *s)
{
    struct ts_reasm_table *t = s->ipst->reasm;
    if (t == NULL)
        return;
    for (int i = 0; i < TS_REASM_SLOTS; i++)
        if (t->slot[i].used)
            reasm_free(s, &t->slot[i]);
    assert(t->bytes == 0);
    ts_free(s, t, sizeof *t);
    s->ipst->reasm = NULL;
}

TS_NOCOV static int reasm_check_slot(const struct reasm *r, uint64_t now, char *err, size_t cap)
{
    size_t bytes = 0;
    uint32_t held = 0, end = 0;
    for (const struct frag *f = r->frags; f != NULL; f = f->next) {
        if (f->off < end || f->len == 0)
            return ts_errf(err, cap, "ip reasm: fragment list unsorted or overlapping");
        end = f->off + f->len;
        held += f->len;
        bytes += frag_size(f->len);
    }
    if (bytes != r->bytes || held != r->held)
        return ts_errf(err, cap, "ip reasm: slot holds %zu bytes, accounted %zu", bytes,
                       r->bytes);
    if (r->hlen + end > TS_IP_MAXLEN || (r->have_last && end > r->total))
        return ts_errf(err, cap, "ip reasm: datagram over its length");
    if (r->have_last && r->held >= r->total)
        return ts_errf(err, cap, "ip reasm: complete datagram still held");
    if (r->expire > now + TS_REASM_TIMEOUT_US || r->expire < r->created)
        return ts_errf(err, cap, "ip reasm: timer out of range");
    return 0;
}

TS_NOCOV int ts_ip_reasm_check(struct ts_stack *s, char *err, size_t cap)
{
    const struct ts_reasm_table *t = s->ipst->reasm;
    if (t == NULL)
        return ts_errf(err, cap, "ip reasm: no table");
    uint64_t now = ts_now(s);
    size_t bytes = 0;
    for (int i = 0; i < TS_REASM_SLOTS; i++) {
        const struct reasm *r = &t->slot[i];
        if (!r->used) {
            if (r->frags != NULL || r->bytes != 0)
                return ts_errf(err, cap, "ip reasm: free slot holds fragments");
            continue;
        }
        if (reasm_check_slot(r, now, err, cap) < 0)
            return -1;
        bytes += r->bytes;
    }
    if (bytes != t->bytes)
        return ts_errf(err, cap, "ip reasm: %zu bytes held, accounted %zu", bytes, t->bytes);
    if (t->bytes > s->cfg.reasm_limit)
        return ts_errf(err, cap, "ip reasm: %zu bytes over the %zu limit", t->bytes,
                       s->cfg.reasm_limit);
    return 0;
}

/*
 * uaccess.c - user pointer checks of sys/uaccess.h over a process's table of disjoint,
 * sorted, page-aligned user ranges inside [K_USER_BASE, K_USER_TOP).
 *
 * Adjacent ranges are kept as separate entries (their attributes may differ) but count as
 * contiguous memory for k_uaccess_check and k_uaccess_span. Ends are computed in 64 bits, so
 * a range or query reaching 4 GiB never wraps; a query with addr + len past 4 GiB fails.
 */
#include "sys/uaccess.h"

#include "lib/kerrno.h"

#define PAGE 4096u
#define PAGE_MASK (PAGE - 1u)

/* len rounded up to whole pages, in 64 bits (no overflow for any uint32_t). */
static uint64_t page_round(uint32_t len)
{
    return ((uint64_t)len + PAGE_MASK) & ~(uint64_t)PAGE_MASK;
}

/* Whether [start, end) overlaps an existing range. */
static bool overlaps(const struct k_vmap *m, uint64_t start, uint64_t end)
{
    for (uint32_t i = 0; i < m->n && i < K_VMAP_MAX; i++)
        if (start < m->r[i].end && m->r[i].start < end)
            return true;
    return false;
}

void k_vmap_init(struct k_vmap *m)
{
    memset(m, 0, sizeof *m);
}

int k_vmap_add(struct k_vmap *m, uint32_t start, uint32_t len, int writable, int lazy)
{
    if ((start & PAGE_MASK) != 0 || len == 0 || start < K_USER_BASE)
        return -K_EINVAL;
    uint64_t end = (uint64_t)start + page_round(len);
    if (end > K_USER_TOP || overlaps(m, start, end))
        return -K_EINVAL;
    if (m->n >= K_VMAP_MAX)
        return -K_ENOMEM;
    uint32_t pos = 0;
    while (pos < m->n && m->r[pos].start < start)
        pos++;
    memmove(&m->r[pos + 1], &m->r[pos], (m->n - pos) * sizeof m->r[0]);
    m->r[pos] = (struct k_vrange){
        .start = start, .end = (uint32_t)end, .writable = writable != 0, .lazy = lazy != 0,
    };
    m->n++;
    return 0;
}

uint32_t k_vmap_find_gap(const struct k_vmap *m, uint32_t hint, uint32_t len)
{
    if (len == 0)
        return 0;
    uint64_t size = page_round(len);
    uint64_t at = ((uint64_t)hint + PAGE_MASK) & ~(uint64_t)PAGE_MASK;
    if (at < K_USER_BASE)
        at = K_USER_BASE;
    for (uint32_t i = 0; i < m->n && i < K_VMAP_MAX; i++) {
        if (m->r[i].end <= at)
            continue;
        if (at + size <= m->r[i].start)
            break;
        at = m->r[i].end;
    }
    return at + size <= K_USER_TOP ? (uint32_t)at : 0;
}

const struct k_vrange *k_vmap_lookup(const struct k_vmap *m, uint32_t addr)
{
    uint32_t lo = 0, hi = m->n < K_VMAP_MAX ? m->n : K_VMAP_MAX;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const struct k_vrange *r = &m->r[mid];
        if (addr < r->start)
            hi = mid;
        else if (addr >= r->end)
            lo = mid + 1;
        else
            return r;
    }
    return NULL;
}

/* End (exclusive, 64-bit) of the accessible run starting at addr, stopping at limit. */
static uint64_t run_end(const struct k_vmap *m, uint32_t addr, uint64_t limit, int write)
{
    uint64_t cur = addr;
    while (cur < limit) {
        const struct k_vrange *r = cur <= 0xffffffffu ? k_vmap_lookup(m, (uint32_t)cur) : NULL;
        if (r == NULL || (write && !r->writable))
            break;
        cur = r->end;
    }
    return cur;
}

int k_uaccess_check(const struct k_vmap *m, uint32_t addr, uint32_t len, int write)
{
    if (len == 0)
        return 0;
    uint64_t end = (uint64_t)addr + len;
    if (end > 0xffffffffu)
        return -K_EFAULT; /* wraps around (or reaches the top of the address space) */
    return run_end(m, addr, end, write) >= end ? 0 : -K_EFAULT;
}

uint32_t k_uaccess_span(const struct k_vmap *m, uint32_t addr, uint32_t max, int write)
{
    uint64_t limit = (uint64_t)addr + max;
    uint64_t end = run_end(m, addr, limit, write);
    if (end > limit)
        end = limit;
    return (uint32_t)(end - addr);
}

/*
 * kbench.c - /bin/kbench: the benchmark loops of the lab's kernel workloads, timed with
 * rdtsc in user mode (CR4.TSD is clear), the same semantics as the Linux reference
 * (targets/kernel/linux/kbench.c):
 *   syscall    N getpid round trips
 *   ctxswitch  parent and forked child each yield N times, strictly alternating (our round
 *              robin always switches to the other runnable process): 2N switches, iters=2N,
 *              timed after WARMUP untimed hand-overs
 *   pagefault  mmap N lazy pages, write one byte in each: N first-touch faults
 *   spawn      spawn /bin/true and wait for it, N times
 * Argument (from the kernel): "bench=<w1>,<w2>,... iters=<N> khz=<TSC kHz>". Prints
 * "KBENCH <w> iters=<n> tsc=<delta> ns=<delta>" per workload, then "KBENCH done"; exits 1
 * when a workload fails.
 */
#include "ulib.h"

#define PAGE 4096u
#define WARMUP 16u

struct result {
    uint64_t tsc;
    uint32_t iters;
};

static uint32_t k_khz = 1;

#define MAX_ROWS 8
static struct {
    char name[16];
    struct result r;
} k_rows[MAX_ROWS];
static uint32_t k_nrows;

static uint64_t tsc_to_ns(uint64_t tsc)
{
    uint32_t rem;
    uint64_t q = k_udiv64(tsc, k_khz, &rem);
    return q * 1000000u + k_udiv64((uint64_t)rem * 1000000u, k_khz, NULL);
}

static int bench_syscall(uint32_t n, struct result *r)
{
    int pid = u_getpid();
    uint64_t t0 = u_rdtsc();
    for (uint32_t i = 0; i < n; i++)
        if (u_getpid() != pid)
            return -1;
    r->tsc = u_rdtsc() - t0;
    r->iters = n;
    return 0;
}

static int bench_ctxswitch(uint32_t n, struct result *r)
{
    int child = u_fork();
    if (child < 0)
        return -1;
    if (child == 0) {
        for (uint32_t i = 0; i < n + WARMUP; i++)
            u_yield();
        u_exit(0);
    }
    for (uint32_t i = 0; i < WARMUP; i++)
        u_yield();
    uint64_t t0 = u_rdtsc();
    for (uint32_t i = 0; i < n; i++)
        u_yield();
    r->tsc = u_rdtsc() - t0;
    r->iters = 2 * n;
    int status = -1;
    return u_wait(child, &status) == child && status == 0 ? 0 : -1;
}

static int bench_pagefault(uint32_t n, struct result *r)
{
    int32_t a = u_mmap(n * PAGE, 1);
    if (a < 0)
        return -1;
    volatile uint8_t *p = (volatile uint8_t *)(uintptr_t)a;
    uint64_t t0 = u_rdtsc();
    for (uint32_t i = 0; i < n; i++)
        p[i * PAGE] = 1;
    r->tsc = u_rdtsc() - t0;
    r->iters = n;
    return u_munmap((void *)(uintptr_t)a, n * PAGE) == 0 ? 0 : -1;
}

static int bench_spawn(uint32_t n, struct result *r)
{
    uint64_t t0 = u_rdtsc();
    for (uint32_t i = 0; i < n; i++) {
        int status = -1;
        int pid = u_spawn("/bin/true", "");
        if (pid < 0 || u_wait(pid, &status) != pid || status != 0)
            return -1;
    }
    r->tsc = u_rdtsc() - t0;
    r->iters = n;
    return 0;
}

static int run_one(const char *name, uint32_t n)
{
    struct result r = {0, 0};
    int rc;
    if (strcmp(name, "syscall") == 0)
        rc = bench_syscall(n, &r);
    else if (strcmp(name, "ctxswitch") == 0)
        rc = bench_ctxswitch(n, &r);
    else if (strcmp(name, "pagefault") == 0)
        rc = bench_pagefault(n, &r);
    else if (strcmp(name, "spawn") == 0)
        rc = bench_spawn(n, &r);
    else {
        u_printf("kbench: unknown workload %s\n", name);
        return -1;
    }
    if (rc != 0) {
        u_printf("kbench: %s failed\n", name);
        return -1;
    }
    u_printf("KBENCH %s iters=%u tsc=%llu ns=%llu\n", name, r.iters, r.tsc,
             tsc_to_ns(r.tsc));
    if (k_nrows < MAX_ROWS) {
        k_snprintf(k_rows[k_nrows].name, sizeof k_rows[k_nrows].name, "%s", name);
        k_rows[k_nrows++].r = r;
    }
    return 0;
}

/* A human-readable table (the VGA screenshot shows it): cost per operation. */
static void print_table(void)
{
    u_printf("\n  %-10s %8s %14s %12s\n", "workload", "iters", "tsc/op", "ns/op");
    for (uint32_t i = 0; i < k_nrows; i++) {
        uint32_t n = k_rows[i].r.iters ? k_rows[i].r.iters : 1;
        u_printf("  %-10s %8u %14llu %12llu\n", k_rows[i].name, n,
                 k_udiv64(k_rows[i].r.tsc, n, NULL), k_udiv64(tsc_to_ns(k_rows[i].r.tsc), n, NULL));
    }
    u_printf("\n");
}

int main(const char *arg)
{
    char list[96], iters[16], khz[16], name[24];
    k_kvarg_get(arg, "bench", list, sizeof list);
    uint32_t n = k_kvarg_get(arg, "iters", iters, sizeof iters) ? u_atou(iters) : 1000;
    if (k_kvarg_get(arg, "khz", khz, sizeof khz) && u_atou(khz) > 0)
        k_khz = u_atou(khz);
    if (n == 0)
        n = 1;
    int failed = 0;
    for (const char *p = list; *p != '\0';) {
        size_t len = 0;
        while (p[len] != '\0' && p[len] != ',')
            len++;
        if (len > 0 && len < sizeof name) {
            memcpy(name, p, len);
            name[len] = '\0';
            failed |= run_one(name, n) != 0;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    print_table();
    u_printf("KBENCH done\n");
    return failed;
}

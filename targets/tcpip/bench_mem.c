/*
 * bench_mem.c -- the stack's own cost, without a device: two stacks in this
 * process joined by their memory links, one TCP connection (RFC 9293)
 * carrying a byte count from the first to the second, timed with the
 * monotonic clock (which is also the stacks' injected clock here, so their
 * timers run in real time). Used by `lab bench tcpip` (workload memlink).
 */
#define _POSIX_C_SOURCE 200809L
#include "ts.h"

#include <time.h>

#define BM_PORT 5001
#define BM_CHUNK 65536
#define BM_ROUNDS_MAX 100000000ull

static uint64_t bm_clock(void *arg)
{
    (void)arg;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static struct ts_stack *bm_stack(uint8_t last, int mtu, size_t buf)
{
    struct ts_config c = { .mac = { 2, 0, 0, 0, 0, last }, .mtu = (uint16_t)mtu,
                           .ip = 0x0a4e0000u | last, .netmask = 0xffffff00u, .seed = last,
                           .tcp_sndbuf = buf, .tcp_rcvbuf = buf, .mem_limit = 256u << 20,
                           .link_queue = 4096, .clock = bm_clock };
    return ts_stack_new(&c);
}

/* Move every frame queued on `from` into `to`; returns how many. */
static uint64_t bm_pump(struct ts_stack *from, struct ts_stack *to, uint8_t *frame)
{
    uint64_t n = 0;
    ssize_t len;
    while ((len = ts_link_pop(from, frame, TS_PKT_CAP)) > 0) {
        ts_input(to, frame, (size_t)len);
        n++;
    }
    return n;
}

struct bm_run {
    struct ts_stack *a, *b;
    struct ts_tcb *client, *listener, *server;
    uint8_t *frame;
};

static int bm_connect(struct bm_run *r, int cc)
{
    r->listener = ts_tcp_socket(r->b);
    r->client = ts_tcp_socket(r->a);
    if (!r->listener || !r->client || ts_tcp_bind(r->listener, 0, BM_PORT) != 0 ||
        ts_tcp_listen(r->listener, 1) != 0 || ts_tcp_setopt(r->client, TS_TCP_CC, cc) != 0)
        return -EINVAL;
    int rc = ts_tcp_connect(r->client, ts_get_addr(r->b), BM_PORT);
    if (rc != 0 && rc != -EINPROGRESS)
        return rc;
    for (int i = 0; i < 1000 && !r->server; i++) {
        bm_pump(r->a, r->b, r->frame);
        bm_pump(r->b, r->a, r->frame);
        r->server = ts_tcp_accept(r->listener);
    }
    return r->server ? 0 : -ETIMEDOUT;
}

static int64_t bm_transfer(struct bm_run *r, uint64_t bytes, uint64_t *frames)
{
    static uint8_t out[BM_CHUNK], in[BM_CHUNK];
    uint64_t sent = 0, got = 0;
    for (uint64_t round = 0; got < bytes && round < BM_ROUNDS_MAX; round++) {
        while (sent < bytes) {
            size_t want = bytes - sent < BM_CHUNK ? (size_t)(bytes - sent) : BM_CHUNK;
            ssize_t n = ts_tcp_send(r->client, out, want);
            if (n <= 0)
                break;
            sent += (uint64_t)n;
        }
        *frames += bm_pump(r->a, r->b, r->frame);
        ssize_t n;
        while ((n = ts_tcp_recv(r->server, in, sizeof in)) > 0)
            got += (uint64_t)n;
        if (n < 0 && n != -EAGAIN)
            return n;
        *frames += bm_pump(r->b, r->a, r->frame);
        ts_poll(r->a);
        ts_poll(r->b);
    }
    return got == bytes ? 0 : -ETIMEDOUT;
}

double ts_bench_memlink(uint64_t bytes, int cc, int mtu, uint64_t *frames)
{
    struct bm_run r = { bm_stack(1, mtu, 1u << 20), bm_stack(2, mtu, 1u << 20), NULL, NULL,
                        NULL, NULL };
    static uint8_t frame[TS_PKT_CAP];
    r.frame = frame;
    *frames = 0;
    double result = -EINVAL;
    if (r.a && r.b) {
        int rc = bm_connect(&r, cc);
        uint64_t t0 = bm_clock(NULL);
        int64_t xrc = rc == 0 ? bm_transfer(&r, bytes, frames) : rc;
        result = xrc == 0 ? (double)(bm_clock(NULL) - t0) / 1e6 : (double)xrc;
    }
    if (r.client)
        ts_tcp_abort(r.client);
    if (r.server)
        ts_tcp_abort(r.server);
    if (r.listener)
        ts_tcp_close(r.listener);
    ts_stack_free(r.a);
    ts_stack_free(r.b);
    return result;
}

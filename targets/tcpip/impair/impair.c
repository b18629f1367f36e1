/*
 * impair.c -- tcpip-impair: the lab's user-space netem. It bridges two
 * Ethernet "ports" and impairs what crosses, per direction, like
 * `tc qdisc ... netem delay D loss P limit N`: a fixed delay (monotonic
 * clock, microsecond precision), Bernoulli loss from a seeded PRNG (runs
 * repeat with the same --seed) and a queue limit in frames (overflow
 * dropped and counted). Both sides of a benchmark go through it alike.
 *
 *   tcpip-impair --a PORT --b PORT [--delay-ms MS] [--loss PCT]
 *                [--delay-ab MS] [--delay-ba MS] [--loss-ab PCT] [--loss-ba PCT]
 *                [--limit N] [--mtu N] [--seed N]
 *
 * PORT is tap:NETNS:DEV (the existing TAP device DEV inside network
 * namespace NETNS, /var/run/netns/NETNS or a path like /proc/PID/ns/net;
 * empty NETNS: this process's namespace) or unix:PATH (a SOCK_SEQPACKET
 * socket the bridge listens on at PATH, one Ethernet frame per message; it
 * serves one connection at a time and accepts the next when it ends).
 *
 * Each direction keeps its frames in one ring allocated at start: a frame
 * descriptor ring of --limit entries and a byte arena of limit * (mtu + 100)
 * bytes into which frames are read in place (no copy, no malloc per frame;
 * a frame that finds no room is dropped as over the limit). The loop is one
 * ppoll on the port fds with the earliest due frame as timeout; every
 * wakeup reads all frames available and writes all that are due. A port
 * that cannot take a frame (EAGAIN) holds its direction's queue until
 * POLLOUT. It prints "ready" once both ports are open, and on SIGTERM or
 * SIGINT one JSON line per direction, then exits 0:
 *   {"dir":"ab","received":R,"frames":F,"bytes":B,"dropped_loss":L,
 *    "dropped_limit":M,"dropped_link":K,"dropped_oversize":O,"queued":Q}
 * frames/bytes: forwarded; dropped_link: the output port was not connected
 * or refused the frame; queued: still held at exit (discarded), so
 * received = frames + dropped_* + queued. Bad usage: one line, exit 2;
 * a port that cannot be opened: one line, exit 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define IMP_ETH_OVERHEAD 18          /* Ethernet header + one VLAN tag */
#define IMP_SLOT_EXTRA 100           /* arena bytes per frame beyond the MTU */
#define IMP_BATCH 256                /* frames read per port per wakeup, at most */
#define IMP_SOCKBUF (4 << 20)

enum imp_kind { IMP_TAP, IMP_UNIX };

/* One side of the bridge. */
struct imp_port {
    const char *spec;
    enum imp_kind kind;
    char ns[256], dev[IFNAMSIZ], path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int fd;                          /* tap fd, or the connected unix socket; -1: none */
    int listen_fd;                   /* unix: the listening socket */
};

/* A queued frame: its bytes in the arena and when it is due. */
struct imp_desc {
    uint64_t due_us;
    uint32_t off, len;
};

struct imp_counters {
    uint64_t received, frames, bytes, dropped_loss, dropped_limit, dropped_link,
        dropped_oversize;
};

/* One direction: frames read from `in`, delayed, written to `out`. */
struct imp_dir {
    const char *name;
    struct imp_port *in, *out;
    uint64_t delay_us;
    double loss;                     /* probability 0..1 */
    uint64_t rng[4];                 /* xoshiro256** */
    struct imp_desc *ring;
    uint32_t limit, head, count;
    uint8_t *arena;
    size_t arena_size, wpos;
    int blocked;                     /* out refused a frame: wait for POLLOUT */
    struct imp_counters c;
};

struct imp_opts {
    const char *a, *b;
    double delay_ms[2], loss_pct[2];
    unsigned long long limit, mtu, seed;
};

static volatile sig_atomic_t imp_stop;
static size_t imp_frame_max;
static uint8_t *imp_scratch;         /* frames read only to be dropped */

/* ---- usage -------------------------------------------------------------- */

static const char imp_usage_text[] =
    "tcpip-impair --a PORT --b PORT [--delay-ms MS] [--loss PCT] [--delay-ab MS] "
    "[--delay-ba MS] [--loss-ab PCT] [--loss-ba PCT] [--limit N] [--mtu N] [--seed N]; "
    "PORT: tap:NETNS:DEV or unix:PATH";

static _Noreturn void imp_usage(const char *fmt, const char *arg)
{
    fputs("tcpip-impair: ", stderr);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (usage: %s)\n", imp_usage_text);
    exit(2);
}

static _Noreturn void imp_bad(const char *opt, const char *v, const char *want)
{
    fprintf(stderr, "tcpip-impair: bad value '%s' for %s: want %s\n", v, opt, want);
    exit(2);
}

static unsigned long long imp_uint(const char *opt, const char *v, unsigned long long lo,
                                   unsigned long long hi)
{
    char *end = NULL, want[96];
    unsigned long long x = 0;
    errno = 0;
    if (v[0] >= '0' && v[0] <= '9')
        x = strtoull(v, &end, 10);
    if (end != NULL && errno == 0 && *end == '\0' && x >= lo && x <= hi)
        return x;
    snprintf(want, sizeof want, "an integer in %llu..%llu", lo, hi);
    imp_bad(opt, v, want);
}

static double imp_real(const char *opt, const char *v, double hi, const char *want)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno != 0 || end == v || *end != '\0' || !(x >= 0) || x > hi)
        imp_bad(opt, v, want);
    return x;
}

/* ---- command line ------------------------------------------------------- */

enum {
    O_A = 256, O_B, O_DELAY, O_LOSS, O_DELAY_AB, O_DELAY_BA, O_LOSS_AB, O_LOSS_BA,
    O_LIMIT, O_MTU, O_SEED, O_HELP
};

static const struct option imp_longopts[] = {
    {"a", required_argument, NULL, O_A}, {"b", required_argument, NULL, O_B},
    {"delay-ms", required_argument, NULL, O_DELAY},
    {"loss", required_argument, NULL, O_LOSS},
    {"delay-ab", required_argument, NULL, O_DELAY_AB},
    {"delay-ba", required_argument, NULL, O_DELAY_BA},
    {"loss-ab", required_argument, NULL, O_LOSS_AB},
    {"loss-ba", required_argument, NULL, O_LOSS_BA},
    {"limit", required_argument, NULL, O_LIMIT}, {"mtu", required_argument, NULL, O_MTU},
    {"seed", required_argument, NULL, O_SEED}, {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0},
};

#define IMP_DELAY_WANT "milliseconds in 0..3600000"
#define IMP_LOSS_WANT "a percentage in 0..100"

static void imp_delay(struct imp_opts *o, const char *opt, const char *v, int lo, int hi)
{
    double x = imp_real(opt, v, 3600000, IMP_DELAY_WANT);
    for (int i = lo; i <= hi; i++)
        o->delay_ms[i] = x;
}

static void imp_loss(struct imp_opts *o, const char *opt, const char *v, int lo, int hi)
{
    double x = imp_real(opt, v, 100, IMP_LOSS_WANT);
    for (int i = lo; i <= hi; i++)
        o->loss_pct[i] = x;
}

/* One option; 0 when `c` is not one of ours. */
static int imp_opt(struct imp_opts *o, int c, const char *v)
{
    switch (c) {
    case O_A: o->a = v; break;
    case O_B: o->b = v; break;
    case O_DELAY: imp_delay(o, "--delay-ms", v, 0, 1); break;
    case O_DELAY_AB: imp_delay(o, "--delay-ab", v, 0, 0); break;
    case O_DELAY_BA: imp_delay(o, "--delay-ba", v, 1, 1); break;
    case O_LOSS: imp_loss(o, "--loss", v, 0, 1); break;
    case O_LOSS_AB: imp_loss(o, "--loss-ab", v, 0, 0); break;
    case O_LOSS_BA: imp_loss(o, "--loss-ba", v, 1, 1); break;
    case O_LIMIT: o->limit = imp_uint("--limit", v, 1, 1000000); break;
    case O_MTU: o->mtu = imp_uint("--mtu", v, 68, 65535); break;
    case O_SEED: o->seed = imp_uint("--seed", v, 0, UINT64_MAX); break;
    default: return 0;
    }
    return 1;
}

static void imp_parse(int argc, char **argv, struct imp_opts *o)
{
    int c;
    memset(o, 0, sizeof *o);
    o->limit = 10000;
    o->mtu = 1500;
    o->seed = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", imp_longopts, NULL)) != -1) {
        if (c == O_HELP) {
            printf("usage: %s\n", imp_usage_text);
            exit(0);
        }
        if (c == ':')
            imp_usage("option %s needs a value", argv[optind - 1]);
        if (!imp_opt(o, c, optarg))
            imp_usage("unknown option '%s'", argv[optind - 1]);
    }
    if (optind < argc)
        imp_usage("unexpected argument '%s'", argv[optind]);
    if (o->a == NULL || o->b == NULL)
        imp_usage("missing %s PORT", o->a == NULL ? "--a" : "--b");
}

/* ---- ports: syntax ------------------------------------------------------ */

static void imp_port_tap_spec(struct imp_port *p, const char *opt, const char *rest)
{
    const char *colon = strrchr(rest, ':');
    size_t nslen = colon ? (size_t)(colon - rest) : 0;
    if (colon == NULL || nslen >= sizeof p->ns || colon[1] == '\0' ||
        strlen(colon + 1) >= IFNAMSIZ)
        imp_bad(opt, p->spec, "tap:NETNS:DEV (DEV at most 15 characters) or unix:PATH");
    memcpy(p->ns, rest, nslen);
    p->ns[nslen] = '\0';
    strcpy(p->dev, colon + 1);
    p->kind = IMP_TAP;
}

static void imp_port_spec(struct imp_port *p, const char *opt, const char *spec)
{
    memset(p, 0, sizeof *p);
    p->spec = spec;
    p->fd = p->listen_fd = -1;
    if (strncmp(spec, "tap:", 4) == 0) {
        imp_port_tap_spec(p, opt, spec + 4);
        return;
    }
    if (strncmp(spec, "unix:", 5) != 0 || spec[5] == '\0' ||
        strlen(spec + 5) >= sizeof p->path)
        imp_bad(opt, spec, "tap:NETNS:DEV or unix:PATH (PATH at most 107 characters)");
    strcpy(p->path, spec + 5);
    p->kind = IMP_UNIX;
}

/* ---- ports: opening ----------------------------------------------------- */

/* Open /dev/net/tun attached to p->dev in the current namespace. */
static int imp_tun_attach(struct imp_port *p)
{
    struct ifreq ifr;
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        fprintf(stderr, "tcpip-impair: %s: /dev/net/tun: %s\n", p->spec, strerror(errno));
        return -1;
    }
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    strcpy(ifr.ifr_name, p->dev);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        fprintf(stderr, "tcpip-impair: %s: TUNSETIFF %s: %s\n", p->spec, p->dev,
                strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int imp_ns_open(struct imp_port *p, char *path, size_t cap)
{
    if (strchr(p->ns, '/') != NULL)
        snprintf(path, cap, "%s", p->ns);
    else
        snprintf(path, cap, "/var/run/netns/%s", p->ns);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        fprintf(stderr, "tcpip-impair: %s: network namespace %s: %s\n", p->spec, path,
                strerror(errno));
    return fd;
}

/* The TAP device inside its namespace: setns there around the attach, then back. */
static int imp_tap_open(struct imp_port *p)
{
    char path[512];
    if (p->ns[0] == '\0')
        return (p->fd = imp_tun_attach(p)) < 0 ? -1 : 0;
    int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    int there = imp_ns_open(p, path, sizeof path);
    int rc = -1;
    if (home < 0 || there < 0)
        goto out;
    if (setns(there, CLONE_NEWNET) < 0) {
        fprintf(stderr, "tcpip-impair: %s: setns %s: %s\n", p->spec, path, strerror(errno));
        goto out;
    }
    p->fd = imp_tun_attach(p);
    if (setns(home, CLONE_NEWNET) < 0) {
        fprintf(stderr, "tcpip-impair: setns back home: %s\n", strerror(errno));
        goto out;
    }
    rc = p->fd < 0 ? -1 : 0;
out:
    if (home >= 0)
        close(home);
    if (there >= 0)
        close(there);
    return rc;
}

/* Socket buffers large enough for bursts: forced as root, else up to the sysctl cap. */
static void imp_sockbuf(int fd)
{
    int v = IMP_SOCKBUF;
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof v) < 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof v) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
}

/* Listen at p->path (a stale socket file there is replaced). */
static int imp_unix_open(struct imp_port *p)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct stat st;
    strcpy(sa.sun_path, p->path);
    if (lstat(p->path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(p->path);
    p->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->listen_fd < 0 || bind(p->listen_fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        listen(p->listen_fd, 4) < 0) {
        fprintf(stderr, "tcpip-impair: %s: %s\n", p->spec, strerror(errno));
        return -1;
    }
    return 0;
}

static int imp_port_open(struct imp_port *p)
{
    return p->kind == IMP_TAP ? imp_tap_open(p) : imp_unix_open(p);
}

static void imp_port_close(struct imp_port *p)
{
    if (p->fd >= 0)
        close(p->fd);
    if (p->listen_fd >= 0) {
        close(p->listen_fd);
        unlink(p->path);
    }
    p->fd = p->listen_fd = -1;
}

/* A unix port's next peer; one at a time (a second one waits in the backlog). */
static void imp_unix_accept(struct imp_port *p)
{
    int fd = accept4(p->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    imp_sockbuf(fd);
    p->fd = fd;
}

/* The peer of a unix port went away: listen for the next. */
static void imp_unix_drop(struct imp_port *p)
{
    close(p->fd);
    p->fd = -1;
}

/* ---- PRNG: xoshiro256**, seeded by splitmix64 ----------------------------- */

static uint64_t imp_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t imp_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t imp_rand(uint64_t s[4])
{
    uint64_t r = imp_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = imp_rotl(s[3], 45);
    return r;
}

/* Bernoulli(p): the frame is lost. A draw per frame, lost or not, so the
 * pattern depends only on the seed and the frame's index in its direction. */
static int imp_lost(struct imp_dir *d)
{
    double u = (double)(imp_rand(d->rng) >> 11) * 0x1.0p-53;
    return u < d->loss;
}

/* ---- directions: the ring ----------------------------------------------- */

static int imp_dir_init(struct imp_dir *d, const struct imp_opts *o, int i,
                        struct imp_port *in, struct imp_port *out)
{
    uint64_t x = o->seed ^ (0x5851f42d4c957f2dull * (uint64_t)(i + 1));
    d->name = i == 0 ? "ab" : "ba";
    d->in = in;
    d->out = out;
    d->delay_us = (uint64_t)(o->delay_ms[i] * 1000.0 + 0.5);
    d->loss = o->loss_pct[i] / 100.0;
    for (int k = 0; k < 4; k++)
        d->rng[k] = imp_splitmix(&x);
    d->limit = (uint32_t)o->limit;
    d->arena_size = (size_t)o->limit * (size_t)(o->mtu + IMP_SLOT_EXTRA);
    d->ring = calloc(d->limit, sizeof *d->ring);
    d->arena = malloc(d->arena_size);
    if (d->ring == NULL || d->arena == NULL) {
        fprintf(stderr, "tcpip-impair: cannot allocate %zu bytes for the queue of %s\n",
                d->arena_size, d->name);
        return -1;
    }
    return 0;
}

static void imp_dir_free(struct imp_dir *d)
{
    free(d->ring);
    free(d->arena);
}

/* Where the next frame may be read in place (imp_frame_max contiguous
 * bytes), or NULL when the queue is at its limit or the arena is full. */
static uint8_t *imp_reserve(struct imp_dir *d)
{
    if (d->count == d->limit)
        return NULL;
    if (d->count == 0)
        d->wpos = 0;
    size_t rpos = d->count ? d->ring[d->head].off : 0;
    if (d->count == 0 || d->wpos > rpos) {          /* free: [wpos, end) and [0, rpos) */
        if (d->arena_size - d->wpos >= imp_frame_max)
            return d->arena + d->wpos;
        if (rpos < imp_frame_max)
            return NULL;
        d->wpos = 0;
        return d->arena;
    }
    if (d->wpos < rpos && rpos - d->wpos >= imp_frame_max)   /* free: [wpos, rpos) */
        return d->arena + d->wpos;
    return NULL;
}

/* Queue the frame just read at d->wpos. */
static void imp_commit(struct imp_dir *d, size_t len, uint64_t now)
{
    struct imp_desc *e = &d->ring[(d->head + d->count) % d->limit];
    e->off = (uint32_t)d->wpos;
    e->len = (uint32_t)len;
    e->due_us = now + d->delay_us;
    d->count++;
    d->wpos += len;
}

static void imp_pop(struct imp_dir *d)
{
    d->head = (d->head + 1) % d->limit;
    d->count--;
}

/* ---- directions: frames in ---------------------------------------------- */

static ssize_t imp_port_recv(struct imp_port *p, uint8_t *buf, size_t cap)
{
    if (p->kind == IMP_UNIX)
        return recv(p->fd, buf, cap, MSG_TRUNC | MSG_DONTWAIT);
    return read(p->fd, buf, cap);
}

/* One frame read (n bytes into buf): lost, over the limit, or queued. */
static void imp_take(struct imp_dir *d, uint8_t *buf, ssize_t n, uint64_t now)
{
    d->c.received++;
    if ((size_t)n > imp_frame_max) {
        d->c.dropped_oversize++;
        return;
    }
    if (imp_lost(d))
        d->c.dropped_loss++;
    else if (buf == imp_scratch)
        d->c.dropped_limit++;
    else
        imp_commit(d, (size_t)n, now);
}

/* Read the frames waiting at d->in: 0, or -1 when the port failed (a unix
 * peer gone, or a TAP error, errno set; 0 for a closed peer). */
static int imp_read_batch(struct imp_dir *d, uint64_t now)
{
    for (int i = 0; i < IMP_BATCH; i++) {
        uint8_t *buf = imp_reserve(d);
        if (buf == NULL)
            buf = imp_scratch;
        ssize_t n = imp_port_recv(d->in, buf, imp_frame_max);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n == 0 && d->in->kind == IMP_TAP)
            return 0;
        if (n <= 0) {
            if (n == 0)
                errno = 0;
            return -1;
        }
        imp_take(d, buf, n, now);
    }
    return 0;
}

/* ---- directions: frames out --------------------------------------------- */

static ssize_t imp_port_send(struct imp_port *p, const uint8_t *buf, size_t len)
{
    if (p->kind == IMP_UNIX)
        return send(p->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    return write(p->fd, buf, len);
}

/* Write one frame: 1 sent or dropped, 0 the port is full (try on POLLOUT). */
static int imp_send_one(struct imp_dir *d, const struct imp_desc *e)
{
    if (d->out->fd < 0) {
        d->c.dropped_link++;
        return 1;
    }
    for (;;) {
        ssize_t w = imp_port_send(d->out, d->arena + e->off, e->len);
        if (w == (ssize_t)e->len) {
            d->c.frames++;
            d->c.bytes += e->len;
            return 1;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        d->c.dropped_link++;
        return 1;
    }
}

/* Write every due frame, in order, until the port is full. */
static void imp_flush(struct imp_dir *d, uint64_t now)
{
    while (d->count > 0 && !d->blocked) {
        const struct imp_desc *e = &d->ring[d->head];
        if (e->due_us > now)
            return;
        if (!imp_send_one(d, e)) {
            d->blocked = 1;
            return;
        }
        imp_pop(d);
    }
}

/* ---- the loop ----------------------------------------------------------- */

static uint64_t imp_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void imp_on_signal(int sig)
{
    imp_stop = sig;
}

/* SIGTERM/SIGINT stay blocked except inside ppoll, so none is missed. */
static void imp_signals(sigset_t *wait_mask)
{
    struct sigaction sa;
    sigset_t block;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = imp_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, wait_mask);
    sigdelset(wait_mask, SIGTERM);
    sigdelset(wait_mask, SIGINT);
}

/* The fd ppoll watches for a port, and for what. */
static void imp_watch(struct pollfd *pf, const struct imp_port *p,
                      const struct imp_dir *out)
{
    pf->fd = p->fd >= 0 ? p->fd : p->listen_fd;
    pf->events = POLLIN;
    if (p->fd >= 0 && out->blocked)
        pf->events |= POLLOUT;
    pf->revents = 0;
}

/* How long to sleep: until the earliest due frame of a direction that can
 * write; NULL (no timeout) when none. */
static struct timespec *imp_timeout(struct imp_dir d[2], uint64_t now, struct timespec *ts)
{
    uint64_t due = UINT64_MAX;
    for (int i = 0; i < 2; i++)
        if (d[i].count > 0 && !d[i].blocked && d[i].ring[d[i].head].due_us < due)
            due = d[i].ring[d[i].head].due_us;
    if (due == UINT64_MAX)
        return NULL;
    uint64_t us = due > now ? due - now : 0;
    ts->tv_sec = (time_t)(us / 1000000u);
    ts->tv_nsec = (long)(us % 1000000u) * 1000;
    return ts;
}

/* What woke port p (input of `in`, output of `out`): 0, or -1 when its TAP
 * device failed (message on stderr). */
static int imp_service(struct imp_port *p, short revents, struct imp_dir *in,
                       struct imp_dir *out, uint64_t now)
{
    if (p->fd < 0) {
        if (revents & POLLIN)
            imp_unix_accept(p);
        return 0;
    }
    if (revents & POLLOUT)
        out->blocked = 0;
    if (!(revents & (POLLIN | POLLHUP | POLLERR)) || imp_read_batch(in, now) == 0)
        return 0;
    if (p->kind == IMP_TAP) {
        fprintf(stderr, "tcpip-impair: %s: read: %s\n", p->spec, strerror(errno));
        return -1;
    }
    imp_unix_drop(p);
    out->blocked = 0;                        /* its frames now drop as dropped_link */
    return 0;
}

static int imp_loop(struct imp_port port[2], struct imp_dir dir[2], const sigset_t *mask)
{
    struct pollfd pf[2];
    struct timespec ts;
    while (!imp_stop) {
        uint64_t now = imp_now_us();
        imp_flush(&dir[0], now);
        imp_flush(&dir[1], now);
        imp_watch(&pf[0], &port[0], &dir[1]);
        imp_watch(&pf[1], &port[1], &dir[0]);
        if (ppoll(pf, 2, imp_timeout(dir, now, &ts), mask) < 0) {
            if (errno == EINTR)
                continue;
            perror("tcpip-impair: ppoll");
            return 1;
        }
        now = imp_now_us();
        if (imp_service(&port[0], pf[0].revents, &dir[0], &dir[1], now) < 0 ||
            imp_service(&port[1], pf[1].revents, &dir[1], &dir[0], now) < 0)
            return 1;
    }
    return 0;
}

static void imp_report(const struct imp_dir *d)
{
    const struct imp_counters *c = &d->c;
    printf("{\"dir\":\"%s\",\"received\":%" PRIu64 ",\"frames\":%" PRIu64
           ",\"bytes\":%" PRIu64 ",\"dropped_loss\":%" PRIu64 ",\"dropped_limit\":%" PRIu64
           ",\"dropped_link\":%" PRIu64 ",\"dropped_oversize\":%" PRIu64
           ",\"queued\":%" PRIu32 "}\n",
           d->name, c->received, c->frames, c->bytes, c->dropped_loss, c->dropped_limit,
           c->dropped_link, c->dropped_oversize, d->count);
}

static int imp_open_all(const struct imp_opts *o, struct imp_port port[2],
                        struct imp_dir dir[2])
{
    imp_frame_max = (size_t)o->mtu + IMP_ETH_OVERHEAD;
    imp_scratch = malloc(imp_frame_max);
    if (imp_scratch == NULL || imp_dir_init(&dir[0], o, 0, &port[0], &port[1]) < 0 ||
        imp_dir_init(&dir[1], o, 1, &port[1], &port[0]) < 0)
        return -1;
    if (imp_port_open(&port[0]) < 0 || imp_port_open(&port[1]) < 0)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    static struct imp_port port[2];
    static struct imp_dir dir[2];
    struct imp_opts o;
    sigset_t mask;
    int rc = 1;
    imp_parse(argc, argv, &o);
    imp_port_spec(&port[0], "--a", o.a);
    imp_port_spec(&port[1], "--b", o.b);
    imp_signals(&mask);
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);          /* wake on time, to the microsecond */
    if (imp_open_all(&o, port, dir) == 0) {
        printf("ready\n");
        fflush(stdout);
        rc = imp_loop(port, dir, &mask);
        imp_report(&dir[0]);
        imp_report(&dir[1]);
        fflush(stdout);
    }
    imp_port_close(&port[0]);
    imp_port_close(&port[1]);
    imp_dir_free(&dir[0]);
    imp_dir_free(&dir[1]);
    free(imp_scratch);
    return rc;
}

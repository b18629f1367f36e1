/*
 * peer.c -- tcpip-peer: the kernel-socket endpoint for the TCP/IP stack's
 * benchmarks and the reference they are compared with. Plain TCP (RFC 9293)
 * through the host's kernel; congestion control selectable with --cc
 * (setsockopt TCP_CONGESTION, e.g. reno, cubic).
 *
 *   tcpip-peer sink PORT [--count N]      accept, discard; one JSON line per
 *                                         connection, accept to EOF; exit
 *                                         after N connections (0: never)
 *   tcpip-peer source IP PORT BYTES       connect, send BYTES of the pattern,
 *                                         shut down, wait for the peer's EOF;
 *                                         one JSON line, connect to EOF
 *   tcpip-peer echo PORT                  echo everything back, until killed
 *   tcpip-peer rr IP PORT --size S --count N
 *                                         send S bytes, wait for S back, N
 *                                         times; JSON with p50/p99 in us
 *
 * JSON of sink/source: {"bytes":B,"seconds":T,"mbps":M,"MBps":X} where mbps
 * is megabits (1e6 bits) per second and MBps megabytes (1e6 bytes) per
 * second. The listening modes print "ready port=P" on stderr once listening.
 * The pattern byte at stream offset i is i % 251 (the same as tcpip-node).
 * Usage errors: one line on stderr, exit 2; runtime errors: exit 1.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PEER_BUF (256 * 1024)
#define PEER_PATTERN_PERIOD 251
#define PEER_PATTERN_LEN (PEER_PATTERN_PERIOD * 1024)
#define PEER_MAX_CONNS 1024

struct peer_opts {
    const char *cc;
    long long count;
    long long size;
    int count_set, size_set;
};

static char peer_iobuf[PEER_BUF];
static uint8_t peer_pattern[PEER_PATTERN_LEN];

static _Noreturn void peer_usage(const char *msg)
{
    fprintf(stderr, "tcpip-peer: %s (usage: sink PORT [--count N] | source IP PORT BYTES"
            " | echo PORT | rr IP PORT --size S --count N; options: --cc NAME)\n", msg);
    exit(2);
}

static _Noreturn void peer_die(const char *what)
{
    fprintf(stderr, "tcpip-peer: %s: %s\n", what, strerror(errno));
    exit(1);
}

static double peer_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A decimal number in [lo, hi]; usage error naming `what` otherwise. */
static long long peer_num(const char *str, long long lo, long long hi, const char *what)
{
    char *end;
    errno = 0;
    long long v = strtoll(str, &end, 10);
    if (errno != 0 || end == str || *end != '\0' || v < lo || v > hi) {
        char msg[160];
        snprintf(msg, sizeof msg, "bad %s '%s': want %lld..%lld", what, str, lo, hi);
        peer_usage(msg);
    }
    return v;
}

static void peer_set_cc(int fd, const char *cc)
{
    if (cc != NULL && setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc, (socklen_t)strlen(cc)) < 0)
        peer_die("setsockopt TCP_CONGESTION");
}

static int peer_listen(uint16_t port, const char *cc)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (fd < 0)
        peer_die("socket");
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    peer_set_cc(fd, cc);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0)
        peer_die("bind");
    if (listen(fd, 128) < 0)
        peer_die("listen");
    fprintf(stderr, "ready port=%u\n", port);
    fflush(stderr);
    return fd;
}

static int peer_connect(const char *ip, uint16_t port, const char *cc)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, ip, &a.sin_addr) != 1)
        peer_usage("bad IP address: want A.B.C.D");
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        peer_die("socket");
    peer_set_cc(fd, cc);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
        peer_die("connect");
    return fd;
}

static void peer_report(unsigned long long bytes, double secs)
{
    double rate = secs > 0 ? (double)bytes / secs : 0.0;
    printf("{\"bytes\":%llu,\"seconds\":%.6f,\"mbps\":%.3f,\"MBps\":%.3f}\n",
           bytes, secs, rate * 8 / 1e6, rate / 1e6);
    fflush(stdout);
}

/* ---- sink --------------------------------------------------------------- */

struct peer_conn {
    int fd;
    double start;
    unsigned long long bytes;
};

/* Read what is there; 1 when the connection ended (reported). */
static int peer_sink_read(struct peer_conn *c)
{
    ssize_t n = recv(c->fd, peer_iobuf, sizeof peer_iobuf, 0);
    if (n > 0) {
        c->bytes += (unsigned long long)n;
        return 0;
    }
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (n < 0)
        fprintf(stderr, "tcpip-peer: recv: %s\n", strerror(errno));
    peer_report(c->bytes, peer_now() - c->start);
    close(c->fd);
    return 1;
}

static int peer_sink(uint16_t port, long long count, const char *cc)
{
    static struct pollfd pfd[PEER_MAX_CONNS + 1];
    static struct peer_conn conns[PEER_MAX_CONNS];
    int lfd = peer_listen(port, cc), n = 0;
    long long accepted = 0, done = 0;
    while (count == 0 || done < count) {
        pfd[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
        if (n >= PEER_MAX_CONNS || (count != 0 && accepted >= count))
            pfd[0].fd = -1;
        for (int i = 0; i < n; i++)
            pfd[i + 1] = (struct pollfd){.fd = conns[i].fd, .events = POLLIN};
        if (poll(pfd, (nfds_t)n + 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            peer_die("poll");
        }
        for (int i = n - 1; i >= 0; i--) {
            if (pfd[i + 1].revents && peer_sink_read(&conns[i])) {
                conns[i] = conns[--n];
                done++;
            }
        }
        if (pfd[0].fd >= 0 && (pfd[0].revents & POLLIN)) {
            int fd = accept(lfd, NULL, NULL);
            if (fd >= 0) {
                conns[n++] = (struct peer_conn){.fd = fd, .start = peer_now()};
                accepted++;
            }
        }
    }
    close(lfd);
    return 0;
}

/* ---- source ------------------------------------------------------------- */

static void peer_pattern_init(void)
{
    for (size_t i = 0; i < PEER_PATTERN_LEN; i++)
        peer_pattern[i] = (uint8_t)(i % PEER_PATTERN_PERIOD);
}

static int peer_source(const char *ip, uint16_t port, unsigned long long bytes, const char *cc)
{
    peer_pattern_init();
    double start = peer_now();
    int fd = peer_connect(ip, port, cc);
    unsigned long long off = 0;
    while (off < bytes) {
        size_t phase = (size_t)(off % PEER_PATTERN_PERIOD);
        size_t chunk = PEER_PATTERN_LEN - PEER_PATTERN_PERIOD;
        if (bytes - off < chunk)
            chunk = (size_t)(bytes - off);
        ssize_t w = send(fd, peer_pattern + phase, chunk, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            peer_die("send");
        off += (unsigned long long)w;
    }
    if (shutdown(fd, SHUT_WR) < 0)
        peer_die("shutdown");
    for (;;) {                               /* the peer's EOF: all was taken */
        ssize_t r = recv(fd, peer_iobuf, sizeof peer_iobuf, 0);
        if (r == 0)
            break;
        if (r < 0 && errno != EINTR)
            peer_die("recv");
    }
    peer_report(bytes, peer_now() - start);
    close(fd);
    return 0;
}

/* ---- echo --------------------------------------------------------------- */

/* Echo what is readable, blocking on the write side (flow control). 1 when
 * the connection ended. */
static int peer_echo_read(int fd)
{
    ssize_t n = recv(fd, peer_iobuf, sizeof peer_iobuf, MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (n <= 0) {
        close(fd);
        return 1;
    }
    for (ssize_t off = 0; off < n;) {
        ssize_t w = send(fd, peer_iobuf + off, (size_t)(n - off), MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            close(fd);
            return 1;
        }
        off += w;
    }
    return 0;
}

static int peer_echo(uint16_t port, const char *cc)
{
    static struct pollfd pfd[PEER_MAX_CONNS + 1];
    static int fds[PEER_MAX_CONNS];
    int lfd = peer_listen(port, cc), n = 0;
    for (;;) {
        pfd[0] = (struct pollfd){.fd = n < PEER_MAX_CONNS ? lfd : -1, .events = POLLIN};
        for (int i = 0; i < n; i++)
            pfd[i + 1] = (struct pollfd){.fd = fds[i], .events = POLLIN};
        if (poll(pfd, (nfds_t)n + 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            peer_die("poll");
        }
        for (int i = n - 1; i >= 0; i--)
            if (pfd[i + 1].revents && peer_echo_read(fds[i]))
                fds[i] = fds[--n];
        if (pfd[0].fd >= 0 && (pfd[0].revents & POLLIN)) {
            int fd = accept(lfd, NULL, NULL);
            if (fd >= 0)
                fds[n++] = fd;
        }
    }
}

/* ---- request/response --------------------------------------------------- */

static int peer_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double peer_pct(const double *sorted, long long n, double p)
{
    long long i = (long long)(p * (double)(n - 1) + 0.5);
    return sorted[i];
}

/* One round trip: S bytes out, S bytes back, reading while writing so a
 * large request cannot deadlock against the echo's flow control. */
static void peer_rr_once(int fd, const uint8_t *req, size_t size)
{
    size_t sent = 0, got = 0;
    while (got < size) {
        struct pollfd p = {.fd = fd, .events = POLLIN | (sent < size ? POLLOUT : 0)};
        if (poll(&p, 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            peer_die("poll");
        }
        if (sent < size && (p.revents & POLLOUT)) {
            ssize_t w = send(fd, req + sent, size - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w < 0 && errno != EINTR && errno != EAGAIN)
                peer_die("send");
            sent += w > 0 ? (size_t)w : 0;
        }
        if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        size_t want = size - got < sizeof peer_iobuf ? size - got : sizeof peer_iobuf;
        ssize_t r = recv(fd, peer_iobuf, want, MSG_DONTWAIT);
        if (r < 0 && errno != EINTR && errno != EAGAIN)
            peer_die("recv");
        if (r == 0) {
            fprintf(stderr, "tcpip-peer: rr: connection closed after %zu of %zu bytes\n",
                    got, size);
            exit(1);
        }
        got += r > 0 ? (size_t)r : 0;
    }
}

static int peer_rr(const char *ip, uint16_t port, size_t size, long long count, const char *cc)
{
    uint8_t *req = malloc(size);
    double *lat = malloc((size_t)count * sizeof *lat);
    int one = 1;
    if (req == NULL || lat == NULL)
        peer_die("malloc");
    for (size_t i = 0; i < size; i++)
        req[i] = (uint8_t)(i % PEER_PATTERN_PERIOD);
    int fd = peer_connect(ip, port, cc);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    double start = peer_now();
    for (long long i = 0; i < count; i++) {
        double t0 = peer_now();
        peer_rr_once(fd, req, size);
        lat[i] = (peer_now() - t0) * 1e6;
    }
    double secs = peer_now() - start;
    double sum = 0;
    for (long long i = 0; i < count; i++)
        sum += lat[i];
    qsort(lat, (size_t)count, sizeof *lat, peer_cmp_double);
    printf("{\"count\":%lld,\"size\":%zu,\"seconds\":%.6f,\"rate\":%.1f,\"mean_us\":%.1f,"
           "\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f}\n",
           count, size, secs, secs > 0 ? (double)count / secs : 0.0, sum / (double)count,
           peer_pct(lat, count, 0.50), peer_pct(lat, count, 0.99), lat[count - 1]);
    fflush(stdout);
    close(fd);
    free(req);
    free(lat);
    return 0;
}

/* ---- command line ------------------------------------------------------- */

static _Noreturn void peer_opt_error(const char *what, const char *opt)
{
    char msg[160];
    snprintf(msg, sizeof msg, "%s '%.100s'", what, opt);
    peer_usage(msg);
}

static void peer_parse_opts(int argc, char **argv, struct peer_opts *o)
{
    static const struct option longopts[] = {
        {"cc", required_argument, NULL, 'c'},
        {"count", required_argument, NULL, 'n'},
        {"size", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': o->cc = optarg; break;
        case 'n': o->count = peer_num(optarg, 0, 1000000000LL, "--count"); o->count_set = 1; break;
        case 's': o->size = peer_num(optarg, 1, 64LL << 20, "--size"); o->size_set = 1; break;
        case 'h': peer_usage("help");
        case ':': peer_opt_error("option needs a value", argv[optind - 1]);
        default: peer_opt_error("unknown option", argv[optind - 1]);
        }
    }
}

static void peer_nargs(int have, int want, const char *mode)
{
    if (have != want) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s takes %d argument%s", mode, want, want == 1 ? "" : "s");
        peer_usage(msg);
    }
}

int main(int argc, char **argv)
{
    struct peer_opts o = {0};
    peer_parse_opts(argc, argv, &o);
    signal(SIGPIPE, SIG_IGN);
    if (optind >= argc)
        peer_usage("missing mode");
    const char *mode = argv[optind];
    char **a = argv + optind + 1;
    int na = argc - optind - 1;
    if (strcmp(mode, "sink") == 0) {
        peer_nargs(na, 1, mode);
        return peer_sink((uint16_t)peer_num(a[0], 1, 65535, "PORT"), o.count, o.cc);
    }
    if (strcmp(mode, "source") == 0) {
        peer_nargs(na, 3, mode);
        uint16_t port = (uint16_t)peer_num(a[1], 1, 65535, "PORT");
        long long bytes = peer_num(a[2], 0, LLONG_MAX, "BYTES");
        return peer_source(a[0], port, (unsigned long long)bytes, o.cc);
    }
    if (strcmp(mode, "echo") == 0) {
        peer_nargs(na, 1, mode);
        return peer_echo((uint16_t)peer_num(a[0], 1, 65535, "PORT"), o.cc);
    }
    if (strcmp(mode, "rr") == 0) {
        peer_nargs(na, 2, mode);
        if (!o.size_set || !o.count_set || o.count < 1)
            peer_usage("rr needs --size S and --count N (N >= 1)");
        uint16_t port = (uint16_t)peer_num(a[1], 1, 65535, "PORT");
        return peer_rr(a[0], port, (size_t)o.size, o.count, o.cc);
    }
    peer_usage("unknown mode: want sink, source, echo or rr");
    return 2;
}

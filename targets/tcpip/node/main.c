/*
 * main.c -- tcpip-node: the command line and the event loop of the daemon
 * that runs the user-space stack (../tcpip.h) on a TAP device (--tap NAME)
 * or on a unix socket to the lab's impairment bridge (--link unix:PATH,
 * link_unix.c).
 *
 * Loop: poll() on the link's fd (TAP device or unix socket) with the
 * stack's next timer (ts_next_timeout) as timeout, read a batch of frames
 * into ts_input, ts_poll, then run the applications on the non-blocking
 * socket API. Once the interface has an address (at once with --ip, after
 * the DHCPACK with --dhcp, RFC 2131) it prints one line "ready ip=A.B.C.D"
 * and starts the applications. It ends on SIGTERM/SIGINT, when every
 * one-shot app (--fetch, --post, --source) is done, or after --timeout
 * (exit 1); then writes --stats and closes --pcap.
 * Exit status: 0 success, 1 failure (one line on stderr), 2 bad usage.
 */
#define _GNU_SOURCE
#include "node.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NODE_BATCH 64
#define NODE_POLL_MAX_MS 1000

static volatile sig_atomic_t node_stop_sig;

static const uint8_t node_default_mac[6] = {0x02, 0x54, 0x53, 0x00, 0x00, 0x01};

static const char node_usage_text[] =
    "(--tap NAME | --link unix:PATH) (--ip A.B.C.D/N [--gw A.B.C.D] | --dhcp) "
    "[--mac MAC] [--mtu N] [--no-offload] [--sndbuf BYTES] [--rcvbuf BYTES] "
    "[--pcap FILE] [--cc newreno|cubic] [--nodelay] [--http-root DIR [--http-port N]] "
    "[--fetch URL --out FILE] [--post FILE URL] [--sink PORT] "
    "[--source IP:PORT --bytes N] [--echo PORT] [--timeout S] [--stats FILE]";

static _Noreturn void node_usage(const char *fmt, const char *arg)
{
    fputs("tcpip-node: ", stderr);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (usage: tcpip-node %s)\n", node_usage_text);
    exit(2);
}

/* ---- option values ------------------------------------------------------ */

static unsigned long long node_num(const char *opt, const char *v,
                                   unsigned long long lo, unsigned long long hi)
{
    char *end;
    errno = 0;
    if (v[0] == '-' || v[0] == '\0')
        goto bad;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno == 0 && *end == '\0' && x >= lo && x <= hi)
        return x;
bad:
    fprintf(stderr, "tcpip-node: bad value '%s' for %s: want an integer in %llu..%llu\n",
            v, opt, lo, hi);
    exit(2);
}

static uint32_t node_ipv4(const char *opt, const char *v)
{
    struct in_addr a;
    if (inet_pton(AF_INET, v, &a) != 1) {
        fprintf(stderr, "tcpip-node: bad value '%s' for %s: want A.B.C.D\n", v, opt);
        exit(2);
    }
    return ntohl(a.s_addr);
}

/* A.B.C.D/N into ip and netmask. */
static void node_cidr(const char *v, uint32_t *ip, uint32_t *mask)
{
    char buf[32];
    const char *slash = strchr(v, '/');
    if (slash == NULL || (size_t)(slash - v) >= sizeof buf) {
        fprintf(stderr, "tcpip-node: bad value '%s' for --ip: want A.B.C.D/N\n", v);
        exit(2);
    }
    memcpy(buf, v, (size_t)(slash - v));
    buf[slash - v] = '\0';
    *ip = node_ipv4("--ip", buf);
    unsigned n = (unsigned)node_num("--ip prefix length", slash + 1, 1, 32);
    *mask = n == 32 ? 0xffffffffu : ~(0xffffffffu >> n);
}

static void node_mac(const char *v, uint8_t mac[6])
{
    unsigned b[6];
    char tail;
    if (sscanf(v, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
               &tail) != 6 || (b[0] & 1)) {
        fprintf(stderr, "tcpip-node: bad value '%s' for --mac: want a unicast "
                "XX:XX:XX:XX:XX:XX\n", v);
        exit(2);
    }
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)b[i];
}

/* IP:PORT for --source. */
static void node_endpoint(const char *v, uint32_t *ip, unsigned *port)
{
    char buf[32];
    const char *colon = strrchr(v, ':');
    if (colon == NULL || (size_t)(colon - v) >= sizeof buf) {
        fprintf(stderr, "tcpip-node: bad value '%s' for --source: want A.B.C.D:PORT\n", v);
        exit(2);
    }
    memcpy(buf, v, (size_t)(colon - v));
    buf[colon - v] = '\0';
    *ip = node_ipv4("--source", buf);
    *port = (unsigned)node_num("--source port", colon + 1, 1, 65535);
}

static int node_cc(const char *v)
{
    if (strcmp(v, "newreno") == 0 || strcmp(v, "reno") == 0)
        return TS_CC_NEWRENO;
    if (strcmp(v, "cubic") == 0)
        return TS_CC_CUBIC;
    fprintf(stderr, "tcpip-node: bad value '%s' for --cc: want newreno or cubic\n", v);
    exit(2);
}

static double node_seconds(const char *opt, const char *v)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno != 0 || end == v || *end != '\0' || !(x > 0) || x > 1e7) {
        fprintf(stderr, "tcpip-node: bad value '%s' for %s: want seconds > 0\n", v, opt);
        exit(2);
    }
    return x;
}

/* --link unix:PATH: the PATH. */
static const char *node_link_spec(const char *v)
{
    if (strncmp(v, "unix:", 5) != 0 || v[5] == '\0') {
        fprintf(stderr, "tcpip-node: bad value '%s' for --link: want unix:PATH\n", v);
        exit(2);
    }
    return v + 5;
}

/* ---- command line ------------------------------------------------------- */

enum {
    O_TAP = 256, O_LINK, O_MAC, O_IP, O_GW, O_DHCP, O_MTU, O_PCAP, O_CC, O_NODELAY, O_ROOT,
    O_HPORT, O_FETCH, O_OUT, O_POST, O_SINK, O_SOURCE, O_BYTES, O_ECHO, O_TIMEOUT,
    O_STATS, O_HELP, O_NO_OFFLOAD, O_SNDBUF, O_RCVBUF
};

static const struct option node_longopts[] = {
    {"tap", required_argument, NULL, O_TAP}, {"link", required_argument, NULL, O_LINK},
    {"mac", required_argument, NULL, O_MAC},
    {"ip", required_argument, NULL, O_IP}, {"gw", required_argument, NULL, O_GW},
    {"dhcp", no_argument, NULL, O_DHCP}, {"mtu", required_argument, NULL, O_MTU},
    {"pcap", required_argument, NULL, O_PCAP}, {"cc", required_argument, NULL, O_CC},
    {"nodelay", no_argument, NULL, O_NODELAY},
    {"http-root", required_argument, NULL, O_ROOT},
    {"http-port", required_argument, NULL, O_HPORT},
    {"fetch", required_argument, NULL, O_FETCH}, {"out", required_argument, NULL, O_OUT},
    {"post", required_argument, NULL, O_POST}, {"sink", required_argument, NULL, O_SINK},
    {"source", required_argument, NULL, O_SOURCE},
    {"bytes", required_argument, NULL, O_BYTES}, {"echo", required_argument, NULL, O_ECHO},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"stats", required_argument, NULL, O_STATS}, {"help", no_argument, NULL, O_HELP},
    {"no-offload", no_argument, NULL, O_NO_OFFLOAD},
    {"sndbuf", required_argument, NULL, O_SNDBUF}, {"rcvbuf", required_argument, NULL, O_RCVBUF},
    {NULL, 0, NULL, 0},
};

/* One option; 0 when `c` is not one of ours. */
static int node_opt(struct node_opts *o, int c, const char *v)
{
    switch (c) {
    case O_TAP: o->tap = v; break;
    case O_LINK: o->link_unix = node_link_spec(v); break;
    case O_MAC: node_mac(v, o->mac); break;
    case O_IP: node_cidr(v, &o->ip, &o->netmask); break;
    case O_GW: o->gw = node_ipv4("--gw", v); break;
    case O_DHCP: o->dhcp = 1; break;
    case O_MTU: o->mtu = (unsigned)node_num("--mtu", v, 576, 65521); break;
    case O_PCAP: o->pcap = v; break;
    case O_CC: o->cc = node_cc(v); break;
    case O_NODELAY: o->nodelay = 1; break;
    case O_ROOT: o->http_root = v; break;
    case O_HPORT: o->http_port = (unsigned)node_num("--http-port", v, 1, 65535); break;
    case O_FETCH: o->fetch_url = v; break;
    case O_OUT: o->out = v; break;
    case O_POST: o->post_file = v; break;
    case O_SINK: o->sink_port = (unsigned)node_num("--sink", v, 1, 65535); break;
    case O_SOURCE: node_endpoint(v, &o->source_ip, &o->source_port); break;
    case O_BYTES: o->bytes = node_num("--bytes", v, 0, 1ull << 50); o->bytes_set = 1; break;
    case O_ECHO: o->echo_port = (unsigned)node_num("--echo", v, 1, 65535); break;
    case O_TIMEOUT: o->timeout_s = node_seconds("--timeout", v); break;
    case O_STATS: o->stats = v; break;
    case O_NO_OFFLOAD: o->no_offload = 1; break;
    case O_SNDBUF: o->sndbuf = (unsigned long)node_num("--sndbuf", v, 4096, 16u << 20); break;
    case O_RCVBUF: o->rcvbuf = (unsigned long)node_num("--rcvbuf", v, 4096, 16u << 20); break;
    default: return 0;
    }
    return 1;
}

/* Options that only make sense together. */
static void node_check_opts(struct node_opts *o, int nargs, char **args)
{
    if ((o->tap == NULL) == (o->link_unix == NULL))
        node_usage("give exactly one of --tap NAME and --link unix:PATH%s", "");
    if (o->dhcp == (o->ip != 0))
        node_usage("give exactly one of --ip A.B.C.D/N and --dhcp%s", "");
    if (o->gw != 0 && o->dhcp)
        node_usage("--gw is for --ip (DHCP supplies the router)%s", "");
    if ((o->fetch_url == NULL) != (o->out == NULL))
        node_usage("--fetch URL and --out FILE go together%s", "");
    if (o->post_file != NULL && nargs != 1)
        node_usage("--post FILE needs the URL after it%s", "");
    if (o->post_file == NULL && nargs > 0)
        node_usage("unexpected argument '%s'", args[0]);
    if (nargs == 1)
        o->post_url = args[0];
    if ((o->source_port != 0) != o->bytes_set)
        node_usage("--source IP:PORT and --bytes N go together%s", "");
    if (o->http_port != 0 && o->http_root == NULL)
        node_usage("--http-port needs --http-root DIR%s", "");
    if (o->http_root != NULL && o->http_port == 0)
        o->http_port = 80;
}

static void node_parse(int argc, char **argv, struct node_opts *o)
{
    int c;
    memset(o, 0, sizeof *o);
    memcpy(o->mac, node_default_mac, 6);
    o->cc = -1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", node_longopts, NULL)) != -1) {
        if (c == O_HELP) {
            printf("usage: tcpip-node %s\n", node_usage_text);
            exit(0);
        }
        if (c == ':')
            node_usage("option %s needs a value", argv[optind - 1]);
        if (!node_opt(o, c, optarg))
            node_usage("unknown option '%s'", argv[optind - 1]);
    }
    node_check_opts(o, argc - optind, argv + optind);
}

/* ---- the stack ---------------------------------------------------------- */

static void node_on_signal(int sig)
{
    node_stop_sig = sig;
}

static void node_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = node_on_signal;         /* no SA_RESTART: poll returns */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static uint64_t node_seed(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^
           ((uint64_t)getpid() << 32) ^ node_clock_us(NULL);
}

static int node_stack(struct node *n)
{
    struct ts_config cfg;
    memset(&cfg, 0, sizeof cfg);
    memcpy(cfg.mac, n->o.mac, 6);
    cfg.mtu = (uint16_t)n->o.mtu;
    cfg.ip = n->o.ip;
    cfg.netmask = n->o.netmask;
    cfg.gateway = n->o.gw;
    cfg.seed = node_seed();
    /* Per-connection buffers: 1 MiB each by default (Linux grows its own up to 4 MiB),
     * enough for 100 MB/s at 10 ms of round trip; memory for 64 such connections. */
    cfg.tcp_sndbuf = n->o.sndbuf ? n->o.sndbuf : NODE_TCP_BUF;
    cfg.tcp_rcvbuf = n->o.rcvbuf ? n->o.rcvbuf : NODE_TCP_BUF;
    cfg.mem_limit = NODE_MEM_LIMIT;
    cfg.clock = node_clock_us;
    cfg.link = n->o.tap != NULL ? node_tap_link : node_unix_link;
    if (n->o.tap != NULL && node_tap_offloads())
        cfg.tso = 65535;            /* the kernel segments our TCP packets */
    cfg.link_arg = (void *)(intptr_t)n->link_fd;
    n->s = ts_stack_new(&cfg);
    if (n->s == NULL) {
        fprintf(stderr, "tcpip-node: cannot create the stack\n");
        return -1;
    }
    if (n->o.pcap != NULL && ts_pcap_open(n->s, n->o.pcap) != 0) {
        fprintf(stderr, "tcpip-node: --pcap %s: cannot open\n", n->o.pcap);
        return -1;
    }
    if (n->o.dhcp && ts_dhcp_start(n->s) != 0) {
        fprintf(stderr, "tcpip-node: cannot start DHCP\n");
        return -1;
    }
    return 0;
}

struct ts_tcb *node_tcp_socket(struct node *n)
{
    struct ts_tcb *t = ts_tcp_socket(n->s);
    if (t == NULL)
        return NULL;
    if (n->o.cc >= 0)
        ts_tcp_setopt(t, TS_TCP_CC, n->o.cc);
    if (n->o.nodelay)
        ts_tcp_setopt(t, TS_TCP_NODELAY, 1);
    return t;
}

void node_oneshot_begin(struct node *n)
{
    n->oneshots++;
    n->had_oneshots = 1;
}

void node_oneshot_done(struct node *n, int ok)
{
    assert(n->oneshots > 0);
    n->oneshots--;
    if (!ok)
        n->exit_code = 1;
}

/* ---- the loop ----------------------------------------------------------- */

static int node_configured(struct node *n)
{
    if (ts_get_addr(n->s) == 0)
        return 0;
    if (!n->o.dhcp)
        return 1;
    int st = ts_dhcp_state(n->s);
    return st == TS_DHCP_BOUND || st == TS_DHCP_RENEWING || st == TS_DHCP_REBINDING;
}

/* Print the ready line and start the apps; -1 when one cannot start. */
static int node_start_apps(struct node *n)
{
    struct in_addr a = {.s_addr = htonl(ts_get_addr(n->s))};
    char buf[INET_ADDRSTRLEN];
    printf("ready ip=%s\n", inet_ntop(AF_INET, &a, buf, sizeof buf));
    fflush(stdout);
    if (node_http_server_start(n) < 0 || node_apps_start(n) < 0 ||
        node_http_client_start(n) < 0)
        return -1;
    return 0;
}

static void node_run_apps(struct node *n)
{
    node_http_server_run(n);
    node_apps_run(n);
    node_http_client_run(n);
}

/* Milliseconds to wait: the next stack timer, at most NODE_POLL_MAX_MS. */
static int node_wait_ms(struct node *n)
{
    int64_t t = ts_next_timeout(n->s);
    if (t < 0 || t > (int64_t)NODE_POLL_MAX_MS * 1000)
        return NODE_POLL_MAX_MS;
    return (int)((t + 999) / 1000);
}

static int node_loop(struct node *n)
{
    uint64_t start = node_clock_us(NULL);
    uint64_t limit = n->o.timeout_s > 0 ? (uint64_t)(n->o.timeout_s * 1e6) : 0;
    int started = 0;
    while (!node_stop_sig) {
        if (limit != 0 && node_clock_us(NULL) - start >= limit) {
            fprintf(stderr, "tcpip-node: timeout after %g s\n", n->o.timeout_s);
            return 1;
        }
        struct pollfd p = {.fd = n->link_fd, .events = POLLIN};
        if (poll(&p, 1, node_wait_ms(n)) < 0 && errno != EINTR) {
            perror("tcpip-node: poll");
            return 1;
        }
        if ((p.revents & (POLLIN | POLLHUP | POLLERR)) &&
            n->link_read(n->link_fd, n->s, NODE_BATCH) < 0)
            return 1;
        ts_poll(n->s);
        if (!started && node_configured(n)) {
            started = 1;
            if (node_start_apps(n) < 0)
                return 1;
        }
        if (started)
            node_run_apps(n);
        if (started && n->had_oneshots && n->oneshots == 0)
            return n->exit_code;           /* every one-shot app has ended */
    }
    return n->exit_code;
}

/* The TAP device (--tap) or the bridge's unix socket (--link). */
static int node_link_open(struct node *n)
{
    if (n->o.tap != NULL) {
        n->link_fd = node_tap_open(n->o.tap, n->o.mtu, !n->o.no_offload);
        n->link_read = node_tap_read_batch;
    } else {
        n->link_fd = node_unix_open(n->o.link_unix);
        n->link_read = node_unix_read_batch;
    }
    return n->link_fd < 0 ? -1 : 0;
}

static void node_finish(struct node *n)
{
    node_http_client_stop(n);
    node_apps_stop(n);
    node_http_server_stop(n);
    if (n->o.stats != NULL && node_stats_write(n->s, n->o.stats) < 0 && n->exit_code == 0)
        n->exit_code = 1;
    ts_pcap_close(n->s);
    ts_stack_free(n->s);
    close(n->link_fd);
}

int main(int argc, char **argv)
{
    static struct node n;
    node_parse(argc, argv, &n.o);
    node_signals();
    if (node_link_open(&n) < 0)
        return 1;
    if (node_stack(&n) < 0)
        return 1;
    int rc = node_loop(&n);
    if (rc != 0)
        n.exit_code = rc;
    node_finish(&n);
    return n.exit_code;
}

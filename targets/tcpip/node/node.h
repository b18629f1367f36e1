/*
 * node.h -- the pieces of tcpip-node, the daemon that attaches the
 * user-space stack (../tcpip.h) to a Linux TAP device and runs the lab's
 * applications on it: an HTTP/1.1 (RFC 9112) server and client, bulk
 * sink/source and echo. Files: main.c (options, event loop), clock.c
 * (CLOCK_MONOTONIC in us), tap.c (the TAP link), stats_json.c (counters as
 * JSON), http_parse.c (HTTP message syntax shared by server and client),
 * http_server.c, http_client.c, apps.c, link_unix.c (--link unix:PATH, the
 * alternative to a TAP device: frames as messages on a unix socket to the
 * lab's impairment bridge, ../impair/impair.c).
 *
 * Applications run on the stack's non-blocking socket API: main calls each
 * app's run function after every wakeup (frames read, timers polled); a
 * run function does all the work it can and returns without waiting.
 */
#ifndef NODE_NODE_H
#define NODE_NODE_H

#include "../tcpip.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define NODE_FRAME_MAX (65535 + 14)
#define NODE_TCP_BUF (1ul << 20)
#define NODE_MEM_LIMIT (160ul << 20)

/* The command line (main.c). */
struct node_opts {
    const char *tap;             /* --tap NAME, or NULL */
    const char *link_unix;       /* --link unix:PATH: the PATH, or NULL */
    uint8_t mac[6];
    uint32_t ip, netmask, gw;
    int dhcp;
    unsigned mtu;                /* 0: leave the device's MTU, stack 1500 */
    const char *pcap;
    int cc;                      /* -1: stack default, else enum ts_cc */
    int nodelay;
    const char *http_root;
    unsigned http_port;
    const char *fetch_url, *out;
    const char *post_file, *post_url;
    unsigned sink_port;
    uint32_t source_ip;
    unsigned source_port;
    unsigned long long bytes;
    int bytes_set;
    unsigned echo_port;
    double timeout_s;            /* 0: none */
    const char *stats;
    int no_offload;              /* --no-offload: plain frames on the TAP device */
    unsigned long sndbuf, rcvbuf;   /* --sndbuf/--rcvbuf: per-connection TCP buffers */
};

struct node_http_server;
struct node_http_client;
struct node_apps;

/* The running daemon. */
struct node {
    struct node_opts o;
    struct ts_stack *s;
    int link_fd;                 /* the TAP device or the unix socket */
    int (*link_read)(int fd, struct ts_stack *s, int max_frames);
    int oneshots;                /* one-shot apps still running */
    int had_oneshots;            /* any was started: exit when all ended */
    int exit_code;               /* 1 once any one-shot failed */
    struct node_http_server *http;
    struct node_http_client *client;
    struct node_apps *apps;
};

/* clock.c */
uint64_t node_clock_us(void *arg);

/* tap.c: open the device (non-blocking; MTU set when mtu != 0); 0 or -1
 * with a message on stderr. */
int node_tap_open(const char *name, unsigned mtu, int offload);
int node_tap_offloads(void);          /* 1: virtio-net header, TSO and csum offload on */
int node_tap_link(void *arg, const uint8_t *frame, size_t len);   /* arg: fd */
int node_tap_read_batch(int fd, struct ts_stack *s, int max_frames);

/* link_unix.c: connect to the bridge at path; the fd, or -1 with a message on
 * stderr. The read batch returns the frames read, or -1 when the bridge has
 * gone or the socket failed (message on stderr). */
int node_unix_open(const char *path);
int node_unix_link(void *arg, const uint8_t *frame, size_t len);  /* arg: fd */
int node_unix_read_batch(int fd, struct ts_stack *s, int max_frames);

/* stats_json.c */
int node_stats_write(struct ts_stack *s, const char *path);

/* main.c: a TCP socket with --cc and --nodelay applied. */
struct ts_tcb *node_tcp_socket(struct node *n);
/* A one-shot app starts / ends: ok 0 makes the daemon exit 1 (the app printed why). */
void node_oneshot_begin(struct node *n);
void node_oneshot_done(struct node *n, int ok);

/* http_server.c */
int node_http_server_start(struct node *n);
void node_http_server_run(struct node *n);
void node_http_server_stop(struct node *n);

/* http_client.c: --fetch URL --out FILE, --post FILE URL. */
int node_http_client_start(struct node *n);
void node_http_client_run(struct node *n);
void node_http_client_stop(struct node *n);

/* apps.c: --sink, --source, --echo. */
int node_apps_start(struct node *n);
void node_apps_run(struct node *n);
void node_apps_stop(struct node *n);

/* The deterministic byte stream of --source and tcpip-peer: byte i is i % 251. */
#define NODE_PATTERN_PERIOD 251

#endif

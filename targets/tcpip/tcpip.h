/*
 * tcpip.h -- the public API of the lab's user-space TCP/IP stack ("ts_" is
 * the stack's name prefix).
 *
 * One struct ts_stack is one host with one Ethernet interface. Nothing in
 * the stack reads the wall clock or touches a device: time comes from an
 * injected clock (a callback, or a manual clock advanced by the caller) and
 * frames leave through an injected link (a callback, or the built-in memory
 * link: a bounded queue the caller drains with ts_link_pop). Frames arrive
 * through ts_input. The same code thus runs against a TAP device (node/) and
 * deterministically inside a fuzzer.
 *
 * The socket-like API is non-blocking: calls return a count, 0, or a
 * negative errno value (-EAGAIN, -EINPROGRESS, -ENOTCONN, ...). Nothing
 * blocks; the caller drives the stack with ts_input and ts_poll, and asks
 * ts_next_timeout when to poll again.
 *
 * Addresses and ports are in host byte order everywhere in this API.
 * Specs followed: Ethernet II, ARP (RFC 826), IPv4 (RFC 791, 815 for
 * reassembly, 1122), ICMP (RFC 792), UDP (RFC 768), TCP (RFC 9293, 6298,
 * 7323 window scaling, 5681 and 6582 NewReno, 9438 CUBIC, 1122 delayed ACK,
 * 896 Nagle), DHCP (RFC 2131, 2132), HTTP/1.1 (RFC 9112) for the server.
 */
#ifndef TS_TCPIP_H
#define TS_TCPIP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* LAB-CDEF-BEGIN */
struct ts_stack;
struct ts_tcb;
struct ts_udp;

typedef uint64_t (*ts_clock_fn)(void *arg);                  /* microseconds */
typedef int (*ts_link_fn)(void *arg, const uint8_t *frame, size_t len);

struct ts_config {
    uint8_t mac[6];
    uint16_t mtu;            /* IP MTU of the link, 576..65521; 0: 1500 */
    uint32_t ip, netmask;    /* 0/0: unconfigured (DHCP sets them) */
    uint32_t gateway;        /* 0: no default route */
    uint64_t seed;           /* for ISNs, ephemeral ports, DHCP xids */
    size_t mem_limit;        /* bytes all dynamic state may use; 0: 64 MiB */
    size_t reasm_limit;      /* bytes held by IP reassembly; 0: 256 KiB */
    size_t tcp_sndbuf;       /* per-connection send buffer; 0: 256 KiB */
    size_t tcp_rcvbuf;       /* per-connection receive buffer; 0: 256 KiB */
    size_t link_queue;       /* memory link: frames held before dropping; 0: 1024 */
    uint32_t tso;            /* segmentation offload: the link takes TCP packets up to this
                                many IP bytes and cuts them at the MSS itself (a TAP
                                device with a virtio-net header); 0: off */
    ts_clock_fn clock;       /* NULL: manual clock (ts_clock_set) */
    void *clock_arg;
    ts_link_fn link;         /* NULL: memory link (ts_link_pop) */
    void *link_arg;
};

/* Stack life cycle, clock, link. */
struct ts_stack *ts_stack_new(const struct ts_config *cfg);
void ts_stack_free(struct ts_stack *s);
void ts_input(struct ts_stack *s, const uint8_t *frame, size_t len);
void ts_poll(struct ts_stack *s);               /* run due timers */
int64_t ts_next_timeout(struct ts_stack *s);    /* us until the next timer, -1: none */
uint64_t ts_now(struct ts_stack *s);
void ts_clock_set(struct ts_stack *s, uint64_t now_us);   /* manual clock only */
ssize_t ts_link_pop(struct ts_stack *s, uint8_t *buf, size_t cap); /* -EAGAIN: empty */
size_t ts_link_pending(struct ts_stack *s);
int ts_pcap_open(struct ts_stack *s, const char *path);   /* every frame in and out */
void ts_pcap_close(struct ts_stack *s);

/* Interface configuration and routing. */
void ts_set_addr(struct ts_stack *s, uint32_t ip, uint32_t netmask);
uint32_t ts_get_addr(struct ts_stack *s);
uint32_t ts_get_netmask(struct ts_stack *s);
int ts_route_add(struct ts_stack *s, uint32_t dst, uint32_t mask, uint32_t gateway);
int ts_route_del(struct ts_stack *s, uint32_t dst, uint32_t mask);
uint32_t ts_route_lookup(struct ts_stack *s, uint32_t dst); /* next hop, 0: none */
int ts_arp_lookup(struct ts_stack *s, uint32_t ip, uint8_t mac_out[6]); /* 0: found */
void ts_arp_request(struct ts_stack *s, uint32_t ip);

/* ICMP echo from this host (ping): the reply count and last RTT. */
int ts_ping(struct ts_stack *s, uint32_t dst, uint16_t id, uint16_t seq,
            const uint8_t *data, size_t len);
uint32_t ts_ping_replies(struct ts_stack *s, uint16_t id);

/* UDP sockets. */
struct ts_udp *ts_udp_socket(struct ts_stack *s);
int ts_udp_bind(struct ts_udp *u, uint32_t ip, uint16_t port);
ssize_t ts_udp_sendto(struct ts_udp *u, const uint8_t *buf, size_t len,
                      uint32_t ip, uint16_t port);
ssize_t ts_udp_recvfrom(struct ts_udp *u, uint8_t *buf, size_t cap,
                        uint32_t *ip, uint16_t *port);
void ts_udp_close(struct ts_udp *u);

/* TCP sockets. */
enum ts_tcp_state {
    TS_CLOSED, TS_LISTEN, TS_SYN_SENT, TS_SYN_RECEIVED, TS_ESTABLISHED,
    TS_FIN_WAIT_1, TS_FIN_WAIT_2, TS_CLOSE_WAIT, TS_CLOSING, TS_LAST_ACK,
    TS_TIME_WAIT
};
enum ts_tcp_opt {
    TS_TCP_NODELAY = 1,      /* 1: Nagle off */
    TS_TCP_CC = 2,           /* TS_CC_NEWRENO or TS_CC_CUBIC */
    TS_TCP_SNDBUF = 3,
    TS_TCP_RCVBUF = 4,
    TS_TCP_WSCALE = 5,       /* 0: do not offer window scaling */
    TS_TCP_DELACK = 6        /* 0: acknowledge every segment at once */
};
enum ts_cc { TS_CC_NEWRENO = 0, TS_CC_CUBIC = 1 };
enum ts_events { TS_EV_READ = 1, TS_EV_WRITE = 2, TS_EV_HUP = 4, TS_EV_ERR = 8 };

struct ts_tcb *ts_tcp_socket(struct ts_stack *s);
int ts_tcp_setopt(struct ts_tcb *t, int opt, long value);
long ts_tcp_getopt(struct ts_tcb *t, int opt);
int ts_tcp_bind(struct ts_tcb *t, uint32_t ip, uint16_t port);
int ts_tcp_listen(struct ts_tcb *t, int backlog);
struct ts_tcb *ts_tcp_accept(struct ts_tcb *t);            /* NULL: none ready */
int ts_tcp_connect(struct ts_tcb *t, uint32_t ip, uint16_t port);
ssize_t ts_tcp_send(struct ts_tcb *t, const uint8_t *buf, size_t len);
ssize_t ts_tcp_recv(struct ts_tcb *t, uint8_t *buf, size_t cap);  /* 0: EOF */
int ts_tcp_shutdown(struct ts_tcb *t);                     /* send FIN */
void ts_tcp_close(struct ts_tcb *t);   /* release; the TCB finishes closing alone */
void ts_tcp_abort(struct ts_tcb *t);   /* RST and release */
int ts_tcp_state(struct ts_tcb *t);
int ts_tcp_events(struct ts_tcb *t);
int ts_tcp_error(struct ts_tcb *t);    /* 0 or the errno that ended it */
uint32_t ts_tcp_local_ip(struct ts_tcb *t);
uint16_t ts_tcp_local_port(struct ts_tcb *t);
uint32_t ts_tcp_remote_ip(struct ts_tcb *t);
uint16_t ts_tcp_remote_port(struct ts_tcb *t);
/* Connection figures for tests and reports: cwnd, ssthresh, srtt_us, rto_us,
 * retransmits, snd_wnd, rcv_wnd, snd_wscale, rcv_wscale, dupacks, in_flight. */
long ts_tcp_info(struct ts_tcb *t, const char *name);

/* DHCP client (RFC 2131): INIT -> SELECTING -> REQUESTING -> BOUND, renew
 * at T1, rebind at T2; on ACK the interface address, mask and default route
 * are configured. */
enum ts_dhcp_state {
    TS_DHCP_OFF, TS_DHCP_SELECTING, TS_DHCP_REQUESTING, TS_DHCP_BOUND,
    TS_DHCP_RENEWING, TS_DHCP_REBINDING
};
int ts_dhcp_start(struct ts_stack *s);
void ts_dhcp_stop(struct ts_stack *s);
int ts_dhcp_state(struct ts_stack *s);
uint32_t ts_dhcp_server(struct ts_stack *s);
uint32_t ts_dhcp_lease_s(struct ts_stack *s);

/* Statistics: per-protocol counters of frames seen, sent and dropped (by
 * reason); names are "proto.counter". */
int ts_stats_count(void);
const char *ts_stat_name(int i);
uint64_t ts_stat_value(struct ts_stack *s, int i);
uint64_t ts_stat(struct ts_stack *s, const char *name);   /* UINT64_MAX: unknown */

/* Invariants of every layer (sequence space, windows, buffers, timers,
 * memory bounds). Returns 0, or -1 with a description in err. */
int ts_check(struct ts_stack *s, char *err, size_t cap);
size_t ts_mem_used(struct ts_stack *s);
size_t ts_mem_peak(struct ts_stack *s);
int ts_tcp_count(struct ts_stack *s);                 /* TCBs alive */

/* Checksum helper for harnesses: recompute every checksum of one Ethernet
 * frame in place (IPv4 header, ICMP, UDP, TCP, in first fragments only). */
void ts_fix_checksums(uint8_t *frame, size_t len);
/* Harness support (fuzz_fx.c): the stack under test ("us", 10.77.0.2,
 * 02:00:00:00:00:02) with a fabricated peer (10.77.0.1, 02:00:00:00:00:01),
 * the addresses of the conformance tests, so seeds taken from their
 * captures apply. The peer is the caller: it hands in frames or segments
 * described relative to what "us" has sent (sequence numbers learned from
 * its output), and every frame "us" sends is parsed and dropped. Segment
 * connection c comes from peer port 40000 + c to port 80 of "us", except
 * c = 7 once "us" has opened a connection itself (TS_FX_CONNECT): then it
 * answers that one, from the peer's port 80. */
struct ts_fx;
enum ts_fx_kind { TS_FX_TCP = 0, TS_FX_DHCP = 1 };
enum ts_fx_op {
    TS_FX_SEND = 0, TS_FX_RECV = 1, TS_FX_SHUTDOWN = 2, TS_FX_CLOSE = 3,
    TS_FX_ACCEPT = 4, TS_FX_NODELAY = 5, TS_FX_CONNECT = 6, TS_FX_ABORT = 7,
    TS_FX_CC = 8
};
struct ts_fx *ts_fx_new(int kind, uint64_t seed);
void ts_fx_free(struct ts_fx *fx);
struct ts_stack *ts_fx_stack(struct ts_fx *fx);
struct ts_udp *ts_fx_udp(struct ts_fx *fx);          /* bound to port 7 */
void ts_fx_frame(struct ts_fx *fx, const uint8_t *frame, size_t len, int fix);
int ts_fx_segment(struct ts_fx *fx, int conn, uint8_t flags, int32_t seq_delta,
                  int32_t ack_delta, uint16_t window, const uint8_t *opts, size_t optlen,
                  const uint8_t *payload, size_t len);
void ts_fx_advance(struct ts_fx *fx, uint64_t us);
long ts_fx_app(struct ts_fx *fx, int op, int sock, long arg);
uint32_t ts_fx_dhcp_xid(struct ts_fx *fx);           /* of the last DHCP message sent */
size_t ts_fx_frames_out(struct ts_fx *fx);
int ts_fx_established(struct ts_fx *fx);             /* the fixture's connection is up */
struct ts_tcb *ts_fx_sock(struct ts_fx *fx, int sock);  /* socket slot, NULL if empty */
void ts_fx_fragment(struct ts_fx *fx, uint16_t ident, uint8_t proto, uint16_t off8, int more,
                    const uint8_t *payload, size_t len);
void ts_fx_dhcp_reply(struct ts_fx *fx, uint8_t type, int xid_ok, uint32_t yiaddr, int bcast,
                      const uint8_t *opts, size_t len);
/* The stateful targets' programs (fuzz_prog.c), read as FuzzedDataProvider
 * reads its input: run on a fresh fixture with ts_check after every step
 * (0, or -1 with the violation in err), or only decoded into `trace` (the
 * values in the order consumed; returns how many). */
enum ts_fx_prog { TS_FX_PROG_SESSION = 0, TS_FX_PROG_REASM = 1, TS_FX_PROG_DHCP = 2 };
int ts_fx_program(int prog, const uint8_t *data, size_t len, char *err, size_t cap,
                  uint64_t *frames_out);
long ts_fx_decode(int prog, const uint8_t *data, size_t len, int64_t *trace, size_t cap);
/* In-process benchmark (bench_mem.c): seconds to carry `bytes` over one TCP
 * connection between two stacks joined by memory links, or a negative errno;
 * *frames counts the frames moved. */
double ts_bench_memlink(uint64_t bytes, int cc, int mtu, uint64_t *frames);
/* LAB-CDEF-END */

#endif

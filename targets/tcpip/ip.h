/*
 * ip.h -- internals shared by the IPv4 files (ip_in.c, ip_out.c,
 * ip_reasm.c) and the link-layer helpers the ARP and IP code share.
 * Follows RFC 791 and RFC 1122 section 3.2.1; reassembly per RFC 815.
 * Owned by the IP module; not part of the stack-wide contract (ts.h).
 */
#ifndef TS_IP_H
#define TS_IP_H

#include "ts.h"

#define TS_IP_HLEN 20               /* header without options */
#define TS_IP_HLEN_MAX 60
#define TS_IP_TTL 64                /* default TTL (RFC 1700 / 1122 3.2.1.7) */
#define TS_IP_MAXLEN 65535u
#define TS_IP_MF 0x2000u
#define TS_IP_DF 0x4000u
#define TS_IP_OFFMASK 0x1fffu

#define TS_REASM_SLOTS 16           /* datagrams being reassembled at once */
#define TS_REASM_TIMEOUT_US 30000000ull  /* 30 s (RFC 1122 3.3.2 suggests 60..120) */

static inline int ts_ip_is_mcast(uint32_t a) { return (a >> 28) == 0xe; }
static inline int ts_ip_is_class_e(uint32_t a) { return (a >> 28) == 0xf; }
static inline int ts_ip_is_loop(uint32_t a) { return (a >> 24) == 127; }

/* ip_in.c: hand one whole datagram (header first, `total` bytes) to its
 * transport. `bcast`: it came to a broadcast address (link or IP). */
void ts_ip_deliver(struct ts_stack *s, const uint8_t *dgram, size_t hlen, size_t total, int bcast);

/* ip_reasm.c: one fragment (header first, `total` bytes, validated). */
void ts_ip_reasm_input(struct ts_stack *s, const uint8_t *dgram, size_t hlen, size_t total, int bcast);
int ts_ip_reasm_init(struct ts_stack *s);
void ts_ip_reasm_fini(struct ts_stack *s);
void ts_ip_reasm_tick(struct ts_stack *s, uint64_t now);
uint64_t ts_ip_reasm_deadline(struct ts_stack *s);
int ts_ip_reasm_check(struct ts_stack *s, char *err, size_t cap);
size_t ts_ip_reasm_bytes(struct ts_stack *s);

/* ip_out.c */
uint16_t ts_ip_next_id(struct ts_stack *s);
/* Fill a 20-byte header at h (checksum included). */
void ts_ip_fill_header(uint8_t *h, size_t total, uint16_t id, uint16_t frag,
                       uint8_t ttl, uint8_t proto, uint8_t tos, uint32_t src, uint32_t dst);

/* ip_frag.c: send `len` payload bytes under a copy of hdr (20 bytes, no
 * options) as fragments to a next hop ARP can reach at once. */
int ts_ip_fragment(struct ts_stack *s, const uint8_t *data, size_t len,
                   const uint8_t hdr[TS_IP_HLEN], uint32_t next_hop);

/* arp.c: 1 when ts_arp_output would send to next_hop without waiting. */
int ts_arp_resolved(struct ts_stack *s, uint32_t next_hop);

/* ip_in.c owns the IP module state. */
struct ts_reasm_table;
struct ts_ipstate {
    uint16_t next_id;
    struct ts_reasm_table *reasm;
};

#endif

/*
 * pcap.c -- a capture of every frame the stack receives and sends, in the
 * classic libpcap file format (LINKTYPE_ETHERNET, microsecond timestamps
 * from the stack's injected clock), readable by tcpdump and tshark. This is
 * the one library file that does file I/O (stdio, opened by ts_pcap_open).
 */
#define _POSIX_C_SOURCE 200809L
#include "ts.h"

#include <stdio.h>

#define TS_PCAP_MAGIC 0xa1b2c3d4u
#define TS_PCAP_SNAPLEN 262144u
#define TS_PCAP_LINKTYPE_ETHERNET 1u

struct ts_pcap {
    FILE *f;
};

static int pcap_put32(FILE *f, uint32_t v)
{
    return fwrite(&v, sizeof v, 1, f) == 1 ? 0 : -1;    /* host order, per the magic */
}

static int pcap_put16(FILE *f, uint16_t v)
{
    return fwrite(&v, sizeof v, 1, f) == 1 ? 0 : -1;
}

static int pcap_header(FILE *f)
{
    int rc = pcap_put32(f, TS_PCAP_MAGIC);
    rc |= pcap_put16(f, 2) | pcap_put16(f, 4);          /* version 2.4 */
    rc |= pcap_put32(f, 0) | pcap_put32(f, 0);          /* thiszone, sigfigs */
    rc |= pcap_put32(f, TS_PCAP_SNAPLEN) | pcap_put32(f, TS_PCAP_LINKTYPE_ETHERNET);
    return rc;
}

int ts_pcap_open(struct ts_stack *s, const char *path)
{
    ts_pcap_close(s);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -errno;
    struct ts_pcap *pc = ts_alloc(s, sizeof *pc);
    if (!pc || pcap_header(f) != 0) {
        fclose(f);
        if (pc)
            ts_free(s, pc, sizeof *pc);
        return pc ? -EIO : -ENOMEM;
    }
    pc->f = f;
    s->pcap = pc;
    return 0;
}

void ts_pcap_close(struct ts_stack *s)
{
    if (!s->pcap)
        return;
    fclose(s->pcap->f);
    ts_free(s, s->pcap, sizeof *s->pcap);
    s->pcap = NULL;
}

void ts_pcap_frame(struct ts_stack *s, const uint8_t *frame, size_t len)
{
    if (!s->pcap)
        return;
    uint64_t now = ts_now(s);
    uint32_t caplen = len > TS_PCAP_SNAPLEN ? TS_PCAP_SNAPLEN : (uint32_t)len;
    FILE *f = s->pcap->f;
    int rc = pcap_put32(f, (uint32_t)(now / 1000000)) | pcap_put32(f, (uint32_t)(now % 1000000));
    rc |= pcap_put32(f, caplen) | pcap_put32(f, (uint32_t)len);
    if (rc != 0 || fwrite(frame, 1, caplen, f) != caplen)
        ts_pcap_close(s);                 /* a full disk ends the capture, not the stack */
}

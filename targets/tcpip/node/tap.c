/*
 * tap.c -- the daemon's link: a Linux TAP device (Documentation/networking/
 * tuntap.rst) opened with IFF_TAP | IFF_NO_PI, so each read or write is one
 * whole Ethernet II frame without a packet-information prefix. The fd is
 * non-blocking: frames are read in batches into ts_input until the device
 * is empty; the stack's link callback writes one frame per call.
 *
 * With offloads (the default), the device also carries a virtio-net header
 * (IFF_VNET_HDR; struct virtio_net_hdr of the virtio spec 1.1, 5.1.6) and is
 * told that we take and give TCPv4 segmentation offload and partial
 * checksums (TUNSETOFFLOAD TUN_F_CSUM | TUN_F_TSO4), as a NIC with TSO/GRO
 * would: the stack sends TCP packets of up to 64 KiB that the kernel cuts at
 * the MSS (gso_size), and the kernel may hand us such packets whole. A
 * received packet whose checksum the kernel left partial (NEEDS_CSUM: it
 * never crossed a wire) has it completed here, so the stack, which always
 * verifies checksums, sees a normal frame; the frames the capture records
 * are those whole ones.
 */
#define _GNU_SOURCE
#include "node.h"
#include "../ts.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define NODE_TAP_HLEN_MAX (14 + 60 + 60)

static int tap_vnet;              /* the device carries virtio-net headers */
static unsigned tap_mtu = 1500;   /* the IP MTU segments are cut to */

/* Ask for the virtio-net header and the offloads; 0, or -1 when the kernel
 * refuses (the device then works without them). */
static int node_tap_offload(int fd)
{
    int hlen = (int)sizeof(struct virtio_net_hdr);
    if (ioctl(fd, TUNSETVNETHDRSZ, &hlen) < 0 ||
        ioctl(fd, TUNSETOFFLOAD, (unsigned long)(TUN_F_CSUM | TUN_F_TSO4)) < 0) {
        fprintf(stderr, "tcpip-node: warning: no TAP offloads: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

/* Set the device's MTU (SIOCSIFMTU); a warning when refused. */
static void node_tap_set_mtu(const char *name, unsigned mtu)
{
    struct ifreq ifr;
    int sk = socket(AF_INET, SOCK_DGRAM, 0);
    if (sk < 0)
        return;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    ifr.ifr_mtu = (int)mtu;
    if (ioctl(sk, SIOCSIFMTU, &ifr) < 0)
        fprintf(stderr, "tcpip-node: warning: cannot set the MTU of %s to %u: %s\n",
                name, mtu, strerror(errno));
    close(sk);
}

int node_tap_open(const char *name, unsigned mtu, int offload)
{
    struct ifreq ifr;
    if (strlen(name) >= IFNAMSIZ) {
        fprintf(stderr, "tcpip-node: --tap %s: name longer than %d\n", name, IFNAMSIZ - 1);
        return -1;
    }
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        fprintf(stderr, "tcpip-node: /dev/net/tun: %s\n", strerror(errno));
        return -1;
    }
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = (short)(IFF_TAP | IFF_NO_PI | (offload ? IFF_VNET_HDR : 0));
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        fprintf(stderr, "tcpip-node: --tap %s: TUNSETIFF: %s\n", name, strerror(errno));
        close(fd);
        return -1;
    }
    if (mtu != 0)
        node_tap_set_mtu(name, mtu);
    tap_mtu = mtu != 0 ? mtu : 1500;
    tap_vnet = 0;
    if (offload) {
        if (node_tap_offload(fd) < 0) {
            close(fd);
            return node_tap_open(name, 0, 0);
        }
        tap_vnet = 1;
    }
    return fd;
}

int node_tap_offloads(void) { return tap_vnet; }

/* The header for one outgoing frame: a TCPv4 packet over the MTU goes as a
 * GSO packet whose TCP checksum field holds the pseudo-header sum (the
 * kernel completes each segment's); everything else is complete as is. */
static size_t node_tap_vnet_out(const uint8_t *f, size_t len, struct virtio_net_hdr *h,
                                uint8_t *hdrs)
{
    memset(h, 0, sizeof *h);
    if (len <= 14 + (size_t)tap_mtu || len < 14 + 20 + 20 || f[12] != 0x08 || f[13] != 0x00)
        return 0;
    size_t ihl = (size_t)(f[14] & 15) * 4;
    if (f[14 + 9] != 6 || len < 14 + ihl + 20)
        return 0;
    size_t thl = (size_t)(f[14 + ihl + 12] >> 4) * 4, hl = 14 + ihl + thl;
    assert(hl <= NODE_TAP_HLEN_MAX && hl <= len);
    memcpy(hdrs, f, hl);
    uint8_t *ip = hdrs + 14, *tcp = hdrs + 14 + ihl;
    uint32_t sum = ts_csum_pseudo(ts_get32(ip + 12), ts_get32(ip + 16), 6,
                                  (uint16_t)(len - 14 - ihl));
    ts_put16(tcp + 16, (uint16_t)~ts_csum_fold(sum));
    h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    h->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
    h->hdr_len = (uint16_t)hl;
    h->gso_size = (uint16_t)(tap_mtu - ihl - thl);
    h->csum_start = (uint16_t)(14 + ihl);
    h->csum_offset = 16;
    return hl;
}

static int node_tap_write(int fd, const struct iovec *iov, int n, size_t len)
{
    for (;;) {
        ssize_t w = writev(fd, iov, n);
        if (w == (ssize_t)len)
            return 0;
        if (w < 0 && errno == EINTR)
            continue;
        return w < 0 ? -errno : -EIO;
    }
}

int node_tap_link(void *arg, const uint8_t *frame, size_t len)
{
    int fd = (int)(intptr_t)arg;
    if (!tap_vnet) {
        struct iovec one = {(void *)frame, len};
        return node_tap_write(fd, &one, 1, len);
    }
    struct virtio_net_hdr h;
    uint8_t hdrs[NODE_TAP_HLEN_MAX];
    size_t hl = node_tap_vnet_out(frame, len, &h, hdrs);
    struct iovec iov[3] = {{&h, sizeof h}, {hl ? hdrs : (void *)frame, hl ? hl : len},
                           {(void *)(frame + hl), len - hl}};
    return node_tap_write(fd, iov, hl ? 3 : 2, sizeof h + len);
}

/* Complete a checksum the kernel left partial; 0, or -1 when the header
 * points outside the frame (the frame is then dropped). */
static int node_tap_vnet_in(const struct virtio_net_hdr *h, uint8_t *f, size_t len)
{
    if (!(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
        return 0;
    size_t start = h->csum_start, at = start + h->csum_offset;
    if (start >= len || at + 2 > len)
        return -1;
    ts_put16(f + at, ts_csum_fold(ts_csum_add(0, f + start, len - start)));
    return 0;
}

/* Read up to max_frames frames into the stack: the number read, or -1 on a
 * device error (message on stderr). */
int node_tap_read_batch(int fd, struct ts_stack *s, int max_frames)
{
    static uint8_t frame[NODE_FRAME_MAX];
    int got = 0;
    while (got < max_frames) {
        struct virtio_net_hdr h;
        struct iovec iov[2] = {{&h, sizeof h}, {frame, sizeof frame}};
        ssize_t n = tap_vnet ? readv(fd, iov, 2) : read(fd, frame, sizeof frame);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0) {
            fprintf(stderr, "tcpip-node: tap read: %s\n", strerror(errno));
            return -1;
        }
        if (tap_vnet) {
            n -= (ssize_t)sizeof h;
            if (n < 0 || node_tap_vnet_in(&h, frame, (size_t)n) < 0) {
                got++;
                continue;
            }
        }
        ts_input(s, frame, (size_t)n);
        got++;
    }
    return got;
}

/*
 * tap.c -- the daemon's link: a Linux TAP device (Documentation/networking/
 * tuntap.rst) opened with IFF_TAP | IFF_NO_PI, so each read or write is one
 * whole Ethernet II frame without a packet-information prefix. The fd is
 * non-blocking: frames are read in batches into ts_input until the device
 * is empty; the stack's link callback writes one frame per call.
 */
#define _GNU_SOURCE
#include "node.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

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

int node_tap_open(const char *name, unsigned mtu)
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
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        fprintf(stderr, "tcpip-node: --tap %s: TUNSETIFF: %s\n", name, strerror(errno));
        close(fd);
        return -1;
    }
    if (mtu != 0)
        node_tap_set_mtu(name, mtu);
    return fd;
}

int node_tap_link(void *arg, const uint8_t *frame, size_t len)
{
    int fd = (int)(intptr_t)arg;
    for (;;) {
        ssize_t w = write(fd, frame, len);
        if (w == (ssize_t)len)
            return 0;
        if (w < 0 && errno == EINTR)
            continue;
        return w < 0 ? -errno : -EIO;
    }
}

/* Read up to max_frames frames into the stack: the number read, or -1 on a
 * device error (message on stderr). */
int node_tap_read_batch(int fd, struct ts_stack *s, int max_frames)
{
    static uint8_t frame[NODE_FRAME_MAX];
    int got = 0;
    while (got < max_frames) {
        ssize_t n = read(fd, frame, sizeof frame);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0) {
            fprintf(stderr, "tcpip-node: tap read: %s\n", strerror(errno));
            return -1;
        }
        ts_input(s, frame, (size_t)n);
        got++;
    }
    return got;
}

/*
 * link_unix.c -- the daemon's other link (--link unix:PATH): a
 * SOCK_SEQPACKET unix socket connected to a bridge listening at PATH (the
 * lab's tcpip-impair, ../impair/impair.c), one whole Ethernet II frame per
 * message each way, as a TAP device with IFF_NO_PI would carry them. Reads
 * are non-blocking and batched into ts_input like tap.c's; writes block
 * (bounded by a send timeout) while the bridge drains, so a full socket
 * buffer slows the stack instead of dropping frames. End of file (the bridge
 * went away) is a link error.
 */
#define _GNU_SOURCE
#include "node.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define NODE_UNIX_SOCKBUF (4 << 20)
#define NODE_UNIX_SEND_TIMEOUT_S 1

/* Large socket buffers (forced as root, else up to the sysctl cap) and a
 * bound on how long one send may wait. */
static void node_unix_tune(int fd)
{
    int v = NODE_UNIX_SOCKBUF;
    struct timeval tv = {.tv_sec = NODE_UNIX_SEND_TIMEOUT_S};
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof v) < 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof v) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

int node_unix_open(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        fprintf(stderr, "tcpip-node: --link unix:%s: path longer than %zu\n", path,
                sizeof sa.sun_path - 1);
        return -1;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "tcpip-node: unix socket: %s\n", strerror(errno));
        return -1;
    }
    node_unix_tune(fd);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        fprintf(stderr, "tcpip-node: --link unix:%s: connect: %s\n", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int node_unix_link(void *arg, const uint8_t *frame, size_t len)
{
    int fd = (int)(intptr_t)arg;
    for (;;) {
        ssize_t w = send(fd, frame, len, MSG_NOSIGNAL);
        if (w == (ssize_t)len)
            return 0;
        if (w < 0 && errno == EINTR)
            continue;
        return w < 0 ? -errno : -EIO;
    }
}

int node_unix_read_batch(int fd, struct ts_stack *s, int max_frames)
{
    static uint8_t frame[NODE_FRAME_MAX];
    int got = 0;
    while (got < max_frames) {
        ssize_t n = recv(fd, frame, sizeof frame, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            fprintf(stderr, "tcpip-node: unix link: %s\n",
                    n == 0 ? "the bridge closed the connection" : strerror(errno));
            return -1;
        }
        ts_input(s, frame, (size_t)n);
        got++;
    }
    return got;
}

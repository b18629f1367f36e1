/*
 * lg_net.c -- opening the TCP connections of kvstore-loadgen.
 *
 * The host is resolved with getaddrinfo (POSIX.1-2008); each address is
 * tried in turn with a non-blocking connect(2) whose completion is awaited
 * with poll(2) for at most timeout_ms (so an unreachable host cannot hang
 * the run), and the result read from SO_ERROR.  The socket returned stays
 * non-blocking and has TCP_NODELAY set (RFC 896's Nagle algorithm would
 * otherwise delay small pipelined requests).
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lg.h"

/* Waits for a non-blocking connect to finish: 0, or an errno value. */
static int await_connect(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int n;
    do {
        n = poll(&p, 1, timeout_ms);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno;
    if (n == 0)
        return ETIMEDOUT;
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
        return errno;
    return soerr;
}

/* One address: a connected socket, or -1 with *why set to an errno. */
static int try_address(const struct addrinfo *ai, int timeout_ms, int *why)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
                    SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
        *why = errno;
        return -1;
    }
    int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    int e = rc == 0 ? 0 : errno;
    if (e == EINPROGRESS)
        e = await_connect(fd, timeout_ms);
    int one = 1;
    if (e == 0 && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
                             sizeof one) < 0)
        e = errno;
    if (e != 0) {
        close(fd);
        *why = e;
        return -1;
    }
    return fd;
}

int lg_net_connect(const char *host, int port, int timeout_ms, char *err,
                   size_t err_len)
{
    assert(port > 0 && port <= 65535 && timeout_ms > 0);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *list = NULL;
    char service[8];
    snprintf(service, sizeof service, "%d", port);
    int g = getaddrinfo(host, service, &hints, &list);
    if (g != 0) {
        snprintf(err, err_len, "cannot resolve %s: %s", host,
                 gai_strerror(g));
        return -1;
    }
    int fd = -1, why = EADDRNOTAVAIL;
    for (const struct addrinfo *ai = list; ai && fd < 0; ai = ai->ai_next)
        fd = try_address(ai, timeout_ms, &why);
    freeaddrinfo(list);
    if (fd < 0)
        snprintf(err, err_len, "cannot connect to %s:%d: %s", host, port,
                 strerror(why));
    return fd;
}

/*
 * lg_populate.c -- --populate: before measuring, SET every key of
 * [0, keyspace) to the value, so that GETs find their keys.
 *
 * One dedicated connection sends RESP2 (https://redis.io/docs/reference/
 * protocol-spec/) MSET commands of up to BATCH_KEYS consecutive keys (and
 * about BATCH_BYTES bytes), keeping up to WINDOW of them in flight, and
 * expects "+OK" for each; an error reply stops the run with its text.  The
 * socket is non-blocking and every wait is a poll(2) bounded by
 * IO_TIMEOUT_MS, so a server that stops answering cannot hang the run.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lg.h"

#define BATCH_KEYS 1000
#define BATCH_BYTES (64u * 1024)
#define WINDOW 8
#define IO_TIMEOUT_MS 30000
#define CONNECT_TIMEOUT_MS 5000
#define IN_SIZE 4096 /* replies are "+OK\r\n" or short errors */

typedef struct populator {
    int fd;
    char in[IN_SIZE];
    size_t in_len;
    char *err;
    size_t err_len;
} populator;

static bool wait_io(populator *p, short events)
{
    struct pollfd pfd = {.fd = p->fd, .events = events};
    int n;
    do {
        n = poll(&pfd, 1, IO_TIMEOUT_MS);
    } while (n < 0 && errno == EINTR);
    if (n > 0)
        return true;
    snprintf(p->err, p->err_len, "populate: %s",
             n == 0 ? "the server did not answer within 30 s"
                    : strerror(errno));
    return false;
}

static bool send_all(populator *p, const char *buf, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(p->fd, buf + off, len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!wait_io(p, POLLOUT))
                return false;
        } else if (!(n < 0 && errno == EINTR)) {
            snprintf(p->err, p->err_len, "populate: send: %s",
                     n < 0 ? strerror(errno) : "nothing sent");
            return false;
        }
    }
    return true;
}

static bool receive(populator *p)
{
    if (p->in_len == sizeof p->in) {
        snprintf(p->err, p->err_len, "populate: reply longer than %d bytes",
                 IN_SIZE);
        return false;
    }
    ssize_t n = recv(p->fd, p->in + p->in_len, sizeof p->in - p->in_len, 0);
    if (n > 0) {
        p->in_len += (size_t)n;
        return true;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return wait_io(p, POLLIN);
    snprintf(p->err, p->err_len, "populate: %s",
             n == 0 ? "connection closed by the server" : strerror(errno));
    return false;
}

/* Waits for the next reply, which must be a simple string. */
static bool await_ok(populator *p)
{
    char why[160];
    for (int guard = 0; guard < 1 << 20; guard++) {
        lg_reply rep;
        size_t used = 0;
        lg_parse_status st = lg_resp_parse(p->in, p->in_len, &rep, &used,
                                           why, sizeof why);
        if (st == LG_PARSE_BAD) {
            snprintf(p->err, p->err_len, "populate: protocol error: %s", why);
            return false;
        }
        if (st == LG_PARSE_DONE) {
            if (rep.type != LG_REPLY_STATUS) {
                int n = rep.type == LG_REPLY_ERROR ? (int)rep.text_len : 0;
                snprintf(p->err, p->err_len, "populate: MSET answered with "
                         "%s %.*s", lg_reply_type_name(rep.type),
                         n > 200 ? 200 : n, rep.text);
                return false;
            }
            memmove(p->in, p->in + used, p->in_len - used);
            p->in_len -= used;
            return true;
        }
        if (!receive(p))
            return false;
    }
    snprintf(p->err, p->err_len, "populate: no reply");
    return false;
}

static size_t batch_keys(size_t value_size)
{
    size_t per_key = lg_resp_mset_size(1, value_size);
    size_t n = BATCH_BYTES / per_key;
    return n < 1 ? 1 : n > BATCH_KEYS ? BATCH_KEYS : n;
}

static bool populate_all(populator *p, const lg_config *cfg,
                         const char *value, char *buf, size_t batch)
{
    uint64_t next = 0, acked = 0;
    int outstanding = 0;
    while (next < cfg->keyspace || outstanding > 0) {
        while (outstanding < WINDOW && next < cfg->keyspace) {
            uint64_t left = cfg->keyspace - next;
            size_t n = left < batch ? (size_t)left : batch;
            size_t len = lg_resp_write_mset(buf, next, n, value,
                                            cfg->value_size);
            if (!send_all(p, buf, len))
                return false;
            next += n;
            outstanding++;
        }
        if (!await_ok(p))
            return false;
        outstanding--;
        acked++;
        assert(outstanding >= 0 && acked <= next);
    }
    return true;
}

int lg_populate(const lg_config *cfg, const char *value, char *err,
                size_t err_len)
{
    populator p = {.fd = -1, .in_len = 0, .err = err, .err_len = err_len};
    p.fd = lg_net_connect(cfg->host, cfg->port, CONNECT_TIMEOUT_MS, err,
                          err_len);
    if (p.fd < 0)
        return -1;
    size_t batch = batch_keys(cfg->value_size);
    char *buf = malloc(lg_resp_mset_size(batch, cfg->value_size));
    bool ok = false;
    if (!buf)
        snprintf(err, err_len, "populate: out of memory");
    else
        ok = populate_all(&p, cfg, value, buf, batch);
    free(buf);
    close(p.fd);
    return ok ? 0 : -1;
}

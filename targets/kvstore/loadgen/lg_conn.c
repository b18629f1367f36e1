/*
 * lg_conn.c -- one client connection: its output buffer of encoded RESP2
 * requests, its input buffer of reply bytes, and the FIFO of requests in
 * flight (at most --pipeline of them).
 *
 * RESP2 (https://redis.io/docs/reference/protocol-spec/) answers requests
 * in order, so the oldest request in flight owns the next complete reply.
 * Because a slot is freed only by a reply, and a server cannot answer bytes
 * it has not read, the unsent output never exceeds `depth` requests
 * (out_max bytes).  Both buffers start small and grow by doubling: the
 * output one up to out_max, the input one while a single reply does not
 * fit.
 *
 * Reads take one recv(2) per readiness event, stamp the time once, and
 * parse every complete reply in what has arrived; a partial reply stays
 * buffered until the rest comes.  Writes go out with send(2) until the
 * kernel refuses (EAGAIN), the rest waits for EPOLLOUT (lg_worker.c).
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lg.h"

#define IN_INITIAL (16u * 1024)
#define OUT_INITIAL (16u * 1024)
#define IN_LIMIT (LG_RESP_MAX_BULK + 64u * 1024) /* one maximal bulk reply */

int lg_conn_init(lg_conn *c, int fd, int id, int depth, size_t value_size)
{
    assert(fd >= 0 && depth > 0);
    size_t set = lg_resp_set_size(value_size), get = lg_resp_get_size();
    memset(c, 0, sizeof *c);
    c->fd = fd;
    c->id = id;
    c->depth = depth;
    c->out_max = (size_t)depth * (set > get ? set : get);
    c->out_cap = c->out_max < OUT_INITIAL ? c->out_max : OUT_INITIAL;
    c->out = malloc(c->out_cap);
    c->in_cap = IN_INITIAL;
    c->in = malloc(c->in_cap);
    c->ring = calloc((size_t)depth, sizeof *c->ring);
    return c->out && c->in && c->ring ? 0 : -1;
}

void lg_conn_free(lg_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->out);
    free(c->in);
    free(c->ring);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

int lg_conn_free_slots(const lg_conn *c)
{
    assert(c->count >= 0 && c->count <= c->depth);
    return c->depth - c->count;
}

static void ring_push(lg_conn *c, bool is_get, uint64_t start_ns)
{
    assert(c->count < c->depth);
    int tail = (c->head + c->count) % c->depth;
    c->ring[tail].start_ns = start_ns;
    c->ring[tail].is_get = is_get;
    c->count++;
}

static lg_inflight ring_pop(lg_conn *c)
{
    assert(c->count > 0);
    lg_inflight r = c->ring[c->head];
    c->head = (c->head + 1) % c->depth;
    c->count--;
    return r;
}

/* Room for one more request at the end of the output buffer. */
static bool make_room(lg_conn *c, size_t need)
{
    if (c->out_len + need <= c->out_cap)
        return true;
    memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
    c->out_len -= c->out_off;
    c->out_off = 0;
    size_t cap = c->out_cap;
    while (c->out_len + need > cap && cap < c->out_max)
        cap = cap * 2 < c->out_max ? cap * 2 : c->out_max;
    assert(c->out_len + need <= cap); /* see the header comment */
    if (cap == c->out_cap)
        return true;
    char *out = realloc(c->out, cap);
    if (!out)
        return false;
    c->out = out;
    c->out_cap = cap;
    return true;
}

bool lg_conn_issue(lg_conn *c, lg_gen *g, const char *value,
                   size_t value_size, uint64_t start_ns)
{
    uint64_t key;
    bool is_get = lg_gen_next(g, &key);
    size_t need = is_get ? lg_resp_get_size() : lg_resp_set_size(value_size);
    if (!make_room(c, need))
        return false;
    char *at = c->out + c->out_len;
    c->out_len += is_get ? lg_resp_write_get(at, key)
                         : lg_resp_write_set(at, key, value, value_size);
    ring_push(c, is_get, start_ns);
    return true;
}

bool lg_conn_flush(lg_conn *c, int *err)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                         MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return true; /* the rest waits for EPOLLOUT */
        } else {
            *err = n < 0 ? errno : EPIPE;
            return false;
        }
    }
    c->out_off = c->out_len = 0;
    return true;
}

/* Whether the reply is one the request can get (errors always can). */
static bool reply_fits(bool is_get, lg_reply_type t)
{
    if (t == LG_REPLY_ERROR)
        return true;
    return is_get ? t == LG_REPLY_BULK || t == LG_REPLY_NIL
                  : t == LG_REPLY_STATUS;
}

/* Pairs a reply with the oldest request in flight; false if they do not
 * belong together (the reason is then in why). */
static bool pair(lg_conn *c, const lg_reply *rep, lg_inflight *req,
                 char *why, size_t why_len)
{
    lg_reply_type t = rep->type;
    if (c->count == 0) {
        bool text = t == LG_REPLY_ERROR || t == LG_REPLY_STATUS;
        int n = text ? (int)(rep->text_len < 200 ? rep->text_len : 200) : 0;
        snprintf(why, why_len, "protocol error on connection %d: a reply "
                 "with no request outstanding (%s%s%.*s)", c->id,
                 lg_reply_type_name(t), text ? ": " : "", n, rep->text);
        return false;
    }
    *req = ring_pop(c);
    if (reply_fits(req->is_get, t))
        return true;
    snprintf(why, why_len, "protocol error on connection %d: %s answered "
             "with a%s %s reply", c->id, req->is_get ? "GET" : "SET",
             t == LG_REPLY_INTEGER || t == LG_REPLY_ARRAY ? "n" : "",
             lg_reply_type_name(t));
    return false;
}

/* Every complete reply in the input buffer: how many, or LG_IO_PROTO. */
static int consume(lg_conn *c, lg_tally *t, const lg_window *win,
                   uint64_t now, char *why, size_t why_len)
{
    size_t pos = 0;
    int replies = 0;
    char what[160];
    while (pos < c->in_len) {
        lg_reply rep;
        lg_inflight req;
        size_t used = 0;
        lg_parse_status st = lg_resp_parse(c->in + pos, c->in_len - pos, &rep,
                                           &used, what, sizeof what);
        if (st == LG_PARSE_MORE)
            break;
        if (st == LG_PARSE_BAD)
            snprintf(why, why_len, "protocol error on connection %d: %s",
                     c->id, what);
        if (st == LG_PARSE_BAD || !pair(c, &rep, &req, why, why_len))
            return LG_IO_PROTO;
        lg_tally_reply(t, win, req.start_ns, req.is_get, &rep, now);
        assert(used > 0 && pos + used <= c->in_len);
        pos += used;
        replies++;
    }
    memmove(c->in, c->in + pos, c->in_len - pos);
    c->in_len -= pos;
    return replies;
}

static bool grow_input(lg_conn *c)
{
    if (c->in_cap >= IN_LIMIT)
        return false;
    size_t cap = c->in_cap * 2 < IN_LIMIT ? c->in_cap * 2 : IN_LIMIT;
    char *in = realloc(c->in, cap);
    if (!in)
        return false;
    c->in = in;
    c->in_cap = cap;
    return true;
}

int lg_conn_read(lg_conn *c, lg_tally *t, const lg_window *win, char *why,
                 size_t why_len)
{
    if (c->in_len == c->in_cap && !grow_input(c)) {
        snprintf(why, why_len, "protocol error on connection %d: a reply "
                 "larger than %zu bytes", c->id, c->in_cap);
        return LG_IO_PROTO;
    }
    ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    if (n <= 0) {
        snprintf(why, why_len, "connection %d: %s", c->id,
                 n == 0 ? "closed by the server" : strerror(errno));
        return LG_IO_CLOSED;
    }
    uint64_t now = lg_now_ns();
    c->in_len += (size_t)n;
    return consume(c, t, win, now, why, why_len);
}

/*
 * http_server.c -- the daemon's HTTP/1.1 origin server (RFC 9112 message
 * syntax, RFC 9110 semantics) on the stack's TCP socket API.
 *
 * GET and HEAD of regular files under --http-root (percent-decoded path,
 * '..' segments refused with 400, the resolved real path must stay inside
 * the root, a directory serves its index.html), streamed from the file in
 * 64 KiB pieces as the send buffer frees. POST to any path reads the body
 * (Content-Length required: 411 without, 413 above 1 GiB) and answers 200
 * with "length=N fnv1a64=HHHHHHHHHHHHHHHH\n" (FNV-1a 64 of the body).
 * Other standard methods: 405 with Allow; unknown ones: 501. Malformed
 * requests or heads over the limits (request line 8 KiB, fields 16 KiB,
 * 100 field lines): 400 and close. HTTP/1.1 keeps the connection open
 * unless "Connection: close"; HTTP/1.0 only with "keep-alive". Pipelined
 * requests are answered in order. At most 64 connections; one idle for
 * 60 s is closed.
 */
#define _GNU_SOURCE
#include "node.h"
#include "http_parse.h"

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HS_MAX_CONNS 64
#define HS_OUT_CAP (64 * 1024)
#define HS_IN_CAP (NODE_HTTP_HEAD_MAX + 1024)
#define HS_POST_MAX (1ull << 30)
#define HS_IDLE_US (60ull * 1000000u)
#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

enum hs_phase { HS_HEAD, HS_BODY, HS_SEND };

struct hs_conn {
    struct ts_tcb *t;
    enum hs_phase phase;
    uint64_t last_us;
    size_t in_len;
    size_t out_off, out_len;
    int fd;                      /* file being streamed, -1: none */
    off_t file_off;
    uint64_t file_left;
    uint64_t body_left, body_len, hash;
    int post;                    /* HS_BODY: hash and answer; else discard */
    int keep_alive, peer_eof;
    char in[HS_IN_CAP];
    uint8_t out[HS_OUT_CAP];
};

struct node_http_server {
    struct ts_tcb *listener;
    char root[PATH_MAX];         /* realpath of --http-root */
    int n;
    struct hs_conn *c[HS_MAX_CONNS];
};

static uint8_t hs_scratch[64 * 1024];

/* ---- responses ---------------------------------------------------------- */

static const char *hs_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

/* Queue a response head (and a short body) in the output buffer. */
static void hs_head(struct hs_conn *c, int status, const char *type, uint64_t length,
                    const char *extra)
{
    int n = snprintf((char *)c->out + c->out_len, HS_OUT_CAP - c->out_len,
                     "HTTP/1.1 %d %s\r\nServer: tcpip-node\r\nContent-Type: %s\r\n"
                     "Content-Length: %llu\r\n%s%s\r\n",
                     status, hs_reason(status), type, (unsigned long long)length,
                     c->keep_alive ? "" : "Connection: close\r\n", extra ? extra : "");
    assert(n > 0 && (size_t)n < HS_OUT_CAP - c->out_len);
    c->out_len += (size_t)n;
}

static void hs_body(struct hs_conn *c, const char *text)
{
    size_t n = strlen(text);
    assert(n <= HS_OUT_CAP - c->out_len);
    memcpy(c->out + c->out_len, text, n);
    c->out_len += n;
}

/* An error answer with a one-line text body. */
static void hs_error(struct hs_conn *c, int status, int close_after, int head_only)
{
    char body[96];
    if (close_after)
        c->keep_alive = 0;
    snprintf(body, sizeof body, "%d %s\n", status, hs_reason(status));
    hs_head(c, status, "text/plain", strlen(body),
            status == 405 ? "Allow: GET, HEAD, POST\r\n" : NULL);
    if (!head_only)
        hs_body(c, body);
    c->phase = HS_SEND;
}

static const char *hs_type(const char *path)
{
    static const char *const map[][2] = {
        {".html", "text/html"}, {".htm", "text/html"}, {".txt", "text/plain"},
        {".css", "text/css"}, {".js", "text/javascript"}, {".json", "application/json"},
        {".png", "image/png"}, {".jpg", "image/jpeg"}, {".svg", "image/svg+xml"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot != NULL && i < sizeof map / sizeof map[0]; i++)
        if (strcmp(dot, map[i][0]) == 0)
            return map[i][1];
    return "application/octet-stream";
}

/* ---- paths -------------------------------------------------------------- */

static int hs_hex(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The path of a request-target (origin-form, or absolute-form), decoded;
 * 0 or 400. */
static int hs_decode(const char *target, char *out, size_t cap)
{
    if (strncmp(target, "http://", 7) == 0) {
        target = strchr(target + 7, '/');
        if (target == NULL)
            target = "/";
    }
    if (target[0] != '/')
        return 400;
    size_t o = 0;
    for (const char *p = target; *p != '\0' && *p != '?' && *p != '#'; p++) {
        int ch = (unsigned char)*p;
        if (ch == '%') {
            int hi = hs_hex((unsigned char)p[1]), lo = hi < 0 ? -1 : hs_hex((unsigned char)p[2]);
            if (lo < 0)
                return 400;
            ch = hi * 16 + lo;
            p += 2;
        }
        if (ch == 0 || o + 1 >= cap)
            return 400;
        out[o++] = (char)ch;
    }
    out[o] = '\0';
    return 0;
}

/* Refuse ".." segments (and backslashes, which some clients treat as /). */
static int hs_traversal(const char *path)
{
    if (strchr(path, '\\') != NULL)
        return 1;
    for (const char *p = path; (p = strstr(p, "..")) != NULL; p += 2)
        if ((p == path || p[-1] == '/') && (p[2] == '/' || p[2] == '\0'))
            return 1;
    return 0;
}

/* Open the file a path names inside the root: fd, or -status. */
static int hs_open(struct node_http_server *sv, const char *target, struct stat *st,
                   const char **type)
{
    char path[PATH_MAX], full[PATH_MAX * 2], real[PATH_MAX];
    if (hs_decode(target, path, sizeof path) != 0 || hs_traversal(path))
        return -400;
    snprintf(full, sizeof full, "%s%s", sv->root, path);
    if (stat(full, st) == 0 && S_ISDIR(st->st_mode))
        strncat(full, full[strlen(full) - 1] == '/' ? "index.html" : "/index.html",
                sizeof full - strlen(full) - 1);
    size_t rl = strlen(sv->root);
    if (realpath(full, real) == NULL || strncmp(real, sv->root, rl) != 0 ||
        (real[rl] != '/' && real[rl] != '\0'))
        return -404;
    int fd = open(real, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -404;
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        return -404;
    }
    *type = hs_type(real);
    return fd;
}

/* ---- requests ----------------------------------------------------------- */

static int hs_known_method(const char *m)
{
    static const char *const other[] = {"PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE",
                                        "PATCH"};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
        if (strcmp(m, other[i]) == 0)
            return 1;
    return 0;
}

static void hs_get(struct node_http_server *sv, struct hs_conn *c,
                   const struct node_http_request *r)
{
    struct stat st;
    const char *type = NULL;
    int head = strcmp(r->method, "HEAD") == 0;
    int fd = hs_open(sv, r->target, &st, &type);
    if (fd < 0) {
        hs_error(c, -fd, fd == -400, head);
        return;
    }
    hs_head(c, 200, type, (uint64_t)st.st_size, NULL);
    c->phase = HS_SEND;
    if (head || st.st_size == 0) {
        close(fd);
        return;
    }
    c->fd = fd;
    c->file_off = 0;
    c->file_left = (uint64_t)st.st_size;
}

/* The body is complete: the POST answer, or the prepared one. */
static void hs_body_done(struct hs_conn *c)
{
    char text[96];
    c->phase = HS_SEND;
    if (!c->post)
        return;
    snprintf(text, sizeof text, "length=%llu fnv1a64=%016llx\n",
             (unsigned long long)c->body_len, (unsigned long long)c->hash);
    hs_head(c, 200, "text/plain", strlen(text), NULL);
    hs_body(c, text);
}

/* Consume body bytes from buf; returns how many. */
static size_t hs_body_feed(struct hs_conn *c, const uint8_t *buf, size_t len)
{
    size_t take = (uint64_t)len < c->body_left ? len : (size_t)c->body_left;
    if (c->post) {
        uint64_t h = c->hash;
        for (size_t i = 0; i < take; i++)
            h = (h ^ buf[i]) * FNV_PRIME;
        c->hash = h;
    }
    c->body_left -= take;
    if (c->body_left == 0)
        hs_body_done(c);
    return take;
}

/* A request head is parsed: prepare the answer, or read a POST body
 * first. The body of another request is read and discarded before its
 * prepared answer goes out (unless the connection closes after it). */
static void hs_request(struct node_http_server *sv, struct hs_conn *c,
                       const struct node_http_request *r)
{
    int post = strcmp(r->method, "POST") == 0;
    long long len = r->f.content_length;
    c->keep_alive = r->minor >= 1 ? !r->f.conn_close
                                  : r->f.conn_keep_alive && !r->f.conn_close;
    if (r->f.te_present) {                       /* no chunked request bodies */
        hs_error(c, post ? 411 : 501, 1, 0);
        return;
    }
    if (post && len < 0) {
        hs_error(c, 411, 1, 0);
        return;
    }
    if (len > (long long)HS_POST_MAX) {
        hs_error(c, 413, 1, 0);
        return;
    }
    if (strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0)
        hs_get(sv, c, r);
    else if (!post)
        hs_error(c, hs_known_method(r->method) ? 405 : 501, 0, 0);
    if (!post && (len <= 0 || !c->keep_alive))
        return;
    c->phase = HS_BODY;
    c->post = post;
    c->body_left = (uint64_t)(len > 0 ? len : 0);
    c->body_len = c->body_left;
    c->hash = FNV_OFFSET;
    if (c->body_left == 0)
        hs_body_done(c);
}

/* Try to parse one request head from the input buffer: 1 parsed (or
 * answered), 0 need more, -1 answered 400 (close). */
static int hs_parse_head(struct node_http_server *sv, struct hs_conn *c)
{
    size_t skip;
    ssize_t end = node_http_head_end(c->in, c->in_len, &skip);
    struct node_http_request r;
    if (end == 0)
        return 0;
    if (end < 0) {
        hs_error(c, 400, 1, 0);
        return -1;
    }
    int st = node_http_parse_request(c->in + skip, (size_t)end - skip, &r);
    if (st != 0) {
        hs_error(c, st, 1, 0);
        return -1;
    }
    hs_request(sv, c, &r);
    memmove(c->in, c->in + end, c->in_len - (size_t)end);
    c->in_len -= (size_t)end;
    return 1;
}

/* ---- connection I/O ----------------------------------------------------- */

/* Refill the output buffer from the file being streamed; -1 on error. */
static int hs_refill(struct hs_conn *c)
{
    if (c->out_len > 0 || c->file_left == 0)
        return 0;
    size_t want = c->file_left < HS_OUT_CAP ? (size_t)c->file_left : HS_OUT_CAP;
    ssize_t r = pread(c->fd, c->out, want, c->file_off);
    if (r <= 0)
        return -1;                       /* the file shrank: cannot keep framing */
    c->out_off = 0;
    c->out_len = (size_t)r;
    c->file_off += r;
    c->file_left -= (uint64_t)r;
    if (c->file_left == 0) {
        close(c->fd);
        c->fd = -1;
    }
    return 0;
}

/* Send what can be sent: 1 the response is complete, 0 blocked, -1 error. */
static int hs_flush(struct hs_conn *c)
{
    for (;;) {
        if (hs_refill(c) < 0)
            return -1;
        if (c->out_len == 0)
            return 1;
        ssize_t w = ts_tcp_send(c->t, c->out + c->out_off, c->out_len);
        if (w == -EAGAIN || w == 0)
            return 0;
        if (w < 0)
            return -1;
        c->out_off += (size_t)w;
        c->out_len -= (size_t)w;
        if (c->out_len == 0)
            c->out_off = 0;
    }
}

/* Receive into the head buffer: 1 got bytes, 0 nothing now, -1 EOF/error. */
static int hs_recv_head(struct hs_conn *c)
{
    if (c->in_len >= HS_IN_CAP)
        return 0;
    ssize_t r = ts_tcp_recv(c->t, (uint8_t *)c->in + c->in_len, HS_IN_CAP - c->in_len);
    if (r == -EAGAIN)
        return 0;
    if (r <= 0)
        return -1;
    c->in_len += (size_t)r;
    return 1;
}

/* Body bytes: buffered ones first, then from the socket. 1 progress, 0
 * nothing now, -1 EOF/error. */
static int hs_recv_body(struct hs_conn *c)
{
    if (c->in_len > 0) {
        size_t used = hs_body_feed(c, (const uint8_t *)c->in, c->in_len);
        memmove(c->in, c->in + used, c->in_len - used);
        c->in_len -= used;
        return 1;
    }
    size_t want = (uint64_t)sizeof hs_scratch < c->body_left ? sizeof hs_scratch
                                                               : (size_t)c->body_left;
    ssize_t r = ts_tcp_recv(c->t, hs_scratch, want);
    if (r == -EAGAIN)
        return 0;
    if (r <= 0)
        return -1;
    hs_body_feed(c, hs_scratch, (size_t)r);
    return 1;
}

/* Advance one connection as far as it goes: 0 keep it, 1 close it
 * gracefully, -1 abort it. */
static int hs_step(struct node_http_server *sv, struct hs_conn *c)
{
    for (int guard = 0; guard < 1024; guard++) {
        int r;
        switch (c->phase) {
        case HS_SEND:
            r = hs_flush(c);
            if (r <= 0)
                return r;
            if (!c->keep_alive)
                return 1;
            c->phase = HS_HEAD;
            break;
        case HS_HEAD:
            r = hs_parse_head(sv, c);
            if (r != 0)
                break;
            r = hs_recv_head(c);
            if (r < 0)
                return 1;                /* EOF between requests */
            if (r == 0)
                return 0;
            break;
        case HS_BODY:
            r = hs_recv_body(c);
            if (r < 0)
                return -1;
            if (r == 0)
                return 0;
            break;
        }
        c->last_us = node_clock_us(NULL);
    }
    return 0;
}

static void hs_conn_free(struct node_http_server *sv, int i, int how)
{
    struct hs_conn *c = sv->c[i];
    if (how < 0) {
        ts_tcp_abort(c->t);
    } else {
        ts_tcp_shutdown(c->t);
        ts_tcp_close(c->t);
    }
    if (c->fd >= 0)
        close(c->fd);
    free(c);
    sv->c[i] = sv->c[--sv->n];
}

static void hs_accept(struct node_http_server *sv)
{
    struct ts_tcb *t;
    while (sv->n < HS_MAX_CONNS && (t = ts_tcp_accept(sv->listener)) != NULL) {
        struct hs_conn *c = malloc(sizeof *c);
        if (c == NULL) {
            ts_tcp_abort(t);
            return;
        }
        memset(c, 0, offsetof(struct hs_conn, in));
        c->t = t;
        c->fd = -1;
        c->phase = HS_HEAD;
        c->last_us = node_clock_us(NULL);
        sv->c[sv->n++] = c;
    }
}

/* ---- hooks -------------------------------------------------------------- */

int node_http_server_start(struct node *n)
{
    if (n->o.http_root == NULL)
        return 0;
    struct node_http_server *sv = calloc(1, sizeof *sv);
    if (sv == NULL)
        return -1;
    n->http = sv;
    if (realpath(n->o.http_root, sv->root) == NULL) {
        fprintf(stderr, "tcpip-node: --http-root %s: %s\n", n->o.http_root, strerror(errno));
        return -1;
    }
    if (strcmp(sv->root, "/") == 0)
        sv->root[0] = '\0';
    sv->listener = node_tcp_socket(n);
    if (sv->listener == NULL || ts_tcp_bind(sv->listener, 0, (uint16_t)n->o.http_port) < 0 ||
        ts_tcp_listen(sv->listener, HS_MAX_CONNS) < 0) {
        fprintf(stderr, "tcpip-node: cannot listen on port %u\n", n->o.http_port);
        return -1;
    }
    return 0;
}

void node_http_server_run(struct node *n)
{
    struct node_http_server *sv = n->http;
    if (sv == NULL || sv->listener == NULL)
        return;
    hs_accept(sv);
    for (int i = sv->n - 1; i >= 0; i--) {
        struct hs_conn *c = sv->c[i];
        int r = ts_tcp_error(c->t) != 0 ? -1 : hs_step(sv, c);
        uint64_t now = node_clock_us(NULL);
        if (r == 0 && now > c->last_us && now - c->last_us > HS_IDLE_US)
            r = -1;
        if (r != 0)
            hs_conn_free(sv, i, r);
    }
}

void node_http_server_stop(struct node *n)
{
    struct node_http_server *sv = n->http;
    if (sv == NULL)
        return;
    while (sv->n > 0)
        hs_conn_free(sv, sv->n - 1, -1);
    if (sv->listener != NULL)
        ts_tcp_close(sv->listener);
    free(sv);
    n->http = NULL;
}

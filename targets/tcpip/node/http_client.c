/*
 * http_client.c -- the daemon's HTTP/1.1 client (RFC 9112) on the stack's
 * TCP socket API, for the one-shot apps:
 *   --fetch URL --out FILE   GET; the body goes to FILE; success (exit 0)
 *                            when the status is 200 and the body is complete
 *                            (as long as Content-Length, the last chunk of a
 *                            chunked body, or the close of a close-delimited
 *                            one); prints {"bytes","seconds","mbps","MBps"}
 *   --post FILE URL          POST the file as the body (Content-Length);
 *                            prints "status=NNN" then the response body;
 *                            success when the status is 2xx
 * URLs are http://A.B.C.D[:PORT][/PATH] (no name resolution). The response
 * framing follows RFC 9112 section 6.3: 1xx answers are skipped, 204 and
 * 304 have no body, Transfer-Encoding chunked wins over Content-Length.
 * Failures print one line "tcpip-node: fetch: ..." and exit 1.
 */
#define _GNU_SOURCE
#include "node.h"
#include "http_parse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HC_BUF (64 * 1024)
#define HC_PATH_MAX 4096

enum hc_phase { HC_CONNECT, HC_SEND, HC_WAIT, HC_DONE };
enum hc_framing { FR_HEAD, FR_NONE, FR_LENGTH, FR_CHUNKED, FR_CLOSE };

struct node_http_client {
    int post;
    const char *what;            /* "fetch" or "post" */
    uint32_t ip;
    uint16_t port;
    char path[HC_PATH_MAX];
    struct ts_tcb *t;
    enum hc_phase phase;
    enum hc_framing framing;
    uint64_t start;
    char *req;                   /* request head */
    size_t req_off, req_len;
    int in_fd;                   /* --post body */
    uint64_t in_left;
    size_t buf_off, buf_len;
    int out_fd;                  /* --fetch: the file; --post: stdout */
    int status;
    char reason[64];
    uint64_t body_got;
    long long body_len;
    struct node_http_chunked ch;
    size_t head_len;
    uint8_t buf[HC_BUF];         /* outgoing body piece */
    char head[NODE_HTTP_HEAD_MAX];
};

static uint8_t hc_scratch[HC_BUF];

/* ---- the end ------------------------------------------------------------ */

static void hc_finish(struct node *n, struct node_http_client *c, int ok, const char *fmt,
                      const char *arg)
{
    if (c->phase == HC_DONE)
        return;
    c->phase = HC_DONE;
    if (!ok) {
        fprintf(stderr, "tcpip-node: %s: ", c->what);
        fprintf(stderr, fmt, arg);
        fputc('\n', stderr);
    } else if (!c->post) {
        double secs = (double)(node_clock_us(NULL) - c->start) / 1e6;
        double rate = secs > 0 ? (double)c->body_got / secs : 0.0;
        printf("{\"bytes\":%llu,\"seconds\":%.6f,\"mbps\":%.3f,\"MBps\":%.3f}\n",
               (unsigned long long)c->body_got, secs, rate * 8 / 1e6, rate / 1e6);
    }
    fflush(stdout);
    if (c->t != NULL) {
        if (ok)
            ts_tcp_close(c->t);
        else
            ts_tcp_abort(c->t);
        c->t = NULL;
    }
    node_oneshot_done(n, ok);
}

/* ---- set-up ------------------------------------------------------------- */

/* http://A.B.C.D[:PORT][/PATH]; 0 or -1. */
static int hc_url(struct node_http_client *c, const char *url)
{
    char host[32];
    if (strncmp(url, "http://", 7) != 0)
        return -1;
    const char *h = url + 7, *slash = strchr(h, '/');
    const char *colon = memchr(h, ':', slash ? (size_t)(slash - h) : strlen(h));
    const char *hend = colon ? colon : slash ? slash : h + strlen(h);
    if ((size_t)(hend - h) >= sizeof host)
        return -1;
    memcpy(host, h, (size_t)(hend - h));
    host[hend - h] = '\0';
    struct in_addr a;
    if (inet_pton(AF_INET, host, &a) != 1)
        return -1;
    c->ip = ntohl(a.s_addr);
    c->port = 80;
    if (colon != NULL) {
        char *end;
        long p = strtol(colon + 1, &end, 10);
        if (end == colon + 1 || p < 1 || p > 65535 || (*end != '\0' && *end != '/'))
            return -1;
        c->port = (uint16_t)p;
    }
    const char *path = slash ? slash : "/";
    if (strlen(path) >= sizeof c->path)
        return -1;
    for (const char *p = path; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return -1;
    strcpy(c->path, path);
    return 0;
}

static int hc_build_request(struct node_http_client *c, const char *url_host)
{
    size_t cap = strlen(c->path) + strlen(url_host) + 256;
    c->req = malloc(cap);
    if (c->req == NULL)
        return -1;
    int n;
    if (c->post)
        n = snprintf(c->req, cap, "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: tcpip-node\r\n"
                     "Content-Type: application/octet-stream\r\nContent-Length: %llu\r\n"
                     "Connection: close\r\n\r\n", c->path, url_host,
                     (unsigned long long)c->in_left);
    else
        n = snprintf(c->req, cap, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: tcpip-node\r\n"
                     "Accept: */*\r\nConnection: close\r\n\r\n", c->path, url_host);
    if (n < 0 || (size_t)n >= cap)
        return -1;
    c->req_len = (size_t)n;
    return 0;
}

/* The authority of the URL, for the Host field. */
static void hc_host(const char *url, char *out, size_t cap)
{
    const char *h = url + 7, *slash = strchr(h, '/');
    size_t len = slash ? (size_t)(slash - h) : strlen(h);
    if (len >= cap)
        len = cap - 1;
    memcpy(out, h, len);
    out[len] = '\0';
}

static int hc_files(struct node_http_client *c, struct node *n)
{
    if (c->post) {
        struct stat st;
        c->in_fd = open(n->o.post_file, O_RDONLY | O_CLOEXEC);
        if (c->in_fd < 0 || fstat(c->in_fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            fprintf(stderr, "tcpip-node: --post %s: cannot read a regular file\n",
                    n->o.post_file);
            return -1;
        }
        c->in_left = (uint64_t)st.st_size;
        c->out_fd = STDOUT_FILENO;
        return 0;
    }
    c->in_fd = -1;
    c->out_fd = open(n->o.out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (c->out_fd < 0) {
        fprintf(stderr, "tcpip-node: --out %s: %s\n", n->o.out, strerror(errno));
        return -1;
    }
    return 0;
}

int node_http_client_start(struct node *n)
{
    const char *url = n->o.post_file ? n->o.post_url : n->o.fetch_url;
    char host[64];
    if (url == NULL)
        return 0;
    struct node_http_client *c = calloc(1, sizeof *c);
    if (c == NULL)
        return -1;
    n->client = c;
    c->post = n->o.post_file != NULL;
    c->what = c->post ? "post" : "fetch";
    c->in_fd = c->out_fd = -1;
    if (hc_url(c, url) < 0) {
        fprintf(stderr, "tcpip-node: bad URL '%s': want http://A.B.C.D[:PORT][/PATH]\n", url);
        return -1;
    }
    hc_host(url, host, sizeof host);
    if (hc_files(c, n) < 0 || hc_build_request(c, host) < 0)
        return -1;
    c->start = node_clock_us(NULL);
    c->t = node_tcp_socket(n);
    int r = c->t != NULL ? ts_tcp_connect(c->t, c->ip, c->port) : -ENOMEM;
    if (r < 0 && r != -EINPROGRESS) {
        fprintf(stderr, "tcpip-node: %s: connect: %s\n", c->what, strerror(-r));
        return -1;
    }
    c->phase = HC_CONNECT;
    node_oneshot_begin(n);
    return 0;
}

/* ---- sending ------------------------------------------------------------ */

/* Send the head, then the file; 0, or -1 on an error. */
static int hc_send(struct node_http_client *c)
{
    for (;;) {
        const uint8_t *p;
        size_t len;
        if (c->req_off < c->req_len) {
            p = (const uint8_t *)c->req + c->req_off;
            len = c->req_len - c->req_off;
        } else {
            if (c->buf_len == 0 && c->in_left > 0) {
                ssize_t r = read(c->in_fd, c->buf, c->in_left < HC_BUF ? c->in_left : HC_BUF);
                if (r <= 0)
                    return -1;
                c->buf_off = 0;
                c->buf_len = (size_t)r;
                c->in_left -= (uint64_t)r;
            }
            if (c->buf_len == 0) {
                c->phase = HC_WAIT;
                return 0;
            }
            p = c->buf + c->buf_off;
            len = c->buf_len;
        }
        ssize_t w = ts_tcp_send(c->t, p, len);
        if (w == -EAGAIN || w == 0)
            return 0;
        if (w < 0)
            return -1;
        if (c->req_off < c->req_len) {
            c->req_off += (size_t)w;
        } else {
            c->buf_off += (size_t)w;
            c->buf_len -= (size_t)w;
        }
    }
}

/* ---- receiving ---------------------------------------------------------- */

static int hc_write(struct node_http_client *c, const uint8_t *p, size_t len)
{
    c->body_got += len;
    if (c->post)
        fflush(stdout);
    while (len > 0) {
        ssize_t w = write(c->out_fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Body bytes: 1 the body is complete, 0 more wanted, -1 error (reported). */
static int hc_body(struct node *n, struct node_http_client *c, const uint8_t *p, size_t len)
{
    while (len > 0 && c->framing == FR_CHUNKED && !c->ch.done) {
        const uint8_t *data;
        size_t dn;
        ssize_t used = node_http_chunked_feed(&c->ch, p, len, &data, &dn);
        if (used < 0) {
            hc_finish(n, c, 0, "malformed chunked body%s", "");
            return -1;
        }
        if (dn > 0 && hc_write(c, data, dn) < 0) {
            hc_finish(n, c, 0, "cannot write the body: %s", strerror(errno));
            return -1;
        }
        p += used;
        len -= (size_t)used;
    }
    if (c->framing == FR_LENGTH || c->framing == FR_CLOSE) {
        uint64_t want = c->framing == FR_LENGTH ? (uint64_t)c->body_len - c->body_got : len;
        size_t take = len < want ? len : (size_t)want;
        if (take > 0 && hc_write(c, p, take) < 0) {
            hc_finish(n, c, 0, "cannot write the body: %s", strerror(errno));
            return -1;
        }
    }
    if (c->framing == FR_NONE || (c->framing == FR_CHUNKED && c->ch.done))
        return 1;
    return c->framing == FR_LENGTH && c->body_got == (uint64_t)c->body_len;
}

/* The response head is parsed: the framing of its body (RFC 9112 6.3). */
static void hc_framing(struct node_http_client *c, const struct node_http_response *r)
{
    c->status = r->status;
    snprintf(c->reason, sizeof c->reason, "%s", r->reason);
    if (r->status == 204 || r->status == 304) {
        c->framing = FR_NONE;
    } else if (r->f.te_present) {
        c->framing = r->f.chunked ? FR_CHUNKED : FR_CLOSE;
    } else if (r->f.content_length >= 0) {
        c->framing = FR_LENGTH;
        c->body_len = r->f.content_length;
    } else {
        c->framing = FR_CLOSE;
    }
    if (c->post) {
        printf("status=%d\n", r->status);
        fflush(stdout);
    }
}

/* Try to parse the head in c->head: 2 parsed and the body complete, 1
 * parsed (body bytes passed on), 0 more wanted, -1 failed (reported). */
static int hc_head(struct node *n, struct node_http_client *c)
{
    size_t skip;
    struct node_http_response r;
    ssize_t end = node_http_head_end(c->head, c->head_len, &skip);
    if (end == 0)
        return 0;
    if (end < 0 || node_http_parse_response(c->head + skip, (size_t)end - skip, &r) < 0) {
        hc_finish(n, c, 0, "malformed response head%s", "");
        return -1;
    }
    size_t rest = c->head_len - (size_t)end;
    memmove(c->head, c->head + end, rest);
    c->head_len = rest;
    if (r.status < 200)
        return hc_head(n, c);                 /* 1xx: the real answer follows */
    hc_framing(c, &r);
    if (!c->post && c->status != 200) {
        char msg[96];
        snprintf(msg, sizeof msg, "%d %s", c->status, c->reason);
        hc_finish(n, c, 0, "HTTP %s", msg);
        return -1;
    }
    c->head_len = 0;
    int done = hc_body(n, c, (const uint8_t *)c->head, rest);
    return done < 0 ? -1 : done > 0 ? 2 : 1;
}

/* The connection's end of data: complete only for close-delimited bodies. */
static void hc_eof(struct node *n, struct node_http_client *c)
{
    char msg[96];
    if (c->framing == FR_HEAD) {
        hc_finish(n, c, 0, "connection closed before a complete response%s", "");
    } else if (c->framing == FR_CLOSE) {
        hc_finish(n, c, !c->post || (c->status >= 200 && c->status < 300),
                  "HTTP status %s", c->reason);
    } else {
        snprintf(msg, sizeof msg, "%llu bytes of %lld", (unsigned long long)c->body_got,
                 c->framing == FR_LENGTH ? c->body_len : -1LL);
        hc_finish(n, c, 0, "truncated body: %s", msg);
    }
}

/* Read what there is; the phase may become HC_DONE. */
static void hc_recv(struct node *n, struct node_http_client *c)
{
    while (c->phase != HC_DONE) {
        ssize_t r;
        if (c->framing == FR_HEAD) {
            if (c->head_len >= sizeof c->head) {
                hc_finish(n, c, 0, "response head too large%s", "");
                return;
            }
            r = ts_tcp_recv(c->t, (uint8_t *)c->head + c->head_len, sizeof c->head - c->head_len);
        } else {
            r = ts_tcp_recv(c->t, hc_scratch, sizeof hc_scratch);
        }
        if (r == -EAGAIN || r == -ENOTCONN)
            return;
        if (r < 0) {
            hc_finish(n, c, 0, "connection error: %s", strerror((int)-r));
            return;
        }
        if (r == 0) {
            hc_eof(n, c);
            return;
        }
        int done;
        if (c->framing == FR_HEAD) {
            c->head_len += (size_t)r;
            done = hc_head(n, c) == 2;
        } else {
            done = hc_body(n, c, hc_scratch, (size_t)r) > 0;
        }
        if (done && c->phase != HC_DONE) {
            int ok = !c->post || (c->status >= 200 && c->status < 300);
            hc_finish(n, c, ok, "HTTP status %s", c->reason);
        }
    }
}

void node_http_client_run(struct node *n)
{
    struct node_http_client *c = n->client;
    if (c == NULL || c->phase == HC_DONE)
        return;
    int err = ts_tcp_error(c->t);
    if (err != 0) {
        hc_finish(n, c, 0, "connection failed: %s", strerror(err));
        return;
    }
    if (c->phase == HC_CONNECT) {
        if (ts_tcp_state(c->t) == TS_SYN_SENT)
            return;
        c->phase = HC_SEND;
    }
    if (c->phase == HC_SEND && hc_send(c) < 0) {
        hc_finish(n, c, 0, "send failed%s", "");
        return;
    }
    hc_recv(n, c);
}

void node_http_client_stop(struct node *n)
{
    struct node_http_client *c = n->client;
    if (c == NULL)
        return;
    if (c->t != NULL)
        ts_tcp_abort(c->t);
    if (c->in_fd >= 0)
        close(c->in_fd);
    if (c->out_fd >= 0 && c->out_fd != STDOUT_FILENO)
        close(c->out_fd);
    free(c->req);
    free(c);
    n->client = NULL;
}

/*
 * apps.c -- the daemon's bulk-transfer benchmark apps on the stack's TCP
 * (RFC 9293) socket API, mirrors of tcpip-peer's modes:
 *   --sink PORT          accept, read and discard; per connection one JSON
 *                        line {"bytes","seconds","mbps","MBps"} (accept to EOF)
 *   --source IP:PORT --bytes N
 *                        connect, send N bytes of the pattern (byte i is
 *                        i % 251), shut down, wait for the peer's FIN; one
 *                        JSON line (connect to close); a one-shot app
 *   --echo PORT          send back everything received
 * mbps is megabits (1e6 bit) per second, MBps megabytes (1e6 byte) per
 * second. Everything is non-blocking; node_apps_run does what it can.
 */
#define _GNU_SOURCE
#include "node.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define APP_MAX_CONNS 64
#define APP_BUF (64 * 1024)
#define APP_PATTERN_LEN (NODE_PATTERN_PERIOD * 64)

struct app_conn {
    struct ts_tcb *t;
    uint64_t start;
    unsigned long long bytes;
    size_t pend_off, pend_len;   /* echo: received, not yet sent back */
    int eof;
    uint8_t *buf;                /* echo only */
};

struct app_server {
    struct ts_tcb *listener;
    int echo;
    int n;
    struct app_conn c[APP_MAX_CONNS];
};

struct app_source {
    struct ts_tcb *t;
    uint64_t start;
    unsigned long long sent;
    int shut, done;
};

struct node_apps {
    struct app_server sink, echo;
    struct app_source source;
    int have_source;
};

static uint8_t app_pattern[APP_PATTERN_LEN];
static uint8_t app_scratch[APP_BUF];

static void app_report(unsigned long long bytes, uint64_t us)
{
    double secs = (double)us / 1e6;
    double rate = secs > 0 ? (double)bytes / secs : 0.0;
    printf("{\"bytes\":%llu,\"seconds\":%.6f,\"mbps\":%.3f,\"MBps\":%.3f}\n",
           bytes, secs, rate * 8 / 1e6, rate / 1e6);
    fflush(stdout);
}

/* ---- listeners ---------------------------------------------------------- */

static int app_listen(struct node *n, struct app_server *sv, unsigned port, int echo)
{
    sv->echo = echo;
    sv->listener = node_tcp_socket(n);
    if (sv->listener == NULL || ts_tcp_bind(sv->listener, 0, (uint16_t)port) < 0 ||
        ts_tcp_listen(sv->listener, APP_MAX_CONNS) < 0) {
        fprintf(stderr, "tcpip-node: cannot listen on port %u\n", port);
        return -1;
    }
    return 0;
}

static void app_accept(struct app_server *sv)
{
    struct ts_tcb *t;
    while (sv->n < APP_MAX_CONNS && (t = ts_tcp_accept(sv->listener)) != NULL) {
        struct app_conn *c = &sv->c[sv->n];
        memset(c, 0, sizeof *c);
        c->t = t;
        c->start = node_clock_us(NULL);
        if (sv->echo && (c->buf = malloc(APP_BUF)) == NULL) {
            ts_tcp_abort(t);
            continue;
        }
        sv->n++;
    }
}

static void app_conn_free(struct app_server *sv, int i, int abort)
{
    struct app_conn *c = &sv->c[i];
    if (abort)
        ts_tcp_abort(c->t);
    else
        ts_tcp_close(c->t);
    free(c->buf);
    sv->c[i] = sv->c[--sv->n];
}

/* ---- sink --------------------------------------------------------------- */

/* Read all there is; 1 when the connection is over (reported). */
static int app_sink_conn(struct app_conn *c)
{
    for (;;) {
        ssize_t r = ts_tcp_recv(c->t, app_scratch, sizeof app_scratch);
        if (r > 0) {
            c->bytes += (unsigned long long)r;
            continue;
        }
        if (r == -EAGAIN)
            return 0;
        if (r < 0)
            fprintf(stderr, "tcpip-node: sink: connection error %d\n", (int)-r);
        app_report(c->bytes, node_clock_us(NULL) - c->start);
        return 1;
    }
}

static void app_sink_run(struct app_server *sv)
{
    app_accept(sv);
    for (int i = sv->n - 1; i >= 0; i--)
        if (app_sink_conn(&sv->c[i]))
            app_conn_free(sv, i, 0);
}

/* ---- echo --------------------------------------------------------------- */

/* Send back what is pending; -1 on a connection error. */
static int app_echo_flush(struct app_conn *c)
{
    while (c->pend_len > 0) {
        ssize_t w = ts_tcp_send(c->t, c->buf + c->pend_off, c->pend_len);
        if (w == -EAGAIN || w == 0)
            return 0;
        if (w < 0)
            return -1;
        c->pend_off += (size_t)w;
        c->pend_len -= (size_t)w;
    }
    c->pend_off = 0;
    return 0;
}

/* 1 when the connection is over. */
static int app_echo_conn(struct app_conn *c)
{
    for (;;) {
        if (app_echo_flush(c) < 0)
            return 1;
        if (c->pend_len > 0)
            return 0;                    /* wait for the send buffer */
        if (c->eof) {
            ts_tcp_shutdown(c->t);
            return 1;
        }
        ssize_t r = ts_tcp_recv(c->t, c->buf, APP_BUF);
        if (r == -EAGAIN)
            return 0;
        if (r < 0)
            return 1;
        if (r == 0)
            c->eof = 1;
        c->pend_len = (size_t)r;
    }
}

static void app_echo_run(struct app_server *sv)
{
    app_accept(sv);
    for (int i = sv->n - 1; i >= 0; i--)
        if (app_echo_conn(&sv->c[i]))
            app_conn_free(sv, i, 0);
}

/* ---- source ------------------------------------------------------------- */

static void app_source_end(struct node *n, struct app_source *so, int ok, const char *why)
{
    if (ok) {
        app_report(so->sent, node_clock_us(NULL) - so->start);
        ts_tcp_close(so->t);
    } else {
        fprintf(stderr, "tcpip-node: source: %s\n", why);
        ts_tcp_abort(so->t);
    }
    so->t = NULL;
    so->done = 1;
    node_oneshot_done(n, ok);
}

static int app_source_send(struct node *n, struct app_source *so)
{
    while (so->sent < n->o.bytes) {
        size_t phase = (size_t)(so->sent % NODE_PATTERN_PERIOD);
        size_t len = APP_PATTERN_LEN - NODE_PATTERN_PERIOD;
        if (n->o.bytes - so->sent < len)
            len = (size_t)(n->o.bytes - so->sent);
        ssize_t w = ts_tcp_send(so->t, app_pattern + phase, len);
        if (w == -EAGAIN || w == -EINPROGRESS || w == 0)
            return 0;
        if (w < 0)
            return -1;
        so->sent += (unsigned long long)w;
    }
    if (!so->shut && ts_tcp_shutdown(so->t) == 0)
        so->shut = 1;
    return 0;
}

static void app_source_run(struct node *n, struct app_source *so)
{
    if (so->done)
        return;
    int err = ts_tcp_error(so->t);
    if (err != 0) {
        app_source_end(n, so, 0, strerror(err));
        return;
    }
    if (ts_tcp_state(so->t) == TS_SYN_SENT)
        return;
    if (app_source_send(n, so) < 0) {
        app_source_end(n, so, 0, "send failed");
        return;
    }
    for (;;) {                           /* the peer's data, then its FIN */
        ssize_t r = ts_tcp_recv(so->t, app_scratch, sizeof app_scratch);
        if (r > 0)
            continue;
        if (r == 0 && so->shut)
            app_source_end(n, so, 1, NULL);
        else if (r < 0 && r != -EAGAIN && r != -ENOTCONN)
            app_source_end(n, so, 0, strerror((int)-r));
        else if (r == 0)
            app_source_end(n, so, 0, "peer closed before all was sent");
        return;
    }
}

static int app_source_start(struct node *n, struct app_source *so)
{
    for (size_t i = 0; i < APP_PATTERN_LEN; i++)
        app_pattern[i] = (uint8_t)(i % NODE_PATTERN_PERIOD);
    so->start = node_clock_us(NULL);
    so->t = node_tcp_socket(n);
    if (so->t == NULL) {
        fprintf(stderr, "tcpip-node: source: no socket\n");
        return -1;
    }
    int r = ts_tcp_connect(so->t, n->o.source_ip, (uint16_t)n->o.source_port);
    if (r < 0 && r != -EINPROGRESS) {
        fprintf(stderr, "tcpip-node: source: connect: %s\n", strerror(-r));
        return -1;
    }
    node_oneshot_begin(n);
    return 0;
}

/* ---- hooks -------------------------------------------------------------- */

int node_apps_start(struct node *n)
{
    if (n->o.sink_port == 0 && n->o.echo_port == 0 && n->o.source_port == 0)
        return 0;
    n->apps = calloc(1, sizeof *n->apps);
    if (n->apps == NULL)
        return -1;
    if (n->o.sink_port != 0 && app_listen(n, &n->apps->sink, n->o.sink_port, 0) < 0)
        return -1;
    if (n->o.echo_port != 0 && app_listen(n, &n->apps->echo, n->o.echo_port, 1) < 0)
        return -1;
    if (n->o.source_port != 0) {
        n->apps->have_source = 1;
        if (app_source_start(n, &n->apps->source) < 0)
            return -1;
    }
    return 0;
}

void node_apps_run(struct node *n)
{
    struct node_apps *a = n->apps;
    if (a == NULL)
        return;
    if (a->sink.listener != NULL)
        app_sink_run(&a->sink);
    if (a->echo.listener != NULL)
        app_echo_run(&a->echo);
    if (a->have_source)
        app_source_run(n, &a->source);
}

static void app_server_stop(struct app_server *sv)
{
    while (sv->n > 0)
        app_conn_free(sv, sv->n - 1, 1);
    if (sv->listener != NULL)
        ts_tcp_close(sv->listener);
    sv->listener = NULL;
}

void node_apps_stop(struct node *n)
{
    struct node_apps *a = n->apps;
    if (a == NULL)
        return;
    app_server_stop(&a->sink);
    app_server_stop(&a->echo);
    if (a->source.t != NULL)
        ts_tcp_abort(a->source.t);
    free(a);
    n->apps = NULL;
}

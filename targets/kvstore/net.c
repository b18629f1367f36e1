/*
 * net.c -- connections and I/O threads (see net.h).
 *
 * Reading: a readable client gets one read() into its query buffer, then,
 * under the keyspace lock, every complete request in the buffer is parsed
 * and executed (pipelining), replies accumulating in the client's output
 * buffer.  Replies are written before the loop polls again, for every
 * client served in that round together (as Redis's beforeSleep does), as
 * much as the socket takes; EPOLLOUT is registered only while output
 * remains.  Protocol errors get their reply
 * and the connection is closed once it is flushed (Redis's
 * CLIENT_CLOSE_AFTER_REPLY).  A client whose pending output exceeds
 * --client-output-limit is closed at once (Redis's hard limit); large
 * batches are written out early so that a client that does read is not
 * caught by it.  Connections beyond --maxclients get
 * "-ERR max number of clients reached" and are closed.
 *
 * With the append-only log on, the batch's log records are written before
 * the keyspace lock is released (under appendfsync always: once per round,
 * for every client together), and under appendfsync always the round's
 * replies wait for one fdatasync (aof.h); replies written early (large
 * batches) wait for that first.
 *
 * Threads: the first loop accepts and passes each new socket to the next
 * I/O thread in turn through a locked queue and an eventfd.  Every loop
 * also watches the read end of the shutdown pipe, which is never drained,
 * so one write to it stops them all.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "net.h"
#include "aof.h"
#include "cmd.h"
#include "log.h"
#include "mem.h"
#include "server.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_ACCEPTS_PER_CALL 1000
#define EARLY_FLUSH_BYTES (256 * 1024)
#define QUERYBUF_LIMIT (1024LL * 1024 * 1024)
#define WRITE_IOVS 16

_Static_assert(KV_READABLE == EPOLLIN, "KV_READABLE must be EPOLLIN");
_Static_assert(KV_WRITABLE == EPOLLOUT, "KV_WRITABLE must be EPOLLOUT");

typedef struct kv_io {
    kv_loop loop;
    pthread_t thread;
    int started;
    kv_watch stop_watch;
    /* new connections handed over by the accepting thread */
    pthread_mutex_t qlock;
    int *queue;
    size_t qlen, qcap;
    int wake_fd;
    kv_watch wake_watch;
    /* clients with replies to write before the loop sleeps, all at once
     * after every ready client was read and served (Redis's
     * handleClientsWithPendingWrites: the replies of one round leave
     * together, which evens out latency across clients); under appendfsync
     * always they also wait for the log to reach the disk up to durable_pos,
     * one fdatasync for all of them (a group commit).  Freed clients leave a
     * NULL slot. */
    kv_client **waiting;
    size_t nwaiting, waiting_cap;
    uint64_t durable_pos;
} kv_io;

static kv_io *ios;
static int nios;
static unsigned next_io;
static kv_watch listen_watch;

/* ---- listening socket ---- */

int kv_net_listen(const char *addr, int port, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int family = strchr(addr, ':') ? AF_INET6 : AF_INET, one = 1, fd;

    memset(&ss, 0, sizeof ss);
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, addr, &sin->sin_addr);
        len = sizeof *sin;
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        inet_pton(AF_INET6, addr, &sin6->sin6_addr);
        len = sizeof *sin6;
    }
    fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 511) < 0) {
        snprintf(err, errlen, "could not listen on %s:%d: %s", addr, port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* ---- client lifecycle ---- */

static void format_addr(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &s->sin_addr, host, sizeof host);
        port = ntohs(s->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &s->sin6_addr, host, sizeof host);
        port = ntohs(s->sin6_port);
    }
    snprintf(buf, cap, "%s:%d", host, port);
}

static void client_addresses(kv_client *c, int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    memset(&ss, 0, sizeof ss);
    getpeername(fd, (struct sockaddr *)&ss, &len);
    format_addr(&ss, c->addr, sizeof c->addr);
    len = sizeof ss;
    memset(&ss, 0, sizeof ss);
    getsockname(fd, (struct sockaddr *)&ss, &len);
    format_addr(&ss, c->laddr, sizeof c->laddr);
}

static void client_event(kv_loop *loop, void *data, uint32_t events);

static kv_client *client_new(kv_io *io, int fd)
{
    kv_client *c = kv_malloc(sizeof *c);
    memset(c, 0, offsetof(kv_client, out));
    kv_outbuf_init(&c->out);
    kv_watch_init(&c->watch, fd, client_event, c);
    c->io = io;
    kv_parser_init(&c->req, KV_DEFAULT_PROTO_MAX_BULK_LEN);
    c->ctime_ms = c->last_ms = kv_mstime();
    client_addresses(c, fd);
    return c;
}

/* Releases the memory of C (its socket is closed by the caller). */
static void client_release(kv_client *c)
{
    kv_parser_free(&c->req);
    kv_outbuf_free(&c->out);
    kv_str_free(c->name);
    kv_free(c);
}

static void registry_link(kv_client *c)
{
    c->id = ++kv_srv.next_client_id;
    c->prev = NULL;
    c->next = kv_srv.clients;
    if (kv_srv.clients)
        kv_srv.clients->prev = c;
    kv_srv.clients = c;
    kv_srv.nclients++;
    kv_srv.stats.connections++;
}

static void registry_unlink(kv_client *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        kv_srv.clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    assert(kv_srv.nclients > 0);
    kv_srv.nclients--;
}

static void reject_client(int fd)
{
    static const char msg[] = "-ERR max number of clients reached\r\n";
    if (send(fd, msg, sizeof msg - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
        /* best effort, as in Redis */
    }
    close(fd);
}

static void client_create(kv_io *io, int fd)
{
    kv_client *c = client_new(io, fd);
    int full;
    kv_lock();
    full = kv_srv.nclients >= (uint64_t)kv_srv.cfg.maxclients;
    if (full)
        kv_srv.stats.rejected++;
    else
        registry_link(c);
    kv_unlock();
    if (full) {
        client_release(c);
        reject_client(fd);
        return;
    }
    if (kv_loop_set(&io->loop, &c->watch, KV_READABLE) < 0) {
        kv_log(KV_LOG_WARNING, "epoll_ctl: %s", strerror(errno));
        kv_lock();
        registry_unlink(c);
        kv_unlock();
        client_release(c);
        close(fd);
    }
}

/* Removes C from its thread's durable-wait list (it is being freed). */
static void unwait(kv_client *c)
{
    kv_io *io = c->io;
    for (size_t i = 0; i < io->nwaiting; i++)
        if (io->waiting[i] == c)
            io->waiting[i] = NULL;
    c->flags &= ~KV_CLIENT_DURABLE_WAIT;
}

static void client_free(kv_client *c)
{
    int fd = c->watch.fd;
    if (c->flags & KV_CLIENT_DURABLE_WAIT)
        unwait(c);
    kv_loop_set(&c->io->loop, &c->watch, 0);
    close(fd);
    kv_lock();
    registry_unlink(c);
    kv_unlock();
    client_release(c);
}

/* ---- output ---- */

/* Writes as much pending output as the socket takes; -1 on a socket error. */
static int write_pending(kv_client *c)
{
    while (kv_outbuf_pending(&c->out)) {
        struct iovec iov[WRITE_IOVS];
        struct msghdr msg;
        ssize_t n;
        memset(&msg, 0, sizeof msg);
        msg.msg_iov = iov;
        msg.msg_iovlen = (size_t)kv_outbuf_iov(&c->out, iov, WRITE_IOVS);
        n = sendmsg(c->watch.fd, &msg, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
        }
        kv_outbuf_consume(&c->out, (size_t)n);
        atomic_fetch_add_explicit(&kv_srv.stats.net_output, (uint_fast64_t)n,
                                  memory_order_relaxed);
    }
    return 0;
}

/* Flushes output and sets the events C waits for; -1: close C now. */
static int client_flush(kv_client *c)
{
    uint32_t mask;
    if (write_pending(c) < 0)
        return -1;
    if (c->flags & KV_CLIENT_CLOSE_AFTER_REPLY) {
        if (kv_outbuf_pending(&c->out) == 0)
            return -1;
        mask = KV_WRITABLE; /* stop reading: the rest of the input is ignored */
    } else {
        mask = KV_READABLE;
        if (kv_outbuf_pending(&c->out))
            mask |= KV_WRITABLE;
    }
    return kv_loop_set(&c->io->loop, &c->watch, mask) < 0 ? -1 : 0;
}

/* Enforces --client-output-limit, and writes big batches out early. */
static void check_output(kv_client *c)
{
    unsigned long long limit = kv_srv.cfg.client_output_limit;
    if (kv_outbuf_pending(&c->out) > EARLY_FLUSH_BYTES && kv_srv.aof_on) {
        uint64_t pos = kv_aof_batch_end();
        kv_aof_write_pending();
        kv_aof_wait_durable(pos);
    }
    if (kv_outbuf_pending(&c->out) > EARLY_FLUSH_BYTES && write_pending(c) < 0) {
        c->flags |= KV_CLIENT_CLOSE_ASAP;
        return;
    }
    if (limit && kv_outbuf_pending(&c->out) > limit) {
        kv_log(KV_LOG_WARNING,
               "Client id=%llu addr=%s closed for overcoming of output buffer limits "
               "(%zu bytes pending)",
               (unsigned long long)c->id, c->addr, kv_outbuf_pending(&c->out));
        c->flags |= KV_CLIENT_CLOSE_ASAP;
    }
}

/* ---- input ---- */

/* Executes every complete request in the query buffer (keyspace lock held). */
static void process_input(kv_client *c)
{
    c->req.max_bulk = kv_srv.cfg.proto_max_bulk_len;
    while (!(c->flags & (KV_CLIENT_CLOSE_AFTER_REPLY | KV_CLIENT_CLOSE_ASAP))) {
        kv_parse_status st = kv_parser_next(&c->req, &c->argc, &c->argv);
        if (st == KV_PARSE_MORE)
            break;
        if (st == KV_PARSE_ERROR) {
            kv_reply_error(&c->out, c->req.err);
            c->flags |= KV_CLIENT_CLOSE_AFTER_REPLY;
            break;
        }
        kv_cmd_execute(c);
        c->argc = 0;
        c->argv = NULL;
        check_output(c);
    }
}

static long long querybuf_limit(void)
{
    long long bulk = kv_srv.cfg.proto_max_bulk_len, slack = 1 << 20;
    if (bulk <= QUERYBUF_LIMIT - slack)
        return QUERYBUF_LIMIT;
    return bulk > LLONG_MAX - slack ? LLONG_MAX : bulk + slack;
}

/* C's replies may only leave once the log is durable up to POS: queue C
 * for the thread's next group commit (or wait now if the queue cannot grow). */
static void wait_durable(kv_client *c, uint64_t pos)
{
    kv_io *io = c->io;
    if (!(c->flags & KV_CLIENT_DURABLE_WAIT)) {
        if (io->nwaiting == io->waiting_cap) {
            size_t cap = io->waiting_cap ? io->waiting_cap * 2 : 64;
            kv_client **grown = realloc(io->waiting, cap * sizeof *grown);
            if (grown == NULL) {
                kv_lock();
                kv_aof_write_pending();
                kv_unlock();
                kv_aof_wait_durable(pos);
                return;
            }
            io->waiting = grown;
            io->waiting_cap = cap;
        }
        io->waiting[io->nwaiting++] = c;
        c->flags |= KV_CLIENT_DURABLE_WAIT;
    }
    if (pos > io->durable_pos)
        io->durable_pos = pos;
}

/* Before the loop sleeps: one fdatasync for every reply waiting on the log,
 * then those replies are written. */
static void io_before_sleep(kv_loop *loop, void *data)
{
    kv_io *io = data;
    size_t n = io->nwaiting;
    (void)loop;
    if (n == 0)
        return;
    if (io->durable_pos) {
        kv_lock();
        kv_aof_write_pending();
        kv_unlock();
        kv_aof_wait_durable(io->durable_pos);
        io->durable_pos = 0;
    }
    io->nwaiting = 0;
    for (size_t i = 0; i < n; i++) {
        kv_client *c = io->waiting[i];
        if (c == NULL)
            continue;
        assert(c->flags & KV_CLIENT_DURABLE_WAIT);
        c->flags &= ~KV_CLIENT_DURABLE_WAIT;
        if ((c->flags & KV_CLIENT_CLOSE_ASAP) || client_flush(c) < 0)
            client_free(c);
    }
}

/* One read, then execution; -1: close C (EOF, error, limit). */
static int client_read(kv_client *c)
{
    size_t avail;
    char *p = kv_parser_space(&c->req, &avail);
    ssize_t n = read(c->watch.fd, p, avail);
    if (n < 0)
        return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
    if (n == 0)
        return -1;
    kv_parser_commit(&c->req, (size_t)n);
    atomic_fetch_add_explicit(&kv_srv.stats.net_input, (uint_fast64_t)n,
                              memory_order_relaxed);
    kv_lock();
    if ((long long)kv_parser_pending(&c->req) > querybuf_limit()) {
        kv_log(KV_LOG_WARNING, "Closing client id=%llu addr=%s that reached max query "
               "buffer length", (unsigned long long)c->id, c->addr);
        kv_unlock();
        return -1;
    }
    c->last_ms = kv_mstime();
    process_input(c);
    uint64_t durable = kv_srv.aof_on ? kv_aof_batch_end() : 0;
    kv_unlock();
    if (durable)
        wait_durable(c, durable);
    return 0;
}

static void client_event(kv_loop *loop, void *data, uint32_t events)
{
    kv_client *c = data;
    (void)loop;
    if ((events & (EPOLLERR | EPOLLHUP)) && !(c->watch.mask & KV_READABLE)) {
        client_free(c);
        return;
    }
    if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && (c->watch.mask & KV_READABLE)) {
        if (client_read(c) < 0) {
            client_free(c);
            return;
        }
        if (kv_outbuf_pending(&c->out) && !(c->flags & KV_CLIENT_CLOSE_ASAP))
            wait_durable(c, 0); /* replies leave together before the loop sleeps */
    }
    if (c->flags & KV_CLIENT_CLOSE_ASAP) {
        client_free(c);
        return;
    }
    if (c->flags & KV_CLIENT_DURABLE_WAIT)
        return; /* io_before_sleep writes the replies once the log is on disk */
    if (client_flush(c) < 0)
        client_free(c);
}

/* ---- accepting and handing over connections ---- */

static void handoff(kv_io *io, int fd)
{
    uint64_t one = 1;
    pthread_mutex_lock(&io->qlock);
    if (io->qlen == io->qcap) {
        io->qcap = io->qcap ? 2 * io->qcap : 16;
        io->queue = kv_realloc(io->queue, io->qcap * sizeof *io->queue);
    }
    io->queue[io->qlen++] = fd;
    pthread_mutex_unlock(&io->qlock);
    if (write(io->wake_fd, &one, sizeof one) < 0) {
        /* the counter cannot overflow in practice; the queue is drained anyway */
    }
}

static void wake_event(kv_loop *loop, void *data, uint32_t events)
{
    kv_io *io = data;
    uint64_t count;
    int *fds;
    size_t n;
    (void)loop;
    (void)events;
    if (read(io->wake_fd, &count, sizeof count) < 0) {
        /* EAGAIN: another wake-up already drained it */
    }
    pthread_mutex_lock(&io->qlock);
    fds = io->queue;
    n = io->qlen;
    io->queue = NULL;
    io->qlen = io->qcap = 0;
    pthread_mutex_unlock(&io->qlock);
    for (size_t i = 0; i < n; i++)
        client_create(io, fds[i]);
    kv_free(fds);
}

static void accept_event(kv_loop *loop, void *data, uint32_t events)
{
    (void)loop;
    (void)data;
    (void)events;
    for (int i = 0; i < MAX_ACCEPTS_PER_CALL; i++) {
        int one = 1;
        int fd = accept4(listen_watch.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                kv_log(KV_LOG_WARNING, "Accepting client connection: %s", strerror(errno));
            return;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        kv_io *io = &ios[next_io++ % (unsigned)nios];
        if (io == &ios[0])
            client_create(io, fd);
        else
            handoff(io, fd);
    }
}

static void stop_event(kv_loop *loop, void *data, uint32_t events)
{
    (void)data;
    (void)events;
    loop->stop = 1;
}

/* ---- threads ---- */

static int io_init(kv_io *io, int index)
{
    memset(io, 0, sizeof *io);
    io->wake_fd = -1;
    pthread_mutex_init(&io->qlock, NULL);
    if (kv_loop_init(&io->loop, index) < 0)
        return -1;
    kv_watch_init(&io->stop_watch, kv_srv.shutdown_pipe[0], stop_event, io);
    if (kv_loop_set(&io->loop, &io->stop_watch, KV_READABLE) < 0)
        return -1;
    io->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (io->wake_fd < 0)
        return -1;
    kv_watch_init(&io->wake_watch, io->wake_fd, wake_event, io);
    kv_loop_set_before_sleep(&io->loop, io_before_sleep, io);
    return kv_loop_set(&io->loop, &io->wake_watch, KV_READABLE);
}

static void io_destroy(kv_io *io)
{
    for (size_t i = 0; i < io->qlen; i++)
        close(io->queue[i]);
    kv_free(io->queue);
    free(io->waiting);
    if (io->wake_fd >= 0)
        close(io->wake_fd);
    kv_loop_close(&io->loop);
    pthread_mutex_destroy(&io->qlock);
}

static void *io_main(void *arg)
{
    kv_io *io = arg;
    kv_loop_run(&io->loop);
    return NULL;
}

/* Starts the threads of loops 1..n-1 with SIGINT/SIGTERM blocked, so that
 * signals are handled by the main thread. */
static int start_threads(void)
{
    sigset_t block, old;
    int rc = 0;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    for (int i = 1; i < nios && rc == 0; i++) {
        rc = pthread_create(&ios[i].thread, NULL, io_main, &ios[i]);
        ios[i].started = rc == 0;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc == 0 ? 0 : -1;
}

static void free_all_clients(void)
{
    while (kv_srv.clients) {
        kv_client *c = kv_srv.clients;
        close(c->watch.fd);
        registry_unlink(c);
        client_release(c);
    }
}

void kv_net_set_timer_period(int period_ms)
{
    if (ios)
        ios[0].loop.timer_ms = period_ms;
}

int kv_net_run(int nthreads, kv_timer_fn *cron)
{
    int rc = 0;
    assert(nthreads >= 1);
    nios = nthreads;
    ios = kv_calloc((size_t)nthreads, sizeof *ios);
    for (int i = 0; i < nios && rc == 0; i++)
        rc = io_init(&ios[i], i);
    kv_watch_init(&listen_watch, kv_srv.listen_fd, accept_event, NULL);
    if (rc == 0)
        rc = kv_loop_set(&ios[0].loop, &listen_watch, KV_READABLE);
    if (rc == 0) {
        kv_loop_set_timer(&ios[0].loop, cron, NULL, 1000 / kv_srv.cfg.hz);
        rc = start_threads();
    }
    if (rc == 0)
        kv_loop_run(&ios[0].loop);
    else
        kv_log(KV_LOG_WARNING, "Could not start the event loops: %s", strerror(errno));
    kv_server_request_shutdown();
    for (int i = 1; i < nios; i++)
        if (ios[i].started)
            pthread_join(ios[i].thread, NULL);
    free_all_clients();
    for (int i = 0; i < nios; i++)
        io_destroy(&ios[i]);
    kv_free(ios);
    ios = NULL;
    return rc == 0 ? 0 : -1;
}

/*
 * lg_worker.c -- one load-generating thread: its share of the connections,
 * driven by its own epoll(7) loop, with its own generator and tally.
 *
 * Closed loop (no --rate): every connection keeps --pipeline requests in
 * flight; each reply frees a slot that is refilled at once, and a
 * request's latency runs from the moment it is handed to send(2).
 *
 * Fixed rate (--rate): requests follow the schedule of lg_sched.c.  Each
 * pass of the loop sends, on every connection with free slots, the
 * requests whose intended time has come, then arms a timerfd(2) for the
 * earliest next intended time (nanosecond precision; epoll_wait's own
 * timeout is in milliseconds).  Latency runs from the intended time, as in
 * wrk2, so a stalled server is charged for the requests it held back.
 *
 * Phases, on the shared clock: [start, warm) warmup, [warm, end) measured
 * (see lg_tally.c), then the drain: no new requests, and the loop ends when
 * nothing is in flight, or at `drain` with the missing replies counted as
 * unanswered.  At a fixed rate, the requests intended inside the window
 * but never sent (the server could not keep up) are counted as unsent.
 * Every wait is bounded, and a failure in any thread (shared flag,
 * lg_fail) stops them all.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "lg.h"

#define MAX_EVENTS 256
#define MAX_WAIT_MS 100 /* re-check the shared failure flag this often */

void lg_fail(lg_shared *sh, const char *fmt, ...)
{
    int expected = 0;
    if (!atomic_compare_exchange_strong(&sh->failed, &expected, 1))
        return; /* the first failure is the one reported */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sh->fail_msg, sizeof sh->fail_msg, fmt, ap);
    va_end(ap);
}

static bool fixed_rate(const lg_worker *w)
{
    return w->sh->cfg->rate > 0.0;
}

static bool watch(lg_worker *w, lg_conn *c, int op, bool out)
{
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0u),
                             .data.ptr = c};
    if (epoll_ctl(w->epfd, op, c->fd, &ev) < 0) {
        lg_fail(w->sh, "epoll_ctl: %s", strerror(errno));
        return false;
    }
    c->want_out = out;
    return true;
}

/* Sends what is buffered; asks for EPOLLOUT while some remains. */
static void flush(lg_worker *w, lg_conn *c)
{
    int err = 0;
    if (!lg_conn_flush(c, &err)) {
        lg_fail(w->sh, "connection %d: send: %s", c->id, strerror(err));
        return;
    }
    bool pending = c->out_off < c->out_len;
    if (pending != c->want_out)
        watch(w, c, EPOLL_CTL_MOD, pending);
}

static bool issue(lg_worker *w, lg_conn *c, uint64_t start_ns, uint64_t now)
{
    const lg_config *cfg = w->sh->cfg;
    if (!lg_conn_issue(c, &w->gen, w->sh->value, cfg->value_size,
                       start_ns)) {
        lg_fail(w->sh, "out of memory for connection %d's requests", c->id);
        return false;
    }
    lg_tally_sent(&w->tally, &w->sh->win, now);
    w->inflight++;
    return true;
}

/* Closed loop: fill every free slot of c, stamped with the send time. */
static void fill(lg_worker *w, lg_conn *c)
{
    uint64_t now = lg_now_ns();
    if (now >= w->sh->win.end_ns)
        return;
    int free_slots = lg_conn_free_slots(c), sent = 0;
    while (sent < free_slots && issue(w, c, now, now))
        sent++;
    if (sent > 0)
        flush(w, c);
}

/* Fixed rate: sends what is due on c by `now` (< end); its next intended
 * time if it has a free slot for it and is before `end`, else UINT64_MAX. */
static uint64_t rate_conn(lg_worker *w, lg_conn *c, uint64_t now)
{
    uint64_t end = w->sh->win.end_ns, due = lg_sched_due(&c->sched);
    int sent = 0;
    assert(now < end);
    for (; due <= now && lg_conn_free_slots(c) > 0; sent++) {
        if (!issue(w, c, due, now))
            return UINT64_MAX;
        lg_sched_advance(&c->sched);
        due = lg_sched_due(&c->sched);
    }
    if (sent > 0)
        flush(w, c);
    return due < end && lg_conn_free_slots(c) > 0 ? due : UINT64_MAX;
}

static void arm_timer(lg_worker *w, uint64_t at_ns)
{
    if (at_ns == w->armed_ns)
        return;
    struct itimerspec its;
    memset(&its, 0, sizeof its); /* all zero disarms */
    if (at_ns != UINT64_MAX) {
        its.it_value.tv_sec = (time_t)(at_ns / LG_NS_PER_S);
        its.it_value.tv_nsec = (long)(at_ns % LG_NS_PER_S);
    }
    if (timerfd_settime(w->tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
        lg_fail(w->sh, "timerfd_settime: %s", strerror(errno));
    w->armed_ns = at_ns;
}

/* Sends what is due everywhere.  The first pass at or after `end` is the
 * last: it still sends the requests intended before `end` that have a free
 * slot (the loop cannot wake exactly at `end`), and nothing after. */
static void rate_pass(lg_worker *w, uint64_t now)
{
    uint64_t next = UINT64_MAX;
    if (now >= w->sh->win.end_ns) {
        now = w->sh->win.end_ns - 1;
        w->schedule_done = true;
    }
    for (int i = 0; i < w->nconns; i++) {
        uint64_t due = rate_conn(w, &w->conns[i], now);
        if (due < next)
            next = due;
    }
    assert(next == UINT64_MAX || next > now);
    arm_timer(w, w->schedule_done ? UINT64_MAX : next);
}

static void on_timer(lg_worker *w)
{
    uint64_t expirations;
    if (read(w->tfd, &expirations, sizeof expirations) < 0 &&
        errno != EAGAIN)
        lg_fail(w->sh, "timerfd read: %s", strerror(errno));
    w->armed_ns = UINT64_MAX; /* expired: re-armed by the next pass */
}

static void on_conn(lg_worker *w, lg_conn *c, uint32_t events)
{
    char why[256];
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        int r = lg_conn_read(c, &w->tally, &w->sh->win, why, sizeof why);
        if (r < 0) {
            lg_fail(w->sh, "%s", why);
            return;
        }
        assert((uint64_t)r <= w->inflight);
        w->inflight -= (uint64_t)r;
        if (r > 0 && !fixed_rate(w))
            fill(w, c);
    }
    if ((events & EPOLLOUT) && c->want_out)
        flush(w, c);
}

static bool finished(lg_worker *w, uint64_t now)
{
    const lg_shared *sh = w->sh;
    if (now >= sh->drain_ns) {
        w->tally.unanswered += w->inflight;
        return true;
    }
    return now >= sh->win.end_ns && w->inflight == 0 &&
           (w->schedule_done || !fixed_rate(w));
}

static int wait_ms(const lg_worker *w, uint64_t now)
{
    uint64_t until = now < w->sh->win.end_ns ? w->sh->win.end_ns
                                             : w->sh->drain_ns;
    uint64_t ms = (until - now + 999999) / 1000000;
    return ms < MAX_WAIT_MS ? (int)ms : MAX_WAIT_MS;
}

static void dispatch(lg_worker *w, const struct epoll_event *ev)
{
    if (ev->data.ptr == NULL)
        on_timer(w);
    else
        on_conn(w, ev->data.ptr, ev->events);
}

static void run(lg_worker *w)
{
    struct epoll_event ev[MAX_EVENTS];
    for (;;) {
        uint64_t now = lg_now_ns();
        if (atomic_load_explicit(&w->sh->failed, memory_order_relaxed) ||
            finished(w, now))
            return;
        if (fixed_rate(w) && !w->schedule_done)
            rate_pass(w, now);
        int n = epoll_wait(w->epfd, ev, MAX_EVENTS, wait_ms(w, now));
        if (n < 0 && errno != EINTR) {
            lg_fail(w->sh, "epoll_wait: %s", strerror(errno));
            return;
        }
        for (int i = 0; i < n; i++)
            dispatch(w, &ev[i]);
    }
}

void *lg_worker_main(void *arg)
{
    lg_worker *w = arg;
    const lg_shared *sh = w->sh;
    lg_sleep_until(sh->start_ns);
    for (int i = 0; i < w->nconns; i++) {
        lg_conn *c = &w->conns[i];
        if (fixed_rate(w))
            lg_sched_init(&c->sched, sh->start_ns, sh->cfg->rate, c->id,
                          sh->cfg->connections);
        else
            fill(w, c);
    }
    run(w);
    for (int i = 0; i < w->nconns && fixed_rate(w); i++)
        w->tally.unsent += lg_sched_missed(&w->conns[i].sched,
                                           sh->win.warm_ns, sh->win.end_ns);
    return NULL;
}

static int add_timer(lg_worker *w)
{
    w->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (w->tfd < 0)
        return -1;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    return epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->tfd, &ev);
}

/* Takes ownership of fds (closed by lg_worker_cleanup, even on failure). */
int lg_worker_setup(lg_worker *w, lg_shared *sh, const int *fds, int nfds,
                    int first_id, int index)
{
    assert(nfds > 0);
    const lg_config *cfg = sh->cfg;
    memset(w, 0, sizeof *w);
    w->sh = sh;
    w->epfd = w->tfd = -1;
    w->armed_ns = UINT64_MAX;
    lg_gen_init(&w->gen, cfg, (uint64_t)index);
    lg_tally_init(&w->tally);
    w->conns = calloc((size_t)nfds, sizeof *w->conns);
    if (!w->conns) {
        for (int i = 0; i < nfds; i++)
            close(fds[i]);
        return -1;
    }
    w->nconns = nfds;
    int rc = 0;
    for (int i = 0; i < nfds; i++)
        if (lg_conn_init(&w->conns[i], fds[i], first_id + i, cfg->pipeline,
                         cfg->value_size) < 0)
            rc = -1;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (rc < 0 || w->epfd < 0)
        return -1;
    for (int i = 0; i < nfds; i++)
        if (!watch(w, &w->conns[i], EPOLL_CTL_ADD, false))
            return -1;
    return cfg->rate > 0.0 ? add_timer(w) : 0;
}

void lg_worker_cleanup(lg_worker *w)
{
    for (int i = 0; i < w->nconns; i++)
        lg_conn_free(&w->conns[i]);
    free(w->conns);
    if (w->epfd >= 0)
        close(w->epfd);
    if (w->tfd >= 0)
        close(w->tfd);
    w->conns = NULL;
    w->nconns = 0;
    w->epfd = w->tfd = -1;
}

/*
 * event.c -- epoll event loop (see event.h).  Level-triggered: a handler
 * that leaves data unread is called again on the next poll, which keeps
 * fairness between clients simple.  The timer is checked after each poll;
 * the poll timeout is the time left until it is due.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "event.h"
#include "log.h"
#include "util.h"

#include <assert.h>
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define MAX_EVENTS 256

int kv_loop_init(kv_loop *loop, int index)
{
    memset(loop, 0, sizeof *loop);
    loop->index = index;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    return loop->epfd < 0 ? -1 : 0;
}

void kv_loop_close(kv_loop *loop)
{
    if (loop->epfd >= 0)
        close(loop->epfd);
    loop->epfd = -1;
}

void kv_watch_init(kv_watch *w, int fd, kv_watch_fn *fn, void *data)
{
    w->fd = fd;
    w->mask = 0;
    w->fn = fn;
    w->data = data;
}

int kv_loop_set(kv_loop *loop, kv_watch *w, uint32_t mask)
{
    struct epoll_event ev;
    int op;
    if (mask == w->mask)
        return 0;
    op = w->mask == 0 ? EPOLL_CTL_ADD : mask == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
    memset(&ev, 0, sizeof ev);
    ev.events = mask;
    ev.data.ptr = w;
    if (epoll_ctl(loop->epfd, op, w->fd, &ev) < 0)
        return -1;
    w->mask = mask;
    return 0;
}

void kv_loop_set_timer(kv_loop *loop, kv_timer_fn *fn, void *data, int period_ms)
{
    assert(period_ms > 0);
    loop->timer = fn;
    loop->timer_data = data;
    loop->timer_ms = period_ms;
    loop->next_timer_us = kv_monotonic_us() + (int64_t)period_ms * 1000;
}

static int poll_timeout(const kv_loop *loop)
{
    int64_t left;
    if (loop->timer == NULL)
        return -1;
    left = loop->next_timer_us - kv_monotonic_us();
    return left <= 0 ? 0 : (int)((left + 999) / 1000);
}

static void run_timer(kv_loop *loop)
{
    int64_t now = kv_monotonic_us();
    if (loop->timer == NULL || now < loop->next_timer_us)
        return;
    loop->timer(loop, loop->timer_data);
    loop->next_timer_us = now + (int64_t)loop->timer_ms * 1000;
}

void kv_loop_set_before_sleep(kv_loop *loop, kv_before_sleep_fn *fn, void *data)
{
    loop->before_sleep = fn;
    loop->before_sleep_data = data;
}

void kv_loop_run(kv_loop *loop)
{
    struct epoll_event events[MAX_EVENTS];
    while (!loop->stop) {
        int n = epoll_wait(loop->epfd, events, MAX_EVENTS, poll_timeout(loop));
        if (n < 0 && errno != EINTR) {
            kv_log(KV_LOG_WARNING, "epoll_wait: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n && !loop->stop; i++) {
            kv_watch *w = events[i].data.ptr;
            w->fn(loop, w->data, events[i].events);
        }
        run_timer(loop);
        if (loop->before_sleep)
            loop->before_sleep(loop, loop->before_sleep_data);
    }
}

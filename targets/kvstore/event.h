/*
 * event.h -- a minimal level-triggered epoll(7) event loop: file
 * descriptors are registered through kv_watch records (the epoll data
 * pointer), and an optional periodic timer runs between polls (the server
 * cron, like Redis's serverCron at `hz` times per second).  Each I/O thread
 * runs its own loop; a loop is only used by its own thread.
 */
#ifndef KV_EVENT_H
#define KV_EVENT_H

#include <stdint.h>

#define KV_READABLE 0x001u /* EPOLLIN */
#define KV_WRITABLE 0x004u /* EPOLLOUT */

typedef struct kv_loop kv_loop;
typedef void kv_watch_fn(kv_loop *loop, void *data, uint32_t events);
typedef void kv_timer_fn(kv_loop *loop, void *data);
typedef void kv_before_sleep_fn(kv_loop *loop, void *data);

typedef struct kv_watch {
    int fd;
    uint32_t mask; /* events currently registered, 0 when not registered */
    kv_watch_fn *fn;
    void *data;
} kv_watch;

struct kv_loop {
    int epfd;
    int stop;
    int index; /* which I/O thread runs it */
    kv_timer_fn *timer;
    void *timer_data;
    int timer_ms;
    int64_t next_timer_us;
    kv_before_sleep_fn *before_sleep; /* after each round of events, before polling */
    void *before_sleep_data;
};

int kv_loop_init(kv_loop *loop, int index);
void kv_loop_close(kv_loop *loop);
void kv_watch_init(kv_watch *w, int fd, kv_watch_fn *fn, void *data);
/* Registers W for MASK (0 unregisters).  Returns 0, or -1 with errno. */
int kv_loop_set(kv_loop *loop, kv_watch *w, uint32_t mask);
void kv_loop_set_timer(kv_loop *loop, kv_timer_fn *fn, void *data, int period_ms);
/* FN runs once per loop iteration, after the ready events and the timer
 * were dispatched and before the next poll (Redis's beforeSleep). */
void kv_loop_set_before_sleep(kv_loop *loop, kv_before_sleep_fn *fn, void *data);
/* Polls and dispatches until loop->stop is set. */
void kv_loop_run(kv_loop *loop);

#endif

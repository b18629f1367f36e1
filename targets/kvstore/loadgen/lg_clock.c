/*
 * lg_clock.c -- the one clock of kvstore-loadgen: CLOCK_MONOTONIC
 * (POSIX.1-2008 clock_gettime), in nanoseconds as uint64_t, immune to
 * wall-clock steps.  Send times, intended times, reply times, the timerfd
 * of lg_worker.c and the run's phases are all on this clock.
 */
#define _GNU_SOURCE
#include <time.h>

#include "lg.h"

uint64_t lg_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * LG_NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* Sleeps until the clock reads t_ns (returns at once if it has passed). */
void lg_sleep_until(uint64_t t_ns)
{
    struct timespec ts = {.tv_sec = (time_t)(t_ns / LG_NS_PER_S),
                          .tv_nsec = (long)(t_ns % LG_NS_PER_S)};
    for (int tries = 0; tries < 1000; tries++) /* retried on EINTR */
        if (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == 0)
            return;
}

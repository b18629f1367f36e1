/*
 * clock.c -- the stack's injected clock for tcpip-node: CLOCK_MONOTONIC
 * (POSIX clock_gettime) in microseconds, never going backwards.
 */
#define _GNU_SOURCE
#include "node.h"

#include <time.h>

uint64_t node_clock_us(void *arg)
{
    struct timespec ts;
    (void)arg;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

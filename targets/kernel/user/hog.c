/*
 * hog.c - /bin/hog: spins in user mode without any system call for <arg> timer ticks
 * (default 30), reading the tick count through uptime only every 100000 iterations;
 * the preemption test checks that other processes still run meanwhile.
 */
#include "ulib.h"

int main(const char *arg)
{
    uint32_t ticks = arg != NULL && arg[0] != '\0' ? u_atou(arg) : 30;
    int32_t start = u_uptime();
    volatile uint32_t spin = 0;
    while ((uint32_t)(u_uptime() - start) < ticks)
        for (uint32_t i = 0; i < 100000; i++)
            spin++;
    return 0;
}

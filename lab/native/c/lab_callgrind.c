/* lab_callgrind.c - Callgrind client requests for the lab's instruction channel.
 *
 * Thin wrappers around the macros of <valgrind/callgrind.h> and <valgrind/valgrind.h> so
 * that Python (through cffi) can switch callgrind's instrumentation and collection on and
 * off around one measured call and dump one profile per measurement. Outside valgrind every
 * request is a no-op (a few instructions) and lab_cg_running() returns 0.
 */

#include <valgrind/callgrind.h>
#include <valgrind/valgrind.h>

/* How many valgrind levels the process runs under: 0 natively, 1 under valgrind. */
int lab_cg_running(void)
{
    return (int)RUNNING_ON_VALGRIND;
}

/* Switch full instrumentation on (flushes valgrind's translation cache; costly). */
void lab_cg_start(void)
{
    CALLGRIND_START_INSTRUMENTATION;
}

/* Switch full instrumentation off (flushes valgrind's translation cache; costly). */
void lab_cg_stop(void)
{
    CALLGRIND_STOP_INSTRUMENTATION;
}

/* Flip the collection state: events count only while collection is on. */
void lab_cg_toggle(void)
{
    CALLGRIND_TOGGLE_COLLECT;
}

/* Reset every cost counter collected so far to zero. */
void lab_cg_zero(void)
{
    CALLGRIND_ZERO_STATS;
}

/* Write a profile now; its "desc: Trigger:" line reads "Client Request: <reason>". */
void lab_cg_dump(const char *reason)
{
    CALLGRIND_DUMP_STATS_AT(reason);
}

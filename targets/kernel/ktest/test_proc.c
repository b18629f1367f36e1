/*
 * test_proc.c - in-guest tests of processes and scheduling: run queue order (proc/runq.h),
 * spawn/wait and zombies, preemption by the PIT (a busy process does not block another),
 * strict priorities, timed sleeps, ELF refusal, and user faults that kill only the faulting
 * process (status 128 + vector, Intel SDM vol. 3 table 6-1).
 */
#include "arch/pit.h"
#include "arch/trap.h"
#include "ktest/ktest.h"
#include "lib/kerrno.h"
#include "mm/kmem.h"
#include "proc/proc.h"
#include "proc/runq.h"
#include "proc/sched.h"

KTEST_CASE(runq, priority_fifo)
{
    struct k_runq q;
    struct k_runq_node n[6];
    static const uint8_t prio[6] = {2, 0, 2, 1, 0, 3};
    static const int order[6] = {1, 4, 3, 0, 2, 5};
    k_runq_init(&q);
    for (int i = 0; i < 6; i++) {
        memset(&n[i], 0, sizeof n[i]);
        n[i].prio = prio[i];
        KEXPECT_EQ(k_runq_push(&q, &n[i]), 0);
    }
    KEXPECT_EQ(k_runq_push(&q, &n[0]), -K_EINVAL); /* already queued */
    KEXPECT_EQ(k_runq_count(&q), 6);
    KEXPECT_EQ(k_runq_check(&q), 0);
    KEXPECT(k_runq_peek(&q) == &n[1]);
    for (int i = 0; i < 6; i++)
        KEXPECT(k_runq_pop(&q) == &n[order[i]]);
    KEXPECT(k_runq_pop(&q) == NULL);
}

KTEST_CASE(proc, spawn_wait_reap)
{
    uint32_t free0 = k_proc_count(K_UNUSED);
    uint32_t frames0 = k_frames_free_count(k_kmem_frames());
    int status = -1;
    int pid = k_ktest_run_prog("/bin/true", "", &status);
    KEXPECT(pid > 1);
    KEXPECT_EQ(status, 0);
    KEXPECT(k_proc_find(pid) == NULL); /* reaped */
    KEXPECT_EQ(k_proc_count(K_UNUSED), free0);
    KEXPECT_EQ(k_frames_free_count(k_kmem_frames()), frames0); /* nothing leaked */
    KEXPECT_EQ(k_proc_wait(-1, &status), -K_ECHILD);
}

KTEST_CASE(proc, spawn_refused)
{
    uint32_t free0 = k_proc_count(K_UNUSED);
    KEXPECT_EQ(k_proc_spawn("/bin/nothere", ""), -K_ENOENT);
    KEXPECT_EQ(k_proc_spawn("/etc/motd", ""), -K_ENOEXEC);
    KEXPECT_EQ(k_proc_spawn("", ""), -K_ENOENT);
    KEXPECT_EQ(k_proc_count(K_UNUSED), free0);
}

KTEST_CASE(proc, table_full)
{
    static int pids[K_NPROC];
    uint32_t frames0 = k_frames_free_count(k_kmem_frames());
    int n = 0, pid;
    /* the children cannot run yet: the test thread is never preempted */
    while ((pid = k_proc_spawn("/bin/true", "")) > 0 && n < K_NPROC)
        pids[n++] = pid;
    KEXPECT_EQ(pid, -K_EAGAIN);
    KEXPECT_EQ(n, K_NPROC - 1); /* every slot but the test thread's */
    KEXPECT_EQ(k_proc_count(K_UNUSED), 0);
    for (int i = 0; i < n; i++) {
        int status = -1;
        KEXPECT_EQ(k_proc_wait(pids[i], &status), pids[i]);
        KEXPECT_EQ(status, 0);
    }
    KEXPECT_EQ(k_proc_count(K_UNUSED), K_NPROC - 1);
    KEXPECT_EQ(k_frames_free_count(k_kmem_frames()), frames0);
}

KTEST_CASE(sched, preemption)
{
    uint32_t pre0 = k_sched_preemptions();
    int hog = k_proc_spawn("/bin/hog", "10");
    KEXPECT(hog > 0);
    int status = -1;
    int tpid = k_ktest_run_prog("/bin/true", "", &status);
    KEXPECT(tpid > 0);
    struct k_proc *h = k_proc_find(hog);
    /* /bin/true finished while the hog was still spinning: the timer preempted it */
    KEXPECT(h != NULL && h->state != K_ZOMBIE);
    KEXPECT_EQ(k_proc_wait(hog, &status), hog);
    KEXPECT_EQ(status, 0);
    KEXPECT(k_sched_preemptions() > pre0);
}

KTEST_CASE(sched, strict_priority)
{
    int low = k_proc_spawn("/bin/hog", "3");
    KEXPECT(low > 0);
    k_sched_set_prio(k_proc_find(low), 2);
    int high = k_proc_spawn("/bin/hog", "3");
    KEXPECT(high > 0);
    int status = -1;
    KEXPECT_EQ(k_proc_wait(-1, &status), high); /* the better priority finishes first */
    KEXPECT_EQ(k_proc_wait(-1, &status), low);
}

KTEST_CASE(sched, sleep_and_ticks)
{
    uint32_t t0 = k_ticks();
    k_sched_sleep_ticks(3); /* the kernel thread sleeps; idle halts meanwhile */
    uint32_t dt = k_ticks() - t0;
    KEXPECT(dt >= 3 && dt < 10);
    uint32_t sw = k_sched_switches();
    KEXPECT(sw > 0);
}

static void expect_killed(struct k_tctx *t, const char *kind, int vector)
{
    int status = 0;
    int pid = k_ktest_run_prog("/bin/fault", kind, &status);
    if (pid <= 0) {
        k_ktest_fail(t, __FILE__, __LINE__, "spawn /bin/fault %s: %d", kind, pid);
        return;
    }
    if (status != K_KILLED_STATUS + vector)
        k_ktest_fail(t, __FILE__, __LINE__, "fault %s: status %d, expected %d", kind, status,
                     K_KILLED_STATUS + vector);
}

KTEST_CASE(fault, null_deref)
{
    expect_killed(t, "null", K_T_PGFLT);
}

KTEST_CASE(fault, kernel_memory)
{
    expect_killed(t, "kread", K_T_PGFLT);
    expect_killed(t, "kwrite", K_T_PGFLT);
}

KTEST_CASE(fault, unmapped_hole)
{
    expect_killed(t, "hole", K_T_PGFLT);
}

KTEST_CASE(fault, readonly_text)
{
    expect_killed(t, "ro", K_T_PGFLT);
}

KTEST_CASE(fault, privileged_insn)
{
    expect_killed(t, "gpf", K_T_GPF);
}

KTEST_CASE(fault, divide_error)
{
    expect_killed(t, "div", K_T_DIVIDE);
}

KTEST_CASE(fault, invalid_opcode)
{
    expect_killed(t, "ud", 6);
}

KTEST_CASE(fault, others_keep_running)
{
    uint32_t frames0 = k_frames_free_count(k_kmem_frames());
    int hog = k_proc_spawn("/bin/hog", "3");
    KEXPECT(hog > 0);
    expect_killed(t, "null", K_T_PGFLT);
    if (t->failed)
        return;
    int status = -1;
    KEXPECT_EQ(k_proc_wait(hog, &status), hog);
    KEXPECT_EQ(status, 0);
    KEXPECT_EQ(k_frames_free_count(k_kmem_frames()), frames0);
}

/*
 * sched.c - preemptive priority round robin (see sched.h for the locking rule). The run
 * queue (proc/runq.c) holds every RUNNABLE process; the running one is not in it. The idle
 * thread is never queued: it runs when the queue is empty and halts until an interrupt.
 * A time slice is K_SLICE_TICKS PIT ticks; a process made ready with a better (lower)
 * priority than the running one preempts it on its next return to user mode.
 */
#include "proc/sched.h"

#include "arch/gdt.h"
#include "arch/pit.h"
#include "arch/x86.h"
#include "mm/paging.h"
#include "proc/proc.h"

#define NODE_PROC(n) ((struct k_proc *)((char *)(n) - offsetof(struct k_proc, rq)))

static struct k_runq k_rq;
static struct k_proc *k_cur;
static struct k_proc *k_idle;
static bool k_need_resched;
static uint32_t k_nswitch, k_npreempt;
static int k_timer_chan;

void k_sched_init(struct k_proc *boot, struct k_proc *idle)
{
    k_runq_init(&k_rq);
    k_cur = boot;
    k_idle = idle;
}

struct k_proc *k_proc_current(void)
{
    return k_cur;
}

void k_sched_ready(struct k_proc *p)
{
    kassert(p != k_idle && !p->rq.queued && p->state != K_ZOMBIE && p->state != K_UNUSED);
    p->state = K_RUNNABLE;
    int rc = k_runq_push(&k_rq, &p->rq);
    kassert(rc == 0);
    if (k_cur != NULL && p->rq.prio < k_cur->rq.prio)
        k_need_resched = true;
}

static void switch_to(struct k_proc *next)
{
    struct k_proc *prev = k_cur;
    if (prev->kstack != NULL && prev != k_idle &&
        *(uint32_t *)(void *)prev->kstack != K_KSTACK_MAGIC)
        kpanic("kernel stack overflow in pid %d (%s)", prev->pid, prev->name);
    k_cur = next;
    next->state = K_RUNNING;
    next->slice = K_SLICE_TICKS;
    if (next->kstack != NULL)
        k_gdt_set_kstack((uint32_t)(uintptr_t)(next->kstack + K_KSTACK));
    k_pd_switch(next->pd);
    k_nswitch++;
    k_switch(&prev->kesp, next->kesp);
}

/* Run the best queued process (or idle); the caller has queued or blocked the current one. */
static void schedule(void)
{
    kassert(!(k_eflags() & K_EFLAGS_IF));
    k_need_resched = false;
    struct k_runq_node *n = k_runq_pop(&k_rq);
    struct k_proc *next = n != NULL ? NODE_PROC(n) : k_idle;
    kassert(next == k_idle || next->state == K_RUNNABLE);
#ifdef K_DEBUG
    kassert(k_runq_check(&k_rq) == 0);
#endif
    if (next == k_cur) {
        k_cur->state = K_RUNNING;
        return;
    }
    switch_to(next);
}

void k_sched_yield(void)
{
    if (k_cur != k_idle)
        k_sched_ready(k_cur);
    schedule();
}

void k_sched_block(void)
{
    kassert(k_cur->state != K_RUNNING || k_cur == k_idle);
    schedule();
}

void k_sleep_on(const void *chan)
{
    kassert(k_cur != k_idle);
    k_cur->wchan = chan;
    k_cur->state = K_SLEEPING;
    schedule();
    k_cur->wchan = NULL;
}

void k_wakeup(const void *chan)
{
    for (int i = 0; i < K_NPROC; i++) {
        struct k_proc *p = k_proc_at(i);
        if (p->state == K_SLEEPING && p->wchan == chan)
            k_sched_ready(p);
    }
}

/* Wake the timed sleepers whose tick has come. */
static void wake_timers(uint32_t now)
{
    for (int i = 0; i < K_NPROC; i++) {
        struct k_proc *p = k_proc_at(i);
        if (p->state == K_SLEEPING && p->wchan == &k_timer_chan &&
            (int32_t)(now - p->wake_tick) >= 0)
            k_sched_ready(p);
    }
}

void k_sched_sleep_ticks(uint32_t ticks)
{
    k_cur->wake_tick = k_ticks() + ticks;
    while ((int32_t)(k_ticks() - k_cur->wake_tick) < 0)
        k_sleep_on(&k_timer_chan);
}

void k_sched_set_prio(struct k_proc *p, uint8_t prio)
{
    kassert(prio < K_NPRIO);
    if (p->rq.queued) {
        k_runq_remove(&k_rq, &p->rq);
        p->rq.prio = prio;
        k_sched_ready(p);
    } else {
        p->rq.prio = prio;
    }
}

void k_sched_tick(struct k_trapframe *tf, uint32_t now)
{
    wake_timers(now);
    if (k_trap_from_user(tf) && k_cur != k_idle && k_cur->slice > 0 && --k_cur->slice == 0) {
        k_need_resched = true;
        k_npreempt++;
    }
}

void k_sched_user_return(struct k_trapframe *tf)
{
    (void)tf;
    if (k_need_resched)
        k_sched_yield();
}

uint32_t k_sched_switches(void)
{
    return k_nswitch;
}

uint32_t k_sched_preemptions(void)
{
    return k_npreempt;
}

_Noreturn void k_sched_idle(void)
{
    for (;;) {
        if (k_runq_count(&k_rq) > 0)
            schedule();
        else {
            k_sti_hlt();
            k_cli();
        }
    }
}

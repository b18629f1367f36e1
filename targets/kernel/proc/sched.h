/*
 * sched.h - the scheduler: preemptive priority round robin over k_runq (proc/runq.h), the
 * PIT tick as the clock, sleep/wakeup on channels.
 *
 * Locking rule (uniprocessor): the kernel runs with interrupts off, except where it waits
 * (the idle loop and k_pit_wait halt with interrupts on); user mode always runs with them
 * on. So kernel code is never preempted: a process is switched out only when it blocks,
 * yields, or on its way back to user mode (time slice over, or a higher priority process
 * became ready).
 */
#ifndef K_SCHED_H
#define K_SCHED_H

#include "arch/trap.h"
#include "lib/klib.h"

struct k_proc;

#define K_SLICE_TICKS 2u

void k_sched_init(struct k_proc *boot, struct k_proc *idle);
/* Make p runnable (queued at its priority). */
void k_sched_ready(struct k_proc *p);
/* Give up the processor, staying runnable. */
void k_sched_yield(void);
/* Switch away from the current process, whose state the caller already changed. */
void k_sched_block(void);
/* Sleep on chan until k_wakeup(chan). */
void k_sleep_on(const void *chan);
void k_wakeup(const void *chan);
/* Sleep for ticks timer ticks. */
void k_sched_sleep_ticks(uint32_t ticks);
/* Change p's priority (0 highest .. K_NPRIO-1), requeueing it when queued. */
void k_sched_set_prio(struct k_proc *p, uint8_t prio);
/* Timer interrupt: wake timed sleepers, account the time slice. */
void k_sched_tick(struct k_trapframe *tf, uint32_t now);
/* Before returning to user mode: yield if a reschedule is due. */
void k_sched_user_return(struct k_trapframe *tf);
/* Context switches since boot, and timer preemptions. */
uint32_t k_sched_switches(void);
uint32_t k_sched_preemptions(void);
/* The idle thread's body. */
_Noreturn void k_sched_idle(void);

/* arch/switch.S: save callee-saved registers and esp into *save_esp, load next_esp. */
void k_switch(uint32_t *save_esp, uint32_t next_esp);

#endif

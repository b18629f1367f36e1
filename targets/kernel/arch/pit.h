/*
 * pit.h - the 8254 programmable interval timer (Intel 8254 datasheet): channel 0 drives the
 * scheduler tick (IRQ 0) at K_HZ.
 */
#ifndef K_PIT_H
#define K_PIT_H

#include "lib/klib.h"

#define K_HZ 100u
#define K_PIT_INPUT_HZ 1193182u

void k_pit_init(void);
/* Timer ticks since k_pit_init. */
uint32_t k_ticks(void);
/* Halt (interrupts on) until cond() is true or ticks have passed; whether cond() held.
 * Runs with interrupts off again on return. */
bool k_pit_wait(bool (*cond)(void), uint32_t ticks);

/* Like k_pit_wait, but spin (interrupts on, no halt) for the first busy ticks. Under QEMU's
 * -icount sleep=off a halted guest's clock leaps to the next timer at once, so input the
 * host sends a few milliseconds later (keys, a serial byte) would arrive after a halting
 * wait has already timed out; spinning keeps guest time in step with execution. cond must
 * be cheap (no port I/O). */
bool k_pit_spin_wait(bool (*cond)(void), uint32_t busy, uint32_t ticks);
/* Spin in bursts of nops (guest time runs fast under -icount, about real time otherwise)
 * until cond() or ticks have passed: for input whose remaining parts QEMU delivers on its
 * own virtual clock (the hold times of send-key). */
bool k_pit_burst_wait(bool (*cond)(void), uint32_t ticks);

#endif

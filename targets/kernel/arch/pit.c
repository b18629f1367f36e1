/*
 * pit.c - 8254 PIT channel 0 in mode 2 (rate generator) at K_HZ (Intel 8254 datasheet,
 * control word: SC=00, RW=11 lobyte/hibyte, M=010, BCD=0). Each IRQ 0 counts a tick and
 * lets the scheduler account the running process's time slice and wake sleepers.
 */
#include "arch/pit.h"

#include "arch/pic.h"
#include "arch/trap.h"
#include "arch/x86.h"
#include "proc/sched.h"

#define PIT_CH0 0x40
#define PIT_CMD 0x43

static volatile uint32_t k_tick_count;

static void pit_irq(struct k_trapframe *tf)
{
    k_tick_count++;
    k_sched_tick(tf, k_tick_count);
}

void k_pit_init(void)
{
    uint32_t div = (K_PIT_INPUT_HZ + K_HZ / 2) / K_HZ;
    k_outb(PIT_CMD, 0x34);
    k_outb(PIT_CH0, (uint8_t)(div & 0xff));
    k_outb(PIT_CH0, (uint8_t)(div >> 8));
    k_irq_register(0, pit_irq);
    k_pic_unmask(0);
}

uint32_t k_ticks(void)
{
    return k_tick_count;
}

bool k_pit_wait(bool (*cond)(void), uint32_t ticks)
{
    uint32_t start = k_tick_count;
    for (;;) {
        if (cond != NULL && cond())
            return true;
        if (k_tick_count - start >= ticks)
            return false;
        k_sti_hlt();
        k_cli();
    }
}

/* A straight run of 256 nops: under -icount one translated block that advances guest time
 * by 256 ns at once, so the guest clock runs much faster than with a tight loop (whose
 * per-block overhead makes guest time crawl). */
static void spin_burst(void)
{
    __asm__ volatile(".rept 256\n\tnop\n\t.endr" ::: "memory");
}

bool k_pit_burst_wait(bool (*cond)(void), uint32_t ticks)
{
    uint32_t start = k_tick_count;
    bool ok = false;
    k_sti();
    while (k_tick_count - start < ticks && !(ok = cond()))
        spin_burst();
    k_cli();
    return ok;
}

bool k_pit_spin_wait(bool (*cond)(void), uint32_t busy, uint32_t ticks)
{
    uint32_t start = k_tick_count;
    k_sti();
    while (k_tick_count - start < busy && !cond())
        __asm__ volatile("pause");
    k_cli();
    uint32_t spent = k_tick_count - start;
    return k_pit_wait(cond, ticks > spent ? ticks - spent : 0);
}

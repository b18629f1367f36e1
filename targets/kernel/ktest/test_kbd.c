/*
 * test_kbd.c - in-guest tests of the PS/2 keyboard (dev/kbd.c): set-1 scan code
 * translation, and the keys the lab types through QEMU's sendkey ("lab" and Enter) once it
 * sees "LAB WAITKEY" on the serial line (skipped when none arrive within WAIT_SECONDS).
 */
#include "arch/pit.h"
#include "dev/kbd.h"
#include "ktest/ktest.h"
#include "lib/kprintf.h"

#define WAIT_SECONDS 2u
#define SPIN_TICKS (K_HZ / 2)

KTEST_CASE(kbd, translate)
{
    KEXPECT_EQ(k_kbd_translate(0x1e), 'a');
    KEXPECT_EQ(k_kbd_translate(0x9e), -1); /* break */
    KEXPECT_EQ(k_kbd_translate(0x2a), -1); /* left shift down */
    KEXPECT_EQ(k_kbd_translate(0x26), 'L');
    KEXPECT_EQ(k_kbd_translate(0x02), '!');
    KEXPECT_EQ(k_kbd_translate(0xaa), -1); /* left shift up */
    KEXPECT_EQ(k_kbd_translate(0x1c), '\n');
    KEXPECT_EQ(k_kbd_translate(0xe0), -1); /* extended prefix: next key ignored */
    KEXPECT_EQ(k_kbd_translate(0x48), -1);
    KEXPECT_EQ(k_kbd_translate(0x30), 'b');
}

static char k_typed[8];
static uint32_t k_ntyped;

static bool typed_enough(void)
{
    int c;
    while (k_ntyped < 4 && (c = k_kbd_getc()) >= 0)
        k_typed[k_ntyped++] = (char)c;
    return k_ntyped >= 4;
}

static bool any_key(void)
{
    return typed_enough() || k_ntyped > 0;
}

KTEST_CASE(kbd, typed)
{
    k_kbd_drain();
    k_ntyped = 0;
    k_printf("LAB WAITKEY\n");
    /* spin until the first key (see k_pit_spin_wait on -icount sleep=off), then let QEMU's
     * virtual-clock key queue deliver the rest quickly */
    uint32_t t0 = k_ticks();
    k_pit_spin_wait(any_key, SPIN_TICKS, WAIT_SECONDS * K_HZ);
    uint32_t spent = k_ticks() - t0;
    if (spent < WAIT_SECONDS * K_HZ)
        k_pit_burst_wait(typed_enough, WAIT_SECONDS * K_HZ - spent);
    if (k_ntyped == 0)
        KSKIP("no keys sent");
    KEXPECT_EQ(k_ntyped, 4);
    KEXPECT_EQ(memcmp(k_typed, "lab\n", 4), 0);
}

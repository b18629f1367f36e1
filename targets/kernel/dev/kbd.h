/*
 * kbd.h - the PS/2 keyboard behind the i8042 controller (IRQ 1), scan code set 1 translated
 * to ASCII (US layout) into a ring buffer.
 */
#ifndef K_KBD_H
#define K_KBD_H

#include "lib/klib.h"

void k_kbd_init(void);
/* One typed character, or -1 when none is waiting. */
int k_kbd_getc(void);
/* Drop every character typed so far. */
void k_kbd_drain(void);
/* Translate one set-1 scan code (make or break) with the current modifier state; the
 * ASCII character for a make code of a printable key, else -1. Exposed for tests. */
int k_kbd_translate(uint8_t scancode);

#endif

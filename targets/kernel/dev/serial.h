/*
 * serial.h - COM1, a 16550 UART (National Semiconductor PC16550D datasheet) at 115200 8N1:
 * polled output, interrupt-driven input (IRQ 4) into a ring buffer.
 */
#ifndef K_SERIAL_H
#define K_SERIAL_H

#include "lib/klib.h"

void k_serial_init(void);
/* Enable the receive interrupt (after the PIC and IDT are set up). */
void k_serial_enable_irq(void);
void k_serial_putc(char c);
void k_serial_write(const char *s, size_t n);
/* One received byte, or -1 when none is waiting. */
int k_serial_getc(void);
/* Whether the receive interrupt has queued a byte (no port access: cheap to spin on). */
bool k_serial_pending(void);
/* Drop every byte received so far. */
void k_serial_drain(void);

#endif

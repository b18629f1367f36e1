/*
 * console.c - the console device: writes go to the 16550 serial port and the VGA text
 * screen; reads take keyboard characters first, then serial ones. Input interrupts wake the
 * processes sleeping on the console channel (proc/sched.h sleep/wakeup).
 */
#include "dev/console.h"

#include "dev/kbd.h"
#include "dev/serial.h"
#include "dev/vga.h"
#include "proc/sched.h"

static int k_cons_channel;

void k_cons_write(const char *s, size_t n)
{
    k_serial_write(s, n);
    k_vga_write(s, n);
}

size_t k_cons_read(char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        int c = k_kbd_getc();
        if (c < 0)
            c = k_serial_getc();
        if (c < 0)
            break;
        buf[got++] = c == '\r' ? '\n' : (char)c;
    }
    return got;
}

void k_cons_input_ready(void)
{
    k_wakeup(&k_cons_channel);
}

const void *k_cons_chan(void)
{
    return &k_cons_channel;
}

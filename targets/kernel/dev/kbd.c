/*
 * kbd.c - PS/2 keyboard (IBM PC AT technical reference, 8042 controller: data port 0x60,
 * status port 0x64 bit 0 = output buffer full). The controller translates to scan code set
 * 1: a make code below 0x80, its break code with bit 7 set; 0xE0 prefixes extended keys
 * (ignored here). Shift and caps lock are tracked; ctrl+letter gives the control code.
 */
#include "dev/kbd.h"

#include "arch/pic.h"
#include "arch/trap.h"
#include "arch/x86.h"
#include "dev/console.h"

#define KBD_DATA 0x60
#define KBD_STATUS 0x64
#define RING 128u

static const char k_kbd_plain[0x3a] = {
    0, 27, '1', '2', '3', '4', '5', '6', '7', '8', '9', '0', '-', '=', '\b', '\t',
    'q', 'w', 'e', 'r', 't', 'y', 'u', 'i', 'o', 'p', '[', ']', '\n', 0, 'a', 's',
    'd', 'f', 'g', 'h', 'j', 'k', 'l', ';', '\'', '`', 0, '\\', 'z', 'x', 'c', 'v',
    'b', 'n', 'm', ',', '.', '/', 0, '*', 0, ' ',
};
static const char k_kbd_shift[0x3a] = {
    0, 27, '!', '@', '#', '$', '%', '^', '&', '*', '(', ')', '_', '+', '\b', '\t',
    'Q', 'W', 'E', 'R', 'T', 'Y', 'U', 'I', 'O', 'P', '{', '}', '\n', 0, 'A', 'S',
    'D', 'F', 'G', 'H', 'J', 'K', 'L', ':', '"', '~', 0, '|', 'Z', 'X', 'C', 'V',
    'B', 'N', 'M', '<', '>', '?', 0, '*', 0, ' ',
};

#define SC_LSHIFT 0x2a
#define SC_RSHIFT 0x36
#define SC_CTRL 0x1d
#define SC_CAPS 0x3a

static bool k_kbd_shifted, k_kbd_ctrl, k_kbd_caps, k_kbd_ext;
static char k_kbd_ring[RING];
static volatile uint32_t k_kbd_head, k_kbd_tail;

int k_kbd_translate(uint8_t sc)
{
    if (sc == 0xe0) {
        k_kbd_ext = true;
        return -1;
    }
    bool ext = k_kbd_ext, brk = (sc & 0x80) != 0;
    k_kbd_ext = false;
    uint8_t code = sc & 0x7f;
    if (code == SC_LSHIFT || code == SC_RSHIFT) {
        k_kbd_shifted = !brk;
        return -1;
    }
    if (code == SC_CTRL) {
        k_kbd_ctrl = !brk;
        return -1;
    }
    if (brk || ext)
        return -1;
    if (code == SC_CAPS) {
        k_kbd_caps = !k_kbd_caps;
        return -1;
    }
    if (code >= sizeof k_kbd_plain)
        return -1;
    char c = k_kbd_shifted ? k_kbd_shift[code] : k_kbd_plain[code];
    if (k_kbd_caps && c >= 'a' && c <= 'z')
        c = (char)(c - 'a' + 'A');
    else if (k_kbd_caps && c >= 'A' && c <= 'Z')
        c = (char)(c - 'A' + 'a');
    if (k_kbd_ctrl && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
        c = (char)((c & 0x1f));
    return c == 0 ? -1 : (unsigned char)c;
}

static void kbd_irq(struct k_trapframe *tf)
{
    (void)tf;
    bool got = false;
    while (k_inb(KBD_STATUS) & 0x01) {
        int c = k_kbd_translate(k_inb(KBD_DATA));
        if (c >= 0 && k_kbd_head - k_kbd_tail < RING) {
            k_kbd_ring[k_kbd_head++ % RING] = (char)c;
            got = true;
        }
    }
    if (got)
        k_cons_input_ready();
}

void k_kbd_init(void)
{
    while (k_inb(KBD_STATUS) & 0x01) /* flush what the firmware left */
        (void)k_inb(KBD_DATA);
    k_irq_register(1, kbd_irq);
    k_pic_unmask(1);
}

int k_kbd_getc(void)
{
    if (k_kbd_head == k_kbd_tail)
        return -1;
    return (unsigned char)k_kbd_ring[k_kbd_tail++ % RING];
}

void k_kbd_drain(void)
{
    while (k_kbd_getc() >= 0)
        ;
}

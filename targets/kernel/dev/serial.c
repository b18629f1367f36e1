/*
 * serial.c - COM1 16550 UART (PC16550D datasheet): divisor latch 1 (115200 baud), 8 data
 * bits, no parity, 1 stop bit, FIFOs on. Output polls LSR.THRE; input arrives on IRQ 4
 * (IER.ERBFI, MCR.OUT2 routes the interrupt to the PIC) and goes to a ring buffer that
 * console reads drain; the console is told so it can wake a blocked reader.
 */
#include "dev/serial.h"

#include "arch/pic.h"
#include "arch/trap.h"
#include "arch/x86.h"
#include "dev/console.h"

#define COM1 0x3f8
#define REG_DATA 0
#define REG_IER 1
#define REG_FCR 2
#define REG_LCR 3
#define REG_MCR 4
#define REG_LSR 5
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define RING 256u

static uint8_t k_ser_ring[RING];
static volatile uint32_t k_ser_head, k_ser_tail;

void k_serial_init(void)
{
    k_outb(COM1 + REG_IER, 0x00);
    k_outb(COM1 + REG_LCR, 0x80); /* DLAB */
    k_outb(COM1 + REG_DATA, 0x01); /* divisor low: 115200 */
    k_outb(COM1 + REG_IER, 0x00);  /* divisor high */
    k_outb(COM1 + REG_LCR, 0x03);  /* 8N1 */
    k_outb(COM1 + REG_FCR, 0xc7);  /* FIFO on, cleared, 14-byte threshold */
    k_outb(COM1 + REG_MCR, 0x0b);  /* DTR, RTS, OUT2 */
}

static void serial_irq(struct k_trapframe *tf)
{
    (void)tf;
    bool got = false;
    while (k_inb(COM1 + REG_LSR) & LSR_DR) {
        uint8_t c = k_inb(COM1 + REG_DATA);
        if (k_ser_head - k_ser_tail < RING)
            k_ser_ring[k_ser_head++ % RING] = c;
        got = true;
    }
    if (got)
        k_cons_input_ready();
}

void k_serial_enable_irq(void)
{
    k_irq_register(4, serial_irq);
    k_outb(COM1 + REG_IER, 0x01);
    k_pic_unmask(4);
}

void k_serial_putc(char c)
{
    for (uint32_t spin = 0; spin < 100000u && !(k_inb(COM1 + REG_LSR) & LSR_THRE); spin++)
        ;
    k_outb(COM1 + REG_DATA, (uint8_t)c);
}

void k_serial_write(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        k_serial_putc(s[i]);
}

int k_serial_getc(void)
{
    if (k_ser_head == k_ser_tail) {
        /* also poll, in case the interrupt is not enabled yet */
        if (!(k_inb(COM1 + REG_LSR) & LSR_DR))
            return -1;
        return k_inb(COM1 + REG_DATA);
    }
    return k_ser_ring[k_ser_tail++ % RING];
}

bool k_serial_pending(void)
{
    return k_ser_head != k_ser_tail;
}

void k_serial_drain(void)
{
    while (k_serial_getc() >= 0)
        ;
}

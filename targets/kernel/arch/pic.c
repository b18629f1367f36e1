/*
 * pic.c - 8259A programmable interrupt controllers (Intel 8259A datasheet, ICW1-ICW4 and
 * OCW2/OCW3): master at 0x20, slave at 0xA0 on the master's IR2, edge triggered, 8086 mode,
 * vector bases 32 and 40. Everything starts masked except the cascade line.
 */
#include "arch/pic.h"

#include "arch/x86.h"

#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xA0
#define PIC2_DATA 0xA1
#define ICW1_INIT_ICW4 0x11
#define ICW4_8086 0x01
#define OCW2_EOI 0x20
#define OCW3_READ_ISR 0x0b

static uint16_t k_pic_masks = 0xffffu & ~(1u << 2);

static void pic_write_masks(void)
{
    k_outb(PIC1_DATA, (uint8_t)(k_pic_masks & 0xff));
    k_outb(PIC2_DATA, (uint8_t)(k_pic_masks >> 8));
}

void k_pic_init(void)
{
    k_outb(PIC1_CMD, ICW1_INIT_ICW4);
    k_outb(PIC2_CMD, ICW1_INIT_ICW4);
    k_outb(PIC1_DATA, 32);   /* ICW2: master vector base */
    k_outb(PIC2_DATA, 40);   /* ICW2: slave vector base */
    k_outb(PIC1_DATA, 1u << 2); /* ICW3: slave on IR2 */
    k_outb(PIC2_DATA, 2);    /* ICW3: slave identity */
    k_outb(PIC1_DATA, ICW4_8086);
    k_outb(PIC2_DATA, ICW4_8086);
    pic_write_masks();
}

void k_pic_unmask(int irq)
{
    kassert(irq >= 0 && irq < 16);
    k_pic_masks &= (uint16_t)~(1u << irq);
    pic_write_masks();
}

void k_pic_mask(int irq)
{
    kassert(irq >= 0 && irq < 16);
    k_pic_masks |= (uint16_t)(1u << irq);
    pic_write_masks();
}

void k_pic_eoi(int irq)
{
    if (irq >= 8)
        k_outb(PIC2_CMD, OCW2_EOI);
    k_outb(PIC1_CMD, OCW2_EOI);
}

bool k_pic_is_real(int irq)
{
    uint16_t port = irq >= 8 ? PIC2_CMD : PIC1_CMD;
    k_outb(port, OCW3_READ_ISR);
    return (k_inb(port) & (1u << (irq & 7))) != 0;
}

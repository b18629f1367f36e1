/*
 * pic.h - the two cascaded 8259A interrupt controllers (Intel 8259A datasheet), remapped to
 * vectors 32-47.
 */
#ifndef K_PIC_H
#define K_PIC_H

#include "lib/klib.h"

void k_pic_init(void);
void k_pic_unmask(int irq);
void k_pic_mask(int irq);
void k_pic_eoi(int irq);
/* Whether irq (7 or 15) is a real interrupt rather than a spurious one (ISR bit set). */
bool k_pic_is_real(int irq);

#endif

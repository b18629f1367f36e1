/*
 * qexit.c - QEMU's isa-debug-exit device (QEMU hw/misc/debugexit.c): a 32-bit write to port
 * 0xf4 ends the emulator. Without the device (real hardware, other setups) we halt forever.
 */
#include "dev/qexit.h"

#include "arch/x86.h"

#define QEXIT_PORT 0xf4

_Noreturn void k_qexit(uint32_t value)
{
    k_cli();
    k_outl(QEXIT_PORT, value);
    for (;;)
        __asm__ volatile("hlt");
}

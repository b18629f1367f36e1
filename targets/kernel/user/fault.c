/*
 * fault.c - /bin/fault <kind>: does one thing the kernel must kill it for (the kernel and
 * the other processes keep running; its wait status is 128 + the exception vector):
 *   null   write to address 0 (page fault, 142)     kread  read kernel memory (142)
 *   kwrite write kernel memory (142)                hole   touch an unmapped user address
 *   gpf    execute cli in ring 3 (GPF, 141)         div    divide by zero (128)
 *   ud     ud2 (invalid opcode, 134)                ro     write to its own text (142)
 * Returning means the fault did not happen: exit status 0 tells the test so.
 */
#include "ulib.h"

int main(const char *arg)
{
    if (strcmp(arg, "null") == 0)
        *(volatile int *)0 = 1;
    else if (strcmp(arg, "kread") == 0)
        (void)*(volatile int *)0x100000;
    else if (strcmp(arg, "kwrite") == 0)
        *(volatile int *)0x100000 = 1;
    else if (strcmp(arg, "hole") == 0)
        (void)*(volatile int *)0x7ffff000;
    else if (strcmp(arg, "gpf") == 0)
        __asm__ volatile("cli");
    else if (strcmp(arg, "div") == 0) {
        volatile int zero = 0;
        volatile int x = 10 / zero;
        (void)x;
    } else if (strcmp(arg, "ud") == 0)
        __asm__ volatile("ud2");
    else if (strcmp(arg, "ro") == 0)
        *(volatile uint8_t *)(uintptr_t)&main = 0xcc;
    u_printf("fault: %s did not fault\n", arg);
    return 0;
}

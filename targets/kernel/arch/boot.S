/*
 * boot.S - kernel entry from a Multiboot 0.6.96 loader (QEMU -kernel): the header asks for
 * page-aligned modules and the memory information (flags bits 0 and 1); the loader enters
 * _start in 32-bit protected mode, paging off, with eax = 0x2BADB002 and ebx = the physical
 * address of the multiboot information. We set up the boot stack and call kmain(magic, info).
 */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003

    .section .multiboot, "a"
    .align 4
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)

    .section .bss
    .align 16
    .globl k_boot_stack
k_boot_stack:
    .skip 16384
    .globl k_boot_stack_top
k_boot_stack_top:

    .section .text
    .globl _start
_start:
    cli
    cld
    movl $k_boot_stack_top, %esp
    xorl %ebp, %ebp
    pushl %ebx
    pushl %eax
    call kmain
1:  cli
    hlt
    jmp 1b

    .section .note.GNU-stack, "", @progbits

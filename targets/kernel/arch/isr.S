/*
 * isr.S - interrupt entry stubs (Intel SDM vol. 3, 6.12: exception and interrupt handling).
 * Every stub pushes a zero error code when the CPU does not push one, then its vector, and
 * jumps to the common path which saves the segment and general registers into a
 * struct k_trapframe (arch/trap.h), loads the kernel data segments and calls k_trap(tf).
 * k_trapret restores the frame and irets; a new process starts there too.
 * k_isr_vectors[i] is the entry of vector i for i in 0..47; k_isr_syscall is int 0x80.
 */
    .section .text

.macro ISR_NOERR n
    .align 4
isr\n:
    pushl $0
    pushl $\n
    jmp k_isr_common
.endm

.macro ISR_ERR n
    .align 4
isr\n:
    pushl $\n
    jmp k_isr_common
.endm

/* Exceptions that push an error code: 8, 10-14, 17, 21, 29, 30. */
ISR_NOERR 0
ISR_NOERR 1
ISR_NOERR 2
ISR_NOERR 3
ISR_NOERR 4
ISR_NOERR 5
ISR_NOERR 6
ISR_NOERR 7
ISR_ERR 8
ISR_NOERR 9
ISR_ERR 10
ISR_ERR 11
ISR_ERR 12
ISR_ERR 13
ISR_ERR 14
ISR_NOERR 15
ISR_NOERR 16
ISR_ERR 17
ISR_NOERR 18
ISR_NOERR 19
ISR_NOERR 20
ISR_ERR 21
ISR_NOERR 22
ISR_NOERR 23
ISR_NOERR 24
ISR_NOERR 25
ISR_NOERR 26
ISR_NOERR 27
ISR_NOERR 28
ISR_ERR 29
ISR_ERR 30
ISR_NOERR 31
.irp n, 32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47
ISR_NOERR \n
.endr

    .globl k_isr_syscall
    .align 4
k_isr_syscall:
    pushl $0
    pushl $0x80
    jmp k_isr_common

k_isr_common:
    pushal
    pushl %ds
    pushl %es
    pushl %fs
    pushl %gs
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %fs
    movw %ax, %gs
    cld
    pushl %esp
    call k_trap
    addl $4, %esp
    .globl k_trapret
k_trapret:
    popl %gs
    popl %fs
    popl %es
    popl %ds
    popal
    addl $8, %esp
    iret

    .section .rodata
    .align 4
    .globl k_isr_vectors
k_isr_vectors:
.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .long isr\n
.endr
.irp n, 32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47
    .long isr\n
.endr

    .section .note.GNU-stack, "", @progbits

/*
 * switch.S - kernel context switch (System V i386 ABI: ebx, esi, edi, ebp are callee-saved).
 * k_switch(uint32_t *save_esp, uint32_t next_esp) pushes the callee-saved registers on the
 * current kernel stack, stores esp in *save_esp, loads next_esp and pops the other context's
 * registers; the ret resumes it where it called k_switch (or at the entry a new process's
 * stack was prepared with: k_trapret for a user process, the thread function otherwise).
 */
    .section .text
    .globl k_switch
k_switch:
    movl 4(%esp), %eax
    movl 8(%esp), %edx
    pushl %ebp
    pushl %ebx
    pushl %esi
    pushl %edi
    movl %esp, (%eax)
    movl %edx, %esp
    popl %edi
    popl %esi
    popl %ebx
    popl %ebp
    ret

    .section .note.GNU-stack, "", @progbits

/*
 * true: the program kbench's spawn workload starts (vfork + execve + waitpid).
 *
 * No C library: _start makes the exit_group(0) system call, so a spawn measures the
 * kernel's process creation, exec and teardown, not libc start-up (the bare-metal kernel's
 * /bin/true is as small). Built with gcc -static -nostdlib -O2.
 */
#include <sys/syscall.h>

void _start(void) __attribute__((noreturn));

void _start(void)
{
    __asm__ volatile("syscall" : : "a"(SYS_exit_group), "D"(0) : "rcx", "r11", "memory");
    __builtin_unreachable();
}

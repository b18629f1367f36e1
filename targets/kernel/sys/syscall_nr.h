/*
 * syscall_nr.h - the system call ABI shared by the kernel and user programs.
 *
 * int $0x80 with the number in eax and arguments in ebx, ecx, edx, esi, edi; the result comes
 * back in eax, a negative K_E* error on failure. Pointer arguments are checked with
 * k_uaccess_check: a bad pointer gives -K_EFAULT, never a kernel fault.
 */
#ifndef K_SYSCALL_NR_H
#define K_SYSCALL_NR_H

#define K_SYS_EXIT 1    /* exit(status): never returns */
#define K_SYS_WRITE 2   /* write(fd, buf, len): fd 1 and 2 = console (serial + VGA) */
#define K_SYS_READ 3    /* read(fd, buf, len): fd 0 = keyboard/serial input, else an open file */
#define K_SYS_SPAWN 4   /* spawn(path, arg): new process running the program at path -> pid */
#define K_SYS_FORK 5    /* fork(): copy of the caller -> child pid / 0 in the child */
#define K_SYS_WAIT 6    /* wait(pid or -1, int *status) -> pid of the reaped child */
#define K_SYS_SLEEP 7   /* sleep(ms) */
#define K_SYS_GETPID 8  /* getpid() */
#define K_SYS_MMAP 9    /* mmap(len, writable) -> address of a lazily mapped zeroed region */
#define K_SYS_YIELD 10  /* yield() */
#define K_SYS_OPEN 11   /* open(path) -> fd (read-only LABFS files) */
#define K_SYS_CLOSE 12  /* close(fd) */
#define K_SYS_MUNMAP 13 /* munmap(addr, len) */
#define K_SYS_UPTIME 14 /* uptime() -> timer ticks since boot */
#define K_SYS_SETPRIO 15 /* setprio(pid or 0, prio 0..K_NPRIO-1) */
#define K_SYS_COUNT 16

#endif

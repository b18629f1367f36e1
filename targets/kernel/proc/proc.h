/*
 * proc.h - processes: the table, kernel stacks, spawn from a LABFS path, fork, exit, wait,
 * zombies and the killing of a process that faults (xv6-style, one kernel stack each).
 */
#ifndef K_PROC_H
#define K_PROC_H

#include "arch/trap.h"
#include "fs/labfs.h"
#include "lib/klib.h"
#include "proc/runq.h"
#include "sys/uaccess.h"

#define K_NPROC 64
#define K_NFILE 16
#define K_KSTACK 8192u
#define K_KSTACK_MAGIC 0x6b53544bu /* at the bottom of every kernel stack: overflow check */
#define K_NAME 16
#define K_ARG_MAX 256u
#define K_PATH_MAX K_LABFS_NAME_MAX
#define K_USTACK_SIZE (1024u * 1024u)
#define K_USTACK_TOP K_USER_TOP
#define K_DEFAULT_PRIO 1
/* A process killed by a fault exits with this plus the exception vector. */
#define K_KILLED_STATUS 128

enum k_pstate { K_UNUSED, K_EMBRYO, K_RUNNABLE, K_RUNNING, K_SLEEPING, K_ZOMBIE };

enum k_fkind { K_F_NONE, K_F_CONSOLE, K_F_LABFS };

struct k_file {
    uint8_t kind;
    uint32_t off;
    struct k_labfs_entry ent;
};

struct k_proc {
    int pid;
    enum k_pstate state;
    char name[K_NAME];
    bool kernel_thread;
    uint32_t pd;                /* page directory (physical) */
    uint8_t *kstack;            /* K_KSTACK bytes, kmalloc'd (NULL for the boot thread) */
    uint32_t kesp;              /* saved kernel esp while switched out (arch/switch.S) */
    struct k_trapframe *tf;     /* user registers, at the top of kstack */
    struct k_runq_node rq;
    struct k_proc *parent;
    int status;                 /* exit status, valid when ZOMBIE */
    const void *wchan;          /* what a SLEEPING process waits for */
    uint32_t wake_tick;         /* for timed sleeps */
    uint32_t slice;             /* ticks left in its time slice */
    uint32_t mmap_hint;
    struct k_vmap vm;           /* the user ranges (sys/uaccess.h) */
    struct k_file files[K_NFILE];
};

/* Process table set-up: the running boot code becomes kernel thread "kmain" (pid 1), and
 * the idle thread (pid 0) is created. */
void k_proc_init(void);
struct k_proc *k_proc_current(void);
struct k_proc *k_proc_idle(void);
/* The live (not UNUSED) process with this pid, or NULL. */
struct k_proc *k_proc_find(int pid);
/* Slot i (0 <= i < K_NPROC) of the table, whatever its state (the idle thread is not in it). */
struct k_proc *k_proc_at(int i);
/* Processes in state (K_UNUSED counts free slots). */
uint32_t k_proc_count(enum k_pstate state);
/* Start the program at path with the argument string arg as a child of the current
 * process; its pid, or -K_ENOENT, -K_ENOEXEC, -K_E2BIG, -K_ENOMEM, -K_EAGAIN (table full). */
int k_proc_spawn(const char *path, const char *arg);
/* Copy of the current (user) process returning 0 in the child; child pid or -K_E*. */
int k_proc_fork(const struct k_trapframe *tf);
_Noreturn void k_proc_exit(int status);
/* Reap a zombie child (pid, or any when pid == -1), sleeping until one exits; its pid with
 * *status set, or -K_ECHILD when there is no such child. */
int k_proc_wait(int pid, int *status);
/* Kill the current user process for an unhandled exception: LAB KILLED, exit 128+vector. */
_Noreturn void k_proc_fault(const struct k_trapframe *tf, uint32_t cr2);

#endif

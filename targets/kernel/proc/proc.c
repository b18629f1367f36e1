/*
 * proc.c - the process table (xv6-style, fixed K_NPROC slots). Each process has a kernel
 * stack whose top holds its user trap frame; a new process's stack is prepared so that its
 * first k_switch "returns" into k_trapret (arch/isr.S) and from there iret's to user mode.
 *
 * Programs come from LABFS (fs/kfs.c) and are checked by k_elf_parse (proc/elf.c) before
 * anything is mapped; each PT_LOAD segment becomes a non-lazy range of the process's k_vmap
 * (sys/uaccess.h), the stack a lazy one. Exit frees the address space at once; the zombie
 * keeps its kernel stack until its parent reaps it with wait (orphans are reaped when their
 * slot is needed). A process killed for a fault exits with K_KILLED_STATUS + vector.
 */
#include "proc/proc.h"

#include "arch/gdt.h"
#include "arch/x86.h"
#include "fs/kfs.h"
#include "lib/kerrno.h"
#include "lib/kprintf.h"
#include "mm/kmem.h"
#include "mm/paging.h"
#include "proc/elf.h"
#include "proc/sched.h"

#define IDLE_STACK 4096u
#define CONTEXT_WORDS 5u /* edi, esi, ebx, ebp, return address (proc/switch.S) */
#define MMAP_BASE 0x60000000u

static struct k_proc k_ptable[K_NPROC];
static struct k_proc k_idle_proc;
static int k_next_pid = 2;

struct k_proc *k_proc_at(int i)
{
    kassert(i >= 0 && i < K_NPROC);
    return &k_ptable[i];
}

struct k_proc *k_proc_idle(void)
{
    return &k_idle_proc;
}

struct k_proc *k_proc_find(int pid)
{
    for (int i = 0; i < K_NPROC; i++)
        if (k_ptable[i].state != K_UNUSED && k_ptable[i].pid == pid)
            return &k_ptable[i];
    return NULL;
}

uint32_t k_proc_count(enum k_pstate state)
{
    uint32_t n = 0;
    for (int i = 0; i < K_NPROC; i++)
        n += k_ptable[i].state == state;
    return n;
}

/* Prepare p's kernel stack so the first switch to it enters entry with the stack above the
 * context (for a user process: entry is k_trapret and the trap frame follows). */
static void init_context(struct k_proc *p, uint32_t *top, void (*entry)(void))
{
    uint32_t *sp = top - CONTEXT_WORDS;
    sp[0] = sp[1] = sp[2] = sp[3] = 0;
    sp[4] = (uint32_t)(uintptr_t)entry;
    p->kesp = (uint32_t)(uintptr_t)sp;
}

static void free_slot(struct k_proc *p)
{
    if (p->kstack != NULL)
        kfree(p->kstack);
    p->kstack = NULL;
    p->state = K_UNUSED;
    p->pid = 0;
    p->parent = NULL;
}

/* Zombies nobody will wait for any more. */
static void reap_orphans(void)
{
    for (int i = 0; i < K_NPROC; i++)
        if (k_ptable[i].state == K_ZOMBIE && k_ptable[i].parent == NULL)
            free_slot(&k_ptable[i]);
}

static struct k_proc *alloc_proc(const char *name)
{
    reap_orphans();
    struct k_proc *p = NULL;
    for (int i = 0; i < K_NPROC && p == NULL; i++)
        if (k_ptable[i].state == K_UNUSED)
            p = &k_ptable[i];
    if (p == NULL)
        return NULL;
    uint8_t *kstack = kmalloc(K_KSTACK);
    if (kstack == NULL)
        return NULL;
    memset(p, 0, sizeof *p);
    p->kstack = kstack;
    *(uint32_t *)(void *)kstack = K_KSTACK_MAGIC;
    p->state = K_EMBRYO;
    p->pid = k_next_pid++;
    size_t n = strnlen(name, K_NAME - 1);
    memcpy(p->name, name, n);
    p->name[n] = '\0';
    p->rq.prio = K_DEFAULT_PRIO;
    p->mmap_hint = MMAP_BASE;
    k_vmap_init(&p->vm);
    for (int fd = 0; fd < 3; fd++)
        p->files[fd].kind = K_F_CONSOLE;
    p->tf = (struct k_trapframe *)(void *)(kstack + K_KSTACK) - 1;
    init_context(p, (uint32_t *)(void *)p->tf, k_trapret);
    return p;
}

static void destroy(struct k_proc *p)
{
    if (p->pd != 0 && p->pd != k_pd_kernel())
        k_pd_free(p->pd);
    p->pd = 0;
    free_slot(p);
}

void k_proc_init(void)
{
    memset(k_ptable, 0, sizeof k_ptable);
    struct k_proc *boot = &k_ptable[0];
    boot->pid = 1;
    boot->state = K_RUNNING;
    memcpy(boot->name, "kmain", 6);
    boot->kernel_thread = true;
    boot->pd = k_pd_kernel();
    boot->rq.prio = 0;

    struct k_proc *idle = &k_idle_proc;
    memset(idle, 0, sizeof *idle);
    memcpy(idle->name, "idle", 5);
    idle->kernel_thread = true;
    idle->state = K_RUNNABLE;
    idle->pd = k_pd_kernel();
    idle->rq.prio = K_NPRIO - 1;
    idle->kstack = kmalloc(IDLE_STACK);
    kassert(idle->kstack != NULL);
    init_context(idle, (uint32_t *)(void *)(idle->kstack + IDLE_STACK) - 1,
                 (void (*)(void))k_sched_idle);
    k_sched_init(boot, idle);
}

/* Map and fill one checked PT_LOAD segment. */
static int load_segment(struct k_proc *p, const uint8_t *img, const struct k_elf_seg *s)
{
    int rc = k_vmap_add(&p->vm, s->vaddr, s->memsz, s->writable, 0);
    if (rc != 0)
        return rc;
    uint32_t size = K_ALIGN_UP(s->memsz, K_PAGE);
    uint32_t flags = K_PTE_U | (s->writable ? K_PTE_W : 0);
    for (uint32_t off = 0; off < size; off += K_PAGE) {
        uint32_t frame = k_frame_alloc_zeroed();
        if (frame == 0)
            return -K_ENOMEM;
        if (k_pd_map(p->pd, s->vaddr + off, frame, flags) != 0) {
            k_frame_free(frame);
            return -K_ENOMEM;
        }
        uint32_t lo = off > s->skew ? off : s->skew;
        uint32_t hi = off + K_PAGE < s->skew + s->filesz ? off + K_PAGE : s->skew + s->filesz;
        if (lo < hi)
            memcpy((uint8_t *)(uintptr_t)frame + (lo - off), img + s->offset + (lo - s->skew),
                   hi - lo);
    }
    return 0;
}

/* The lazy stack range with its top page present, holding the argument string and the
 * frame _start(const char *arg) expects; the initial user esp in *esp. */
static int setup_stack(struct k_proc *p, const char *arg, uint32_t *esp)
{
    int rc = k_vmap_add(&p->vm, K_USTACK_TOP - K_USTACK_SIZE, K_USTACK_SIZE, 1, 1);
    if (rc != 0)
        return rc;
    uint32_t frame = k_frame_alloc_zeroed();
    if (frame == 0)
        return -K_ENOMEM;
    uint32_t page = K_USTACK_TOP - K_PAGE;
    if (k_pd_map(p->pd, page, frame, K_PTE_U | K_PTE_W) != 0) {
        k_frame_free(frame);
        return -K_ENOMEM;
    }
    uint8_t *kva = (uint8_t *)(uintptr_t)frame;
    size_t n = arg != NULL ? strnlen(arg, K_ARG_MAX - 1) : 0;
    uint32_t str = K_USTACK_TOP - K_ALIGN_UP((uint32_t)n + 1, 16u);
    if (n > 0)
        memcpy(kva + (str - page), arg, n);
    kva[str - page + n] = '\0';
    uint32_t sp = str - 8;
    uint32_t *words = (uint32_t *)(void *)(kva + (sp - page));
    words[0] = 0;   /* return address of _start: none */
    words[1] = str; /* its argument */
    *esp = sp;
    return 0;
}

static const char *basename(const char *path)
{
    const char *b = path;
    for (const char *s = path; *s != '\0'; s++)
        if (*s == '/')
            b = s + 1;
    return b;
}

static void init_user_frame(struct k_trapframe *tf, uint32_t eip, uint32_t esp)
{
    memset(tf, 0, sizeof *tf);
    tf->cs = K_SEG_UCODE;
    tf->ds = tf->es = tf->fs = tf->gs = tf->uss = K_SEG_UDATA;
    tf->eflags = K_EFLAGS_IF | 0x2u;
    tf->eip = eip;
    tf->uesp = esp;
}

static int load_program(struct k_proc *p, const uint8_t *img, uint32_t len, const char *arg)
{
    struct k_elf_info info;
    int rc = k_elf_parse(img, len, K_USER_BASE, K_USTACK_TOP - K_USTACK_SIZE, &info);
    if (rc != 0)
        return rc;
    p->pd = k_pd_create();
    if (p->pd == 0)
        return -K_ENOMEM;
    for (uint32_t i = 0; i < info.nsegs; i++) {
        rc = load_segment(p, img, &info.segs[i]);
        if (rc != 0)
            return rc;
    }
    uint32_t esp;
    rc = setup_stack(p, arg, &esp);
    if (rc != 0)
        return rc;
    init_user_frame(p->tf, info.entry, esp);
    return 0;
}

int k_proc_spawn(const char *path, const char *arg)
{
    uint8_t *img;
    uint32_t len;
    int rc = k_fs_load(path, &img, &len);
    if (rc != 0)
        return rc;
    struct k_proc *p = alloc_proc(basename(path));
    if (p == NULL) {
        kfree(img);
        return -K_EAGAIN;
    }
    rc = load_program(p, img, len, arg);
    kfree(img);
    if (rc != 0) {
        destroy(p);
        return rc;
    }
    p->parent = k_proc_current();
    k_sched_ready(p);
    return p->pid;
}

int k_proc_fork(const struct k_trapframe *tf)
{
    struct k_proc *cur = k_proc_current();
    kassert(!cur->kernel_thread);
    struct k_proc *p = alloc_proc(cur->name);
    if (p == NULL)
        return -K_EAGAIN;
    p->pd = k_pd_create();
    if (p->pd == 0 || k_pd_copy(p->pd, cur->pd) != 0) {
        destroy(p);
        return -K_ENOMEM;
    }
    p->vm = cur->vm;
    memcpy(p->files, cur->files, sizeof p->files);
    p->mmap_hint = cur->mmap_hint;
    p->rq.prio = cur->rq.prio;
    *p->tf = *tf;
    p->tf->eax = 0;
    p->parent = cur;
    k_sched_ready(p);
    return p->pid;
}

_Noreturn void k_proc_exit(int status)
{
    struct k_proc *cur = k_proc_current();
    if (cur->kernel_thread)
        kpanic("kernel thread %s exited", cur->name);
    k_pd_switch(k_pd_kernel());
    k_pd_free(cur->pd);
    cur->pd = k_pd_kernel();
    memset(cur->files, 0, sizeof cur->files);
    for (int i = 0; i < K_NPROC; i++)
        if (k_ptable[i].parent == cur)
            k_ptable[i].parent = NULL;
    cur->status = status;
    cur->state = K_ZOMBIE;
    if (cur->parent != NULL)
        k_wakeup(cur->parent);
    k_sched_block();
    kpanic("zombie %d ran again", cur->pid);
}

int k_proc_wait(int pid, int *status)
{
    struct k_proc *cur = k_proc_current();
    for (;;) {
        bool have = false;
        for (int i = 0; i < K_NPROC; i++) {
            struct k_proc *p = &k_ptable[i];
            if (p->state == K_UNUSED || p->parent != cur || (pid != -1 && p->pid != pid))
                continue;
            have = true;
            if (p->state == K_ZOMBIE) {
                int child = p->pid;
                if (status != NULL)
                    *status = p->status;
                free_slot(p);
                return child;
            }
        }
        if (!have)
            return -K_ECHILD;
        k_sleep_on(cur);
    }
}

_Noreturn void k_proc_fault(const struct k_trapframe *tf, uint32_t cr2)
{
    struct k_proc *cur = k_proc_current();
    if (tf->vector == K_T_PGFLT)
        k_printf("LAB KILLED pid=%d %s at 0x%x (eip 0x%x, err 0x%x) in %s\n", cur->pid,
                 k_trap_name(tf->vector), cr2, tf->eip, tf->err, cur->name);
    else
        k_printf("LAB KILLED pid=%d %s (eip 0x%x, err 0x%x) in %s\n", cur->pid,
                 k_trap_name(tf->vector), tf->eip, tf->err, cur->name);
    k_proc_exit(K_KILLED_STATUS + (int)tf->vector);
}

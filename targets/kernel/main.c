/*
 * main.c - kernel entry after arch/boot.S (Multiboot 0.6.96): bring the machine up in
 * dependency order, print the boot-to-ready record "LAB READY tsc=<n>", then do what the
 * command line's mode= asks (the lab's protocol, plugins/kernel/ktest.py and bench.py):
 *   mode=test                       run the in-guest tests (ktest/), exit 0 when all pass
 *   mode=bench bench=<w,..> iters=N  run /bin/kbench, which prints the KBENCH records
 *   mode=exec prog=/bin/<name>       run one program (argument string from arg=), exit with
 *                                    its status 0..125; 126 killed by a fault, 127 could not
 *                                    start, 125 any other status
 *   mode=run (default)               banner, then /bin/init (echoes the keyboard)
 *   mode=panic                       a deliberate kernel NULL write: shows the register
 *                                    dump and "LAB PANIC" (exit value 2)
 *   mode=fuzz [trace=1] [hang_ticks=N]  run /bin/sysfuzz on the program in Multiboot
 *                                    module 0 (-initrd; /dev/fuzzprog, sys/fuzzprog.h) and wait
 *                                    for it and every other user process: "LAB FUZZ done
 *                                    calls=<n>" (system calls made meanwhile), exit 0; still
 *                                    alive after N ticks (default FUZZ_HANG_TICKS, 5 s): "LAB
 *                                    FUZZ hang <pids>", exit 3. The done line also says how
 *                                    many frames the run took and never gave back
 *                                    (leaked_frames=, heap growth not counted: expect 0)
 * Every mode ends with "LAB SCREENSHOT", up to ~1 s for a byte on COM1 (the lab takes a VGA
 * screendump meanwhile), and an exit through isa-debug-exit.
 */
#include "arch/gdt.h"
#include "arch/multiboot.h"
#include "arch/pic.h"
#include "arch/pit.h"
#include "arch/trap.h"
#include "arch/tsc.h"
#include "arch/x86.h"
#include "dev/ata.h"
#include "dev/kbd.h"
#include "dev/qexit.h"
#include "dev/serial.h"
#include "dev/vga.h"
#include "fs/kfs.h"
#include "ktest/ktest.h"
#include "lib/kcov.h"
#include "lib/kprintf.h"
#include "lib/kvarg.h"
#include "mm/kmem.h"
#include "mm/paging.h"
#include "proc/proc.h"
#include "proc/sched.h"
#include "sys/fuzzprog.h"
#include "sys/syscall.h"

#define CMDLINE_MAX 256u
#define SCREENSHOT_TICKS K_HZ
#define SCREENSHOT_SPIN_TICKS (K_HZ / 10)
/* mode=exec exit values beyond a program's own 0..125 (QEMU keeps 7 bits of the value). */
#define EXIT_OTHER 125u
#define EXIT_KILLED 126u
#define EXIT_NOSTART 127
/* mode=fuzz: user processes still alive this long after the start are a hang. */
#define FUZZ_HANG_TICKS (5u * K_HZ)
#define EXIT_FUZZ_HANG 3u

static char k_cmdline[CMDLINE_MAX];

/* The value of key=value on the command line, copied into out (empty when absent). */
static bool cmd_get(const char *key, char *out, size_t n)
{
    return k_kvarg_get(k_cmdline, key, out, n);
}

static void banner(const char *mode)
{
    k_vga_set_color(K_VGA_WHITE, K_VGA_BLUE);
    k_printf("lab kernel: i386, multiboot, %u KiB RAM, TSC %u kHz, mode=%s\n",
             (k_kmem_phys_top() >> 10), k_tsc_khz(), mode);
    k_vga_set_color(K_VGA_LGRAY, K_VGA_BLACK);
}

static void init_machine(uint32_t magic, const struct k_mb_info *mbi)
{
    k_serial_init();
    k_vga_init();
    if (magic != K_MB_BOOT_MAGIC)
        kpanic("not started by a Multiboot loader (eax=0x%x)", magic);
    if ((mbi->flags & K_MB_INFO_CMDLINE) && mbi->cmdline != 0) {
        const char *c = (const char *)(uintptr_t)mbi->cmdline;
        size_t n = strnlen(c, CMDLINE_MAX - 1);
        memcpy(k_cmdline, c, n);
        k_cmdline[n] = '\0';
    }
    k_fuzzprog_load(mbi); /* before k_kmem_init hands out the module's frames */
    k_gdt_init();
    k_idt_init();
    k_pic_init();
    k_kmem_init(mbi);
    k_tsc_calibrate();
    k_pit_init();
    k_kbd_init();
    k_serial_enable_irq();
    int rc = k_ata_init();
    if (rc == 0)
        rc = k_fs_init();
    if (rc != 0)
        k_printf("kernel: no LABFS disk (error %d)\n", rc);
    k_proc_init();
}

static _Noreturn void finish(uint32_t value)
{
    k_serial_drain();
    k_printf("LAB SCREENSHOT\n");
    k_pit_spin_wait(k_serial_pending, SCREENSHOT_SPIN_TICKS, SCREENSHOT_TICKS);
    k_qexit(value);
}

/* Run path with arg, wait for it; its exit status, or EXIT_NOSTART when it could not
 * start. */
static int run_program(const char *path, const char *arg)
{
    int status = 0;
    int pid = k_proc_spawn(path, arg);
    if (pid < 0) {
        k_printf("kernel: cannot start %s: error %d\n", path, pid);
        return EXIT_NOSTART;
    }
    k_proc_wait(pid, &status);
    return status;
}

static uint32_t mode_bench(void)
{
    char bench[96], iters[16], arg[K_ARG_MAX];
    cmd_get("bench", bench, sizeof bench);
    if (!cmd_get("iters", iters, sizeof iters))
        memcpy(iters, "1000", 5);
    k_snprintf(arg, sizeof arg, "bench=%s iters=%s khz=%u", bench, iters, k_tsc_khz());
    return run_program("/bin/kbench", arg) == 0 ? K_QEXIT_OK : K_QEXIT_FAIL;
}

static uint32_t mode_exec(void)
{
    char prog[K_PATH_MAX], arg[K_ARG_MAX];
    if (!cmd_get("prog", prog, sizeof prog))
        memcpy(prog, "/bin/true", 10);
    cmd_get("arg", arg, sizeof arg);
    int status = run_program(prog, arg);
    k_printf("kernel: %s exited with status %d\n", prog, status);
    if (status >= 0 && status <= (int)EXIT_OTHER)
        return (uint32_t)status;
    if (status == EXIT_NOSTART)
        return EXIT_NOSTART;
    return status >= K_KILLED_STATUS && status < K_KILLED_STATUS + 32 ? EXIT_KILLED : EXIT_OTHER;
}

/* Whether p is a user process that has not exited yet. */
static bool user_alive(const struct k_proc *p)
{
    return !p->kernel_thread && p->state != K_UNUSED && p->state != K_ZOMBIE;
}

static uint32_t fuzz_alive(void)
{
    uint32_t n = 0;
    for (int i = 0; i < K_NPROC; i++)
        n += user_alive(k_proc_at(i));
    return n;
}

/* The decimal value of key= on the command line, or dflt when absent or not a number. */
static uint32_t cmd_uint(const char *key, uint32_t dflt)
{
    char v[12];
    if (!cmd_get(key, v, sizeof v) || v[0] == '\0')
        return dflt;
    uint32_t n = 0;
    for (const char *c = v; *c != '\0'; c++) {
        if (*c < '0' || *c > '9')
            return dflt;
        n = n * 10u + (uint32_t)(*c - '0');
    }
    return n;
}

/* Frames in use, less those backing the kernel heap (which keeps what it grew). */
static uint32_t frames_outside_heap(void)
{
    const struct k_frames *fa = k_kmem_frames();
    const struct k_heap *h = k_kmem_heap();
    return fa->nframes - fa->nfree - (uint32_t)((h->end - h->start) / K_PAGE);
}

/* Reap the fuzzer (our child) once it has exited, so its slot does not stay a zombie. */
static void fuzz_reap(int pid)
{
    const struct k_proc *p = k_proc_find(pid);
    int status;
    if (p != NULL && p->state == K_ZOMBIE)
        k_proc_wait(pid, &status);
}

static void fuzz_report_hang(void)
{
    k_printf("\nLAB FUZZ hang"); /* a new line: user output may not end its own */
    for (int i = 0; i < K_NPROC; i++)
        if (user_alive(k_proc_at(i)))
            k_printf(" %d", k_proc_at(i)->pid);
    k_printf("\n");
    for (int i = 0; i < K_NPROC; i++) {
        const struct k_proc *p = k_proc_at(i);
        if (user_alive(p))
            k_printf("kernel: alive pid=%d %s state=%d wchan=0x%x\n", p->pid, p->name,
                     (int)p->state, (uint32_t)(uintptr_t)p->wchan);
    }
}

static uint32_t mode_fuzz(void)
{
    if (!k_fuzzprog_present()) {
        k_printf("kernel: mode=fuzz needs the program as module 0 (qemu -initrd)\n");
        return K_QEXIT_FAIL;
    }
    char trace[8];
    cmd_get("trace", trace, sizeof trace);
    uint32_t calls = k_syscall_count(), frames = frames_outside_heap();
    uint32_t deadline = k_ticks() + cmd_uint("hang_ticks", FUZZ_HANG_TICKS);
    k_kcov_reset();
    int pid = k_proc_spawn("/bin/sysfuzz", strcmp(trace, "1") == 0 ? "run trace" : "run");
    if (pid < 0) {
        k_printf("kernel: cannot start /bin/sysfuzz: error %d\n", pid);
        return K_QEXIT_FAIL;
    }
    while (fuzz_alive() > 0 && (int32_t)(k_ticks() - deadline) < 0) {
        fuzz_reap(pid);
        k_sched_sleep_ticks(1);
    }
    fuzz_reap(pid);
    k_kcov_dump();
    if (fuzz_alive() > 0) {
        fuzz_report_hang();
        return EXIT_FUZZ_HANG;
    }
    k_printf("\nLAB FUZZ done calls=%u leaked_frames=%d\n", k_syscall_count() - calls,
             (int)(frames_outside_heap() - frames));
    return K_QEXIT_OK;
}

static uint32_t mode_panic(void)
{
    volatile uintptr_t null = 0;
    *(volatile uint32_t *)null = 0xdead;
    return K_QEXIT_FAIL;
}

void kmain(uint32_t magic, const struct k_mb_info *mbi);

void kmain(uint32_t magic, const struct k_mb_info *mbi)
{
    init_machine(magic, mbi);
    char mode[16];
    if (!cmd_get("mode", mode, sizeof mode))
        memcpy(mode, "run", 4);
    banner(mode);
    k_printf("LAB READY tsc=%llu\n", k_rdtsc());
    uint32_t value;
    if (strcmp(mode, "test") == 0)
        value = k_ktest_run_all() == 0 ? K_QEXIT_OK : K_QEXIT_FAIL;
    else if (strcmp(mode, "bench") == 0)
        value = mode_bench();
    else if (strcmp(mode, "exec") == 0)
        value = mode_exec();
    else if (strcmp(mode, "panic") == 0)
        value = mode_panic();
    else if (strcmp(mode, "fuzz") == 0)
        value = mode_fuzz();
    else
        value = run_program("/bin/init", "") == 0 ? K_QEXIT_OK : K_QEXIT_FAIL;
    finish(value);
}

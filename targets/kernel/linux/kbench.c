/*
 * kbench: the Linux side of the kernel system's benchmark (plugins/kernel/linux_ref.py).
 *
 * Runs as the child of /init in the initramfs the lab builds around Debian's kernel, and
 * times the same loops as the bare-metal kernel's benchmark program, with rdtsc from user
 * mode (under QEMU's -icount shift=0 one tick per guest instruction) and
 * clock_gettime(CLOCK_MONOTONIC) for guest nanoseconds:
 *
 *   syscall    N raw syscall(SYS_getpid) round trips
 *   ctxswitch  two processes on the single vCPU handing a shared "turn" word to each
 *              other N times each, yielding with sched_yield while it is not theirs: 2N
 *              switches (iters=2N), timed after 64 untimed hand-overs (a forked child
 *              starts with a larger CFS vruntime, and the parent's first yields come back
 *              to the parent). Linux's sched_yield does not always switch (CFS keeps the
 *              yielder when the other is far ahead in vruntime), so a hand-over can take
 *              more than one yield; yields= counts them all (2N when every yield switched).
 *              If yielding does not hand over at all (more than 8 yields per switch, or a
 *              side stops), it measures a 1-byte pipe ping-pong instead: method=pipe.
 *   pagefault  N first touches (one byte written) of fresh anonymous private pages
 *              (MADV_NOHUGEPAGE, so each touch is one fault; faults= is the rusage count)
 *   spawn      vfork + execve of /bin/true (targets/kernel/linux/true.c) + waitpid, N times
 *
 * Serial protocol (plugins/kernel/ktest.py), on stdout (the console, ttyS0):
 *   LAB READY tsc=<rdtsc>                       first thing
 *   KBENCH <workload> iters=<n> tsc=<delta> ns=<delta> [key=value...]   per workload
 *   KBENCH done
 *   LAB SCREENSHOT                              then waits up to 1 s for a byte on ttyS0
 * then ends QEMU by writing 0 to the isa-debug-exit port 0xf4 (ioperm + outl); without it,
 * reboot(RB_POWER_OFF). A failure prints "LAB PANIC kbench: <why>" and exits QEMU with 1.
 *
 * Arguments come from /proc/cmdline: lab.mode=bench|boot lab.bench=syscall,ctxswitch,...
 * lab.iters=N (default 1000); "key=value" arguments on the command line override them
 * (bench=, iters=, noexit=1 to return instead of ending the machine: for tests on a host).
 * The records are also written to /dev/tty1 (the VGA console) for the screenshot.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mman.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define DEBUG_EXIT_PORT 0xf4
#define PAGE 4096UL
#define MAX_BENCH 16

static int vga_fd = -1;
static int noexit;

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* One record line on stdout (and the VGA console), written with a single write(). */
static void record(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof buf - 2)
        n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    ssize_t w = write(STDOUT_FILENO, buf, (size_t)n);
    (void)w;
    if (vga_fd >= 0) {
        w = write(vga_fd, buf, (size_t)n);
        (void)w;
    }
}

static void end_machine(int value)
{
    if (noexit)
        exit(value);
    sync();
    if (ioperm(DEBUG_EXIT_PORT, 4, 1) == 0)
        outl((unsigned)value, DEBUG_EXIT_PORT);
    /* No isa-debug-exit device (or no permission): power off. */
    reboot(RB_POWER_OFF);
    _exit(value);
}

static void panic(const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    record("LAB PANIC kbench: %s", msg);
    end_machine(1);
}

struct result {
    uint64_t tsc, ns;
};

static void report(const char *name, long iters, struct result r, const char *more)
{
    record("KBENCH %s iters=%ld tsc=%llu ns=%llu%s%s", name, iters, (unsigned long long)r.tsc,
           (unsigned long long)r.ns, more[0] ? " " : "", more);
}

/* ---------------------------------------------------------------- syscall */

static void bench_syscall(long n)
{
    uint64_t t0 = now_ns(), c0 = rdtsc();
    for (long i = 0; i < n; i++)
        syscall(SYS_getpid);
    uint64_t c1 = rdtsc(), t1 = now_ns();
    report("syscall", n, (struct result){c1 - c0, t1 - t0}, "");
}

/* ---------------------------------------------------------------- ctxswitch */

struct shared {
    volatile int turn;       /* who may hand over next: 1 parent, 2 child */
    volatile long yields[3]; /* sched_yield calls per process */
    volatile int abort;
};

#define WARMUP 64        /* untimed hand-overs: levels the forked child's CFS vruntime */
#define MAX_WASTED 1000L /* yields per hand-over beyond which yield is not a hand-over */

/* n hand-overs: wait (yielding) for my turn, give the turn to the other. Returns 0, or -1
 * when the other side stopped answering (the loop is bounded). */
static int handovers(struct shared *sh, int me, long n)
{
    long yields = 0, limit = (n + 1) * MAX_WASTED;
    for (long i = 0; i < n; i++) {
        while (sh->turn != me) {
            if (sh->abort || yields > limit) {
                sh->abort = 1;
                sh->yields[me] += yields;
                return -1;
            }
            sched_yield();
            yields++;
        }
        sh->turn = 3 - me;
    }
    sh->yields[me] += yields;
    return 0;
}

static struct result ctx_yield(long n, long *yields)
{
    struct shared *sh = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                             -1, 0);
    if (sh == MAP_FAILED)
        panic("ctxswitch: mmap: %s", strerror(errno));
    memset((void *)sh, 0, sizeof *sh);
    sh->turn = 1;
    pid_t pid = fork();
    if (pid < 0)
        panic("ctxswitch: fork: %s", strerror(errno));
    if (pid == 0)
        _exit(handovers(sh, 2, WARMUP + n) ? 1 : 0);
    if (handovers(sh, 1, WARMUP))
        panic("ctxswitch: warm-up hand-overs did not complete");
    long warm = sh->yields[1];
    uint64_t t0 = now_ns(), c0 = rdtsc();
    int bad = handovers(sh, 1, n);
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        bad = 1;
    uint64_t c1 = rdtsc(), t1 = now_ns();
    *yields = sh->yields[1] - warm + sh->yields[2];
    munmap((void *)sh, PAGE);
    if (bad)
        *yields = -1;
    return (struct result){c1 - c0, t1 - t0};
}

static struct result ctx_pipe(long n)
{
    int ab[2], ba[2];
    if (pipe(ab) || pipe(ba))
        panic("ctxswitch: pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0)
        panic("ctxswitch: fork: %s", strerror(errno));
    char c = 0;
    if (pid == 0) {
        for (long i = 0; i < n; i++)
            if (read(ab[0], &c, 1) != 1 || write(ba[1], &c, 1) != 1)
                _exit(1);
        _exit(0);
    }
    uint64_t t0 = now_ns(), c0 = rdtsc();
    for (long i = 0; i < n; i++)
        if (write(ab[1], &c, 1) != 1 || read(ba[0], &c, 1) != 1)
            panic("ctxswitch: pipe ping-pong: %s", strerror(errno));
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        panic("ctxswitch: pipe child failed");
    uint64_t c1 = rdtsc(), t1 = now_ns();
    close(ab[0]), close(ab[1]), close(ba[0]), close(ba[1]);
    return (struct result){c1 - c0, t1 - t0};
}

static void bench_ctxswitch(long n)
{
    char more[64];
    long yields = 0;
    struct result r = ctx_yield(n, &yields);
    if (yields >= 0 && yields <= 8 * 2 * n) {
        snprintf(more, sizeof more, "method=yield yields=%ld", yields);
    } else {
        r = ctx_pipe(n);
        snprintf(more, sizeof more, "method=pipe yields=%ld", yields);
    }
    report("ctxswitch", 2 * n, r, more);
}

/* ---------------------------------------------------------------- pagefault */

static void bench_pagefault(long n)
{
    size_t len = (size_t)n * PAGE;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        panic("pagefault: mmap of %ld pages: %s", n, strerror(errno));
    madvise(p, len, MADV_NOHUGEPAGE);
    struct rusage u0, u1;
    getrusage(RUSAGE_SELF, &u0);
    uint64_t t0 = now_ns(), c0 = rdtsc();
    for (long i = 0; i < n; i++)
        p[(size_t)i * PAGE] = 1;
    uint64_t c1 = rdtsc(), t1 = now_ns();
    getrusage(RUSAGE_SELF, &u1);
    munmap(p, len);
    char more[48];
    snprintf(more, sizeof more, "faults=%ld", u1.ru_minflt - u0.ru_minflt);
    report("pagefault", n, (struct result){c1 - c0, t1 - t0}, more);
}

/* ---------------------------------------------------------------- spawn */

static void bench_spawn(long n)
{
    static char *const argv[] = {"true", NULL};
    static char *const envp[] = {NULL};
    const char *path = "/bin/true";
    if (access(path, X_OK) != 0)
        panic("spawn: %s: %s", path, strerror(errno));
    uint64_t t0 = now_ns(), c0 = rdtsc();
    for (long i = 0; i < n; i++) {
        pid_t pid = vfork();
        if (pid == 0) {
            execve(path, argv, envp);
            _exit(127);
        }
        int status;
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0)
            panic("spawn: %s failed at iteration %ld", path, i);
    }
    uint64_t c1 = rdtsc(), t1 = now_ns();
    report("spawn", n, (struct result){c1 - c0, t1 - t0}, "");
}

/* ---------------------------------------------------------------- arguments */

struct bench {
    const char *name;
    void (*run)(long);
};

static const struct bench BENCHES[] = {
    {"syscall", bench_syscall},
    {"ctxswitch", bench_ctxswitch},
    {"pagefault", bench_pagefault},
    {"spawn", bench_spawn},
};

struct args {
    char mode[32];
    char bench[256];
    long iters;
};

/* Apply one "key=value" word; keys may carry the "lab." prefix of the kernel command line. */
static void apply(struct args *a, const char *word)
{
    if (strncmp(word, "lab.", 4) == 0)
        word += 4;
    const char *eq = strchr(word, '=');
    if (!eq)
        return;
    size_t klen = (size_t)(eq - word);
    const char *v = eq + 1;
    if (klen == 4 && strncmp(word, "mode", 4) == 0)
        snprintf(a->mode, sizeof a->mode, "%s", v);
    else if (klen == 5 && strncmp(word, "bench", 5) == 0)
        snprintf(a->bench, sizeof a->bench, "%s", v);
    else if (klen == 5 && strncmp(word, "iters", 5) == 0)
        a->iters = strtol(v, NULL, 10);
    else if (klen == 6 && strncmp(word, "noexit", 6) == 0)
        noexit = atoi(v);
}

static void read_cmdline(struct args *a)
{
    char buf[4096];
    int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return;
    buf[n] = 0;
    char *save = NULL;
    for (char *w = strtok_r(buf, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save))
        if (strncmp(w, "lab.", 4) == 0)
            apply(a, w);
}

/* Wait up to timeout_ms for one byte on the serial port (the host's "go on"). */
static void wait_serial_byte(int timeout_ms)
{
    int fd = open("/dev/ttyS0", O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return;
    struct termios t;
    if (tcgetattr(fd, &t) == 0) {
        cfmakeraw(&t);
        tcsetattr(fd, TCSANOW, &t);
    }
    struct pollfd p = {.fd = fd, .events = POLLIN};
    char c;
    if (poll(&p, 1, timeout_ms) > 0) {
        ssize_t r = read(fd, &c, 1);
        (void)r;
    }
    close(fd);
}

int main(int argc, char **argv)
{
    uint64_t ready = rdtsc();
    struct args a = {.mode = "bench", .bench = "", .iters = 1000};
    read_cmdline(&a);
    for (int i = 1; i < argc; i++)
        apply(&a, argv[i]);
    if (!noexit)
        vga_fd = open("/dev/tty1", O_WRONLY | O_NOCTTY | O_CLOEXEC);
    record("LAB READY tsc=%llu", (unsigned long long)ready);

    if (strcmp(a.mode, "bench") != 0 && strcmp(a.mode, "boot") != 0)
        panic("unknown lab.mode=%s (bench or boot)", a.mode);
    if (a.iters < 1 || a.iters > 100000000)
        panic("lab.iters=%ld out of range", a.iters);

    /* Validate every name before running anything. */
    const struct bench *todo[MAX_BENCH];
    int ntodo = 0;
    char list[256];
    snprintf(list, sizeof list, "%s", strcmp(a.mode, "bench") == 0 ? a.bench : "");
    char *save = NULL;
    for (char *w = strtok_r(list, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        const struct bench *found = NULL;
        for (size_t k = 0; k < sizeof BENCHES / sizeof BENCHES[0]; k++)
            if (strcmp(w, BENCHES[k].name) == 0)
                found = &BENCHES[k];
        if (!found)
            panic("unknown workload '%s'", w);
        if (ntodo == MAX_BENCH)
            panic("too many workloads");
        todo[ntodo++] = found;
    }
    for (int i = 0; i < ntodo; i++)
        todo[i]->run(a.iters);
    record("KBENCH done");
    if (noexit)
        return 0;
    record("LAB SCREENSHOT");
    wait_serial_byte(1000);
    end_machine(0);
    return 0;
}

/*
 * usertest.c - /bin/usertest <group>: exercises the system calls from user mode (ABI:
 * sys/syscall_nr.h), including bad pointers (kernel addresses and unmapped holes must give
 * -K_EFAULT, never a kernel fault). Exits 0 when the group passes, else the source line of
 * the first failed check (the kernel's test prints it as user/usertest.c:<line>).
 * Groups: basic write read files mmap fork spawn sleep prio nosys efault.
 */
#include "ulib.h"

#define KERNEL_PTR ((void *)0x00100000)   /* the kernel image: supervisor-only */
#define HOLE_PTR ((void *)0x7fff0000)     /* user range, but no mapping */
#define MOTD "Welcome to the lab kernel.\n"

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            u_printf("usertest: check failed at line %d: %s\n", __LINE__, #cond);          \
            return __LINE__;                                                               \
        }                                                                                  \
    } while (0)

static char big_bss[3 * 4096];

/* Touches 64 KiB of stack: the lazy stack range grows page by page on demand. */
static __attribute__((noinline)) int deep_stack(int seed)
{
    volatile uint8_t big[64 * 1024];
    for (uint32_t i = 0; i < sizeof big; i += 4096)
        big[i] = (uint8_t)(seed + i / 4096);
    int sum = 0;
    for (uint32_t i = 0; i < sizeof big; i += 4096)
        sum += big[i];
    return sum;
}

static int t_basic(void)
{
    int pid = u_getpid();
    CHECK(pid > 1);
    CHECK(u_getpid() == pid);
    int32_t t0 = u_uptime();
    CHECK(t0 >= 0);
    CHECK(u_yield() == 0);
    CHECK(u_uptime() >= t0);
    /* the bss is zeroed and writable */
    for (uint32_t i = 0; i < sizeof big_bss; i += 512)
        CHECK(big_bss[i] == 0);
    big_bss[sizeof big_bss - 1] = 7;
    CHECK(big_bss[sizeof big_bss - 1] == 7);
    CHECK(deep_stack(1) == 16 * 1 + (0 + 15) * 16 / 2);
    return 0;
}

static int t_write(void)
{
    static const char msg[] = "usertest: hello from user mode\n";
    CHECK(u_write(1, msg, sizeof msg - 1) == (int32_t)sizeof msg - 1);
    CHECK(u_write(2, msg, 0) == 0);
    CHECK(u_write(7, msg, 1) == -K_EBADF);
    CHECK(u_write(-1, msg, 1) == -K_EBADF);
    CHECK(u_write(1, KERNEL_PTR, 16) == -K_EFAULT);
    CHECK(u_write(1, HOLE_PTR, 16) == -K_EFAULT);
    CHECK(u_write(1, (void *)0xfffffff0, 64) == -K_EFAULT);
    return 0;
}

static int t_read(void)
{
    char buf[64];
    int fd = u_open("/etc/motd");
    CHECK(fd >= 3);
    CHECK(u_read(fd, buf, 8) == 8);
    CHECK(memcmp(buf, MOTD, 8) == 0);
    int32_t n = u_read(fd, buf, sizeof buf);
    CHECK(n > 0);
    CHECK(memcmp(buf, MOTD + 8, sizeof MOTD - 1 - 8) == 0);
    CHECK(u_read(fd, KERNEL_PTR, 4) == -K_EFAULT);
    CHECK(u_read(fd, HOLE_PTR, 4) == -K_EFAULT);
    /* text is not writable: reading into it is a fault */
    CHECK(u_read(fd, (void *)(uintptr_t)&t_read, 4) == -K_EFAULT);
    CHECK(u_close(fd) == 0);
    CHECK(u_read(fd, buf, 4) == -K_EBADF);
    CHECK(u_close(fd) == -K_EBADF);
    return 0;
}

static int t_files(void)
{
    CHECK(u_open("/no/such/file") == -K_ENOENT);
    CHECK(u_open(KERNEL_PTR) == -K_EFAULT);
    CHECK(u_open(HOLE_PTR) == -K_EFAULT);
    int fds[16], n = 0;
    for (;;) {
        int fd = u_open("/etc/motd");
        if (fd < 0) {
            CHECK(fd == -K_EMFILE);
            break;
        }
        CHECK(n < 16);
        fds[n++] = fd;
    }
    CHECK(n == 13);
    for (int i = 0; i < n; i++)
        CHECK(u_close(fds[i]) == 0);
    /* a read straight into a lazily mapped page: the kernel's copy faults it in */
    int32_t a = u_mmap(8192, 1);
    CHECK(a > 0);
    int fd = u_open("/etc/pattern");
    CHECK(fd >= 3);
    uint8_t *p = (uint8_t *)(uintptr_t)a;
    CHECK(u_read(fd, p + 4000, 1000) == 1000);
    for (int i = 0; i < 1000; i++)
        CHECK(p[4000 + i] == (uint8_t)((i * 7 + 3) & 0xff));
    CHECK(u_close(fd) == 0);
    CHECK(u_munmap(p, 8192) == 0);
    return 0;
}

static int t_mmap(void)
{
    CHECK(u_mmap(0, 1) == -K_EINVAL);
    int32_t a = u_mmap(3 * 4096, 1);
    CHECK(a > 0 && (a & 0xfff) == 0);
    volatile uint32_t *p = (volatile uint32_t *)(uintptr_t)a;
    CHECK(p[0] == 0 && p[1024] == 0 && p[2048] == 0);
    p[0] = 1;
    p[1024] = 2;
    p[2048 + 1023] = 3;
    CHECK(p[0] + p[1024] + p[2048 + 1023] == 6);
    int32_t b = u_mmap(4096, 0);
    CHECK(b > 0 && b != a);
    CHECK(*(volatile uint32_t *)(uintptr_t)b == 0);
    CHECK(u_read(0, (void *)(uintptr_t)b, 1) == -K_EFAULT); /* read-only region */
    CHECK(u_munmap((void *)(uintptr_t)a, 4096) == 0);           /* first page only */
    CHECK(p[1024] == 2);
    CHECK(u_write(1, (void *)(uintptr_t)a, 1) == -K_EFAULT);   /* gone */
    CHECK(u_munmap((void *)(uintptr_t)(a + 4096), 8192) == 0);
    CHECK(u_munmap((void *)(uintptr_t)a, 4096) == -K_EINVAL);
    CHECK(u_munmap((void *)(uintptr_t)(b + 1), 4096) == -K_EINVAL);
    CHECK(u_munmap((void *)(uintptr_t)b, 4096) == 0);
    /* the range table fills up: -K_ENOMEM, and everything can be unmapped again */
    int32_t regions[16];
    int n = 0;
    for (;;) {
        int32_t r = u_mmap(4096, 1);
        if (r < 0) {
            CHECK(r == -K_ENOMEM);
            break;
        }
        CHECK(n < 16);
        regions[n++] = r;
    }
    CHECK(n >= 10);
    for (int i = 0; i < n; i++)
        CHECK(u_munmap((void *)(uintptr_t)regions[i], 4096) == 0);
    return 0;
}

static int t_fork(void)
{
    static int shared = 5;
    int status = -1;
    CHECK(u_wait(-1, &status) == -K_ECHILD);
    int pid = u_fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        shared = 99; /* the parent's copy must not change */
        u_exit(7);
    }
    CHECK(u_wait(pid, KERNEL_PTR) == -K_EFAULT);
    CHECK(u_wait(pid, &status) == pid);
    CHECK(status == 7);
    CHECK(shared == 5);
    CHECK(u_wait(pid, &status) == -K_ECHILD);
    /* touched lazy pages are copied, untouched ones stay lazy in the child */
    int32_t a = u_mmap(2 * 4096, 1);
    CHECK(a > 0);
    volatile uint32_t *m = (volatile uint32_t *)(uintptr_t)a;
    m[0] = 41;
    pid = u_fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        m[0]++;
        u_exit((int)(m[0] + m[1024])); /* 42 + 0 */
    }
    CHECK(u_wait(pid, &status) == pid && status == 42);
    CHECK(m[0] == 41);
    CHECK(u_munmap((void *)(uintptr_t)a, 2 * 4096) == 0);
    /* several children, reaped in any order */
    int kids = 0;
    for (int i = 0; i < 4; i++) {
        int c = u_fork();
        CHECK(c >= 0);
        if (c == 0)
            u_exit(10 + i);
        kids++;
    }
    int sum = 0;
    while (kids-- > 0) {
        CHECK(u_wait(-1, &status) > 0);
        sum += status;
    }
    CHECK(sum == 10 + 11 + 12 + 13);
    CHECK(u_wait(-1, NULL) == -K_ECHILD);
    return 0;
}

static int t_spawn(void)
{
    int status = -1;
    int pid = u_spawn("/bin/true", "");
    CHECK(pid > 0);
    CHECK(u_wait(pid, &status) == pid && status == 0);
    CHECK(u_spawn("/bin/nothere", "") == -K_ENOENT);
    CHECK(u_spawn("/etc/motd", "") == -K_ENOEXEC);
    CHECK(u_spawn(KERNEL_PTR, "") == -K_EFAULT);
    CHECK(u_spawn(HOLE_PTR, "") == -K_EFAULT);
    CHECK(u_spawn("/bin/true", KERNEL_PTR) == -K_EFAULT);
    /* a child that faults is killed; its status says which exception */
    pid = u_spawn("/bin/fault", "null");
    CHECK(pid > 0);
    CHECK(u_wait(pid, &status) == pid && status == 128 + 14);
    return 0;
}

static int t_sleep(void)
{
    int32_t t0 = u_uptime();
    CHECK(u_sleep(50) == 0);
    int32_t dt = u_uptime() - t0;
    CHECK(dt >= 5 && dt < 100);
    CHECK(u_sleep(0) == 0);
    return 0;
}

static int t_prio(void)
{
    CHECK(u_setprio(0, 2) == 0);
    CHECK(u_setprio(0, 4) == -K_EINVAL);
    CHECK(u_setprio(0, -1) == -K_EINVAL);
    CHECK(u_setprio(99999, 1) == -K_ESRCH);
    CHECK(u_setprio(1, 1) == -K_ESRCH); /* pid 1 is the kernel's own thread */
    CHECK(u_setprio(u_getpid(), 1) == 0);
    return 0;
}

static int t_nosys(void)
{
    CHECK(u_syscall(0, 0, 0, 0) == -K_ENOSYS);
    CHECK(u_syscall(K_SYS_COUNT, 0, 0, 0) == -K_ENOSYS);
    CHECK(u_syscall(0xffffffffu, 0, 0, 0) == -K_ENOSYS);
    return 0;
}

static int t_efault(void)
{
    /* a string that runs off the end of a mapped range */
    int32_t a = u_mmap(4096, 1);
    CHECK(a > 0);
    char *p = (char *)(uintptr_t)a;
    for (int i = 0; i < 4096; i++)
        p[i] = 'x';
    CHECK(u_open(p + 4090) == -K_EFAULT);
    CHECK(u_open(p) == -K_ENAMETOOLONG);
    CHECK(u_munmap(p, 4096) == 0);
    CHECK(u_write(1, (void *)0xbffffff0, 0x20) == -K_EFAULT); /* past the stack top */
    CHECK(u_write(1, (void *)0x3ffffff0, 0x20) == -K_EFAULT); /* below the user base */
    CHECK(u_read(0, (void *)0xc0000000, 4) == -K_EFAULT);
    return 0;
}

struct group {
    const char *name;
    int (*fn)(void);
};

static const struct group groups[] = {
    {"basic", t_basic}, {"write", t_write}, {"read", t_read},   {"files", t_files},
    {"mmap", t_mmap},   {"fork", t_fork},   {"spawn", t_spawn}, {"sleep", t_sleep},
    {"prio", t_prio},   {"nosys", t_nosys}, {"efault", t_efault},
};

int main(const char *arg)
{
    for (uint32_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
        if (strcmp(arg, groups[i].name) == 0)
            return groups[i].fn();
    u_printf("usertest: unknown group '%s'\n", arg);
    return 1;
}

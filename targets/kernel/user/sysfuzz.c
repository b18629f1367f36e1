/*
 * sysfuzz.c - /bin/sysfuzz run [trace]: the in-guest system call fuzzer (mode=fuzz, main.c).
 * Reads its program from /dev/fuzzprog (sys/fuzzprog.h) and runs it: records of 24 bytes,
 * u32 nr then u32 a[5], little-endian, at most REC_MAX, a trailing partial record ignored.
 * The kernel gets nr % 32 (numbers it does not know give -K_ENOSYS) and the arguments in
 * ebx, ecx, edx, esi, edi, each decoded so random bytes reach interesting states:
 *   0xB0F0xxxx  a pointer into an 8 KiB writable scratch buffer, offset xxxx & 0x1FFF
 *   0xB0F1xxxx  a pointer to string xxxx % N of a fixed list (paths, "", and 300 bytes with
 *               no NUL at the end of the scratch buffer)
 *   own memory  a raw value inside this program's image or stack moves to an unmapped hole
 *               (HOLE_BASE), so the program cannot corrupt the executor itself
 *   anything else is passed raw: NULL, kernel addresses, holes, huge lengths, bad fds.
 * Clamps that keep a correct kernel from hanging (each documented at clamp()): no read from
 * the console fds 0..2 (it waits for input); console writes of at most 512 bytes unless the
 * length is huge; spawn of a path that may name a program which never ends by itself
 * (/bin/init, /bin/hog, /bin/kbench, raw user addresses) is skipped; wait(-1) only with
 * children; sleep at most 20 ms and 60 ms in all per process; mmap at most 1 MiB. exit ends
 * the process's program; after fork both processes run the rest of it. At the end a process
 * reaps its children; the first one prints "LAB FUZZ calls=<n> errors=<n> efault=<n>
 * skipped=<n>" (its own calls only). With trace, every record prints "LAB FUZZ r <pid> <i>
 * <nr> <result>" or "LAB FUZZ r <pid> <i> <nr> skip".
 * Started with another argument (a fuzz program spawning /bin/sysfuzz) it exits at once,
 * and the kernel refuses /dev/fuzzprog to processes it did not start itself.
 */
#include "ulib.h"

#define REC_WORDS 6u
#define REC_SIZE (REC_WORDS * 4u)
#define REC_MAX 128u
#define PROG_MAX (REC_SIZE * REC_MAX)
#define NR_MOD 32u
#define SCRATCH_SIZE 8192u
#define UNTERMINATED_LEN 300u
#define TAG_SCRATCH 0xB0F0u
#define TAG_STRING 0xB0F1u
#define USER_BASE 0x40000000u /* K_USER_BASE, sys/uaccess.h */
#define OWN_IMAGE_END (USER_BASE + 0x100000u) /* far beyond this program's segments */
#define OWN_STACK_LOW (0xC0000000u - 1024u * 1024u)
#define USER_TOP 0xC0000000u
#define HOLE_BASE 0x50000000u /* between the program and the mmap area: never mapped */
#define HOLE_MASK 0xFFFFFu
#define SLEEP_MAX_MS 20u
#define SLEEP_BUDGET_MS 60u
#define MMAP_MAX (1024u * 1024u)
#define CONSOLE_WRITE_MAX 512u
#define HUGE_LEN 0x10000000u /* more than a process can ever have mapped */

struct rec {
    uint32_t nr;
    uint32_t a[REC_WORDS - 1];
};

struct state {
    bool root;  /* the process the kernel started (not a forked copy) */
    bool trace;
    uint32_t children;
    uint32_t sleep_left;
    uint32_t calls, errors, efault, skipped;
};

/* The scratch buffer last, so a read running past its end cannot reach the program. */
static struct {
    uint8_t raw[PROG_MAX + 4];
    uint8_t scratch[SCRATCH_SIZE];
} g;

/* Index 4 (NULL) stands for the unterminated bytes at the end of the scratch buffer. */
static const char *const strings[] = {
    "/bin/true",     "/etc/motd",     "/bin/sysfuzz", "",           NULL,
    "/etc/pattern",  "/dev/fuzzprog", "/no/such/file", "/bin/fault", "null",
    "/bin/usertest", "efault",        "/bin/",
};
#define NSTRINGS (sizeof strings / sizeof strings[0])

static const char *const blocked[] = {"/bin/init", "/bin/hog", "/bin/kbench"};
#define NBLOCKED (sizeof blocked / sizeof blocked[0])

static uint32_t ptr(const void *p)
{
    return (uint32_t)(uintptr_t)p;
}

static uint32_t string_at(uint32_t index)
{
    const char *s = strings[index % NSTRINGS];
    return s != NULL ? ptr(s) : ptr(&g.scratch[SCRATCH_SIZE - UNTERMINATED_LEN]);
}

static uint32_t decode(uint32_t v)
{
    uint32_t tag = v >> 16;
    if (tag == TAG_SCRATCH)
        return ptr(&g.scratch[v & (SCRATCH_SIZE - 1)]);
    if (tag == TAG_STRING)
        return string_at(v & 0xFFFFu);
    if ((v >= USER_BASE && v < OWN_IMAGE_END) || (v >= OWN_STACK_LOW && v < USER_TOP))
        return HOLE_BASE | (v & HOLE_MASK);
    return v;
}

/* Whether spawn(path) is safe to run: a listed string, a raw address outside user memory
 * (-K_EFAULT), or a scratch string that does not name a program that never ends. */
static bool spawn_allowed(uint32_t raw, uint32_t path)
{
    uint32_t tag = raw >> 16;
    if (tag == TAG_STRING)
        return true;
    if (tag != TAG_SCRATCH)
        return path < USER_BASE || path >= USER_TOP;
    const char *s = (const char *)(uintptr_t)path;
    uint32_t room = ptr(g.scratch + SCRATCH_SIZE) - path;
    uint32_t n = 0;
    while (n < room && s[n] != '\0')
        n++;
    if (n == room)
        return true; /* no NUL in the buffer: too long or a fault, never a program */
    for (uint32_t i = 0; i < NBLOCKED; i++)
        if (strcmp(s, blocked[i]) == 0)
            return false;
    return true;
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

/* Adjust the decoded arguments of call nr; false to skip the call. */
static bool clamp(struct state *st, uint32_t nr, uint32_t raw0, uint32_t a[5])
{
    switch (nr) {
    case K_SYS_READ:
        return a[0] > 2u; /* the console: would wait for input nobody sends */
    case K_SYS_WRITE:
        if ((a[0] == 1u || a[0] == 2u) && a[2] > CONSOLE_WRITE_MAX && a[2] < HUGE_LEN)
            a[2] = CONSOLE_WRITE_MAX;
        return true;
    case K_SYS_SPAWN:
        return spawn_allowed(raw0, a[0]);
    case K_SYS_WAIT:
        return (int32_t)a[0] != -1 || st->children > 0;
    case K_SYS_SLEEP:
        a[0] = min_u32(min_u32(a[0], SLEEP_MAX_MS), st->sleep_left);
        st->sleep_left -= a[0];
        return true;
    case K_SYS_MMAP:
        a[0] = min_u32(a[0], MMAP_MAX);
        return true;
    default:
        return true;
    }
}

static int32_t sys5(uint32_t nr, const uint32_t a[5])
{
    int32_t r;
    __asm__ volatile("int $0x80"
                     : "=a"(r)
                     : "a"(nr), "b"(a[0]), "c"(a[1]), "d"(a[2]), "S"(a[3]), "D"(a[4])
                     : "memory");
    return r;
}

static void summary(const struct state *st)
{
    if (st->root)
        u_printf("LAB FUZZ calls=%u errors=%u efault=%u skipped=%u\n", st->calls, st->errors,
                 st->efault, st->skipped);
}

/* Bookkeeping after call nr returned r. */
static void account(struct state *st, uint32_t nr, int32_t r)
{
    st->calls++;
    if (r < 0) {
        st->errors++;
        st->efault += r == -K_EFAULT;
        return;
    }
    if (nr == K_SYS_FORK && r == 0) { /* the child: a fresh process of its own */
        st->root = false;
        st->children = 0;
        st->calls = st->errors = st->efault = st->skipped = 0;
    } else if (nr == K_SYS_FORK || nr == K_SYS_SPAWN) {
        st->children++;
    } else if (nr == K_SYS_WAIT && r > 0 && st->children > 0) {
        st->children--;
    }
}

static void run_one(struct state *st, uint32_t i, const struct rec *r)
{
    uint32_t nr = r->nr % NR_MOD, a[5];
    for (uint32_t k = 0; k < 5; k++)
        a[k] = decode(r->a[k]);
    if (!clamp(st, nr, r->a[0], a)) {
        st->skipped++;
        if (st->trace)
            u_printf("LAB FUZZ r %d %u %u skip\n", u_getpid(), i, nr);
        return;
    }
    if (nr == K_SYS_EXIT)
        summary(st);
    int32_t ret = sys5(nr, a);
    account(st, nr, ret);
    if (st->trace)
        u_printf("LAB FUZZ r %d %u %u %d\n", u_getpid(), i, nr, ret);
}

/* The program's records (whole ones only) into recs; their number, or -1 when this process
 * may not read /dev/fuzzprog (the kernel serves it only to the copy it started). */
static int32_t load(struct rec *recs)
{
    int fd = u_open("/dev/fuzzprog");
    if (fd < 0)
        return -1;
    uint32_t len = 0;
    int32_t n;
    while (len < sizeof g.raw && (n = u_read(fd, g.raw + len, sizeof g.raw - len)) > 0)
        len += (uint32_t)n;
    u_close(fd);
    uint32_t count = min_u32(len, PROG_MAX) / REC_SIZE;
    memcpy(recs, g.raw, count * REC_SIZE);
    return (int32_t)count;
}

int main(const char *arg)
{
    if (strncmp(arg, "run", 3) != 0 || (arg[3] != '\0' && arg[3] != ' '))
        return 0; /* spawned by a fuzz program: do not run the program again */
    struct rec recs[REC_MAX];
    int32_t count = load(recs);
    if (count < 0)
        return 0;
    struct state st = {.root = true, .trace = strcmp(arg, "run trace") == 0,
                       .sleep_left = SLEEP_BUDGET_MS};
    memset(g.scratch + SCRATCH_SIZE - UNTERMINATED_LEN, 'U', UNTERMINATED_LEN);
    for (uint32_t i = 0; i < (uint32_t)count; i++)
        run_one(&st, i, &recs[i]);
    while (u_wait(-1, NULL) > 0)
        ;
    summary(&st);
    return 0;
}

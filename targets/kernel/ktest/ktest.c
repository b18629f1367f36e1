/*
 * ktest.c - the in-guest test runner (ktest/ktest.h). Each test runs in the kmain kernel
 * thread; after it the heap and frame allocator are checked for corruption, which fails the
 * test even if its own expectations held. At the end the VGA screen is redrawn as a summary
 * (counts, then every test coloured by its result) for the lab's screenshot.
 */
#include "ktest/ktest.h"

#include <stdarg.h>

#include "dev/vga.h"
#include "lib/kprintf.h"
#include "mm/kmem.h"
#include "proc/proc.h"

extern const struct k_test __ktest_start[], __ktest_end[];

/* "kernel/ktest/x.c" -> "ktest/x.c": paths relative to targets/kernel. */
static const char *short_path(const char *file)
{
    const char *k = file, *s;
    for (s = file; *s != '\0'; s++)
        if (strncmp(s, "kernel/", 7) == 0)
            k = s + 7;
    return k;
}

void k_ktest_fail(struct k_tctx *t, const char *file, int line, const char *fmt, ...)
{
    if (t->failed)
        return;
    t->failed = true;
    int n = k_snprintf(t->detail, sizeof t->detail, "%s:%d: ", short_path(file), line);
    if (n < 0 || (size_t)n >= sizeof t->detail - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    k_vsnprintf(t->detail + n, sizeof t->detail - (size_t)n, fmt, ap);
    va_end(ap);
    for (char *c = t->detail; *c != '\0'; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
}

void k_ktest_skip(struct k_tctx *t, const char *reason)
{
    t->skipped = true;
    k_snprintf(t->detail, sizeof t->detail, "%s", reason);
}

int k_ktest_run_prog(const char *path, const char *arg, int *status)
{
    int pid = k_proc_spawn(path, arg);
    if (pid < 0)
        return pid;
    int got = k_proc_wait(pid, status);
    return got < 0 ? got : pid;
}

#define MAX_TESTS 128

static bool before(const struct k_test *a, const struct k_test *b)
{
    int c = strcmp(a->file, b->file);
    return c < 0 || (c == 0 && a->line < b->line);
}

/* The registered tests in file, line order (insertion sort: the section order is the
 * compiler's). */
static size_t sorted_tests(const struct k_test **out)
{
    size_t n = 0;
    for (const struct k_test *k = __ktest_start; k < __ktest_end && n < MAX_TESTS; k++) {
        size_t i = n++;
        while (i > 0 && before(k, out[i - 1])) {
            out[i] = out[i - 1];
            i--;
        }
        out[i] = k;
    }
    kassert(__ktest_end - __ktest_start <= MAX_TESTS);
    return n;
}

enum { R_OK, R_FAIL, R_SKIP };

static void vga_line(enum k_vga_color fg, enum k_vga_color bg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void vga_line(enum k_vga_color fg, enum k_vga_color bg, const char *fmt, ...)
{
    char buf[K_VGA_COLS + 1];
    va_list ap;
    va_start(ap, fmt);
    int n = k_vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    k_vga_set_color(fg, bg);
    k_vga_write(buf, n < (int)sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* The VGA summary: a title, the counts, then the tests in three columns. */
static void vga_summary(const struct k_test **tests, const uint8_t *res, size_t n, int pass,
                        int fail, int skip)
{
    k_vga_clear();
    vga_line(K_VGA_WHITE, K_VGA_BLUE, "%-80s", " lab kernel - in-guest tests (mode=test)");
    vga_line(fail ? K_VGA_LRED : K_VGA_LGREEN, K_VGA_BLACK,
             "%d passed, %d failed, %d skipped of %u\n\n", pass, fail, skip, (unsigned)n);
    size_t rows = (n + 2) / 3;
    for (size_t r = 0; r < rows && r < K_VGA_ROWS - 4; r++) {
        for (size_t c = 0; c < 3; c++) {
            size_t i = c * rows + r;
            if (i >= n)
                break;
            enum k_vga_color fg = res[i] == R_OK ? K_VGA_LGREEN
                                : res[i] == R_FAIL ? K_VGA_LRED : K_VGA_YELLOW;
            char name[40];
            k_snprintf(name, sizeof name, "%s.%s", tests[i]->suite, tests[i]->name);
            vga_line(fg, K_VGA_BLACK, "%s %-23.23s ", res[i] == R_OK ? "+" : res[i] == R_FAIL
                     ? "!" : "-", name);
        }
        vga_line(K_VGA_LGRAY, K_VGA_BLACK, "\n");
    }
    k_vga_set_color(K_VGA_LGRAY, K_VGA_BLACK);
}

int k_ktest_run_all(void)
{
    static const struct k_test *tests[MAX_TESTS];
    static uint8_t res[MAX_TESTS];
    size_t ntests = sorted_tests(tests);
    int pass = 0, fail = 0, skip = 0;
    for (size_t i = 0; i < ntests; i++) {
        const struct k_test *k = tests[i];
        struct k_tctx t = {.failed = false, .skipped = false, .detail = ""};
        k->fn(&t);
        if (!t.failed && k_heap_check(k_kmem_heap()) != 0)
            k_ktest_fail(&t, __FILE__, __LINE__, "kernel heap corrupt after the test");
        if (!t.failed && k_frames_check(k_kmem_frames()) != 0)
            k_ktest_fail(&t, __FILE__, __LINE__, "frame bitmap corrupt after the test");
        if (t.failed) {
            fail++;
            res[i] = R_FAIL;
            k_vga_set_color(K_VGA_LRED, K_VGA_BLACK);
            k_printf("KTEST fail %s.%s %s\n", k->suite, k->name, t.detail);
        } else if (t.skipped) {
            skip++;
            res[i] = R_SKIP;
            k_vga_set_color(K_VGA_YELLOW, K_VGA_BLACK);
            k_printf("KTEST skip %s.%s %s\n", k->suite, k->name, t.detail);
        } else {
            pass++;
            res[i] = R_OK;
            k_vga_set_color(K_VGA_LGREEN, K_VGA_BLACK);
            k_printf("KTEST ok %s.%s\n", k->suite, k->name);
        }
    }
    k_vga_set_color(fail ? K_VGA_LRED : K_VGA_WHITE, K_VGA_BLACK);
    k_printf("KTEST done pass=%d fail=%d skip=%d\n", pass, fail, skip);
    vga_summary(tests, res, ntests, pass, fail, skip);
    return fail;
}

/*
 * ktest.h - the in-guest test framework. KTEST_CASE(suite, name) defines a test and
 * registers it in the .ktest section (kernel.ld collects them between __ktest_start and
 * __ktest_end); they run ordered by source file name, then by line. Expectations stop the
 * test at the first failure and record file:line and a message; the runner prints one
 * serial record per test
 * (plugins/kernel/ktest.py): "KTEST ok|fail|skip <suite>.<name> [detail]", then
 * "KTEST done pass=<n> fail=<m> skip=<k>".
 */
#ifndef K_KTEST_H
#define K_KTEST_H

#include "lib/klib.h"

struct k_tctx {
    bool failed, skipped;
    char detail[160];
};

struct k_test {
    const char *suite;
    const char *name;
    void (*fn)(struct k_tctx *t);
    const char *file;
    int line;
};

#define KTEST_CASE(suite, name)                                                            \
    static void ktest_##suite##_##name(struct k_tctx *t);                                 \
    static const struct k_test ktest_rec_##suite##_##name                                 \
        __attribute__((used, section(".ktest"), aligned(4))) = {                          \
            #suite, #name, ktest_##suite##_##name, __FILE__, __LINE__};                   \
    static void ktest_##suite##_##name(struct k_tctx *t)

void k_ktest_fail(struct k_tctx *t, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void k_ktest_skip(struct k_tctx *t, const char *reason);

#define KEXPECT(cond)                                                                      \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            k_ktest_fail(t, __FILE__, __LINE__, "expected %s", #cond);                     \
            return;                                                                        \
        }                                                                                  \
    } while (0)

#define KEXPECT_EQ(a, b)                                                                   \
    do {                                                                                   \
        long long ka_ = (long long)(a), kb_ = (long long)(b);                              \
        if (ka_ != kb_) {                                                                  \
            k_ktest_fail(t, __FILE__, __LINE__, "%s == %s: got %lld, expected %lld", #a,   \
                         #b, ka_, kb_);                                                    \
            return;                                                                        \
        }                                                                                  \
    } while (0)

#define KSKIP(reason)                                                                      \
    do {                                                                                   \
        k_ktest_skip(t, reason);                                                           \
        return;                                                                            \
    } while (0)

/* Run every registered test; the number that failed. */
int k_ktest_run_all(void);
/* Spawn path with arg as a child of the test thread and wait for it: its pid in *pid (when
 * not NULL) and its exit status, or the negative spawn/wait error. */
int k_ktest_run_prog(const char *path, const char *arg, int *status);

#endif

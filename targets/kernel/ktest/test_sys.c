/*
 * test_sys.c - in-guest tests of the system calls (sys/syscall_nr.h) from user mode: each
 * case runs one group of /bin/usertest (user/usertest.c), which exits 0 or with the line of
 * its first failed check. Bad pointers must give -K_EFAULT and never fault the kernel.
 */
#include "ktest/ktest.h"
#include "proc/proc.h"

static void usertest(struct k_tctx *t, const char *group)
{
    int status = -1;
    int pid = k_ktest_run_prog("/bin/usertest", group, &status);
    if (pid <= 0)
        k_ktest_fail(t, __FILE__, __LINE__, "spawn /bin/usertest: error %d", pid);
    else if (status != 0)
        k_ktest_fail(t, "user/usertest.c", status, "group %s: check failed (status %d)",
                     group, status);
}

#define USERTEST(group)                                                                    \
    KTEST_CASE(syscall, group)                                                            \
    {                                                                                      \
        usertest(t, #group);                                                               \
    }

USERTEST(basic)
USERTEST(write)
USERTEST(read)
USERTEST(files)
USERTEST(mmap)
USERTEST(fork)
USERTEST(spawn)
USERTEST(sleep)
USERTEST(prio)
USERTEST(nosys)
USERTEST(efault)

KTEST_CASE(syscall, concurrent)
{
    /* several usertests at once, interleaved by the scheduler */
    static const char *const groups[] = {"fork", "mmap", "files", "spawn", "fork", "read"};
    int pids[K_ARRAY_LEN(groups)];
    for (size_t i = 0; i < K_ARRAY_LEN(groups); i++) {
        pids[i] = k_proc_spawn("/bin/usertest", groups[i]);
        KEXPECT(pids[i] > 0);
    }
    for (size_t i = 0; i < K_ARRAY_LEN(groups); i++) {
        int status = -1;
        KEXPECT_EQ(k_proc_wait(pids[i], &status), pids[i]);
        if (status != 0)
            k_ktest_fail(t, "user/usertest.c", status, "group %s: check failed", groups[i]);
    }
}

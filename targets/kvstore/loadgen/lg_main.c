/*
 * lg_main.c -- kvstore-loadgen: a native load generator for servers that
 * speak RESP2 (https://redis.io/docs/reference/protocol-spec/).
 *
 * Sequence: parse the command line (lg_cli.c; bad arguments exit 2), open
 * --connections non-blocking TCP connections (lg_net.c; refusal exits 1),
 * optionally --populate the keyspace (lg_populate.c), split the
 * connections evenly over --threads worker threads (lg_worker.c), run
 * warmup + measured window + drain on one shared clock, merge the threads'
 * tallies and print one JSON object (lg_report.c).  Any failure in a
 * thread -- a protocol violation, a connection closed by the server -- is
 * reported as one line on stderr, exit status 1.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "lg.h"

#define CONNECT_TIMEOUT_MS 5000
#define START_DELAY_NS (20u * 1000 * 1000) /* threads settle before t=0 */
#define DRAIN_NS (2 * LG_NS_PER_S)         /* wait for late replies */

static int fail(const char *msg)
{
    fprintf(stderr, "%s: %s\n", LG_PROG, msg);
    return LG_EXIT_RUN;
}

/* Room for one descriptor per connection, within the hard limit. */
static void raise_fd_limit(int connections)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)connections + 64;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= need)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need
                      ? need : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl); /* if refused, connect reports EMFILE */
}

static int *connect_all(const lg_config *cfg, char *err, size_t err_len)
{
    int *fds = malloc((size_t)cfg->connections * sizeof *fds);
    if (!fds) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    for (int i = 0; i < cfg->connections; i++) {
        fds[i] = lg_net_connect(cfg->host, cfg->port, CONNECT_TIMEOUT_MS,
                                err, err_len);
        if (fds[i] < 0) {
            for (int j = 0; j < i; j++)
                close(fds[j]);
            free(fds);
            return NULL;
        }
    }
    return fds;
}

static void set_clock(lg_shared *sh, const lg_config *cfg)
{
    sh->start_ns = lg_now_ns() + START_DELAY_NS;
    sh->win.warm_ns = sh->start_ns + (uint64_t)(cfg->warmup_s * 1e9);
    sh->win.end_ns = sh->win.warm_ns + (uint64_t)(cfg->duration_s * 1e9);
    if (sh->win.end_ns == sh->win.warm_ns)
        sh->win.end_ns++; /* --duration below 1 ns */
    sh->drain_ns = sh->win.end_ns + DRAIN_NS;
}

/* Starts and joins the threads; returns how many were started. */
static int run_threads(lg_worker *w, int n, lg_shared *sh)
{
    int started = 0;
    for (; started < n; started++)
        if (pthread_create(&w[started].tid, NULL, lg_worker_main,
                           &w[started]) != 0) {
            lg_fail(sh, "cannot start thread %d", started);
            break;
        }
    for (int i = 0; i < started; i++)
        pthread_join(w[i].tid, NULL);
    return started;
}

static void finish(const lg_config *cfg, const lg_shared *sh,
                   const lg_worker *w)
{
    lg_tally total;
    lg_tally_init(&total);
    for (int i = 0; i < cfg->threads; i++)
        lg_tally_merge(&total, &w[i].tally);
    if (total.unanswered > 0)
        fprintf(stderr, "%s: warning: %llu requests still unanswered 2 s "
                "after the end were dropped\n", LG_PROG,
                (unsigned long long)total.unanswered);
    if (total.unsent > 0)
        fprintf(stderr, "%s: warning: %llu requests intended in the measured "
                "window were never sent: --rate was not sustained\n",
                LG_PROG, (unsigned long long)total.unsent);
    lg_report(cfg, sh, &total);
}

/* Thread i gets connections [i*C/T, (i+1)*C/T): all differ by at most one
 * and none is empty (T <= C).  The workers own the descriptors. */
static int setup_workers(lg_worker *w, lg_shared *sh, int *fds)
{
    int rc = 0, t = sh->cfg->threads, c = sh->cfg->connections;
    for (int i = 0; i < t; i++) {
        int lo = (int)((long)i * c / t), hi = (int)((long)(i + 1) * c / t);
        assert(hi > lo);
        if (lg_worker_setup(&w[i], sh, fds + lo, hi - lo, lo, i) < 0)
            rc = -1;
    }
    return rc;
}

/* Workers own the descriptors from here on. */
static int measure(const lg_config *cfg, const char *value, int *fds)
{
    lg_shared sh;
    memset(&sh, 0, sizeof sh);
    sh.cfg = cfg;
    sh.value = value;
    atomic_init(&sh.failed, 0);
    lg_worker *w = calloc((size_t)cfg->threads, sizeof *w);
    if (!w) {
        for (int i = 0; i < cfg->connections; i++)
            close(fds[i]);
        return fail("out of memory");
    }
    if (setup_workers(w, &sh, fds) < 0) {
        lg_fail(&sh, "cannot set up the connections (memory or epoll)");
    } else {
        set_clock(&sh, cfg);
        run_threads(w, cfg->threads, &sh);
    }
    int rc = atomic_load(&sh.failed) ? fail(sh.fail_msg) : 0;
    if (rc == 0)
        finish(cfg, &sh, w);
    for (int i = 0; i < cfg->threads; i++)
        lg_worker_cleanup(&w[i]);
    free(w);
    return rc;
}

int main(int argc, char **argv)
{
    lg_config cfg;
    int cli = lg_cli_parse(argc, argv, &cfg);
    if (cli == LG_CLI_HELP) {
        lg_cli_usage();
        return 0;
    }
    if (cli != LG_CLI_RUN)
        return LG_EXIT_USAGE;
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit(cfg.connections);
    char err[512];
    char *value = lg_value_make(cfg.value_size, cfg.seed);
    if (!value)
        return fail("out of memory");
    int *fds = connect_all(&cfg, err, sizeof err);
    int rc = fds ? 0 : fail(err);
    if (rc == 0 && cfg.populate &&
        lg_populate(&cfg, value, err, sizeof err) < 0) {
        for (int i = 0; i < cfg.connections; i++)
            close(fds[i]);
        rc = fail(err);
    } else if (rc == 0) {
        rc = measure(&cfg, value, fds);
    }
    free(fds);
    free(value);
    return rc;
}

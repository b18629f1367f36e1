/*
 * server.c -- kvstore-server: a Redis-protocol (RESP2,
 * https://redis.io/docs/reference/protocol-spec/) key-value server with
 * Redis 7.0 command semantics for strings, expiry and the keyspace.
 *
 * main() parses the command line (config.c; bad arguments exit with status
 * 2), seeds the hash function and the sampling PRNG from the kernel, loads
 * the persisted data (persist.h; a corrupt file exits with status 1 and
 * one line on stderr), opens the listener, prints "kvstore-server ready on
 * ADDR:PORT" on stdout and runs the event loops (net.c) until
 * SIGTERM/SIGINT or SHUTDOWN, then saves/flushes what persistence asks
 * for, closes everything and exits 0.  The timer (server_cron, `hz` times
 * per second) runs active expiry, incremental rehashing, the ops/sec
 * metric and the persistence work (child processes, save rules, log
 * rewrites, writing the log records of expired keys).
 *
 * `kvstore-server --check-aof PATH [--fix]` runs the log checker instead
 * (aof_check.h) and starts no server.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "server.h"
#include "aof.h"
#include "aof_check.h"
#include "db.h"
#include "dict.h"
#include "log.h"
#include "mem.h"
#include "net.h"
#include "persist.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define OPS_SAMPLE_PERIOD_US 100000

static void on_signal(int sig)
{
    (void)sig;
    kv_server_request_shutdown();
}

static int install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_signal;
    if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
        return -1;
    sa.sa_handler = SIG_IGN;
    return sigaction(SIGPIPE, &sa, NULL);
}

/* instantaneous_ops_per_sec: commands per second over the last period,
 * averaged over KV_OPS_SAMPLES periods (Redis trackInstantaneousMetric). */
static void track_ops(void)
{
    kv_stats *st = &kv_srv.stats;
    int64_t now = kv_monotonic_us(), dt = now - st->ops_last_us;
    if (dt < OPS_SAMPLE_PERIOD_US)
        return;
    st->ops_samples[st->ops_idx] =
        (uint64_t)((double)(st->commands - st->ops_last_count) * 1e6 / (double)dt);
    st->ops_idx = (st->ops_idx + 1) % KV_OPS_SAMPLES;
    st->ops_last_us = now;
    st->ops_last_count = st->commands;
}

static void server_cron(kv_loop *loop, void *data)
{
    size_t used = kv_used_memory();
    (void)loop;
    (void)data;
    kv_lock();
    kv_db_cron(kv_srv.db, kv_srv.cfg.hz);
    kv_persist_cron();
    if (kv_srv.aof_on) {
        kv_aof_batch_end();
        kv_aof_write_pending();
    }
    track_ops();
    if (used > kv_srv.peak_memory)
        kv_srv.peak_memory = used;
    kv_net_set_timer_period(1000 / kv_srv.cfg.hz);
    kv_unlock();
}

/* Raises the open-file limit for maxclients, or lowers maxclients. */
static void adjust_open_files(void)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)kv_srv.cfg.maxclients + 32;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
        return;
    rlim_t limit = rl.rlim_max < want ? rl.rlim_max : want;
    rl.rlim_cur = limit;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0)
        limit = rl.rlim_cur;
    if (limit < want) {
        long long n = limit > 64 ? (long long)limit - 32 : 32;
        kv_log(KV_LOG_WARNING, "maxclients lowered from %lld to %lld: the open files "
               "limit is %llu", kv_srv.cfg.maxclients, n, (unsigned long long)limit);
        kv_srv.cfg.maxclients = n;
    }
}

static void seed_randomness(void)
{
    uint8_t seed[16 + 32 + 20];
    static const char hex[] = "0123456789abcdef";
    kv_os_random(seed, sizeof seed);
    kv_state_seed(seed);
    for (int i = 0; i < 20; i++) {
        kv_srv.run_id[2 * i] = hex[seed[48 + i] >> 4];
        kv_srv.run_id[2 * i + 1] = hex[seed[48 + i] & 15];
    }
    kv_srv.run_id[40] = '\0';
}

static int init_server(void)
{
    pthread_mutex_init(&kv_srv.lock, NULL);
    seed_randomness();
    kv_srv.start_ms = kv_mstime();
    kv_srv.stats.ops_last_us = kv_monotonic_us();
    kv_srv.db = kv_db_create();
    if (pipe2(kv_srv.shutdown_pipe, O_NONBLOCK | O_CLOEXEC) < 0)
        return -1;
    adjust_open_files();
    return install_signals();
}

static void cleanup_server(void)
{
    if (kv_srv.listen_fd >= 0)
        close(kv_srv.listen_fd);
    kv_db_free(kv_srv.db);
    kv_srv.db = NULL;
    for (int i = 0; i < 2; i++)
        if (kv_srv.shutdown_pipe[i] >= 0)
            close(kv_srv.shutdown_pipe[i]);
    kv_config_free(&kv_srv.cfg);
    pthread_mutex_destroy(&kv_srv.lock);
    kv_log_close();
}

/* The one line of a refused start: stderr, and the log file if there is one. */
static void start_error(const char *what)
{
    fprintf(stderr, "kvstore-server: %s\n", what);
    if (kv_srv.cfg.logfile)
        kv_log(KV_LOG_WARNING, "%s", what);
}

int main(int argc, char **argv)
{
    char err[1024];
    int rc;
    if (kv_check_aof_wanted(argc, argv))
        return kv_check_aof_main(argc, argv);
    rc = kv_config_from_args(&kv_srv.cfg, argc, argv, err, sizeof err);
    if (rc != 0) {
        if (rc < 0)
            fprintf(stderr, "kvstore-server: %s\n", err);
        kv_config_free(&kv_srv.cfg);
        return rc < 0 ? 2 : 0;
    }
    if (kv_srv.cfg.dir && chdir(kv_srv.cfg.dir) < 0) {
        fprintf(stderr, "kvstore-server: cannot use --dir '%s': %s (valid: an existing "
                "directory)\n", kv_srv.cfg.dir, strerror(errno));
        kv_config_free(&kv_srv.cfg);
        return 2;
    }
    /* Like Redis, a relative --logfile is relative to --dir. */
    if (kv_log_open(kv_srv.cfg.logfile) < 0) {
        fprintf(stderr, "kvstore-server: cannot open --logfile '%s': %s (valid: a writable "
                "file path)\n", kv_srv.cfg.logfile, strerror(errno));
        kv_config_free(&kv_srv.cfg);
        return 2;
    }
    if (init_server() < 0) {
        fprintf(stderr, "kvstore-server: initialization failed: %s\n", strerror(errno));
        cleanup_server();
        return 1;
    }
    if (kv_persist_start(err, sizeof err) < 0) {
        start_error(err);
        kv_persist_finish_shutdown();
        cleanup_server();
        return 1;
    }
    kv_srv.listen_fd = kv_net_listen(kv_srv.cfg.bind, kv_srv.cfg.port, err, sizeof err);
    if (kv_srv.listen_fd < 0) {
        fprintf(stderr, "kvstore-server: %s\n", err);
        kv_log(KV_LOG_WARNING, "%s", err);
        kv_persist_prepare_shutdown(KV_SHUTDOWN_NOSAVE); /* nothing changed: no save */
        kv_persist_finish_shutdown();
        cleanup_server();
        return 1;
    }
    printf("kvstore-server ready on %s:%d\n", kv_srv.cfg.bind, kv_srv.cfg.port);
    fflush(stdout);
    kv_log(KV_LOG_NOTICE, "kvstore-server %s ready on %s:%d (%d I/O thread%s, hz %d)",
           KV_VERSION, kv_srv.cfg.bind, kv_srv.cfg.port, kv_srv.cfg.threads,
           kv_srv.cfg.threads > 1 ? "s" : "", kv_srv.cfg.hz);
    rc = kv_net_run(kv_srv.cfg.threads, server_cron);
    if (kv_persist_finish_shutdown() < 0) {
        kv_log(KV_LOG_WARNING, "Errors saving or flushing the data at shutdown");
        rc = -1;
    }
    kv_log(KV_LOG_NOTICE, "Shutting down: %llu keys in memory, bye",
           (unsigned long long)kv_db_size(kv_srv.db));
    cleanup_server();
    return rc == 0 ? 0 : 1;
}

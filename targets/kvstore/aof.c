/*
 * aof.c -- the append path of the log (see aof.h).
 *
 * Positions: write_pos counts every byte written to the log since start
 * (across file switches), sync_pos the prefix known to be on disk.  Bytes
 * are written under the keyspace lock and write_pos is advanced after
 * write() returns, so "fdatasync(fd) after reading write_pos" makes that
 * position durable.  The file descriptor is replaced (kv_aof_switch) only
 * while holding both the keyspace lock and fsync_lock, and read by syncers
 * under fsync_lock: a sync never targets a closed file.  Lock order:
 * keyspace lock, then fsync_lock.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "aof.h"
#include "file.h"
#include "log.h"
#include "mem.h"
#include "server.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define KEEP_BUFFER (1024 * 1024)

static struct {
    int fd; /* -1: closed */
    atomic_int policy;
    char *buf;
    size_t len, cap;
    uint64_t file_size;
    int write_errno; /* errno of the last failed write, 0 when the last one worked */
    atomic_uint_fast64_t write_pos, sync_pos;
    pthread_mutex_t fsync_lock;
    /* the everysec thread */
    pthread_t thread;
    int thread_on, stop;
    pthread_mutex_t tlock;
    pthread_cond_t tcond;
} aof = {
    .fd = -1,
    .fsync_lock = PTHREAD_MUTEX_INITIALIZER,
    .tlock = PTHREAD_MUTEX_INITIALIZER,
    .tcond = PTHREAD_COND_INITIALIZER,
};

/* ---- the buffer ---- */

static void put(const void *p, size_t n)
{
    if (aof.cap - aof.len < n) {
        size_t cap = aof.cap ? aof.cap : 16384;
        while (cap - aof.len < n)
            cap *= 2;
        aof.buf = kv_realloc(aof.buf, cap);
        aof.cap = cap;
    }
    memcpy(aof.buf + aof.len, p, n);
    aof.len += n;
}

static void put_header(char kind, size_t n)
{
    char tmp[KV_LONG_STR_SIZE + 3];
    size_t len;
    tmp[0] = kind;
    len = 1 + kv_ll2str(tmp + 1, (long long)n);
    tmp[len++] = '\r';
    tmp[len++] = '\n';
    put(tmp, len);
}

void kv_aof_feed(int argc, const kv_arg *argv)
{
    assert(argc > 0);
    put_header('*', (size_t)argc);
    for (int i = 0; i < argc; i++) {
        put_header('$', argv[i].len);
        put(argv[i].p, argv[i].len);
        put("\r\n", 2);
    }
}

/* ---- fsync ---- */

/* The one place the log is synced.  KV_TEST_SKIP_FSYNC builds a deliberately
 * broken server for the lab's durability tests (`lab chaos`): it acknowledges
 * writes without syncing them, which a crash that drops unsynced data exposes. */
static int aof_datasync(int fd)
{
#ifdef KV_TEST_SKIP_FSYNC
    (void)fd;
    return 0;
#else
    return fdatasync(fd);
#endif
}

static void fatal(const char *what, int err)
{
    kv_log(KV_LOG_WARNING, "Can't recover from AOF %s error (%s) when the AOF fsync policy is "
           "'always'. Exiting...", what, strerror(err));
    _exit(1);
}

/* fdatasync()s everything written so far unless POS is already durable. */
static void sync_upto(uint64_t pos)
{
    pthread_mutex_lock(&aof.fsync_lock);
    if (atomic_load(&aof.sync_pos) < pos && aof.fd >= 0) {
        uint64_t target = atomic_load(&aof.write_pos);
        if (aof_datasync(aof.fd) == 0) {
            atomic_store(&aof.sync_pos, target);
            if (atomic_fetch_and(&kv_srv.deny_writes, ~KV_DENY_AOF_FSYNC) & KV_DENY_AOF_FSYNC)
                kv_log(KV_LOG_WARNING, "AOF fsync error looks solved, writes are accepted "
                       "again.");
        } else {
            int err = errno;
            if (atomic_load(&aof.policy) == KV_FSYNC_ALWAYS)
                fatal("fsync", err);
            if (!(atomic_fetch_or(&kv_srv.deny_writes, KV_DENY_AOF_FSYNC) &
                  KV_DENY_AOF_FSYNC))
                kv_log(KV_LOG_WARNING, "Error syncing the append only file: %s",
                       strerror(err));
        }
    }
    pthread_mutex_unlock(&aof.fsync_lock);
}

void kv_aof_wait_durable(uint64_t pos)
{
    /* the caller wrote the bytes first (kv_aof_write_pending) */
    assert(aof.fd < 0 || atomic_load(&aof.write_pos) >= pos);
    if (pos && atomic_load(&aof.sync_pos) < pos)
        sync_upto(pos);
}

static void *fsync_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&aof.tlock);
    while (!aof.stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&aof.tcond, &aof.tlock, &ts);
        if (aof.stop)
            break;
        pthread_mutex_unlock(&aof.tlock);
        if (atomic_load(&aof.policy) == KV_FSYNC_EVERYSEC)
            sync_upto(atomic_load(&aof.write_pos));
        pthread_mutex_lock(&aof.tlock);
    }
    pthread_mutex_unlock(&aof.tlock);
    return NULL;
}

static void start_thread(void)
{
    sigset_t all, old;
    aof.stop = 0;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old); /* signals go to the main thread */
    aof.thread_on = pthread_create(&aof.thread, NULL, fsync_thread, NULL) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!aof.thread_on)
        kv_log(KV_LOG_WARNING, "Could not start the AOF fsync thread: everysec acts as no");
}

static void stop_thread(void)
{
    if (!aof.thread_on)
        return;
    pthread_mutex_lock(&aof.tlock);
    aof.stop = 1;
    pthread_cond_signal(&aof.tcond);
    pthread_mutex_unlock(&aof.tlock);
    pthread_join(aof.thread, NULL);
    aof.thread_on = 0;
}

/* ---- writing ---- */

static void drop_front(size_t n)
{
    memmove(aof.buf, aof.buf + n, aof.len - n);
    aof.len -= n;
}

static void write_failed(size_t done, int err)
{
    /* Like Redis: undo a partial write if possible, else keep it. */
    if (done && ftruncate(aof.fd, (off_t)aof.file_size) == 0)
        done = 0;
    if (done) {
        aof.file_size += done;
        atomic_fetch_add(&aof.write_pos, done);
        drop_front(done);
    }
    if (atomic_load(&aof.policy) == KV_FSYNC_ALWAYS)
        fatal("write", err);
    if (aof.write_errno == 0)
        kv_log(KV_LOG_WARNING, "Error writing to the AOF file: %s", strerror(err));
    aof.write_errno = err;
    atomic_fetch_or(&kv_srv.deny_writes, KV_DENY_AOF_WRITE);
}

/* Writes the buffer; 0, or -1 (kept for a retry) on error. */
static int write_buffer(void)
{
    size_t done = 0;
    if (aof.len == 0 || aof.fd < 0)
        return 0;
    while (done < aof.len) {
        ssize_t w = write(aof.fd, aof.buf + done, aof.len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            write_failed(done, w < 0 ? errno : ENOSPC);
            return -1;
        }
        done += (size_t)w;
    }
    aof.file_size += done;
    atomic_fetch_add(&aof.write_pos, done);
    aof.len = 0;
    if (aof.cap > KEEP_BUFFER) {
        kv_free(aof.buf);
        aof.buf = NULL;
        aof.cap = 0;
    }
    if (aof.write_errno) {
        aof.write_errno = 0;
        atomic_fetch_and(&kv_srv.deny_writes, ~KV_DENY_AOF_WRITE);
        kv_log(KV_LOG_WARNING, "AOF write error looks solved, writes are accepted again.");
    }
    return 0;
}

uint64_t kv_aof_batch_end(void)
{
    uint64_t pos;
    if (aof.fd < 0)
        return 0;
    if (atomic_load(&aof.policy) != KV_FSYNC_ALWAYS) {
        write_buffer();
        return 0;
    }
    /* always: the bytes stay buffered until the group commit writes them
     * (kv_aof_write_pending), so one write() serves every client */
    pos = atomic_load(&aof.write_pos) + aof.len;
    return atomic_load(&aof.sync_pos) < pos ? pos : 0;
}

void kv_aof_write_pending(void)
{
    if (aof.fd >= 0)
        write_buffer();
}

int kv_aof_flush_sync(void)
{
    int rc = write_buffer();
    pthread_mutex_lock(&aof.fsync_lock);
    if (aof.fd >= 0) {
        uint64_t target = atomic_load(&aof.write_pos);
        if (aof_datasync(aof.fd) == 0)
            atomic_store(&aof.sync_pos, target);
        else
            rc = -1;
    }
    pthread_mutex_unlock(&aof.fsync_lock);
    return rc;
}

/* ---- lifecycle ---- */

void kv_aof_open(int fd, uint64_t size, kv_fsync_policy policy)
{
    assert(aof.fd < 0 && fd >= 0);
    aof.fd = fd;
    aof.file_size = size;
    aof.write_errno = 0;
    atomic_store(&aof.policy, (int)policy);
    atomic_store(&aof.sync_pos, atomic_load(&aof.write_pos));
    atomic_fetch_and(&kv_srv.deny_writes, ~(KV_DENY_AOF_WRITE | KV_DENY_AOF_FSYNC));
    start_thread();
}

int kv_aof_is_open(void)
{
    return aof.fd >= 0;
}

void kv_aof_set_policy(kv_fsync_policy policy)
{
    atomic_store(&aof.policy, (int)policy);
}

int kv_aof_close(void)
{
    int rc;
    if (aof.fd < 0)
        return 0;
    stop_thread();
    rc = kv_aof_flush_sync();
    if (aof.len) {
        kv_log(KV_LOG_WARNING, "%zu bytes of the AOF buffer could not be written", aof.len);
        rc = -1;
    }
    pthread_mutex_lock(&aof.fsync_lock);
    if (close(aof.fd) < 0)
        rc = -1;
    aof.fd = -1;
    pthread_mutex_unlock(&aof.fsync_lock);
    kv_free(aof.buf);
    aof.buf = NULL;
    aof.len = aof.cap = 0;
    aof.write_errno = 0;
    atomic_fetch_and(&kv_srv.deny_writes, ~(KV_DENY_AOF_WRITE | KV_DENY_AOF_FSYNC));
    return rc;
}

int kv_aof_switch(int newfd, uint64_t *old_size)
{
    int old;
    if (write_buffer() < 0) {
        errno = aof.write_errno;
        return -1;
    }
    pthread_mutex_lock(&aof.fsync_lock);
    old = aof.fd;
    if (aof_datasync(old) == 0)
        atomic_store(&aof.sync_pos, atomic_load(&aof.write_pos));
    else
        kv_log(KV_LOG_WARNING, "fsync of the previous AOF file failed: %s", strerror(errno));
    aof.fd = newfd;
    *old_size = aof.file_size;
    aof.file_size = 0;
    pthread_mutex_unlock(&aof.fsync_lock);
    close(old);
    return 0;
}

void kv_aof_get_stats(kv_aof_stats *st)
{
    st->write_ok = aof.write_errno == 0;
    st->write_errno = aof.write_errno;
    st->file_size = aof.file_size;
    st->buffer_len = aof.len;
}

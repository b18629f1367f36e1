/*
 * persist.c -- snapshots, log rewrites, the child process, the timer's
 * persistence work and shutdown (see persist.h).  Startup and the log's
 * files are in persist_load.c.
 *
 * The child: fork() is called with the keyspace lock held, so the child's
 * copy of the keyspace is consistent; other threads do not exist in the
 * child, which only iterates the keyspace, writes one file and leaves with
 * _exit() (no atexit handlers, no stdio, no locks).  The parent reaps it
 * from the timer with waitpid(WNOHANG).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "aof.h"
#include "file.h"
#include "log.h"
#include "mem.h"
#include "persist.h"
#include "persist_state.h"
#include "server.h"
#include "snap.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BGSAVE_RETRY_DELAY_MS 5000 /* Redis's CONFIG_BGSAVE_RETRY_DELAY */
/* After N consecutive failed rewrites the automatic rewrite waits
 * 1 s << N (at most about an hour), as Redis limits retries. */
#define REWRITE_RETRY_BASE_MS 1000

static uint64_t aof_current_size(void)
{
    kv_aof_stats st;
    kv_aof_get_stats(&st);
    return kv_ps.sealed_size + st.file_size;
}

/* ---- the child ---- */

/* In the child: write the snapshot, leave. */
static void child_main(int type)
{
    int rc;
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    if (kv_srv.listen_fd >= 0)
        close(kv_srv.listen_fd);
    if (type == KV_CHILD_RDB) {
        rc = kv_snap_save_file(kv_srv.db, kv_srv.cfg.dbfilename, kv_mstime(), NULL);
    } else {
        int fd = open(kv_ps.child_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        rc = fd < 0 ? -1 : kv_snap_write_fd(kv_srv.db, fd, kv_mstime(), NULL);
        if (fd >= 0 && (fsync(fd) < 0 || close(fd) < 0))
            rc = -1;
    }
    _exit(rc == 0 ? 0 : 1);
}

static int fork_child(int type)
{
    pid_t pid = fork();
    if (pid == 0)
        child_main(type);
    if (pid < 0) {
        kv_log(KV_LOG_WARNING, "Can't save in background: fork: %s", strerror(errno));
        return -1;
    }
    kv_ps.child = pid;
    kv_ps.child_type = type;
    kv_ps.child_start_ms = kv_mstime();
    return 0;
}

void kv_persist_kill_child(void)
{
    int status;
    if (kv_ps.child_type == KV_CHILD_NONE)
        return;
    kill(kv_ps.child, SIGKILL);
    while (waitpid(kv_ps.child, &status, 0) < 0 && errno == EINTR) {
    }
    unlink(kv_ps.child_tmp);
    kv_log(KV_LOG_NOTICE, "Killed the background %s child %d",
           kv_ps.child_type == KV_CHILD_AOF ? "AOF rewrite" : "save", (int)kv_ps.child);
    kv_ps.child_type = KV_CHILD_NONE;
    kv_ps.child = 0;
}

/* ---- snapshots ---- */

static void saved_ok(uint64_t dirty_then)
{
    kv_ps.lastsave_s = (int64_t)time(NULL);
    kv_ps.dirty_at_save = dirty_then;
    kv_ps.bgsave_ok = 1;
    kv_ps.rdb_saves++;
    atomic_fetch_and(&kv_srv.deny_writes, ~KV_DENY_RDB);
}

int kv_persist_save(void)
{
    uint64_t bytes = 0;
    if (kv_ps.child_type == KV_CHILD_RDB)
        return KV_BG_IN_PROGRESS;
    if (kv_snap_save_file(kv_srv.db, kv_srv.cfg.dbfilename, kv_mstime(), &bytes) < 0) {
        kv_log(KV_LOG_WARNING, "Failed saving the DB to %s: %s", kv_srv.cfg.dbfilename,
               strerror(errno));
        return -1;
    }
    saved_ok(kv_srv.dirty);
    kv_log(KV_LOG_NOTICE, "DB saved on disk (%s, %llu bytes)", kv_srv.cfg.dbfilename,
           (unsigned long long)bytes);
    return 0;
}

static int start_bgsave(void)
{
    kv_ps.bgsave_try_ms = kv_mstime();
    if (fork_child(KV_CHILD_RDB) < 0) {
        kv_ps.bgsave_ok = 0;
        return -1;
    }
    snprintf(kv_ps.child_tmp, sizeof kv_ps.child_tmp, "temp-%d-%s", (int)kv_ps.child,
             kv_srv.cfg.dbfilename);
    kv_ps.dirty_at_fork = kv_srv.dirty;
    kv_log(KV_LOG_NOTICE, "Background saving started by pid %d", (int)kv_ps.child);
    return 0;
}

int kv_persist_bgsave(int schedule)
{
    if (kv_ps.child_type == KV_CHILD_RDB)
        return KV_BG_IN_PROGRESS;
    if (kv_ps.child_type != KV_CHILD_NONE) {
        if (!schedule)
            return KV_BG_OTHER_CHILD;
        kv_ps.bgsave_scheduled = 1;
        return KV_BG_SCHEDULED;
    }
    return start_bgsave() == 0 ? KV_BG_STARTED : KV_BG_FAILED;
}

long long kv_persist_lastsave(void)
{
    return (long long)kv_ps.lastsave_s;
}

static void bgsave_done(int ok)
{
    kv_ps.bgsave_last_sec = (kv_mstime() - kv_ps.child_start_ms) / 1000;
    if (ok) {
        saved_ok(kv_ps.dirty_at_fork);
        kv_log(KV_LOG_NOTICE, "Background saving terminated with success");
        return;
    }
    unlink(kv_ps.child_tmp);
    kv_ps.bgsave_ok = 0;
    if (kv_srv.cfg.nsave > 0)
        atomic_fetch_or(&kv_srv.deny_writes, KV_DENY_RDB);
    kv_log(KV_LOG_WARNING, "Background saving error");
}

/* ---- log rewrites ---- */

/* Appendonly: continue the log in a new incremental file, recorded in the
 * manifest before the fork (so a crash during the rewrite still finds
 * every command).  kv_ps.rw_incr_seq: the new file's seq. */
static int open_next_incr(void)
{
    char name[KV_AOF_NAME_MAX], mpath[PATH_MAX];
    kv_manifest *m = &kv_ps.man;
    long long seq = m->nincr ? m->incr[m->nincr - 1].seq + 1 : 1;
    uint64_t old_size = 0;
    int fd;
    kv_aof_incr_name(name, sizeof name, kv_srv.cfg.appendfilename, seq);
    if ((fd = kv_persist_open_incr(name)) < 0) {
        kv_log(KV_LOG_WARNING, "Can't open the new AOF file %s: %s", name, strerror(errno));
        return -1;
    }
    kv_manifest_add_incr(m, name, seq);
    snprintf(mpath, sizeof mpath, "%s/%s.manifest", kv_srv.cfg.appenddirname,
             kv_srv.cfg.appendfilename);
    if (kv_manifest_save(m, mpath) < 0 || kv_aof_switch(fd, &old_size) < 0) {
        char path[PATH_MAX];
        kv_log(KV_LOG_WARNING, "Can't start an AOF rewrite: %s", strerror(errno));
        m->nincr--;
        kv_free(m->incr[m->nincr].name);
        if (kv_manifest_save(m, mpath) < 0)
            kv_log(KV_LOG_WARNING, "Can't restore %s: %s", mpath, strerror(errno));
        close(fd);
        kv_persist_aof_path(path, sizeof path, name);
        unlink(path);
        return -1;
    }
    kv_ps.sealed_size += old_size;
    kv_ps.rw_incr_seq = seq;
    return 0;
}

static int rewrite_failed(void)
{
    kv_ps.rewrite_ok = 0;
    kv_ps.rewrite_failures++;
    kv_ps.rewrite_fail_ms = kv_mstime();
    return -1;
}

static int start_rewrite(void)
{
    kv_ps.rewrite_scheduled = 0;
    if (mkdir(kv_srv.cfg.appenddirname, 0755) < 0 && errno != EEXIST) {
        kv_log(KV_LOG_WARNING, "Can't create %s: %s", kv_srv.cfg.appenddirname,
               strerror(errno));
        return rewrite_failed();
    }
    kv_ps.rw_incr_seq = 0;
    if (!kv_srv.aof_on) { /* the log on disk may have moved on since we last looked */
        kv_manifest_free(&kv_ps.man);
        kv_persist_read_disk_manifest(&kv_ps.man);
    } else if (open_next_incr() < 0) {
        return rewrite_failed();
    }
    kv_ps.rw_base_seq = (kv_ps.man.base.name ? kv_ps.man.base.seq : 0) + 1;
    snprintf(kv_ps.child_tmp, sizeof kv_ps.child_tmp, "%s/temp-rewriteaof-bg-%lld.kvs",
             kv_srv.cfg.appenddirname, kv_ps.rw_base_seq);
    if (fork_child(KV_CHILD_AOF) < 0)
        return rewrite_failed();
    kv_log(KV_LOG_NOTICE, "Background append only file rewriting started by pid %d",
           (int)kv_ps.child);
    return 0;
}

int kv_persist_bgrewrite(void)
{
    if (kv_ps.child_type == KV_CHILD_AOF)
        return KV_BG_IN_PROGRESS;
    if (kv_ps.child_type != KV_CHILD_NONE) {
        kv_ps.rewrite_scheduled = 1;
        return KV_BG_SCHEDULED;
    }
    return start_rewrite() == 0 ? KV_BG_STARTED : KV_BG_FAILED;
}

/* The manifest after a successful rewrite: the new base and the
 * incremental files opened since the fork. */
static void rewritten_manifest(kv_manifest *out, const char *base)
{
    kv_manifest_init(out);
    kv_manifest_set_base(out, base, kv_ps.rw_base_seq);
    for (size_t i = 0; i < kv_ps.man.nincr && kv_ps.rw_incr_seq; i++)
        if (kv_ps.man.incr[i].seq >= kv_ps.rw_incr_seq)
            kv_manifest_add_incr(out, kv_ps.man.incr[i].name, kv_ps.man.incr[i].seq);
}

static int install_rewrite(void)
{
    char base[KV_AOF_NAME_MAX], path[PATH_MAX], mpath[PATH_MAX];
    kv_manifest m;
    long long size;
    kv_aof_base_name(base, sizeof base, kv_srv.cfg.appendfilename, kv_ps.rw_base_seq);
    kv_persist_aof_path(path, sizeof path, base);
    snprintf(mpath, sizeof mpath, "%s/%s.manifest", kv_srv.cfg.appenddirname,
             kv_srv.cfg.appendfilename);
    if (rename(kv_ps.child_tmp, path) < 0) {
        kv_log(KV_LOG_WARNING, "AOF rewrite: rename to %s: %s", path, strerror(errno));
        return -1;
    }
    rewritten_manifest(&m, base);
    if (kv_manifest_save(&m, mpath) < 0) {
        kv_log(KV_LOG_WARNING, "AOF rewrite: writing %s: %s", mpath, strerror(errno));
        unlink(path);
        kv_manifest_free(&m);
        return -1;
    }
    kv_persist_delete_unlisted(&kv_ps.man, &m);
    kv_manifest_free(&kv_ps.man);
    kv_ps.man = m;
    size = kv_file_size(path);
    kv_ps.sealed_size = size > 0 ? (uint64_t)size : 0;
    kv_ps.rewrite_base_size = aof_current_size();
    return 0;
}

static void rewrite_done(int ok)
{
    kv_ps.rewrite_last_ms = kv_mstime() - kv_ps.child_start_ms;
    if (ok && install_rewrite() == 0) {
        kv_ps.rewrite_ok = 1;
        kv_ps.rewrite_failures = 0;
        kv_ps.rewrites++;
        kv_log(KV_LOG_NOTICE, "Background AOF rewrite finished successfully (%lld ms)",
               kv_ps.rewrite_last_ms);
        return;
    }
    unlink(kv_ps.child_tmp);
    rewrite_failed();
    kv_log(KV_LOG_WARNING, "Background AOF rewrite failed");
}

/* ---- the timer ---- */

static void reap_child(void)
{
    int status, type = kv_ps.child_type, ok;
    pid_t r;
    if (type == KV_CHILD_NONE)
        return;
    r = waitpid(kv_ps.child, &status, WNOHANG);
    if (r == 0 || (r < 0 && errno == EINTR))
        return;
    ok = r > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    kv_ps.child_type = KV_CHILD_NONE;
    kv_ps.child = 0;
    if (type == KV_CHILD_RDB)
        bgsave_done(ok);
    else
        rewrite_done(ok);
}

static int save_rule_due(int64_t now_ms)
{
    uint64_t changes = kv_srv.dirty - kv_ps.dirty_at_save;
    int64_t since = (int64_t)time(NULL) - kv_ps.lastsave_s;
    if (!kv_ps.bgsave_ok && now_ms - kv_ps.bgsave_try_ms <= BGSAVE_RETRY_DELAY_MS)
        return 0;
    for (int i = 0; i < kv_srv.cfg.nsave; i++) {
        const kv_save_rule *r = &kv_srv.cfg.save[i];
        if (changes >= (uint64_t)r->changes && since >= r->seconds) {
            kv_log(KV_LOG_NOTICE, "%lld changes in %lld seconds. Saving...", r->changes,
                   r->seconds);
            return 1;
        }
    }
    return 0;
}

static int rewrite_due(int64_t now_ms)
{
    uint64_t cur, base;
    int shift = kv_ps.rewrite_failures < 12 ? kv_ps.rewrite_failures : 12;
    if (!kv_srv.aof_on || kv_srv.cfg.auto_aof_rewrite_percentage == 0)
        return 0;
    if (kv_ps.rewrite_failures &&
        now_ms - kv_ps.rewrite_fail_ms < (int64_t)REWRITE_RETRY_BASE_MS << shift)
        return 0;
    cur = aof_current_size();
    base = kv_ps.rewrite_base_size ? kv_ps.rewrite_base_size : 1;
    if (cur <= kv_srv.cfg.auto_aof_rewrite_min_size || cur < base)
        return 0;
    if ((cur - base) * 100 / base < (uint64_t)kv_srv.cfg.auto_aof_rewrite_percentage)
        return 0;
    kv_log(KV_LOG_NOTICE, "Starting automatic rewriting of AOF on %llu%% growth",
           (unsigned long long)((cur - base) * 100 / base));
    return 1;
}

void kv_persist_cron(void)
{
    if (!kv_ps.started)
        return;
    reap_child();
    if (kv_ps.child_type != KV_CHILD_NONE)
        return;
    if (kv_ps.rewrite_scheduled)
        start_rewrite();
    else if (kv_ps.bgsave_scheduled) {
        kv_ps.bgsave_scheduled = 0;
        start_bgsave();
    } else if (save_rule_due(kv_mstime()))
        start_bgsave();
    else if (rewrite_due(kv_mstime()))
        start_rewrite();
}

/* ---- shutdown ---- */

static int want_save(int flags)
{
    return (flags & KV_SHUTDOWN_SAVE) || (!(flags & KV_SHUTDOWN_NOSAVE) && kv_srv.cfg.nsave);
}

int kv_persist_prepare_shutdown(int flags)
{
    if (!kv_ps.started)
        return 0;
    kv_persist_kill_child();
    if (want_save(flags) && kv_persist_save() != 0) {
        kv_log(KV_LOG_WARNING, "Error trying to save the DB, can't exit.");
        return -1;
    }
    if (kv_srv.aof_on && kv_aof_flush_sync() < 0)
        kv_log(KV_LOG_WARNING, "Error flushing the AOF before shutdown");
    kv_ps.shutdown_flags = flags;
    kv_ps.shutdown_prepared = 1;
    return 0;
}

int kv_persist_finish_shutdown(void)
{
    int rc = 0, flags = kv_ps.shutdown_prepared ? kv_ps.shutdown_flags : 0;
    if (!kv_ps.started) { /* a refused start: only the manifest read so far */
        kv_manifest_free(&kv_ps.man);
        return 0;
    }
    kv_persist_kill_child();
    if (want_save(flags) && (!kv_ps.shutdown_prepared || kv_srv.dirty != kv_ps.dirty_at_save) &&
        kv_persist_save() != 0)
        rc = -1;
    if (kv_srv.aof_on) {
        kv_srv.aof_on = 0;
        kv_srv.db->on_drop = NULL;
        if (kv_aof_close() < 0)
            rc = -1;
    }
    kv_manifest_free(&kv_ps.man);
    kv_ps.started = 0;
    return rc;
}

/* ---- configuration, errors, INFO ---- */

void kv_persist_set_fsync(kv_fsync_policy policy)
{
    kv_aof_set_policy(policy);
}

const char *kv_persist_misconf(void)
{
    static char msg[160];
    kv_aof_stats st;
    int deny = atomic_load(&kv_srv.deny_writes);
    if (deny & KV_DENY_RDB)
        return "-MISCONF Redis is configured to save RDB snapshots, but it's currently unable "
               "to persist to disk. Commands that may modify the data set are disabled, "
               "because this instance is configured to report errors during writes if RDB "
               "snapshotting fails (stop-writes-on-bgsave-error option). Please check the "
               "Redis logs for details about the RDB error.";
    kv_aof_get_stats(&st);
    snprintf(msg, sizeof msg, "-MISCONF Errors writing to the AOF file: %s",
             strerror(st.write_errno ? st.write_errno : EIO));
    return msg;
}

void kv_persist_get_stats(kv_persist_stats *st)
{
    kv_aof_stats as;
    int64_t now = kv_mstime();
    kv_aof_get_stats(&as);
    memset(st, 0, sizeof *st);
    st->changes_since_save = (long long)(kv_srv.dirty - kv_ps.dirty_at_save);
    st->last_save_time = kv_ps.lastsave_s;
    st->bgsave_in_progress = kv_ps.child_type == KV_CHILD_RDB;
    st->last_bgsave_ok = kv_ps.bgsave_ok || !kv_ps.started;
    st->last_bgsave_time_sec = kv_ps.started ? kv_ps.bgsave_last_sec : -1;
    st->current_bgsave_time_sec =
        st->bgsave_in_progress ? (now - kv_ps.child_start_ms) / 1000 : -1;
    st->rdb_saves = (long long)kv_ps.rdb_saves;
    st->aof_enabled = kv_srv.aof_on;
    st->rewrite_in_progress = kv_ps.child_type == KV_CHILD_AOF;
    st->rewrite_scheduled = kv_ps.rewrite_scheduled;
    st->last_rewrite_ok = kv_ps.rewrite_ok || !kv_ps.started;
    st->last_write_ok = as.write_ok;
    st->last_rewrite_time_ms = kv_ps.started ? kv_ps.rewrite_last_ms : -1;
    st->last_rewrite_time_sec =
        st->last_rewrite_time_ms < 0 ? -1 : st->last_rewrite_time_ms / 1000;
    st->current_rewrite_time_sec =
        st->rewrite_in_progress ? (now - kv_ps.child_start_ms) / 1000 : -1;
    st->rewrites = (long long)kv_ps.rewrites;
    st->aof_current_size = kv_srv.aof_on ? aof_current_size() : 0;
    st->aof_base_size = kv_srv.aof_on ? kv_ps.rewrite_base_size : 0;
    st->aof_buffer_length = as.buffer_len;
    st->loading_time_ms = kv_ps.loading_ms;
    st->loading_loaded_bytes = kv_ps.loaded_bytes;
    st->loaded_keys = kv_ps.loaded_keys;
    st->loaded_expired = kv_ps.loaded_expired;
}

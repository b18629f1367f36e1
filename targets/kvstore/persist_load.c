/*
 * persist_load.c -- startup recovery and the log's files (see persist.h):
 * loading the manifest, its base snapshot and incremental files (or the
 * dump file), cutting a corrupt tail of the last incremental file when
 * allowed, creating a fresh log (first start with appendonly, or CONFIG
 * SET appendonly yes), and switching the log on and off.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "aof.h"
#include "aof_load.h"
#include "file.h"
#include "log.h"
#include "persist.h"
#include "persist_state.h"
#include "propagate.h"
#include "server.h"
#include "snap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

kv_persist_state kv_ps;

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 3, 4)))
#endif
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

void kv_persist_aof_path(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", kv_srv.cfg.appenddirname, name);
}

static void manifest_path(char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s.manifest", kv_srv.cfg.appenddirname, kv_srv.cfg.appendfilename);
}

int kv_persist_open_incr(const char *name)
{
    char path[PATH_MAX];
    kv_persist_aof_path(path, sizeof path, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0 && kv_fsync_parent(path) < 0)
        kv_log(KV_LOG_WARNING, "fsync of %s's directory failed: %s", path, strerror(errno));
    return fd;
}

void kv_persist_log_on(int fd, uint64_t size)
{
    kv_aof_open(fd, size, kv_srv.cfg.appendfsync);
    kv_srv.aof_on = 1;
    kv_srv.db->on_drop = kv_propagate_drop;
}

static void log_off(void)
{
    kv_srv.aof_on = 0;
    kv_srv.db->on_drop = NULL;
    if (kv_aof_close() < 0)
        kv_log(KV_LOG_WARNING, "The AOF could not be fully written and synced when closed");
}

void kv_persist_delete_unlisted(const kv_manifest *old, const kv_manifest *new_man)
{
    for (size_t i = 0; i <= old->nincr; i++) {
        const char *name = i < old->nincr ? old->incr[i].name : old->base.name;
        int listed = name == NULL;
        char path[PATH_MAX];
        if (new_man->base.name && name && !strcmp(new_man->base.name, name))
            listed = 1;
        for (size_t j = 0; j < new_man->nincr && !listed; j++)
            listed = !strcmp(new_man->incr[j].name, name);
        if (listed)
            continue;
        kv_persist_aof_path(path, sizeof path, name);
        if (unlink(path) < 0 && errno != ENOENT)
            kv_log(KV_LOG_WARNING, "Could not delete the old AOF file %s: %s", path,
                   strerror(errno));
    }
}

/* ---- loading ---- */

static int map_or_fail(const char *path, const char *listed_in, kv_mapping *m, char *err,
                       size_t errlen)
{
    if (kv_map_file(path, m) == 0)
        return 0;
    if (errno == ENOENT && listed_in)
        return fail(err, errlen, "%s: listed in %s but missing", path, listed_in);
    return fail(err, errlen, "%s: cannot read: %s", path, strerror(errno));
}

static int load_snapshot_file(const char *path, const char *listed_in, char *err,
                              size_t errlen)
{
    kv_mapping m;
    kv_load_info li;
    size_t len;
    int rc;
    if (map_or_fail(path, listed_in, &m, err, errlen))
        return -1;
    len = m.len;
    rc = kv_snap_load(kv_srv.db, m.p, m.len, kv_mstime(), &li);
    kv_unmap_file(&m);
    if (rc < 0)
        return fail(err, errlen, "%s: %s", path, li.what);
    kv_ps.loaded_bytes += len;
    kv_ps.loaded_expired += li.expired;
    return 0;
}

static int cut_tail(const char *path, const kv_load_info *li, size_t len, char *err,
                    size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)li->good_end) < 0 || fsync(fd) < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return fail(err, errlen, "%s: %s; truncating it failed: %s", path, li->what,
                    strerror(e));
    }
    close(fd);
    kv_log(KV_LOG_WARNING, "%s: %s; %s: truncated the file at offset %zu, dropping %zu bytes",
           path, li->what, kv_srv.cfg.aof_truncate_corrupt ? "--aof-truncate-corrupt yes"
           : "--aof-load-truncated yes (the last write before a crash was cut short)",
           li->good_end, len - li->good_end);
    return 0;
}

static int load_incr_file(const char *path, const char *listed_in, int last, char *err,
                          size_t errlen)
{
    kv_mapping m;
    kv_load_info li;
    size_t len;
    int rc;
    if (map_or_fail(path, listed_in, &m, err, errlen))
        return -1;
    len = m.len;
    rc = kv_log_replay(m.p, m.len, &li);
    kv_unmap_file(&m);
    kv_ps.loaded_bytes += rc == 0 ? len : li.good_end;
    if (rc == 0)
        return 0;
    if (last && (kv_srv.cfg.aof_truncate_corrupt ||
                 (li.truncated && kv_srv.cfg.aof_load_truncated)))
        return cut_tail(path, &li, len, err, errlen);
    if (kv_srv.cfg.aof_truncate_corrupt)
        return fail(err, errlen, "%s: %s; only the last incremental file may be truncated, "
                    "this one is not the last", path, li.what);
    return fail(err, errlen, "%s: %s; start with --aof-truncate-corrupt yes to drop the tail "
                "from there", path, li.what);
}

static int read_manifest(const char *path, kv_manifest *man, char *err, size_t errlen)
{
    kv_mapping m;
    char why[256];
    int rc;
    if (map_or_fail(path, NULL, &m, err, errlen))
        return -1;
    rc = kv_manifest_parse(m.p, m.len, man, why, sizeof why);
    kv_unmap_file(&m);
    return rc < 0 ? fail(err, errlen, "%s: %s", path, why) : 0;
}

/* Loads base and incrementals of the manifest MPATH into kv_ps.man. */
static int load_log(const char *mpath, char *err, size_t errlen)
{
    char path[PATH_MAX];
    if (read_manifest(mpath, &kv_ps.man, err, errlen))
        return -1;
    if (kv_ps.man.base.name) {
        kv_persist_aof_path(path, sizeof path, kv_ps.man.base.name);
        if (load_snapshot_file(path, mpath, err, errlen))
            return -1;
    }
    for (size_t i = 0; i < kv_ps.man.nincr; i++) {
        kv_persist_aof_path(path, sizeof path, kv_ps.man.incr[i].name);
        if (load_incr_file(path, mpath, i + 1 == kv_ps.man.nincr, err, errlen))
            return -1;
    }
    return 0;
}

static uint64_t part_size(const char *name)
{
    char path[PATH_MAX];
    long long n;
    kv_persist_aof_path(path, sizeof path, name);
    n = kv_file_size(path);
    return n > 0 ? (uint64_t)n : 0;
}

/* Continues the loaded log: appends to its last incremental file (a new
 * one when the manifest lists none). */
static int resume_log(char *err, size_t errlen)
{
    char path[PATH_MAX], mpath[PATH_MAX], name[KV_AOF_NAME_MAX];
    kv_manifest *m = &kv_ps.man;
    uint64_t size;
    int fd;
    if (m->nincr == 0) {
        kv_aof_incr_name(name, sizeof name, kv_srv.cfg.appendfilename, 1);
        if ((fd = kv_persist_open_incr(name)) < 0)
            return fail(err, errlen, "%s/%s: cannot create: %s", kv_srv.cfg.appenddirname,
                        name, strerror(errno));
        kv_manifest_add_incr(m, name, 1);
        manifest_path(mpath, sizeof mpath);
        if (kv_manifest_save(m, mpath) < 0)
            return fail(err, errlen, "%s: cannot write: %s", mpath, strerror(errno));
    } else {
        kv_persist_aof_path(path, sizeof path, m->incr[m->nincr - 1].name);
        fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (fd < 0)
            return fail(err, errlen, "%s: cannot open for appending: %s", path,
                        strerror(errno));
    }
    kv_ps.sealed_size = m->base.name ? part_size(m->base.name) : 0;
    for (size_t i = 0; i + 1 < m->nincr; i++)
        kv_ps.sealed_size += part_size(m->incr[i].name);
    size = part_size(m->incr[m->nincr - 1].name);
    kv_ps.rewrite_base_size = kv_ps.sealed_size + size;
    kv_persist_log_on(fd, size);
    return 0;
}

/* A new log holding the current keyspace: base snapshot, empty incremental
 * file, manifest; the files of OLD (a previous manifest) are deleted. */
static int fresh_log(const kv_manifest *old, char *err, size_t errlen)
{
    char base[KV_AOF_NAME_MAX], incr[KV_AOF_NAME_MAX], path[PATH_MAX], mpath[PATH_MAX];
    long long bseq = old->base.name ? old->base.seq + 1 : 1;
    long long iseq = old->nincr ? old->incr[old->nincr - 1].seq + 1 : 1;
    uint64_t bytes = 0;
    kv_manifest m;
    int fd;
    if (mkdir(kv_srv.cfg.appenddirname, 0755) < 0 && errno != EEXIST)
        return fail(err, errlen, "%s: cannot create the directory: %s",
                    kv_srv.cfg.appenddirname, strerror(errno));
    kv_aof_base_name(base, sizeof base, kv_srv.cfg.appendfilename, bseq);
    kv_aof_incr_name(incr, sizeof incr, kv_srv.cfg.appendfilename, iseq);
    kv_persist_aof_path(path, sizeof path, base);
    if (kv_snap_save_file(kv_srv.db, path, kv_mstime(), &bytes) < 0)
        return fail(err, errlen, "%s: cannot write: %s", path, strerror(errno));
    if ((fd = kv_persist_open_incr(incr)) < 0)
        return fail(err, errlen, "%s/%s: cannot create: %s", kv_srv.cfg.appenddirname, incr,
                    strerror(errno));
    kv_manifest_init(&m);
    kv_manifest_set_base(&m, base, bseq);
    kv_manifest_add_incr(&m, incr, iseq);
    manifest_path(mpath, sizeof mpath);
    if (kv_manifest_save(&m, mpath) < 0) {
        int e = errno;
        close(fd);
        kv_manifest_free(&m);
        return fail(err, errlen, "%s: cannot write: %s", mpath, strerror(e));
    }
    kv_persist_delete_unlisted(old, &m);
    kv_manifest_free(&kv_ps.man);
    kv_ps.man = m;
    kv_ps.sealed_size = kv_ps.rewrite_base_size = bytes;
    kv_persist_log_on(fd, 0);
    kv_log(KV_LOG_NOTICE, "Created the append only file %s (base %s, %llu bytes)", mpath, base,
           (unsigned long long)bytes);
    return 0;
}

/* With appendonly: the log (0), or the dump file if any and then a fresh
 * log (1: the caller creates it once the expired keys are dropped). */
static int start_appendonly(char *err, size_t errlen, const char **source)
{
    static char mpath[PATH_MAX];
    manifest_path(mpath, sizeof mpath);
    if (kv_path_exists(mpath)) {
        *source = mpath;
        return load_log(mpath, err, errlen);
    }
    if (kv_path_exists(kv_srv.cfg.dbfilename)) {
        *source = kv_srv.cfg.dbfilename;
        if (load_snapshot_file(kv_srv.cfg.dbfilename, NULL, err, errlen))
            return -1;
    }
    return 1;
}

static void log_loaded(const char *source, int64_t start_us)
{
    kv_ps.loading_ms = (kv_monotonic_us() - start_us) / 1000;
    if (source == NULL) {
        kv_log(KV_LOG_NOTICE, "No data to load (appendonly %s)",
               kv_srv.cfg.appendonly ? "yes" : "no");
        return;
    }
    kv_log(KV_LOG_NOTICE, "Loaded %llu keys from %s (%llu bytes, %llu expired keys skipped) "
           "in %lld ms", (unsigned long long)kv_ps.loaded_keys, source,
           (unsigned long long)kv_ps.loaded_bytes, (unsigned long long)kv_ps.loaded_expired,
           (long long)kv_ps.loading_ms);
}

int kv_persist_start(char *err, size_t errlen)
{
    int64_t start_us = kv_monotonic_us();
    const char *source = NULL;
    int rc = 0;
    kv_ps.lastsave_s = (int64_t)time(NULL);
    kv_ps.bgsave_ok = kv_ps.rewrite_ok = 1;
    kv_ps.bgsave_last_sec = kv_ps.rewrite_last_ms = -1;
    kv_manifest_init(&kv_ps.man);
    if (kv_srv.cfg.appendonly) {
        rc = start_appendonly(err, errlen, &source);
    } else if (kv_path_exists(kv_srv.cfg.dbfilename)) {
        source = kv_srv.cfg.dbfilename;
        rc = load_snapshot_file(source, NULL, err, errlen);
    }
    if (rc < 0)
        return -1;
    kv_ps.loaded_expired += kv_db_drop_expired(kv_srv.db, kv_mstime());
    kv_ps.loaded_keys = kv_db_size(kv_srv.db);
    kv_srv.dirty = 0;
    log_loaded(source, start_us);
    if (kv_srv.cfg.appendonly) {
        kv_manifest none;
        kv_manifest_init(&none);
        rc = rc == 1 ? fresh_log(&none, err, errlen) : resume_log(err, errlen);
    }
    kv_ps.started = rc == 0;
    return rc;
}

void kv_persist_read_disk_manifest(kv_manifest *m)
{
    char mpath[PATH_MAX], why[256];
    kv_manifest_init(m);
    manifest_path(mpath, sizeof mpath);
    if (kv_path_exists(mpath) && read_manifest(mpath, m, why, sizeof why) < 0)
        kv_manifest_init(m);
}

/* ---- CONFIG SET appendonly ---- */

int kv_persist_set_appendonly(int on, char *err, size_t errlen)
{
    kv_manifest old;
    int rc;
    if (kv_srv.embedded)
        return fail(err, errlen, "persistence is not available in the in-process library");
    if (on == kv_srv.aof_on)
        return 0;
    if (kv_ps.child_type == KV_CHILD_AOF)
        kv_persist_kill_child();
    if (!on) {
        log_off();
        kv_log(KV_LOG_NOTICE, "Append only file disabled (CONFIG SET appendonly no)");
        return 0;
    }
    /* Start from the current keyspace, replacing any previous log. */
    kv_persist_read_disk_manifest(&old);
    rc = fresh_log(&old, err, errlen);
    kv_manifest_free(&old);
    return rc;
}

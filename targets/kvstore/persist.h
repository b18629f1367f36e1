/*
 * persist.h -- persistence orchestration, after Redis 7.0 (rdb.c, aof.c,
 * server.c; https://redis.io/docs/management/persistence/):
 *
 *   startup   with appendonly: load the manifest's base snapshot, then its
 *             incremental files in order (no log yet but a dump file: load
 *             it and start a fresh log from it); without: load the dump
 *             file if present.  Expired keys are dropped.  A defect refuses
 *             the start, except a bad tail of the last incremental file
 *             under --aof-truncate-corrupt yes, which is cut off.
 *   BGSAVE    fork(); the child writes <dbfilename> (temp file + rename).
 *   SAVE      the same in the foreground.
 *   BGREWRITEAOF
 *             the parent opens a new incremental file and records it in
 *             the manifest (old base + old incrementals + new), then
 *             fork()s; the child writes a new base snapshot of the
 *             keyspace as of the fork; on its success the parent renames
 *             it into place, writes the manifest (new base + the new
 *             incremental file) and deletes the old files.  No rewrite
 *             buffer is needed: everything after the fork is in the new
 *             incremental file.
 *   timer     reaps the child, runs scheduled jobs, the save rules
 *             ("save SECS CHANGES") and the automatic rewrite
 *             (auto-aof-rewrite-percentage / -min-size).
 *   shutdown  kills a running child, saves when save rules are set (or
 *             SHUTDOWN SAVE; not with NOSAVE), flushes and fsyncs the log.
 *
 * One child at a time.  Paths are relative to --dir (the working
 * directory).  Callers hold the keyspace lock.
 */
#ifndef KV_PERSIST_H
#define KV_PERSIST_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Startup: loads the data and opens the log.  0, or -1 with one line
 * (file, offset, what) in ERR; the server then exits with status 1. */
int kv_persist_start(char *err, size_t errlen);

void kv_persist_cron(void);

enum {
    KV_BG_STARTED,
    KV_BG_SCHEDULED,
    KV_BG_IN_PROGRESS,   /* the same kind of child is running */
    KV_BG_OTHER_CHILD,   /* another kind of child is running */
    KV_BG_FAILED,        /* fork or file error (logged) */
};

int kv_persist_bgsave(int schedule);
int kv_persist_bgrewrite(void);
/* 0, -1 (error, logged), or KV_BG_IN_PROGRESS when a BGSAVE runs. */
int kv_persist_save(void);
long long kv_persist_lastsave(void);

#define KV_SHUTDOWN_NOSAVE 0x1
#define KV_SHUTDOWN_SAVE 0x2

/* SHUTDOWN: saves if asked or if save rules are set; 0, or -1 if the save
 * failed (the server keeps running). */
int kv_persist_prepare_shutdown(int flags);
/* End of main, no other thread running: saves what is still unsaved (as
 * prepared, or per the save rules after a signal), closes the log.
 * 0, or -1 if data could not be written. */
int kv_persist_finish_shutdown(void);

/* CONFIG SET appendonly / appendfsync.  0, or -1 with a reason in ERR. */
int kv_persist_set_appendonly(int on, char *err, size_t errlen);
void kv_persist_set_fsync(kv_fsync_policy policy);

/* The -MISCONF error for a refused write (kv_srv.deny_writes != 0). */
const char *kv_persist_misconf(void);

typedef struct kv_persist_stats {
    long long changes_since_save, last_save_time;
    int bgsave_in_progress, last_bgsave_ok;
    long long last_bgsave_time_sec, current_bgsave_time_sec, rdb_saves;
    int aof_enabled, rewrite_in_progress, rewrite_scheduled, last_rewrite_ok, last_write_ok;
    long long last_rewrite_time_sec, last_rewrite_time_ms, current_rewrite_time_sec, rewrites;
    unsigned long long aof_current_size, aof_base_size, aof_buffer_length;
    long long loading_time_ms;
    unsigned long long loading_loaded_bytes, loaded_keys, loaded_expired;
} kv_persist_stats;

void kv_persist_get_stats(kv_persist_stats *st);

#endif

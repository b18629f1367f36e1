/*
 * persist_state.h -- state shared by persist.c (children, timer, saves,
 * shutdown) and persist_load.c (startup, log files, appendonly on/off).
 * Internal to those two files.  Guarded by the keyspace lock.
 */
#ifndef KV_PERSIST_STATE_H
#define KV_PERSIST_STATE_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "aof_manifest.h"

enum { KV_CHILD_NONE, KV_CHILD_RDB, KV_CHILD_AOF };

typedef struct kv_persist_state {
    int started;
    /* the log */
    kv_manifest man;            /* as saved on disk (appendonly on) */
    uint64_t sealed_size;       /* base + incremental files before the current one */
    uint64_t rewrite_base_size; /* aof_base_size: size after the last load/rewrite */
    /* the child */
    pid_t child;
    int child_type;
    int64_t child_start_ms;
    char child_tmp[PATH_MAX];   /* the file the child writes */
    long long rw_base_seq, rw_incr_seq; /* the rewrite's new base, first kept incr (0: none) */
    /* snapshots */
    int64_t lastsave_s;
    int bgsave_ok, bgsave_scheduled;
    long long bgsave_last_sec;
    int64_t bgsave_try_ms;
    uint64_t dirty_at_save, dirty_at_fork, rdb_saves;
    /* rewrites */
    int rewrite_ok, rewrite_scheduled, rewrite_failures;
    int64_t rewrite_fail_ms;
    long long rewrite_last_ms;
    uint64_t rewrites;
    /* shutdown */
    int shutdown_flags, shutdown_prepared;
    /* startup load */
    int64_t loading_ms;
    uint64_t loaded_bytes, loaded_keys, loaded_expired;
} kv_persist_state;

extern kv_persist_state kv_ps;

/* "<appenddirname>/<name>" */
void kv_persist_aof_path(char *buf, size_t cap, const char *name);
/* Opens (creating, emptying) the incremental file NAME for appending. */
int kv_persist_open_incr(const char *name);
/* Starts logging to FD (SIZE bytes) with the configured policy. */
void kv_persist_log_on(int fd, uint64_t size);
/* Stops a running child (SIGKILL), removing its temp file. */
void kv_persist_kill_child(void);
/* The manifest on disk, if there is a readable one (else M stays empty). */
void kv_persist_read_disk_manifest(kv_manifest *m);
/* Deletes the files of OLD that NEW does not list. */
void kv_persist_delete_unlisted(const kv_manifest *old, const kv_manifest *new_man);

#endif

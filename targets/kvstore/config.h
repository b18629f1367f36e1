/*
 * config.h -- server configuration: the command line
 *   kvstore-server --port N [--bind 127.0.0.1] [--threads N] [--maxclients N]
 *     [--maxmemory BYTES] [--maxmemory-policy noeviction|allkeys-random|
 *     allkeys-lru|volatile-ttl] [--proto-max-bulk-len BYTES]
 *     [--client-output-limit BYTES] [--hz N] [--dir PATH] [--logfile PATH]
 *     [--appendonly yes|no] [--appendfsync always|everysec|no]
 *     [--appenddirname NAME] [--appendfilename NAME] [--dbfilename NAME]
 *     [--save "SECS CHANGES ..."] [--aof-truncate-corrupt yes|no]
 *     [--auto-aof-rewrite-percentage N] [--auto-aof-rewrite-min-size BYTES]
 * and the parameter table behind CONFIG GET / CONFIG SET (Redis 7.0
 * names, values and error texts where the parameter exists in Redis).
 * Byte amounts accept Redis's units (1000, 1k, 1kb, 5mb, 2gb ...).
 * (`kvstore-server --check-aof PATH [--fix]` is handled by server.c before
 * the command line is parsed here.)
 */
#ifndef KV_CONFIG_H
#define KV_CONFIG_H

#include <stddef.h>

#include "evict.h"

typedef enum { KV_FSYNC_NO, KV_FSYNC_EVERYSEC, KV_FSYNC_ALWAYS } kv_fsync_policy;

#define KV_MAX_SAVE_RULES 16

/* "save SECS CHANGES": snapshot when CHANGES writes happened and SECS
 * seconds passed since the last successful save. */
typedef struct kv_save_rule {
    long long seconds, changes;
} kv_save_rule;

typedef struct kv_config {
    int port;
    char *bind;
    int threads;
    long long maxclients;
    unsigned long long maxmemory; /* 0: no limit */
    kv_policy policy;
    long long proto_max_bulk_len;
    unsigned long long client_output_limit; /* 0: no limit */
    int hz;
    char *dir;     /* NULL: current directory */
    char *logfile; /* NULL: stderr */
    /* persistence (strings are never NULL after parsing) */
    int appendonly;
    kv_fsync_policy appendfsync;
    char *appenddirname, *appendfilename, *dbfilename;
    kv_save_rule save[KV_MAX_SAVE_RULES];
    int nsave;
    int aof_truncate_corrupt;
    int aof_load_truncated; /* a log ending inside a command loads its prefix (Redis) */
    long long auto_aof_rewrite_percentage;
    unsigned long long auto_aof_rewrite_min_size;
} kv_config;

#define KV_DEFAULT_MAXCLIENTS 10000
#define KV_DEFAULT_PROTO_MAX_BULK_LEN (512LL * 1024 * 1024)
#define KV_DEFAULT_CLIENT_OUTPUT_LIMIT (64ULL * 1024 * 1024)
#define KV_DEFAULT_HZ 10
#define KV_MAX_THREADS 64
#define KV_DEFAULT_AOF_REWRITE_MIN_SIZE (64ULL * 1024 * 1024)

/* 0: parsed; 1: --help was given (usage printed); -1: error in ERR. */
int kv_config_from_args(kv_config *cfg, int argc, char **argv, char *err, size_t errlen);
/* The defaults of every parameter (port -1, strings set). */
void kv_config_defaults(kv_config *cfg);
void kv_config_free(kv_config *cfg);
const char *kv_fsync_policy_name(kv_fsync_policy p);
void kv_config_usage(void);

/* CONFIG GET: calls EMIT for each parameter whose name matches one of the
 * NPAT glob patterns (each parameter at most once). */
typedef void kv_config_emit_fn(void *priv, const char *name, const char *value);
void kv_config_get(const kv_config *cfg, const char *const *pats, const size_t *plens,
                   int npat, kv_config_emit_fn *emit, void *priv);

/* CONFIG SET name value [name value ...]: all or nothing.  Returns 0, or -1
 * with the Redis-style error message (without "ERR ") in ERR. */
int kv_config_set(kv_config *cfg, const char *const *args, int nargs, char *err,
                  size_t errlen);

#endif

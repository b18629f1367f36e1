/*
 * aof_manifest.h -- the manifest of the multi-part append-only log, in
 * Redis 7's format (https://redis.io/docs/management/persistence/, "Log
 * rewriting"): the directory `<dir>/<appenddirname>/` holds one base file
 * (a snapshot, snap.h), ordered incremental files (RESP commands) and
 * `<appendfilename>.manifest`, one line per file:
 *
 *   file appendonly.aof.2.base.kvs seq 2 type b
 *   file appendonly.aof.3.incr.aof seq 3 type i
 *
 * Key/value pairs may come in any order; blank lines and lines starting
 * with '#' are ignored, as are "type h" (history) lines.  File names must
 * be plain names inside the directory.  The manifest is replaced
 * atomically (temp file, fsync, rename, fsync of the directory).
 */
#ifndef KV_AOF_MANIFEST_H
#define KV_AOF_MANIFEST_H

#include <stddef.h>

typedef struct kv_aof_part {
    char *name;
    long long seq;
} kv_aof_part;

typedef struct kv_manifest {
    kv_aof_part base; /* name NULL: no base file */
    kv_aof_part *incr; /* in replay order */
    size_t nincr, cap;
} kv_manifest;

void kv_manifest_init(kv_manifest *m);
void kv_manifest_free(kv_manifest *m);
void kv_manifest_set_base(kv_manifest *m, const char *name, long long seq);
void kv_manifest_add_incr(kv_manifest *m, const char *name, long long seq);
/* Deep copy of SRC into DST (initialised or freed before). */
void kv_manifest_copy(kv_manifest *dst, const kv_manifest *src);

/* Parses TEXT.  0, or -1 with "line N: what" in ERR. */
int kv_manifest_parse(const char *text, size_t len, kv_manifest *m, char *err, size_t errlen);
/* The manifest's text (kv_malloc'd, NUL-terminated). */
char *kv_manifest_format(const kv_manifest *m, size_t *len);
/* Atomically replaces PATH with M; 0, or -1 with errno. */
int kv_manifest_save(const kv_manifest *m, const char *path);

/* File names: "<appendfilename>.<seq>.base.kvs", "<appendfilename>.<seq>.incr.aof"
 * (buffers of KV_AOF_NAME_MAX bytes). */
#define KV_AOF_NAME_MAX 320
void kv_aof_base_name(char *buf, size_t cap, const char *appendfilename, long long seq);
void kv_aof_incr_name(char *buf, size_t cap, const char *appendfilename, long long seq);

#endif

/*
 * snap.h -- the snapshot format of kvstore, used for dump.kvs (SAVE,
 * BGSAVE, save rules) and for the base file of the append-only log
 * (aof_manifest.h).  Our own format, not Redis's RDB.
 *
 * Layout (integers little-endian):
 *
 *   offset 0   "KVSNAP"                     magic, 6 bytes
 *   offset 6   version                      uint16, currently 1
 *   entries, any number, each one of
 *     0x01 KLEN KEY VLEN VALUE              a key without expiry
 *     0x02 EXPIRY KLEN KEY VLEN VALUE       EXPIRY: int64 little-endian,
 *                                           absolute Unix ms, >= 0 (a
 *                                           negative one is a defect)
 *   0xFF                                    end marker
 *   CRC                                     uint64: CRC-64/XZ (crc64.h) of
 *                                           every byte before it, magic to
 *                                           end marker included
 *   (nothing may follow)
 *
 * KLEN and VLEN are unsigned LEB128 varints (7 bits per byte, least
 * significant group first, high bit set on every byte but the last, at most
 * 10 bytes).  Keys are unique (a repeated key is a defect, expired or not).
 * A writer skips keys already expired; a reader skips keys whose expiry has
 * passed (EXPIRY < now; they are not loaded).
 *
 * Readers work on a memory image (a mapped file or a caller's buffer),
 * check every length against the bytes that remain, and on any defect
 * report the byte offset and what was wrong; they never read outside the
 * image.
 */
#ifndef KV_SNAP_H
#define KV_SNAP_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"

#define KV_SNAP_MAGIC "KVSNAP"
#define KV_SNAP_VERSION 1

/* The outcome of loading a snapshot or replaying a log (aof_load.h). */
typedef struct kv_load_info {
    size_t count;    /* keys loaded (snapshot) or commands replayed (log) */
    size_t expired;  /* snapshot keys skipped because they had expired */
    size_t good_end; /* end of the valid prefix; on error, where the bad part starts */
    char what[256];  /* on error: what was wrong, "... at offset N ..." */
    int truncated;   /* on error: the input ends inside a command (a crash mid-write) */
} kv_load_info;

/* 1 if BUF starts with the snapshot magic. */
int kv_snap_is_snapshot(const char *buf, size_t len);

/* Loads the snapshot image BUF into DB (normally empty); keys expired at
 * NOW are skipped.  Returns 0, or -1 with LI->what and LI->good_end set, DB
 * then holding the entries read before the defect (callers flush it). */
int kv_snap_load(kv_db *db, const char *buf, size_t len, int64_t now, kv_load_info *li);

/* Writes DB (minus keys expired at NOW) to FD; *BYTES receives the size.
 * 0, or -1 with errno. */
int kv_snap_write_fd(kv_db *db, int fd, int64_t now, uint64_t *bytes);
/* The same image in a kv_malloc'd buffer (the caller kv_free's *OUT). */
void kv_snap_write_mem(kv_db *db, int64_t now, char **out, size_t *len);
/* Writes DB to PATH through "temp-PID-NAME" in the same directory: write,
 * fsync, rename, fsync of the directory.  0, or -1 with errno. */
int kv_snap_save_file(kv_db *db, const char *path, int64_t now, uint64_t *bytes);

#endif

/*
 * aof.h -- the append path of the log (Redis 7.0 appendonly semantics,
 * https://redis.io/docs/management/persistence/).
 *
 * Write commands executed under the keyspace lock are appended to a
 * buffer as RESP arrays (propagate.c decides what each command logs).  At
 * the end of every batch (one client's pipelined requests, one timer run)
 * the buffer is written to the current incremental file, still under the
 * lock, so the file holds the commands in execution order.  Then, by
 * appendfsync policy:
 *   always    the buffer is written once per event-loop iteration, after
 *             every ready client ran its batch, and the replies of those
 *             clients wait for one fdatasync() of everything written so far
 *             (kv_aof_wait_durable, called without the keyspace lock:
 *             concurrent I/O threads share one fdatasync too) -- a group
 *             commit, like Redis's beforeSleep; a failed write or fsync ends the process
 *             (exit status 1, as Redis does) so no reply acknowledges a
 *             write that is not on disk;
 *   everysec  a background thread fdatasync()s about once per second;
 *   no        the kernel decides when to flush.
 * A failed write under everysec/no keeps the unwritten bytes (the next
 * batch retries), sets aof_last_write_status:err and makes the dispatcher
 * refuse writes with -MISCONF until a write succeeds; a failed background
 * fsync does the same until an fsync succeeds.
 *
 * One log per process.  Callers hold the keyspace lock except where noted.
 */
#ifndef KV_AOF_H
#define KV_AOF_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "resp.h"

/* Starts appending to FD (an incremental file opened for appending, SIZE
 * bytes long) with POLICY; starts the fsync thread. */
void kv_aof_open(int fd, uint64_t size, kv_fsync_policy policy);
/* Writes and fsyncs what is pending, stops the thread and closes the file.
 * 0, or -1 if something could not be written or synced. */
int kv_aof_close(void);
int kv_aof_is_open(void);
void kv_aof_set_policy(kv_fsync_policy policy);

/* Appends one command (RESP array of ARGC bulk strings) to the buffer. */
void kv_aof_feed(int argc, const kv_arg *argv);

/* End of a batch: writes the buffer (everysec, no).  Under always the bytes
 * stay buffered and the log position a reply must wait for is returned
 * (else 0): the caller writes them with kv_aof_write_pending() before
 * kv_aof_wait_durable(), once for all the clients of a loop iteration. */
uint64_t kv_aof_batch_end(void);
/* Writes whatever is buffered now. */
void kv_aof_write_pending(void);
/* Blocks until the log is durable up to POS (may be called without the
 * keyspace lock; with it too). */
void kv_aof_wait_durable(uint64_t pos);

/* Continues the log in NEWFD (empty): writes and fdatasyncs what is
 * pending to the current file first, then closes it; *OLD_SIZE receives
 * its final size.  0, or -1 with errno if the pending bytes could not be
 * written (the switch is not made). */
int kv_aof_switch(int newfd, uint64_t *old_size);

/* Writes and fdatasyncs everything now; 0 or -1. */
int kv_aof_flush_sync(void);

typedef struct kv_aof_stats {
    int write_ok;        /* aof_last_write_status */
    int write_errno;
    uint64_t file_size;  /* bytes in the current incremental file */
    size_t buffer_len;   /* aof_buffer_length */
} kv_aof_stats;

void kv_aof_get_stats(kv_aof_stats *st);

#endif

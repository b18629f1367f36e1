/*
 * kvlib.h -- the kvstore core as an in-process library: the keyspace and
 * the real command table, without sockets, threads or main() (for cffi:
 * the lab's fuzz targets and the in-process benchmark).
 *
 * Built from every .c file of targets/kvstore except server.c (main), net.c and
 * event.c (the network layer); kvlib.c is also linked into the server,
 * where it is unused.  One global instance, not thread-safe.  Every
 * function may be called first (the state is then created with seed 0).
 * Persistence commands (SAVE, BGSAVE, BGREWRITEAOF, CONFIG SET appendonly
 * yes) reply an error here; SHUTDOWN and QUIT end the current call's input
 * as they would end a connection.
 *
 * Buffers returned through `out` belong to the library and stay valid
 * until the next call of the same function (or kv_lib_init/fini).
 *
 * The text between the LAB-CDEF markers is fed verbatim to cffi's cdef()
 * parser (plain prototypes and stdint types only); the whole file also
 * parses as a cdef once its preprocessor lines are removed.
 */
#ifndef KV_KVLIB_H
#define KV_KVLIB_H

#include <stddef.h>
#include <stdint.h>

/* LAB-CDEF-BEGIN */
/* A fresh keyspace and default configuration; SEED keys the hash function
 * and the sampling PRNG (same seed, same behaviour).  Re-init frees the
 * previous state.  Returns 0. */
int kv_lib_init(uint64_t seed);
/* Frees everything (the next call re-initialises with seed 0). */
void kv_lib_fini(void);
/* FLUSHALL, plus default configuration and zeroed statistics (the hash
 * seed and the micro-benchmark table are kept). */
void kv_lib_reset(void);

/* Executes every complete request in BUF (RESP multibulk or inline, any
 * number, as one connection would receive them; an incomplete trailing
 * request is ignored) and returns the concatenated replies in *OUT and *OUTLEN.
 * Returns the number of requests executed, or -1 on a protocol error: *OUT
 * then ends with the error reply the server would send before closing. */
long kv_lib_exec(const char *buf, size_t len, const char **out, size_t *outlen);

/* Parses only: the number of complete requests in BUF, or -1 with the
 * protocol error text ("Protocol error: ...") in ERR.  MAX_BULK <= 0: the
 * default proto-max-bulk-len (512 MB). */
long kv_lib_parse(const char *buf, size_t len, long long max_bulk, char *err, size_t errlen);

/* Loads an image into a fresh keyspace: KIND 0 a log (RESP commands, the
 * format of the append-only log's incremental files), KIND 1 a snapshot
 * (the dump/base file format, snap.h).  Expired keys are dropped.  Returns
 * 0, or -1 with *BAD_OFFSET (where the bad part starts: for a log the
 * first byte of the first bad command, the length of the valid prefix)
 * and a description in ERR.  After a failed log load the commands before
 * BAD_OFFSET stay applied; after a failed snapshot load the keyspace is
 * empty.  Any input is safe (no crash, no leak). */
int kv_lib_load(int kind, const char *buf, size_t len, size_t *bad_offset, char *err,
                size_t errlen);

/* The current keyspace as a snapshot image (kv_lib_load kind 1). */
int kv_lib_snapshot(const char **out, size_t *outlen);
size_t kv_lib_dbsize(void);

/* Hash table micro-benchmark (a table of the server's kind, apart from
 * the keyspace): PACKED holds N keys, each a little-endian uint32 length
 * followed by that many bytes.  fill inserts them (value: the key's index)
 * and returns how many were new; lookup returns how many are present.
 * Both return -1 if PACKED is shorter than N keys. */
long kv_lib_table_fill(const char *packed, size_t len, size_t n);
long kv_lib_table_lookup(const char *packed, size_t len, size_t n);
size_t kv_lib_table_size(void);
void kv_lib_table_clear(void);
/* LAB-CDEF-END */

#endif

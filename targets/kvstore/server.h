/*
 * server.h -- the server-wide state shared by the modules: configuration,
 * the keyspace, the client registry and statistics (kv_srv), and the
 * client record used by the network layer (net.c) and the commands
 * (cmd*.c).
 *
 * Threading model: every I/O thread runs an event loop for its own
 * clients (reading, parsing, writing); commands execute while holding
 * kv_srv.lock, one batch of pipelined requests at a time, so the keyspace,
 * the client registry and the statistics below are only touched under that
 * lock.  A client's buffers belong to its thread alone.
 *
 * kv_srv itself is defined in state.c (not server.c) so that the command
 * modules can be linked without main() and the network layer: the
 * in-process library (kvlib.c) and the log checker use the same commands.
 */
#ifndef KV_SERVER_H
#define KV_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "db.h"
#include "event.h"
#include "resp.h"
#include "util.h"

#define KV_VERSION "0.1.0"
#define KV_REDIS_VERSION "7.0.0" /* the Redis release whose behaviour we mirror */

#define KV_CLIENT_CLOSE_AFTER_REPLY 0x1 /* flush pending output, then close */
#define KV_CLIENT_CLOSE_ASAP 0x2        /* close without flushing */
#define KV_CLIENT_DURABLE_WAIT 0x4      /* replies wait for the log (appendfsync always) */

struct kv_io;

typedef struct kv_client {
    kv_watch watch;
    struct kv_io *io; /* owning I/O thread */
    uint64_t id;
    int flags;
    int argc; /* the request being executed */
    kv_arg *argv;
    kv_parser req;
    kv_str *name;
    char addr[64], laddr[64];
    int64_t ctime_ms, last_ms;
    const char *lastcmd; /* full name of the last command executed */
    struct kv_client *prev, *next; /* kv_srv.clients */
    kv_outbuf out;                 /* last: holds the 16 KiB static buffer */
} kv_client;

#define KV_OPS_SAMPLES 16

typedef struct kv_stats {
    uint64_t connections, rejected, commands;
    atomic_uint_fast64_t net_input, net_output;
    uint64_t ops_samples[KV_OPS_SAMPLES];
    int ops_idx;
    int64_t ops_last_us;
    uint64_t ops_last_count;
} kv_stats;

typedef struct kv_server {
    kv_config cfg;
    kv_db *db;
    pthread_mutex_t lock;
    kv_client *clients;
    uint64_t nclients;
    uint64_t next_client_id;
    kv_stats stats;
    uint64_t dirty; /* writes since start (for the persistence layer) */
    size_t peak_memory;
    int64_t start_ms;
    char run_id[41];
    int shutdown_pipe[2];
    int listen_fd;
    int embedded; /* in-process library (kvlib.c): no sockets, no persistence */
    int loading;  /* replaying a log at start: no eviction */
    int aof_on;   /* executed writes are propagated to the log (aof.c) */
    /* Why write commands are refused with -MISCONF (KV_DENY_* bits, 0
     * normally); set by the persistence layer, also from its fsync thread. */
    atomic_int deny_writes;
} kv_server;

#define KV_DENY_AOF_WRITE 0x1 /* the last write to the log failed */
#define KV_DENY_AOF_FSYNC 0x2 /* the last background fsync failed */
#define KV_DENY_RDB 0x4       /* the last BGSAVE failed and save rules are set */

extern kv_server kv_srv;

static inline void kv_lock(void)
{
    pthread_mutex_lock(&kv_srv.lock);
}

static inline void kv_unlock(void)
{
    pthread_mutex_unlock(&kv_srv.lock);
}

/* Asks every event loop to stop (async-signal-safe; a no-op without the
 * shutdown pipe, e.g. in the library). */
void kv_server_request_shutdown(void);

/* state.c: a server state without sockets (library, log checker): default
 * configuration, an empty keyspace, hash and PRNG seeded from SEED. */
void kv_state_init(uint64_t seed);
void kv_state_free(void);
/* Seeds the keyspace hash and the sampling PRNG from 48 bytes. */
void kv_state_seed(const uint8_t seed[48]);

#endif

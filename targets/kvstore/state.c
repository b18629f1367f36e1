/*
 * state.c -- the server-wide state kv_srv (see server.h), kept apart from
 * main() and the network layer so that the command modules link without
 * them: the in-process library (kvlib.c) and the log checker (aof_check.c)
 * build a socket-less state with kv_state_init().
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "server.h"
#include "dict.h"
#include "mem.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

kv_server kv_srv = {.shutdown_pipe = {-1, -1}, .listen_fd = -1};

void kv_server_request_shutdown(void)
{
    int saved = errno;
    if (kv_srv.shutdown_pipe[1] >= 0 && write(kv_srv.shutdown_pipe[1], "x", 1) < 0) {
        /* the pipe is full: a shutdown is already pending */
    }
    errno = saved;
}

void kv_state_seed(const uint8_t seed[48])
{
    kv_dict_set_hash_seed(seed);
    kv_random_seed(seed + 16);
}

/* splitmix64: expands a 64-bit seed into the 48 seed bytes. */
static void expand_seed(uint64_t x, uint8_t out[48])
{
    for (int i = 0; i < 6; i++) {
        uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        memcpy(out + 8 * i, &z, 8);
    }
}

void kv_state_init(uint64_t seed)
{
    uint8_t bytes[48];
    kv_state_free();
    kv_config_defaults(&kv_srv.cfg);
    kv_srv.cfg.port = 0;
    kv_srv.cfg.bind = kv_strdup("127.0.0.1");
    expand_seed(seed, bytes);
    kv_state_seed(bytes);
    kv_srv.db = kv_db_create();
    kv_srv.start_ms = kv_mstime();
    kv_srv.stats.ops_last_us = kv_monotonic_us();
    memset(kv_srv.run_id, '0', 40);
    kv_srv.run_id[40] = '\0';
    kv_srv.embedded = 1;
}

void kv_state_free(void)
{
    kv_db_free(kv_srv.db);
    kv_srv.db = NULL;
    kv_config_free(&kv_srv.cfg);
    memset(&kv_srv.stats, 0, sizeof kv_srv.stats);
    kv_srv.dirty = 0;
    kv_srv.loading = kv_srv.aof_on = 0;
    atomic_store(&kv_srv.deny_writes, 0);
}

/*
 * kvlib.c -- the in-process library (see kvlib.h).  Requests go through
 * the same parser (resp.c) and dispatcher (cmd.c) as on a connection, with
 * one client that has no socket; loading uses the startup readers
 * (aof_load.c, snap.c).  The state lives in kv_srv, set up by
 * kv_state_init (state.c) in "embedded" mode.
 */
#include "kvlib.h"
#include "aof_load.h"
#include "cmd.h"
#include "mem.h"
#include "snap.h"

#include <stdio.h>
#include <string.h>

#define OUT_IOVS 16

static struct {
    int ready;
    kv_client *client;
    char *out;
    size_t out_len, out_cap;
    char *snap;
    size_t snap_len;
    kv_dict *table;
} lib;

static kv_client *lib_client(void)
{
    kv_client *c = kv_malloc(sizeof *c);
    memset(c, 0, offsetof(kv_client, out));
    kv_outbuf_init(&c->out);
    kv_parser_init(&c->req, kv_srv.cfg.proto_max_bulk_len);
    c->watch.fd = -1;
    c->id = 1;
    snprintf(c->addr, sizeof c->addr, "lib");
    snprintf(c->laddr, sizeof c->laddr, "lib");
    return c;
}

void kv_lib_fini(void)
{
    if (!lib.ready)
        return;
    kv_parser_free(&lib.client->req);
    kv_outbuf_free(&lib.client->out);
    kv_str_free(lib.client->name);
    kv_free(lib.client);
    kv_free(lib.out);
    kv_free(lib.snap);
    kv_dict_release(lib.table);
    memset(&lib, 0, sizeof lib);
    kv_state_free();
}

int kv_lib_init(uint64_t seed)
{
    kv_lib_fini();
    kv_state_init(seed);
    lib.client = lib_client();
    lib.table = kv_dict_create(1, 0);
    lib.ready = 1;
    return 0;
}

static void ensure(void)
{
    if (!lib.ready)
        kv_lib_init(0);
}

void kv_lib_reset(void)
{
    ensure();
    kv_db_flush(kv_srv.db);
    kv_config_free(&kv_srv.cfg);
    kv_config_defaults(&kv_srv.cfg);
    kv_srv.cfg.port = 0;
    kv_srv.cfg.bind = kv_strdup("127.0.0.1");
    memset(&kv_srv.stats, 0, sizeof kv_srv.stats);
    kv_srv.db->stat_expired = kv_srv.db->stat_evicted = 0;
    kv_srv.db->stat_hits = kv_srv.db->stat_misses = 0;
    kv_srv.dirty = 0;
}

/* ---- requests ---- */

static void feed(kv_parser *p, const char *buf, size_t len)
{
    while (len) {
        size_t avail;
        char *dst = kv_parser_space(p, &avail);
        size_t n = len < avail ? len : avail;
        memcpy(dst, buf, n);
        kv_parser_commit(p, n);
        buf += n;
        len -= n;
    }
}

/* Moves the client's pending replies into lib.out. */
static void collect_output(kv_outbuf *o)
{
    lib.out_len = 0;
    while (kv_outbuf_pending(o)) {
        struct iovec iov[OUT_IOVS];
        int n = kv_outbuf_iov(o, iov, OUT_IOVS);
        for (int i = 0; i < n; i++) {
            if (lib.out_cap - lib.out_len < iov[i].iov_len) {
                size_t cap = lib.out_cap ? lib.out_cap : 4096;
                while (cap - lib.out_len < iov[i].iov_len)
                    cap *= 2;
                lib.out = kv_realloc(lib.out, cap);
                lib.out_cap = cap;
            }
            memcpy(lib.out + lib.out_len, iov[i].iov_base, iov[i].iov_len);
            lib.out_len += iov[i].iov_len;
            kv_outbuf_consume(o, iov[i].iov_len);
        }
    }
}

long kv_lib_exec(const char *buf, size_t len, const char **out, size_t *outlen)
{
    kv_client *c;
    long executed = 0, rc = 0;
    ensure();
    c = lib.client;
    kv_parser_reset(&c->req);
    c->flags = 0;
    c->req.max_bulk = kv_srv.cfg.proto_max_bulk_len;
    feed(&c->req, buf, buf ? len : 0);
    while (!(c->flags & (KV_CLIENT_CLOSE_AFTER_REPLY | KV_CLIENT_CLOSE_ASAP))) {
        kv_parse_status st = kv_parser_next(&c->req, &c->argc, &c->argv);
        if (st == KV_PARSE_MORE)
            break;
        if (st == KV_PARSE_ERROR) {
            kv_reply_error(&c->out, c->req.err);
            rc = -1;
            break;
        }
        kv_cmd_execute(c);
        c->argc = 0;
        c->argv = NULL;
        executed++;
    }
    collect_output(&c->out);
    *out = lib.out ? lib.out : "";
    *outlen = lib.out_len;
    return rc < 0 ? -1 : executed;
}

long kv_lib_parse(const char *buf, size_t len, long long max_bulk, char *err, size_t errlen)
{
    kv_parser p;
    long count = 0;
    int argc;
    kv_arg *argv;
    kv_parser_init(&p, max_bulk > 0 ? max_bulk : KV_DEFAULT_PROTO_MAX_BULK_LEN);
    feed(&p, buf, buf ? len : 0);
    for (;;) {
        kv_parse_status st = kv_parser_next(&p, &argc, &argv);
        if (st == KV_PARSE_MORE)
            break;
        if (st == KV_PARSE_ERROR) {
            if (err && errlen)
                snprintf(err, errlen, "%s", p.err);
            count = -1;
            break;
        }
        count++;
    }
    kv_parser_free(&p);
    return count;
}

/* ---- images ---- */

int kv_lib_load(int kind, const char *buf, size_t len, size_t *bad_offset, char *err,
                size_t errlen)
{
    kv_load_info li;
    int rc;
    ensure();
    kv_db_flush(kv_srv.db);
    if (kind == 0) {
        rc = kv_log_replay(buf, len, &li);
    } else if (kind == 1) {
        rc = kv_snap_load(kv_srv.db, buf ? buf : "", buf ? len : 0, kv_mstime(), &li);
        if (rc < 0)
            kv_db_flush(kv_srv.db);
    } else {
        memset(&li, 0, sizeof li);
        snprintf(li.what, sizeof li.what, "unknown image kind %d (valid: 0 log, 1 snapshot)",
                 kind);
        rc = -1;
    }
    kv_db_drop_expired(kv_srv.db, kv_mstime());
    if (bad_offset)
        *bad_offset = rc < 0 ? li.good_end : len;
    if (err && errlen)
        snprintf(err, errlen, "%s", rc < 0 ? li.what : "");
    return rc;
}

int kv_lib_snapshot(const char **out, size_t *outlen)
{
    ensure();
    kv_free(lib.snap);
    kv_snap_write_mem(kv_srv.db, kv_mstime(), &lib.snap, &lib.snap_len);
    *out = lib.snap;
    *outlen = lib.snap_len;
    return 0;
}

size_t kv_lib_dbsize(void)
{
    ensure();
    return kv_db_size(kv_srv.db);
}

/* ---- hash table micro-benchmark ---- */

/* The next packed key at *POS; 0, or -1 when PACKED ends too early. */
static int next_key(const char *packed, size_t len, size_t *pos, const char **key,
                    size_t *klen)
{
    const unsigned char *p = (const unsigned char *)packed + *pos;
    uint32_t n;
    if (len - *pos < 4)
        return -1;
    n = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    if (n > len - *pos - 4)
        return -1;
    *key = packed + *pos + 4;
    *klen = n;
    *pos += 4 + (size_t)n;
    return 0;
}

long kv_lib_table_fill(const char *packed, size_t len, size_t n)
{
    size_t pos = 0;
    long added = 0;
    ensure();
    for (size_t i = 0; i < n; i++) {
        const char *k;
        size_t kl;
        if (next_key(packed, len, &pos, &k, &kl) < 0)
            return -1;
        kv_str *key = kv_str_new(k, kl);
        kv_dict_entry *e = kv_dict_add(lib.table, key);
        if (e == NULL) {
            kv_str_free(key);
            continue;
        }
        e->v.s64 = (int64_t)i;
        added++;
    }
    return added;
}

long kv_lib_table_lookup(const char *packed, size_t len, size_t n)
{
    size_t pos = 0;
    long hits = 0;
    ensure();
    for (size_t i = 0; i < n; i++) {
        const char *k;
        size_t kl;
        if (next_key(packed, len, &pos, &k, &kl) < 0)
            return -1;
        hits += kv_dict_find(lib.table, k, kl) != NULL;
    }
    return hits;
}

size_t kv_lib_table_size(void)
{
    ensure();
    return kv_dict_size(lib.table);
}

void kv_lib_table_clear(void)
{
    ensure();
    kv_dict_clear(lib.table);
}

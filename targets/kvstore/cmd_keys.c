/*
 * cmd_keys.c -- keyspace commands: DEL/UNLINK, EXISTS, EXPIRE, PEXPIRE,
 * EXPIREAT, PEXPIREAT (NX XX GT LT), TTL, PTTL, EXPIRETIME, PEXPIRETIME,
 * PERSIST, KEYS, SCAN (MATCH COUNT TYPE), DBSIZE, TYPE, RANDOMKEY,
 * FLUSHALL/FLUSHDB.  Semantics and error texts follow Redis 7.0's db.c and
 * expire.c (https://redis.io/commands/expire/, https://redis.io/commands/scan/).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "cmd.h"
#include "mem.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#define EXPIRE_NX 0x1
#define EXPIRE_XX 0x2
#define EXPIRE_GT 0x4
#define EXPIRE_LT 0x8

/* A growable array of key strings (KEYS and SCAN replies). */
typedef struct key_vec {
    kv_str **v;
    size_t n, cap;
} key_vec;

static void key_vec_push(key_vec *kv, kv_str *s)
{
    if (kv->n == kv->cap) {
        kv->cap = kv->cap ? 2 * kv->cap : 16;
        kv->v = kv_realloc(kv->v, kv->cap * sizeof *kv->v);
    }
    kv->v[kv->n++] = s;
}

static void reply_keys(kv_client *c, const key_vec *kv)
{
    kv_reply_array(&c->out, (long long)kv->n);
    for (size_t i = 0; i < kv->n; i++)
        kv_reply_bulk(&c->out, kv->v[i]->data, kv->v[i]->len);
}

void kv_cmd_del(kv_client *c)
{
    kv_db *db = kv_srv.db;
    long long deleted = 0;
    for (int j = 1; j < c->argc; j++) {
        const kv_arg *key = &c->argv[j];
        if (kv_db_lookup(db, key->p, key->len, KV_LOOKUP_NOTOUCH) &&
            kv_db_delete(db, key->p, key->len))
            deleted++;
    }
    kv_srv.dirty += (uint64_t)deleted;
    kv_reply_int(&c->out, deleted);
}

void kv_cmd_exists(kv_client *c)
{
    long long count = 0;
    for (int j = 1; j < c->argc; j++)
        if (kv_db_lookup(kv_srv.db, c->argv[j].p, c->argv[j].len,
                         KV_LOOKUP_READ | KV_LOOKUP_NOTOUCH))
            count++;
    kv_reply_int(&c->out, count);
}

/* parseExtendedExpireArgumentsOrReply. */
static int parse_expire_flags(kv_client *c, unsigned *flags)
{
    unsigned f = 0;
    for (int j = 3; j < c->argc; j++) {
        const kv_arg *a = &c->argv[j];
        if (kv_arg_is(a, "nx"))
            f |= EXPIRE_NX;
        else if (kv_arg_is(a, "xx"))
            f |= EXPIRE_XX;
        else if (kv_arg_is(a, "gt"))
            f |= EXPIRE_GT;
        else if (kv_arg_is(a, "lt"))
            f |= EXPIRE_LT;
        else {
            kv_reply_errorf(&c->out, "Unsupported option %s", a->p);
            return -1;
        }
    }
    if ((f & EXPIRE_NX) && (f & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT))) {
        kv_reply_error(&c->out, "NX and XX, GT or LT options at the same time are not compatible");
        return -1;
    }
    if ((f & EXPIRE_GT) && (f & EXPIRE_LT)) {
        kv_reply_error(&c->out, "GT and LT options at the same time are not compatible");
        return -1;
    }
    *flags = f;
    return 0;
}

/* Whether the NX/XX/GT/LT conditions allow replacing CURRENT with WHEN. */
static int expire_allowed(unsigned flags, int64_t current, int64_t when)
{
    if ((flags & EXPIRE_NX) && current != -1)
        return 0;
    if ((flags & EXPIRE_XX) && current == -1)
        return 0;
    if ((flags & EXPIRE_GT) && (when <= current || current == -1))
        return 0;
    if ((flags & EXPIRE_LT) && current != -1 && when >= current)
        return 0;
    return 1;
}

/* expireGenericCommand: BASETIME is now (relative forms) or 0. */
static void expire_generic(kv_client *c, int64_t basetime, int seconds)
{
    kv_db *db = kv_srv.db;
    const kv_arg *key = &c->argv[1];
    unsigned flags;
    long long when;
    kv_dict_entry *e;

    if (parse_expire_flags(c, &flags) || kv_arg_ll(c, 2, &when))
        return;
    if (seconds) {
        if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000)
            goto invalid;
        when *= 1000;
    }
    if (when > LLONG_MAX - basetime)
        goto invalid;
    when += basetime;
    e = kv_db_lookup(db, key->p, key->len, 0);
    if (e == NULL || !expire_allowed(flags, kv_db_get_expire(db, key->p, key->len), when)) {
        kv_reply_int(&c->out, 0);
        return;
    }
    if (when <= db->now && !db->loading) /* a replayed log keeps the key (Redis) */
        kv_db_delete(db, key->p, key->len);
    else
        kv_db_set_expire(db, e, when);
    kv_srv.dirty++;
    kv_reply_int(&c->out, 1);
    return;
invalid:
    kv_reply_errorf(&c->out, "invalid expire time in '%s' command", c->lastcmd);
}

void kv_cmd_expire(kv_client *c)
{
    expire_generic(c, kv_srv.db->now, 1);
}

void kv_cmd_pexpire(kv_client *c)
{
    expire_generic(c, kv_srv.db->now, 0);
}

void kv_cmd_expireat(kv_client *c)
{
    expire_generic(c, 0, 1);
}

void kv_cmd_pexpireat(kv_client *c)
{
    expire_generic(c, 0, 0);
}

/* ttlGenericCommand: -2 missing key, -1 no expiry; seconds are rounded. */
static void ttl_generic(kv_client *c, int output_ms, int output_abs)
{
    kv_db *db = kv_srv.db;
    const kv_arg *key = &c->argv[1];
    int64_t expire, ttl;
    if (!kv_db_lookup(db, key->p, key->len, KV_LOOKUP_READ | KV_LOOKUP_NOTOUCH)) {
        kv_reply_int(&c->out, -2);
        return;
    }
    expire = kv_db_get_expire(db, key->p, key->len);
    if (expire == -1) {
        kv_reply_int(&c->out, -1);
        return;
    }
    ttl = output_abs ? expire : expire - db->now;
    if (ttl < 0)
        ttl = 0;
    /* Seconds are rounded to the nearest (Redis: (ttl+500)/1000, written so
     * that it cannot overflow for expiries near LLONG_MAX). */
    kv_reply_int(&c->out, output_ms ? ttl : ttl / 1000 + (ttl % 1000 >= 500));
}

void kv_cmd_ttl(kv_client *c)
{
    ttl_generic(c, 0, 0);
}

void kv_cmd_pttl(kv_client *c)
{
    ttl_generic(c, 1, 0);
}

void kv_cmd_expiretime(kv_client *c)
{
    ttl_generic(c, 0, 1);
}

void kv_cmd_pexpiretime(kv_client *c)
{
    ttl_generic(c, 1, 1);
}

void kv_cmd_persist(kv_client *c)
{
    kv_db *db = kv_srv.db;
    const kv_arg *key = &c->argv[1];
    int done = kv_db_lookup(db, key->p, key->len, 0) && kv_db_persist(db, key->p, key->len);
    if (done)
        kv_srv.dirty++;
    kv_reply_int(&c->out, done);
}

void kv_cmd_keys(kv_client *c)
{
    kv_db *db = kv_srv.db;
    const kv_arg *pat = &c->argv[1];
    int all = pat->len == 1 && pat->p[0] == '*';
    key_vec found = {NULL, 0, 0};
    kv_dict_iter it;
    kv_dict_entry *e;

    kv_dict_iter_init(&it, db->keys);
    while ((e = kv_dict_iter_next(&it)) != NULL) {
        kv_str *k = e->key;
        if ((all || kv_stringmatch(pat->p, pat->len, k->data, k->len, 0)) &&
            !kv_db_is_expired(db, k->data, k->len))
            key_vec_push(&found, k);
    }
    kv_dict_iter_done(&it);
    reply_keys(c, &found);
    kv_free(found.v);
}

/* parseScanCursorOrReply: strtoul() semantics, as in Redis. */
static int parse_cursor(kv_client *c, uint64_t *cursor)
{
    const char *s = c->argv[1].p;
    char *end;
    unsigned long v;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (isspace((unsigned char)s[0]) || end[0] != '\0' || errno == ERANGE) {
        kv_reply_error(&c->out, "invalid cursor");
        return -1;
    }
    *cursor = v;
    return 0;
}

typedef struct scan_opts {
    long long count;
    const kv_arg *match; /* NULL: every key */
    const kv_arg *type;  /* NULL: every type */
} scan_opts;

static int parse_scan_opts(kv_client *c, scan_opts *o)
{
    o->count = 10;
    o->match = o->type = NULL;
    for (int i = 2; i < c->argc; i += 2) {
        int more = c->argc - i >= 2;
        if (kv_arg_is(&c->argv[i], "count") && more) {
            if (kv_arg_ll(c, i + 1, &o->count))
                return -1;
            if (o->count < 1)
                goto syntax;
        } else if (kv_arg_is(&c->argv[i], "match") && more) {
            const kv_arg *p = &c->argv[i + 1];
            o->match = (p->len == 1 && p->p[0] == '*') ? NULL : p;
        } else if (kv_arg_is(&c->argv[i], "type") && more) {
            o->type = &c->argv[i + 1];
        } else {
            goto syntax;
        }
    }
    return 0;
syntax:
    kv_reply_error(&c->out, KV_ERR_SYNTAX);
    return -1;
}

static void scan_collect(void *priv, kv_dict_entry *e)
{
    key_vec_push(priv, e->key);
}

/* Drops the keys that fail MATCH/TYPE, and expired keys (deleting them,
 * like Redis's scanGenericCommand). */
static void scan_filter(kv_db *db, key_vec *kv, const scan_opts *o)
{
    size_t keep = 0;
    for (size_t i = 0; i < kv->n; i++) {
        kv_str *k = kv->v[i];
        int ok = !o->match || kv_stringmatch(o->match->p, o->match->len, k->data, k->len, 0);
        if (ok && o->type && !kv_eq_nocase(o->type->p, o->type->len, "string"))
            ok = 0;
        if (ok && kv_db_is_expired(db, k->data, k->len)) {
            kv_db_remove_expired(db, k->data, k->len);
            ok = 0;
        }
        if (ok)
            kv->v[keep++] = k;
    }
    kv->n = keep;
}

void kv_cmd_scan(kv_client *c)
{
    kv_db *db = kv_srv.db;
    uint64_t cursor;
    scan_opts o;
    key_vec found = {NULL, 0, 0};
    char buf[32];

    if (parse_cursor(c, &cursor) || parse_scan_opts(c, &o))
        return;
    long long budget = o.count > LLONG_MAX / 10 ? LLONG_MAX : o.count * 10;
    do {
        cursor = kv_dict_scan(db->keys, cursor, scan_collect, &found);
    } while (cursor && budget-- > 0 && (long long)found.n < o.count);
    scan_filter(db, &found, &o);
    kv_reply_array(&c->out, 2);
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)cursor);
    kv_reply_bulk_cstr(&c->out, buf);
    reply_keys(c, &found);
    kv_free(found.v);
}

void kv_cmd_dbsize(kv_client *c)
{
    kv_reply_int(&c->out, (long long)kv_db_size(kv_srv.db));
}

void kv_cmd_type(kv_client *c)
{
    kv_dict_entry *e = kv_db_lookup(kv_srv.db, c->argv[1].p, c->argv[1].len,
                                    KV_LOOKUP_READ | KV_LOOKUP_NOTOUCH);
    kv_reply_simple(&c->out, e ? "string" : "none");
}

void kv_cmd_randomkey(kv_client *c)
{
    kv_db *db = kv_srv.db;
    /* Like dbRandomKey: expired keys met on the way are deleted; when every
     * key is volatile give up after 100 tries and return one anyway. */
    for (int tries = 0;; tries++) {
        kv_dict_entry *e = kv_dict_random(db->keys);
        if (e == NULL) {
            kv_reply_null(&c->out);
            return;
        }
        kv_str *k = e->key;
        if (tries < 100 && kv_db_is_expired(db, k->data, k->len)) {
            kv_db_remove_expired(db, k->data, k->len);
            continue;
        }
        kv_reply_bulk(&c->out, k->data, k->len);
        return;
    }
}

void kv_cmd_flushall(kv_client *c)
{
    if (c->argc > 2 || (c->argc == 2 && !kv_arg_is(&c->argv[1], "sync") &&
                        !kv_arg_is(&c->argv[1], "async"))) {
        kv_reply_error(&c->out, KV_ERR_SYNTAX);
        return;
    }
    kv_srv.dirty += kv_db_size(kv_srv.db);
    kv_db_flush(kv_srv.db);
    kv_reply_ok(&c->out);
}

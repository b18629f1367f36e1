/*
 * cmd_string.c -- commands on string values: GET, SET (NX XX GET KEEPTTL
 * EX PX EXAT PXAT), SETNX, SETEX, PSETEX, GETSET, GETDEL, MGET, MSET,
 * MSETNX, INCR, DECR, INCRBY, DECRBY, APPEND, STRLEN.  Semantics, option
 * rules and error texts follow Redis 7.0's t_string.c
 * (https://redis.io/commands/set/ and neighbours).
 */
#include "cmd.h"

#include <limits.h>
#include <string.h>

#define SET_NX 0x01
#define SET_XX 0x02
#define SET_GET 0x04
#define SET_KEEPTTL 0x08
#define SET_EX 0x10
#define SET_PX 0x20
#define SET_EXAT 0x40
#define SET_PXAT 0x80
#define SET_ANY_EXPIRE (SET_EX | SET_PX | SET_EXAT | SET_PXAT)

static void reply_value(kv_client *c, const kv_dict_entry *e)
{
    if (e)
        kv_reply_bulk(&c->out, e->v.str->data, e->v.str->len);
    else
        kv_reply_null(&c->out);
}

static void reply_invalid_expire(kv_client *c)
{
    kv_reply_errorf(&c->out, "invalid expire time in '%s' command", c->lastcmd);
}

/* One SET option at argv[*j]; returns -1 on a syntax error.  The rules
 * (which options exclude which) are Redis's parseExtendedStringArguments. */
static int parse_set_option(kv_client *c, int *j, unsigned *flags, int *expire_i)
{
    const kv_arg *a = &c->argv[*j];
    int has_next = *j + 1 < c->argc;
    unsigned f = *flags, expire = 0;
    if (kv_arg_is(a, "nx") && !(f & SET_XX))
        f |= SET_NX;
    else if (kv_arg_is(a, "xx") && !(f & SET_NX))
        f |= SET_XX;
    else if (kv_arg_is(a, "get"))
        f |= SET_GET;
    else if (kv_arg_is(a, "keepttl") && !(f & SET_ANY_EXPIRE))
        f |= SET_KEEPTTL;
    else if (kv_arg_is(a, "ex") && !(f & (SET_KEEPTTL | (SET_ANY_EXPIRE & ~SET_EX))) && has_next)
        expire = SET_EX;
    else if (kv_arg_is(a, "px") && !(f & (SET_KEEPTTL | (SET_ANY_EXPIRE & ~SET_PX))) && has_next)
        expire = SET_PX;
    else if (kv_arg_is(a, "exat") && !(f & (SET_KEEPTTL | (SET_ANY_EXPIRE & ~SET_EXAT))) && has_next)
        expire = SET_EXAT;
    else if (kv_arg_is(a, "pxat") && !(f & (SET_KEEPTTL | (SET_ANY_EXPIRE & ~SET_PXAT))) && has_next)
        expire = SET_PXAT;
    else
        return -1;
    if (expire) {
        f |= expire;
        *expire_i = ++*j;
    }
    *flags = f;
    return 0;
}

/* getExpireMillisecondsOrReply: the absolute expiry in ms, or -1 (replied). */
static int expire_when(kv_client *c, int i, unsigned flags, int64_t *when)
{
    long long v;
    int seconds = (flags & (SET_EX | SET_EXAT)) != 0;
    if (kv_arg_ll(c, i, &v))
        return -1;
    if (v <= 0 || (seconds && v > LLONG_MAX / 1000)) {
        reply_invalid_expire(c);
        return -1;
    }
    if (seconds)
        v *= 1000;
    if (flags & (SET_EX | SET_PX)) {
        if (v > LLONG_MAX - kv_srv.db->now) {
            reply_invalid_expire(c);
            return -1;
        }
        v += kv_srv.db->now;
    }
    *when = v;
    return 0;
}

/* setGenericCommand.  INT_REPLY: ":1"/":0" (SETNX) instead of +OK/nil. */
static void set_generic(kv_client *c, unsigned flags, int val_i, int expire_i,
                        int int_reply)
{
    kv_db *db = kv_srv.db;
    const kv_arg *key = &c->argv[1], *val = &c->argv[val_i];
    int64_t when = 0;
    kv_dict_entry *e;

    if (expire_i && expire_when(c, expire_i, flags, &when))
        return;
    e = kv_db_lookup(db, key->p, key->len, (flags & SET_GET) ? KV_LOOKUP_READ : 0);
    if (flags & SET_GET)
        reply_value(c, e);
    if (((flags & SET_NX) && e) || ((flags & SET_XX) && !e)) {
        if (flags & SET_GET)
            return;
        if (int_reply)
            kv_reply_int(&c->out, 0);
        else
            kv_reply_null(&c->out);
        return;
    }
    e = kv_db_store(db, e, key->p, key->len, kv_str_new(val->p, val->len),
                    (flags & SET_KEEPTTL) != 0);
    if (expire_i)
        kv_db_set_expire(db, e, when);
    kv_srv.dirty++;
    if (flags & SET_GET)
        return;
    if (int_reply)
        kv_reply_int(&c->out, 1);
    else
        kv_reply_ok(&c->out);
}

void kv_cmd_set(kv_client *c)
{
    unsigned flags = 0;
    int expire_i = 0;
    for (int j = 3; j < c->argc; j++) {
        if (parse_set_option(c, &j, &flags, &expire_i)) {
            kv_reply_error(&c->out, KV_ERR_SYNTAX);
            return;
        }
    }
    set_generic(c, flags, 2, expire_i, 0);
}

void kv_cmd_setnx(kv_client *c)
{
    set_generic(c, SET_NX, 2, 0, 1);
}

void kv_cmd_setex(kv_client *c)
{
    set_generic(c, SET_EX, 3, 2, 0);
}

void kv_cmd_psetex(kv_client *c)
{
    set_generic(c, SET_PX, 3, 2, 0);
}

void kv_cmd_get(kv_client *c)
{
    reply_value(c, kv_db_lookup(kv_srv.db, c->argv[1].p, c->argv[1].len, KV_LOOKUP_READ));
}

void kv_cmd_getset(kv_client *c)
{
    kv_db *db = kv_srv.db;
    const kv_arg *key = &c->argv[1], *val = &c->argv[2];
    kv_dict_entry *e = kv_db_lookup(db, key->p, key->len, KV_LOOKUP_READ);
    reply_value(c, e);
    kv_db_store(db, e, key->p, key->len, kv_str_new(val->p, val->len), 0);
    kv_srv.dirty++;
}

void kv_cmd_getdel(kv_client *c)
{
    kv_db *db = kv_srv.db;
    const kv_arg *key = &c->argv[1];
    kv_dict_entry *e = kv_db_lookup(db, key->p, key->len, KV_LOOKUP_READ);
    reply_value(c, e);
    if (e) {
        kv_db_delete(db, key->p, key->len);
        kv_srv.dirty++;
    }
}

void kv_cmd_mget(kv_client *c)
{
    kv_reply_array(&c->out, c->argc - 1);
    for (int j = 1; j < c->argc; j++)
        reply_value(c, kv_db_lookup(kv_srv.db, c->argv[j].p, c->argv[j].len,
                                    KV_LOOKUP_READ));
}

static void mset_all(kv_client *c)
{
    kv_db *db = kv_srv.db;
    for (int j = 1; j < c->argc; j += 2) {
        const kv_arg *key = &c->argv[j], *val = &c->argv[j + 1];
        kv_dict_entry *e = kv_db_lookup(db, key->p, key->len, 0);
        kv_db_store(db, e, key->p, key->len, kv_str_new(val->p, val->len), 0);
    }
    kv_srv.dirty++;
}

void kv_cmd_mset(kv_client *c)
{
    if (c->argc % 2 == 0) {
        kv_reply_arity_error(c);
        return;
    }
    mset_all(c);
    kv_reply_ok(&c->out);
}

void kv_cmd_msetnx(kv_client *c)
{
    if (c->argc % 2 == 0) {
        kv_reply_arity_error(c);
        return;
    }
    for (int j = 1; j < c->argc; j += 2) {
        if (kv_db_lookup(kv_srv.db, c->argv[j].p, c->argv[j].len, 0)) {
            kv_reply_int(&c->out, 0);
            return;
        }
    }
    mset_all(c);
    kv_reply_int(&c->out, 1);
}

/* incrDecrCommand: the value must parse as a long long, the TTL is kept. */
static void incr_by(kv_client *c, long long incr)
{
    kv_db *db = kv_srv.db;
    const kv_arg *key = &c->argv[1];
    kv_dict_entry *e = kv_db_lookup(db, key->p, key->len, 0);
    long long value = 0;
    char buf[KV_LONG_STR_SIZE];
    size_t n;

    if (e && !kv_string2ll(e->v.str->data, e->v.str->len, &value)) {
        kv_reply_error(&c->out, KV_ERR_NOT_INT);
        return;
    }
    if ((incr < 0 && value < 0 && incr < LLONG_MIN - value) ||
        (incr > 0 && value > 0 && incr > LLONG_MAX - value)) {
        kv_reply_error(&c->out, "increment or decrement would overflow");
        return;
    }
    value += incr;
    n = kv_ll2str(buf, value);
    kv_db_store(db, e, key->p, key->len, kv_str_new(buf, n), 1);
    kv_srv.dirty++;
    kv_reply_int(&c->out, value);
}

void kv_cmd_incr(kv_client *c)
{
    incr_by(c, 1);
}

void kv_cmd_decr(kv_client *c)
{
    incr_by(c, -1);
}

void kv_cmd_incrby(kv_client *c)
{
    long long incr;
    if (kv_arg_ll(c, 2, &incr) == 0)
        incr_by(c, incr);
}

void kv_cmd_decrby(kv_client *c)
{
    long long incr;
    if (kv_arg_ll(c, 2, &incr))
        return;
    if (incr == LLONG_MIN) {
        kv_reply_error(&c->out, "decrement would overflow");
        return;
    }
    incr_by(c, -incr);
}

void kv_cmd_append(kv_client *c)
{
    kv_db *db = kv_srv.db;
    const kv_arg *key = &c->argv[1], *add = &c->argv[2];
    kv_dict_entry *e = kv_db_lookup(db, key->p, key->len, 0);
    kv_str *v;

    if (e == NULL) {
        e = kv_db_store(db, NULL, key->p, key->len, kv_str_new(add->p, add->len), 0);
    } else {
        size_t old = e->v.str->len;
        if ((long long)(old + add->len) > kv_srv.cfg.proto_max_bulk_len) {
            kv_reply_error(&c->out, "string exceeds maximum allowed size (proto-max-bulk-len)");
            return;
        }
        v = kv_str_new(NULL, old + add->len);
        memcpy(v->data, e->v.str->data, old);
        memcpy(v->data + old, add->p, add->len);
        kv_db_store(db, e, key->p, key->len, v, 1);
    }
    kv_srv.dirty++;
    kv_reply_int(&c->out, (long long)e->v.str->len);
}

void kv_cmd_strlen(kv_client *c)
{
    kv_dict_entry *e = kv_db_lookup(kv_srv.db, c->argv[1].p, c->argv[1].len, KV_LOOKUP_READ);
    kv_reply_int(&c->out, e ? (long long)e->v.str->len : 0);
}

/*
 * propagate.c -- translation of executed write commands into log records
 * (see propagate.h).  The records are built from the keyspace state after
 * the command ran, which makes them deterministic: replaying them at any
 * later time, with expiry suspended (kv_db.loading), gives the same keys,
 * values and absolute expiries.
 */
#include "propagate.h"
#include "aof.h"

#include <string.h>

static kv_arg lit(const char *s)
{
    kv_arg a = {s, strlen(s)};
    return a;
}

static int64_t expiry_of(const kv_arg *key)
{
    return kv_db_get_expire(kv_srv.db, key->p, key->len);
}

void kv_propagate_drop(const char *key, size_t len)
{
    kv_arg argv[2] = {lit("DEL"), {key, len}};
    kv_aof_feed(2, argv);
}

/* SET key <stored value> [PXAT <stored expiry>]. */
static void log_set_state(const kv_arg *key)
{
    kv_dict_entry *e = kv_dict_find(kv_srv.db->keys, key->p, key->len);
    char when[KV_LONG_STR_SIZE];
    kv_arg argv[5] = {lit("SET"), *key};
    int64_t expire;
    if (e == NULL) { /* cannot happen after a successful SET; stay correct anyway */
        kv_propagate_drop(key->p, key->len);
        return;
    }
    argv[2].p = e->v.str->data;
    argv[2].len = e->v.str->len;
    expire = expiry_of(key);
    if (expire < 0) {
        kv_aof_feed(3, argv);
        return;
    }
    argv[3] = lit("PXAT");
    argv[4].p = when;
    argv[4].len = kv_ll2str(when, expire);
    kv_aof_feed(5, argv);
}

/* PEXPIREAT key <stored expiry>, or DEL key. */
static void log_expire_state(const kv_arg *key)
{
    char when[KV_LONG_STR_SIZE];
    kv_arg argv[3] = {lit("PEXPIREAT"), *key};
    int64_t expire;
    if (kv_dict_find(kv_srv.db->keys, key->p, key->len) == NULL ||
        (expire = expiry_of(key)) < 0) {
        kv_propagate_drop(key->p, key->len);
        return;
    }
    argv[2].p = when;
    argv[2].len = kv_ll2str(when, expire);
    kv_aof_feed(3, argv);
}

void kv_propagate_command(kv_client *c, const kv_command *cmd)
{
    kv_cmd_proc *p = cmd->proc;
    if (p == kv_cmd_set || p == kv_cmd_setex || p == kv_cmd_psetex)
        log_set_state(&c->argv[1]);
    else if (p == kv_cmd_expire || p == kv_cmd_pexpire || p == kv_cmd_expireat ||
             p == kv_cmd_pexpireat)
        log_expire_state(&c->argv[1]);
    else if (p == kv_cmd_getdel)
        kv_propagate_drop(c->argv[1].p, c->argv[1].len);
    else
        kv_aof_feed(c->argc, c->argv);
}

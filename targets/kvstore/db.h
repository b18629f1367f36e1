/*
 * db.h -- the keyspace: a table of string keys to string values plus a
 * table of expiry times (Unix milliseconds) sharing the key strings, with
 * Redis's expiry semantics: lazy expiry when a key is looked up, and an
 * active expiry cycle run by the server timer (sample 20 keys with a TTL,
 * delete the expired ones, repeat while more than 25% of the sample had
 * expired, within a time budget).  See https://redis.io/commands/expire/
 * ("How Redis expires keys").
 *
 * Every command works against db->now, the command time snapshot set by
 * the dispatcher (a key never expires in the middle of a command).  Not
 * thread-safe: callers hold the keyspace lock.
 */
#ifndef KV_DB_H
#define KV_DB_H

#include <stddef.h>
#include <stdint.h>

#include "dict.h"
#include "util.h"

/* Called before a key is removed by expiry or eviction (not by a command):
 * the persistence layer logs it as a DEL. */
typedef void kv_db_drop_fn(const char *key, size_t len);

typedef struct kv_db {
    kv_dict *keys;    /* kv_str key -> kv_str value (owned) */
    kv_dict *expires; /* same key strings (borrowed) -> expiry, Unix ms */
    int64_t now;      /* command time snapshot, Unix ms */
    uint64_t stat_expired, stat_evicted, stat_hits, stat_misses;
    int loading;      /* replaying a log: keys never expire (as in Redis) */
    kv_db_drop_fn *on_drop; /* NULL: nobody listens */
} kv_db;

/* kv_db_lookup flags */
#define KV_LOOKUP_READ 1    /* count a keyspace hit or miss */
#define KV_LOOKUP_NOTOUCH 2 /* do not update the access time (LRU) */

kv_db *kv_db_create(void);
void kv_db_free(kv_db *db);

/* The live entry of KEY (expired keys are deleted first), or NULL. */
kv_dict_entry *kv_db_lookup(kv_db *db, const char *key, size_t len, int flags);
/* Stores VAL (owned) under KEY; EXISTING is KEY's entry from kv_db_lookup
 * (or NULL).  Without KEEPTTL a previous expiry is dropped. */
kv_dict_entry *kv_db_store(kv_db *db, kv_dict_entry *existing, const char *key,
                           size_t len, kv_str *val, int keepttl);
int kv_db_delete(kv_db *db, const char *key, size_t len);
void kv_db_flush(kv_db *db);

/* Expiry time of KEY in Unix ms, or -1 when it has none. */
int64_t kv_db_get_expire(kv_db *db, const char *key, size_t len);
void kv_db_set_expire(kv_db *db, kv_dict_entry *e, int64_t when);
/* Drops KEY's expiry; returns 1 if it had one. */
int kv_db_persist(kv_db *db, const char *key, size_t len);
/* 1 if KEY has an expiry in the past (the key is left in place); always 0
 * while loading. */
int kv_db_is_expired(kv_db *db, const char *key, size_t len);
/* Removes KEY because it expired (counted in stat_expired) or was evicted
 * (stat_evicted), telling on_drop first. */
void kv_db_remove_expired(kv_db *db, const char *key, size_t len);
void kv_db_remove_evicted(kv_db *db, const char *key, size_t len);
/* Deletes every key whose expiry is before NOW, silently (after a load);
 * returns how many. */
size_t kv_db_drop_expired(kv_db *db, int64_t now);

size_t kv_db_size(const kv_db *db);
size_t kv_db_expires_size(const kv_db *db);

/* One active expiry cycle limited to BUDGET_US microseconds. */
void kv_db_active_expire(kv_db *db, int64_t budget_us);
/* Timer work: active expiry, 1 ms of rehashing, shrinking sparse tables. */
void kv_db_cron(kv_db *db, int hz);

#endif

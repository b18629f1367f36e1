/*
 * db.c -- keyspace with expiry (see db.h), following Redis 7.0's db.c and
 * expire.c: keys are deleted lazily on access (expireIfNeeded) and by an
 * active cycle (activeExpireCycle: 20 keys per sample, repeat while more
 * than 25% of them were expired, time budget 25% of a timer period).  A key
 * whose expiry equals "now" is still alive (Redis: now > when).
 */
#include "db.h"
#include "mem.h"

#include <assert.h>

#define EXPIRE_SAMPLE 20
#define EXPIRE_REPEAT_PERCENT 25

kv_db *kv_db_create(void)
{
    kv_db *db = kv_calloc(1, sizeof *db);
    db->keys = kv_dict_create(1, 1);
    db->expires = kv_dict_create(0, 0);
    db->now = kv_mstime();
    return db;
}

void kv_db_free(kv_db *db)
{
    if (db == NULL)
        return;
    kv_dict_release(db->expires); /* first: it borrows the key strings */
    kv_dict_release(db->keys);
    kv_free(db);
}

int kv_db_is_expired(kv_db *db, const char *key, size_t len)
{
    if (kv_dict_size(db->expires) == 0 || db->loading)
        return 0;
    kv_dict_entry *x = kv_dict_find(db->expires, key, len);
    return x != NULL && db->now > x->v.s64;
}

void kv_db_remove_expired(kv_db *db, const char *key, size_t len)
{
    if (db->on_drop)
        db->on_drop(key, len);
    kv_db_delete(db, key, len);
    db->stat_expired++;
}

void kv_db_remove_evicted(kv_db *db, const char *key, size_t len)
{
    if (db->on_drop)
        db->on_drop(key, len);
    kv_db_delete(db, key, len);
    db->stat_evicted++;
}

size_t kv_db_drop_expired(kv_db *db, int64_t now)
{
    kv_str **doomed = NULL;
    size_t n = 0, cap = 0;
    kv_dict_iter it;
    kv_dict_entry *x;
    kv_dict_iter_init(&it, db->expires);
    while ((x = kv_dict_iter_next(&it)) != NULL) {
        if (now <= x->v.s64)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            doomed = kv_realloc(doomed, cap * sizeof *doomed);
        }
        doomed[n++] = x->key;
    }
    kv_dict_iter_done(&it);
    for (size_t i = 0; i < n; i++)
        kv_db_delete(db, doomed[i]->data, doomed[i]->len);
    kv_free(doomed);
    return n;
}

/* Deletes KEY if it has expired; returns 1 when it did. */
static int expire_if_needed(kv_db *db, const char *key, size_t len)
{
    if (!kv_db_is_expired(db, key, len))
        return 0;
    kv_db_remove_expired(db, key, len);
    return 1;
}

kv_dict_entry *kv_db_lookup(kv_db *db, const char *key, size_t len, int flags)
{
    kv_dict_entry *e = kv_dict_find(db->keys, key, len);
    if (e && expire_if_needed(db, key, len))
        e = NULL;
    if (flags & KV_LOOKUP_READ) {
        if (e)
            db->stat_hits++;
        else
            db->stat_misses++;
    }
    if (e && !(flags & KV_LOOKUP_NOTOUCH))
        e->aux = (uint64_t)db->now;
    return e;
}

kv_dict_entry *kv_db_store(kv_db *db, kv_dict_entry *existing, const char *key,
                           size_t len, kv_str *val, int keepttl)
{
    kv_dict_entry *e = existing;
    if (e) {
        assert(kv_str_eq(e->key, key, len));
        kv_str_free(e->v.str);
        e->v.str = val;
        if (!keepttl && kv_dict_size(db->expires))
            kv_dict_delete(db->expires, key, len);
    } else {
        e = kv_dict_add(db->keys, kv_str_new(key, len));
        assert(e != NULL);
        e->v.str = val;
    }
    e->aux = (uint64_t)db->now;
    return e;
}

int kv_db_delete(kv_db *db, const char *key, size_t len)
{
    /* The expiry entry goes first: the keyspace owns the key string. */
    if (kv_dict_size(db->expires))
        kv_dict_delete(db->expires, key, len);
    return kv_dict_delete(db->keys, key, len);
}

void kv_db_flush(kv_db *db)
{
    kv_dict_clear(db->expires);
    kv_dict_clear(db->keys);
}

int64_t kv_db_get_expire(kv_db *db, const char *key, size_t len)
{
    if (kv_dict_size(db->expires) == 0)
        return -1;
    kv_dict_entry *x = kv_dict_find(db->expires, key, len);
    return x ? x->v.s64 : -1;
}

void kv_db_set_expire(kv_db *db, kv_dict_entry *e, int64_t when)
{
    kv_dict_entry *x = kv_dict_find(db->expires, e->key->data, e->key->len);
    if (x == NULL)
        x = kv_dict_add(db->expires, e->key);
    assert(x != NULL && x->key == e->key);
    x->v.s64 = when;
}

int kv_db_persist(kv_db *db, const char *key, size_t len)
{
    if (kv_dict_size(db->expires) == 0)
        return 0;
    return kv_dict_delete(db->expires, key, len);
}

size_t kv_db_size(const kv_db *db)
{
    return kv_dict_size(db->keys);
}

size_t kv_db_expires_size(const kv_db *db)
{
    return kv_dict_size(db->expires);
}

/* Samples up to EXPIRE_SAMPLE keys with a TTL; returns how many expired
 * (and were deleted) out of *SAMPLED. */
static size_t expire_sample(kv_db *db, size_t *sampled)
{
    size_t n = kv_dict_size(db->expires), expired = 0;
    *sampled = n < EXPIRE_SAMPLE ? n : EXPIRE_SAMPLE;
    for (size_t i = 0; i < *sampled; i++) {
        kv_dict_entry *x = kv_dict_random(db->expires);
        if (x == NULL)
            break;
        if (db->now > x->v.s64) {
            kv_str *key = x->key;
            kv_db_remove_expired(db, key->data, key->len);
            expired++;
        }
    }
    return expired;
}

void kv_db_active_expire(kv_db *db, int64_t budget_us)
{
    int64_t start = kv_monotonic_us();
    for (unsigned iteration = 1;; iteration++) {
        size_t sampled;
        size_t expired = expire_sample(db, &sampled);
        if (sampled == 0 || expired * 100 <= sampled * EXPIRE_REPEAT_PERCENT)
            break;
        if ((iteration & 15) == 0 && kv_monotonic_us() - start > budget_us)
            break;
    }
}

void kv_db_cron(kv_db *db, int hz)
{
    assert(hz > 0);
    db->now = kv_mstime();
    kv_db_active_expire(db, 1000000 / hz * 25 / 100);
    kv_dict_shrink_if_needed(db->keys);
    kv_dict_shrink_if_needed(db->expires);
    if (kv_dict_is_rehashing(db->keys))
        kv_dict_rehash_ms(db->keys, 1);
    if (kv_dict_is_rehashing(db->expires))
        kv_dict_rehash_ms(db->expires, 1);
}

/*
 * dict.h -- chained hash table with incremental rehashing, modelled on
 * Redis's dict.c (two tables; while a resize is in progress every operation
 * moves a bucket from the old table to the new one, and the server timer
 * moves more; lookups search both tables).
 *
 * Keys are binary-safe kv_str.  A table either owns its keys and kv_str
 * values (the keyspace) or borrows keys and stores 64-bit integers (the
 * expiry table, which shares the keyspace's key strings, as Redis's
 * db->expires does).  Bucket positions come from SipHash-2-4 keyed with a
 * random seed set once at start.
 *
 * kv_dict_scan implements Redis's reverse-binary cursor, so a full scan
 * returns every key present for its whole duration at least once even when
 * the table grows or shrinks between calls (and exactly once when it only
 * grows).  Not thread-safe: callers hold the keyspace lock.
 */
#ifndef KV_DICT_H
#define KV_DICT_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef struct kv_dict_entry {
    struct kv_dict_entry *next;
    kv_str *key;
    union {
        kv_str *str;
        int64_t s64;
    } v;
    uint64_t aux; /* owner's metadata: the keyspace keeps the access time */
} kv_dict_entry;

typedef struct kv_dict kv_dict;

typedef void kv_dict_scan_fn(void *priv, kv_dict_entry *e);

typedef struct kv_dict_iter {
    kv_dict *d;
    int table;
    size_t index;
    kv_dict_entry *next;
} kv_dict_iter;

void kv_dict_set_hash_seed(const uint8_t seed[16]);
uint64_t kv_dict_hash(const void *key, size_t len);

kv_dict *kv_dict_create(int owns_keys, int owns_vals);
void kv_dict_release(kv_dict *d);
void kv_dict_clear(kv_dict *d);

size_t kv_dict_size(const kv_dict *d);
size_t kv_dict_slots(const kv_dict *d);
int kv_dict_is_rehashing(const kv_dict *d);

kv_dict_entry *kv_dict_find(kv_dict *d, const void *key, size_t len);
/* Inserts KEY (ownership passes to the table when it owns keys); returns
 * the new entry with v zeroed, or NULL (KEY untouched) if present. */
kv_dict_entry *kv_dict_add(kv_dict *d, kv_str *key);
/* Removes KEY, freeing what the table owns; returns 1 if it was present. */
int kv_dict_delete(kv_dict *d, const void *key, size_t len);

/* A uniformly chosen bucket's random entry (NULL when empty). */
kv_dict_entry *kv_dict_random(kv_dict *d);

/* One step of a SCAN: calls FN for the entries at CURSOR, returns the next
 * cursor (0 when the scan is complete).  FN must not modify the table. */
uint64_t kv_dict_scan(kv_dict *d, uint64_t cursor, kv_dict_scan_fn *fn, void *priv);

/* Rehash N buckets; returns 1 while a rehash is still in progress. */
int kv_dict_rehash(kv_dict *d, int n);
/* Rehash for about MS milliseconds; returns the buckets moved. */
int kv_dict_rehash_ms(kv_dict *d, int ms);
/* Start shrinking when fewer than 10% of the slots are used (server timer). */
void kv_dict_shrink_if_needed(kv_dict *d);

/* Iteration without modification (rehashing is paused until done). */
void kv_dict_iter_init(kv_dict_iter *it, kv_dict *d);
kv_dict_entry *kv_dict_iter_next(kv_dict_iter *it);
void kv_dict_iter_done(kv_dict_iter *it);

#endif

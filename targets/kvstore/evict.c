/*
 * evict.c -- maxmemory eviction (see evict.h), after Redis 7.0's evict.c
 * (performEvictions) with its approximations: allkeys-random deletes random
 * keys; allkeys-lru samples 5 keys (maxmemory-samples) and deletes the one
 * accessed least recently; volatile-ttl samples 5 keys that have an expiry
 * and deletes the one closest to expiring.  Memory is measured by mem.c, so
 * the effect of each deletion is seen at once.
 */
#include "evict.h"
#include "mem.h"

#include <assert.h>
#include <strings.h>

#define EVICT_SAMPLES 5

static const char *const policy_names[] = {
    [KV_POLICY_NOEVICTION] = "noeviction",
    [KV_POLICY_ALLKEYS_RANDOM] = "allkeys-random",
    [KV_POLICY_ALLKEYS_LRU] = "allkeys-lru",
    [KV_POLICY_VOLATILE_TTL] = "volatile-ttl",
};

const char *kv_policy_name(kv_policy p)
{
    assert((unsigned)p < sizeof policy_names / sizeof policy_names[0]);
    return policy_names[p];
}

int kv_policy_parse(const char *name, kv_policy *out)
{
    for (unsigned i = 0; i < sizeof policy_names / sizeof policy_names[0]; i++) {
        if (strcasecmp(name, policy_names[i]) == 0) {
            *out = (kv_policy)i;
            return 0;
        }
    }
    return -1;
}

/* The sampled key with the oldest access time. */
static kv_str *pick_lru(kv_db *db)
{
    kv_dict_entry *best = NULL;
    for (int i = 0; i < EVICT_SAMPLES; i++) {
        kv_dict_entry *e = kv_dict_random(db->keys);
        if (e && (best == NULL || e->aux < best->aux))
            best = e;
    }
    return best ? best->key : NULL;
}

/* The sampled volatile key with the nearest expiry. */
static kv_str *pick_ttl(kv_db *db)
{
    kv_dict_entry *best = NULL;
    for (int i = 0; i < EVICT_SAMPLES; i++) {
        kv_dict_entry *x = kv_dict_random(db->expires);
        if (x && (best == NULL || x->v.s64 < best->v.s64))
            best = x;
    }
    return best ? best->key : NULL;
}

static kv_str *pick_victim(kv_db *db, kv_policy policy)
{
    kv_dict_entry *e;
    switch (policy) {
    case KV_POLICY_ALLKEYS_RANDOM:
        e = kv_dict_random(db->keys);
        return e ? e->key : NULL;
    case KV_POLICY_ALLKEYS_LRU:
        return pick_lru(db);
    case KV_POLICY_VOLATILE_TTL:
        return pick_ttl(db);
    case KV_POLICY_NOEVICTION:
        break;
    }
    return NULL;
}

int kv_evict(kv_db *db, unsigned long long maxmemory, kv_policy policy)
{
    if (maxmemory == 0)
        return 0;
    while (kv_used_memory() > maxmemory) {
        kv_str *victim = pick_victim(db, policy);
        if (victim == NULL)
            return -1;
        kv_db_remove_evicted(db, victim->data, victim->len);
    }
    return 0;
}

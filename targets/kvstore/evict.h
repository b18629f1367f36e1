/*
 * evict.h -- the maxmemory policy (Redis "Key eviction",
 * https://redis.io/docs/reference/eviction/): before each command, while
 * used memory exceeds maxmemory, delete keys chosen by the policy; with
 * noeviction (or nothing left to evict) report failure so that the
 * dispatcher rejects commands that may grow memory with
 * "-OOM command not allowed when used memory > 'maxmemory'.".
 */
#ifndef KV_EVICT_H
#define KV_EVICT_H

#include "db.h"

typedef enum {
    KV_POLICY_NOEVICTION,
    KV_POLICY_ALLKEYS_RANDOM,
    KV_POLICY_ALLKEYS_LRU,
    KV_POLICY_VOLATILE_TTL,
} kv_policy;

#define KV_POLICY_NAMES "noeviction, allkeys-random, allkeys-lru, volatile-ttl"

const char *kv_policy_name(kv_policy p);
/* 0 and *OUT set when NAME is a policy (case-insensitive), else -1. */
int kv_policy_parse(const char *name, kv_policy *out);

/* Evicts until used memory <= MAXMEMORY (0: no limit).  Returns 0 when
 * memory is within the limit, -1 when it could not get there. */
int kv_evict(kv_db *db, unsigned long long maxmemory, kv_policy policy);

#endif

/*
 * dict.c -- incremental-rehash hash table (see dict.h), after Redis 7.0's
 * dict.c: power-of-two tables, load factor 1 before growing, shrink below
 * 10% fill (driven by the server timer), one bucket rehashed per lookup,
 * insert and delete (visiting at most 10 empty buckets), SipHash-2-4 keyed
 * at start, random entries by picking random non-empty buckets, and the
 * reverse-binary SCAN cursor.
 */
#include "dict.h"
#include "mem.h"
#include "siphash.h"

#include <assert.h>
#include <string.h>

#define DICT_INITIAL_SIZE 4
#define DICT_MIN_FILL_PERCENT 10

struct kv_dict {
    kv_dict_entry **table[2];
    size_t size[2]; /* 0 or a power of two */
    size_t used[2];
    long rehashidx; /* next bucket of table[0] to move, -1 when idle */
    int paused;     /* iterators/scans in progress: no rehash steps */
    int owns_keys, owns_vals;
};

static uint8_t hash_seed[16];

void kv_dict_set_hash_seed(const uint8_t seed[16])
{
    memcpy(hash_seed, seed, sizeof hash_seed);
}

uint64_t kv_dict_hash(const void *key, size_t len)
{
    return kv_siphash(key, len, hash_seed);
}

kv_dict *kv_dict_create(int owns_keys, int owns_vals)
{
    kv_dict *d = kv_calloc(1, sizeof *d);
    d->rehashidx = -1;
    d->owns_keys = owns_keys;
    d->owns_vals = owns_vals;
    return d;
}

static void free_entry(kv_dict *d, kv_dict_entry *e)
{
    if (d->owns_keys)
        kv_str_free(e->key);
    if (d->owns_vals)
        kv_str_free(e->v.str);
    kv_free(e);
}

static void clear_table(kv_dict *d, int t)
{
    for (size_t i = 0; i < d->size[t]; i++) {
        kv_dict_entry *e = d->table[t][i];
        while (e) {
            kv_dict_entry *next = e->next;
            free_entry(d, e);
            e = next;
        }
    }
    kv_free(d->table[t]);
    d->table[t] = NULL;
    d->size[t] = d->used[t] = 0;
}

void kv_dict_clear(kv_dict *d)
{
    assert(d->paused == 0);
    clear_table(d, 0);
    clear_table(d, 1);
    d->rehashidx = -1;
}

void kv_dict_release(kv_dict *d)
{
    if (d == NULL)
        return;
    kv_dict_clear(d);
    kv_free(d);
}

size_t kv_dict_size(const kv_dict *d)
{
    return d->used[0] + d->used[1];
}

size_t kv_dict_slots(const kv_dict *d)
{
    return d->size[0] + d->size[1];
}

int kv_dict_is_rehashing(const kv_dict *d)
{
    return d->rehashidx != -1;
}

static size_t bucket_of(const kv_dict *d, int t, uint64_t h)
{
    assert(d->size[t] != 0);
    return (size_t)(h & (d->size[t] - 1));
}

/* Allocates a table of the smallest power of two >= N and starts moving
 * entries into it (or installs it directly when the dict has no table). */
static void resize_to(kv_dict *d, size_t n)
{
    size_t size = DICT_INITIAL_SIZE;
    assert(!kv_dict_is_rehashing(d));
    while (size < n)
        size <<= 1;
    if (size == d->size[0])
        return;
    kv_dict_entry **t = kv_calloc(size, sizeof *t);
    if (d->table[0] == NULL) {
        d->table[0] = t;
        d->size[0] = size;
        return;
    }
    d->table[1] = t;
    d->size[1] = size;
    d->used[1] = 0;
    d->rehashidx = 0;
}

static void expand_if_needed(kv_dict *d)
{
    if (kv_dict_is_rehashing(d))
        return;
    if (d->size[0] == 0)
        resize_to(d, DICT_INITIAL_SIZE);
    else if (d->used[0] >= d->size[0])
        resize_to(d, d->used[0] + 1);
}

void kv_dict_shrink_if_needed(kv_dict *d)
{
    if (kv_dict_is_rehashing(d) || d->paused || d->size[0] <= DICT_INITIAL_SIZE)
        return;
    if (d->used[0] * 100 / d->size[0] < DICT_MIN_FILL_PERCENT)
        resize_to(d, d->used[0]);
}

static void move_bucket(kv_dict *d, size_t idx)
{
    kv_dict_entry *e = d->table[0][idx];
    while (e) {
        kv_dict_entry *next = e->next;
        size_t to = bucket_of(d, 1, kv_dict_hash(e->key->data, e->key->len));
        e->next = d->table[1][to];
        d->table[1][to] = e;
        d->used[0]--;
        d->used[1]++;
        e = next;
    }
    d->table[0][idx] = NULL;
}

static void finish_rehash(kv_dict *d)
{
    assert(d->used[0] == 0);
    kv_free(d->table[0]);
    d->table[0] = d->table[1];
    d->size[0] = d->size[1];
    d->used[0] = d->used[1];
    d->table[1] = NULL;
    d->size[1] = d->used[1] = 0;
    d->rehashidx = -1;
}

int kv_dict_rehash(kv_dict *d, int n)
{
    int empty_visits = n * 10;
    if (!kv_dict_is_rehashing(d))
        return 0;
    while (n-- > 0 && d->used[0] != 0) {
        assert((size_t)d->rehashidx < d->size[0]);
        while (d->table[0][d->rehashidx] == NULL) {
            d->rehashidx++;
            if (--empty_visits == 0)
                return 1;
        }
        move_bucket(d, (size_t)d->rehashidx);
        d->rehashidx++;
    }
    if (d->used[0] == 0) {
        finish_rehash(d);
        return 0;
    }
    return 1;
}

int kv_dict_rehash_ms(kv_dict *d, int ms)
{
    int64_t start = kv_monotonic_us();
    int moved = 0;
    if (d->paused)
        return 0;
    while (kv_dict_rehash(d, 100)) {
        moved += 100;
        if (kv_monotonic_us() - start > (int64_t)ms * 1000)
            break;
    }
    return moved;
}

static void rehash_step(kv_dict *d)
{
    if (d->paused == 0)
        kv_dict_rehash(d, 1);
}

static kv_dict_entry *find_hashed(kv_dict *d, const void *key, size_t len, uint64_t h)
{
    for (int t = 0; t <= 1; t++) {
        if (d->size[t] == 0)
            break;
        for (kv_dict_entry *e = d->table[t][bucket_of(d, t, h)]; e; e = e->next) {
            if (kv_str_eq(e->key, key, len))
                return e;
        }
        if (!kv_dict_is_rehashing(d))
            break;
    }
    return NULL;
}

kv_dict_entry *kv_dict_find(kv_dict *d, const void *key, size_t len)
{
    if (kv_dict_size(d) == 0)
        return NULL;
    if (kv_dict_is_rehashing(d))
        rehash_step(d);
    return find_hashed(d, key, len, kv_dict_hash(key, len));
}

kv_dict_entry *kv_dict_add(kv_dict *d, kv_str *key)
{
    assert(d->paused == 0);
    if (kv_dict_is_rehashing(d))
        rehash_step(d);
    expand_if_needed(d);
    uint64_t h = kv_dict_hash(key->data, key->len);
    if (find_hashed(d, key->data, key->len, h))
        return NULL;
    int t = kv_dict_is_rehashing(d) ? 1 : 0;
    size_t idx = bucket_of(d, t, h);
    kv_dict_entry *e = kv_malloc(sizeof *e);
    e->key = key;
    e->v.s64 = 0;
    e->aux = 0;
    e->next = d->table[t][idx];
    d->table[t][idx] = e;
    d->used[t]++;
    return e;
}

int kv_dict_delete(kv_dict *d, const void *key, size_t len)
{
    assert(d->paused == 0);
    if (kv_dict_size(d) == 0)
        return 0;
    if (kv_dict_is_rehashing(d))
        rehash_step(d);
    uint64_t h = kv_dict_hash(key, len);
    for (int t = 0; t <= 1 && d->size[t]; t++) {
        kv_dict_entry **link = &d->table[t][bucket_of(d, t, h)];
        for (; *link; link = &(*link)->next) {
            kv_dict_entry *e = *link;
            if (kv_str_eq(e->key, key, len)) {
                *link = e->next;
                d->used[t]--;
                free_entry(d, e);
                return 1;
            }
        }
        if (!kv_dict_is_rehashing(d))
            break;
    }
    return 0;
}

static kv_dict_entry *random_bucket(kv_dict *d)
{
    kv_dict_entry *e;
    if (kv_dict_is_rehashing(d)) {
        /* Buckets below rehashidx in table 0 are empty: skip them. */
        size_t base = (size_t)d->rehashidx, span = kv_dict_slots(d) - base;
        do {
            size_t h = base + (size_t)(kv_random() % span);
            e = h >= d->size[0] ? d->table[1][h - d->size[0]] : d->table[0][h];
        } while (e == NULL);
    } else {
        do {
            e = d->table[0][kv_random() & (d->size[0] - 1)];
        } while (e == NULL);
    }
    return e;
}

kv_dict_entry *kv_dict_random(kv_dict *d)
{
    if (kv_dict_size(d) == 0)
        return NULL;
    if (kv_dict_is_rehashing(d))
        rehash_step(d);
    kv_dict_entry *head = random_bucket(d), *e;
    size_t chain = 0;
    for (e = head; e; e = e->next)
        chain++;
    for (size_t skip = (size_t)(kv_random() % chain); skip; skip--)
        head = head->next;
    return head;
}

static uint64_t rev64(uint64_t v)
{
    uint64_t r = 0;
    for (int i = 0; i < 64; i++) {
        r = (r << 1) | (v & 1);
        v >>= 1;
    }
    return r;
}

static void emit_bucket(kv_dict_entry *e, kv_dict_scan_fn *fn, void *priv)
{
    while (e) {
        kv_dict_entry *next = e->next;
        fn(priv, e);
        e = next;
    }
}

/* Sets the bits above MASK and increments the reversed cursor, which walks
 * the masked bits from the most significant one down. */
static uint64_t next_cursor(uint64_t v, uint64_t mask)
{
    v |= ~mask;
    v = rev64(v);
    v++;
    return rev64(v);
}

uint64_t kv_dict_scan(kv_dict *d, uint64_t v, kv_dict_scan_fn *fn, void *priv)
{
    if (kv_dict_size(d) == 0)
        return 0;
    d->paused++;
    if (!kv_dict_is_rehashing(d)) {
        uint64_t m0 = d->size[0] - 1;
        emit_bucket(d->table[0][v & m0], fn, priv);
        v = next_cursor(v, m0);
    } else {
        int small = d->size[0] <= d->size[1] ? 0 : 1, big = 1 - small;
        uint64_t m0 = d->size[small] - 1, m1 = d->size[big] - 1;
        emit_bucket(d->table[small][v & m0], fn, priv);
        /* Then every bucket of the bigger table that expands this one. */
        do {
            emit_bucket(d->table[big][v & m1], fn, priv);
            v = next_cursor(v, m1);
        } while (v & (m0 ^ m1));
    }
    d->paused--;
    return v;
}

void kv_dict_iter_init(kv_dict_iter *it, kv_dict *d)
{
    it->d = d;
    it->table = 0;
    it->index = 0;
    it->next = NULL;
    d->paused++;
}

kv_dict_entry *kv_dict_iter_next(kv_dict_iter *it)
{
    kv_dict *d = it->d;
    while (it->next == NULL) {
        if (it->table > 1)
            return NULL;
        if (it->index >= d->size[it->table]) {
            it->table = (it->table == 0 && kv_dict_is_rehashing(d)) ? 1 : 2;
            it->index = 0;
            continue;
        }
        it->next = d->table[it->table][it->index++];
    }
    kv_dict_entry *e = it->next;
    it->next = e->next;
    return e;
}

void kv_dict_iter_done(kv_dict_iter *it)
{
    assert(it->d->paused > 0);
    it->d->paused--;
}

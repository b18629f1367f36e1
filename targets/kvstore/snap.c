/*
 * snap.c -- snapshot writer and reader (the format is described in
 * snap.h).  The writer walks the keyspace with a dictionary iterator and
 * appends to a buffer that is flushed to the file every 64 KiB (or kept
 * whole for an in-memory image), checksumming what it emits.  The reader
 * walks a memory image with a bounds-checked cursor.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "snap.h"
#include "crc64.h"
#include "file.h"
#include "mem.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define OP_PLAIN 0x01
#define OP_EXPIRE 0x02
#define OP_END 0xFF
#define HEADER_LEN 8
#define FLUSH_AT (64 * 1024)
#define VARINT_MAX 10

/* ---- writer ---- */

typedef struct snap_out {
    int fd; /* -1: build the image in memory */
    char *b;
    size_t len, cap;
    size_t summed; /* b[0, summed) is already in crc */
    uint64_t crc, total;
    int err; /* errno of the first failed write */
} snap_out;

static void out_reserve(snap_out *o, size_t n)
{
    if (o->cap - o->len >= n)
        return;
    size_t cap = o->cap ? o->cap : FLUSH_AT * 2;
    while (cap - o->len < n)
        cap *= 2;
    o->b = kv_realloc(o->b, cap);
    o->cap = cap;
}

/* Checksums the new bytes; in file mode also writes them out. */
static void out_commit(snap_out *o)
{
    o->crc = kv_crc64(o->crc, o->b + o->summed, o->len - o->summed);
    o->summed = o->len;
    if (o->fd < 0)
        return;
    if (!o->err && kv_write_all(o->fd, o->b, o->len) < 0)
        o->err = errno;
    o->len = o->summed = 0;
}

static void out_bytes(snap_out *o, const void *p, size_t n)
{
    if (o->fd >= 0 && n >= FLUSH_AT) { /* a big value goes straight out */
        out_commit(o);
        o->crc = kv_crc64(o->crc, p, n);
        if (!o->err && kv_write_all(o->fd, p, n) < 0)
            o->err = errno;
        o->total += n;
        return;
    }
    out_reserve(o, n);
    memcpy(o->b + o->len, p, n);
    o->len += n;
    o->total += n;
    if (o->fd >= 0 && o->len >= FLUSH_AT)
        out_commit(o);
}

static void out_byte(snap_out *o, unsigned char c)
{
    out_bytes(o, &c, 1);
}

static void out_varint(snap_out *o, uint64_t v)
{
    unsigned char buf[VARINT_MAX];
    size_t n = 0;
    do {
        buf[n] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v)
            buf[n] |= 0x80;
        n++;
    } while (v);
    out_bytes(o, buf, n);
}

static void out_le64(snap_out *o, uint64_t v)
{
    unsigned char buf[8];
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)(v >> (8 * i));
    out_bytes(o, buf, 8);
}

static void out_entry(snap_out *o, const kv_str *key, const kv_str *val, int64_t expire)
{
    if (expire >= 0) {
        out_byte(o, OP_EXPIRE);
        out_le64(o, (uint64_t)expire);
    } else {
        out_byte(o, OP_PLAIN);
    }
    out_varint(o, key->len);
    out_bytes(o, key->data, key->len);
    out_varint(o, val->len);
    out_bytes(o, val->data, val->len);
}

static void write_image(kv_db *db, snap_out *o, int64_t now)
{
    static const unsigned char version[2] = {KV_SNAP_VERSION & 0xff, KV_SNAP_VERSION >> 8};
    kv_dict_iter it;
    kv_dict_entry *e;
    int has_expires = kv_db_expires_size(db) > 0;
    out_bytes(o, KV_SNAP_MAGIC, 6);
    out_bytes(o, version, 2);
    kv_dict_iter_init(&it, db->keys);
    while ((e = kv_dict_iter_next(&it)) != NULL) {
        int64_t when = -1;
        if (has_expires) {
            kv_dict_entry *x = kv_dict_find(db->expires, e->key->data, e->key->len);
            when = x ? x->v.s64 : -1;
            if (when >= 0 && now > when)
                continue;
        }
        out_entry(o, e->key, e->v.str, when < 0 ? -1 : when);
    }
    kv_dict_iter_done(&it);
    out_byte(o, OP_END);
    out_commit(o);
    out_le64(o, o->crc);
    out_commit(o);
}

int kv_snap_write_fd(kv_db *db, int fd, int64_t now, uint64_t *bytes)
{
    snap_out o;
    memset(&o, 0, sizeof o);
    o.fd = fd;
    write_image(db, &o, now);
    kv_free(o.b);
    if (bytes)
        *bytes = o.total;
    if (o.err) {
        errno = o.err;
        return -1;
    }
    return 0;
}

void kv_snap_write_mem(kv_db *db, int64_t now, char **out, size_t *len)
{
    snap_out o;
    memset(&o, 0, sizeof o);
    o.fd = -1;
    write_image(db, &o, now);
    *out = o.b;
    *len = o.len;
}

typedef struct save_ctx {
    kv_db *db;
    int64_t now;
    uint64_t *bytes;
} save_ctx;

static int save_to(int fd, void *ctx)
{
    save_ctx *sc = ctx;
    return kv_snap_write_fd(sc->db, fd, sc->now, sc->bytes);
}

int kv_snap_save_file(kv_db *db, const char *path, int64_t now, uint64_t *bytes)
{
    save_ctx sc = {db, now, bytes};
    return kv_replace_file(path, 1, save_to, &sc);
}

/* ---- reader ---- */

typedef struct snap_in {
    const unsigned char *p;
    size_t len, pos;
    kv_load_info *li;
    kv_dict *skipped; /* keys skipped as expired (for the uniqueness check), lazily */
} snap_in;

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 3, 4)))
#endif
static int fail(snap_in *in, size_t at, const char *fmt, ...)
{
    char detail[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    snprintf(in->li->what, sizeof in->li->what, "%s at offset %zu", detail, at);
    in->li->good_end = at;
    return -1;
}

static int truncated(snap_in *in, size_t at)
{
    return fail(in, at, "bad snapshot: truncated (the file ends inside an entry, %zu bytes "
                "long)", in->len);
}

static int in_varint(snap_in *in, size_t start, uint64_t *out)
{
    uint64_t v = 0;
    *out = 0;
    for (int i = 0; i < VARINT_MAX; i++) {
        if (in->pos >= in->len)
            return truncated(in, start);
        unsigned char c = in->p[in->pos++];
        if (i == VARINT_MAX - 1 && c > 1)
            return fail(in, start, "bad snapshot: length overflows 64 bits");
        v |= (uint64_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return fail(in, start, "bad snapshot: length overflows 64 bits");
}

/* A length-prefixed string: *P points into the image. */
static int in_string(snap_in *in, size_t start, const char **p, size_t *n)
{
    uint64_t len = 0;
    if (in_varint(in, start, &len))
        return -1;
    if (len > in->len - in->pos)
        return truncated(in, start);
    *p = (const char *)in->p + in->pos;
    *n = (size_t)len;
    in->pos += (size_t)len;
    return 0;
}

static int64_t in_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return (int64_t)v;
}

static int check_header(snap_in *in)
{
    if (in->len < 6 || memcmp(in->p, KV_SNAP_MAGIC, 6) != 0)
        return fail(in, 0, "bad snapshot: no \"" KV_SNAP_MAGIC "\" magic");
    if (in->len < HEADER_LEN)
        return truncated(in, 6);
    unsigned version = in->p[6] | (unsigned)in->p[7] << 8;
    if (version != KV_SNAP_VERSION)
        return fail(in, 6, "bad snapshot: unsupported version %u (this server reads %d)",
                    version, KV_SNAP_VERSION);
    in->pos = HEADER_LEN;
    return 0;
}

/* Adds a key known to be new (or remembers it as skipped, expired). */
static void insert(snap_in *in, kv_db *db, const char *k, size_t kl, const char *v, size_t vl,
                   int64_t when, int64_t now)
{
    if (when >= 0 && now > when) {
        if (in->skipped == NULL)
            in->skipped = kv_dict_create(1, 0);
        kv_dict_add(in->skipped, kv_str_new(k, kl));
        in->li->expired++;
        return;
    }
    kv_dict_entry *e = kv_dict_add(db->keys, kv_str_new(k, kl));
    assert(e != NULL);
    e->v.str = kv_str_new(v, vl);
    e->aux = (uint64_t)now;
    if (when >= 0)
        kv_db_set_expire(db, e, when);
    in->li->count++;
}

/* One entry starting at in->pos (its opcode already checked). */
static int read_entry(snap_in *in, kv_db *db, int64_t now)
{
    size_t start = in->pos;
    unsigned char op = in->p[in->pos++];
    int64_t when = -1;
    const char *k, *v;
    size_t kl, vl;
    if (op == OP_EXPIRE) {
        if (in->len - in->pos < 8)
            return truncated(in, start);
        when = in_le64(in->p + in->pos);
        in->pos += 8;
        if (when < 0)
            return fail(in, start, "bad snapshot: negative expiry %lld", (long long)when);
    }
    if (in_string(in, start, &k, &kl) || in_string(in, start, &v, &vl))
        return -1;
    if (kv_dict_find(db->keys, k, kl) != NULL ||
        (in->skipped && kv_dict_find(in->skipped, k, kl) != NULL))
        return fail(in, start, "bad snapshot: duplicate key");
    insert(in, db, k, kl, v, vl, when, now);
    return 0;
}

static int check_trailer(snap_in *in, size_t end)
{
    uint64_t want, got;
    if (in->len - in->pos < 8)
        return fail(in, in->pos, "bad snapshot: truncated checksum (file is %zu bytes)",
                    in->len);
    want = (uint64_t)in_le64(in->p + in->pos);
    got = kv_crc64(0, in->p, end);
    if (want != got)
        return fail(in, in->pos, "bad snapshot: checksum mismatch (stored %016llx, computed "
                    "%016llx)", (unsigned long long)want, (unsigned long long)got);
    in->pos += 8;
    if (in->pos != in->len)
        return fail(in, in->pos, "bad snapshot: %zu unexpected bytes after the checksum",
                    in->len - in->pos);
    return 0;
}

int kv_snap_is_snapshot(const char *buf, size_t len)
{
    return len >= 6 && memcmp(buf, KV_SNAP_MAGIC, 6) == 0;
}

static int read_entries(snap_in *in, kv_db *db, int64_t now)
{
    for (;;) {
        if (in->pos >= in->len)
            return truncated(in, in->pos);
        unsigned char op = in->p[in->pos];
        if (op == OP_END)
            return 0;
        if (op != OP_PLAIN && op != OP_EXPIRE)
            return fail(in, in->pos, "bad snapshot: unknown entry type 0x%02x", op);
        if (read_entry(in, db, now))
            return -1;
    }
}

int kv_snap_load(kv_db *db, const char *buf, size_t len, int64_t now, kv_load_info *li)
{
    snap_in in = {(const unsigned char *)buf, len, 0, li, NULL};
    int rc;
    memset(li, 0, sizeof *li);
    rc = check_header(&in);
    if (rc == 0)
        rc = read_entries(&in, db, now);
    if (rc == 0) {
        in.pos++; /* the end marker */
        li->good_end = in.pos;
        rc = check_trailer(&in, in.pos);
    }
    if (rc == 0)
        li->good_end = in.len;
    kv_dict_release(in.skipped);
    return rc;
}

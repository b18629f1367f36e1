/*
 * aof_load.c -- strict RESP reader and replay of a command log (see
 * aof_load.h).  Arguments are copied out of the (read-only, possibly
 * mapped) image into a scratch buffer so that each one is NUL-terminated,
 * as the command handlers expect.
 */
#include "aof_load.h"
#include "cmd.h"
#include "mem.h"

#include <assert.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_HEADER_LINE 32 /* "*" or "$", up to 20 digits, CRLF */

typedef struct arg_ref {
    size_t off, len; /* in the image */
} arg_ref;

typedef struct log_in {
    const char *buf;
    size_t len, pos;
    kv_load_info *li;
    arg_ref *refs;
    size_t nrefs, refs_cap;
    char *scratch;
    size_t scratch_cap;
    kv_arg *argv;
    size_t argv_cap;
} log_in;

enum { RD_OK, RD_END, RD_BAD };

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 3, 4)))
#endif
static int bad(log_in *in, size_t start, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(in->li->what, sizeof in->li->what, fmt, ap);
    va_end(ap);
    in->li->good_end = start;
    return RD_BAD;
}

static int truncated(log_in *in, size_t start)
{
    in->li->truncated = 1;
    return bad(in, start, "truncated command at offset %zu (the file ends inside it, at "
               "byte %zu)", start, in->len);
}

/* 'x' for a printable byte, '\xNN' otherwise. */
static void show_byte(char *out, size_t cap, unsigned char c)
{
    if (isprint(c) && c != '\'')
        snprintf(out, cap, "'%c'", c);
    else
        snprintf(out, cap, "'\\x%02x'", c);
}

/* "<KIND><integer>\r\n" at in->pos. */
static int read_header(log_in *in, size_t start, char kind, long long *out)
{
    const char *p = in->buf + in->pos, *cr;
    size_t avail = in->len - in->pos;
    char got[8];
    if (avail == 0)
        return truncated(in, start);
    if (*p != kind) {
        show_byte(got, sizeof got, (unsigned char)*p);
        if (in->pos == start)
            return bad(in, start, "bad RESP at offset %zu (expected '%c', got %s)", start,
                       kind, got);
        return bad(in, start, "bad RESP at offset %zu (expected '%c' at byte %zu, got %s)",
                   start, kind, in->pos, got);
    }
    cr = memchr(p, '\r', avail < MAX_HEADER_LINE ? avail : MAX_HEADER_LINE);
    if (cr == NULL)
        return avail < MAX_HEADER_LINE
                   ? truncated(in, start)
                   : bad(in, start, "bad RESP at offset %zu (length line at byte %zu too long)",
                         start, in->pos);
    if ((size_t)(cr - p) + 1 >= avail)
        return truncated(in, start);
    if (cr[1] != '\n' || !kv_string2ll(p + 1, (size_t)(cr - p) - 1, out))
        return bad(in, start, "bad RESP at offset %zu (invalid length line '%.*s' at byte %zu)",
                   start, (int)(cr - p), p, in->pos);
    in->pos += (size_t)(cr - p) + 2;
    return RD_OK;
}

static void add_ref(log_in *in, size_t off, size_t len)
{
    if (in->nrefs == in->refs_cap) {
        in->refs_cap = in->refs_cap ? 2 * in->refs_cap : 16;
        in->refs = kv_realloc(in->refs, in->refs_cap * sizeof *in->refs);
    }
    in->refs[in->nrefs].off = off;
    in->refs[in->nrefs].len = len;
    in->nrefs++;
}

static int read_bulk(log_in *in, size_t start)
{
    long long n;
    int r = read_header(in, start, '$', &n);
    if (r != RD_OK)
        return r;
    if (n < 0)
        return bad(in, start, "bad RESP at offset %zu (negative bulk length %lld)", start, n);
    if ((unsigned long long)n > in->len - in->pos ||
        in->len - in->pos - (size_t)n < 2)
        return truncated(in, start);
    if (in->buf[in->pos + (size_t)n] != '\r' || in->buf[in->pos + (size_t)n + 1] != '\n')
        return bad(in, start, "bad RESP at offset %zu (no CRLF after the %lld-byte bulk at "
                   "byte %zu)", start, n, in->pos);
    add_ref(in, in->pos, (size_t)n);
    in->pos += (size_t)n + 2;
    return RD_OK;
}

/* Copies the arguments into scratch, NUL-terminated, and fills argv. */
static void materialize(log_in *in)
{
    size_t total = 0, used = 0;
    for (size_t i = 0; i < in->nrefs; i++)
        total += in->refs[i].len + 1;
    if (in->scratch_cap < total) {
        kv_free(in->scratch);
        in->scratch_cap = total;
        in->scratch = kv_malloc(total);
    }
    if (in->argv_cap < in->nrefs) {
        kv_free(in->argv);
        in->argv_cap = in->nrefs;
        in->argv = kv_malloc(in->argv_cap * sizeof *in->argv);
    }
    for (size_t i = 0; i < in->nrefs; i++) {
        memcpy(in->scratch + used, in->buf + in->refs[i].off, in->refs[i].len);
        in->scratch[used + in->refs[i].len] = '\0';
        in->argv[i].p = in->scratch + used;
        in->argv[i].len = in->refs[i].len;
        used += in->refs[i].len + 1;
    }
}

/* The next command: RD_OK (in->argv, in->nrefs), RD_END or RD_BAD. */
static int read_command(log_in *in)
{
    size_t start = in->pos;
    long long n;
    int r;
    if (in->pos == in->len)
        return RD_END;
    if ((r = read_header(in, start, '*', &n)) != RD_OK)
        return r;
    if (n < 1 || n > KV_PROTO_MAX_ARRAY)
        return bad(in, start, "bad RESP at offset %zu (invalid argument count %lld)", start,
                   n);
    in->nrefs = 0;
    for (long long i = 0; i < n; i++)
        if ((r = read_bulk(in, start)) != RD_OK)
            return r;
    materialize(in);
    return RD_OK;
}

/* The first line of C's reply, without the CRLF. */
static void reply_text(kv_client *c, char *out, size_t cap)
{
    size_t n = c->out.static_used < cap - 1 ? c->out.static_used : cap - 1;
    memcpy(out, c->out.static_buf, n);
    out[n] = '\0';
    out[strcspn(out, "\r\n")] = '\0';
}

static int execute(log_in *in, kv_client *c, size_t start)
{
    const kv_command *cmd = kv_cmd_lookup(in->argv[0].p, in->argv[0].len);
    char text[160];
    if (cmd == NULL)
        return bad(in, start, "unknown command '%.40s' at offset %zu", in->argv[0].p, start);
    if (!(cmd->flags & KV_CMD_WRITE))
        return bad(in, start, "command '%s' at offset %zu is not a write command",
                   cmd->fullname, start);
    c->argc = (int)in->nrefs;
    c->argv = in->argv;
    kv_cmd_execute(c);
    c->argc = 0;
    c->argv = NULL;
    if (kv_outbuf_pending(&c->out) && c->out.static_used && c->out.static_buf[0] == '-') {
        reply_text(c, text, sizeof text);
        kv_outbuf_consume(&c->out, kv_outbuf_pending(&c->out));
        return bad(in, start, "command '%s' at offset %zu failed: %s", cmd->fullname, start,
                   text + 1);
    }
    kv_outbuf_consume(&c->out, kv_outbuf_pending(&c->out));
    return RD_OK;
}

static kv_client *fake_client(void)
{
    kv_client *c = kv_malloc(sizeof *c);
    memset(c, 0, offsetof(kv_client, out));
    kv_outbuf_init(&c->out);
    c->watch.fd = -1;
    snprintf(c->addr, sizeof c->addr, "log");
    snprintf(c->laddr, sizeof c->laddr, "log");
    return c;
}

static void replay_all(log_in *in, kv_client *c)
{
    for (;;) {
        size_t start = in->pos;
        int r = read_command(in);
        if (r == RD_OK)
            r = execute(in, c, start);
        if (r != RD_OK)
            break;
        in->li->count++;
        in->li->good_end = in->pos;
    }
}

int kv_log_replay(const char *buf, size_t len, kv_load_info *li)
{
    log_in in;
    kv_client *c = fake_client();
    uint64_t commands = kv_srv.stats.commands;
    int was_loading = kv_srv.loading;
    assert(!kv_srv.aof_on);
    memset(&in, 0, sizeof in);
    memset(li, 0, sizeof *li);
    in.buf = buf;
    in.len = buf ? len : 0;
    in.li = li;
    kv_srv.loading = kv_srv.db->loading = 1;
    replay_all(&in, c);
    kv_srv.loading = was_loading;
    kv_srv.db->loading = was_loading;
    kv_srv.stats.commands = commands;
    kv_outbuf_free(&c->out);
    kv_free(c);
    kv_free(in.refs);
    kv_free(in.scratch);
    kv_free(in.argv);
    return li->what[0] ? -1 : 0;
}

/*
 * resp.c -- RESP2 request parser and reply builders, following
 * https://redis.io/docs/reference/protocol-spec/ and Redis 7.0's
 * networking.c (processMultibulkBuffer, processInlineBuffer) for the corner
 * cases: "*0"/"*-1" requests and blank inline lines are skipped silently, the
 * two bytes after a bulk are skipped without being checked, lengths use the
 * strict string2ll syntax, and inline lines are split like sdssplitargs
 * ("double quotes" with \n \r \t \b \a \xHH escapes, 'single quotes').
 *
 * The parser keeps each argument inside the query buffer: a completed bulk's
 * trailing CR is overwritten with a NUL, so argv[i].p[len] == '\0'.  Offsets
 * are kept relative to the request start, so compacting or growing the
 * buffer between reads does not disturb a partially parsed request.
 */
#include "resp.h"
#include "mem.h"
#include "util.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { PARSE_SKIP = KV_PARSE_ERROR + 1 };

void kv_parser_init(kv_parser *p, long long max_bulk)
{
    memset(p, 0, sizeof *p);
    p->mb_left = -1;
    p->bulklen = -1;
    p->max_bulk = max_bulk;
}

void kv_parser_free(kv_parser *p)
{
    kv_free(p->buf);
    kv_free(p->slots);
    kv_free(p->argv);
    kv_free(p->scratch);
    memset(p, 0, sizeof *p);
}

void kv_parser_reset(kv_parser *p)
{
    p->start = p->pos = p->len = 0;
    p->in_multibulk = 0;
    p->mb_left = -1;
    p->bulklen = -1;
    p->nslots = 0;
    p->err[0] = '\0';
}

/* Bytes still needed to complete the pending bulk, 0 when none is pending. */
static size_t bulk_missing(const kv_parser *p)
{
    size_t need, have;
    if (!p->in_multibulk || p->bulklen < 0)
        return 0;
    need = (size_t)p->bulklen + 2;
    have = p->len - p->pos;
    return need > have ? need - have : 0;
}

char *kv_parser_space(kv_parser *p, size_t *avail)
{
    size_t want = KV_PROTO_READ_CHUNK, missing = bulk_missing(p);
    /* A large pending bulk: read it in big steps, but let the buffer grow
     * with the data that actually arrives, not with the announced length. */
    if (missing > want)
        want = missing < KV_PROTO_BIG_STEP ? missing : KV_PROTO_BIG_STEP;
    if (p->start == p->len) {
        /* Nothing pending: rewind, and drop a buffer grown for a big request. */
        p->start = p->pos = p->len = 0;
        if (p->cap > 4 * KV_PROTO_READ_CHUNK) {
            kv_free(p->buf);
            p->buf = NULL;
            p->cap = 0;
        }
    } else if (p->start > 0 && p->cap - p->len < want) {
        memmove(p->buf, p->buf + p->start, p->len - p->start);
        p->len -= p->start;
        p->pos -= p->start;
        p->start = 0;
    }
    if (p->cap - p->len < want) {
        size_t cap = 2 * p->cap;
        if (missing > KV_PROTO_READ_CHUNK && cap > p->len + missing)
            cap = p->len + missing; /* exactly what the pending bulk needs */
        if (cap < p->len + want)
            cap = p->len + want;
        p->buf = kv_realloc(p->buf, cap);
        p->cap = cap;
    }
    *avail = p->cap - p->len;
    return p->buf + p->len;
}

void kv_parser_commit(kv_parser *p, size_t n)
{
    assert(n <= p->cap - p->len);
    p->len += n;
}

size_t kv_parser_pending(const kv_parser *p)
{
    return p->len - p->start;
}

static kv_parse_status proto_error(kv_parser *p, const char *what)
{
    snprintf(p->err, sizeof p->err, "Protocol error: %s", what);
    return KV_PARSE_ERROR;
}

static void add_slot(kv_parser *p, size_t off, size_t len)
{
    if (p->nslots == p->slots_cap) {
        p->slots_cap = p->slots_cap ? 2 * p->slots_cap : 8;
        p->slots = kv_realloc(p->slots, p->slots_cap * sizeof *p->slots);
    }
    p->slots[p->nslots].off = off;
    p->slots[p->nslots].len = len;
    p->nslots++;
}

static void materialize(kv_parser *p, const char *base, int *argc, kv_arg **argv)
{
    if (p->argv_cap < p->nslots) {
        p->argv_cap = p->nslots;
        kv_free(p->argv);
        p->argv = kv_malloc(p->argv_cap * sizeof *p->argv);
    }
    for (size_t i = 0; i < p->nslots; i++) {
        p->argv[i].p = base + p->slots[i].off;
        p->argv[i].len = p->slots[i].len;
    }
    assert(p->nslots <= KV_PROTO_MAX_ARRAY);
    *argc = (int)p->nslots;
    *argv = p->argv;
}

/* The first C at or after pos, or NULL.  Redis looks for line ends with
 * strchr() on its query buffer, so a NUL byte before C hides it: the line
 * is then never complete (until the inline limit makes it an error). */
static const char *find_byte(const kv_parser *p, int c)
{
    const char *from = p->buf + p->pos;
    const char *at = memchr(from, c, p->len - p->pos);
    size_t span = at ? (size_t)(at - from) : p->len - p->pos;
    return memchr(from, '\0', span) ? NULL : at;
}

/* Finds the CR ending the line at pos, with one more byte after it (the LF,
 * which Redis does not check).  1: found (*cr); 0: need more; -1: no CR
 * within the inline limit. */
static int find_line(const kv_parser *p, size_t *cr)
{
    const char *at = find_byte(p, '\r');
    if (at == NULL)
        return p->len - p->pos > KV_PROTO_INLINE_MAX ? -1 : 0;
    if ((size_t)(at - p->buf) + 1 >= p->len)
        return 0;
    *cr = (size_t)(at - p->buf);
    return 1;
}

static int read_count(kv_parser *p)
{
    size_t cr;
    long long ll;
    int r = find_line(p, &cr);
    if (r < 0)
        return proto_error(p, "too big mbulk count string");
    if (r == 0)
        return KV_PARSE_MORE;
    if (!kv_string2ll(p->buf + p->pos + 1, cr - p->pos - 1, &ll) ||
        ll > KV_PROTO_MAX_ARRAY)
        return proto_error(p, "invalid multibulk length");
    p->pos = cr + 2;
    if (ll <= 0)
        return PARSE_SKIP;
    p->mb_left = ll;
    p->bulklen = -1;
    p->nslots = 0;
    return KV_PARSE_COMMAND;
}

static int read_bulk_len(kv_parser *p)
{
    size_t cr;
    long long ll;
    int r = find_line(p, &cr);
    if (r < 0)
        return proto_error(p, "too big bulk count string");
    if (r == 0)
        return KV_PARSE_MORE;
    if (p->buf[p->pos] != '$') {
        snprintf(p->err, sizeof p->err, "Protocol error: expected '$', got '%c'",
                 p->buf[p->pos]);
        return KV_PARSE_ERROR;
    }
    if (!kv_string2ll(p->buf + p->pos + 1, cr - p->pos - 1, &ll) || ll < 0 ||
        ll > p->max_bulk)
        return proto_error(p, "invalid bulk length");
    p->pos = cr + 2;
    p->bulklen = ll;
    return KV_PARSE_COMMAND;
}

/* Advances a multibulk request; KV_PARSE_COMMAND once all bulks are in. */
static int parse_multibulk(kv_parser *p)
{
    int r;
    if (p->mb_left < 0 && (r = read_count(p)) != KV_PARSE_COMMAND)
        return r;
    while (p->mb_left > 0) {
        if (p->bulklen < 0 && (r = read_bulk_len(p)) != KV_PARSE_COMMAND)
            return r;
        if (p->len - p->pos < (size_t)p->bulklen + 2)
            return KV_PARSE_MORE;
        add_slot(p, p->pos - p->start, (size_t)p->bulklen);
        p->buf[p->pos + (size_t)p->bulklen] = '\0';
        p->pos += (size_t)p->bulklen + 2;
        p->bulklen = -1;
        p->mb_left--;
    }
    return KV_PARSE_COMMAND;
}

static int is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static char unescape(int c)
{
    switch (c) {
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'b': return '\b';
    case 'a': return '\a';
    default: return (char)c;
    }
}

typedef struct {
    const char *s;
    size_t n, i;
    char *out;
    size_t o;
} splitter;

static int char_at(const splitter *sp, size_t i)
{
    return i < sp->n ? (unsigned char)sp->s[i] : 0;
}

/* One character inside "double quotes": 1 token done, 0 go on, -1 error. */
static int split_dquote(splitter *sp)
{
    int c = char_at(sp, sp->i), c1 = char_at(sp, sp->i + 1);
    if (c == '\\' && c1 == 'x' && hex_value(char_at(sp, sp->i + 2)) >= 0 &&
        hex_value(char_at(sp, sp->i + 3)) >= 0) {
        sp->out[sp->o++] = (char)(hex_value(char_at(sp, sp->i + 2)) * 16 +
                                  hex_value(char_at(sp, sp->i + 3)));
        sp->i += 3;
    } else if (c == '\\' && c1) {
        sp->i++;
        sp->out[sp->o++] = unescape(c1);
    } else if (c == '"') {
        return (c1 && !is_space(c1)) ? -1 : 1;
    } else if (c == 0) {
        return -1;
    } else {
        sp->out[sp->o++] = (char)c;
    }
    return 0;
}

/* One character inside 'single quotes'. */
static int split_squote(splitter *sp)
{
    int c = char_at(sp, sp->i), c1 = char_at(sp, sp->i + 1);
    if (c == '\\' && c1 == '\'') {
        sp->i++;
        sp->out[sp->o++] = '\'';
    } else if (c == '\'') {
        return (c1 && !is_space(c1)) ? -1 : 1;
    } else if (c == 0) {
        return -1;
    } else {
        sp->out[sp->o++] = (char)c;
    }
    return 0;
}

/* Reads one token at sp->i into sp->out; -1 on unbalanced quotes. */
static int split_token(splitter *sp)
{
    int quote = 0, done = 0;
    while (!done) {
        int c = char_at(sp, sp->i);
        if (quote == '"' || quote == '\'') {
            int r = quote == '"' ? split_dquote(sp) : split_squote(sp);
            if (r < 0)
                return -1;
            done = r;
        } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == 0) {
            done = 1;
        } else if (c == '"' || c == '\'') {
            quote = c;
        } else {
            sp->out[sp->o++] = (char)c;
        }
        if (sp->i < sp->n)
            sp->i++;
    }
    return 0;
}

/* sdssplitargs() into p->scratch; the number of words, or -1. */
static long split_args(kv_parser *p, const char *line, size_t n)
{
    splitter sp = {line, n, 0, NULL, 0};
    if (p->scratch_cap < 2 * n + 2) {
        kv_free(p->scratch);
        p->scratch_cap = 2 * n + 2;
        p->scratch = kv_malloc(p->scratch_cap);
    }
    sp.out = p->scratch;
    p->nslots = 0;
    for (;;) {
        while (sp.i < n && is_space((unsigned char)line[sp.i]))
            sp.i++;
        if (sp.i >= n)
            return (long)p->nslots;
        size_t begin = sp.o;
        if (split_token(&sp) < 0)
            return -1;
        assert(sp.o < p->scratch_cap);
        sp.out[sp.o++] = '\0';
        add_slot(p, begin, sp.o - 1 - begin);
    }
}

static int parse_inline(kv_parser *p, int *argc, kv_arg **argv)
{
    const char *line = p->buf + p->pos;
    const char *nl = find_byte(p, '\n');
    size_t n, end;
    if (nl == NULL) {
        if (p->len - p->pos > KV_PROTO_INLINE_MAX)
            return proto_error(p, "too big inline request");
        return KV_PARSE_MORE;
    }
    end = (size_t)(nl - p->buf);
    n = end - p->pos;
    if (n && line[n - 1] == '\r')
        n--;
    long words = split_args(p, line, n);
    if (words < 0)
        return proto_error(p, "unbalanced quotes in request");
    p->pos = end + 1;
    if (words == 0)
        return PARSE_SKIP;
    materialize(p, p->scratch, argc, argv);
    return KV_PARSE_COMMAND;
}

kv_parse_status kv_parser_next(kv_parser *p, int *argc, kv_arg **argv)
{
    for (;;) {
        int r;
        if (!p->in_multibulk) {
            p->start = p->pos;
            p->nslots = 0;
            if (p->pos == p->len)
                return KV_PARSE_MORE;
            if (p->buf[p->pos] != '*') {
                r = parse_inline(p, argc, argv);
                if (r == PARSE_SKIP)
                    continue;
                return (kv_parse_status)r;
            }
            p->in_multibulk = 1;
            p->mb_left = -1;
            p->bulklen = -1;
        }
        r = parse_multibulk(p);
        if (r == KV_PARSE_MORE || r == KV_PARSE_ERROR)
            return (kv_parse_status)r;
        p->in_multibulk = 0;
        p->mb_left = -1;
        if (r == PARSE_SKIP)
            continue;
        materialize(p, p->buf + p->start, argc, argv);
        return KV_PARSE_COMMAND;
    }
}

/* ---- reply builders ---- */

void kv_reply_raw(kv_outbuf *o, const void *p, size_t n)
{
    kv_outbuf_append(o, p, n);
}

/* Appends PREFIX, the number V and CRLF (":12\r\n", "$5\r\n", "*3\r\n"). */
static void reply_prefixed_ll(kv_outbuf *o, char prefix, long long v)
{
    char buf[KV_LONG_STR_SIZE + 4];
    size_t n;
    buf[0] = prefix;
    n = 1 + kv_ll2str(buf + 1, v);
    buf[n++] = '\r';
    buf[n++] = '\n';
    kv_outbuf_append(o, buf, n);
}

void kv_reply_simple(kv_outbuf *o, const char *s)
{
    kv_outbuf_append(o, "+", 1);
    kv_outbuf_append(o, s, strlen(s));
    kv_outbuf_append(o, "\r\n", 2);
}

void kv_reply_ok(kv_outbuf *o)
{
    kv_outbuf_append(o, "+OK\r\n", 5);
}

void kv_reply_error(kv_outbuf *o, const char *msg)
{
    size_t n = strlen(msg);
    if (n == 0 || msg[0] != '-')
        kv_outbuf_append(o, "-ERR ", 5);
    for (size_t i = 0; i < n; i++) {
        char c = (msg[i] == '\r' || msg[i] == '\n') ? ' ' : msg[i];
        kv_outbuf_append(o, &c, 1);
    }
    kv_outbuf_append(o, "\r\n", 2);
}

void kv_reply_errorf(kv_outbuf *o, const char *fmt, ...)
{
    char small[512], *msg = small;
    va_list ap;
    int n;
    if (fmt == NULL) /* never; keeps gcc's -Wformat-truncation quiet under UBSan */
        return;
    va_start(ap, fmt);
    n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof small) {
        msg = kv_malloc((size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(msg, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    /* trailing line ends are trimmed, the others become spaces (Redis's
     * addReplyErrorFormat) */
    while (n > 0 && (msg[n - 1] == '\r' || msg[n - 1] == '\n'))
        msg[--n] = '\0';
    kv_reply_error(o, msg);
    if (msg != small)
        kv_free(msg);
}

void kv_reply_int(kv_outbuf *o, long long v)
{
    reply_prefixed_ll(o, ':', v);
}

void kv_reply_bulk(kv_outbuf *o, const void *p, size_t n)
{
    char small[256];
    size_t h;
    small[0] = '$';
    h = 1 + kv_ll2str(small + 1, (long long)n);
    small[h++] = '\r';
    small[h++] = '\n';
    if (h + n + 2 <= sizeof small) {
        memcpy(small + h, p, n);
        memcpy(small + h + n, "\r\n", 2);
        kv_outbuf_append(o, small, h + n + 2);
        return;
    }
    kv_outbuf_append(o, small, h);
    kv_outbuf_append(o, p, n);
    kv_outbuf_append(o, "\r\n", 2);
}

void kv_reply_bulk_cstr(kv_outbuf *o, const char *s)
{
    kv_reply_bulk(o, s, strlen(s));
}

void kv_reply_bulk_ll(kv_outbuf *o, long long v)
{
    char buf[KV_LONG_STR_SIZE];
    size_t n = kv_ll2str(buf, v);
    kv_reply_bulk(o, buf, n);
}

void kv_reply_null(kv_outbuf *o)
{
    kv_outbuf_append(o, "$-1\r\n", 5);
}

void kv_reply_array(kv_outbuf *o, long long n)
{
    reply_prefixed_ll(o, '*', n);
}

/*
 * lg_resp.c -- RESP2, the Redis serialization protocol, as a client needs
 * it (https://redis.io/docs/reference/protocol-spec/).
 *
 * Requests are arrays of bulk strings: "*<n>\r\n" then n times
 * "$<len>\r\n<bytes>\r\n".  Keys are always LG_KEY_LEN bytes, so GET
 * requests have a fixed size and are written without any formatting call.
 *
 * Replies are one of: simple string "+text\r\n", error "-text\r\n",
 * integer ":[-]digits\r\n", bulk string "$len\r\n<len bytes>\r\n" or the
 * null bulk "$-1\r\n", array "*n\r\n" followed by n replies, or the null
 * array "*-1\r\n".  lg_resp_parse checks one whole reply without recursion
 * (a count of elements still expected replaces the call stack) and is
 * restartable: on a partial reply it answers LG_PARSE_MORE and consumes
 * nothing, so the caller re-parses once more bytes have arrived.  Bulk
 * payloads are skipped by length, so re-parsing costs only the headers.
 * Anything else -- an unknown type byte, CR without LF, a malformed or
 * out-of-range length, an overlong line -- is a protocol violation.
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "lg.h"

#define MAX_LINE 65536          /* longest status/error/length line */
#define MAX_ARRAY (1LL << 24)   /* elements in one array header */

static const char GET_HEAD[] = "*2\r\n$3\r\nGET\r\n$16\r\n";
static const char SET_HEAD[] = "*3\r\n$3\r\nSET\r\n$16\r\n";
static const char MSET_HEAD[] = "$4\r\nMSET\r\n";
static const char KEY_HEAD[] = "$16\r\n";

#define LIT(s) (sizeof(s) - 1)

static size_t digits(uint64_t v)
{
    size_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

static char *put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

static char *put_u64(char *p, uint64_t v)
{
    size_t n = digits(v);
    for (size_t i = n; i > 0; i--) {
        p[i - 1] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + n;
}

static char *put_key(char *p, uint64_t key)
{
    lg_key_format(p, key);
    return put(p + LG_KEY_LEN, "\r\n", 2);
}

static char *put_bulk(char *p, const char *data, size_t n)
{
    *p++ = '$';
    p = put_u64(p, n);
    p = put(p, "\r\n", 2);
    p = put(p, data, n);
    return put(p, "\r\n", 2);
}

static size_t bulk_size(size_t n)
{
    return 1 + digits(n) + 2 + n + 2;
}

size_t lg_resp_get_size(void)
{
    return LIT(GET_HEAD) + LG_KEY_LEN + 2;
}

size_t lg_resp_set_size(size_t value_size)
{
    return LIT(SET_HEAD) + LG_KEY_LEN + 2 + bulk_size(value_size);
}

size_t lg_resp_mset_size(size_t nkeys, size_t value_size)
{
    size_t pair = LIT(KEY_HEAD) + LG_KEY_LEN + 2 + bulk_size(value_size);
    return 1 + digits(1 + 2 * nkeys) + 2 + LIT(MSET_HEAD) + nkeys * pair;
}

size_t lg_resp_write_get(char *out, uint64_t key)
{
    char *p = put(out, GET_HEAD, LIT(GET_HEAD));
    p = put_key(p, key);
    assert((size_t)(p - out) == lg_resp_get_size());
    return (size_t)(p - out);
}

size_t lg_resp_write_set(char *out, uint64_t key, const char *value,
                         size_t value_size)
{
    char *p = put(out, SET_HEAD, LIT(SET_HEAD));
    p = put_key(p, key);
    p = put_bulk(p, value, value_size);
    assert((size_t)(p - out) == lg_resp_set_size(value_size));
    return (size_t)(p - out);
}

size_t lg_resp_write_mset(char *out, uint64_t first_key, size_t nkeys,
                          const char *value, size_t value_size)
{
    assert(nkeys > 0);
    char *p = out;
    *p++ = '*';
    p = put_u64(p, 1 + 2 * (uint64_t)nkeys);
    p = put(p, "\r\n", 2);
    p = put(p, MSET_HEAD, LIT(MSET_HEAD));
    for (size_t i = 0; i < nkeys; i++) {
        p = put(p, KEY_HEAD, LIT(KEY_HEAD));
        p = put_key(p, first_key + i);
        p = put_bulk(p, value, value_size);
    }
    assert((size_t)(p - out) == lg_resp_mset_size(nkeys, value_size));
    return (size_t)(p - out);
}

const char *lg_reply_type_name(lg_reply_type t)
{
    static const char *const names[] = {"simple string", "error", "integer",
                                        "bulk string", "null", "array"};
    assert((unsigned)t < sizeof names / sizeof names[0]);
    return names[t];
}

/* ---- reply parsing ------------------------------------------------- */

typedef struct cursor {
    const char *buf;
    size_t len, pos;
    char *why;
    size_t why_len;
} cursor;

static lg_parse_status violation(cursor *c, const char *what)
{
    snprintf(c->why, c->why_len, "%s at reply offset %zu", what, c->pos);
    return LG_PARSE_BAD;
}

/* The line after the type byte at c->pos: [*start, *start + *n), CRLF
 * excluded; advances c->pos past the CRLF. */
static lg_parse_status take_line(cursor *c, const char **start, size_t *n)
{
    size_t from = c->pos + 1, avail = c->len - from;
    size_t scan = avail < MAX_LINE + 2 ? avail : MAX_LINE + 2;
    const char *cr = memchr(c->buf + from, '\r', scan);
    if (!cr)
        return scan < MAX_LINE + 2 ? LG_PARSE_MORE
                                   : violation(c, "line without CRLF");
    size_t at = (size_t)(cr - c->buf);
    if (at + 1 >= c->len)
        return LG_PARSE_MORE;
    if (c->buf[at + 1] != '\n')
        return violation(c, "CR not followed by LF");
    *start = c->buf + from;
    *n = at - from;
    c->pos = at + 2;
    return LG_PARSE_DONE;
}

/* A decimal integer filling the whole line: [-]digits, 64-bit range. */
static bool line_int(const char *s, size_t n, long long *out)
{
    bool neg = n > 0 && s[0] == '-';
    size_t i = neg ? 1 : 0;
    if (i == n || n - i > 18)
        return false; /* empty, or beyond what cannot overflow */
    long long v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = neg ? -v : v;
    return true;
}

static lg_parse_status take_bulk(cursor *c, long long n, lg_reply_type *t)
{
    if (n == -1) {
        *t = LG_REPLY_NIL;
        return LG_PARSE_DONE;
    }
    if (n < -1 || (unsigned long long)n > LG_RESP_MAX_BULK)
        return violation(c, "bulk string length out of range");
    size_t body = (size_t)n;
    if (c->len - c->pos < body + 2)
        return LG_PARSE_MORE;
    if (c->buf[c->pos + body] != '\r' || c->buf[c->pos + body + 1] != '\n')
        return violation(c, "bulk string not followed by CRLF");
    c->pos += body + 2;
    *t = LG_REPLY_BULK;
    return LG_PARSE_DONE;
}

/* The rest of an integer, bulk or array element whose line (the number)
 * is in el->text; `at` is where the element began. */
static lg_parse_status take_counted(cursor *c, char type, size_t at,
                                    lg_reply *el, long long *children)
{
    long long v = 0;
    if (!line_int(el->text, el->text_len, &v)) {
        c->pos = at;
        return violation(c, "malformed integer");
    }
    if (type == ':') {
        el->type = LG_REPLY_INTEGER;
        return LG_PARSE_DONE;
    }
    if (type == '$')
        return take_bulk(c, v, &el->type);
    if (v < -1 || v > MAX_ARRAY) {
        c->pos = at;
        return violation(c, "array length out of range");
    }
    el->type = v == -1 ? LG_REPLY_NIL : LG_REPLY_ARRAY;
    *children = v < 0 ? 0 : v;
    return LG_PARSE_DONE;
}

/* One element at c->pos; *children is how many elements it announces. */
static lg_parse_status take_element(cursor *c, lg_reply *el,
                                    long long *children)
{
    *children = 0;
    if (c->pos >= c->len)
        return LG_PARSE_MORE;
    char type = c->buf[c->pos];
    if (type != '+' && type != '-' && type != ':' && type != '$' &&
        type != '*')
        return violation(c, "unexpected reply type byte");
    size_t at = c->pos;
    lg_parse_status st = take_line(c, &el->text, &el->text_len);
    if (st != LG_PARSE_DONE)
        return st;
    if (type == '+' || type == '-') {
        el->type = type == '+' ? LG_REPLY_STATUS : LG_REPLY_ERROR;
        return LG_PARSE_DONE;
    }
    return take_counted(c, type, at, el, children);
}

lg_parse_status lg_resp_parse(const char *buf, size_t len, lg_reply *out,
                              size_t *used, char *why, size_t why_len)
{
    cursor c = {buf, len, 0, why, why_len};
    long long pending = 1; /* elements still expected */
    for (bool first = true; pending > 0; first = false) {
        lg_reply el;
        long long children;
        lg_parse_status st = take_element(&c, &el, &children);
        if (st != LG_PARSE_DONE)
            return st;
        if (first)
            *out = el;
        pending += children - 1;
        assert(pending >= 0 && c.pos <= len);
    }
    *used = c.pos;
    return LG_PARSE_DONE;
}

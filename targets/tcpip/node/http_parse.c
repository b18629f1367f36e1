/*
 * http_parse.c -- HTTP/1.1 message syntax (RFC 9112) for the daemon's
 * server and client, see http_parse.h. Strict where framing depends on it
 * (section 6.3: one Content-Length, Transfer-Encoding with chunked last,
 * no obs-fold, no whitespace before the colon, no bare CR), lenient where
 * RFC 9112 allows (LF alone as a line end, empty lines before the start
 * line, any reason phrase).
 */
#define _GNU_SOURCE
#include "http_parse.h"

#include <assert.h>
#include <string.h>

#define SKIP_MAX 64
#define CHUNK_LINE_MAX 4096

/* tchar (RFC 9110 5.6.2). */
static int node_tchar(int c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int node_is_token(const char *p, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!node_tchar((unsigned char)p[i]))
            return 0;
    return 1;
}

int node_http_ieq(const char *a, const char *b, size_t n)
{
    if (strlen(a) != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        int x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z')
            x += 32;
        if (y >= 'A' && y <= 'Z')
            y += 32;
        if (x != y)
            return 0;
    }
    return 1;
}

/* ---- head boundaries ---------------------------------------------------- */

/* Limits of line number `no` (0: start line) of `len` bytes so far, with
 * `fields` bytes of field lines before it; 0 or -1. */
static int node_head_limits(unsigned no, size_t len, size_t fields)
{
    if (no == 0)
        return len > NODE_HTTP_LINE_MAX + 2 ? -1 : 0;
    if (no > NODE_HTTP_FIELD_LINES + 1)
        return -1;
    return fields + len > NODE_HTTP_FIELDS_MAX + 2 ? -1 : 0;
}

ssize_t node_http_head_end(const char *buf, size_t len, size_t *skip)
{
    size_t i = 0, fields = 0;
    while (i < len && (buf[i] == '\r' || buf[i] == '\n'))
        if (++i > SKIP_MAX)
            return -1;
    *skip = i;
    for (unsigned no = 0;; no++) {
        const char *nl = memchr(buf + i, '\n', len - i);
        size_t line = nl != NULL ? (size_t)(nl - (buf + i)) + 1 : len - i;
        if (node_head_limits(no, line, fields) < 0)
            return -1;
        if (nl == NULL)
            return 0;
        size_t content = line - 1 - (line >= 2 && buf[i + line - 2] == '\r');
        if (no > 0)
            fields += line;
        i += line;
        if (content == 0 && no > 0)
            return (ssize_t)i;
    }
}

/* ---- lines -------------------------------------------------------------- */

/* The next line of the head at *p (before end): NUL-terminates it in
 * place without its CR LF, advances *p. NULL at the end or on a bare CR. */
static char *node_next_line(char **p, char *end, int *bad)
{
    char *start = *p;
    if (start >= end)
        return NULL;
    char *nl = memchr(start, '\n', (size_t)(end - start));
    if (nl == NULL)
        return NULL;
    char *stop = nl > start && nl[-1] == '\r' ? nl - 1 : nl;
    *stop = '\0';
    *nl = '\0';
    *p = nl + 1;
    if (memchr(start, '\r', (size_t)(stop - start)) != NULL)
        *bad = 1;
    return start;
}

/* "HTTP/1.x" -> minor, -1 malformed, -2 another major version. */
static int node_version(const char *v)
{
    if (strncmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' || v[6] != '.' ||
        v[7] < '0' || v[7] > '9' || v[8] != '\0')
        return -1;
    return v[5] == '1' ? v[7] - '0' : -2;
}

/* ---- fields ------------------------------------------------------------- */

static int node_parse_length(const char *v, long long *out)
{
    long long x = 0;
    size_t n = strlen(v);
    if (n == 0 || n > 18)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        x = x * 10 + (v[i] - '0');
    }
    *out = x;
    return 0;
}

/* Call fn on each element of a comma-separated list (RFC 9110 5.6.1). */
static void node_list(const char *v, struct node_http_fields *f,
                      void (*fn)(struct node_http_fields *, const char *, size_t, int))
{
    while (*v != '\0') {
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        const char *e = v;
        while (*e != '\0' && *e != ',')
            e++;
        const char *t = e;
        while (t > v && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if (t > v)
            fn(f, v, (size_t)(t - v), *e == '\0');
        v = e;
    }
}

static void node_conn_token(struct node_http_fields *f, const char *t, size_t n, int last)
{
    (void)last;
    if (node_http_ieq("close", t, n))
        f->conn_close = 1;
    else if (node_http_ieq("keep-alive", t, n))
        f->conn_keep_alive = 1;
}

static void node_te_token(struct node_http_fields *f, const char *t, size_t n, int last)
{
    f->chunked = last && node_http_ieq("chunked", t, n);
}

/* One field value: VCHAR, obs-text, SP, HT only. */
static int node_value_ok(const char *v)
{
    for (; *v != '\0'; v++) {
        unsigned char c = (unsigned char)*v;
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return 0;
    }
    return 1;
}

static int node_field(char *line, struct node_http_fields *f)
{
    char *colon = strchr(line, ':');
    if (colon == NULL || !node_is_token(line, (size_t)(colon - line)))
        return -1;
    size_t nlen = (size_t)(colon - line);
    char *v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    char *e = v + strlen(v);
    while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
        *--e = '\0';
    if (!node_value_ok(v))
        return -1;
    if (node_http_ieq("content-length", line, nlen)) {
        long long x;
        if (node_parse_length(v, &x) < 0 || (f->content_length >= 0 && f->content_length != x))
            return -1;
        f->content_length = x;
    } else if (node_http_ieq("transfer-encoding", line, nlen)) {
        f->te_present = 1;
        node_list(v, f, node_te_token);
    } else if (node_http_ieq("connection", line, nlen)) {
        node_list(v, f, node_conn_token);
    } else if (node_http_ieq("host", line, nlen)) {
        f->hosts++;
    }
    return 0;
}

/* All field lines up to the empty one; 0 or -1. */
static int node_fields(char **p, char *end, struct node_http_fields *f)
{
    int bad = 0;
    memset(f, 0, sizeof *f);
    f->content_length = -1;
    for (;;) {
        char *line = node_next_line(p, end, &bad);
        if (line == NULL || bad)
            return -1;
        if (*line == '\0')
            return 0;
        if (*line == ' ' || *line == '\t')       /* obs-fold: RFC 9112 5.2 */
            return -1;
        if (node_field(line, f) < 0)
            return -1;
    }
}

/* ---- start lines -------------------------------------------------------- */

int node_http_parse_request(char *head, size_t head_len, struct node_http_request *r)
{
    char *p = head, *end = head + head_len;
    int bad = 0;
    memset(r, 0, sizeof *r);
    char *line = node_next_line(&p, end, &bad);
    if (line == NULL || bad)
        return 400;
    char *sp1 = strchr(line, ' ');
    char *sp2 = sp1 != NULL ? strchr(sp1 + 1, ' ') : NULL;
    if (sp2 == NULL || strchr(sp2 + 1, ' ') != NULL)
        return 400;
    *sp1 = *sp2 = '\0';
    r->method = line;
    r->target = sp1 + 1;
    if (!node_is_token(r->method, strlen(r->method)) || *r->target == '\0' ||
        !node_value_ok(r->target) || strchr(r->target, '\t') != NULL)
        return 400;
    int minor = node_version(sp2 + 1);
    if (minor == -2)
        return 505;
    if (minor < 0)
        return 400;
    r->minor = minor;
    if (node_fields(&p, end, &r->f) < 0)
        return 400;
    if (r->f.te_present && r->f.content_length >= 0)   /* RFC 9112 6.3 (3) */
        return 400;
    if (r->minor >= 1 && r->f.hosts != 1)              /* RFC 9112 3.2 */
        return 400;
    return 0;
}

int node_http_parse_response(char *head, size_t head_len, struct node_http_response *r)
{
    char *p = head, *end = head + head_len;
    int bad = 0;
    memset(r, 0, sizeof *r);
    char *line = node_next_line(&p, end, &bad);
    if (line == NULL || bad || strlen(line) < 12 || line[8] != ' ')
        return -1;
    line[8] = '\0';
    int minor = node_version(line);
    const char *code = line + 9;
    if (minor < 0 || code[0] < '1' || code[0] > '9' || code[1] < '0' || code[1] > '9' ||
        code[2] < '0' || code[2] > '9' || (code[3] != ' ' && code[3] != '\0'))
        return -1;
    r->minor = minor;
    r->status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
    if (code[3] == ' ') {
        strncpy(r->reason, code + 4, sizeof r->reason - 1);
        r->reason[sizeof r->reason - 1] = '\0';
    }
    return node_fields(&p, end, &r->f) < 0 ? -1 : 0;
}

/* ---- chunked bodies ----------------------------------------------------- */

enum {
    CH_SIZE, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_CR, CH_DATA_LF,
    CH_TRAILER, CH_TRAILER_LINE, CH_END_LF, CH_DONE
};

static int node_hex(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The size line ended: data, or the trailer after the last chunk. */
static int node_chunk_size_done(struct node_http_chunked *c)
{
    if (c->digits == 0)
        return -1;
    c->state = c->left == 0 ? CH_TRAILER : CH_DATA;
    c->line = 0;
    return 0;
}

/* The LF after a chunk's data: the next size line. */
static int node_chunk_next(struct node_http_chunked *c, int ch)
{
    if (ch != '\n')
        return -1;
    c->state = CH_SIZE;
    c->digits = 0;
    c->left = 0;
    return 0;
}

/* One control byte (everything but chunk data); 0 or -1. */
static int node_chunk_byte(struct node_http_chunked *c, int ch)
{
    int h;
    switch (c->state) {
    case CH_SIZE:
        if ((h = node_hex(ch)) >= 0) {
            if (++c->digits > 15)
                return -1;
            c->left = c->left * 16 + (uint64_t)h;
            return 0;
        }
        if (ch == ';' || ch == ' ' || ch == '\t') {
            c->state = CH_EXT;
            return c->digits == 0 ? -1 : 0;
        }
        if (ch == '\r') {
            c->state = CH_SIZE_LF;
            return 0;
        }
        return ch == '\n' ? node_chunk_size_done(c) : -1;
    case CH_EXT:
        if (ch == '\n')
            return node_chunk_size_done(c);
        return ++c->line > CHUNK_LINE_MAX ? -1 : 0;
    case CH_SIZE_LF:
        return ch == '\n' ? node_chunk_size_done(c) : -1;
    case CH_DATA_CR:
        if (ch == '\r') {
            c->state = CH_DATA_LF;
            return 0;
        }
        return node_chunk_next(c, ch);      /* LF alone */
    case CH_DATA_LF:
        return node_chunk_next(c, ch);
    case CH_TRAILER:
        c->state = ch == '\r' ? CH_END_LF : ch == '\n' ? CH_DONE : CH_TRAILER_LINE;
        c->done = c->state == CH_DONE;
        return 0;
    case CH_TRAILER_LINE:
        if (ch == '\n') {
            c->state = CH_TRAILER;
            c->line = 0;
        }
        return ++c->line > CHUNK_LINE_MAX ? -1 : 0;
    case CH_END_LF:
        if (ch != '\n')
            return -1;
        c->state = CH_DONE;
        c->done = 1;
        return 0;
    default:
        return -1;
    }
}

ssize_t node_http_chunked_feed(struct node_http_chunked *c, const uint8_t *in,
                               size_t len, const uint8_t **data, size_t *n)
{
    size_t i = 0;
    *data = NULL;
    *n = 0;
    while (i < len && c->state != CH_DONE) {
        if (c->state == CH_DATA) {
            size_t take = (uint64_t)(len - i) < c->left ? len - i : (size_t)c->left;
            *data = in + i;
            *n = take;
            c->left -= take;
            if (c->left == 0)
                c->state = CH_DATA_CR;
            return (ssize_t)(i + take);
        }
        if (node_chunk_byte(c, in[i]) < 0)
            return -1;
        i++;
    }
    return (ssize_t)i;
}

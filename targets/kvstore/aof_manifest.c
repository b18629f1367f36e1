/*
 * aof_manifest.c -- parsing, formatting and saving the log manifest (see
 * aof_manifest.h).
 */
#include "aof_manifest.h"
#include "file.h"
#include "mem.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_WORDS 16

void kv_manifest_init(kv_manifest *m)
{
    memset(m, 0, sizeof *m);
}

void kv_manifest_free(kv_manifest *m)
{
    kv_free(m->base.name);
    for (size_t i = 0; i < m->nincr; i++)
        kv_free(m->incr[i].name);
    kv_free(m->incr);
    kv_manifest_init(m);
}

void kv_manifest_set_base(kv_manifest *m, const char *name, long long seq)
{
    kv_free(m->base.name);
    m->base.name = name ? kv_strdup(name) : NULL;
    m->base.seq = seq;
}

void kv_manifest_add_incr(kv_manifest *m, const char *name, long long seq)
{
    if (m->nincr == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 4;
        m->incr = kv_realloc(m->incr, m->cap * sizeof *m->incr);
    }
    m->incr[m->nincr].name = kv_strdup(name);
    m->incr[m->nincr].seq = seq;
    m->nincr++;
}

void kv_manifest_copy(kv_manifest *dst, const kv_manifest *src)
{
    kv_manifest_init(dst);
    kv_manifest_set_base(dst, src->base.name, src->base.seq);
    for (size_t i = 0; i < src->nincr; i++)
        kv_manifest_add_incr(dst, src->incr[i].name, src->incr[i].seq);
}

void kv_aof_base_name(char *buf, size_t cap, const char *appendfilename, long long seq)
{
    snprintf(buf, cap, "%s.%lld.base.kvs", appendfilename, seq);
}

void kv_aof_incr_name(char *buf, size_t cap, const char *appendfilename, long long seq)
{
    snprintf(buf, cap, "%s.%lld.incr.aof", appendfilename, seq);
}

/* ---- parsing ---- */

typedef struct line_ctx {
    int lineno;
    char *err;
    size_t errlen;
} line_ctx;

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
static int line_error(line_ctx *lc, const char *fmt, ...)
{
    char detail[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    snprintf(lc->err, lc->errlen, "line %d: %s", lc->lineno, detail);
    return -1;
}

static int plain_name(const char *s)
{
    return s[0] != '\0' && strchr(s, '/') == NULL && strcmp(s, ".") != 0 &&
           strcmp(s, "..") != 0;
}

/* Splits LINE (modified in place) on spaces and tabs. */
static int split_words(char *line, char **words)
{
    int n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            return n;
        if (n == MAX_WORDS)
            return -1;
        words[n++] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (*p)
            *p++ = '\0';
    }
}

static int add_line(kv_manifest *m, line_ctx *lc, char **w, int n)
{
    const char *name = NULL, *type = NULL, *seqs = NULL;
    long long seq;
    if (n < 0 || n % 2)
        return line_error(lc, "expected \"file NAME seq N type b|i\" key/value pairs");
    for (int i = 0; i < n; i += 2) {
        if (!strcmp(w[i], "file"))
            name = w[i + 1];
        else if (!strcmp(w[i], "seq"))
            seqs = w[i + 1];
        else if (!strcmp(w[i], "type"))
            type = w[i + 1];
    }
    if (!name || !type || !seqs)
        return line_error(lc, "a file line needs 'file', 'seq' and 'type'");
    if (!plain_name(name))
        return line_error(lc, "file name '%s' is not a plain name inside the directory", name);
    if (!kv_string2ll(seqs, strlen(seqs), &seq) || seq < 1)
        return line_error(lc, "invalid seq '%s'", seqs);
    if (!strcmp(type, "h"))
        return 0;
    if (!strcmp(type, "b")) {
        if (m->base.name)
            return line_error(lc, "a second base file");
        kv_manifest_set_base(m, name, seq);
        return 0;
    }
    if (strcmp(type, "i"))
        return line_error(lc, "unknown file type '%s' (valid: b, i, h)", type);
    if (m->nincr && m->incr[m->nincr - 1].seq >= seq)
        return line_error(lc, "incremental seq %lld after %lld (must increase)", seq,
                          m->incr[m->nincr - 1].seq);
    kv_manifest_add_incr(m, name, seq);
    return 0;
}

int kv_manifest_parse(const char *text, size_t len, kv_manifest *m, char *err, size_t errlen)
{
    line_ctx lc = {0, err, errlen};
    size_t pos = 0;
    kv_manifest_init(m);
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
        char line[1024], *words[MAX_WORDS];
        lc.lineno++;
        if (n && text[pos + n - 1] == '\r')
            n--;
        if (n >= sizeof line || memchr(text + pos, '\0', n)) {
            kv_manifest_free(m);
            return line_error(&lc, "line too long or not text");
        }
        memcpy(line, text + pos, n);
        line[n] = '\0';
        pos += (nl ? (size_t)(nl - (text + pos)) + 1 : len - pos);
        if (line[0] == '#')
            continue;
        int nw = split_words(line, words);
        if (nw != 0 && add_line(m, &lc, words, nw) < 0) {
            kv_manifest_free(m);
            return -1;
        }
    }
    return 0;
}

/* ---- formatting and saving ---- */

char *kv_manifest_format(const kv_manifest *m, size_t *len)
{
    size_t cap = 64, used = 0;
    char *out;
    if (m->base.name)
        cap += strlen(m->base.name) + 64;
    for (size_t i = 0; i < m->nincr; i++)
        cap += strlen(m->incr[i].name) + 64;
    out = kv_malloc(cap);
    out[0] = '\0';
    if (m->base.name)
        used += (size_t)snprintf(out + used, cap - used, "file %s seq %lld type b\n",
                                 m->base.name, m->base.seq);
    for (size_t i = 0; i < m->nincr; i++)
        used += (size_t)snprintf(out + used, cap - used, "file %s seq %lld type i\n",
                                 m->incr[i].name, m->incr[i].seq);
    *len = used;
    return out;
}

int kv_manifest_save(const kv_manifest *m, const char *path)
{
    size_t len;
    char *text = kv_manifest_format(m, &len);
    int rc = kv_write_file_atomic(path, text, len);
    kv_free(text);
    return rc;
}

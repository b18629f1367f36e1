/*
 * util.c -- helpers shared by the modules (see util.h).
 *
 * kv_string2ll and kv_stringmatch follow Redis 7.0's util.c (string2ll,
 * stringmatchlen) so that replies agree with redis-server byte for byte:
 * the same inputs are accepted as integers and as glob matches.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "util.h"
#include "mem.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

kv_str *kv_str_new(const void *p, size_t len)
{
    kv_str *s = kv_malloc(sizeof(kv_str) + len + 1);
    s->len = len;
    if (len && p)
        memcpy(s->data, p, len);
    s->data[len] = '\0';
    return s;
}

void kv_str_free(kv_str *s)
{
    kv_free(s);
}

int kv_str_eq(const kv_str *s, const void *p, size_t len)
{
    return s->len == len && memcmp(s->data, p, len) == 0;
}

int kv_string2ll(const char *s, size_t len, long long *out)
{
    size_t i = 0;
    int negative = 0;
    unsigned long long v;

    if (len == 0 || len >= KV_LONG_STR_SIZE)
        return 0;
    if (len == 1 && s[0] == '0') {
        *out = 0;
        return 1;
    }
    if (s[0] == '-') {
        negative = 1;
        if (++i == len)
            return 0;
    }
    if (s[i] < '1' || s[i] > '9')
        return 0;
    v = (unsigned long long)(s[i++] - '0');
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (v > ULLONG_MAX / 10 || v * 10 > ULLONG_MAX - d)
            return 0;
        v = v * 10 + d;
    }
    if (i < len)
        return 0;
    if (negative) {
        if (v > (unsigned long long)LLONG_MAX + 1)
            return 0;
        *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    } else {
        if (v > (unsigned long long)LLONG_MAX)
            return 0;
        *out = (long long)v;
    }
    return 1;
}

size_t kv_ll2str(char *buf, long long v)
{
    char tmp[KV_LONG_STR_SIZE];
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    size_t n = 0, len = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        buf[len++] = '-';
    while (n)
        buf[len++] = tmp[--n];
    buf[len] = '\0';
    return len;
}

int kv_memtoull(const char *s, unsigned long long *out)
{
    static const struct { const char *unit; unsigned long long mul; } units[] = {
        {"", 1}, {"b", 1}, {"k", 1000}, {"kb", 1024}, {"m", 1000000},
        {"mb", 1024 * 1024}, {"g", 1000000000ULL}, {"gb", 1024ULL * 1024 * 1024},
    };
    const char *u = s;
    unsigned long long v = 0;

    while (*u >= '0' && *u <= '9')
        u++;
    if (u == s || u - s > 20)
        return -1;
    for (const char *p = s; p < u; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > ULLONG_MAX / 10 || v * 10 > ULLONG_MAX - d)
            return -1;
        v = v * 10 + d;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcasecmp(u, units[i].unit) == 0) {
            if (v > ULLONG_MAX / units[i].mul)
                return -1;
            *out = v * units[i].mul;
            return 0;
        }
    }
    return -1;
}

void kv_bytes_human(char *buf, size_t cap, unsigned long long n)
{
    static const char suffix[] = "KMGTPE";
    double d = (double)n;
    int i = -1;
    if (n < 1024) {
        snprintf(buf, cap, "%lluB", n);
        return;
    }
    while (d >= 1024 && i < 5) {
        d /= 1024;
        i++;
    }
    snprintf(buf, cap, "%.2f%c", d, suffix[i]);
}

int kv_eq_nocase(const char *p, size_t len, const char *lit)
{
    return strlen(lit) == len && strncasecmp(p, lit, len) == 0;
}

static int64_t clock_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t kv_ustime(void)
{
    return clock_us(CLOCK_REALTIME);
}

int64_t kv_mstime(void)
{
    return kv_ustime() / 1000;
}

int64_t kv_monotonic_us(void)
{
    return clock_us(CLOCK_MONOTONIC);
}

static uint64_t rng[4] = {0x9e3779b97f4a7c15ULL, 0xbf58476d1ce4e5b9ULL,
                          0x94d049bb133111ebULL, 0x2545f4914f6cdd1dULL};

static uint64_t rotl64(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void kv_random_seed(const uint8_t seed[32])
{
    memcpy(rng, seed, sizeof rng);
    if ((rng[0] | rng[1] | rng[2] | rng[3]) == 0)
        rng[0] = 1;
}

uint64_t kv_random(void)
{
    uint64_t result = rotl64(rng[1] * 5, 7) * 9;
    uint64_t t = rng[1] << 17;
    rng[2] ^= rng[0];
    rng[3] ^= rng[1];
    rng[1] ^= rng[2];
    rng[0] ^= rng[3];
    rng[2] ^= t;
    rng[3] = rotl64(rng[3], 45);
    return result;
}

void kv_os_random(void *buf, size_t len)
{
    uint8_t *p = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom(p + got, len - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got < len) {
        /* Last resort: mix clocks and the pid; still different per start. */
        uint64_t x = (uint64_t)kv_ustime() ^ ((uint64_t)getpid() << 32) ^
                     (uint64_t)kv_monotonic_us();
        for (; got < len; got++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            p[got] = (uint8_t)x;
        }
    }
}

/* ---- glob matching (Redis stringmatchlen) ---- */

static int fold(int c, int nocase)
{
    return nocase ? tolower(c) : c;
}

/* Matches one [...] class at *pat against ch; advances *pat and *plen to the
 * closing ']' (or the last byte when unterminated), like Redis. */
static int match_class(const unsigned char **pat, size_t *plen, int ch, int nocase)
{
    const unsigned char *p = *pat;
    size_t n = *plen;
    int not = 0, match = 0;

    p++;
    n--;
    if (n && p[0] == '^') {
        not = 1;
        p++;
        n--;
    }
    for (;;) {
        if (n >= 2 && p[0] == '\\') {
            p++;
            n--;
            if (p[0] == ch)
                match = 1;
        } else if (n == 0) {
            p--;
            n++;
            break;
        } else if (p[0] == ']') {
            break;
        } else if (n >= 3 && p[1] == '-') {
            int lo = fold(p[0], nocase), hi = fold(p[2], nocase), c = fold(ch, nocase);
            if (lo > hi) {
                int t = lo;
                lo = hi;
                hi = t;
            }
            p += 2;
            n -= 2;
            if (c >= lo && c <= hi)
                match = 1;
        } else if (fold(p[0], nocase) == fold(ch, nocase)) {
            match = 1;
        }
        p++;
        n--;
    }
    *pat = p;
    *plen = n;
    return not ? !match : match;
}

static int match_impl(const unsigned char *pat, size_t plen, const unsigned char *s,
                      size_t slen, int nocase, int *skip_longer, int nesting)
{
    if (nesting > 1000)
        return 0;
    while (plen && slen) {
        switch (pat[0]) {
        case '*':
            while (plen > 1 && pat[1] == '*') {
                pat++;
                plen--;
            }
            if (plen == 1)
                return 1;
            while (slen) {
                if (match_impl(pat + 1, plen - 1, s, slen, nocase, skip_longer,
                               nesting + 1))
                    return 1;
                if (*skip_longer)
                    return 0;
                s++;
                slen--;
            }
            *skip_longer = 1;
            return 0;
        case '?':
            s++;
            slen--;
            break;
        case '[':
            if (!match_class(&pat, &plen, s[0], nocase))
                return 0;
            s++;
            slen--;
            break;
        case '\\':
            if (plen >= 2) {
                pat++;
                plen--;
            }
            if (fold(pat[0], nocase) != fold(s[0], nocase))
                return 0;
            s++;
            slen--;
            break;
        default:
            if (fold(pat[0], nocase) != fold(s[0], nocase))
                return 0;
            s++;
            slen--;
            break;
        }
        pat++;
        plen--;
        if (slen == 0) {
            while (plen && pat[0] == '*') {
                pat++;
                plen--;
            }
            break;
        }
    }
    return plen == 0 && slen == 0;
}

int kv_stringmatch(const char *pat, size_t plen, const char *s, size_t slen, int nocase)
{
    int skip_longer = 0;
    return match_impl((const unsigned char *)pat, plen, (const unsigned char *)s, slen,
                      nocase, &skip_longer, 0);
}

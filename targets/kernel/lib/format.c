/*
 * format.c - the printf subset shared by the kernel and user programs (ISO C11 7.21.6.1
 * semantics for what it supports; see format.h): formatting into a character sink, and
 * snprintf on top of it. Freestanding: no console, no allocation.
 */
#include "lib/format.h"

#include "lib/div64.h"

struct fmt_spec {
    bool left, zero;
    int width;
    int prec; /* -1 when none: the most characters of a %s */
    int lmod; /* 0, 1 (l) or 2 (ll) */
};

static int emit(k_putc_fn sink, void *ctx, const char *s, size_t n, const struct fmt_spec *sp)
{
    int pad = sp->width > (int)n ? sp->width - (int)n : 0;
    char pc = sp->zero && !sp->left ? '0' : ' ';
    int out = 0;
    /* zero padding goes after a sign */
    if (pc == '0' && n > 0 && s[0] == '-') {
        sink(ctx, '-');
        s++;
        n--;
        out++;
    }
    for (int i = 0; !sp->left && i < pad; i++, out++)
        sink(ctx, pc);
    for (size_t i = 0; i < n; i++, out++)
        sink(ctx, s[i]);
    for (int i = 0; sp->left && i < pad; i++, out++)
        sink(ctx, ' ');
    return out;
}

/* Digits of v in base (10 or 16) into the end of buf; the first digit's index. */
static int utoa(uint64_t v, unsigned base, bool upper, char *buf, int len)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    int i = len;
    do {
        uint32_t r;
        v = k_udiv64(v, base, &r);
        buf[--i] = digits[r];
    } while (v != 0);
    return i;
}

static int format_int(k_putc_fn sink, void *ctx, char conv, va_list *ap,
                      const struct fmt_spec *sp)
{
    char buf[24];
    bool neg = false;
    uint64_t v;
    if (conv == 'd' || conv == 'i') {
        int64_t s = sp->lmod == 2 ? va_arg(*ap, long long)
                  : sp->lmod == 1 ? va_arg(*ap, long) : va_arg(*ap, int);
        neg = s < 0;
        v = neg ? (uint64_t)0 - (uint64_t)s : (uint64_t)s;
    } else {
        v = sp->lmod == 2 ? va_arg(*ap, unsigned long long)
          : sp->lmod == 1 ? va_arg(*ap, unsigned long) : va_arg(*ap, unsigned int);
    }
    unsigned base = (conv == 'x' || conv == 'X') ? 16 : 10;
    int i = utoa(v, base, conv == 'X', buf, (int)sizeof buf);
    if (neg)
        buf[--i] = '-';
    return emit(sink, ctx, buf + i, sizeof buf - (size_t)i, sp);
}

int k_vformat(k_putc_fn sink, void *ctx, const char *fmt, va_list ap)
{
    va_list args;
    va_copy(args, ap);
    int out = 0;
    for (const char *p = fmt; *p != '\0'; p++) {
        if (*p != '%') {
            sink(ctx, *p);
            out++;
            continue;
        }
        struct fmt_spec sp = {.prec = -1};
        p++;
        for (; *p == '-' || *p == '0'; p++) {
            if (*p == '-')
                sp.left = true;
            else
                sp.zero = true;
        }
        for (; *p >= '0' && *p <= '9'; p++)
            sp.width = sp.width * 10 + (*p - '0');
        if (*p == '.') {
            sp.prec = 0;
            for (p++; *p >= '0' && *p <= '9'; p++)
                sp.prec = sp.prec * 10 + (*p - '0');
        }
        for (; *p == 'l'; p++)
            sp.lmod++;
        char c = *p;
        if (c == '\0')
            break;
        if (c == 'd' || c == 'i' || c == 'u' || c == 'x' || c == 'X') {
            out += format_int(sink, ctx, c, &args, &sp);
        } else if (c == 'p') {
            char buf[10] = "0x";
            uintptr_t v = (uintptr_t)va_arg(args, void *);
            for (int i = 0; i < 8; i++)
                buf[2 + i] = "0123456789abcdef"[(v >> (28 - 4 * i)) & 0xf];
            out += emit(sink, ctx, buf, sizeof buf, &sp);
        } else if (c == 's') {
            const char *s = va_arg(args, const char *);
            if (s == NULL)
                s = "(null)";
            size_t n = sp.prec >= 0 ? strnlen(s, (size_t)sp.prec) : strlen(s);
            out += emit(sink, ctx, s, n, &sp);
        } else if (c == 'c') {
            char ch = (char)va_arg(args, int);
            out += emit(sink, ctx, &ch, 1, &sp);
        } else {
            sink(ctx, c);
            out++;
        }
    }
    va_end(args);
    return out;
}

struct str_buf {
    char *buf;
    size_t size, n;
};

static void str_putc(void *ctx, char c)
{
    struct str_buf *sb = ctx;
    if (sb->n + 1 < sb->size)
        sb->buf[sb->n] = c;
    sb->n++;
}

int k_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct str_buf sb = {.buf = buf, .size = size, .n = 0};
    k_vformat(str_putc, &sb, fmt, ap);
    if (size > 0)
        buf[sb.n < size ? sb.n : size - 1] = '\0';
    return (int)sb.n;
}

int k_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = k_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

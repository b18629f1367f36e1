/*
 * kprintf.c - the kernel's printf to the console, through the shared formatter (lib/format.c).
 * Console output is collected in a line buffer and written with one k_cons_write per line,
 * so a record of the serial protocol never has another writer's bytes in its middle.
 */
#include "lib/kprintf.h"

#include "dev/console.h"

struct line_buf {
    char buf[256];
    size_t n;
};

static void line_putc(void *ctx, char c)
{
    struct line_buf *lb = ctx;
    lb->buf[lb->n++] = c;
    if (c == '\n' || lb->n == sizeof lb->buf) {
        k_cons_write(lb->buf, lb->n);
        lb->n = 0;
    }
}

int k_vprintf(const char *fmt, va_list ap)
{
    struct line_buf lb;
    lb.n = 0;
    int n = k_vformat(line_putc, &lb, fmt, ap);
    if (lb.n > 0)
        k_cons_write(lb.buf, lb.n);
    return n;
}

int k_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = k_vprintf(fmt, ap);
    va_end(ap);
    return n;
}

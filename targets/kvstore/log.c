/*
 * log.c -- server log writer (see log.h).  Each line is formatted into a
 * local buffer and written with one fputs() + fflush() under the stdio lock,
 * so lines from several I/O threads never interleave.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "log.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static FILE *log_fp;

int kv_log_open(const char *path)
{
    if (path == NULL || path[0] == '\0') {
        log_fp = NULL;
        return 0;
    }
    log_fp = fopen(path, "a");
    return log_fp ? 0 : -1;
}

void kv_log_close(void)
{
    if (log_fp)
        fclose(log_fp);
    log_fp = NULL;
}

void kv_log(int level, const char *fmt, ...)
{
    static const char marks[] = ".*#";
    char msg[1024], stamp[64];
    FILE *fp = log_fp ? log_fp : stderr;
    int64_t us = kv_ustime();
    time_t secs = (time_t)(us / 1000000);
    struct tm tm;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    localtime_r(&secs, &tm);
    strftime(stamp, sizeof stamp, "%d %b %Y %H:%M:%S", &tm);
    flockfile(fp);
    fprintf(fp, "%d:M %s.%03d %c %s\n", (int)getpid(), stamp, (int)(us / 1000 % 1000),
            marks[level < 0 ? 0 : level > 2 ? 2 : level], msg);
    fflush(fp);
    funlockfile(fp);
}

/*
 * log.h -- the server log (stderr, or --logfile PATH), one line per event,
 * in Redis's format: "pid:M 01 Jan 2024 12:00:00.000 * message".
 */
#ifndef KV_LOG_H
#define KV_LOG_H

#define KV_LOG_DEBUG 0
#define KV_LOG_NOTICE 1
#define KV_LOG_WARNING 2

/* Opens PATH for appending (NULL: stderr).  Returns 0, or -1 with errno. */
int kv_log_open(const char *path);
void kv_log_close(void);

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
void kv_log(int level, const char *fmt, ...);

#endif

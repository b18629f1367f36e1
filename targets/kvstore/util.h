/*
 * util.h -- small shared helpers: binary-safe length-prefixed strings,
 * Redis's strict integer parsing (string2ll), memory units (memtoull), clocks,
 * the PRNG used for sampling, and glob matching (stringmatchlen).
 */
#ifndef KV_UTIL_H
#define KV_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Length-prefixed byte string; data[len] is always a NUL byte so that the
 * contents can also be used as a C string when they hold no NUL. */
typedef struct kv_str {
    size_t len;
    char data[];
} kv_str;

kv_str *kv_str_new(const void *p, size_t len);
void kv_str_free(kv_str *s);
int kv_str_eq(const kv_str *s, const void *p, size_t len);

/* Room for the decimal text of any long long, with its NUL. */
#define KV_LONG_STR_SIZE 21

/* Redis's string2ll: no spaces, no '+', no leading zeros; 1 on success. */
int kv_string2ll(const char *s, size_t len, long long *out);
/* Writes the decimal form of v into buf (>= KV_LONG_STR_SIZE); returns its length. */
size_t kv_ll2str(char *buf, long long v);
/* Redis's memtoull: "100", "10kb", "1g" ...; 0 on success, -1 on error. */
int kv_memtoull(const char *s, unsigned long long *out);
/* Human form of a byte count, like Redis's bytesToHuman ("1.43M"). */
void kv_bytes_human(char *buf, size_t cap, unsigned long long n);

/* Case-insensitive comparison of a counted string with a C literal. */
int kv_eq_nocase(const char *p, size_t len, const char *lit);

int64_t kv_mstime(void);       /* wall clock, milliseconds since the epoch */
int64_t kv_ustime(void);       /* wall clock, microseconds since the epoch */
int64_t kv_monotonic_us(void); /* monotonic clock, microseconds */

/* xoshiro256** PRNG.  Not thread-safe: callers hold the keyspace lock. */
void kv_random_seed(const uint8_t seed[32]);
uint64_t kv_random(void);
/* Fills buf with bytes from the kernel's CSPRNG (getrandom, /dev/urandom). */
void kv_os_random(void *buf, size_t len);

/* Glob-style match like Redis's stringmatchlen: * ? [a-z] [^x] and \ escapes. */
int kv_stringmatch(const char *pat, size_t plen, const char *s, size_t slen,
                   int nocase);

#endif

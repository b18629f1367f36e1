/*
 * mem.h -- allocation wrappers that account every byte the server holds.
 *
 * All heap memory of the server goes through kv_malloc/kv_realloc/kv_free so
 * that kv_used_memory() reports the sum of the usable sizes of the live
 * blocks (Redis's "used_memory", INFO memory).  The maxmemory policy
 * (evict.c) compares that figure with --maxmemory.  Allocation failure
 * aborts the process, as Redis's zmalloc does.
 */
#ifndef KV_MEM_H
#define KV_MEM_H

#include <stddef.h>

void *kv_malloc(size_t n);
void *kv_calloc(size_t count, size_t size);
void *kv_realloc(void *p, size_t n);
void kv_free(void *p);
char *kv_strdup(const char *s);

/* Bytes currently allocated through this module (thread-safe). */
size_t kv_used_memory(void);
/* Resident set size of the process in bytes (0 when unknown). */
size_t kv_rss_memory(void);

#endif

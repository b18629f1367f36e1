/*
 * file.h -- file helpers for the persistence layer: complete writes,
 * fsync of a file's directory (so that a created or renamed name survives a
 * crash), atomic replacement of a small file (temp file, fsync, rename,
 * fsync of the directory: the sequence Redis uses for its manifest), and
 * read-only mappings of whole files for loading.
 */
#ifndef KV_FILE_H
#define KV_FILE_H

#include <stddef.h>
#include <stdint.h>

/* Writes all N bytes (retrying short writes and EINTR); 0, or -1 with errno. */
int kv_write_all(int fd, const void *p, size_t n);
/* fsyncs the directory that holds PATH ("." when PATH has no '/'). */
int kv_fsync_parent(const char *path);
/* Writes a new file's content to FD; 0, or -1 with errno. */
typedef int kv_file_writer(int fd, void *ctx);
/* Replaces PATH atomically with what WRITE puts in a temporary file beside
 * it ("temp-[PID-]NAME", the PID when UNIQUE: a forked child's file), which
 * is fsynced and renamed over PATH, then the directory is fsynced.  0, or -1
 * with errno (the temporary file is removed). */
int kv_replace_file(const char *path, int unique, kv_file_writer *write, void *ctx);
/* Replaces PATH with DATA atomically; 0, or -1 with errno. */
int kv_write_file_atomic(const char *path, const void *data, size_t n);
/* 1 if PATH exists (any type), 0 if not. */
int kv_path_exists(const char *path);
/* Size of PATH in bytes, or -1 with errno. */
long long kv_file_size(const char *path);

typedef struct kv_mapping {
    const char *p; /* NULL when the file is empty */
    size_t len;
} kv_mapping;

/* Maps PATH read-only; 0, or -1 with errno (ENOENT: missing). */
int kv_map_file(const char *path, kv_mapping *m);
void kv_unmap_file(kv_mapping *m);

#endif

/*
 * file.c -- file helpers (see file.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int kv_write_all(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (w == 0) {
            errno = EIO;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int kv_fsync_parent(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    int fd, rc, saved;
    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    rc = fsync(fd);
    saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

int kv_replace_file(const char *path, int unique, kv_file_writer *write, void *ctx)
{
    char tmp[PATH_MAX], tag[32] = "";
    const char *slash = strrchr(path, '/');
    int fd, saved;
    if (unique)
        snprintf(tag, sizeof tag, "%d-", (int)getpid());
    if (slash)
        snprintf(tmp, sizeof tmp, "%.*s/temp-%s%s", (int)(slash - path), path, tag, slash + 1);
    else
        snprintf(tmp, sizeof tmp, "temp-%s%s", tag, path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    if (write(fd, ctx) < 0 || fsync(fd) < 0) {
        saved = errno;
        close(fd);
        unlink(tmp);
        errno = saved;
        return -1;
    }
    if (close(fd) < 0 || rename(tmp, path) < 0) {
        saved = errno;
        unlink(tmp);
        errno = saved;
        return -1;
    }
    return kv_fsync_parent(path);
}

typedef struct bytes_ctx {
    const void *data;
    size_t n;
} bytes_ctx;

static int write_bytes(int fd, void *ctx)
{
    const bytes_ctx *b = ctx;
    return kv_write_all(fd, b->data, b->n);
}

int kv_write_file_atomic(const char *path, const void *data, size_t n)
{
    bytes_ctx b = {data, n};
    return kv_replace_file(path, 0, write_bytes, &b);
}

int kv_path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

long long kv_file_size(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return -1;
    return (long long)st.st_size;
}

int kv_map_file(const char *path, kv_mapping *m)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC), saved;
    memset(&st, 0, sizeof st);
    m->p = NULL;
    m->len = 0;
    if (fd < 0)
        return -1;
    errno = 0;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        saved = errno;
        if (saved == 0 || S_ISDIR(st.st_mode))
            saved = EISDIR;
        close(fd);
        errno = saved;
        return -1;
    }
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            saved = errno;
            close(fd);
            errno = saved;
            return -1;
        }
        madvise(p, (size_t)st.st_size, MADV_SEQUENTIAL);
        m->p = p;
        m->len = (size_t)st.st_size;
    }
    close(fd);
    return 0;
}

void kv_unmap_file(kv_mapping *m)
{
    if (m->p)
        munmap((void *)m->p, m->len);
    m->p = NULL;
    m->len = 0;
}

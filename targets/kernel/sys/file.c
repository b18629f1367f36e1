/*
 * file.c - file descriptors of the current process (proc/proc.h struct k_file): console
 * reads block (sleep on the console channel) until at least one character is available and
 * return what is there; LABFS files are read at their offset, never written. /dev/fuzzprog
 * (sys/fuzzprog.h, mode=fuzz) is a read-only file of its own kind, outside LABFS.
 */
#include "sys/file.h"

#include "dev/console.h"
#include "fs/kfs.h"
#include "lib/kerrno.h"
#include "proc/proc.h"
#include "proc/sched.h"
#include "sys/fuzzprog.h"

/* The kind of a /dev/fuzzprog descriptor: next to proc/proc.h's enum k_fkind, which
 * struct k_file stores in a byte. */
#define K_F_FUZZPROG ((uint8_t)(K_F_LABFS + 1))

static struct k_file *fd_file(int fd)
{
    if (fd < 0 || fd >= K_NFILE)
        return NULL;
    struct k_file *f = &k_proc_current()->files[fd];
    return f->kind == K_F_NONE ? NULL : f;
}

/* The lowest free descriptor (from 3) set up as kind at offset 0, or -K_EMFILE. */
static int fd_alloc(uint8_t kind, const struct k_labfs_entry *e)
{
    struct k_proc *p = k_proc_current();
    for (int fd = 3; fd < K_NFILE; fd++) {
        struct k_file *f = &p->files[fd];
        if (f->kind == K_F_NONE) {
            memset(f, 0, sizeof *f);
            f->kind = kind;
            if (e != NULL)
                f->ent = *e;
            return fd;
        }
    }
    return -K_EMFILE;
}

int k_file_open(const char *path)
{
    if (strcmp(path, K_FUZZPROG_PATH) == 0)
        return k_fuzzprog_may_open() ? fd_alloc(K_F_FUZZPROG, NULL) : -K_ENOENT;
    struct k_labfs_entry e;
    int rc = k_fs_lookup(path, &e);
    if (rc != 0)
        return rc;
    return fd_alloc(K_F_LABFS, &e);
}

int k_file_close(int fd)
{
    struct k_file *f = fd_file(fd);
    if (f == NULL)
        return -K_EBADF;
    f->kind = K_F_NONE;
    return 0;
}

static int32_t console_read(char *ubuf, uint32_t len)
{
    char kbuf[128];
    for (;;) {
        size_t n = k_cons_read(kbuf, len < sizeof kbuf ? len : sizeof kbuf);
        if (n > 0) {
            memcpy(ubuf, kbuf, n);
            return (int32_t)n;
        }
        k_sleep_on(k_cons_chan());
    }
}

int32_t k_file_read(int fd, void *ubuf, uint32_t len)
{
    struct k_file *f = fd_file(fd);
    if (f == NULL)
        return -K_EBADF;
    if (len == 0)
        return 0;
    if (f->kind == K_F_CONSOLE)
        return console_read(ubuf, len);
    if (f->kind == K_F_FUZZPROG) {
        uint32_t got = k_fuzzprog_read(f->off, ubuf, len);
        f->off += got;
        return (int32_t)got;
    }
    int32_t n = k_fs_read(&f->ent, f->off, ubuf, len);
    if (n > 0)
        f->off += (uint32_t)n;
    return n;
}

int32_t k_file_write(int fd, const void *ubuf, uint32_t len)
{
    struct k_file *f = fd_file(fd);
    if (f == NULL || f->kind != K_F_CONSOLE)
        return -K_EBADF;
    k_cons_write(ubuf, len);
    return (int32_t)len;
}

/*
 * lab_chaos_fs.c - an LD_PRELOAD journal of durability events, for "unsynced data is lost
 * on crash" fault injection (lab/chaos/fsshim.py drives it).
 *
 * What it models: a machine crash (power loss) under POSIX fsync semantics, in the style of
 * LazyFS (Martins et al., "LazyFS: a FUSE file system with an internal page cache"): data a
 * process wrote to a file is guaranteed to survive a crash only once fsync(2)/fdatasync(2)
 * of that file (or syncfs(2)/sync(2)) has returned success, or when the file was opened with
 * O_SYNC/O_DSYNC. Unlike LazyFS nothing is cached here: write(2) is not intercepted and the
 * kernel really keeps every byte. Instead this library appends one record per durability
 * event to a journal, and after the lab SIGKILLs the process the Python side replays the
 * journal and cuts every file back to its durable length. The model is append-only: bytes
 * beyond the last durable length are lost; overwrites inside the durable part are not
 * modelled, and metadata (renames, unlinks, truncations) counts as durable at once.
 *
 * Environment, read once at load:
 *   LAB_CHAOS_FS_DIR  absolute canonical directory; only files under it are tracked.
 *   LAB_CHAOS_FS_LOG  journal path, opened O_WRONLY|O_APPEND|O_CREAT|O_CLOEXEC.
 *   LAB_CHAOS_FS_CTL  control file holding "normal", "fail" or "noop" (missing: normal),
 *                     re-read at every intercepted fsync-like call.
 * Without DIR or LOG every call passes straight through.
 *
 * Intercepted (resolved with dlsym(RTLD_NEXT) under pthread_once): fsync, fdatasync, syncfs,
 * sync (obey the mode); rename, renameat, renameat2, unlink, unlinkat, truncate(64),
 * ftruncate(64) (journaled on success); open(64), openat(64), creat(64), their _FORTIFY_SOURCE
 * forms __open(64)_2/__openat(64)_2, and fopen(64) (journaled only for O_TRUNC / "w" modes
 * and for O_SYNC/O_DSYNC).
 *
 * Modes for fsync-like calls on a tracked file: normal calls the real function and journals
 * success; fail returns -1/EIO without syncing; noop returns 0 without syncing or journaling.
 *
 * Journal records, tab-separated, path last, one write(2) each (atomic under O_APPEND, also
 * across fork): "S size path" (synced: the size is taken by fstat just before the sync, so
 * bytes written concurrently with it are not claimed durable), "R old new" (rename with
 * either side under DIR), "X a b" (renameat2 RENAME_EXCHANGE), "U path" (unlink), "T size
 * path" (truncation; size 0 for an open with O_TRUNC), "A path" (opened O_SYNC/O_DSYNC).
 * A path holding a tab or newline is not tracked.
 *
 * The hooks never allocate (stack buffers of PATH_MAX), keep errno as the real call left it,
 * and check that the journal descriptor still is the journal before each write, so a program
 * that closes and reuses descriptors cannot make the library write into its files.
 */
#define _GNU_SOURCE
#undef _FORTIFY_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define LAB_CHAOS_FS_API __attribute__((visibility("default")))
#define LAB_CHAOS_FS_LINE_MAX (2 * PATH_MAX + 64)
#define LAB_CHAOS_FS_MAX_SCAN 256
#define LAB_CHAOS_FS_HIGH_FD 700

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

enum lab_chaos_fs_mode { LAB_CHAOS_FS_NORMAL, LAB_CHAOS_FS_FAIL, LAB_CHAOS_FS_NOOP };

/* The functions the hooks forward to; NULL where libc does not export one. */
struct lab_chaos_fs_real {
    int (*fsync)(int);
    int (*fdatasync)(int);
    int (*syncfs)(int);
    void (*sync)(void);
    int (*rename)(const char *, const char *);
    int (*renameat)(int, const char *, int, const char *);
    int (*renameat2)(int, const char *, int, const char *, unsigned int);
    int (*unlink)(const char *);
    int (*unlinkat)(int, const char *, int);
    int (*truncate)(const char *, off_t);
    int (*truncate64)(const char *, off64_t);
    int (*ftruncate)(int, off_t);
    int (*ftruncate64)(int, off64_t);
    int (*open)(const char *, int, ...);
    int (*open64)(const char *, int, ...);
    int (*openat)(int, const char *, int, ...);
    int (*openat64)(int, const char *, int, ...);
    int (*creat)(const char *, mode_t);
    int (*creat64)(const char *, mode_t);
    int (*open_2)(const char *, int);
    int (*open64_2)(const char *, int);
    int (*openat_2)(int, const char *, int);
    int (*openat64_2)(int, const char *, int);
    FILE *(*fopen)(const char *, const char *);
    FILE *(*fopen64)(const char *, const char *);
};

struct lab_chaos_fs_state {
    int active;
    int log_fd;
    dev_t log_dev;
    ino_t log_ino;
    dev_t dir_dev;
    size_t dir_len;
    char dir[PATH_MAX];
    char ctl[PATH_MAX];
};

/* A journal record under construction; overflow drops the record. */
struct lab_chaos_fs_line {
    size_t len;
    int overflow;
    char buf[LAB_CHAOS_FS_LINE_MAX];
};

static struct lab_chaos_fs_real lab_chaos_fs_real;
static struct lab_chaos_fs_state lab_chaos_fs_st = {.log_fd = -1};
static pthread_once_t lab_chaos_fs_once = PTHREAD_ONCE_INIT;

/* ---- initialization ---------------------------------------------------------------- */

static void *lab_chaos_fs_sym(const char *name)
{
    return dlsym(RTLD_NEXT, name);
}

#define LAB_CHAOS_FS_RESOLVE(field, name) \
    (*(void **)&lab_chaos_fs_real.field = lab_chaos_fs_sym(name))

static void lab_chaos_fs_resolve(void)
{
    LAB_CHAOS_FS_RESOLVE(fsync, "fsync");
    LAB_CHAOS_FS_RESOLVE(fdatasync, "fdatasync");
    LAB_CHAOS_FS_RESOLVE(syncfs, "syncfs");
    LAB_CHAOS_FS_RESOLVE(sync, "sync");
    LAB_CHAOS_FS_RESOLVE(rename, "rename");
    LAB_CHAOS_FS_RESOLVE(renameat, "renameat");
    LAB_CHAOS_FS_RESOLVE(renameat2, "renameat2");
    LAB_CHAOS_FS_RESOLVE(unlink, "unlink");
    LAB_CHAOS_FS_RESOLVE(unlinkat, "unlinkat");
    LAB_CHAOS_FS_RESOLVE(truncate, "truncate");
    LAB_CHAOS_FS_RESOLVE(truncate64, "truncate64");
    LAB_CHAOS_FS_RESOLVE(ftruncate, "ftruncate");
    LAB_CHAOS_FS_RESOLVE(ftruncate64, "ftruncate64");
    LAB_CHAOS_FS_RESOLVE(open, "open");
    LAB_CHAOS_FS_RESOLVE(open64, "open64");
    LAB_CHAOS_FS_RESOLVE(openat, "openat");
    LAB_CHAOS_FS_RESOLVE(openat64, "openat64");
    LAB_CHAOS_FS_RESOLVE(creat, "creat");
    LAB_CHAOS_FS_RESOLVE(creat64, "creat64");
    LAB_CHAOS_FS_RESOLVE(open_2, "__open_2");
    LAB_CHAOS_FS_RESOLVE(open64_2, "__open64_2");
    LAB_CHAOS_FS_RESOLVE(openat_2, "__openat_2");
    LAB_CHAOS_FS_RESOLVE(openat64_2, "__openat64_2");
    LAB_CHAOS_FS_RESOLVE(fopen, "fopen");
    LAB_CHAOS_FS_RESOLVE(fopen64, "fopen64");
}

/* Copy src into dst[PATH_MAX]; -1 when it does not fit. */
static int lab_chaos_fs_copy(char *dst, const char *src)
{
    size_t n = strlen(src);
    if (n >= PATH_MAX)
        return -1;
    memcpy(dst, src, n + 1);
    return 0;
}

static int lab_chaos_fs_journalable(const char *path)
{
    return strpbrk(path, "\t\n") == NULL;
}

/* Read DIR (trailing slashes dropped; "/" is refused) and CTL; 0 when usable. */
static int lab_chaos_fs_read_env(struct lab_chaos_fs_state *st)
{
    const char *dir = getenv("LAB_CHAOS_FS_DIR");
    const char *ctl = getenv("LAB_CHAOS_FS_CTL");
    struct stat sb;
    if (dir == NULL || dir[0] != '/' || lab_chaos_fs_copy(st->dir, dir) != 0)
        return -1;
    st->dir_len = strlen(st->dir);
    while (st->dir_len > 1 && st->dir[st->dir_len - 1] == '/')
        st->dir[--st->dir_len] = '\0';
    if (st->dir_len <= 1 || !lab_chaos_fs_journalable(st->dir))
        return -1;
    st->dir_dev = stat(st->dir, &sb) == 0 ? sb.st_dev : 0;
    if (ctl != NULL && lab_chaos_fs_copy(st->ctl, ctl) != 0)
        return -1;
    return 0;
}

/* Open the journal on a high descriptor, away from those the program juggles. */
static int lab_chaos_fs_open_log(struct lab_chaos_fs_state *st)
{
    const char *log = getenv("LAB_CHAOS_FS_LOG");
    struct stat sb;
    if (log == NULL || log[0] == '\0' || lab_chaos_fs_real.open == NULL)
        return -1;
    int fd = lab_chaos_fs_real.open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    int high = fcntl(fd, F_DUPFD_CLOEXEC, LAB_CHAOS_FS_HIGH_FD);
    if (high >= 0) {
        close(fd);
        fd = high;
    }
    if (fstat(fd, &sb) != 0) {
        close(fd);
        return -1;
    }
    st->log_fd = fd;
    st->log_dev = sb.st_dev;
    st->log_ino = sb.st_ino;
    return 0;
}

static void lab_chaos_fs_init(void)
{
    int saved = errno;
    lab_chaos_fs_resolve();
    struct lab_chaos_fs_state *st = &lab_chaos_fs_st;
    if (lab_chaos_fs_read_env(st) == 0 && lab_chaos_fs_open_log(st) == 0)
        st->active = 1;
    errno = saved;
}

/* Resolve the real functions once; 1 when the journal is on. */
static int lab_chaos_fs_ready(void)
{
    pthread_once(&lab_chaos_fs_once, lab_chaos_fs_init);
    return lab_chaos_fs_st.active;
}

__attribute__((constructor)) static void lab_chaos_fs_ctor(void)
{
    lab_chaos_fs_ready();
}

/* ---- paths --------------------------------------------------------------------------- */

/* Whether the canonical path lies under DIR (or is DIR) and can be journaled. */
static int lab_chaos_fs_tracked(const char *path)
{
    const struct lab_chaos_fs_state *st = &lab_chaos_fs_st;
    if (strncmp(path, st->dir, st->dir_len) != 0)
        return 0;
    if (path[st->dir_len] != '/' && path[st->dir_len] != '\0')
        return 0;
    return lab_chaos_fs_journalable(path);
}

/* Decimal digits of v at the end of buf[32]; returns the first digit. */
static char *lab_chaos_fs_utoa(uint64_t v, char *end)
{
    *--end = '\0';
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return end;
}

/* The path an open descriptor names (readlink of /proc/self/fd/N); -1 if unknown. */
static int lab_chaos_fs_fd_path(int fd, char *out)
{
    char link[48] = "/proc/self/fd/";
    char digits[32];
    if (fd < 0)
        return -1;
    strcat(link, lab_chaos_fs_utoa((uint64_t)fd, digits + sizeof digits));
    ssize_t n = readlink(link, out, PATH_MAX - 1);
    if (n <= 0 || n >= PATH_MAX - 1 || out[0] != '/')
        return -1;
    out[n] = '\0';
    return 0;
}

/* Join a + "/" + b into out[PATH_MAX] (no double slash after "/"). */
static int lab_chaos_fs_join(char *out, const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    int slash = la > 0 && a[la - 1] != '/';
    if (la + (size_t)slash + lb >= PATH_MAX)
        return -1;
    memcpy(out, a, la);
    if (slash)
        out[la] = '/';
    memcpy(out + la + (size_t)slash, b, lb + 1);
    return 0;
}

/* The directory part of path relative to dirfd as an absolute, not yet canonical path. */
static int lab_chaos_fs_parent(int dirfd, char *parent, char *out)
{
    char base[PATH_MAX];
    if (parent[0] == '/' || dirfd == AT_FDCWD)
        return lab_chaos_fs_copy(out, parent);
    if (lab_chaos_fs_fd_path(dirfd, base) != 0)
        return -1;
    return lab_chaos_fs_join(out, base, parent);
}

/*
 * The canonical absolute path of (dirfd, path) without requiring the last component to
 * exist: realpath(3) of the parent directory plus the base name. -1 for ".", "..", "/",
 * or when the parent cannot be resolved.
 */
static int lab_chaos_fs_abs_path(int dirfd, const char *path, char *out)
{
    char buf[PATH_MAX], parent[PATH_MAX], canon[PATH_MAX];
    if (path == NULL || path[0] == '\0' || lab_chaos_fs_copy(buf, path) != 0)
        return -1;
    size_t n = strlen(buf);
    while (n > 1 && buf[n - 1] == '/')
        buf[--n] = '\0';
    char *slash = strrchr(buf, '/');
    const char *name = slash ? slash + 1 : buf;
    if (name[0] == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return -1;
    if (slash == buf)
        strcpy(parent, "/");
    else if (slash != NULL) {
        *slash = '\0';
        strcpy(parent, buf);
    } else
        strcpy(parent, ".");
    if (lab_chaos_fs_parent(dirfd, parent, canon) != 0 || realpath(canon, parent) == NULL)
        return -1;
    return lab_chaos_fs_join(out, parent, name);
}

/* lab_chaos_fs_abs_path that also says whether the result is tracked (0 when not). */
static int lab_chaos_fs_resolve_tracked(int dirfd, const char *path, char *out)
{
    if (lab_chaos_fs_abs_path(dirfd, path, out) != 0) {
        out[0] = '\0';
        return 0;
    }
    return lab_chaos_fs_tracked(out);
}

/* ---- the journal --------------------------------------------------------------------- */

static void lab_chaos_fs_put(struct lab_chaos_fs_line *line, const char *s)
{
    size_t n = strlen(s);
    if (line->len + n + 1 >= sizeof line->buf) {
        line->overflow = 1;
        return;
    }
    memcpy(line->buf + line->len, s, n);
    line->len += n;
}

static void lab_chaos_fs_put_u64(struct lab_chaos_fs_line *line, uint64_t v)
{
    char digits[32];
    lab_chaos_fs_put(line, lab_chaos_fs_utoa(v, digits + sizeof digits));
}

/* Whether the journal descriptor still refers to the journal file. */
static int lab_chaos_fs_log_ok(void)
{
    struct stat sb;
    const struct lab_chaos_fs_state *st = &lab_chaos_fs_st;
    return fstat(st->log_fd, &sb) == 0 && sb.st_dev == st->log_dev && sb.st_ino == st->log_ino;
}

/* Terminate the record and append it with one write(2); errno is left untouched. */
static void lab_chaos_fs_emit(struct lab_chaos_fs_line *line)
{
    int saved = errno;
    if (!line->overflow && lab_chaos_fs_log_ok()) {
        line->buf[line->len++] = '\n';
        ssize_t rc = write(lab_chaos_fs_st.log_fd, line->buf, line->len);
        (void)rc;
    }
    errno = saved;
}

/* One record "<kind>[\t<size>]\t<a>[\t<b>]"; size < 0 and b == NULL leave fields out. */
static void lab_chaos_fs_record(char kind, int64_t size, const char *a, const char *b)
{
    struct lab_chaos_fs_line line = {.len = 0, .overflow = 0};
    char k[2] = {kind, '\0'};
    lab_chaos_fs_put(&line, k);
    if (size >= 0) {
        lab_chaos_fs_put(&line, "\t");
        lab_chaos_fs_put_u64(&line, (uint64_t)size);
    }
    lab_chaos_fs_put(&line, "\t");
    lab_chaos_fs_put(&line, a);
    if (b != NULL) {
        lab_chaos_fs_put(&line, "\t");
        lab_chaos_fs_put(&line, b);
    }
    lab_chaos_fs_emit(&line);
}

/* Journal a record for the file behind fd when it is a tracked, linked regular file
 * (size < 0: a record without a size field). */
static void lab_chaos_fs_record_fd(char kind, int fd, int64_t size)
{
    char path[PATH_MAX];
    struct stat sb;
    int saved = errno;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_nlink > 0
        && lab_chaos_fs_fd_path(fd, path) == 0 && lab_chaos_fs_tracked(path))
        lab_chaos_fs_record(kind, size, path, NULL);
    errno = saved;
}

/* ---- mode ---------------------------------------------------------------------------- */

/* The mode in the control file now (missing, empty or unknown: normal). */
static enum lab_chaos_fs_mode lab_chaos_fs_mode(void)
{
    char buf[16];
    int saved = errno;
    enum lab_chaos_fs_mode mode = LAB_CHAOS_FS_NORMAL;
    int fd = lab_chaos_fs_st.ctl[0] ? lab_chaos_fs_real.open(lab_chaos_fs_st.ctl,
                                                             O_RDONLY | O_CLOEXEC) : -1;
    if (fd >= 0) {
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\r'))
            n--;
        buf[n > 0 ? n : 0] = '\0';
        if (strcmp(buf, "fail") == 0)
            mode = LAB_CHAOS_FS_FAIL;
        else if (strcmp(buf, "noop") == 0)
            mode = LAB_CHAOS_FS_NOOP;
    }
    errno = saved;
    return mode;
}

/* Whether fd is (a descriptor of) DIR itself or something under it. */
static int lab_chaos_fs_fd_tracked(int fd)
{
    char path[PATH_MAX];
    return lab_chaos_fs_fd_path(fd, path) == 0 && lab_chaos_fs_tracked(path);
}

/* ---- fsync, fdatasync ---------------------------------------------------------------- */

static int lab_chaos_fs_sync_fd(int fd, int (*real)(int))
{
    struct stat sb;
    if (real == NULL) {
        errno = ENOSYS;
        return -1;
    }
    if (!lab_chaos_fs_ready() || !lab_chaos_fs_fd_tracked(fd))
        return real(fd);
    enum lab_chaos_fs_mode mode = lab_chaos_fs_mode();
    if (mode == LAB_CHAOS_FS_FAIL) {
        errno = EIO;
        return -1;
    }
    if (mode == LAB_CHAOS_FS_NOOP)
        return 0;
    int64_t size = fstat(fd, &sb) == 0 ? (int64_t)sb.st_size : -1;
    int rc = real(fd);
    if (rc == 0 && size >= 0)
        lab_chaos_fs_record_fd('S', fd, size);
    return rc;
}

LAB_CHAOS_FS_API int fsync(int fd)
{
    lab_chaos_fs_ready();
    return lab_chaos_fs_sync_fd(fd, lab_chaos_fs_real.fsync);
}

LAB_CHAOS_FS_API int fdatasync(int fd)
{
    lab_chaos_fs_ready();
    return lab_chaos_fs_sync_fd(fd, lab_chaos_fs_real.fdatasync);
}

/* ---- syncfs, sync -------------------------------------------------------------------- */

struct lab_chaos_fs_open_file {
    int fd;
    int64_t size;
};

/* Whether a /proc/self/fd entry is a descriptor number other than skip; sets *fd. */
static int lab_chaos_fs_entry_fd(const char *name, int skip, int *fd)
{
    long v = 0;
    if (name[0] < '0' || name[0] > '9')
        return 0;
    for (const char *p = name; *p; p++) {
        if (*p < '0' || *p > '9' || v > INT_MAX / 10)
            return 0;
        v = v * 10 + (*p - '0');
    }
    *fd = (int)v;
    return *fd != skip && *fd != lab_chaos_fs_st.log_fd;
}

/* Record fd in files[] when it is a tracked regular file (on device dev unless dev == 0). */
static void lab_chaos_fs_collect_one(int fd, dev_t dev, struct lab_chaos_fs_open_file *files,
                                     int *n)
{
    struct stat sb;
    if (*n >= LAB_CHAOS_FS_MAX_SCAN || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
        return;
    if ((dev != 0 && sb.st_dev != dev) || !lab_chaos_fs_fd_tracked(fd))
        return;
    files[*n].fd = fd;
    files[*n].size = (int64_t)sb.st_size;
    (*n)++;
}

/* The open tracked regular files of this process with their sizes now (no malloc). */
static int lab_chaos_fs_collect(dev_t dev, struct lab_chaos_fs_open_file *files)
{
    char buf[4096];
    int n = 0, fd;
    int dfd = lab_chaos_fs_real.open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return 0;
    ssize_t got;
    while ((got = getdents64(dfd, buf, sizeof buf)) > 0) {
        for (ssize_t off = 0; off < got;) {
            struct dirent64 *d = (struct dirent64 *)(buf + off);
            if (lab_chaos_fs_entry_fd(d->d_name, dfd, &fd))
                lab_chaos_fs_collect_one(fd, dev, files, &n);
            off += d->d_reclen;
        }
    }
    close(dfd);
    return n;
}

static void lab_chaos_fs_record_all(const struct lab_chaos_fs_open_file *files, int n)
{
    for (int i = 0; i < n; i++)
        lab_chaos_fs_record_fd('S', files[i].fd, files[i].size);
}

/* Whether syncfs(fd) reaches tracked files: fd is tracked or on DIR's file system. */
static int lab_chaos_fs_syncfs_tracked(int fd, dev_t *dev)
{
    struct stat sb;
    *dev = fstat(fd, &sb) == 0 ? sb.st_dev : 0;
    if (lab_chaos_fs_fd_tracked(fd))
        return 1;
    return *dev != 0 && *dev == lab_chaos_fs_st.dir_dev;
}

LAB_CHAOS_FS_API int syncfs(int fd)
{
    struct lab_chaos_fs_open_file files[LAB_CHAOS_FS_MAX_SCAN];
    dev_t dev;
    if (!lab_chaos_fs_ready() || !lab_chaos_fs_syncfs_tracked(fd, &dev))
        return lab_chaos_fs_real.syncfs ? lab_chaos_fs_real.syncfs(fd) : (errno = ENOSYS, -1);
    enum lab_chaos_fs_mode mode = lab_chaos_fs_mode();
    if (mode == LAB_CHAOS_FS_FAIL) {
        errno = EIO;
        return -1;
    }
    if (mode == LAB_CHAOS_FS_NOOP)
        return 0;
    int n = lab_chaos_fs_collect(dev, files);
    int rc = lab_chaos_fs_real.syncfs(fd);
    int saved = errno;
    if (rc == 0)
        lab_chaos_fs_record_all(files, n);
    errno = saved;
    return rc;
}

LAB_CHAOS_FS_API void sync(void)
{
    struct lab_chaos_fs_open_file files[LAB_CHAOS_FS_MAX_SCAN];
    if (!lab_chaos_fs_ready()) {
        if (lab_chaos_fs_real.sync)
            lab_chaos_fs_real.sync();
        return;
    }
    if (lab_chaos_fs_mode() != LAB_CHAOS_FS_NORMAL)
        return;
    int n = lab_chaos_fs_collect(0, files);
    lab_chaos_fs_real.sync();
    lab_chaos_fs_record_all(files, n);
}

/* ---- rename, unlink, truncate -------------------------------------------------------- */

static int lab_chaos_fs_renamed(int rc, unsigned int flags, const char *a, const char *b,
                                int tracked)
{
    int saved = errno;
    if (rc == 0 && tracked && a[0] && b[0] && lab_chaos_fs_journalable(a)
        && lab_chaos_fs_journalable(b))
        lab_chaos_fs_record((flags & RENAME_EXCHANGE) ? 'X' : 'R', -1, a, b);
    errno = saved;
    return rc;
}

/* Resolve both names, call the real rename (which: 0 rename, 1 renameat, 2 renameat2),
 * journal success. */
static int lab_chaos_fs_rename_common(int olddirfd, const char *oldpath, int newdirfd,
                                      const char *newpath, unsigned int flags, int which)
{
    char a[PATH_MAX], b[PATH_MAX];
    int tracked = 0, rc;
    if (lab_chaos_fs_ready()) {
        tracked = lab_chaos_fs_resolve_tracked(olddirfd, oldpath, a);
        tracked |= lab_chaos_fs_resolve_tracked(newdirfd, newpath, b);
    }
    if (which == 0)
        rc = lab_chaos_fs_real.rename(oldpath, newpath);
    else if (which == 1)
        rc = lab_chaos_fs_real.renameat(olddirfd, oldpath, newdirfd, newpath);
    else if (lab_chaos_fs_real.renameat2 != NULL)
        rc = lab_chaos_fs_real.renameat2(olddirfd, oldpath, newdirfd, newpath, flags);
    else {
        errno = ENOSYS;
        return -1;
    }
    return lab_chaos_fs_renamed(rc, flags, a, b, tracked);
}

LAB_CHAOS_FS_API int rename(const char *oldpath, const char *newpath)
{
    return lab_chaos_fs_rename_common(AT_FDCWD, oldpath, AT_FDCWD, newpath, 0, 0);
}

LAB_CHAOS_FS_API int renameat(int olddirfd, const char *oldpath, int newdirfd,
                              const char *newpath)
{
    return lab_chaos_fs_rename_common(olddirfd, oldpath, newdirfd, newpath, 0, 1);
}

LAB_CHAOS_FS_API int renameat2(int olddirfd, const char *oldpath, int newdirfd,
                               const char *newpath, unsigned int flags)
{
    return lab_chaos_fs_rename_common(olddirfd, oldpath, newdirfd, newpath, flags, 2);
}

static int lab_chaos_fs_unlink_common(int dirfd, const char *path, int flags, int at)
{
    char abs[PATH_MAX];
    int tracked = lab_chaos_fs_ready() && lab_chaos_fs_resolve_tracked(dirfd, path, abs);
    int rc = at ? lab_chaos_fs_real.unlinkat(dirfd, path, flags) : lab_chaos_fs_real.unlink(path);
    if (rc == 0 && tracked)
        lab_chaos_fs_record('U', -1, abs, NULL);
    return rc;
}

LAB_CHAOS_FS_API int unlink(const char *path)
{
    return lab_chaos_fs_unlink_common(AT_FDCWD, path, 0, 0);
}

LAB_CHAOS_FS_API int unlinkat(int dirfd, const char *path, int flags)
{
    return lab_chaos_fs_unlink_common(dirfd, path, flags, 1);
}

static int lab_chaos_fs_truncated_path(int rc, int tracked, const char *abs, int64_t length)
{
    if (rc == 0 && tracked && length >= 0)
        lab_chaos_fs_record('T', length, abs, NULL);
    return rc;
}

LAB_CHAOS_FS_API int truncate(const char *path, off_t length)
{
    char abs[PATH_MAX];
    int tracked = lab_chaos_fs_ready() && lab_chaos_fs_resolve_tracked(AT_FDCWD, path, abs);
    int rc = lab_chaos_fs_real.truncate(path, length);
    return lab_chaos_fs_truncated_path(rc, tracked, abs, (int64_t)length);
}

LAB_CHAOS_FS_API int truncate64(const char *path, off64_t length)
{
    char abs[PATH_MAX];
    int tracked = lab_chaos_fs_ready() && lab_chaos_fs_resolve_tracked(AT_FDCWD, path, abs);
    int rc = lab_chaos_fs_real.truncate64(path, length);
    return lab_chaos_fs_truncated_path(rc, tracked, abs, (int64_t)length);
}

static int lab_chaos_fs_truncated_fd(int rc, int fd, int64_t length)
{
    if (rc == 0 && length >= 0 && lab_chaos_fs_ready())
        lab_chaos_fs_record_fd('T', fd, length);
    return rc;
}

LAB_CHAOS_FS_API int ftruncate(int fd, off_t length)
{
    lab_chaos_fs_ready();
    return lab_chaos_fs_truncated_fd(lab_chaos_fs_real.ftruncate(fd, length), fd, length);
}

LAB_CHAOS_FS_API int ftruncate64(int fd, off64_t length)
{
    lab_chaos_fs_ready();
    return lab_chaos_fs_truncated_fd(lab_chaos_fs_real.ftruncate64(fd, length), fd, length);
}

/* ---- the open family ----------------------------------------------------------------- */

#define LAB_CHAOS_FS_NEEDS_MODE(flags) \
    (((flags) & O_CREAT) != 0 || ((flags) & O_TMPFILE) == O_TMPFILE)

/* After a successful open: journal O_TRUNC as T 0 and O_SYNC/O_DSYNC as A. */
static int lab_chaos_fs_opened(int fd, int flags)
{
    if (fd < 0 || (flags & (O_TRUNC | O_DSYNC)) == 0 || !lab_chaos_fs_ready())
        return fd;
    if (flags & O_TRUNC)
        lab_chaos_fs_record_fd('T', fd, 0);
    if (flags & O_DSYNC)
        lab_chaos_fs_record_fd('A', fd, -1);
    return fd;
}

static mode_t lab_chaos_fs_va_mode(int flags, va_list ap)
{
    return LAB_CHAOS_FS_NEEDS_MODE(flags) ? (mode_t)va_arg(ap, unsigned int) : 0;
}

LAB_CHAOS_FS_API int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = lab_chaos_fs_va_mode(flags, ap);
    va_end(ap);
    lab_chaos_fs_ready();
    return lab_chaos_fs_opened(lab_chaos_fs_real.open(path, flags, mode), flags);
}

LAB_CHAOS_FS_API int open64(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = lab_chaos_fs_va_mode(flags, ap);
    va_end(ap);
    lab_chaos_fs_ready();
    return lab_chaos_fs_opened(lab_chaos_fs_real.open64(path, flags, mode), flags);
}

LAB_CHAOS_FS_API int openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = lab_chaos_fs_va_mode(flags, ap);
    va_end(ap);
    lab_chaos_fs_ready();
    return lab_chaos_fs_opened(lab_chaos_fs_real.openat(dirfd, path, flags, mode), flags);
}

LAB_CHAOS_FS_API int openat64(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = lab_chaos_fs_va_mode(flags, ap);
    va_end(ap);
    lab_chaos_fs_ready();
    return lab_chaos_fs_opened(lab_chaos_fs_real.openat64(dirfd, path, flags, mode), flags);
}

LAB_CHAOS_FS_API int creat(const char *path, mode_t mode)
{
    lab_chaos_fs_ready();
    return lab_chaos_fs_opened(lab_chaos_fs_real.creat(path, mode), O_CREAT | O_TRUNC);
}

LAB_CHAOS_FS_API int creat64(const char *path, mode_t mode)
{
    lab_chaos_fs_ready();
    return lab_chaos_fs_opened(lab_chaos_fs_real.creat64(path, mode), O_CREAT | O_TRUNC);
}

/* The _FORTIFY_SOURCE entry points (no O_CREAT, so no mode argument). */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);

LAB_CHAOS_FS_API int __open_2(const char *path, int flags)
{
    lab_chaos_fs_ready();
    int fd = lab_chaos_fs_real.open_2 ? lab_chaos_fs_real.open_2(path, flags)
                                      : lab_chaos_fs_real.open(path, flags);
    return lab_chaos_fs_opened(fd, flags);
}

LAB_CHAOS_FS_API int __open64_2(const char *path, int flags)
{
    lab_chaos_fs_ready();
    int fd = lab_chaos_fs_real.open64_2 ? lab_chaos_fs_real.open64_2(path, flags)
                                        : lab_chaos_fs_real.open64(path, flags);
    return lab_chaos_fs_opened(fd, flags);
}

LAB_CHAOS_FS_API int __openat_2(int dirfd, const char *path, int flags)
{
    lab_chaos_fs_ready();
    int fd = lab_chaos_fs_real.openat_2 ? lab_chaos_fs_real.openat_2(dirfd, path, flags)
                                        : lab_chaos_fs_real.openat(dirfd, path, flags);
    return lab_chaos_fs_opened(fd, flags);
}

LAB_CHAOS_FS_API int __openat64_2(int dirfd, const char *path, int flags)
{
    lab_chaos_fs_ready();
    int fd = lab_chaos_fs_real.openat64_2 ? lab_chaos_fs_real.openat64_2(dirfd, path, flags)
                                          : lab_chaos_fs_real.openat64(dirfd, path, flags);
    return lab_chaos_fs_opened(fd, flags);
}

/* fopen truncates for "w" modes (glibc opens internally, past the hooks above). */
static FILE *lab_chaos_fs_fopened(FILE *fp, const char *mode)
{
    if (fp != NULL && mode != NULL && mode[0] == 'w' && lab_chaos_fs_ready())
        lab_chaos_fs_record_fd('T', fileno(fp), 0);
    return fp;
}

LAB_CHAOS_FS_API FILE *fopen(const char *path, const char *mode)
{
    lab_chaos_fs_ready();
    return lab_chaos_fs_fopened(lab_chaos_fs_real.fopen(path, mode), mode);
}

LAB_CHAOS_FS_API FILE *fopen64(const char *path, const char *mode)
{
    lab_chaos_fs_ready();
    return lab_chaos_fs_fopened(lab_chaos_fs_real.fopen64(path, mode), mode);
}

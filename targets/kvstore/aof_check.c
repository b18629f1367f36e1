/*
 * aof_check.c -- the --check-aof mode (see aof_check.h).  Uses the same
 * readers as startup (snap.c, aof_load.c) on a socket-less server state
 * (kv_state_init), so "OK" here means the server would load the files.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "aof_check.h"
#include "aof_load.h"
#include "aof_manifest.h"
#include "file.h"
#include "server.h"
#include "snap.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct check_ctx {
    int fix;
    unsigned long long commands;
} check_ctx;

int kv_check_aof_wanted(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--check-aof"))
            return 1;
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "kvstore-server: usage: kvstore-server --check-aof PATH [--fix] (PATH: "
                    "a manifest, an incremental file or a snapshot)\n");
    return 2;
}

static int fix_file(const char *path, const kv_load_info *li, size_t len)
{
    int fd;
    printf("Truncating %s at offset %zu: dropping %zu bytes\n", path, li->good_end,
           len - li->good_end);
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)li->good_end) < 0 || fsync(fd) < 0) {
        printf("%s: truncation failed: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* Replays one incremental file; LAST: --fix may truncate it. */
static int check_incr(check_ctx *cc, const char *path, int last)
{
    kv_mapping m;
    kv_load_info li;
    size_t len;
    int rc;
    if (kv_map_file(path, &m) < 0) {
        printf("%s: cannot read: %s\n", path, strerror(errno));
        return -1;
    }
    len = m.len;
    rc = kv_log_replay(m.p, m.len, &li);
    kv_unmap_file(&m);
    cc->commands += li.count;
    if (rc == 0)
        return 0;
    printf("%s: %s\n", path, li.what);
    if (!cc->fix || !last)
        return -1;
    return fix_file(path, &li, len);
}

static int check_snapshot(const char *path, unsigned long long *keys)
{
    kv_mapping m;
    kv_load_info li;
    int rc;
    if (kv_map_file(path, &m) < 0) {
        printf("%s: cannot read: %s\n", path, strerror(errno));
        return -1;
    }
    rc = kv_snap_load(kv_srv.db, m.p, m.len, kv_mstime(), &li);
    kv_unmap_file(&m);
    if (rc < 0)
        printf("%s: %s\n", path, li.what);
    *keys = li.count;
    return rc;
}

static int check_manifest(check_ctx *cc, const char *path)
{
    char dir[PATH_MAX], part[PATH_MAX + KV_AOF_NAME_MAX], why[256];
    const char *slash = strrchr(path, '/');
    unsigned long long keys;
    kv_mapping m;
    kv_manifest man;
    int rc = 0;
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    if (kv_map_file(path, &m) < 0) {
        printf("%s: cannot read: %s\n", path, strerror(errno));
        return -1;
    }
    rc = kv_manifest_parse(m.p, m.len, &man, why, sizeof why);
    kv_unmap_file(&m);
    if (rc < 0) {
        printf("%s: %s\n", path, why);
        return -1;
    }
    if (man.base.name) {
        snprintf(part, sizeof part, "%s/%s", dir, man.base.name);
        rc = check_snapshot(part, &keys);
    }
    for (size_t i = 0; rc == 0 && i < man.nincr; i++) {
        snprintf(part, sizeof part, "%s/%s", dir, man.incr[i].name);
        rc = check_incr(cc, part, i + 1 == man.nincr);
    }
    kv_manifest_free(&man);
    return rc;
}

static int check_path(check_ctx *cc, const char *path)
{
    size_t n = strlen(path);
    kv_mapping m;
    int snapshot;
    unsigned long long keys;
    if (n > 9 && !strcmp(path + n - 9, ".manifest"))
        return check_manifest(cc, path);
    if (kv_map_file(path, &m) < 0) {
        printf("%s: cannot read: %s\n", path, strerror(errno));
        return -1;
    }
    snapshot = m.p && kv_snap_is_snapshot(m.p, m.len);
    kv_unmap_file(&m);
    if (!snapshot)
        return check_incr(cc, path, 1);
    if (check_snapshot(path, &keys) < 0)
        return -1;
    printf("OK: %llu keys\n", keys);
    return 1; /* reported */
}

int kv_check_aof_main(int argc, char **argv)
{
    check_ctx cc = {0, 0};
    const char *path = NULL;
    uint8_t seed[8];
    uint64_t s;
    int rc;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--check-aof") && i + 1 < argc && !path)
            path = argv[++i];
        else if (!strcmp(argv[i], "--fix"))
            cc.fix = 1;
        else
            return usage();
    }
    if (path == NULL)
        return usage();
    kv_os_random(seed, sizeof seed);
    memcpy(&s, seed, sizeof s);
    kv_state_init(s);
    rc = check_path(&cc, path);
    if (rc == 0)
        printf("OK: %llu commands\n", cc.commands);
    fflush(stdout);
    kv_state_free();
    return rc < 0 ? 1 : 0;
}

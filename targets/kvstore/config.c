/*
 * config.c -- command-line parsing and CONFIG GET/SET (see config.h).
 * Invalid arguments produce one line naming the argument and its valid
 * values (the caller exits with status 2).  CONFIG SET texts follow Redis
 * 7.0's config.c ("CONFIG SET failed (possibly related to argument 'x') -
 * ...", "Unknown option or number of arguments for CONFIG SET - 'x'"),
 * including the persistence parameters (appendonly, appendfsync, save,
 * auto-aof-rewrite-*, the file names, and our aof-truncate-corrupt).  This
 * module only validates and stores values; cmd_server.c applies the side
 * effects of appendonly/appendfsync changes.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "config.h"
#include "mem.h"
#include "util.h"

#include <arpa/inet.h>
#include <assert.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define USAGE_OPTIONS                                                              \
    "--port N, --bind ADDR, --threads N, --maxclients N, --maxmemory BYTES, "     \
    "--maxmemory-policy POLICY, --proto-max-bulk-len BYTES, "                      \
    "--client-output-limit BYTES, --hz N, --dir PATH, --logfile PATH, "            \
    "--appendonly yes|no, --appendfsync always|everysec|no, --appenddirname NAME, " \
    "--appendfilename NAME, --dbfilename NAME, --save \"SECS CHANGES ...\", "      \
    "--aof-truncate-corrupt yes|no, --aof-load-truncated yes|no, "                 \
    "--auto-aof-rewrite-percentage N, "                                            \
    "--auto-aof-rewrite-min-size BYTES, --check-aof PATH [--fix], --help"

void kv_config_usage(void)
{
    printf("usage: kvstore-server --port N [--bind 127.0.0.1] [--threads N] "
           "[--maxclients N]\n"
           "       [--maxmemory BYTES] [--maxmemory-policy %s]\n"
           "       [--proto-max-bulk-len BYTES] [--client-output-limit BYTES] "
           "[--hz N]\n"
           "       [--dir PATH] [--logfile PATH]\n"
           "       [--appendonly yes|no] [--appendfsync always|everysec|no]\n"
           "       [--appenddirname NAME] [--appendfilename NAME] "
           "[--dbfilename NAME]\n"
           "       [--save \"SECS CHANGES [SECS CHANGES ...]\"] "
           "[--aof-truncate-corrupt yes|no]\n"
           "       [--aof-load-truncated yes|no]\n"
           "       [--auto-aof-rewrite-percentage N] "
           "[--auto-aof-rewrite-min-size BYTES]\n"
           "   or: kvstore-server --check-aof PATH [--fix]\n"
           "defaults: --appendonly no --appendfsync everysec --appenddirname "
           "appendonlydir\n"
           "          --appendfilename appendonly.aof --dbfilename dump.kvs --save \"\"\n"
           "          --aof-truncate-corrupt no --aof-load-truncated yes\n"
           "          --auto-aof-rewrite-percentage 100\n"
           "          --auto-aof-rewrite-min-size 64mb\n",
           "noeviction|allkeys-random|allkeys-lru|volatile-ttl");
}

void kv_config_defaults(kv_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->port = -1;
    cfg->threads = 1;
    cfg->maxclients = KV_DEFAULT_MAXCLIENTS;
    cfg->policy = KV_POLICY_NOEVICTION;
    cfg->proto_max_bulk_len = KV_DEFAULT_PROTO_MAX_BULK_LEN;
    cfg->client_output_limit = KV_DEFAULT_CLIENT_OUTPUT_LIMIT;
    cfg->hz = KV_DEFAULT_HZ;
    cfg->appendfsync = KV_FSYNC_EVERYSEC;
    cfg->appenddirname = kv_strdup("appendonlydir");
    cfg->appendfilename = kv_strdup("appendonly.aof");
    cfg->dbfilename = kv_strdup("dump.kvs");
    cfg->auto_aof_rewrite_percentage = 100;
    cfg->aof_load_truncated = 1;
    cfg->auto_aof_rewrite_min_size = KV_DEFAULT_AOF_REWRITE_MIN_SIZE;
}

static const char *const fsync_names[] = {
    [KV_FSYNC_NO] = "no", [KV_FSYNC_EVERYSEC] = "everysec", [KV_FSYNC_ALWAYS] = "always"};

const char *kv_fsync_policy_name(kv_fsync_policy p)
{
    assert((unsigned)p < sizeof fsync_names / sizeof fsync_names[0]);
    return fsync_names[p];
}

static int parse_fsync(const char *v, kv_fsync_policy *out)
{
    for (unsigned i = 0; i < sizeof fsync_names / sizeof fsync_names[0]; i++) {
        if (strcasecmp(v, fsync_names[i]) == 0) {
            *out = (kv_fsync_policy)i;
            return 0;
        }
    }
    return -1;
}

static int parse_bool(const char *v, int *out)
{
    if (strcasecmp(v, "yes") == 0)
        *out = 1;
    else if (strcasecmp(v, "no") == 0)
        *out = 0;
    else
        return -1;
    return 0;
}

/* A file name inside --dir (Redis: "can't be a path, just a filename");
 * no blanks either: the log manifest separates words with them. */
static int valid_filename(const char *v)
{
    return v[0] != '\0' && strlen(v) <= 255 && strpbrk(v, "/ \t\r\n") == NULL &&
           strcmp(v, ".") != 0 && strcmp(v, "..") != 0;
}

/* "SECS CHANGES [SECS CHANGES ...]" or "" (no rules). */
static int parse_save(const char *v, kv_save_rule *rules, int *nrules)
{
    long long nums[2 * KV_MAX_SAVE_RULES];
    int n = 0;
    const char *p = v;
    for (;;) {
        while (*p == ' ')
            p++;
        if (*p == '\0')
            break;
        size_t len = strcspn(p, " ");
        if (n == 2 * KV_MAX_SAVE_RULES || !kv_string2ll(p, len, &nums[n]) || nums[n] < 0)
            return -1;
        n++;
        p += len;
    }
    if (n % 2)
        return -1;
    for (int i = 0; i < n / 2; i++) {
        rules[i].seconds = nums[2 * i];
        rules[i].changes = nums[2 * i + 1];
    }
    *nrules = n / 2;
    return 0;
}

static void format_save(const kv_config *c, char *b, size_t n)
{
    size_t used = 0;
    b[0] = '\0';
    for (int i = 0; i < c->nsave && used < n; i++) {
        int w = snprintf(b + used, n - used, "%s%lld %lld", i ? " " : "",
                         c->save[i].seconds, c->save[i].changes);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

void kv_config_free(kv_config *cfg)
{
    kv_free(cfg->bind);
    kv_free(cfg->dir);
    kv_free(cfg->logfile);
    kv_free(cfg->appenddirname);
    kv_free(cfg->appendfilename);
    kv_free(cfg->dbfilename);
    cfg->bind = cfg->dir = cfg->logfile = NULL;
    cfg->appenddirname = cfg->appendfilename = cfg->dbfilename = NULL;
}

static int parse_range(const char *s, long long lo, long long hi, long long *out)
{
    long long v;
    if (!kv_string2ll(s, strlen(s), &v) || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int valid_address(const char *s)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static int valid_dir(const char *s)
{
    struct stat st;
    return s[0] != '\0' && stat(s, &st) == 0 && S_ISDIR(st.st_mode);
}

static void replace_str(char **slot, const char *value)
{
    kv_free(*slot);
    *slot = kv_strdup(value);
}

typedef struct cli_option {
    const char *name;
    const char *valid; /* what the error message lists as valid values */
} cli_option;

static const cli_option cli_options[] = {
    {"--port", "an integer from 1 to 65535"},
    {"--bind", "an IPv4 or IPv6 address, e.g. 127.0.0.1"},
    {"--threads", "an integer from 1 to 64"},
    {"--maxclients", "an integer from 1 to 1000000"},
    {"--maxmemory", "a byte count such as 0 (no limit), 1048576, 100mb, 2gb"},
    {"--maxmemory-policy", KV_POLICY_NAMES},
    {"--proto-max-bulk-len", "a byte count of at least 1, such as 1024 or 512mb"},
    {"--client-output-limit", "a byte count such as 0 (no limit), 1048576, 64mb"},
    {"--hz", "an integer from 1 to 500"},
    {"--dir", "an existing directory"},
    {"--logfile", "a file path"},
    {"--appendonly", "yes or no"},
    {"--appendfsync", "always, everysec or no"},
    {"--appenddirname", "a directory name inside --dir (no '/' or spaces)"},
    {"--appendfilename", "a file name (no '/' or spaces)"},
    {"--dbfilename", "a file name inside --dir (no '/' or spaces)"},
    {"--save", "\"\" or pairs of integers \"SECONDS CHANGES ...\" (at most 16 pairs), "
               "e.g. \"3600 1 300 100\""},
    {"--aof-truncate-corrupt", "yes or no"},
    {"--aof-load-truncated", "yes or no"},
    {"--auto-aof-rewrite-percentage", "an integer from 0 to 2147483647 (0: never)"},
    {"--auto-aof-rewrite-min-size", "a byte count such as 64mb"},
};

#define NOPTIONS (sizeof cli_options / sizeof cli_options[0])

static const cli_option *find_option(const char *name)
{
    for (size_t i = 0; i < NOPTIONS; i++)
        if (!strcmp(name, cli_options[i].name))
            return &cli_options[i];
    return NULL;
}

static int apply_filename(char **slot, const char *v)
{
    if (!valid_filename(v))
        return -1;
    replace_str(slot, v);
    return 0;
}

/* The persistence options; 1: NAME is not one of them. */
static int apply_persist_option(kv_config *cfg, const char *name, const char *v)
{
    long long n;
    if (!strcmp(name, "--appendonly"))
        return parse_bool(v, &cfg->appendonly);
    if (!strcmp(name, "--appendfsync"))
        return parse_fsync(v, &cfg->appendfsync);
    if (!strcmp(name, "--appenddirname"))
        return apply_filename(&cfg->appenddirname, v);
    if (!strcmp(name, "--appendfilename"))
        return apply_filename(&cfg->appendfilename, v);
    if (!strcmp(name, "--dbfilename"))
        return apply_filename(&cfg->dbfilename, v);
    if (!strcmp(name, "--save"))
        return parse_save(v, cfg->save, &cfg->nsave);
    if (!strcmp(name, "--aof-truncate-corrupt"))
        return parse_bool(v, &cfg->aof_truncate_corrupt);
    if (!strcmp(name, "--aof-load-truncated"))
        return parse_bool(v, &cfg->aof_load_truncated);
    if (!strcmp(name, "--auto-aof-rewrite-percentage")) {
        if (parse_range(v, 0, INT_MAX, &n))
            return -1;
        cfg->auto_aof_rewrite_percentage = n;
        return 0;
    }
    if (!strcmp(name, "--auto-aof-rewrite-min-size"))
        return kv_memtoull(v, &cfg->auto_aof_rewrite_min_size);
    return 1;
}

/* Applies one "--name value"; 0 when the value is valid. */
static int apply_option(kv_config *cfg, const char *name, const char *v)
{
    int r = apply_persist_option(cfg, name, v);
    if (r != 1)
        return r;
    long long n;
    unsigned long long m;
    if (!strcmp(name, "--port")) {
        if (parse_range(v, 1, 65535, &n))
            return -1;
        cfg->port = (int)n;
    } else if (!strcmp(name, "--bind")) {
        if (!valid_address(v))
            return -1;
        replace_str(&cfg->bind, v);
    } else if (!strcmp(name, "--threads")) {
        if (parse_range(v, 1, KV_MAX_THREADS, &n))
            return -1;
        cfg->threads = (int)n;
    } else if (!strcmp(name, "--maxclients")) {
        if (parse_range(v, 1, 1000000, &n))
            return -1;
        cfg->maxclients = n;
    } else if (!strcmp(name, "--maxmemory")) {
        if (kv_memtoull(v, &cfg->maxmemory))
            return -1;
    } else if (!strcmp(name, "--maxmemory-policy")) {
        return kv_policy_parse(v, &cfg->policy);
    } else if (!strcmp(name, "--proto-max-bulk-len")) {
        if (kv_memtoull(v, &m) || m < 1 || m > (unsigned long long)LLONG_MAX)
            return -1;
        cfg->proto_max_bulk_len = (long long)m;
    } else if (!strcmp(name, "--client-output-limit")) {
        return kv_memtoull(v, &cfg->client_output_limit);
    } else if (!strcmp(name, "--hz")) {
        if (parse_range(v, 1, 500, &n))
            return -1;
        cfg->hz = (int)n;
    } else if (!strcmp(name, "--dir")) {
        if (!valid_dir(v))
            return -1;
        replace_str(&cfg->dir, v);
    } else {
        assert(!strcmp(name, "--logfile"));
        if (v[0] == '\0')
            return -1;
        replace_str(&cfg->logfile, v);
    }
    return 0;
}

int kv_config_from_args(kv_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    kv_config_defaults(cfg);
    for (int i = 1; i < argc; i++) {
        const char *name = argv[i];
        const cli_option *opt;
        if (!strcmp(name, "--help") || !strcmp(name, "-h")) {
            kv_config_usage();
            return 1;
        }
        opt = find_option(name);
        if (opt == NULL) {
            snprintf(err, errlen, "unknown argument '%s' (valid: %s)", name, USAGE_OPTIONS);
            return -1;
        }
        if (i + 1 >= argc) {
            snprintf(err, errlen, "missing value for %s (valid: %s)", name, opt->valid);
            return -1;
        }
        if (apply_option(cfg, name, argv[++i])) {
            snprintf(err, errlen, "invalid value '%s' for %s (valid: %s)", argv[i], name,
                     opt->valid);
            return -1;
        }
    }
    if (cfg->port < 0) {
        snprintf(err, errlen, "missing required argument --port (valid: %s)",
                 cli_options[0].valid);
        return -1;
    }
    if (cfg->bind == NULL)
        cfg->bind = kv_strdup("127.0.0.1");
    return 0;
}

/* ---- CONFIG GET / SET ---- */

typedef struct param {
    const char *name;
    void (*get)(const kv_config *cfg, char *buf, size_t cap);
    /* NULL: immutable.  Returns NULL or the reason the value is invalid. */
    const char *(*set)(kv_config *cfg, const char *value);
} param;

static void get_port(const kv_config *c, char *b, size_t n) { snprintf(b, n, "%d", c->port); }
static void get_bind(const kv_config *c, char *b, size_t n) { snprintf(b, n, "%s", c->bind); }
static void get_threads(const kv_config *c, char *b, size_t n) { snprintf(b, n, "%d", c->threads); }
static void get_maxclients(const kv_config *c, char *b, size_t n) { snprintf(b, n, "%lld", c->maxclients); }
static void get_maxmemory(const kv_config *c, char *b, size_t n) { snprintf(b, n, "%llu", c->maxmemory); }
static void get_policy(const kv_config *c, char *b, size_t n) { snprintf(b, n, "%s", kv_policy_name(c->policy)); }
static void get_bulk(const kv_config *c, char *b, size_t n) { snprintf(b, n, "%lld", c->proto_max_bulk_len); }
static void get_outlimit(const kv_config *c, char *b, size_t n) { snprintf(b, n, "%llu", c->client_output_limit); }
static void get_hz(const kv_config *c, char *b, size_t n) { snprintf(b, n, "%d", c->hz); }
static void get_logfile(const kv_config *c, char *b, size_t n) { snprintf(b, n, "%s", c->logfile ? c->logfile : ""); }
static void get_samples(const kv_config *c, char *b, size_t n) { (void)c; snprintf(b, n, "5"); }
static void get_one(const kv_config *c, char *b, size_t n) { (void)c; snprintf(b, n, "1"); }
static void get_zero(const kv_config *c, char *b, size_t n) { (void)c; snprintf(b, n, "0"); }

static void get_dir(const kv_config *c, char *b, size_t n)
{
    (void)c;
    if (getcwd(b, n) == NULL)
        snprintf(b, n, "%s", "");
}

static const char *set_maxmemory(kv_config *c, const char *v)
{
    return kv_memtoull(v, &c->maxmemory) ? "argument must be a memory value" : NULL;
}

static const char *set_policy(kv_config *c, const char *v)
{
    return kv_policy_parse(v, &c->policy)
               ? "argument(s) must be one of the following: " KV_POLICY_NAMES
               : NULL;
}

static const char *set_bulk(kv_config *c, const char *v)
{
    unsigned long long m;
    if (kv_memtoull(v, &m))
        return "argument must be a memory value";
    if (m < 1 || m > (unsigned long long)LLONG_MAX)
        return "argument must be between 1 and 9223372036854775807 inclusive";
    c->proto_max_bulk_len = (long long)m;
    return NULL;
}

static const char *set_outlimit(kv_config *c, const char *v)
{
    return kv_memtoull(v, &c->client_output_limit) ? "argument must be a memory value"
                                                    : NULL;
}

static const char *set_hz(kv_config *c, const char *v)
{
    long long n;
    if (!kv_string2ll(v, strlen(v), &n))
        return "argument couldn't be parsed into an integer";
    if (n < 1 || n > 500)
        return "argument must be between 1 and 500 inclusive";
    c->hz = (int)n;
    return NULL;
}

static const char *set_save(kv_config *c, const char *v)
{
    return parse_save(v, c->save, &c->nsave) ? "Invalid save parameters" : NULL;
}

static const char *set_bool(int *slot, const char *v)
{
    return parse_bool(v, slot) ? "argument must be 'yes' or 'no'" : NULL;
}

static const char *set_appendonly(kv_config *c, const char *v)
{
    return set_bool(&c->appendonly, v);
}

static const char *set_truncate(kv_config *c, const char *v)
{
    return set_bool(&c->aof_truncate_corrupt, v);
}

static const char *set_load_truncated(kv_config *c, const char *v)
{
    return set_bool(&c->aof_load_truncated, v);
}

static const char *set_appendfsync(kv_config *c, const char *v)
{
    return parse_fsync(v, &c->appendfsync)
               ? "argument(s) must be one of the following: everysec, always, no"
               : NULL;
}

static const char *set_rewrite_perc(kv_config *c, const char *v)
{
    long long n;
    if (!kv_string2ll(v, strlen(v), &n))
        return "argument couldn't be parsed into an integer";
    if (n < 0 || n > INT_MAX)
        return "argument must be between 0 and 2147483647 inclusive";
    c->auto_aof_rewrite_percentage = n;
    return NULL;
}

static const char *set_rewrite_min(kv_config *c, const char *v)
{
    return kv_memtoull(v, &c->auto_aof_rewrite_min_size) ? "argument must be a memory value"
                                                          : NULL;
}

static const char *set_protected(kv_config *c, const char *v)
{
    (void)c;
    (void)v;
    return "can't set protected config";
}

static void get_appendonly(const kv_config *c, char *b, size_t n) { snprintf(b, n, "%s", c->appendonly ? "yes" : "no"); }
static void get_truncate(const kv_config *c, char *b, size_t n) { snprintf(b, n, "%s", c->aof_truncate_corrupt ? "yes" : "no"); }
static void get_load_truncated(const kv_config *c, char *b, size_t n) { snprintf(b, n, "%s", c->aof_load_truncated ? "yes" : "no"); }
static void get_appendfsync(const kv_config *c, char *b, size_t n) { snprintf(b, n, "%s", kv_fsync_policy_name(c->appendfsync)); }
static void get_dirname(const kv_config *c, char *b, size_t n) { snprintf(b, n, "%s", c->appenddirname); }
static void get_aofname(const kv_config *c, char *b, size_t n) { snprintf(b, n, "%s", c->appendfilename); }
static void get_dbfilename(const kv_config *c, char *b, size_t n) { snprintf(b, n, "%s", c->dbfilename); }
static void get_rewrite_perc(const kv_config *c, char *b, size_t n) { snprintf(b, n, "%lld", c->auto_aof_rewrite_percentage); }
static void get_rewrite_min(const kv_config *c, char *b, size_t n) { snprintf(b, n, "%llu", c->auto_aof_rewrite_min_size); }

static const param params[] = {
    {"aof-load-truncated", get_load_truncated, set_load_truncated},
    {"aof-truncate-corrupt", get_truncate, set_truncate},
    {"appenddirname", get_dirname, NULL},
    {"appendfilename", get_aofname, NULL},
    {"appendfsync", get_appendfsync, set_appendfsync},
    {"appendonly", get_appendonly, set_appendonly},
    {"auto-aof-rewrite-min-size", get_rewrite_min, set_rewrite_min},
    {"auto-aof-rewrite-percentage", get_rewrite_perc, set_rewrite_perc},
    {"bind", get_bind, NULL},
    {"client-output-limit", get_outlimit, set_outlimit},
    {"databases", get_one, NULL},
    {"dbfilename", get_dbfilename, set_protected},
    {"dir", get_dir, NULL},
    {"hz", get_hz, set_hz},
    {"io-threads", get_threads, NULL},
    {"logfile", get_logfile, NULL},
    {"maxclients", get_maxclients, NULL},
    {"maxmemory", get_maxmemory, set_maxmemory},
    {"maxmemory-policy", get_policy, set_policy},
    {"maxmemory-samples", get_samples, NULL},
    {"port", get_port, NULL},
    {"proto-max-bulk-len", get_bulk, set_bulk},
    {"save", format_save, set_save},
    {"timeout", get_zero, NULL},
};

#define NPARAMS (sizeof params / sizeof params[0])

void kv_config_get(const kv_config *cfg, const char *const *pats, const size_t *plens,
                   int npat, kv_config_emit_fn *emit, void *priv)
{
    char value[PATH_MAX + 64];
    for (size_t i = 0; i < NPARAMS; i++) {
        const char *name = params[i].name;
        for (int j = 0; j < npat; j++) {
            if (kv_stringmatch(pats[j], plens[j], name, strlen(name), 1)) {
                params[i].get(cfg, value, sizeof value);
                emit(priv, name, value);
                break;
            }
        }
    }
}

static const param *find_param(const char *name)
{
    for (size_t i = 0; i < NPARAMS; i++)
        if (strcasecmp(params[i].name, name) == 0)
            return &params[i];
    return NULL;
}

/* Checks names (unknown, duplicate) before any value is looked at. */
static int check_names(const char *const *args, int nargs, char *err, size_t errlen)
{
    for (int i = 0; i < nargs; i += 2) {
        if (find_param(args[i]) == NULL) {
            snprintf(err, errlen,
                     "Unknown option or number of arguments for CONFIG SET - '%s'",
                     args[i]);
            return -1;
        }
        for (int j = 0; j < i; j += 2) {
            if (strcasecmp(args[i], args[j]) == 0) {
                snprintf(err, errlen,
                         "CONFIG SET failed (possibly related to argument '%s') - "
                         "duplicate parameter",
                         args[i]);
                return -1;
            }
        }
    }
    return 0;
}

int kv_config_set(kv_config *cfg, const char *const *args, int nargs, char *err,
                  size_t errlen)
{
    kv_config tmp = *cfg; /* string members are immutable: a shallow copy is safe */
    if (check_names(args, nargs, err, errlen))
        return -1;
    for (int i = 0; i < nargs; i += 2) {
        const param *p = find_param(args[i]);
        const char *why = p->set ? p->set(&tmp, args[i + 1]) : "can't set immutable config";
        if (why) {
            snprintf(err, errlen, "CONFIG SET failed (possibly related to argument '%s') - %s",
                     args[i], why);
            return -1;
        }
    }
    *cfg = tmp;
    return 0;
}

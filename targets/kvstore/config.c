/*
 * config.c -- command-line parsing and CONFIG GET/SET (see config.h).
 * Invalid arguments produce one line naming the argument and its valid
 * values (the caller exits with status 2).  CONFIG SET texts follow Redis
 * 7.0's config.c ("CONFIG SET failed (possibly related to argument 'x') -
 * ...", "Unknown option or number of arguments for CONFIG SET - 'x'").
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
    "--client-output-limit BYTES, --hz N, --dir PATH, --logfile PATH, --help"

void kv_config_usage(void)
{
    printf("usage: kvstore-server --port N [--bind 127.0.0.1] [--threads N] "
           "[--maxclients N]\n"
           "       [--maxmemory BYTES] [--maxmemory-policy %s]\n"
           "       [--proto-max-bulk-len BYTES] [--client-output-limit BYTES] "
           "[--hz N]\n"
           "       [--dir PATH] [--logfile PATH]\n",
           "noeviction|allkeys-random|allkeys-lru|volatile-ttl");
}

static void set_defaults(kv_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->port = -1;
    cfg->threads = 1;
    cfg->maxclients = KV_DEFAULT_MAXCLIENTS;
    cfg->policy = KV_POLICY_NOEVICTION;
    cfg->proto_max_bulk_len = KV_DEFAULT_PROTO_MAX_BULK_LEN;
    cfg->client_output_limit = KV_DEFAULT_CLIENT_OUTPUT_LIMIT;
    cfg->hz = KV_DEFAULT_HZ;
}

void kv_config_free(kv_config *cfg)
{
    kv_free(cfg->bind);
    kv_free(cfg->dir);
    kv_free(cfg->logfile);
    cfg->bind = cfg->dir = cfg->logfile = NULL;
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
};

#define NOPTIONS (sizeof cli_options / sizeof cli_options[0])

static const cli_option *find_option(const char *name)
{
    for (size_t i = 0; i < NOPTIONS; i++)
        if (!strcmp(name, cli_options[i].name))
            return &cli_options[i];
    return NULL;
}

/* Applies one "--name value"; 0 when the value is valid. */
static int apply_option(kv_config *cfg, const char *name, const char *v)
{
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
    set_defaults(cfg);
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
static void get_empty(const kv_config *c, char *b, size_t n) { (void)c; snprintf(b, n, "%s", ""); }
static void get_no(const kv_config *c, char *b, size_t n) { (void)c; snprintf(b, n, "no"); }
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
    (void)c;
    return v[0] == '\0' ? NULL : "Invalid save parameters (persistence is not available)";
}

static const char *set_appendonly(kv_config *c, const char *v)
{
    (void)c;
    return strcasecmp(v, "no") == 0 ? NULL
                                    : "argument(s) must be one of the following: no";
}

static const param params[] = {
    {"appendonly", get_no, set_appendonly},
    {"bind", get_bind, NULL},
    {"client-output-limit", get_outlimit, set_outlimit},
    {"databases", get_one, NULL},
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
    {"save", get_empty, set_save},
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

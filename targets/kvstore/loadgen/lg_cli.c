/*
 * lg_cli.c -- the command line of kvstore-loadgen.
 *
 *   kvstore-loadgen --port P [--host 127.0.0.1] [--connections C=50]
 *       [--pipeline D=1] [--get-ratio R=0.5] [--value-size S=16]
 *       [--keyspace K=100000] [--duration SEC=2] [--warmup SEC=0.5]
 *       [--rate OPS] [--threads T=1] [--seed N] [--populate]
 *
 * Parsed with getopt_long (POSIX getopt conventions, GNU long options).
 * Every value is checked in full (no trailing junk, no NaN, in range); a
 * bad argument prints ONE line on stderr naming the argument and the valid
 * values, and the caller exits with status 2.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lg.h"

#define MAX_CONNECTIONS 10000
#define MAX_PIPELINE 1024
#define MAX_VALUE_SIZE (1u << 20)
#define MAX_KEYSPACE 1000000000000ULL /* 12 decimal digits */
#define MAX_SECONDS 86400.0
#define MIN_RATE 1e-3
#define MAX_RATE 1e8
#define MAX_THREADS 256
#define DEFAULT_SEED 0x6b7673746f7265ULL /* "kvstore" */

enum {
    OPT_PORT = 256, OPT_HOST, OPT_CONNECTIONS, OPT_PIPELINE, OPT_GET_RATIO,
    OPT_VALUE_SIZE, OPT_KEYSPACE, OPT_DURATION, OPT_WARMUP, OPT_RATE,
    OPT_THREADS, OPT_SEED, OPT_POPULATE, OPT_HELP
};

static const struct option OPTIONS[] = {
    {"port", required_argument, NULL, OPT_PORT},
    {"host", required_argument, NULL, OPT_HOST},
    {"connections", required_argument, NULL, OPT_CONNECTIONS},
    {"pipeline", required_argument, NULL, OPT_PIPELINE},
    {"get-ratio", required_argument, NULL, OPT_GET_RATIO},
    {"value-size", required_argument, NULL, OPT_VALUE_SIZE},
    {"keyspace", required_argument, NULL, OPT_KEYSPACE},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"warmup", required_argument, NULL, OPT_WARMUP},
    {"rate", required_argument, NULL, OPT_RATE},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"populate", no_argument, NULL, OPT_POPULATE},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static const char VALID_OPTIONS[] =
    "--port --host --connections --pipeline --get-ratio --value-size "
    "--keyspace --duration --warmup --rate --threads --seed --populate "
    "--help";

/* What each option accepts, for the error messages (indexed by
 * opt - OPT_PORT; the ranges are the MAX_ and MIN_ values above). */
static const char *const VALID[] = {
    "an integer in 1..65535",
    "a host name or address",
    "an integer in 1..10000",
    "an integer in 1..1024",
    "a number in 0..1",
    "an integer in 0..1048576",
    "an integer in 1..1000000000000",
    "seconds, > 0 and <= 86400",
    "seconds, >= 0 and <= 86400",
    "requests/s in 0.001..100000000",
    "an integer in 1..256",
    "an unsigned 64-bit integer",
    "no value",
    "no value",
};

_Static_assert(sizeof VALID / sizeof VALID[0] == OPT_HELP - OPT_PORT + 1,
               "one description per option");

static const char *valid_for(int opt)
{
    assert(opt >= OPT_PORT && opt <= OPT_HELP);
    return VALID[opt - OPT_PORT];
}

void lg_cli_usage(void)
{
    printf("usage: %s --port P [--host 127.0.0.1] [--connections C=50]\n"
           "    [--pipeline D=1] [--get-ratio R=0.5] [--value-size S=16]\n"
           "    [--keyspace K=100000] [--duration SEC=2] [--warmup SEC=0.5]\n"
           "    [--rate OPS] [--threads T=1] [--seed N] [--populate]\n"
           "Drives a RESP2 server with GET/SET and prints one JSON object.\n",
           LG_PROG);
}

static bool parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return false; /* no sign, no space */
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool parse_int(const char *s, int lo, int hi, int *out)
{
    uint64_t v;
    if (!parse_u64(s, (uint64_t)lo, (uint64_t)hi, &v))
        return false;
    *out = (int)v;
    return true;
}

static bool parse_size(const char *s, size_t hi, size_t *out)
{
    uint64_t v;
    if (!parse_u64(s, 0, hi, &v))
        return false;
    *out = (size_t)v;
    return true;
}

/* A finite real in [lo, hi], or (lo, hi] when lo_open. */
static bool parse_real(const char *s, double lo, double hi, bool lo_open,
                       double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v))
        return false;
    if (v < lo || v > hi || (lo_open && v <= lo))
        return false;
    *out = v;
    return true;
}

static bool set_option(int opt, const char *arg, lg_config *cfg)
{
    switch (opt) {
    case OPT_PORT:
        return parse_int(arg, 1, 65535, &cfg->port);
    case OPT_HOST:
        cfg->host = arg;
        return *arg != '\0';
    case OPT_CONNECTIONS:
        return parse_int(arg, 1, MAX_CONNECTIONS, &cfg->connections);
    case OPT_PIPELINE:
        return parse_int(arg, 1, MAX_PIPELINE, &cfg->pipeline);
    case OPT_GET_RATIO:
        return parse_real(arg, 0.0, 1.0, false, &cfg->get_ratio);
    case OPT_VALUE_SIZE:
        return parse_size(arg, MAX_VALUE_SIZE, &cfg->value_size);
    case OPT_KEYSPACE:
        return parse_u64(arg, 1, MAX_KEYSPACE, &cfg->keyspace);
    case OPT_DURATION:
        return parse_real(arg, 0.0, MAX_SECONDS, true, &cfg->duration_s);
    case OPT_WARMUP:
        return parse_real(arg, 0.0, MAX_SECONDS, false, &cfg->warmup_s);
    case OPT_RATE:
        return parse_real(arg, MIN_RATE, MAX_RATE, false, &cfg->rate);
    case OPT_THREADS:
        return parse_int(arg, 1, MAX_THREADS, &cfg->threads);
    case OPT_SEED:
        return parse_u64(arg, 0, UINT64_MAX, &cfg->seed);
    case OPT_POPULATE:
        cfg->populate = true;
        return true;
    default:
        assert(!"option without a handler");
        return false;
    }
}

static void set_defaults(lg_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->host = "127.0.0.1";
    cfg->connections = 50;
    cfg->pipeline = 1;
    cfg->get_ratio = 0.5;
    cfg->value_size = 16;
    cfg->keyspace = 100000;
    cfg->duration_s = 2.0;
    cfg->warmup_s = 0.5;
    cfg->threads = 1;
    cfg->seed = DEFAULT_SEED;
}

/* The command-line word getopt_long stopped at. */
static const char *offending(char **argv, int argc)
{
    int i = optind - 1;
    return i >= 1 && i < argc ? argv[i] : "?";
}

/* The option a word names ("--name" or "--name=value"), or -1. */
static int named_option(const char *word)
{
    if (strncmp(word, "--", 2) != 0)
        return -1;
    size_t n = strcspn(word + 2, "=");
    for (const struct option *o = OPTIONS; o->name; o++)
        if (strlen(o->name) == n && strncmp(o->name, word + 2, n) == 0)
            return o->val;
    return -1;
}

/* getopt_long's complaint (':' missing value, '?' anything else). */
static int rejected(int opt, char **argv, int argc)
{
    const char *word = offending(argv, argc);
    int known = named_option(word);
    if (known >= 0 && opt == ':')
        fprintf(stderr, "%s: %s needs a value: expected %s\n", LG_PROG,
                word, valid_for(known));
    else if (known >= 0)
        fprintf(stderr, "%s: invalid %s: expected %s\n", LG_PROG, word,
                valid_for(known));
    else
        fprintf(stderr, "%s: unknown argument '%s' (valid: %s)\n", LG_PROG,
                word, VALID_OPTIONS);
    return LG_CLI_BAD;
}

static int bad(int opt, const char *value)
{
    assert(OPTIONS[opt - OPT_PORT].val == opt);
    fprintf(stderr, "%s: invalid --%s '%s': expected %s\n", LG_PROG,
            OPTIONS[opt - OPT_PORT].name, value, valid_for(opt));
    return LG_CLI_BAD;
}

static int check_combination(const lg_config *cfg)
{
    if (cfg->port == 0) {
        fprintf(stderr, "%s: missing --port: expected %s\n", LG_PROG,
                valid_for(OPT_PORT));
        return LG_CLI_BAD;
    }
    if (cfg->threads > cfg->connections) {
        fprintf(stderr, "%s: invalid --threads '%d': expected an integer in "
                "1..%d (at most --connections)\n", LG_PROG, cfg->threads,
                cfg->connections);
        return LG_CLI_BAD;
    }
    return LG_CLI_RUN;
}

int lg_cli_parse(int argc, char **argv, lg_config *cfg)
{
    set_defaults(cfg);
    opterr = 0;
    optind = 1;
    for (int guard = 0; guard <= argc; guard++) {
        int opt = getopt_long(argc, argv, ":", OPTIONS, NULL);
        if (opt == -1)
            break;
        if (opt == OPT_HELP)
            return LG_CLI_HELP;
        if (opt == ':' || opt == '?')
            return rejected(opt, argv, argc);
        if (!set_option(opt, optarg, cfg))
            return bad(opt, optarg);
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s' (valid: %s)\n",
                LG_PROG, argv[optind], VALID_OPTIONS);
        return LG_CLI_BAD;
    }
    return check_combination(cfg);
}

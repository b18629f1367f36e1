/*
 * lg.h -- shared declarations of kvstore-loadgen, a load generator for
 * servers speaking the Redis protocol (RESP2,
 * https://redis.io/docs/reference/protocol-spec/).
 *
 * Module map (one concern per file, every exported name starts with lg_):
 *   lg_main.c      entry point: parse, connect, populate, run, report, exit
 *   lg_cli.c       command line parsing and validation (exit status 2)
 *   lg_net.c       TCP connect (non-blocking, TCP_NODELAY, bounded wait)
 *   lg_resp.c      RESP2 request encoding and incremental reply parsing
 *   lg_keys.c      random numbers, keys "key:%012d", the value bytes
 *   lg_clock.c     the monotonic clock
 *   lg_hist.c      log-linear latency histogram (HdrHistogram-style)
 *   lg_sched.c     fixed-rate schedule of intended send times (wrk2-style)
 *   lg_conn.c      one connection: buffers, in-flight queue, read/write
 *   lg_tally.c     per-thread results: what is recorded, and merging
 *   lg_worker.c    one thread's epoll loop (closed loop or fixed rate)
 *   lg_populate.c  --populate: MSET every key of the keyspace
 *   lg_report.c    the JSON document on stdout
 *
 * Times are CLOCK_MONOTONIC nanoseconds (uint64_t) throughout.
 */
#ifndef LG_H
#define LG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LG_PROG "kvstore-loadgen"
#define LG_NS_PER_S 1000000000ULL

/* Exit statuses. */
#define LG_EXIT_RUN 1   /* connection refused, protocol violation, ... */
#define LG_EXIT_USAGE 2 /* bad command line */

/* ---- clock (lg_clock.c) ------------------------------------------- */

uint64_t lg_now_ns(void); /* CLOCK_MONOTONIC */
void lg_sleep_until(uint64_t t_ns);

/* ---- configuration (lg_cli.c) ------------------------------------- */

typedef struct lg_config {
    const char *host;
    int port;
    int connections;
    int pipeline;
    double get_ratio;
    size_t value_size;
    uint64_t keyspace;
    double duration_s;
    double warmup_s;
    double rate; /* total requests/s; 0 selects the closed loop */
    int threads;
    uint64_t seed;
    bool populate;
} lg_config;

enum { LG_CLI_RUN, LG_CLI_HELP, LG_CLI_BAD };

/* Fills *cfg; on LG_CLI_BAD one line naming the argument is on stderr. */
int lg_cli_parse(int argc, char **argv, lg_config *cfg);
void lg_cli_usage(void);

/* ---- network (lg_net.c) ------------------------------------------- */

/* A connected non-blocking TCP socket with TCP_NODELAY, or -1 with a
 * one-line reason in err. */
int lg_net_connect(const char *host, int port, int timeout_ms, char *err,
                   size_t err_len);

/* ---- RESP2 (lg_resp.c) -------------------------------------------- */

#define LG_KEY_LEN 16 /* "key:" + 12 digits */
#define LG_RESP_MAX_BULK (512ULL * 1024 * 1024)

size_t lg_resp_get_size(void);
size_t lg_resp_set_size(size_t value_size);
size_t lg_resp_mset_size(size_t nkeys, size_t value_size);
size_t lg_resp_write_get(char *out, uint64_t key);
size_t lg_resp_write_set(char *out, uint64_t key, const char *value,
                         size_t value_size);
size_t lg_resp_write_mset(char *out, uint64_t first_key, size_t nkeys,
                          const char *value, size_t value_size);

typedef enum {
    LG_REPLY_STATUS,  /* +OK */
    LG_REPLY_ERROR,   /* -ERR ... */
    LG_REPLY_INTEGER, /* :1 */
    LG_REPLY_BULK,    /* $3 foo */
    LG_REPLY_NIL,     /* $-1 or *-1 */
    LG_REPLY_ARRAY    /* *2 ... */
} lg_reply_type;

typedef struct lg_reply {
    lg_reply_type type; /* of the top-level element */
    const char *text;   /* status/error text (points into the buffer) */
    size_t text_len;
} lg_reply;

typedef enum { LG_PARSE_DONE, LG_PARSE_MORE, LG_PARSE_BAD } lg_parse_status;

/* Parses one complete reply at buf[0..len): DONE sets *out and *used;
 * MORE means the reply is incomplete; BAD writes the violation to why. */
lg_parse_status lg_resp_parse(const char *buf, size_t len, lg_reply *out,
                              size_t *used, char *why, size_t why_len);
const char *lg_reply_type_name(lg_reply_type t);

/* ---- keys, values, random numbers (lg_keys.c) --------------------- */

typedef struct lg_rng {
    uint64_t s[4];
} lg_rng;

void lg_rng_seed(lg_rng *r, uint64_t seed);
uint64_t lg_rng_next(lg_rng *r);
uint64_t lg_rng_below(lg_rng *r, uint64_t n);
double lg_rng_unit(lg_rng *r);
void lg_key_format(char out[LG_KEY_LEN], uint64_t index);
char *lg_value_make(size_t size, uint64_t seed);

/* The request mix: which key, GET or SET. */
typedef struct lg_gen {
    lg_rng rng;
    uint64_t keyspace;
    double get_ratio;
} lg_gen;

void lg_gen_init(lg_gen *g, const lg_config *cfg, uint64_t stream);
bool lg_gen_next(lg_gen *g, uint64_t *key); /* true: GET, false: SET */

/* ---- latency histogram (lg_hist.c) -------------------------------- */

#define LG_HIST_SUB 128                   /* sub-buckets per octave */
#define LG_HIST_LINEAR (2 * LG_HIST_SUB)  /* exact values 0..255 us */
#define LG_HIST_MAX_US 60000000ULL        /* 60 s: values above clamp */
#define LG_HIST_OCTAVES 18                /* 2^8 .. 2^26 us */
#define LG_HIST_BUCKETS (LG_HIST_LINEAR + LG_HIST_OCTAVES * LG_HIST_SUB)

typedef struct lg_hist {
    uint64_t counts[LG_HIST_BUCKETS];
    uint64_t total;
    uint64_t sum_ns;
    uint64_t max_ns;
} lg_hist;

void lg_hist_init(lg_hist *h);
void lg_hist_record(lg_hist *h, uint64_t ns);
void lg_hist_merge(lg_hist *dst, const lg_hist *src);
uint64_t lg_hist_upper_us(int bucket);
uint64_t lg_hist_max_us(const lg_hist *h);
uint64_t lg_hist_percentile_us(const lg_hist *h, double pct);
double lg_hist_mean_us(const lg_hist *h);

/* ---- fixed-rate schedule (lg_sched.c) ----------------------------- */

typedef struct lg_sched {
    uint64_t origin_ns;
    double interval_ns;
    uint64_t n; /* requests issued so far */
} lg_sched;

void lg_sched_init(lg_sched *s, uint64_t start_ns, double total_rate,
                   int conn_index, int nconns);
uint64_t lg_sched_due(const lg_sched *s);
void lg_sched_advance(lg_sched *s);
uint64_t lg_sched_missed(const lg_sched *s, uint64_t from_ns, uint64_t to_ns);

/* ---- results of one thread (lg_tally.c) --------------------------- */

#define LG_ERR_TEXT 256

typedef struct lg_window {
    uint64_t warm_ns; /* requests starting before this are not recorded */
    uint64_t end_ns;  /* nor those starting at or after this */
} lg_window;

typedef struct lg_tally {
    lg_hist hist;
    uint64_t gets, sets, errors;
    uint64_t sent;       /* requests actually sent inside the window */
    uint64_t unanswered; /* still in flight when the drain gave up */
    uint64_t unsent;     /* fixed rate: intended in the window, never sent */
    bool has_error;
    uint64_t first_error_ns;
    char first_error[LG_ERR_TEXT];
} lg_tally;

void lg_tally_init(lg_tally *t);
void lg_tally_reply(lg_tally *t, const lg_window *win, uint64_t start_ns,
                    bool is_get, const lg_reply *rep, uint64_t now_ns);
void lg_tally_sent(lg_tally *t, const lg_window *win, uint64_t now_ns);
void lg_tally_merge(lg_tally *dst, const lg_tally *src);

/* ---- one connection (lg_conn.c) ----------------------------------- */

typedef struct lg_inflight {
    uint64_t start_ns; /* send time (closed loop) or intended time */
    bool is_get;
} lg_inflight;

typedef struct lg_conn {
    int fd;
    int id;
    bool want_out; /* EPOLLOUT requested */
    char *out;     /* encoded requests not yet written */
    size_t out_off, out_len, out_cap, out_max;
    char *in; /* received bytes not yet parsed */
    size_t in_len, in_cap;
    lg_inflight *ring; /* requests awaiting replies, oldest first */
    int depth, head, count;
    lg_sched sched;
} lg_conn;

enum { LG_IO_OK = 0, LG_IO_CLOSED = -1, LG_IO_PROTO = -2 };

int lg_conn_init(lg_conn *c, int fd, int id, int depth, size_t value_size);
void lg_conn_free(lg_conn *c);
int lg_conn_free_slots(const lg_conn *c);
bool lg_conn_issue(lg_conn *c, lg_gen *g, const char *value,
                   size_t value_size, uint64_t start_ns);
bool lg_conn_flush(lg_conn *c, int *err);
int lg_conn_read(lg_conn *c, lg_tally *t, const lg_window *win, char *why,
                 size_t why_len);

/* ---- threads (lg_worker.c) ---------------------------------------- */

typedef struct lg_shared {
    const lg_config *cfg;
    const char *value;
    uint64_t start_ns; /* the schedule and the warmup begin here */
    lg_window win;     /* the measured window */
    uint64_t drain_ns; /* give up on replies still missing after this */
    atomic_int failed;
    char fail_msg[512];
} lg_shared;

typedef struct lg_worker {
    lg_shared *sh;
    lg_conn *conns;
    int nconns;
    int epfd, tfd;
    uint64_t armed_ns;  /* timerfd expiry set (UINT64_MAX: none) */
    uint64_t inflight;  /* sum of the connections' counts */
    bool schedule_done; /* fixed rate: no more requests to send */
    lg_gen gen;
    lg_tally tally;
    pthread_t tid;
} lg_worker;

int lg_worker_setup(lg_worker *w, lg_shared *sh, const int *fds, int nfds,
                    int first_id, int index);
void *lg_worker_main(void *arg);
void lg_worker_cleanup(lg_worker *w);
void lg_fail(lg_shared *sh, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- populate and report ------------------------------------------ */

int lg_populate(const lg_config *cfg, const char *value, char *err,
                size_t err_len);
void lg_report(const lg_config *cfg, const lg_shared *sh,
               const lg_tally *total);

#endif /* LG_H */

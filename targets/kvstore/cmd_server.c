/*
 * cmd_server.c -- connection and server commands: PING, ECHO, SELECT,
 * QUIT, INFO, TIME, AUTH, HELLO, SHUTDOWN, CONFIG (GET SET RESETSTAT HELP),
 * COMMAND (COUNT INFO DOCS LIST HELP), CLIENT (ID SETNAME GETNAME LIST INFO
 * HELP).  Replies and error texts follow Redis 7.0 (server.c, config.c,
 * networking.c); this server has a single database (SELECT 0 only), speaks
 * RESP2 only (HELLO 3 gets -NOPROTO) and has no password (AUTH behaves
 * like Redis with the default "nopass" user).  INFO has Redis's
 * "# Persistence" section (persist.h gives the figures); SHUTDOWN saves
 * first when asked or when save rules are set; CONFIG SET appendonly and
 * appendfsync take effect at once (the log is started, stopped or its
 * fsync policy changed).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "cmd.h"
#include "evict.h"
#include "mem.h"
#include "persist.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

/* ---- a growable text buffer (INFO, CLIENT LIST) ---- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
static void sb_printf(sbuf *sb, const char *fmt, ...)
{
    va_list ap;
    int n;
    for (;;) {
        size_t room = sb->cap - sb->len;
        va_start(ap, fmt);
        n = vsnprintf(sb->p ? sb->p + sb->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < room) {
            sb->len += (size_t)n;
            return;
        }
        sb->cap = sb->cap * 2 + (size_t)n + 256;
        sb->p = kv_realloc(sb->p, sb->cap);
    }
}

static void sb_reply_and_free(kv_client *c, sbuf *sb)
{
    kv_reply_bulk(&c->out, sb->p ? sb->p : "", sb->len);
    kv_free(sb->p);
}

static void reply_help(kv_client *c, const char *const *lines)
{
    long long n = 0;
    while (lines[n])
        n++;
    kv_reply_array(&c->out, n);
    for (long long i = 0; i < n; i++)
        kv_reply_simple(&c->out, lines[i]);
}

/* ---- connection ---- */

void kv_cmd_ping(kv_client *c)
{
    if (c->argc > 2)
        kv_reply_arity_error(c);
    else if (c->argc == 2)
        kv_reply_bulk(&c->out, c->argv[1].p, c->argv[1].len);
    else
        kv_reply_simple(&c->out, "PONG");
}

void kv_cmd_echo(kv_client *c)
{
    kv_reply_bulk(&c->out, c->argv[1].p, c->argv[1].len);
}

void kv_cmd_select(kv_client *c)
{
    long long id;
    if (!kv_string2ll(c->argv[1].p, c->argv[1].len, &id) || id < INT_MIN || id > INT_MAX)
        kv_reply_error(&c->out, KV_ERR_NOT_INT);
    else if (id != 0)
        kv_reply_error(&c->out, "DB index is out of range");
    else
        kv_reply_ok(&c->out);
}

void kv_cmd_quit(kv_client *c)
{
    kv_reply_ok(&c->out);
    c->flags |= KV_CLIENT_CLOSE_AFTER_REPLY;
}

void kv_cmd_time(kv_client *c)
{
    int64_t us = kv_ustime();
    kv_reply_array(&c->out, 2);
    kv_reply_bulk_ll(&c->out, us / 1000000);
    kv_reply_bulk_ll(&c->out, us % 1000000);
}

/* The default user has no password: AUTH default <anything> succeeds. */
static int auth_ok(const kv_arg *user)
{
    return user->len == 7 && memcmp(user->p, "default", 7) == 0;
}

void kv_cmd_auth(kv_client *c)
{
    if (c->argc > 3)
        kv_reply_error(&c->out, KV_ERR_SYNTAX);
    else if (c->argc == 2)
        kv_reply_error(&c->out, "AUTH <password> called without any password configured "
                                "for the default user. Are you sure your configuration "
                                "is correct?");
    else if (!auth_ok(&c->argv[1]))
        kv_reply_error(&c->out, "-WRONGPASS invalid username-password pair or user is "
                                "disabled.");
    else
        kv_reply_ok(&c->out);
}

static int valid_client_name(const kv_arg *name)
{
    for (size_t i = 0; i < name->len; i++)
        if (name->p[i] < '!' || name->p[i] > '~')
            return 0;
    return 1;
}

static void set_client_name(kv_client *c, const kv_arg *name)
{
    kv_str_free(c->name);
    c->name = name->len ? kv_str_new(name->p, name->len) : NULL;
}

static const char ERR_CLIENT_NAME[] =
    "Client names cannot contain spaces, newlines or special characters.";

/* HELLO options after the version: AUTH user pass, SETNAME name.  Returns
 * -1 (error replied) or 0 with *NAME set when SETNAME was given. */
static int hello_options(kv_client *c, int j, const kv_arg **name)
{
    for (; j < c->argc; j++) {
        int more = c->argc - 1 - j;
        if (kv_arg_is(&c->argv[j], "auth") && more >= 2) {
            if (!auth_ok(&c->argv[j + 1])) {
                kv_reply_error(&c->out, "-WRONGPASS invalid username-password pair or "
                                        "user is disabled.");
                return -1;
            }
            j += 2;
        } else if (kv_arg_is(&c->argv[j], "setname") && more) {
            *name = &c->argv[++j];
            if (!valid_client_name(*name)) {
                kv_reply_error(&c->out, ERR_CLIENT_NAME);
                return -1;
            }
        } else {
            kv_reply_errorf(&c->out, "Syntax error in HELLO option '%s'", c->argv[j].p);
            return -1;
        }
    }
    return 0;
}

static void reply_hello(kv_client *c)
{
    kv_reply_array(&c->out, 14);
    kv_reply_bulk_cstr(&c->out, "server");
    kv_reply_bulk_cstr(&c->out, "redis");
    kv_reply_bulk_cstr(&c->out, "version");
    kv_reply_bulk_cstr(&c->out, KV_REDIS_VERSION);
    kv_reply_bulk_cstr(&c->out, "proto");
    kv_reply_int(&c->out, 2);
    kv_reply_bulk_cstr(&c->out, "id");
    kv_reply_int(&c->out, (long long)c->id);
    kv_reply_bulk_cstr(&c->out, "mode");
    kv_reply_bulk_cstr(&c->out, "standalone");
    kv_reply_bulk_cstr(&c->out, "role");
    kv_reply_bulk_cstr(&c->out, "master");
    kv_reply_bulk_cstr(&c->out, "modules");
    kv_reply_array(&c->out, 0);
}

/* HELLO [protover [AUTH username password] [SETNAME clientname]]: only
 * protocol 2 is spoken; the reply is the RESP2 form of Redis's map. */
void kv_cmd_hello(kv_client *c)
{
    const kv_arg *name = NULL;
    if (c->argc >= 2) {
        long long ver;
        if (!kv_string2ll(c->argv[1].p, c->argv[1].len, &ver)) {
            kv_reply_error(&c->out, "Protocol version is not an integer or out of range");
            return;
        }
        if (ver != 2) {
            kv_reply_error(&c->out, "-NOPROTO unsupported protocol version");
            return;
        }
    }
    if (hello_options(c, 2, &name))
        return;
    if (name)
        set_client_name(c, name);
    reply_hello(c);
}

/* SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT is not supported]: with
 * save rules (or SAVE, and not NOSAVE) the dataset is saved first, and a
 * failed save keeps the server running ("Errors trying to SHUTDOWN");
 * otherwise the server stops as on SIGTERM (the log is flushed and synced)
 * and the connection closes without a reply. */
void kv_cmd_shutdown(kv_client *c)
{
    int flags = 0;
    for (int j = 1; j < c->argc; j++) {
        const kv_arg *a = &c->argv[j];
        if (kv_arg_is(a, "nosave"))
            flags |= KV_SHUTDOWN_NOSAVE;
        else if (kv_arg_is(a, "save"))
            flags |= KV_SHUTDOWN_SAVE;
        else if (!kv_arg_is(a, "now") && !kv_arg_is(a, "force")) {
            kv_reply_error(&c->out, KV_ERR_SYNTAX);
            return;
        }
    }
    if ((flags & KV_SHUTDOWN_NOSAVE) && (flags & KV_SHUTDOWN_SAVE)) {
        kv_reply_error(&c->out, KV_ERR_SYNTAX);
        return;
    }
    if (!kv_srv.embedded && kv_persist_prepare_shutdown(flags) < 0) {
        kv_reply_error(&c->out, "Errors trying to SHUTDOWN. Check logs.");
        return;
    }
    kv_server_request_shutdown();
    c->flags |= KV_CLIENT_CLOSE_ASAP;
}

/* ---- INFO ---- */

static void info_server(sbuf *sb)
{
    struct utsname u;
    int64_t now = kv_mstime(), up = (now - kv_srv.start_ms) / 1000;
    if (uname(&u) != 0)
        memset(&u, 0, sizeof u);
    sb_printf(sb, "# Server\r\nredis_version:%s\r\nkvstore_version:%s\r\n"
              "redis_mode:standalone\r\nos:%s %s %s\r\narch_bits:%d\r\n"
              "multiplexing_api:epoll\r\nprocess_id:%ld\r\nrun_id:%s\r\ntcp_port:%d\r\n"
              "server_time_usec:%lld\r\nuptime_in_seconds:%lld\r\nuptime_in_days:%lld\r\n"
              "hz:%d\r\nconfigured_hz:%d\r\nio_threads_active:%d\r\nio_threads:%d\r\n",
              KV_REDIS_VERSION, KV_VERSION, u.sysname, u.release, u.machine,
              (int)(sizeof(void *) * 8), (long)getpid(), kv_srv.run_id, kv_srv.cfg.port,
              (long long)kv_ustime(), (long long)up, (long long)(up / 86400), kv_srv.cfg.hz,
              kv_srv.cfg.hz, kv_srv.cfg.threads > 1, kv_srv.cfg.threads);
}

static void info_clients(sbuf *sb)
{
    sb_printf(sb, "# Clients\r\nconnected_clients:%llu\r\nmaxclients:%lld\r\n"
              "blocked_clients:0\r\n",
              (unsigned long long)kv_srv.nclients, kv_srv.cfg.maxclients);
}

static void info_memory(sbuf *sb)
{
    size_t used = kv_used_memory(), rss = kv_rss_memory();
    char h_used[32], h_peak[32], h_rss[32], h_max[32];
    if (used > kv_srv.peak_memory)
        kv_srv.peak_memory = used;
    kv_bytes_human(h_used, sizeof h_used, used);
    kv_bytes_human(h_peak, sizeof h_peak, kv_srv.peak_memory);
    kv_bytes_human(h_rss, sizeof h_rss, rss);
    kv_bytes_human(h_max, sizeof h_max, kv_srv.cfg.maxmemory);
    sb_printf(sb, "# Memory\r\nused_memory:%zu\r\nused_memory_human:%s\r\n"
              "used_memory_rss:%zu\r\nused_memory_rss_human:%s\r\n"
              "used_memory_peak:%zu\r\nused_memory_peak_human:%s\r\n"
              "maxmemory:%llu\r\nmaxmemory_human:%s\r\nmaxmemory_policy:%s\r\n"
              "mem_allocator:libc\r\n",
              used, h_used, rss, h_rss, kv_srv.peak_memory, h_peak, kv_srv.cfg.maxmemory,
              h_max, kv_policy_name(kv_srv.cfg.policy));
}

static const char *ok_err(int ok)
{
    return ok ? "ok" : "err";
}

/* Redis 7.0 field names, plus loading_time_ms and loading_loaded_bytes
 * (the startup load) and aof_last_rewrite_time_ms. */
static void info_persistence(sbuf *sb)
{
    kv_persist_stats st;
    kv_persist_get_stats(&st);
    sb_printf(sb, "# Persistence\r\nloading:0\r\nasync_loading:0\r\n"
              "rdb_changes_since_last_save:%lld\r\nrdb_bgsave_in_progress:%d\r\n"
              "rdb_last_save_time:%lld\r\nrdb_last_bgsave_status:%s\r\n"
              "rdb_last_bgsave_time_sec:%lld\r\nrdb_current_bgsave_time_sec:%lld\r\n"
              "rdb_saves:%lld\r\nrdb_last_load_keys_expired:%llu\r\n"
              "rdb_last_load_keys_loaded:%llu\r\n",
              st.changes_since_save, st.bgsave_in_progress, st.last_save_time,
              ok_err(st.last_bgsave_ok), st.last_bgsave_time_sec, st.current_bgsave_time_sec,
              st.rdb_saves, st.loaded_expired, st.loaded_keys);
    sb_printf(sb, "aof_enabled:%d\r\naof_rewrite_in_progress:%d\r\naof_rewrite_scheduled:%d\r\n"
              "aof_last_rewrite_time_sec:%lld\r\naof_current_rewrite_time_sec:%lld\r\n"
              "aof_last_bgrewrite_status:%s\r\naof_rewrites:%lld\r\n"
              "aof_last_write_status:%s\r\naof_current_size:%llu\r\naof_base_size:%llu\r\n"
              "aof_buffer_length:%llu\r\naof_last_rewrite_time_ms:%lld\r\n"
              "loading_time_ms:%lld\r\nloading_loaded_bytes:%llu\r\n",
              st.aof_enabled, st.rewrite_in_progress, st.rewrite_scheduled,
              st.last_rewrite_time_sec, st.current_rewrite_time_sec,
              ok_err(st.last_rewrite_ok), st.rewrites, ok_err(st.last_write_ok),
              st.aof_current_size, st.aof_base_size, st.aof_buffer_length,
              st.last_rewrite_time_ms, st.loading_time_ms, st.loading_loaded_bytes);
}

static unsigned long long ops_per_sec(void)
{
    unsigned long long sum = 0;
    for (int i = 0; i < KV_OPS_SAMPLES; i++)
        sum += kv_srv.stats.ops_samples[i];
    return sum / KV_OPS_SAMPLES;
}

static void info_stats(sbuf *sb)
{
    const kv_stats *st = &kv_srv.stats;
    const kv_db *db = kv_srv.db;
    sb_printf(sb, "# Stats\r\ntotal_connections_received:%llu\r\n"
              "total_commands_processed:%llu\r\ninstantaneous_ops_per_sec:%llu\r\n"
              "total_net_input_bytes:%llu\r\ntotal_net_output_bytes:%llu\r\n"
              "rejected_connections:%llu\r\nexpired_keys:%llu\r\nevicted_keys:%llu\r\n"
              "keyspace_hits:%llu\r\nkeyspace_misses:%llu\r\n",
              (unsigned long long)st->connections, (unsigned long long)st->commands,
              ops_per_sec(),
              (unsigned long long)atomic_load(&kv_srv.stats.net_input),
              (unsigned long long)atomic_load(&kv_srv.stats.net_output),
              (unsigned long long)st->rejected, (unsigned long long)db->stat_expired,
              (unsigned long long)db->stat_evicted, (unsigned long long)db->stat_hits,
              (unsigned long long)db->stat_misses);
}

static void info_keyspace(sbuf *sb)
{
    sb_printf(sb, "# Keyspace\r\n");
    if (kv_db_size(kv_srv.db))
        sb_printf(sb, "db0:keys=%zu,expires=%zu,avg_ttl=0\r\n", kv_db_size(kv_srv.db),
                  kv_db_expires_size(kv_srv.db));
}

typedef struct info_section {
    const char *name;
    void (*fn)(sbuf *sb);
} info_section;

static const info_section sections[] = {
    {"server", info_server}, {"clients", info_clients}, {"memory", info_memory},
    {"persistence", info_persistence}, {"stats", info_stats}, {"keyspace", info_keyspace},
};

#define NSECTIONS (int)(sizeof sections / sizeof sections[0])

/* INFO [section ...]: "all", "default" and "everything" select every section. */
void kv_cmd_info(kv_client *c)
{
    int want[NSECTIONS] = {0};
    sbuf sb = {NULL, 0, 0};
    int first = 1;
    for (int i = 0; i < NSECTIONS; i++)
        want[i] = c->argc == 1;
    for (int j = 1; j < c->argc; j++) {
        const kv_arg *a = &c->argv[j];
        int every = kv_arg_is(a, "all") || kv_arg_is(a, "default") ||
                    kv_arg_is(a, "everything");
        for (int i = 0; i < NSECTIONS; i++)
            if (every || kv_arg_is(a, sections[i].name))
                want[i] = 1;
    }
    for (int i = 0; i < NSECTIONS; i++) {
        if (!want[i])
            continue;
        if (!first)
            sb_printf(&sb, "\r\n");
        sections[i].fn(&sb);
        first = 0;
    }
    sb_reply_and_free(c, &sb);
}

/* ---- CONFIG ---- */

typedef struct config_pairs {
    kv_str **items; /* name, value, name, value ... */
    size_t n, cap;
} config_pairs;

static void config_collect(void *priv, const char *name, const char *value)
{
    config_pairs *cp = priv;
    if (cp->n + 2 > cp->cap) {
        cp->cap = cp->cap ? 2 * cp->cap : 16;
        cp->items = kv_realloc(cp->items, cp->cap * sizeof *cp->items);
    }
    cp->items[cp->n++] = kv_str_new(name, strlen(name));
    cp->items[cp->n++] = kv_str_new(value, strlen(value));
}

void kv_cmd_config_get(kv_client *c)
{
    int npat = c->argc - 2;
    const char **pats = kv_malloc((size_t)npat * sizeof *pats);
    size_t *lens = kv_malloc((size_t)npat * sizeof *lens);
    config_pairs cp = {NULL, 0, 0};
    for (int i = 0; i < npat; i++) {
        pats[i] = c->argv[i + 2].p;
        lens[i] = c->argv[i + 2].len;
    }
    kv_config_get(&kv_srv.cfg, pats, lens, npat, config_collect, &cp);
    kv_reply_array(&c->out, (long long)cp.n);
    for (size_t i = 0; i < cp.n; i++) {
        kv_reply_bulk(&c->out, cp.items[i]->data, cp.items[i]->len);
        kv_str_free(cp.items[i]);
    }
    kv_free(cp.items);
    kv_free(pats);
    kv_free(lens);
}

/* Side effects of CONFIG SET appendonly / appendfsync.  On failure the
 * previous configuration comes back (string members cannot be changed by
 * CONFIG SET, so the shallow copy is safe). */
static kv_config config_before;

static int config_apply(char *err, size_t errlen)
{
    char why[400];
    kv_config *cfg = &kv_srv.cfg;
    if (cfg->appendonly != config_before.appendonly &&
        kv_persist_set_appendonly(cfg->appendonly, why, sizeof why) < 0) {
        *cfg = config_before;
        snprintf(err, errlen, "CONFIG SET failed (possibly related to argument 'appendonly') "
                 "- %s", why);
        return -1;
    }
    if (cfg->appendfsync != config_before.appendfsync)
        kv_persist_set_fsync(cfg->appendfsync);
    return 0;
}

void kv_cmd_config_set(kv_client *c)
{
    char err[512];
    int nargs = c->argc - 2;
    const char **args;
    if (c->argc % 2) { /* name/value pairs (Redis 7.0: a syntax error) */
        kv_reply_error(&c->out, KV_ERR_SYNTAX);
        return;
    }
    config_before = kv_srv.cfg;
    args = kv_malloc((size_t)nargs * sizeof *args);
    for (int i = 0; i < nargs; i++)
        args[i] = c->argv[i + 2].p;
    if (kv_config_set(&kv_srv.cfg, args, nargs, err, sizeof err) == 0 &&
        config_apply(err, sizeof err) == 0)
        kv_reply_ok(&c->out);
    else
        kv_reply_error(&c->out, err);
    kv_free(args);
}

void kv_cmd_config_resetstat(kv_client *c)
{
    kv_stats *st = &kv_srv.stats;
    st->connections = st->rejected = st->commands = 0;
    atomic_store(&st->net_input, 0);
    atomic_store(&st->net_output, 0);
    memset(st->ops_samples, 0, sizeof st->ops_samples);
    kv_srv.db->stat_expired = kv_srv.db->stat_evicted = 0;
    kv_srv.db->stat_hits = kv_srv.db->stat_misses = 0;
    kv_srv.peak_memory = kv_used_memory();
    kv_reply_ok(&c->out);
}

void kv_cmd_config_help(kv_client *c)
{
    static const char *const lines[] = {
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "HELP",
        "    Print this help.",
        NULL,
    };
    reply_help(c, lines);
}

/* ---- COMMAND ---- */

static long long count_words(const char *s)
{
    long long n = 0;
    for (const char *p = s; *p; p++)
        if (*p != ' ' && (p == s || p[-1] == ' '))
            n++;
    return n;
}

static void reply_words(kv_client *c, const char *s)
{
    kv_reply_array(&c->out, count_words(s));
    while (*s) {
        const char *e = strchr(s, ' ');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n) {
            char word[64];
            snprintf(word, sizeof word, "%.*s", (int)n, s);
            kv_reply_simple(&c->out, word);
        }
        s += n;
        while (*s == ' ')
            s++;
    }
}

static void reply_flags(kv_client *c, unsigned flags)
{
    static const struct { unsigned bit; const char *name; } names[] = {
        {KV_CMD_WRITE, "write"},   {KV_CMD_READONLY, "readonly"}, {KV_CMD_DENYOOM, "denyoom"},
        {KV_CMD_ADMIN, "admin"},   {KV_CMD_NOSCRIPT, "noscript"}, {KV_CMD_LOADING, "loading"},
        {KV_CMD_STALE, "stale"},   {KV_CMD_FAST, "fast"},
    };
    long long n = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        n += (flags & names[i].bit) != 0;
    kv_reply_array(&c->out, n);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (flags & names[i].bit)
            kv_reply_simple(&c->out, names[i].name);
}

/* Redis 7.0 layout: name, arity, flags, first key, last key, step, ACL
 * categories, tips, key specs, subcommands. */
static void reply_command_info(kv_client *c, const kv_command *cmd)
{
    long long nsubs = 0;
    kv_reply_array(&c->out, 10);
    kv_reply_bulk_cstr(&c->out, cmd->fullname);
    kv_reply_int(&c->out, cmd->arity);
    reply_flags(c, cmd->flags);
    kv_reply_int(&c->out, cmd->first_key);
    kv_reply_int(&c->out, cmd->last_key);
    kv_reply_int(&c->out, cmd->key_step);
    reply_words(c, cmd->acl);
    kv_reply_array(&c->out, 0);
    kv_reply_array(&c->out, 0);
    for (const kv_command *s = cmd->subs; s && s->name; s++)
        nsubs++;
    kv_reply_array(&c->out, nsubs);
    for (const kv_command *s = cmd->subs; s && s->name; s++)
        reply_command_info(c, s);
}

static long long command_count(void)
{
    long long n = 0;
    for (const kv_command *cmd = kv_cmd_table(); cmd->name; cmd++)
        n++;
    return n;
}

static void reply_all_commands(kv_client *c)
{
    kv_reply_array(&c->out, command_count());
    for (const kv_command *cmd = kv_cmd_table(); cmd->name; cmd++)
        reply_command_info(c, cmd);
}

void kv_cmd_command(kv_client *c)
{
    reply_all_commands(c);
}

void kv_cmd_command_count(kv_client *c)
{
    kv_reply_int(&c->out, command_count());
}

void kv_cmd_command_info(kv_client *c)
{
    if (c->argc == 2) {
        reply_all_commands(c);
        return;
    }
    kv_reply_array(&c->out, c->argc - 2);
    for (int j = 2; j < c->argc; j++) {
        const kv_command *cmd = kv_cmd_lookup(c->argv[j].p, c->argv[j].len);
        if (cmd)
            reply_command_info(c, cmd);
        else
            kv_reply_null(&c->out);
    }
}

/* Documentation is not provided: an empty map (clients then go without
 * hints, as with any server that lacks the docs). */
void kv_cmd_command_docs(kv_client *c)
{
    kv_reply_array(&c->out, 0);
}

void kv_cmd_command_list(kv_client *c)
{
    kv_reply_array(&c->out, command_count());
    for (const kv_command *cmd = kv_cmd_table(); cmd->name; cmd++)
        kv_reply_bulk_cstr(&c->out, cmd->name);
}

void kv_cmd_command_help(kv_client *c)
{
    static const char *const lines[] = {
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Return details about all commands.",
        "COUNT",
        "    Return the total number of commands in this server.",
        "LIST",
        "    Return a list of all commands in this server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple commands.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple commands (none here).",
        "HELP",
        "    Print this help.",
        NULL,
    };
    reply_help(c, lines);
}

/* ---- CLIENT ---- */

void kv_cmd_client_id(kv_client *c)
{
    kv_reply_int(&c->out, (long long)c->id);
}

void kv_cmd_client_setname(kv_client *c)
{
    if (!valid_client_name(&c->argv[2])) {
        kv_reply_error(&c->out, ERR_CLIENT_NAME);
        return;
    }
    set_client_name(c, &c->argv[2]);
    kv_reply_ok(&c->out);
}

void kv_cmd_client_getname(kv_client *c)
{
    if (c->name)
        kv_reply_bulk(&c->out, c->name->data, c->name->len);
    else
        kv_reply_null(&c->out);
}

/* One CLIENT LIST line; only fields guarded by the keyspace lock. */
static void client_line(sbuf *sb, const kv_client *cl, int64_t now)
{
    sb_printf(sb, "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=N db=0 "
              "sub=0 psub=0 ssub=0 multi=-1 cmd=%s user=default redir=-1 resp=2\n",
              (unsigned long long)cl->id, cl->addr, cl->laddr, cl->watch.fd,
              cl->name ? cl->name->data : "", (long long)((now - cl->ctime_ms) / 1000),
              (long long)((now - cl->last_ms) / 1000), cl->lastcmd ? cl->lastcmd : "NULL");
}

void kv_cmd_client_list(kv_client *c)
{
    sbuf sb = {NULL, 0, 0};
    int64_t now = kv_mstime();
    if (c->argc > 2) {
        kv_reply_error(&c->out, KV_ERR_SYNTAX);
        return;
    }
    for (const kv_client *cl = kv_srv.clients; cl; cl = cl->next)
        client_line(&sb, cl, now);
    sb_reply_and_free(c, &sb);
}

void kv_cmd_client_info(kv_client *c)
{
    sbuf sb = {NULL, 0, 0};
    client_line(&sb, c, kv_mstime());
    sb_reply_and_free(c, &sb);
}

void kv_cmd_client_help(kv_client *c)
{
    static const char *const lines[] = {
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "LIST",
        "    Return information about client connections.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "HELP",
        "    Print this help.",
        NULL,
    };
    reply_help(c, lines);
}

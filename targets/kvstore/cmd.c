/*
 * cmd.c -- command table and dispatcher (see cmd.h).  The order of checks,
 * the flags, arities and the error texts follow Redis 7.0's server.c
 * (processCommand, commandCheckExistence, commandCheckArity) and its
 * command tables, so that redis-cli, redis-py and redis-benchmark see
 * the replies they expect.
 */
#include "cmd.h"
#include "evict.h"
#include "log.h"
#include "mem.h"
#include "persist.h"
#include "propagate.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define W KV_CMD_WRITE
#define R KV_CMD_READONLY
#define M KV_CMD_DENYOOM
#define A KV_CMD_ADMIN
#define F KV_CMD_FAST
#define NS KV_CMD_NOSCRIPT
#define LS (KV_CMD_LOADING | KV_CMD_STALE)

static const kv_command config_subs[] = {
    {"get", "config|get", kv_cmd_config_get, -3, A | NS | LS, 0, 0, 0, "@admin @slow @dangerous", NULL},
    {"set", "config|set", kv_cmd_config_set, -4, A | NS | LS, 0, 0, 0, "@admin @slow @dangerous", NULL},
    {"resetstat", "config|resetstat", kv_cmd_config_resetstat, 2, A | NS | LS, 0, 0, 0, "@admin @slow @dangerous", NULL},
    {"help", "config|help", kv_cmd_config_help, 2, LS, 0, 0, 0, "@slow", NULL},
    {NULL, NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL},
};

static const kv_command command_subs[] = {
    {"count", "command|count", kv_cmd_command_count, 2, LS, 0, 0, 0, "@slow @connection", NULL},
    {"info", "command|info", kv_cmd_command_info, -2, LS, 0, 0, 0, "@slow @connection", NULL},
    {"docs", "command|docs", kv_cmd_command_docs, -2, LS, 0, 0, 0, "@slow @connection", NULL},
    {"list", "command|list", kv_cmd_command_list, -2, LS, 0, 0, 0, "@slow @connection", NULL},
    {"help", "command|help", kv_cmd_command_help, 2, LS, 0, 0, 0, "@slow @connection", NULL},
    {NULL, NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL},
};

static const kv_command client_subs[] = {
    {"id", "client|id", kv_cmd_client_id, 2, NS | LS, 0, 0, 0, "@slow @connection", NULL},
    {"setname", "client|setname", kv_cmd_client_setname, 3, NS | LS, 0, 0, 0, "@slow @connection", NULL},
    {"getname", "client|getname", kv_cmd_client_getname, 2, NS | LS, 0, 0, 0, "@slow @connection", NULL},
    {"list", "client|list", kv_cmd_client_list, -2, A | NS | LS, 0, 0, 0, "@admin @slow @dangerous @connection", NULL},
    {"info", "client|info", kv_cmd_client_info, 2, NS | LS, 0, 0, 0, "@slow @connection", NULL},
    {"help", "client|help", kv_cmd_client_help, 2, LS, 0, 0, 0, "@slow @connection", NULL},
    {NULL, NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL},
};

/* The hottest commands first: lookup is a linear scan. */
static const kv_command commands[] = {
    {"get", "get", kv_cmd_get, 2, R | F, 1, 1, 1, "@read @string @fast", NULL},
    {"set", "set", kv_cmd_set, -3, W | M, 1, 1, 1, "@write @string @slow", NULL},
    {"del", "del", kv_cmd_del, -2, W, 1, -1, 1, "@keyspace @write @slow", NULL},
    {"incr", "incr", kv_cmd_incr, 2, W | M | F, 1, 1, 1, "@write @string @fast", NULL},
    {"mget", "mget", kv_cmd_mget, -2, R | F, 1, -1, 1, "@read @string @fast", NULL},
    {"mset", "mset", kv_cmd_mset, -3, W | M, 1, -1, 2, "@write @string @slow", NULL},
    {"ping", "ping", kv_cmd_ping, -1, F, 0, 0, 0, "@fast @connection", NULL},
    {"exists", "exists", kv_cmd_exists, -2, R | F, 1, -1, 1, "@keyspace @read @fast", NULL},
    {"expire", "expire", kv_cmd_expire, -3, W | F, 1, 1, 1, "@keyspace @write @fast", NULL},
    {"pexpire", "pexpire", kv_cmd_pexpire, -3, W | F, 1, 1, 1, "@keyspace @write @fast", NULL},
    {"expireat", "expireat", kv_cmd_expireat, -3, W | F, 1, 1, 1, "@keyspace @write @fast", NULL},
    {"pexpireat", "pexpireat", kv_cmd_pexpireat, -3, W | F, 1, 1, 1, "@keyspace @write @fast", NULL},
    {"ttl", "ttl", kv_cmd_ttl, 2, R | F, 1, 1, 1, "@keyspace @read @fast", NULL},
    {"pttl", "pttl", kv_cmd_pttl, 2, R | F, 1, 1, 1, "@keyspace @read @fast", NULL},
    {"expiretime", "expiretime", kv_cmd_expiretime, 2, R | F, 1, 1, 1, "@keyspace @read @fast", NULL},
    {"pexpiretime", "pexpiretime", kv_cmd_pexpiretime, 2, R | F, 1, 1, 1, "@keyspace @read @fast", NULL},
    {"persist", "persist", kv_cmd_persist, 2, W | F, 1, 1, 1, "@keyspace @write @fast", NULL},
    {"decr", "decr", kv_cmd_decr, 2, W | M | F, 1, 1, 1, "@write @string @fast", NULL},
    {"incrby", "incrby", kv_cmd_incrby, 3, W | M | F, 1, 1, 1, "@write @string @fast", NULL},
    {"decrby", "decrby", kv_cmd_decrby, 3, W | M | F, 1, 1, 1, "@write @string @fast", NULL},
    {"setnx", "setnx", kv_cmd_setnx, 3, W | M | F, 1, 1, 1, "@write @string @fast", NULL},
    {"setex", "setex", kv_cmd_setex, 4, W | M, 1, 1, 1, "@write @string @slow", NULL},
    {"psetex", "psetex", kv_cmd_psetex, 4, W | M, 1, 1, 1, "@write @string @slow", NULL},
    {"getset", "getset", kv_cmd_getset, 3, W | M | F, 1, 1, 1, "@write @string @fast", NULL},
    {"getdel", "getdel", kv_cmd_getdel, 2, W | F, 1, 1, 1, "@write @string @fast", NULL},
    {"msetnx", "msetnx", kv_cmd_msetnx, -3, W | M, 1, -1, 2, "@write @string @slow", NULL},
    {"append", "append", kv_cmd_append, 3, W | M | F, 1, 1, 1, "@write @string @fast", NULL},
    {"strlen", "strlen", kv_cmd_strlen, 2, R | F, 1, 1, 1, "@read @string @fast", NULL},
    {"unlink", "unlink", kv_cmd_del, -2, W | F, 1, -1, 1, "@keyspace @write @fast", NULL},
    {"keys", "keys", kv_cmd_keys, 2, R, 0, 0, 0, "@keyspace @read @slow @dangerous", NULL},
    {"scan", "scan", kv_cmd_scan, -2, R, 0, 0, 0, "@keyspace @read @slow", NULL},
    {"dbsize", "dbsize", kv_cmd_dbsize, 1, R | F, 0, 0, 0, "@keyspace @read @fast", NULL},
    {"type", "type", kv_cmd_type, 2, R | F, 1, 1, 1, "@keyspace @read @fast", NULL},
    {"randomkey", "randomkey", kv_cmd_randomkey, 1, R, 0, 0, 0, "@keyspace @read @slow", NULL},
    {"flushall", "flushall", kv_cmd_flushall, -1, W, 0, 0, 0, "@keyspace @write @slow @dangerous", NULL},
    {"flushdb", "flushdb", kv_cmd_flushall, -1, W, 0, 0, 0, "@keyspace @write @slow @dangerous", NULL},
    {"echo", "echo", kv_cmd_echo, 2, F, 0, 0, 0, "@fast @connection", NULL},
    {"select", "select", kv_cmd_select, 2, LS | F, 0, 0, 0, "@fast @connection", NULL},
    {"info", "info", kv_cmd_info, -1, LS, 0, 0, 0, "@slow @dangerous", NULL},
    {"config", "config", NULL, -2, 0, 0, 0, 0, "@slow", config_subs},
    {"command", "command", kv_cmd_command, -1, LS, 0, 0, 0, "@slow @connection", command_subs},
    {"client", "client", NULL, -2, 0, 0, 0, 0, "@slow", client_subs},
    {"hello", "hello", kv_cmd_hello, -1, NS | LS | F, 0, 0, 0, "@fast @connection", NULL},
    {"auth", "auth", kv_cmd_auth, -2, NS | LS | F, 0, 0, 0, "@fast @connection", NULL},
    {"quit", "quit", kv_cmd_quit, -1, NS | LS | F, 0, 0, 0, "@fast @connection", NULL},
    {"time", "time", kv_cmd_time, 1, LS | F, 0, 0, 0, "@fast", NULL},
    {"shutdown", "shutdown", kv_cmd_shutdown, -1, A | NS | LS, 0, 0, 0, "@admin @slow @dangerous", NULL},
    {"save", "save", kv_cmd_save, 1, A | NS, 0, 0, 0, "@admin @slow @dangerous", NULL},
    {"bgsave", "bgsave", kv_cmd_bgsave, -1, A | NS, 0, 0, 0, "@admin @slow @dangerous", NULL},
    {"bgrewriteaof", "bgrewriteaof", kv_cmd_bgrewriteaof, 1, A | NS, 0, 0, 0, "@admin @slow @dangerous", NULL},
    {"lastsave", "lastsave", kv_cmd_lastsave, 1, LS | F, 0, 0, 0, "@admin @fast @dangerous", NULL},
    {NULL, NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL},
};

const kv_command *kv_cmd_table(void)
{
    return commands;
}

static const kv_command *find_in(const kv_command *table, const char *name, size_t len)
{
    for (const kv_command *c = table; c->name; c++)
        if (kv_eq_nocase(name, len, c->name))
            return c;
    return NULL;
}

const kv_command *kv_cmd_lookup(const char *name, size_t len)
{
    return find_in(commands, name, len);
}

int kv_arg_ll(kv_client *c, int i, long long *out)
{
    assert(i < c->argc);
    if (kv_string2ll(c->argv[i].p, c->argv[i].len, out))
        return 0;
    kv_reply_error(&c->out, KV_ERR_NOT_INT);
    return -1;
}

void kv_reply_arity_error(kv_client *c)
{
    kv_reply_errorf(&c->out, "wrong number of arguments for '%s' command", c->lastcmd);
}

/* "unknown command 'foo', with args beginning with: 'a' 'b' " (Redis 7.0). */
static void reply_unknown_command(kv_client *c)
{
    char args[160 + 8];
    size_t used = 0;
    args[0] = '\0';
    for (int i = 1; i < c->argc && used < 128; i++) {
        int n = snprintf(args + used, sizeof args - used, "'%.*s' ", (int)(128 - used),
                         c->argv[i].p);
        if (n < 0)
            break;
        used += (size_t)n < sizeof args - used ? (size_t)n : sizeof args - used - 1;
    }
    kv_reply_errorf(&c->out, "unknown command '%.128s', with args beginning with: %s",
                    c->argv[0].p, args);
}

static void reply_unknown_subcommand(kv_client *c)
{
    char upper[32];
    size_t n = c->argv[0].len < sizeof upper - 1 ? c->argv[0].len : sizeof upper - 1;
    for (size_t i = 0; i < n; i++)
        upper[i] = (char)toupper((unsigned char)c->argv[0].p[i]);
    upper[n] = '\0';
    kv_reply_errorf(&c->out, "unknown subcommand '%.128s'. Try %s HELP.", c->argv[1].p,
                    upper);
}

/* Finds the command (or subcommand) of the request, replying the error
 * when there is none. */
static const kv_command *resolve(kv_client *c)
{
    const kv_command *cmd = kv_cmd_lookup(c->argv[0].p, c->argv[0].len);
    if (cmd == NULL) {
        reply_unknown_command(c);
        return NULL;
    }
    if (cmd->subs == NULL || c->argc == 1)
        return cmd;
    const kv_command *sub = find_in(cmd->subs, c->argv[1].p, c->argv[1].len);
    if (sub == NULL)
        reply_unknown_subcommand(c);
    return sub;
}

static int arity_ok(const kv_command *cmd, int argc)
{
    return cmd->arity > 0 ? argc == cmd->arity : argc >= -cmd->arity;
}

/* HTTP requests sent to the server (cross-protocol scripting): close
 * silently, as Redis's securityWarningCommand does. */
static int security_check(kv_client *c)
{
    if (!kv_arg_is(&c->argv[0], "host:") && !kv_arg_is(&c->argv[0], "post"))
        return 0;
    kv_log(KV_LOG_WARNING, "Possible SECURITY ATTACK detected. It looks like somebody is "
           "sending POST or Host: commands to the server. Connection from %s aborted.",
           c->addr);
    c->flags |= KV_CLIENT_CLOSE_ASAP;
    return 1;
}

void kv_cmd_execute(kv_client *c)
{
    const kv_command *cmd;
    assert(c->argc > 0);
    if (kv_arg_is(&c->argv[0], "quit")) {
        c->lastcmd = "quit";
        kv_cmd_quit(c);
        return;
    }
    if (security_check(c) || (cmd = resolve(c)) == NULL)
        return;
    c->lastcmd = cmd->fullname;
    if (!arity_ok(cmd, c->argc)) {
        kv_reply_arity_error(c);
        return;
    }
    assert(cmd->proc != NULL);
    if (kv_srv.cfg.maxmemory && !kv_srv.loading &&
        kv_evict(kv_srv.db, kv_srv.cfg.maxmemory, kv_srv.cfg.policy) < 0 &&
        (cmd->flags & KV_CMD_DENYOOM)) {
        kv_reply_error(&c->out, KV_ERR_OOM);
        return;
    }
    if (atomic_load_explicit(&kv_srv.deny_writes, memory_order_relaxed) &&
        ((cmd->flags & KV_CMD_WRITE) || cmd->proc == kv_cmd_ping)) {
        kv_reply_error(&c->out, kv_persist_misconf());
        return;
    }
    uint64_t dirty = kv_srv.dirty;
    kv_srv.db->now = kv_mstime();
    cmd->proc(c);
    kv_srv.stats.commands++;
    if (kv_srv.aof_on && kv_srv.dirty != dirty && (cmd->flags & KV_CMD_WRITE))
        kv_propagate_command(c, cmd);
}

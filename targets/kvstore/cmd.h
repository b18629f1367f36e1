/*
 * cmd.h -- the command table and dispatcher (Redis command semantics,
 * https://redis.io/commands/, as implemented by Redis 7.0).
 *
 * kv_cmd_execute() runs one parsed request for a client, with the keyspace
 * lock held: QUIT, lookup (unknown command / unknown subcommand errors),
 * arity check, maxmemory enforcement for commands flagged denyoom, the
 * refusal of writes (and PING) with -MISCONF while the persistence layer
 * reports a disk error, then the handler; a write that changed the dataset
 * is then propagated to the append-only log (propagate.h) when it is on.
 * Handlers live in cmd_string.c (string values), cmd_keys.c (keyspace and
 * expiry), cmd_server.c (connection and server) and cmd_persist.c (SAVE,
 * BGSAVE, BGREWRITEAOF, LASTSAVE).
 */
#ifndef KV_CMD_H
#define KV_CMD_H

#include <string.h>

#include "server.h"

#define KV_CMD_WRITE 0x01
#define KV_CMD_READONLY 0x02
#define KV_CMD_DENYOOM 0x04
#define KV_CMD_ADMIN 0x08
#define KV_CMD_FAST 0x10
#define KV_CMD_NOSCRIPT 0x20
#define KV_CMD_LOADING 0x40
#define KV_CMD_STALE 0x80

typedef void kv_cmd_proc(kv_client *c);

typedef struct kv_command {
    const char *name;     /* lower case; for a subcommand the part after '|' */
    const char *fullname; /* "get", "client|setname" (used in error texts) */
    kv_cmd_proc *proc;
    int arity; /* > 0: exact argc; < 0: at least -arity */
    unsigned flags;
    int first_key, last_key, key_step;
    const char *acl;                 /* ACL categories, space separated */
    const struct kv_command *subs;   /* container: subcommands, NULL-terminated */
} kv_command;

void kv_cmd_execute(kv_client *c);
/* The top-level table, terminated by an entry with a NULL name. */
const kv_command *kv_cmd_table(void);
const kv_command *kv_cmd_lookup(const char *name, size_t len);

/* Shared error texts (Redis 7.0 shared.* objects). */
#define KV_ERR_SYNTAX "syntax error"
#define KV_ERR_NOT_INT "value is not an integer or out of range"
#define KV_ERR_OOM "-OOM command not allowed when used memory > 'maxmemory'."

/* Helpers for handlers. */
/* Option words compare as C strings, as Redis's strcasecmp() does: "PX\0T"
 * is PX (arguments always end with a NUL, see kv_arg). */
static inline int kv_arg_is(const kv_arg *a, const char *lit)
{
    const char *nul = memchr(a->p, '\0', a->len);
    return kv_eq_nocase(a->p, nul ? (size_t)(nul - a->p) : a->len, lit);
}
/* Parses argv[i] with string2ll; replies the "not an integer" error on failure. */
int kv_arg_ll(kv_client *c, int i, long long *out);
void kv_reply_arity_error(kv_client *c);

/* cmd_string.c */
kv_cmd_proc kv_cmd_get, kv_cmd_set, kv_cmd_setnx, kv_cmd_setex, kv_cmd_psetex,
    kv_cmd_getset, kv_cmd_getdel, kv_cmd_mget, kv_cmd_mset, kv_cmd_msetnx,
    kv_cmd_incr, kv_cmd_decr, kv_cmd_incrby, kv_cmd_decrby, kv_cmd_append,
    kv_cmd_strlen;
/* cmd_keys.c */
kv_cmd_proc kv_cmd_del, kv_cmd_exists, kv_cmd_expire, kv_cmd_pexpire, kv_cmd_expireat,
    kv_cmd_pexpireat, kv_cmd_ttl, kv_cmd_pttl, kv_cmd_expiretime, kv_cmd_pexpiretime,
    kv_cmd_persist, kv_cmd_keys, kv_cmd_scan, kv_cmd_dbsize, kv_cmd_type,
    kv_cmd_randomkey, kv_cmd_flushall;
/* cmd_server.c */
kv_cmd_proc kv_cmd_ping, kv_cmd_echo, kv_cmd_select, kv_cmd_quit, kv_cmd_info,
    kv_cmd_time, kv_cmd_auth, kv_cmd_hello, kv_cmd_shutdown,
    kv_cmd_config_get, kv_cmd_config_set, kv_cmd_config_resetstat, kv_cmd_config_help,
    kv_cmd_command, kv_cmd_command_count, kv_cmd_command_info, kv_cmd_command_docs,
    kv_cmd_command_list, kv_cmd_command_help,
    kv_cmd_client_id, kv_cmd_client_setname, kv_cmd_client_getname, kv_cmd_client_list,
    kv_cmd_client_info, kv_cmd_client_help;
/* cmd_persist.c */
kv_cmd_proc kv_cmd_save, kv_cmd_bgsave, kv_cmd_bgrewriteaof, kv_cmd_lastsave;

#endif

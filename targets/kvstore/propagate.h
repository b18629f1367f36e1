/*
 * propagate.h -- what the log records for an executed write command, so
 * that replaying the log reproduces the keyspace whatever the time of the
 * replay (Redis 7.0 propagation rules, server.c/t_string.c/expire.c):
 *   SET/SETEX/PSETEX      -> SET key value [PXAT abs]  (the stored state:
 *                            relative EX/PX become absolute, KEEPTTL keeps
 *                            the absolute expiry, GET/NX/XX are dropped)
 *   EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT
 *                         -> PEXPIREAT key abs, or DEL key when the new
 *                            expiry deleted the key
 *   GETDEL                -> DEL key
 *   everything else       -> the command as received
 * A key removed by expiry or eviction is logged as DEL key (before the
 * command whose lookup removed it).  Only commands that changed the
 * dataset (kv_srv.dirty moved) are logged.
 */
#ifndef KV_PROPAGATE_H
#define KV_PROPAGATE_H

#include <stddef.h>

#include "cmd.h"

/* Logs C's current request, executed by CMD (keyspace lock held). */
void kv_propagate_command(kv_client *c, const kv_command *cmd);
/* Logs DEL KEY (the kv_db on_drop hook). */
void kv_propagate_drop(const char *key, size_t len);

#endif

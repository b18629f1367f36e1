/*
 * aof_check.h -- `kvstore-server --check-aof PATH [--fix]`, our
 * redis-check-aof: validates a log manifest (its base snapshot and every
 * incremental file, replayed into a scratch keyspace exactly as at
 * startup), a single incremental file, or a single snapshot file.
 *
 * Output (stdout), nothing else:
 *   valid:    "OK: N commands" (a snapshot alone: "OK: N keys"), exit 0;
 *   invalid:  "FILE: what was wrong ... at offset N ...", exit 1;
 *   --fix on a bad incremental file that is the last one (or given
 *   alone): that line, then "Truncating FILE at offset N: dropping M
 *   bytes", the truncation, and "OK: N commands", exit 0.  A bad snapshot
 *   or manifest cannot be fixed (exit 1).
 * A command-line mistake prints the usage line and exits 2.
 */
#ifndef KV_AOF_CHECK_H
#define KV_AOF_CHECK_H

/* 1 if ARGV asks for the check mode. */
int kv_check_aof_wanted(int argc, char **argv);
/* Runs the check mode; returns the exit status. */
int kv_check_aof_main(int argc, char **argv);

#endif

/*
 * aof_load.h -- replaying a log of commands (an incremental file of the
 * append-only log, or a caller's buffer in the library).
 *
 * The grammar is strict RESP2: every command is an array "*N\r\n" (1 <= N
 * <= INT_MAX, as requests) of N bulk strings "$LEN\r\n<LEN bytes>\r\n"; nothing else (no
 * inline commands, no stray bytes).  Each command goes through the normal
 * dispatcher (kv_cmd_execute) with a client that has no connection and
 * whose replies are discarded, so the log and the commands cannot drift
 * apart.  A command must exist, be a write command and succeed (an error
 * reply means the log is not one this server wrote).  While replaying,
 * keys do not expire and nothing is evicted (Redis does the same), which
 * makes the replay independent of the time it runs at.
 *
 * The first defect stops the replay: the load info then gives the offset
 * of the first byte of the bad (or incomplete) command, which is also the
 * length of the valid prefix, and says what was wrong.
 */
#ifndef KV_AOF_LOAD_H
#define KV_AOF_LOAD_H

#include <stddef.h>

#include "snap.h"

/* Replays BUF into kv_srv.db.  0, or -1 with LI->what and LI->good_end;
 * LI->count: commands replayed (the commands before the defect stay
 * applied). */
int kv_log_replay(const char *buf, size_t len, kv_load_info *li);

#endif

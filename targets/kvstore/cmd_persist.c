/*
 * cmd_persist.c -- persistence commands: SAVE, BGSAVE [SCHEDULE],
 * BGREWRITEAOF, LASTSAVE.  Replies and error texts follow Redis 7.0
 * (rdb.c saveCommand/bgsaveCommand, aof.c bgrewriteaofCommand); the work is
 * done by persist.c.  The in-process library has no persistence: there
 * these commands reply an error.
 */
#include "cmd.h"
#include "persist.h"

static const char ERR_EMBEDDED[] = "persistence is not available in the in-process library";

void kv_cmd_save(kv_client *c)
{
    int rc;
    if (kv_srv.embedded) {
        kv_reply_error(&c->out, ERR_EMBEDDED);
        return;
    }
    rc = kv_persist_save();
    if (rc == KV_BG_IN_PROGRESS)
        kv_reply_error(&c->out, "Background save already in progress");
    else if (rc == 0)
        kv_reply_ok(&c->out);
    else
        kv_reply_error(&c->out, "-ERR");
}

void kv_cmd_bgsave(kv_client *c)
{
    int schedule = 0;
    if (c->argc > 1) {
        if (c->argc != 2 || !kv_arg_is(&c->argv[1], "schedule")) {
            kv_reply_error(&c->out, KV_ERR_SYNTAX);
            return;
        }
        schedule = 1;
    }
    if (kv_srv.embedded) {
        kv_reply_error(&c->out, ERR_EMBEDDED);
        return;
    }
    switch (kv_persist_bgsave(schedule)) {
    case KV_BG_STARTED:
        kv_reply_simple(&c->out, "Background saving started");
        break;
    case KV_BG_SCHEDULED:
        kv_reply_simple(&c->out, "Background saving scheduled");
        break;
    case KV_BG_IN_PROGRESS:
        kv_reply_error(&c->out, "Background save already in progress");
        break;
    case KV_BG_OTHER_CHILD:
        kv_reply_error(&c->out, "Another child process is active (AOF?): can't BGSAVE right "
                                "now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE "
                                "whenever possible.");
        break;
    default:
        kv_reply_error(&c->out, "-ERR");
        break;
    }
}

void kv_cmd_bgrewriteaof(kv_client *c)
{
    if (kv_srv.embedded) {
        kv_reply_error(&c->out, ERR_EMBEDDED);
        return;
    }
    switch (kv_persist_bgrewrite()) {
    case KV_BG_STARTED:
        kv_reply_simple(&c->out, "Background append only file rewriting started");
        break;
    case KV_BG_SCHEDULED:
        kv_reply_simple(&c->out, "Background append only file rewriting scheduled");
        break;
    case KV_BG_IN_PROGRESS:
        kv_reply_error(&c->out, "Background append only file rewriting already in progress");
        break;
    default:
        kv_reply_error(&c->out, "Can't execute an AOF background rewriting. Please check the "
                                "server logs for more information.");
        break;
    }
}

void kv_cmd_lastsave(kv_client *c)
{
    kv_reply_int(&c->out, kv_srv.embedded ? (long long)(kv_srv.start_ms / 1000)
                                          : kv_persist_lastsave());
}

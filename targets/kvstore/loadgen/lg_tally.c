/*
 * lg_tally.c -- what one thread records, and how threads' records merge.
 *
 * A reply is recorded when its request STARTED inside the measured window
 * [warm, end): the start is the send time in the closed loop and the
 * intended time at a fixed rate (see lg_sched.c).  Requests starting during
 * the warmup are answered but not recorded; requests starting inside the
 * window are recorded even if their reply arrives after its end (the run
 * drains them), so the in-flight requests cut off at the start and those
 * carried over at the end balance out.  Error replies count as errors (as
 * well as GETs or SETs); the text of the earliest one is kept.
 */
#include <assert.h>
#include <string.h>

#include "lg.h"

void lg_tally_init(lg_tally *t)
{
    memset(t, 0, sizeof *t);
    lg_hist_init(&t->hist);
}

static bool in_window(const lg_window *win, uint64_t start_ns)
{
    return start_ns >= win->warm_ns && start_ns < win->end_ns;
}

static void keep_error(lg_tally *t, const lg_reply *rep, uint64_t now_ns)
{
    if (t->has_error)
        return;
    size_t n = rep->text_len < LG_ERR_TEXT - 1 ? rep->text_len
                                               : LG_ERR_TEXT - 1;
    memcpy(t->first_error, rep->text, n);
    t->first_error[n] = '\0';
    t->first_error_ns = now_ns;
    t->has_error = true;
}

void lg_tally_reply(lg_tally *t, const lg_window *win, uint64_t start_ns,
                    bool is_get, const lg_reply *rep, uint64_t now_ns)
{
    if (!in_window(win, start_ns))
        return;
    assert(now_ns >= start_ns); /* replies follow their requests */
    lg_hist_record(&t->hist, now_ns - start_ns);
    if (is_get)
        t->gets++;
    else
        t->sets++;
    if (rep->type == LG_REPLY_ERROR) {
        t->errors++;
        keep_error(t, rep, now_ns);
    }
}

void lg_tally_sent(lg_tally *t, const lg_window *win, uint64_t now_ns)
{
    if (in_window(win, now_ns))
        t->sent++;
}

void lg_tally_merge(lg_tally *dst, const lg_tally *src)
{
    lg_hist_merge(&dst->hist, &src->hist);
    dst->gets += src->gets;
    dst->sets += src->sets;
    dst->errors += src->errors;
    dst->sent += src->sent;
    dst->unanswered += src->unanswered;
    dst->unsent += src->unsent;
    if (src->has_error &&
        (!dst->has_error || src->first_error_ns < dst->first_error_ns)) {
        memcpy(dst->first_error, src->first_error, sizeof dst->first_error);
        dst->first_error_ns = src->first_error_ns;
        dst->has_error = true;
    }
    assert(dst->hist.total == dst->gets + dst->sets);
}

/*
 * tcp_timer.c -- TCP timers: retransmission (RFC 6298: SRTT/RTTVAR, RTO
 * bounds, Karn's algorithm, exponential backoff; RFC 5681 3.1 on timeout),
 * persist (RFC 9293 3.8.6.1 zero-window probes, RFC 1122 4.2.2.17), delayed
 * ACK (RFC 1122 4.2.3.2, RFC 5681 4.2), TIME-WAIT 2*MSL (RFC 9293 3.6) and
 * the orphaned FIN-WAIT-2 timeout. Timers are absolute times in us from
 * ts_now; TS_TCP_OFF means not armed.
 */
#include "tcp.h"

/* RFC 6298 2.2/2.3 with alpha 1/8, beta 1/4, K 4, G 1 us. */
void ts_tcp_rtt_sample(struct ts_tcb *t, uint32_t r)
{
    if (r == 0)
        r = 1;
    if (t->srtt == 0) {
        t->srtt = r;
        t->rttvar = r / 2;
    } else {
        uint32_t d = t->srtt > r ? t->srtt - r : r - t->srtt;
        t->rttvar = (uint32_t)(((uint64_t)t->rttvar * 3 + d) / 4);
        t->srtt = (uint32_t)(((uint64_t)t->srtt * 7 + r) / 8);
    }
    uint64_t rto = (uint64_t)t->srtt + ((uint64_t)t->rttvar * 4 > 1 ? (uint64_t)t->rttvar * 4 : 1);
    if (rto < TS_TCP_RTO_MIN_US)
        rto = TS_TCP_RTO_MIN_US;
    if (rto > TS_TCP_RTO_MAX_US)
        rto = TS_TCP_RTO_MAX_US;
    t->rto = (uint32_t)rto;
}

uint32_t ts_tcp_cur_rto(const struct ts_tcb *t)
{
    uint64_t r = (uint64_t)t->rto << (t->backoff > 20 ? 20 : t->backoff);
    return r > TS_TCP_RTO_MAX_US ? TS_TCP_RTO_MAX_US : (uint32_t)r;
}

void ts_tcp_restart_rtx(struct ts_tcb *t)
{
    t->t_rtx = t->snd_max != t->snd_una ? ts_now(t->s) + ts_tcp_cur_rto(t) : TS_TCP_OFF;
}

/* Arm the retransmission timer iff something is unacknowledged, the persist
 * timer iff nothing is but unsent data waits for the window, and the 2*MSL
 * timer in TIME-WAIT (and for an orphaned FIN-WAIT-2). */
void ts_tcp_arm_timers(struct ts_tcb *t)
{
    uint64_t now = ts_now(t->s);
    int active = t->state != TS_CLOSED && t->state != TS_LISTEN && t->state != TS_TIME_WAIT;
    if (active && t->snd_max != t->snd_una) {
        if (t->t_rtx == TS_TCP_OFF)
            t->t_rtx = now + ts_tcp_cur_rto(t);
        t->t_persist = TS_TCP_OFF;
    } else {
        t->t_rtx = TS_TCP_OFF;
        if (active && ts_tcp_synced(t->state) && ts_tcp_unsent(t) > 0) {
            if (t->t_persist == TS_TCP_OFF)
                t->t_persist = now + ts_tcp_cur_rto(t);
        } else {
            t->t_persist = TS_TCP_OFF;
        }
    }
    if (t->state == TS_FIN_WAIT_2 && t->released) {
        if (t->t_2msl == TS_TCP_OFF)
            t->t_2msl = now + TS_TCP_FIN_TIMEOUT_US;
    } else if (t->state != TS_TIME_WAIT) {
        t->t_2msl = TS_TCP_OFF;
    }
}

void ts_tcp_enter_time_wait(struct ts_tcb *t)
{
    ts_tcp_set_state(t, TS_TIME_WAIT);
    t->t_2msl = ts_now(t->s) + 2 * TS_TCP_MSL_US;
    ts_tcp_arm_timers(t);
}

/* Acknowledge now, or within the delayed-ACK time unless two full-sized
 * segments are unacknowledged (RFC 5681 4.2). */
void ts_tcp_schedule_ack(struct ts_tcb *t, int immediate)
{
    uint32_t seg = t->rcv_seg_max ? t->rcv_seg_max : t->rcv_mss;
    if (immediate || !t->delack || t->rcv_unacked >= 2 * seg) {
        t->ack_now = 1;
        return;
    }
    if (!t->ack_delayed) {
        t->ack_delayed = 1;
        t->t_delack = ts_now(t->s) + TS_TCP_DELACK_US;
    }
}

static int ts_tcp_on_rto(struct ts_tcb *t, uint64_t now)
{
    uint32_t limit = t->state == TS_SYN_SENT ? TS_TCP_SYN_RETRIES
                   : t->state == TS_SYN_RECEIVED ? TS_TCP_SYNACK_RETRIES : TS_TCP_MAX_RETRIES;
    t->t_rtx = TS_TCP_OFF;
    if (t->retries >= limit) {
        TS_STAT_INC(t->s, TCP_CONN_TIMEOUTS);
        return ts_tcp_closed(t, ETIMEDOUT);
    }
    t->retries++;
    TS_STAT_INC(t->s, TCP_TIMEOUTS);
    if (t->backoff < 31)
        t->backoff++;
    t->rtt_timing = 0;
    if (ts_tcp_synced(t->state) && t->snd_wnd != 0) {
        if (t->retries == 1)
            t->cc->on_timeout(t, now);   /* RFC 5681 eq. 4, once per loss */
        else
            t->cwnd = t->mss;
        t->in_recovery = 0;
        t->dupacks = 0;
        t->recover = t->snd_max;         /* RFC 6582 4.1 */
        t->snd_nxt = t->snd_una;         /* go back N */
    }
    ts_tcp_retransmit_first(t);
    ts_tcp_output(t);
    return 0;
}

void ts_tcp_timers(struct ts_tcb *t, uint64_t now)
{
    if (t->t_2msl <= now) {
        ts_tcp_closed(t, t->state == TS_TIME_WAIT ? 0 : ETIMEDOUT);
        return;
    }
    if (t->t_delack <= now) {
        TS_STAT_INC(t->s, TCP_DELAYED_ACKS);
        ts_tcp_send_ack(t);
    }
    if (t->t_rtx <= now && ts_tcp_on_rto(t, now))
        return;
    if (t->t_persist <= now) {
        t->t_persist = TS_TCP_OFF;
        if (t->snd_wnd == 0 && t->retries >= TS_TCP_MAX_RETRIES) {
            TS_STAT_INC(t->s, TCP_CONN_TIMEOUTS);   /* probes unanswered */
            ts_tcp_closed(t, ETIMEDOUT);
            return;
        }
        TS_STAT_INC(t->s, TCP_PERSIST_PROBES);
        if (t->snd_wnd == 0)
            t->retries++;   /* reset by any ACK from the peer */
        if (t->backoff < 31)
            t->backoff++;
        ts_tcp_persist_probe(t);
        ts_tcp_arm_timers(t);
    }
}

uint64_t ts_tcp_next_timer(const struct ts_tcb *t)
{
    uint64_t d = t->t_rtx;
    if (t->t_persist < d)
        d = t->t_persist;
    if (t->t_delack < d)
        d = t->t_delack;
    if (t->t_2msl < d)
        d = t->t_2msl;
    return d;
}

/*
 * lg_hist.c -- the latency histogram: log-linear buckets in the manner of
 * HdrHistogram (http://hdrhistogram.org/) with 2 significant decimal
 * digits.
 *
 * Values are whole microseconds (latencies in ns rounded up).  0..255 us
 * get one bucket each; above, every octave [2^k, 2^(k+1)) is cut into 128
 * equal sub-buckets of width 2^(k-7), so a bucket's width is at most 1/128
 * (< 1%) of any value in it.  Octaves k = 8..25 reach 2^26 us > 60 s, the
 * top of the range; larger values are counted in the last bucket (the
 * exact maximum is kept apart).  That is 256 + 18 * 128 = 2560 counters.
 *
 * A percentile p is the upper bound of the first bucket at which the
 * cumulative count reaches ceil(p/100 * total), clamped to the observed
 * maximum; the mean comes from the exact sum of the nanosecond values.
 */
#include <assert.h>
#include <math.h>
#include <string.h>

#include "lg.h"

static uint64_t ns_to_us(uint64_t ns)
{
    return ns / 1000 + (ns % 1000 != 0);
}

static int bucket_of(uint64_t us)
{
    if (us > LG_HIST_MAX_US)
        us = LG_HIST_MAX_US;
    if (us < LG_HIST_LINEAR)
        return (int)us;
    int k = 63 - __builtin_clzll(us); /* octave: 2^k <= us < 2^(k+1) */
    int shift = k - 7;
    int b = LG_HIST_LINEAR + (k - 8) * LG_HIST_SUB +
            (int)((us >> shift) - LG_HIST_SUB);
    assert(k >= 8 && b >= LG_HIST_LINEAR && b < LG_HIST_BUCKETS);
    return b;
}

uint64_t lg_hist_upper_us(int bucket)
{
    assert(bucket >= 0 && bucket < LG_HIST_BUCKETS);
    if (bucket < LG_HIST_LINEAR)
        return (uint64_t)bucket;
    int j = bucket - LG_HIST_LINEAR;
    int shift = j / LG_HIST_SUB + 1; /* octave k = shift + 7 */
    uint64_t sub = (uint64_t)(j % LG_HIST_SUB);
    return ((LG_HIST_SUB + sub + 1) << shift) - 1;
}

void lg_hist_init(lg_hist *h)
{
    memset(h, 0, sizeof *h);
}

void lg_hist_record(lg_hist *h, uint64_t ns)
{
    uint64_t us = ns_to_us(ns);
    int b = bucket_of(us);
    assert(us > LG_HIST_MAX_US || lg_hist_upper_us(b) >= us);
    h->counts[b]++;
    h->total++;
    h->sum_ns += ns;
    if (ns > h->max_ns)
        h->max_ns = ns;
}

void lg_hist_merge(lg_hist *dst, const lg_hist *src)
{
    for (int i = 0; i < LG_HIST_BUCKETS; i++)
        dst->counts[i] += src->counts[i];
    dst->total += src->total;
    dst->sum_ns += src->sum_ns;
    if (src->max_ns > dst->max_ns)
        dst->max_ns = src->max_ns;
}

uint64_t lg_hist_max_us(const lg_hist *h)
{
    return ns_to_us(h->max_ns);
}

uint64_t lg_hist_percentile_us(const lg_hist *h, double pct)
{
    assert(pct > 0.0 && pct <= 100.0);
    if (h->total == 0)
        return 0;
    uint64_t want = (uint64_t)ceil(pct / 100.0 * (double)h->total);
    if (want < 1)
        want = 1;
    if (want > h->total)
        want = h->total;
    uint64_t seen = 0, max_us = lg_hist_max_us(h);
    for (int i = 0; i < LG_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= want) {
            uint64_t up = lg_hist_upper_us(i);
            return up < max_us ? up : max_us;
        }
    }
    assert(!"histogram counts do not add up to its total");
    return max_us;
}

double lg_hist_mean_us(const lg_hist *h)
{
    return h->total ? (double)h->sum_ns / (double)h->total / 1000.0 : 0.0;
}

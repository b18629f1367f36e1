/*
 * lg_report.c -- the result: ONE JSON object (RFC 8259) on stdout.
 *
 *   {"ops": replies/s over the measured window, "gets": n, "sets": n,
 *    "errors": n, "first_error": str|null, "duration_s": x,
 *    "connections": C, "pipeline": D, "threads": T, "rate": OPS|null,
 *    "achieved_rate": requests/s actually sent in the window | null,
 *    "latency_us": {"mean", "p50", "p90", "p99", "p999", "max"},
 *    "histogram": [[bucket upper bound in us, count], ...]}
 *
 * Counts are those of lg_tally.c (requests started inside the window);
 * percentiles are bucket upper bounds clamped to the maximum (lg_hist.c);
 * the histogram lists the non-empty buckets in increasing order.  Error
 * text is escaped byte by byte: bytes outside printable ASCII become
 * \u00XX, so the document is valid whatever the server sent.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>

#include "lg.h"

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p >= 0x7f)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void latency(FILE *f, const lg_hist *h)
{
    fprintf(f, "\"latency_us\": {\"mean\": %.1f, \"p50\": %" PRIu64
            ", \"p90\": %" PRIu64 ", \"p99\": %" PRIu64 ", \"p999\": %" PRIu64
            ", \"max\": %" PRIu64 "}",
            lg_hist_mean_us(h), lg_hist_percentile_us(h, 50.0),
            lg_hist_percentile_us(h, 90.0), lg_hist_percentile_us(h, 99.0),
            lg_hist_percentile_us(h, 99.9), lg_hist_max_us(h));
}

static void histogram(FILE *f, const lg_hist *h)
{
    const char *sep = "";
    uint64_t listed = 0;
    fputs("\"histogram\": [", f);
    for (int i = 0; i < LG_HIST_BUCKETS; i++) {
        if (h->counts[i] == 0)
            continue;
        fprintf(f, "%s[%" PRIu64 ", %" PRIu64 "]", sep, lg_hist_upper_us(i),
                h->counts[i]);
        listed += h->counts[i];
        sep = ", ";
    }
    fputc(']', f);
    assert(listed == h->total);
}

static void rates(FILE *f, const lg_config *cfg, const lg_tally *t,
                  double seconds)
{
    if (cfg->rate > 0.0)
        fprintf(f, "\"rate\": %.15g, \"achieved_rate\": %.1f, ", cfg->rate,
                (double)t->sent / seconds);
    else
        fputs("\"rate\": null, \"achieved_rate\": null, ", f);
}

void lg_report(const lg_config *cfg, const lg_shared *sh,
               const lg_tally *total)
{
    FILE *f = stdout;
    assert(sh->win.end_ns > sh->win.warm_ns);
    double seconds = (double)(sh->win.end_ns - sh->win.warm_ns) / 1e9;
    uint64_t replies = total->gets + total->sets;
    fprintf(f, "{\"ops\": %.1f, \"gets\": %" PRIu64 ", \"sets\": %" PRIu64
            ", \"errors\": %" PRIu64 ", \"first_error\": ",
            (double)replies / seconds, total->gets, total->sets,
            total->errors);
    if (total->has_error)
        json_string(f, total->first_error);
    else
        fputs("null", f);
    fprintf(f, ", \"duration_s\": %.3f, \"connections\": %d, \"pipeline\": "
            "%d, \"threads\": %d, ", seconds, cfg->connections,
            cfg->pipeline, cfg->threads);
    rates(f, cfg, total, seconds);
    latency(f, &total->hist);
    fputs(", ", f);
    histogram(f, &total->hist);
    fputs("}\n", f);
    fflush(f);
}

/*
 * fuzz_prog.c -- the stateful fuzz targets' programs, decoded and run in C
 * for speed: the input is read exactly as libFuzzer's and atheris's
 * FuzzedDataProvider reads it (integers in a range from the end of the
 * input, most significant byte first, one byte per 8 bits of the range,
 * reduced modulo the range's size; byte strings from the front), in the
 * order plugins/tcpip/fuzzing/steps.py gives, which is the reference
 * decoder and the seed encoder (a test checks that both decode alike).
 * Each step is run on a fresh fixture (fuzz_fx.c) and ts_check runs after
 * every step.
 */
#include "ts.h"

#include <stdio.h>

#define FP_SESSION_STEPS 64
#define FP_REASM_STEPS 48
#define FP_DHCP_STEPS 12
#define FP_TRACE_NONE ((int64_t *)0)

struct fp {
    const uint8_t *data;
    size_t len;                 /* bytes left, data[0..len) */
    int64_t *trace;             /* decoded values, for the equivalence test */
    size_t ntrace, trace_cap;
};

TS_NOCOV static void fp_note(struct fp *p, int64_t v)
{
    if (p->trace && p->ntrace < p->trace_cap)
        p->trace[p->ntrace] = v;
    p->ntrace++;
}

/* FuzzedDataProvider::ConsumeIntegralInRange. */
TS_NOCOV static int64_t fp_int(struct fp *p, int64_t lo, int64_t hi)
{
    assert(lo <= hi);
    uint64_t range = (uint64_t)hi - (uint64_t)lo, result = 0;
    for (unsigned off = 0; off < 64 && (range >> off) > 0 && p->len > 0; off += 8)
        result = (result << 8) | p->data[--p->len];
    if (range != UINT64_MAX)
        result %= range + 1;
    int64_t v = (int64_t)((uint64_t)lo + result);
    fp_note(p, v);
    return v;
}

/* FuzzedDataProvider::ConsumeBytes(n): at most n bytes from the front. */
static const uint8_t *fp_bytes(struct fp *p, size_t n, size_t *got)
{
    *got = n < p->len ? n : p->len;
    const uint8_t *b = p->data;
    p->data += *got;
    p->len -= *got;
    fp_note(p, (int64_t)*got);
    return b;
}

static const uint8_t *fp_blob(struct fp *p, int64_t most, size_t *got)
{
    return fp_bytes(p, (size_t)fp_int(p, 0, most), got);
}

TS_NOCOV static int32_t fp_delta(struct fp *p)
{
    static const int32_t fixed[3] = { 0, 1, -1 };
    int64_t mode = fp_int(p, 0, 4);
    if (mode < 3)
        return fixed[mode];
    return (int32_t)(mode == 3 ? fp_int(p, -70000, 70000) : fp_int(p, INT32_MIN, INT32_MAX));
}

/* ------------------------------------------------------------------ steps */

TS_NOCOV static void fp_segment(struct fp *p, struct ts_fx *fx)
{
    int conn = (int)fp_int(p, 0, 7);
    uint8_t flags = (uint8_t)fp_int(p, 0, 255);
    int32_t seq = fp_delta(p), ack = fp_delta(p);
    uint16_t window = (uint16_t)fp_int(p, 0, 65535);
    size_t optlen, len;
    const uint8_t *opts = fp_blob(p, 40, &optlen);
    const uint8_t *payload = fp_blob(p, 1460, &len);
    if (fx)
        ts_fx_segment(fx, conn, flags, seq, ack, window, opts, optlen, payload, len);
}

TS_NOCOV static void fp_advance(struct fp *p, struct ts_fx *fx)
{
    static const uint64_t fixed_ms[4] = { 1, 40, 250, 1000 };
    int64_t mode = fp_int(p, 0, 4);
    uint64_t ms = mode < 4 ? fixed_ms[mode] : (uint64_t)fp_int(p, 0, 300000);
    if (fx)
        ts_fx_advance(fx, ms * 1000);
}

TS_NOCOV static void fp_app(struct fp *p, struct ts_fx *fx)
{
    int op = (int)fp_int(p, 0, 8), sock = (int)fp_int(p, 0, 7);
    long arg = (long)fp_int(p, 0, 8192);
    if (fx)
        ts_fx_app(fx, op, sock, arg);
}

TS_NOCOV static void fp_fragment(struct fp *p, struct ts_fx *fx)
{
    static const uint8_t protos[3] = { TS_IP_UDP, TS_IP_TCP, TS_IP_ICMP };
    uint16_t ident = (uint16_t)fp_int(p, 0, 3);
    uint8_t proto = protos[fp_int(p, 0, 2)];
    uint16_t off8 = (uint16_t)fp_int(p, 0, 8191);
    int more = (int)fp_int(p, 0, 1);
    size_t len;
    const uint8_t *payload = fp_blob(p, 1480, &len);
    if (fx)
        ts_fx_fragment(fx, ident, proto, off8, more, payload, len);
}

TS_NOCOV static void fp_dhcp(struct fp *p, struct ts_fx *fx)
{
    uint8_t type = (uint8_t)fp_int(p, 0, 8);
    int xid_ok = (int)fp_int(p, 0, 3) != 0;
    uint32_t yiaddr = (uint32_t)fp_int(p, 0, UINT32_MAX);
    int bcast = (int)fp_int(p, 0, 1);
    size_t len;
    const uint8_t *opts = fp_blob(p, 312, &len);
    if (fx)
        ts_fx_dhcp_reply(fx, type, xid_ok, yiaddr, bcast, opts, len);
}

typedef void (*fp_step_fn)(struct fp *, struct ts_fx *);

struct fp_program {
    int fx_kind, limit, nkinds;
    fp_step_fn kinds[3];
    const char *names[3];
};

static const struct fp_program fp_programs[] = {
    [TS_FX_PROG_SESSION] = { TS_FX_TCP, FP_SESSION_STEPS, 3, { fp_segment, fp_advance, fp_app },
                             { "Segment", "Advance", "App" } },
    [TS_FX_PROG_REASM] = { TS_FX_TCP, FP_REASM_STEPS, 2, { fp_fragment, fp_advance, NULL },
                           { "Fragment", "Advance", NULL } },
    [TS_FX_PROG_DHCP] = { TS_FX_DHCP, FP_DHCP_STEPS, 2, { fp_dhcp, fp_advance, NULL },
                          { "DhcpReply", "Advance", NULL } },
};

TS_NOCOV static int fp_run(const struct fp_program *prog, struct fp *p, struct ts_fx *fx, char *err,
                  size_t cap)
{
    int64_t steps = fp_int(p, 1, prog->limit);
    for (int64_t i = 0; i < steps; i++) {
        int64_t k = fp_int(p, 0, prog->nkinds - 1);
        prog->kinds[k](p, fx);
        if (!fx)
            continue;
        char why[400];
        if (ts_check(ts_fx_stack(fx), why, sizeof why) != 0) {
            snprintf(err, cap, "after step %lld (%s): %s", (long long)i, prog->names[k], why);
            return -1;
        }
    }
    return 0;
}

TS_NOCOV int ts_fx_program(int prog, const uint8_t *data, size_t len, char *err, size_t cap,
                  uint64_t *frames_out)
{
    if (prog < 0 || prog > TS_FX_PROG_DHCP)
        return -EINVAL;
    struct ts_fx *fx = ts_fx_new(fp_programs[prog].fx_kind, 1);
    if (!fx)
        return -ENOMEM;
    struct fp p = { data, len, FP_TRACE_NONE, 0, 0 };
    err[0] = '\0';
    int rc = fp_run(&fp_programs[prog], &p, fx, err, cap);
    *frames_out = ts_fx_frames_out(fx);
    ts_fx_free(fx);
    return rc;
}

TS_NOCOV long ts_fx_decode(int prog, const uint8_t *data, size_t len, int64_t *trace, size_t cap)
{
    if (prog < 0 || prog > TS_FX_PROG_DHCP)
        return -EINVAL;
    struct fp p = { data, len, trace, 0, cap };
    fp_run(&fp_programs[prog], &p, NULL, NULL, 0);
    return (long)p.ntrace;
}

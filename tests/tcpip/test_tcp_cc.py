"""TCP loss recovery and congestion control between in-process stacks: fast retransmit on
three duplicate ACKs (RFC 5681 3.2), NewReno partial ACKs (RFC 6582), RTT estimation
(RFC 6298) over a delay line, and the window shapes of NewReno (halving, one MSS per RTT)
and CUBIC (RFC 9438: beta 0.7, concave approach to W_max at time K, convex probing
beyond). ts_check runs after every delivery round."""

from __future__ import annotations

import errno

from test_tcp import ACK, CUBIC, TS_CC, connect, pair, recv, segs, segs_of, send

MSS = 1460


def info(h, t, name):
    return h.lib.ts_tcp_info(t, name.encode())


def drop_seqs(net, victims):
    """Drop the first transmission of the data segments at the given offsets (in MSS
    from the first data byte)."""
    state = {"base": None, "dropped": set()}

    def f(src, frame):
        x = segs_of(src.name, frame)
        if x and src.name == "a" and x["data"]:
            if state["base"] is None:
                state["base"] = x["seq"]
            k = (x["seq"] - state["base"]) % 2**32 // MSS
            if k in victims and k not in state["dropped"]:
                state["dropped"].add(k)
                return []
        return [frame]
    net.filter = f
    return state


def test_fast_retransmit_after_three_dupacks(net):
    a, b = pair(net)
    c, s, _ = connect(net, a, b)
    drop_seqs(net, {2})
    data = bytes(range(73)) * (8 * MSS // 73)
    send(a, c, data)
    net.pump()                      # no time passes: only dupacks can trigger a resend
    assert recv(b, s) == data
    assert a.stat("tcp.fast_retransmits") == 1 and a.stat("tcp.timeouts") == 0
    assert a.stat("tcp.retransmits") == 1 and a.stat("tcp.dup_acks") >= 3
    # ssthresh = max(FlightSize / 2, 2 MSS): 6 segments in flight after the first ACK
    assert info(a, c, "ssthresh") == 3 * MSS
    assert info(a, c, "in_recovery") == 0 and info(a, c, "cwnd") <= 4 * MSS + MSS
    resent = [x for x in segs(net, "a") if x["data"]]
    assert resent[-1]["seq"] == resent[2]["seq"]


def test_newreno_partial_ack_retransmits_next_hole(net):
    a, b = pair(net)
    c, s, _ = connect(net, a, b)
    drop_seqs(net, {1, 5})
    data = bytes(range(73)) * (10 * MSS // 73)
    send(a, c, data)
    net.pump()
    assert recv(b, s) == data
    # one fast retransmit, then the partial ACK repaired the second hole without an RTO
    assert a.stat("tcp.fast_retransmits") == 1 and a.stat("tcp.timeouts") == 0
    assert a.stat("tcp.retransmits") == 2
    data_segs = [x for x in segs(net, "a") if x["data"]]
    base = data_segs[0]["seq"]
    seen, resent = set(), []
    for x in data_segs:
        (resent.append((x["seq"] - base) // MSS) if x["seq"] in seen else seen.add(x["seq"]))
    assert resent == [1, 5]
    assert info(a, c, "in_recovery") == 0


def test_rto_without_dupacks_when_tail_lost(net):
    a, b = pair(net)
    c, s, _ = connect(net, a, b)
    drop_seqs(net, {3})             # the last segment: no dupacks follow
    data = b"t" * (4 * MSS)
    send(a, c, data)
    net.pump()
    assert a.stat("tcp.fast_retransmits") == 0
    net.advance(1000)
    assert recv(b, s) == data and a.stat("tcp.timeouts") == 1
    assert info(a, c, "cwnd") >= MSS


class DelayLine:
    """Hold every frame for `delay_ms`, stepping the clock `step_ms` at a time."""

    def __init__(self, net, delay_ms, step_ms=2):
        self.net, self.delay, self.step = net, delay_ms * 1000, step_ms
        self.queue = []
        self.drop = None
        net.filter = self._hold

    def _hold(self, src, frame):
        if self.drop and self.drop(src, frame):
            self.drop = None
            return []
        self.queue.append((self.net.now_us + self.delay, src, frame))
        return []

    def tick(self):
        net = self.net
        net.advance(self.step)
        due = [q for q in self.queue if q[0] <= net.now_us]
        self.queue = [q for q in self.queue if q[0] > net.now_us]
        for _, src, frame in due:
            for dst in net.hosts:
                if dst is not src:
                    dst.send(frame)
        net.pump()


def bulk_with_one_loss(net, cc, loss_at_segs, seconds):
    """Cwnd-limited bulk transfer over a 100 ms RTT; one segment dropped once cwnd
    reaches loss_at_segs. Returns (cwnd at loss, [(t_since_loss_s, cwnd_segs)], c)."""
    a, b = pair(net, tcp_sndbuf=8 << 20, tcp_rcvbuf=8 << 20)
    lib = a.lib
    c, s, _ = connect(net, a, b, cc=cc)
    line = DelayLine(net, 50, step_ms=5)
    chunk = bytes(65536)
    state = {"w": None, "t0": None}

    def drop(src, frame):
        x = segs_of(src.name, frame)
        if state["w"] is None and src.name == "a" and x and x["data"] and \
                info(a, c, "cwnd") >= loss_at_segs * MSS:
            state["w"] = info(a, c, "cwnd")
            state["t0"] = net.now_us
            return True
        return False
    line.drop = drop
    samples = []
    buf = b.ffi.new("uint8_t[]", 1 << 20)
    end = None
    while end is None or net.now_us < end:
        while lib.ts_tcp_send(c, chunk, len(chunk)) > 0:
            pass
        while lib.ts_tcp_recv(s, buf, 1 << 20) > 0:
            pass
        line.tick()
        if state["t0"] is not None:
            end = end or state["t0"] + int(seconds * 1e6)
            samples.append(((net.now_us - state["t0"]) / 1e6, info(a, c, "cwnd") / MSS))
        assert net.now_us < 30_000_000, "no loss happened"
    assert info(a, c, "srtt_us") in range(95_000, 115_000)
    assert a.stat("tcp.timeouts") == 0 and a.stat("tcp.fast_retransmits") == 1
    return state["w"] / MSS, samples, c


def at(samples, t):
    return min(samples, key=lambda p: abs(p[0] - t))[1]


def test_newreno_halves_then_grows_one_mss_per_rtt(net):
    w, samples, c = bulk_with_one_loss(net, 0, 80, 3.0)
    after = at(samples, 0.3)                       # recovery over
    assert 0.4 * w <= after <= 0.6 * w + 3
    per_rtt = [(at(samples, t + 1.0) - at(samples, t)) / 10 for t in (0.5, 1.5)]
    assert all(0.7 <= g <= 1.3 for g in per_rtt), per_rtt


def test_cubic_window_shape(net):
    w, samples, c = bulk_with_one_loss(net, CUBIC, 80, 6.5)
    after = at(samples, 0.3)
    assert 0.65 * w <= after <= 0.75 * w + 3       # beta 0.7
    k = (w * 0.3 / 0.4) ** (1 / 3)                 # RFC 9438 eq. 2, seconds
    assert 3.5 < k < 4.5
    # concave: faster growth far below W_max than just below it
    early = at(samples, 1.5) - at(samples, 0.5)
    late = at(samples, k) - at(samples, k - 1.0)
    assert early > 2 * late
    # at K the window is back near W_max; then convex growth beyond it
    assert abs(at(samples, k) - w) <= 0.08 * w
    beyond = at(samples, k + 2.0) - at(samples, k + 1.0)
    assert beyond > late and at(samples, k + 2.0) > w


def test_cubic_recovers_faster_than_newreno_from_large_window(tsmod):
    from netsim import Net
    results = {}
    for cc in (0, CUBIC):
        net = Net(tsmod)
        try:
            w, samples, _ = bulk_with_one_loss(net, cc, 150, 4.0)
            results[cc] = at(samples, 4.0) / w
        finally:
            net.close()
    assert results[CUBIC] > 0.95 and results[0] < 0.85, results


def test_cc_option(net):
    a, b = pair(net)
    lib = a.lib
    t = lib.ts_tcp_socket(a.s)
    assert lib.ts_tcp_getopt(t, TS_CC) == 0
    assert lib.ts_tcp_setopt(t, TS_CC, CUBIC) == 0 and lib.ts_tcp_getopt(t, TS_CC) == CUBIC
    assert lib.ts_tcp_setopt(t, TS_CC, 7) == -errno.EINVAL
    assert lib.ts_tcp_info(t, b"nope") == -1
    c, s, _ = connect(net, a, b)
    assert info(a, c, "cwnd") == 10 * MSS            # RFC 6928 initial window
    assert info(a, c, "mss") == MSS and ACK == 16

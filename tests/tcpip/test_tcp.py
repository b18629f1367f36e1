"""TCP (RFC 9293) between in-process stacks on the simulated segment: handshakes (normal,
simultaneous open), data both ways, closes (graceful, simultaneous, TIME-WAIT expiry,
RST on a closed port, ECONNREFUSED), retransmission with RTO backoff (RFC 6298), window
scaling (RFC 7323), zero window and persist probes, Nagle vs NODELAY, delayed ACK timing,
out-of-order reassembly, the bounded backlog; ts_check runs after every delivery round.
Congestion control has its own file, test_tcp_cc.py."""

from __future__ import annotations

import errno
import struct

from netsim import ip

EST, SYN_SENT, CLOSED, TIME_WAIT = 4, 2, 0, 10
FIN_WAIT_2, CLOSE_WAIT, LAST_ACK = 6, 7, 9
EV_READ, EV_WRITE, EV_HUP, EV_ERR = 1, 2, 4, 8
NODELAY, CC, SNDBUF, RCVBUF, WSCALE, DELACK = 1, 2, 3, 4, 5, 6
TS_CC, NEWRENO, CUBIC = CC, 0, 1
FIN, SYN, RST, PSH, ACK = 1, 2, 4, 8, 16


def pair(net, **cfg):
    """Hosts a (10.0.0.1) and b (10.0.0.2) that already know each other's MAC."""
    a, b = net.host("a", "10.0.0.1/24", **cfg), net.host("b", "10.0.0.2/24", **cfg)
    assert a.lib.ts_ping(a.s, ip("10.0.0.2"), 1, 1, b"", 0) == 0
    net.pump()
    net.trace.clear()
    return a, b


def listener(h, port=80, backlog=16, **opts):
    lib = h.lib
    t = lib.ts_tcp_socket(h.s)
    for k, v in opts.items():
        assert lib.ts_tcp_setopt(t, globals()[k.upper()], v) == 0
    assert lib.ts_tcp_bind(t, 0, port) == 0
    assert lib.ts_tcp_listen(t, backlog) == 0
    return t


def connect(net, a, b, port=80, lst=None, **opts):
    """A connected (client, server, listener) triple; opts set on both ends."""
    lib = a.lib
    lst = lst or listener(b, port, **opts)
    c = lib.ts_tcp_socket(a.s)
    for k, v in opts.items():
        assert lib.ts_tcp_setopt(c, globals()[k.upper()], v) == 0
    assert lib.ts_tcp_connect(c, ip(b.ip), port) == -errno.EINPROGRESS
    net.pump()
    srv = lib.ts_tcp_accept(lst)
    assert srv != a.ffi.NULL
    assert lib.ts_tcp_state(c) == EST and lib.ts_tcp_state(srv) == EST
    return c, srv, lst


def send(h, t, data):
    n = h.lib.ts_tcp_send(t, data, len(data))
    assert n >= 0, n
    return n


def recv(h, t, cap=1 << 20):
    buf = h.ffi.new("uint8_t[]", cap)
    n = h.lib.ts_tcp_recv(t, buf, cap)
    return bytes(h.ffi.buffer(buf, n)) if n > 0 else n


def parse_seg(when, name, f):
    """One frame as a dict (time, src, ports, flags, seq, ack, wnd, opts, data), or None
    when it is not TCP over IPv4."""
    if len(f) < 34 or f[12:14] != b"\x08\x00" or f[23] != 6:
        return None
    ihl = (f[14] & 15) * 4
    tcp = f[14 + ihl:14 + struct.unpack("!H", f[16:18])[0]]
    sport, dport, seq, ack, off, flags, wnd = struct.unpack("!HHIIBBH", tcp[:16])
    return dict(t=when, src=name, sport=sport, dport=dport, seq=seq, ack=ack, flags=flags,
                wnd=wnd, opts=tcp[20:(off >> 4) * 4], data=tcp[(off >> 4) * 4:])


def segs(net, src=None, since=0):
    """The TCP segments of net.trace (from index `since`), optionally from one host."""
    out = [parse_seg(when, name, f) for when, name, f in net.trace[since:]
           if not src or name == src]
    return [x for x in out if x]


def segs_of(name, frame):
    return parse_seg(0, name, frame)


def transfer(net, ha, ta, hb, tb, data, ms=60_000):
    """Push data from ta to tb, reading as it comes; returns what tb got."""
    got, sent = bytearray(), 0

    def step():
        nonlocal sent
        if sent < len(data):
            n = ha.lib.ts_tcp_send(ta, data[sent:sent + 65536], min(65536, len(data) - sent))
            if n > 0:
                sent += n
        r = recv(hb, tb)
        if isinstance(r, bytes):
            got.extend(r)
        return len(got) == len(data)

    assert net.run_until(step, ms), (sent, len(got))
    return bytes(got)


def test_handshake_and_data_both_ways(net):
    a, b = pair(net)
    lib = a.lib
    c, s, _ = connect(net, a, b)
    syn, synack, ack = segs(net)[:3]
    assert syn["flags"] == SYN and synack["flags"] == SYN | ACK and ack["flags"] == ACK
    assert synack["ack"] == (syn["seq"] + 1) % 2**32 and ack["ack"] == (synack["seq"] + 1) % 2**32
    assert syn["opts"][:2] == b"\x02\x04" and struct.unpack("!H", syn["opts"][2:4])[0] == 1460
    assert lib.ts_tcp_events(c) & EV_WRITE and not lib.ts_tcp_events(s) & EV_READ
    assert recv(b, s) == -errno.EAGAIN
    assert send(a, c, b"hello") == 5
    net.pump()
    assert b.lib.ts_tcp_events(s) & EV_READ
    assert recv(b, s) == b"hello"
    assert send(b, s, b"world!") == 6
    net.pump()
    assert recv(a, c) == b"world!"
    assert lib.ts_tcp_local_port(c) >= 49152 and lib.ts_tcp_remote_port(c) == 80
    assert b.lib.ts_tcp_remote_ip(s) == ip("10.0.0.1")
    assert a.stat("tcp.active_opens") == 1 and b.stat("tcp.passive_opens") == 1


def test_bulk_transfer_both_directions(net):
    a, b = pair(net)
    c, s, _ = connect(net, a, b)
    data = bytes(i * 7 % 251 for i in range(2_000_000))
    assert transfer(net, a, c, b, s, data) == data
    back = data[::-1][:500_000]
    assert transfer(net, b, s, a, c, back) == back
    assert a.stat("tcp.retransmits") == 0
    # full-sized segments only, apart from the last of each burst
    sizes = [len(x["data"]) for x in segs(net, "a") if x["data"]]
    assert sizes.count(1460) >= len(sizes) - 50


def test_graceful_close_and_time_wait(net):
    a, b = pair(net)
    lib = a.lib
    c, s, _ = connect(net, a, b)
    send(a, c, b"bye")
    assert lib.ts_tcp_shutdown(c) == 0
    net.pump()
    assert recv(b, s) == b"bye" and recv(b, s) == 0
    assert lib.ts_tcp_state(c) == FIN_WAIT_2 and lib.ts_tcp_state(s) == CLOSE_WAIT
    assert send(b, s, b"late") == 4
    lib.ts_tcp_close(s)
    net.pump()
    assert recv(a, c) == b"late" and recv(a, c) == 0
    assert lib.ts_tcp_state(c) == TIME_WAIT
    assert b.lib.ts_tcp_count(b.s) == 1          # listener only: s was freed
    net.advance(59_000)
    assert lib.ts_tcp_state(c) == TIME_WAIT
    net.advance(1_100)
    assert lib.ts_tcp_state(c) == CLOSED
    assert lib.ts_tcp_events(c) & EV_HUP
    lib.ts_tcp_close(c)
    assert lib.ts_tcp_count(a.s) == 0


def test_simultaneous_close(net):
    a, b = pair(net)
    lib = a.lib
    c, s, _ = connect(net, a, b)
    lib.ts_tcp_shutdown(c)
    lib.ts_tcp_shutdown(s)      # both FINs cross before any ACK
    net.pump()
    assert lib.ts_tcp_state(c) == TIME_WAIT and lib.ts_tcp_state(s) == TIME_WAIT
    net.advance(61_000)
    assert lib.ts_tcp_state(c) == CLOSED and lib.ts_tcp_state(s) == CLOSED


def test_simultaneous_open(net):
    a, b = pair(net)
    lib = a.lib
    ta, tb = lib.ts_tcp_socket(a.s), lib.ts_tcp_socket(b.s)
    assert lib.ts_tcp_bind(ta, 0, 1000) == 0 and lib.ts_tcp_bind(tb, 0, 2000) == 0
    assert lib.ts_tcp_connect(ta, ip("10.0.0.2"), 2000) == -errno.EINPROGRESS
    assert lib.ts_tcp_connect(tb, ip("10.0.0.1"), 1000) == -errno.EINPROGRESS
    net.pump()
    assert lib.ts_tcp_state(ta) == EST and lib.ts_tcp_state(tb) == EST
    send(a, ta, b"x" * 3000)
    net.pump()
    assert recv(b, tb) == b"x" * 3000


def test_rst_on_closed_port_gives_econnrefused(net):
    a, b = pair(net)
    lib = a.lib
    c = lib.ts_tcp_socket(a.s)
    assert lib.ts_tcp_connect(c, ip("10.0.0.2"), 81) == -errno.EINPROGRESS
    net.pump()
    assert lib.ts_tcp_state(c) == CLOSED
    assert lib.ts_tcp_error(c) == errno.ECONNREFUSED
    assert lib.ts_tcp_events(c) & EV_ERR and lib.ts_tcp_events(c) & EV_HUP
    assert recv(a, c) == -errno.ECONNREFUSED
    assert b.stat("tcp.drop_no_socket") == 1 and b.stat("tcp.rst_tx") == 1
    rst = segs(net, "b")[-1]
    assert rst["flags"] == RST | ACK


def test_abort_and_close_with_unread_data_reset_peer(net):
    a, b = pair(net)
    lib = a.lib
    c, s, _ = connect(net, a, b)
    send(a, c, b"unread")
    net.pump()
    lib.ts_tcp_close(s)            # unread data: RST (RFC 2525)
    net.pump()
    assert lib.ts_tcp_state(c) == CLOSED and lib.ts_tcp_error(c) == errno.ECONNRESET
    assert lib.ts_tcp_send(c, b"x", 1) == -errno.ECONNRESET
    assert b.lib.ts_tcp_count(b.s) == 1


def test_out_of_window_rst_gets_challenge_ack(net):
    a, b = pair(net)
    lib = a.lib
    c, s, _ = connect(net, a, b)
    last = segs(net, "a")[-1]
    frame = bytearray(net.trace[-1][2])       # a's final ACK: b -> a with fields swapped
    # forge a RST from b with a sequence number off by 10 inside the window
    ihl = (frame[14] & 15) * 4
    t0 = 14 + ihl
    synack = [x for x in segs(net, "b") if x["flags"] == SYN | ACK][0]
    rst = struct.pack("!HHIIBBHHH", 80, last["sport"], (synack["seq"] + 11) % 2**32, 0,
                      5 << 4, RST, 0, 0, 0)
    fr = bytearray(frame[:t0]) + rst
    fr[0:6], fr[6:12] = frame[6:12], frame[0:6]
    fr[26:30], fr[30:34] = frame[30:34], frame[26:30]
    struct.pack_into("!H", fr, 16, ihl + 20)
    buf = a.ffi.new("uint8_t[]", bytes(fr))
    a.lib.ts_fix_checksums(buf, len(fr))
    a.lib.ts_input(a.s, buf, len(fr))
    assert lib.ts_tcp_state(c) == EST and a.stat("tcp.challenge_acks") == 1
    exact = bytearray(a.ffi.buffer(buf, len(fr)))
    struct.pack_into("!I", exact, t0 + 4, (synack["seq"] + 1) % 2**32)
    buf2 = a.ffi.new("uint8_t[]", bytes(exact))
    a.lib.ts_fix_checksums(buf2, len(exact))
    a.lib.ts_input(a.s, buf2, len(exact))
    assert lib.ts_tcp_state(c) == CLOSED and lib.ts_tcp_error(c) == errno.ECONNRESET
    net.pump()


def drop_first(net, pred):
    """Filter that drops the first frame matching pred(seg dict)."""
    state = {"dropped": []}

    def f(src, frame):
        if not state["dropped"]:
            x = segs_of(src.name, frame)
            if x and pred(x):
                state["dropped"].append(x)
                return []
        return [frame]
    net.filter = f
    return state


def test_retransmission_after_loss_with_rto_backoff(net):
    a, b = pair(net)
    lib = a.lib
    c, s, _ = connect(net, a, b)
    assert lib.ts_tcp_info(c, b"rto_us") >= 200_000
    dropped = []

    def drop_data(src, frame):
        x = segs_of(src.name, frame)
        if x and src.name == "a" and x["data"] and len(dropped) < 3:
            dropped.append(net.now_us)
            return []
        return [frame]
    net.filter = drop_data
    t0 = net.now_us
    send(a, c, b"lost" * 10)
    net.pump()
    assert net.run_until(lambda: isinstance(r := recv(b, s), bytes) and r == b"lost" * 10, 10_000)
    # original + 3 drops: intervals double (RFC 6298 5.5)
    gaps = [dropped[i + 1] - dropped[i] for i in range(2)]
    assert dropped[0] == t0
    assert abs(gaps[1] - 2 * gaps[0]) <= 2000, gaps
    assert gaps[0] >= 200_000
    assert a.stat("tcp.timeouts") == 3 and lib.ts_tcp_info(c, b"retransmits") == 3


def test_connect_timeout_etimedout(net):
    a, b = pair(net)
    lib = a.lib
    c = lib.ts_tcp_socket(a.s)
    net.filter = lambda src, frame: [] if segs_of(src.name, frame) else [frame]
    assert lib.ts_tcp_connect(c, ip("10.0.0.2"), 80) == -errno.EINPROGRESS
    net.advance(200_000)
    assert lib.ts_tcp_state(c) == CLOSED and lib.ts_tcp_error(c) == errno.ETIMEDOUT
    syns = [x for x in segs(net, "a") if x["flags"] & SYN]
    assert len(syns) == 7                      # 1 + 6 retries
    gaps = [syns[i + 1]["t"] - syns[i]["t"] for i in range(6)]
    assert gaps[0] == 1_000_000 and gaps[1] == 2_000_000 and gaps[5] == 32_000_000


def test_data_timeout_after_retries(net):
    a, b = pair(net)
    lib = a.lib
    c, s, _ = connect(net, a, b)
    net.filter = lambda src, frame: []
    send(a, c, b"void")
    net.advance(30 * 60_000)
    assert lib.ts_tcp_state(c) == CLOSED and lib.ts_tcp_error(c) == errno.ETIMEDOUT
    assert lib.ts_tcp_info(c, b"retransmits") == 15


def test_window_scaling_with_large_buffer(net):
    a, b = pair(net, tcp_rcvbuf=4 << 20, tcp_sndbuf=4 << 20)
    lib = a.lib
    c, s, _ = connect(net, a, b)
    syn = segs(net)[0]
    assert b"\x01\x03\x03\x07" in syn["opts"]       # 4 MiB needs shift 7
    assert lib.ts_tcp_info(c, b"rcv_wscale") == 7 and lib.ts_tcp_info(c, b"snd_wscale") == 7
    assert lib.ts_tcp_info(c, b"snd_wnd") == 65535     # a SYN's window is never scaled
    data = bytes(range(256)) * 12000
    assert transfer(net, a, c, b, s, data) == data
    assert max(x["wnd"] for x in segs(net, "b")[3:]) << 7 > 1 << 20
    assert lib.ts_tcp_info(c, b"snd_wnd") > 3 << 20


def test_no_window_scaling_when_disabled(net):
    a, b = pair(net, tcp_rcvbuf=1 << 20)
    lib = a.lib
    c, s, _ = connect(net, a, b, wscale=0)
    assert all(b"\x01\x03\x03" not in x["opts"] for x in segs(net)[:2])
    assert lib.ts_tcp_info(c, b"snd_wscale") == 0 and lib.ts_tcp_info(s, b"rcv_wscale") == 0
    assert lib.ts_tcp_info(c, b"snd_wnd") == 65535


def test_zero_window_and_persist_probes(net):
    a, b = pair(net, tcp_rcvbuf=8192)
    lib = a.lib
    c, s, _ = connect(net, a, b)
    data = b"z" * 40000
    sent = send(a, c, data)
    net.advance(3000)        # the last sliver of window goes after the persist timeout
    assert lib.ts_tcp_info(c, b"snd_wnd") == 0
    assert lib.ts_tcp_info(s, b"rcv_wnd") == 0
    mark = len(net.trace)
    net.advance(60_000)
    una = (segs(net, "b")[-1]["ack"])
    probes = [x for x in segs(net, "a", mark)]
    # probes carry an old sequence number and no data (the peer must answer them)
    assert all(x["seq"] == (una - 1) % 2**32 and not x["data"] for x in probes)
    assert len(probes) >= 4 and a.stat("tcp.persist_probes") >= len(probes)
    gaps = [probes[i + 1]["t"] - probes[i]["t"] for i in range(len(probes) - 1)]
    assert all(g2 >= g1 for g1, g2 in zip(gaps, gaps[1:], strict=False)) and gaps[-1] > gaps[0]
    assert lib.ts_tcp_state(c) == EST          # probes answered: no timeout
    got = bytearray()
    assert net.run_until(lambda: got.extend(r) if isinstance(r := recv(b, s), bytes) else
                         len(got) == sent, 120_000) or len(got) == sent
    assert bytes(got) == data[:sent]


def test_nagle_coalesces_small_writes(net):
    a, b = pair(net)
    c, s, _ = connect(net, a, b)
    mark = len(net.trace)
    for _ in range(20):
        send(a, c, b"ab")
    net.advance(500)
    out = [x for x in segs(net, "a", mark) if x["data"]]
    assert len(out[0]["data"]) == 2 and len(out) <= 3
    assert recv(b, s) == b"ab" * 20


def test_nodelay_sends_each_write(net):
    a, b = pair(net)
    c, s, _ = connect(net, a, b, nodelay=1)
    mark = len(net.trace)
    for _ in range(20):
        send(a, c, b"ab")
    net.pump()
    out = [x for x in segs(net, "a", mark) if x["data"]]
    assert len(out) == 20
    assert recv(b, s) == b"ab" * 20


def test_delayed_ack_timing(net):
    a, b = pair(net)
    lib = a.lib
    c, s, _ = connect(net, a, b, nodelay=1)
    mark = len(net.trace)
    t0 = net.now_us
    send(a, c, b"one")
    net.advance(100)
    acks = [x for x in segs(net, "b", mark)]
    assert len(acks) == 1 and acks[0]["t"] - t0 == 40_000
    # two full segments are acknowledged at once
    mark = len(net.trace)
    send(a, c, b"x" * 2920)
    net.pump()
    acks = [x for x in segs(net, "b", mark)]
    assert len(acks) == 1 and acks[0]["t"] == net.now_us
    # with delayed ACK off every segment is acknowledged at once
    assert lib.ts_tcp_setopt(s, DELACK, 0) == 0
    mark = len(net.trace)
    send(a, c, b"y")
    net.pump()
    assert len(segs(net, "b", mark)) == 1


def test_out_of_order_reassembly(net):
    a, b = pair(net)
    c, s, _ = connect(net, a, b)
    held = []

    def reorder(src, frame):
        x = segs_of(src.name, frame)
        if x and src.name == "a" and x["data"]:
            held.append(frame)
            if len(held) == 6:
                order = [5, 3, 1, 4, 2, 0]
                return [held[i] for i in order]
            return []
        return [frame]
    net.filter = reorder
    data = bytes(range(146)) * 60           # exactly 6 full segments
    assert send(a, c, data) == len(data)
    net.pump()
    net.filter = lambda src, frame: [frame]
    assert b.stat("tcp.ooo_segments") == 5
    assert recv(b, s) == data
    # every out-of-order segment and the hole-filling one got an immediate ACK: 5 dupacks
    acks = [x for x in segs(net, "b") if x["flags"] == ACK][-6:]
    assert len({x["ack"] for x in acks[:5]}) == 1 and a.stat("tcp.dup_acks") >= 4
    assert a.stat("tcp.retransmits") <= 1   # the dupacks look like a loss to the sender


def test_bounded_backlog(net):
    a, b = pair(net)
    lib = a.lib
    lst = listener(b, 80, backlog=3)
    cs = []
    for _ in range(5):
        c = lib.ts_tcp_socket(a.s)
        assert lib.ts_tcp_connect(c, ip("10.0.0.2"), 80) == -errno.EINPROGRESS
        cs.append(c)
    net.pump()
    assert [lib.ts_tcp_state(c) for c in cs].count(EST) == 3
    assert b.stat("tcp.drop_backlog") == 2
    assert lib.ts_tcp_events(lst) & EV_READ
    got = [lib.ts_tcp_accept(lst) for _ in range(4)]
    assert got.count(b.ffi.NULL) == 1
    net.advance(5_000)                 # the dropped SYNs are retried and now fit
    assert [lib.ts_tcp_state(c) for c in cs].count(EST) == 5
    lib.ts_tcp_close(lst)
    net.pump()
    assert lib.ts_tcp_count(b.s) == 3


def test_many_connections_and_invariants(net):
    a, b = pair(net)
    lib = a.lib
    lst = listener(b, 80, backlog=64)
    pairs = [connect(net, a, b, lst=lst)[:2] for _ in range(40)]
    for i, (c, _s) in enumerate(pairs):
        send(a, c, bytes([i]) * 100)
    net.pump()
    for i, (c, s) in enumerate(pairs):
        assert recv(b, s) == bytes([i]) * 100
        lib.ts_tcp_close(c)
        lib.ts_tcp_close(s)
    net.advance(70_000)
    assert lib.ts_tcp_count(a.s) == 0 and lib.ts_tcp_count(b.s) == 1


def test_bad_checksum_and_short_segments_dropped(net):
    a, b = pair(net)
    c, s, _ = connect(net, a, b)

    def corrupt(src, frame):
        if src.name == "a" and len(frame) > 60:
            f = bytearray(frame)
            f[-1] ^= 0xff
            return [bytes(f)]
        return [frame]
    net.filter = corrupt
    send(a, c, b"q" * 100)
    net.pump()
    assert b.stat("tcp.drop_checksum") == 1
    net.filter = lambda src, frame: [frame]
    net.advance(2000)
    assert recv(b, s) == b"q" * 100


def test_ooo_range_limit(net):
    a, b = pair(net, tcp_sndbuf=1 << 20, tcp_rcvbuf=1 << 20)
    c, s, _ = connect(net, a, b)
    for _ in range(3):                                  # cwnd-limited bursts grow cwnd
        assert send(a, c, bytes(800_000)) == 800_000
        assert net.run_until(lambda: not isinstance(recv(b, s), bytes) and
                             a.lib.ts_tcp_info(c, b"in_flight") == 0)
    assert a.lib.ts_tcp_info(c, b"cwnd") >= 80 * 1460
    odd = {"n": 0}

    def drop_even(src, frame):
        x = segs_of(src.name, frame)
        if x and src.name == "a" and len(x["data"]) == 1460 and odd["n"] < 160:
            odd["n"] += 1
            if odd["n"] % 2:
                return []
        return [frame]
    net.filter = drop_even
    data = bytes(i % 253 for i in range(80 * 1460))
    assert send(a, c, data) == len(data)       # one burst: 40 holes
    net.pump()
    assert b.lib.ts_tcp_info(s, b"ooo_ranges") == 32
    assert b.stat("tcp.drop_ooo_limit") == 8
    got = bytearray()
    assert net.run_until(lambda: got.extend(r) if isinstance(r := recv(b, s), bytes) else
                         len(got) == len(data), 60_000) or len(got) == len(data)
    assert bytes(got) == data
    assert b.lib.ts_tcp_info(s, b"ooo_ranges") == 0


def test_random_loss_duplication_reordering(net):
    import random
    rnd = random.Random(7)
    a, b = pair(net, tcp_sndbuf=64 << 10, tcp_rcvbuf=48 << 10)
    c, s, _ = connect(net, a, b)
    held = []

    def chaos(src, frame):
        if not segs_of(src.name, frame):
            return [frame]
        r = rnd.random()
        out = [] if r < 0.05 else [frame, frame] if r < 0.08 else [frame]
        if r > 0.9:
            held.append(frame)
            out = []
        if held and rnd.random() < 0.3:
            out.append(held.pop(0))
        return out
    net.filter = chaos
    data = bytes(rnd.getrandbits(8) for _ in range(400_000))
    assert transfer(net, a, c, b, s, data, ms=600_000) == data
    back = data[:100_000]
    assert transfer(net, b, s, a, c, back, ms=600_000) == back
    a.lib.ts_tcp_shutdown(c)
    b.lib.ts_tcp_shutdown(s)
    net.filter = lambda src, frame: [frame]
    net.advance(100_000)
    assert a.lib.ts_tcp_state(c) == CLOSED and b.lib.ts_tcp_state(s) == CLOSED


def test_icmp_port_unreachable_aborts_syn_sent(net):
    a, b = pair(net)
    lib = a.lib
    c = lib.ts_tcp_socket(a.s)
    net.filter = lambda src, frame: [] if segs_of(src.name, frame) else [frame]
    assert lib.ts_tcp_connect(c, ip("10.0.0.2"), 80) == -errno.EINPROGRESS
    net.pump()
    syn = net.trace[-1][2]
    ihl = (syn[14] & 15) * 4
    orig = syn[14:14 + ihl + 8]
    body = struct.pack("!BBHI", 3, 3, 0, 0) + orig
    ipkt = struct.pack("!BBHHHBBHII", 0x45, 0, 20 + len(body), 9, 0, 64, 1, 0,
                       ip("10.0.0.2"), ip("10.0.0.1")) + body
    frame = syn[6:12] + syn[0:6] + b"\x08\x00" + ipkt
    buf = a.ffi.new("uint8_t[]", frame)
    lib.ts_fix_checksums(buf, len(frame))
    lib.ts_input(a.s, buf, len(frame))
    assert lib.ts_tcp_state(c) == CLOSED and lib.ts_tcp_error(c) == errno.ECONNREFUSED
    assert a.stat("tcp.icmp_hard_errors") == 1


def test_memory_limit_drops_syns(net):
    a = net.host("a", "10.0.0.1/24")
    b = net.host("b", "10.0.0.2/24", mem_limit=400_000, tcp_sndbuf=128 << 10,
                 tcp_rcvbuf=128 << 10)
    lib = a.lib
    lst = listener(b, 80, backlog=64)
    cs = []
    for _ in range(4):
        c = lib.ts_tcp_socket(a.s)
        lib.ts_tcp_connect(c, ip("10.0.0.2"), 80)
        cs.append(c)
        net.pump()
    assert b.stat("tcp.drop_memory") >= 1
    assert [lib.ts_tcp_state(c) for c in cs].count(EST) < 4
    assert lib.ts_tcp_events(lst) & EV_READ


def test_api_errors_and_half_close(net):
    a, b = pair(net)
    lib = a.lib
    t = lib.ts_tcp_socket(a.s)
    assert lib.ts_tcp_send(t, b"x", 1) == -errno.ENOTCONN
    assert lib.ts_tcp_recv(t, a.ffi.new("uint8_t[]", 4), 4) == -errno.ENOTCONN
    assert lib.ts_tcp_shutdown(t) == -errno.ENOTCONN
    assert lib.ts_tcp_accept(t) == a.ffi.NULL
    lib.ts_tcp_close(t)
    lst = listener(b, 80)
    t2 = lib.ts_tcp_socket(b.s)
    assert lib.ts_tcp_bind(t2, 0, 80) == -errno.EADDRINUSE
    lib.ts_tcp_close(t2)
    c, s, _ = connect(net, a, b, lst=lst)
    assert lib.ts_tcp_connect(c, ip("10.0.0.2"), 80) == -errno.EISCONN
    assert lib.ts_tcp_shutdown(c) == 0
    assert lib.ts_tcp_send(c, b"x", 1) == -errno.EPIPE
    net.pump()
    assert recv(b, s) == 0 and lib.ts_tcp_events(s) & EV_READ
    send(b, s, b"still open")               # half-close: the other way still works
    net.pump()
    assert recv(a, c) == b"still open"
    lib.ts_tcp_abort(s)
    net.pump()
    assert lib.ts_tcp_state(c) == CLOSED and lib.ts_tcp_error(c) == errno.ECONNRESET
    assert b.stat("tcp.rst_tx") == 1


def test_send_buffer_full_gives_eagain(net):
    a, b = pair(net, tcp_sndbuf=16384, tcp_rcvbuf=4096)
    lib = a.lib
    c, s, _ = connect(net, a, b)
    total = 0
    while (n := lib.ts_tcp_send(c, bytes(5000), 5000)) > 0:
        total += n
    assert n == -errno.EAGAIN and total >= 16384
    assert not lib.ts_tcp_events(c) & EV_WRITE
    net.pump()
    assert len(recv(b, s)) > 0
    net.advance(10)
    assert lib.ts_tcp_events(c) & EV_WRITE


def test_both_directions_at_once_under_heavy_loss(net):
    # After an RTO pulls SND.NXT back, each side's ACKs must still be acceptable to a
    # peer that holds more than was re-sent (pure ACKs carry SND.MAX), and two peers
    # with zero windows must not answer each other's ACKs forever.
    import random
    rnd = random.Random(3)
    a, b = pair(net, tcp_sndbuf=32 << 10, tcp_rcvbuf=8 << 10)
    c, s, _ = connect(net, a, b)
    net.filter = lambda src, frame: [] if segs_of(src.name, frame) and rnd.random() < 0.2 \
        else [frame]
    da, db = bytes(rnd.getrandbits(8) for _ in range(80_000)), bytes(range(256)) * 250
    ga, gb, sa, sb = bytearray(), bytearray(), 0, 0

    def step():
        nonlocal sa, sb
        if sa < len(da):
            sa += max(0, a.lib.ts_tcp_send(c, da[sa:], len(da) - sa))
        if sb < len(db):
            sb += max(0, b.lib.ts_tcp_send(s, db[sb:], len(db) - sb))
        for h, t, g in ((b, s, ga), (a, c, gb)):
            if isinstance(r := recv(h, t), bytes):
                g.extend(r)
        return len(ga) == len(da) and len(gb) == len(db)
    assert net.run_until(step, 3_600_000)
    assert bytes(ga) == da and bytes(gb) == db


def test_fin_ahead_of_a_hole_is_remembered(net):
    a, b = pair(net)
    lib = a.lib
    c, s, _ = connect(net, a, b)
    drop_first(net, lambda x: x["src"] == "a" and x["data"])
    data = b"h" * 3000
    send(a, c, data)
    lib.ts_tcp_shutdown(c)
    net.pump()
    assert lib.ts_tcp_state(s) == EST and lib.ts_tcp_info(s, b"ooo_ranges") == 1
    net.advance(1500)                    # one retransmission fills the hole
    assert recv(b, s) == data and recv(b, s) == 0
    assert lib.ts_tcp_state(s) == CLOSE_WAIT
    fins = [x for x in segs(net, "a") if x["flags"] & FIN]
    assert len(fins) == 1


def test_orphaned_fin_wait_2_times_out(net):
    a, b = pair(net)
    lib = a.lib
    c, s, _ = connect(net, a, b)
    lib.ts_tcp_close(c)                  # released in FIN-WAIT-2; b never closes
    net.pump()
    assert lib.ts_tcp_state(s) == CLOSE_WAIT and lib.ts_tcp_count(a.s) == 1
    net.advance(59_000)
    assert lib.ts_tcp_count(a.s) == 1
    net.advance(2_000)
    assert lib.ts_tcp_count(a.s) == 0


def test_new_connection_on_a_time_wait_tuple(net):
    a, b = pair(net)
    lib = a.lib
    lst = listener(b, 80)
    for _ in range(4):
        c = lib.ts_tcp_socket(a.s)
        assert lib.ts_tcp_bind(c, 0, 5000) == 0
        assert lib.ts_tcp_connect(c, ip("10.0.0.2"), 80) == -errno.EINPROGRESS
        assert net.run_until(lambda c=c: lib.ts_tcp_state(c) == EST, 5_000)
        s = lib.ts_tcp_accept(lst)
        lib.ts_tcp_close(s)              # the server closes first: TIME-WAIT there
        net.pump()
        lib.ts_tcp_close(c)
        net.pump()
        assert lib.ts_tcp_count(b.s) == 2 and lib.ts_tcp_count(a.s) == 0


def test_segmentation_offload_sends_multi_mss_segments(net):
    """With cfg.tso the sender hands the link TCP packets of several MSS (the TAP device
    cuts them); the data still arrives whole, and without tso no frame passes the MTU."""
    a, b = pair(net, tso=65535)
    c, s, _ = connect(net, a, b)
    data = bytes(range(256)) * 4096
    mark = len(net.trace)
    assert transfer(net, a, c, b, s, data) == data
    big = [x for x in segs(net, "a", mark) if len(x["data"]) > 1460]
    assert big and max(len(x["data"]) for x in big) % 1460 == 0
    assert max(len(x["data"]) for x in big) <= 65535 - 40
    for h in (a, b):
        h.check()
    a2, b2 = net.host("a2", "10.0.0.3/24"), net.host("b2", "10.0.0.4/24")
    c2, s2, _ = connect(net, a2, b2)
    mark = len(net.trace)
    assert transfer(net, a2, c2, b2, s2, data[:200_000]) == data[:200_000]
    net2_sizes = [len(f) for _, name, f in net.trace[mark:] if name == "a2"]
    assert max(net2_sizes) <= 1514


def test_tso_below_the_mtu_is_refused(tsmod):
    cfg = tsmod.ffi.new("struct ts_config *")
    cfg.mtu, cfg.tso = 9000, 4000
    assert tsmod.lib.ts_stack_new(cfg) == tsmod.ffi.NULL

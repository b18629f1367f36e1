"""ICMP (RFC 792, RFC 1122 3.2.2) and UDP (RFC 768) between in-process stacks: echo reply
bytes, ping counts, errors sent (port/protocol unreachable, rate limit, never about
broadcasts or errors) and received, UDP echo, checksums, queue bounds, broadcasts from an
unconfigured host."""

from __future__ import annotations

import struct

from netsim import ip
from test_ip import (
    BCAST_MAC,
    PEER_IP,
    PEER_MAC,
    csum,
    eth,
    icmp,
    ip_frame,
    ipv4,
    parse_ip,
    recv,
    teach,
    udp,
    udp_pair,
)


def test_echo_reply_bytes(net):
    b = net.host("b", "10.0.0.2/24")
    teach(b)
    data = bytes(range(100))
    req = icmp(8, 0, struct.pack("!HH", 0x1234, 7), data)
    b.send(ip_frame(b, PEER_IP, ipv4(PEER_IP, "10.0.0.2", 1, req, ident=5)))
    out = b.pop_all()
    assert len(out) == 1
    r = parse_ip(out[0])
    assert out[0][:12] == PEER_MAC + b.mac
    assert (r["src"], r["dst"], r["proto"], r["ttl"]) == ("10.0.0.2", PEER_IP, 1, 64)
    assert r["payload"] == icmp(0, 0, struct.pack("!HH", 0x1234, 7), data)
    assert b.stat("icmp.tx_echo_reply") == 1


def test_ping_between_stacks(net):
    a = net.host("a", "10.0.0.1/24")
    net.host("b", "10.0.0.2/24")
    for seq in range(3):
        assert a.lib.ts_ping(a.s, ip("10.0.0.2"), 42, seq, b"abc", 3) == 0
        net.pump()
    assert a.lib.ts_ping_replies(a.s, 42) == 3
    assert a.lib.ts_ping_replies(a.s, 43) == 0
    big = b"p" * 3000            # fragmented both ways
    assert a.lib.ts_ping(a.s, ip("10.0.0.2"), 44, 0, big, len(big)) == 0
    net.pump()
    assert a.lib.ts_ping_replies(a.s, 44) == 1


def test_echo_to_broadcast_and_bad_checksum_ignored(net):
    b = net.host("b", "10.0.0.2/24")
    teach(b)
    req = icmp(8, 0, b"\0\1\0\1", b"zz")
    b.send(ip_frame(b, PEER_IP, ipv4(PEER_IP, "10.0.0.255", 1, req)))
    b.send(ip_frame(b, PEER_IP, ipv4(PEER_IP, "255.255.255.255", 1, req)))
    b.send(eth(BCAST_MAC, PEER_MAC, 0x0800, ipv4(PEER_IP, "10.0.0.2", 1, req)))
    assert b.stat("icmp.drop_bcast_echo") == 3
    bad = bytearray(req)
    bad[-1] ^= 1
    b.send(ip_frame(b, PEER_IP, ipv4(PEER_IP, "10.0.0.2", 1, bytes(bad))))
    b.send(ip_frame(b, PEER_IP, ipv4(PEER_IP, "10.0.0.2", 1, req[:7])))
    assert b.stat("icmp.drop_checksum") == 1 and b.stat("icmp.drop_short") == 1
    assert b.pop_all() == []


def test_udp_echo(net):
    a, b, ua, ub = udp_pair(net)
    for msg in (b"", b"hello", b"x" * 1472):
        assert a.lib.ts_udp_sendto(ua, msg, len(msg), ip("10.0.0.2"), 6000) == len(msg)
        net.pump()
        got, src, port = recv(b, ub)
        assert (got, src, port) == (msg, "10.0.0.1", 5000)
        assert b.lib.ts_udp_sendto(ub, got, len(got), ip(src), port) == len(got)
        net.pump()
        assert recv(a, ua) == (msg, "10.0.0.2", 6000)
    assert a.stat("udp.tx") == 3 and b.stat("udp.rx_delivered") == 3


def test_ephemeral_port_and_bind_rules(net):
    a, b, ua, ub = udp_pair(net)
    lib = a.lib
    u = lib.ts_udp_socket(a.s)
    assert lib.ts_udp_sendto(u, b"e", 1, ip("10.0.0.2"), 6000) == 1
    net.pump()
    _, _, port = recv(b, ub)
    assert 49152 <= port <= 65535
    v = lib.ts_udp_socket(a.s)
    assert lib.ts_udp_bind(v, 0, 5000) < 0                      # in use
    assert lib.ts_udp_bind(v, ip("10.0.0.1"), 5000) < 0         # the wildcard holds it
    assert lib.ts_udp_bind(v, ip("10.9.9.9"), 5001) < 0         # not our address
    assert lib.ts_udp_bind(v, ip("10.0.0.1"), 5001) == 0
    assert lib.ts_udp_bind(v, 0, 5002) < 0                      # already bound
    lib.ts_udp_close(v)
    lib.ts_udp_close(u)
    a.check()


def test_port_unreachable(net):
    a, b, ua, ub = udp_pair(net)
    a.lib.ts_udp_sendto(ua, b"nobody", 6, ip("10.0.0.2"), 9)
    net.pump()
    assert b.stat("udp.drop_no_port") == 1
    errs = [parse_ip(f) for _, s, f in net.trace if s == "b" and f[12:14] == b"\x08\x00"]
    assert len(errs) == 1 and errs[0]["payload"][:2] == bytes([3, 3])
    assert csum(errs[0]["payload"]) == 0
    quoted = errs[0]["payload"][8:]
    assert quoted[9] == 17 and struct.unpack("!HH", quoted[20:24]) == (5000, 9)
    assert a.stat("icmp.rx_unreach") == 1 and a.stat("icmp.rx_error_udp") == 1


def test_no_unreachable_for_broadcast(net):
    b = net.host("b", "10.0.0.2/24")
    teach(b)
    for dst in ("10.0.0.255", "255.255.255.255"):
        b.send(ip_frame(b, PEER_IP, ipv4(PEER_IP, dst, 17, udp(PEER_IP, dst, 1, 9, b"x"))))
    assert b.stat("udp.drop_no_port") == 2 and b.pop_all() == []


def test_icmp_errors_rate_limited(net):
    b = net.host("b", "10.0.0.2/24")
    teach(b)
    for i in range(150):
        b.send(ip_frame(b, PEER_IP, ipv4(PEER_IP, "10.0.0.2", 17,
                                         udp(PEER_IP, "10.0.0.2", 1, 9, b"%d" % i))))
    assert len(b.pop_all()) == 100
    assert b.stat("icmp.error_rate_limited") == 50
    net.advance(1000)
    b.send(ip_frame(b, PEER_IP, ipv4(PEER_IP, "10.0.0.2", 17, udp(PEER_IP, "10.0.0.2", 1, 9,
                                                                  b"later"))))
    assert len(b.pop_all()) == 1


def test_no_error_about_an_icmp_error(net):
    b = net.host("b", "10.0.0.2/24")
    teach(b)
    inner = ipv4("10.0.0.2", PEER_IP, 17, udp("10.0.0.2", PEER_IP, 5, 6, b""))
    err = icmp(3, 3, b"\0" * 4, inner[:28] + b"\0" * 4)
    echo = icmp(8, 0, b"\0\1\0\1", b"\0" * 32)
    # fragment 0 of each, never completed: only the echo draws time exceeded
    b.send(ip_frame(b, PEER_IP, ipv4(PEER_IP, "10.0.0.2", 1, err[:24], ident=1, frag=0x2000)))
    b.send(ip_frame(b, PEER_IP, ipv4(PEER_IP, "10.0.0.2", 1, echo[:24], ident=2, frag=0x2000)))
    net.advance(31_000)
    out = [parse_ip(f) for _, s, f in net.trace if s == "b"]
    assert len(out) == 1 and out[0]["payload"][:2] == bytes([11, 1])
    assert out[0]["payload"][8 + 20] == 8          # about the echo request
    assert b.stat("icmp.error_suppressed") == 1


def test_udp_malformed_counted(net):
    b = net.host("b", "10.0.0.2/24")
    ub = b.lib.ts_udp_socket(b.s)
    b.lib.ts_udp_bind(ub, 0, 6000)
    good = udp(PEER_IP, "10.0.0.2", 1, 6000, b"data")
    bad_sum = good[:6] + bytes([good[6] ^ 1, good[7]]) + good[8:]
    cases = [
        ("udp.drop_short", good[:7]),
        ("udp.drop_len", udp(PEER_IP, "10.0.0.2", 1, 6000, b"data", length=7)),
        ("udp.drop_len", udp(PEER_IP, "10.0.0.2", 1, 6000, b"data", length=40)),
        ("udp.drop_checksum", bad_sum),
    ]
    for name, seg in cases:
        before = b.stat(name)
        b.send(ip_frame(b, PEER_IP, ipv4(PEER_IP, "10.0.0.2", 17, seg)))
        assert b.stat(name) == before + 1, name
    assert recv(b, ub) is None
    b.send(ip_frame(b, PEER_IP, ipv4(PEER_IP, "10.0.0.2", 17,
                                     udp(PEER_IP, "10.0.0.2", 1, 6000, b"nosum", False))))
    assert recv(b, ub)[0] == b"nosum" and b.stat("udp.rx_no_checksum") == 1
    # a UDP length shorter than the IP payload: the rest is ignored
    seg = udp(PEER_IP, "10.0.0.2", 1, 6000, b"ab", length=10) + b"junk"
    b.send(ip_frame(b, PEER_IP, ipv4(PEER_IP, "10.0.0.2", 17, seg)))
    assert recv(b, ub)[0] == b"ab"


def test_receive_queue_bounded(net):
    a, b, ua, ub = udp_pair(net)
    for i in range(70):
        a.lib.ts_udp_sendto(ua, b"%d" % i, len(b"%d" % i), ip("10.0.0.2"), 6000)
        net.pump()
    assert b.stat("udp.drop_queue_full") == 6
    got = []
    while (r := recv(b, ub)) is not None:
        got.append(r[0])
    assert got == [b"%d" % i for i in range(64)]
    b.check()
    before = b.lib.ts_mem_used(b.s)
    a.lib.ts_udp_sendto(ua, b"q", 1, ip("10.0.0.2"), 6000)
    net.pump()
    b.lib.ts_udp_close(ub)          # frees the queued datagram
    assert b.lib.ts_mem_used(b.s) < before


def test_broadcast_from_unconfigured_host(net):
    c = net.host("c", None)
    b = net.host("b", "10.0.0.2/24")
    ub = b.lib.ts_udp_socket(b.s)
    b.lib.ts_udp_bind(ub, 0, 67)
    uc = c.lib.ts_udp_socket(c.s)
    assert c.lib.ts_udp_bind(uc, 0, 68) == 0
    assert c.lib.ts_udp_sendto(uc, b"discover", 8, 0xFFFFFFFF, 67) == 8
    net.pump()
    frames = [f for _, s, f in net.trace if s == "c"]
    assert len(frames) == 1 and frames[0][:6] == BCAST_MAC          # no ARP
    p = parse_ip(frames[0])
    assert (p["src"], p["dst"]) == ("0.0.0.0", "255.255.255.255")
    assert recv(b, ub) == (b"discover", "0.0.0.0", 68)
    # unicast without an address: no route
    assert c.lib.ts_udp_sendto(uc, b"x", 1, ip("10.0.0.2"), 67) < 0

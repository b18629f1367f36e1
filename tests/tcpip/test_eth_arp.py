"""Ethernet II input/output and ARP (RFC 826, RFC 1122 2.3.2): resolution between stacks,
the one-packet queue, retries and give-up, cache expiry, gratuitous ARP updates, replies,
and malformed frames counted by reason."""

from __future__ import annotations

import struct

from netsim import ip
from test_ip import BCAST_MAC, PEER_IP, PEER_MAC, arp, eth, ipv4, recv, teach, udp, udp_pair


def mac_of(h, addr: str):
    out = h.ffi.new("uint8_t[6]")
    rc = h.lib.ts_arp_lookup(h.s, ip(addr), out)
    return bytes(out) if rc == 0 else None


def arp_frames(net, src: str) -> list[bytes]:
    return [f[14:42] for _, s, f in net.trace if s == src and f[12:14] == b"\x08\x06"]


def test_resolution_then_queued_packet_sent(net):
    a, b, ua, ub = udp_pair(net)
    assert mac_of(a, "10.0.0.2") is None
    assert a.lib.ts_udp_sendto(ua, b"first", 5, ip("10.0.0.2"), 6000) == 5
    net.pump()
    assert recv(b, ub) == (b"first", "10.0.0.1", 5000)
    assert mac_of(a, "10.0.0.2") == b.mac
    assert mac_of(b, "10.0.0.1") == a.mac      # learned from the request addressed to it
    req, rep = arp_frames(net, "a")[0], arp_frames(net, "b")[0]
    assert req == arp(1, a.mac, "10.0.0.1", b"\0" * 6, "10.0.0.2")
    assert rep == arp(2, b.mac, "10.0.0.2", a.mac, "10.0.0.1")
    frames = [f for _, _, f in net.trace]
    assert frames[0][:6] == BCAST_MAC and frames[1][:6] == a.mac
    assert all(len(f) >= 60 for f in frames)           # padded to the minimum
    assert a.stat("arp.queue_sent") == 1
    # resolved now: no more ARP
    a.lib.ts_udp_sendto(ua, b"second", 6, ip("10.0.0.2"), 6000)
    net.pump()
    assert recv(b, ub)[0] == b"second" and len(arp_frames(net, "a")) == 1


def test_only_the_latest_packet_waits(net):
    a, b, ua, ub = udp_pair(net)
    for i in range(3):
        a.lib.ts_udp_sendto(ua, b"m%d" % i, 2, ip("10.0.0.2"), 6000)
    net.pump()
    assert recv(b, ub)[0] == b"m2" and recv(b, ub) is None
    assert a.stat("arp.drop_queue_replaced") == 2
    assert len(arp_frames(net, "a")) == 1


def test_unanswered_requests_retried_then_dropped(net):
    a = net.host("a", "10.0.0.1/24")
    u = a.lib.ts_udp_socket(a.s)
    base = a.lib.ts_mem_used(a.s)
    a.lib.ts_udp_sendto(u, b"void", 4, ip("10.0.0.9"), 9)
    assert a.lib.ts_mem_used(a.s) > base + 4    # a sender's port binding and the copy
    net.advance(3_500)
    assert len(arp_frames(net, "a")) == 4       # at 0, 1, 2, 3 s
    net.advance(10_000)
    reqs = arp_frames(net, "a")
    assert len(reqs) == 5
    assert {r[24:28] for r in reqs} == {ip("10.0.0.9").to_bytes(4, "big")}
    assert a.stat("arp.drop_unresolved") == 1 and a.stat("arp.retry") == 4
    assert a.lib.ts_next_timeout(a.s) == -1
    assert mac_of(a, "10.0.0.9") is None


def test_cache_entry_expires(net):
    a, b, ua, ub = udp_pair(net)
    a.lib.ts_udp_sendto(ua, b"x", 1, ip("10.0.0.2"), 6000)
    net.pump()
    assert mac_of(a, "10.0.0.2") == b.mac
    net.advance(299_000)
    assert mac_of(a, "10.0.0.2") == b.mac
    net.advance(2_000)
    assert mac_of(a, "10.0.0.2") is None
    assert a.stat("arp.cache_expire") >= 1
    a.lib.ts_udp_sendto(ua, b"y", 1, ip("10.0.0.2"), 6000)
    net.pump()
    assert len(arp_frames(net, "a")) == 2


def test_gratuitous_arp_updates_existing_entry_only(net):
    a = net.host("a", "10.0.0.1/24")
    teach(a)
    assert mac_of(a, PEER_IP) == PEER_MAC
    new_mac = bytes.fromhex("02aabbccddee")
    a.send(eth(BCAST_MAC, new_mac, 0x0806, arp(1, new_mac, PEER_IP, b"\0" * 6, PEER_IP)))
    assert mac_of(a, PEER_IP) == new_mac
    assert a.stat("arp.cache_update") == 1
    # a gratuitous announcement of a host we never talked to is not cached
    a.send(eth(BCAST_MAC, new_mac, 0x0806, arp(2, new_mac, "10.0.0.77", BCAST_MAC,
                                               "10.0.0.77")))
    assert mac_of(a, "10.0.0.77") is None
    assert a.pop_all() == []


def test_request_answered_with_exact_bytes(net):
    a = net.host("a", "10.0.0.1/24")
    a.send(eth(BCAST_MAC, PEER_MAC, 0x0806, arp(1, PEER_MAC, PEER_IP, b"\0" * 6, "10.0.0.1")))
    out = a.pop_all()
    assert len(out) == 1
    assert out[0] == (eth(PEER_MAC, a.mac, 0x0806, arp(2, a.mac, "10.0.0.1", PEER_MAC, PEER_IP))
                      + b"\0" * 18)
    # requests for other addresses: not answered, not learned
    a.send(eth(BCAST_MAC, PEER_MAC, 0x0806, arp(1, PEER_MAC, "10.0.0.98", b"\0" * 6,
                                                "10.0.0.3")))
    assert a.pop_all() == [] and mac_of(a, "10.0.0.98") is None
    assert a.stat("arp.ignored") == 1


def test_cache_bounded(net):
    a = net.host("a", "10.0.0.1/24")
    for i in range(200):
        mac = bytes([2, 0, 0, 1, i // 256, i % 256])
        a.send(eth(BCAST_MAC, mac, 0x0806, arp(1, mac, f"10.0.{1 + i // 250}.{i % 250 + 1}",
                                               b"\0" * 6, "10.0.0.1")))
    a.pop_all()
    assert a.stat("arp.cache_add") == 200 and a.stat("arp.cache_evict") == 200 - 64
    a.check()


def test_malformed_arp_counted(net):
    a = net.host("a", "10.0.0.1/24")
    good = arp(1, PEER_MAC, PEER_IP, b"\0" * 6, "10.0.0.1")
    cases = [
        ("arp.drop_short", good[:27]),
        ("arp.drop_htype", struct.pack("!H", 6) + good[2:]),
        ("arp.drop_ptype", good[:2] + struct.pack("!H", 0x86DD) + good[4:]),
        ("arp.drop_addr_len", good[:4] + b"\x08\x04" + good[6:]),
        ("arp.drop_addr_len", good[:4] + b"\x06\x10" + good[6:]),
        ("arp.drop_op", good[:6] + struct.pack("!H", 3) + good[8:]),
        ("arp.drop_bad_sender", arp(1, BCAST_MAC, PEER_IP, b"\0" * 6, "10.0.0.1")),
        ("arp.drop_bad_sender", arp(1, PEER_MAC, "10.0.0.255", b"\0" * 6, "10.0.0.1")),
        ("arp.conflict", arp(1, PEER_MAC, "10.0.0.1", b"\0" * 6, "10.0.0.1")),
    ]
    for name, body in cases:
        before = a.stat(name)
        a.send(eth(BCAST_MAC, PEER_MAC, 0x0806, body))
        assert a.stat(name) == before + 1, name
    assert a.pop_all() == [] and mac_of(a, PEER_IP) is None
    a.check()


def test_malformed_ethernet_counted(net):
    a = net.host("a", "10.0.0.1/24")
    pkt = ipv4(PEER_IP, "10.0.0.1", 17, udp(PEER_IP, "10.0.0.1", 1, 9, b"x"))
    cases = [
        ("eth.drop_short", a.mac + PEER_MAC),
        ("eth.drop_short", b""),
        ("eth.drop_not_for_us", eth(bytes.fromhex("020000000042"), PEER_MAC, 0x0800, pkt)),
        ("eth.drop_multicast", eth(bytes.fromhex("01005e000001"), PEER_MAC, 0x0800, pkt)),
        ("eth.drop_bad_src", eth(a.mac, BCAST_MAC, 0x0800, pkt)),
        ("eth.drop_unknown_type", eth(a.mac, PEER_MAC, 0x86DD, pkt)),
        ("eth.drop_unknown_type", eth(a.mac, PEER_MAC, 0x8100, b"\0\x05\x08\x00" + pkt)),
        ("eth.drop_unknown_type", eth(a.mac, PEER_MAC, 60, pkt)),
    ]
    for name, frame in cases:
        before = a.stat(name)
        a.send(frame)
        assert a.stat(name) == before + 1, name
    assert a.stat("ip.rx") == 0 and a.stat("eth.rx") == len(cases)
    assert a.pop_all() == []

"""IPv4 (RFC 791, 815, 1122 3.2.1): input validation counted by reason, fragmentation on
output, reassembly (out of order, duplicates, overlaps, timeout with ICMP time exceeded,
the reassembly memory bound), routing, and ts_fix_checksums.

The frame builders here are shared with test_eth_arp.py and test_icmp_udp.py."""

from __future__ import annotations

import random
import struct

from netsim import dotted, ip

BCAST_MAC = b"\xff" * 6
PEER_MAC = bytes.fromhex("020000000099")
PEER_IP = "10.0.0.99"


def csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def eth(dst: bytes, src: bytes, etype: int, payload: bytes) -> bytes:
    return dst + src + struct.pack("!H", etype) + payload


def ipv4(src: str, dst: str, proto: int, payload: bytes, ident: int = 1, frag: int = 0,
         ttl: int = 64, options: bytes = b"", total: int | None = None, version: int = 4,
         ihl: int | None = None, bad_sum: bool = False) -> bytes:
    ihl = (20 + len(options)) // 4 if ihl is None else ihl
    total = 20 + len(options) + len(payload) if total is None else total
    hdr = struct.pack("!BBHHHBBH4s4s", version << 4 | ihl, 0, total, ident, frag, ttl, proto,
                      0, ip(src).to_bytes(4, "big"), ip(dst).to_bytes(4, "big")) + options
    s = csum(hdr) ^ (0x1234 if bad_sum else 0)
    return hdr[:10] + struct.pack("!H", s) + hdr[12:] + payload


def udp(src: str, dst: str, sport: int, dport: int, data: bytes, checksum: bool = True,
        length: int | None = None) -> bytes:
    length = 8 + len(data) if length is None else length
    seg = struct.pack("!HHHH", sport, dport, length, 0) + data
    if not checksum:
        return seg
    pseudo = ip(src).to_bytes(4, "big") + ip(dst).to_bytes(4, "big") + struct.pack(
        "!BBH", 0, 17, length)
    s = csum(pseudo + seg) or 0xFFFF
    return seg[:6] + struct.pack("!H", s) + seg[8:]


def icmp(typ: int, code: int, rest: bytes, data: bytes = b"") -> bytes:
    msg = struct.pack("!BBH", typ, code, 0) + rest + data
    return msg[:2] + struct.pack("!H", csum(msg)) + msg[4:]


def ip_frame(h, src: str, payload_ip: bytes, src_mac: bytes = PEER_MAC) -> bytes:
    return eth(h.mac, src_mac, 0x0800, payload_ip)


def arp(op: int, sha: bytes, spa: str, tha: bytes, tpa: str) -> bytes:
    return struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, sha, ip(spa).to_bytes(4, "big"),
                       tha, ip(tpa).to_bytes(4, "big"))


def teach(h, peer_ip: str = PEER_IP, peer_mac: bytes = PEER_MAC) -> None:
    """Put peer_ip -> peer_mac in h's ARP cache (an ARP request to h) and drop h's reply."""
    h.send(eth(BCAST_MAC, peer_mac, 0x0806, arp(1, peer_mac, peer_ip, b"\0" * 6, h.ip)))
    h.pop_all()


def parse_ip(frame: bytes) -> dict:
    """The IPv4 fields of an Ethernet frame (asserting a valid header checksum)."""
    assert struct.unpack("!H", frame[12:14])[0] == 0x0800
    p = frame[14:]
    ihl = (p[0] & 15) * 4
    assert csum(p[:ihl]) == 0, "bad IPv4 header checksum"
    total, ident, frag = struct.unpack("!HHH", p[2:8])
    return {"dst_mac": frame[:6], "ttl": p[8], "proto": p[9], "id": ident,
            "mf": bool(frag & 0x2000), "df": bool(frag & 0x4000), "off": (frag & 0x1FFF) * 8,
            "src": dotted(int.from_bytes(p[12:16], "big")),
            "dst": dotted(int.from_bytes(p[16:20], "big")), "hdr": p[:ihl],
            "payload": p[ihl:total]}


def udp_pair(net, **cfg_b):
    a = net.host("a", "10.0.0.1/24")
    b = net.host("b", "10.0.0.2/24", **cfg_b)
    lib = a.lib
    ua, ub = lib.ts_udp_socket(a.s), lib.ts_udp_socket(b.s)
    assert lib.ts_udp_bind(ua, 0, 5000) == 0 and lib.ts_udp_bind(ub, 0, 6000) == 0
    return a, b, ua, ub


def recv(h, u, cap: int = 70000):
    buf = h.ffi.new("uint8_t[]", cap)
    src, port = h.ffi.new("uint32_t *"), h.ffi.new("uint16_t *")
    n = h.lib.ts_udp_recvfrom(u, buf, cap, src, port)
    if n < 0:
        return None
    return bytes(h.ffi.buffer(buf, n)), dotted(src[0]), port[0]


# ------------------------------------------------------------------ fragmentation


def test_large_udp_fragmented_and_reassembled(net):
    a, b, ua, ub = udp_pair(net)
    data = bytes(random.Random(1).randrange(256) for _ in range(4000))
    assert a.lib.ts_udp_sendto(ua, data, len(data), ip("10.0.0.2"), 6000) == len(data)
    net.pump()
    assert recv(b, ub) == (data, "10.0.0.1", 5000)
    frags = [parse_ip(f) for _, src, f in net.trace
             if src == "a" and f[12:14] == b"\x08\x00"]
    assert len(frags) == 3      # 1480 + 1480 + 1048 (+ 8-byte UDP header)
    assert [f["off"] for f in frags] == [0, 1480, 2960]
    assert [f["mf"] for f in frags] == [True, True, False]
    assert len({f["id"] for f in frags}) == 1
    assert all(len(f["hdr"]) + len(f["payload"]) <= 1500 for f in frags)
    assert a.stat("ip.frag_datagrams") == 1 and a.stat("ip.frag_created") == 3
    assert b.stat("ip.reasm_ok") == 1


def test_small_mtu_fragments_are_multiples_of_eight(net):
    a = net.host("a", "10.0.0.1/24", mtu=576)
    b = net.host("b", "10.0.0.2/24")
    ub = b.lib.ts_udp_socket(b.s)
    b.lib.ts_udp_bind(ub, 0, 6000)
    ua = a.lib.ts_udp_socket(a.s)
    data = bytes(range(256)) * 8
    assert a.lib.ts_udp_sendto(ua, data, len(data), ip("10.0.0.2"), 6000) == len(data)
    net.pump()
    frags = [parse_ip(f) for _, src, f in net.trace if src == "a" and f[12:14] == b"\x08\x00"]
    assert all(f["off"] % 8 == 0 for f in frags) and len(frags) == 4
    assert all(len(f["payload"]) == 552 for f in frags[:-1])
    assert recv(b, ub)[0] == data


def _fragments(net, size: int = 3000, ident: int = 77) -> tuple:
    """Fragments of one UDP datagram from PEER_IP to host b, built by hand."""
    b = net.host("b", "10.0.0.2/24")
    ub = b.lib.ts_udp_socket(b.s)
    b.lib.ts_udp_bind(ub, 0, 6000)
    data = bytes(random.Random(size).randrange(256) for _ in range(size))
    dgram = udp(PEER_IP, "10.0.0.2", 4000, 6000, data)
    chunks = [dgram[i:i + 1000] for i in range(0, len(dgram), 1000)]
    frames = []
    for i, c in enumerate(chunks):
        frag = (i * 1000 // 8) | (0x2000 if i < len(chunks) - 1 else 0)
        frames.append(ip_frame(b, PEER_IP, ipv4(PEER_IP, "10.0.0.2", 17, c, ident, frag)))
    return b, ub, data, frames


def test_reassembly_out_of_order(net):
    b, ub, data, frames = _fragments(net)
    for f in reversed(frames):
        b.send(f)
    assert recv(b, ub) == (data, PEER_IP, 4000)
    b.check()


def test_reassembly_shuffled_with_duplicates(net):
    b, ub, data, frames = _fragments(net, 6000)
    rest = [f for f in frames if f is not frames[1]]
    random.Random(3).shuffle(rest)
    order = [frames[1], frames[1]] + rest       # fragment 1 twice before completion
    for f in order:
        b.send(f)
    assert recv(b, ub)[0] == data
    assert recv(b, ub) is None
    assert b.stat("ip.reasm_drop_duplicate") == 1
    assert b.stat("ip.reasm_ok") == 1


def test_overlapping_fragment_drops_the_datagram(net):
    b, ub, data, frames = _fragments(net)
    b.send(frames[0])
    # 16 bytes starting inside fragment 0's range
    dgram = udp(PEER_IP, "10.0.0.2", 4000, 6000, data)
    b.send(ip_frame(b, PEER_IP, ipv4(PEER_IP, "10.0.0.2", 17, dgram[992:1008], 77,
                                     0x2000 | 124)))
    assert b.stat("ip.reasm_drop_overlap") == 1
    for f in frames[1:]:
        b.send(f)
    assert recv(b, ub) is None
    b.check()


def test_reassembly_timeout_sends_time_exceeded(net):
    b, ub, data, frames = _fragments(net)
    teach(b)
    b.send(frames[0])
    b.send(frames[2])
    before = b.lib.ts_mem_used(b.s)
    net.advance(29_000)
    assert b.stat("ip.reasm_timeout") == 0
    net.advance(2_000)
    assert b.stat("ip.reasm_timeout") == 1
    assert b.lib.ts_mem_used(b.s) < before
    errs = [parse_ip(f) for _, src, f in net.trace if src == "b"]
    assert len(errs) == 1
    e = errs[0]
    assert e["dst"] == PEER_IP and e["proto"] == 1 and e["dst_mac"] == PEER_MAC
    assert e["payload"][:2] == bytes([11, 1]) and csum(e["payload"]) == 0
    quoted = e["payload"][8:]
    assert quoted == frames[0][14:14 + 28]       # original header + 8 bytes


def test_timeout_without_first_fragment_is_silent(net):
    b, ub, data, frames = _fragments(net)
    teach(b)
    b.send(frames[1])
    net.advance(31_000)
    assert b.stat("ip.reasm_timeout") == 1
    assert not [f for _, src, f in net.trace if src == "b"]


def test_reassembly_limit_enforced(net):
    b = net.host("b", "10.0.0.2/24", reasm_limit=8192)
    for ident in range(40):
        # first halves only: they never complete
        b.send(ip_frame(b, PEER_IP, ipv4(PEER_IP, "10.0.0.2", 17, b"x" * 1000, ident, 0x2000)))
        b.check()          # ts_check verifies bytes held <= reasm_limit
    assert b.stat("ip.reasm_drop_limit") + b.stat("ip.reasm_drop_slots") >= 32
    net.advance(31_000)
    assert b.stat("ip.reasm_timeout") >= 1


def test_reassembly_slots_bounded(net):
    b = net.host("b", "10.0.0.2/24")
    for ident in range(100):
        b.send(ip_frame(b, PEER_IP, ipv4(PEER_IP, "10.0.0.2", 17, b"y" * 8, ident, 0x2000)))
    assert b.stat("ip.reasm_drop_slots") == 100 - 16
    b.check()


def test_oversized_reassembly_refused(net):
    b = net.host("b", "10.0.0.2/24")
    b.send(ip_frame(b, PEER_IP, ipv4(PEER_IP, "10.0.0.2", 17, b"z" * 16, 9, 8190)))
    assert b.stat("ip.reasm_drop_too_big") == 1
    b.send(ip_frame(b, PEER_IP, ipv4(PEER_IP, "10.0.0.2", 17, b"z" * 12, 9, 0x2000)))
    assert b.stat("ip.reasm_drop_bad_len") == 1      # MF with a length not a multiple of 8
    b.check()


def test_fragments_of_unresolved_next_hop_all_arrive(net):
    a, b, ua, ub = udp_pair(net)
    data = b"q" * 5000
    a.lib.ts_udp_sendto(ua, data, len(data), ip("10.0.0.2"), 6000)
    net.pump()
    assert recv(b, ub)[0] == data


# ------------------------------------------------------------------------- input


def _udp_ip(**kw) -> bytes:
    return ipv4(PEER_IP, "10.0.0.2", 17, udp(PEER_IP, "10.0.0.2", 1, 6000, b"hi"), **kw)


def test_malformed_datagrams_counted_by_reason(net):
    b = net.host("b", "10.0.0.2/24")
    ub = b.lib.ts_udp_socket(b.s)
    b.lib.ts_udp_bind(ub, 0, 6000)
    cases = [
        ("ip.drop_short", _udp_ip()[:19]),
        ("ip.drop_version", _udp_ip(version=6)),
        ("ip.drop_header_len", _udp_ip(ihl=4)),
        ("ip.drop_header_len", _udp_ip(ihl=15)),
        ("ip.drop_checksum", _udp_ip(bad_sum=True)),
        ("ip.drop_total_len", _udp_ip(total=400)),
        ("ip.drop_total_len", _udp_ip(total=19)),
        ("ip.drop_options", _udp_ip(options=b"\x07\x09\0\0")),
        ("ip.drop_not_for_us", ipv4(PEER_IP, "10.0.0.3", 17, b"x" * 8)),
        ("ip.drop_bad_src", ipv4("224.0.0.1", "10.0.0.2", 17, b"x" * 8)),
        ("ip.drop_bad_src", ipv4("10.0.0.255", "10.0.0.2", 17, b"x" * 8)),
    ]
    for name, pkt in cases:
        before = b.stat(name)
        b.send(ip_frame(b, PEER_IP, pkt))
        assert b.stat(name) == before + 1, name
    assert recv(b, ub) is None
    # options of a valid length are skipped; Ethernet padding is trimmed
    b.send(ip_frame(b, PEER_IP, _udp_ip(options=b"\x01\x07\x03\x00")))
    b.send(ip_frame(b, PEER_IP, _udp_ip() + b"\0" * 20))
    assert recv(b, ub)[0] == b"hi" and recv(b, ub)[0] == b"hi"
    b.check()


def test_unknown_protocol_draws_protocol_unreachable(net):
    b = net.host("b", "10.0.0.2/24")
    teach(b)
    pkt = ipv4(PEER_IP, "10.0.0.2", 99, b"payload-bytes")
    b.send(ip_frame(b, PEER_IP, pkt))
    out = [parse_ip(f) for f in b.pop_all()]
    assert len(out) == 1 and out[0]["payload"][:2] == bytes([3, 2])
    assert out[0]["payload"][8:] == pkt[:28]
    assert b.stat("ip.drop_unknown_proto") == 1
    b.send(ip_frame(b, PEER_IP, ipv4(PEER_IP, "10.0.0.255", 99, b"x")))
    assert b.pop_all() == [] and b.stat("ip.drop_unknown_proto") == 2


def test_unconfigured_host_accepts_any_destination(net):
    b = net.host("b", None)
    ub = b.lib.ts_udp_socket(b.s)
    assert b.lib.ts_udp_bind(ub, 0, 68) == 0
    pkt = ipv4("10.0.0.1", "10.0.0.50", 17, udp("10.0.0.1", "10.0.0.50", 67, 68, b"offer"))
    b.send(ip_frame(b, "10.0.0.1", pkt))
    assert recv(b, ub) == (b"offer", "10.0.0.1", 67)


# ----------------------------------------------------------------------- routing


def test_routes_longest_prefix(net):
    a = net.host("a", "10.0.0.1/24", gw="10.0.0.254")
    lib, s = a.lib, a.s
    assert lib.ts_route_lookup(s, ip("10.0.0.7")) == ip("10.0.0.7")
    assert lib.ts_route_lookup(s, ip("8.8.8.8")) == ip("10.0.0.254")
    assert lib.ts_route_lookup(s, ip("255.255.255.255")) == ip("255.255.255.255")
    assert lib.ts_route_add(s, ip("172.16.0.0"), ip("255.240.0.0"), ip("10.0.0.253")) == 0
    assert lib.ts_route_add(s, ip("172.16.5.0"), ip("255.255.255.0"), ip("10.0.0.252")) == 0
    assert lib.ts_route_lookup(s, ip("172.16.5.9")) == ip("10.0.0.252")
    assert lib.ts_route_lookup(s, ip("172.17.0.1")) == ip("10.0.0.253")
    assert lib.ts_route_add(s, ip("172.16.0.1"), ip("255.255.0.0"), 0) < 0   # host bits
    assert lib.ts_route_del(s, ip("172.16.5.0"), ip("255.255.255.0")) == 0
    assert lib.ts_route_del(s, ip("172.16.5.0"), ip("255.255.255.0")) < 0
    assert lib.ts_route_lookup(s, ip("172.16.5.9")) == ip("10.0.0.253")
    assert lib.ts_route_del(s, 0, 0) == 0
    assert lib.ts_route_lookup(s, ip("8.8.8.8")) == 0
    for i in range(40):
        lib.ts_route_add(s, ip(f"192.168.{i}.0"), ip("255.255.255.0"), ip("10.0.0.9"))
    a.check()


def test_no_route_is_an_error(net):
    a = net.host("a", "10.0.0.1/24")
    u = a.lib.ts_udp_socket(a.s)
    assert a.lib.ts_udp_sendto(u, b"x", 1, ip("192.168.1.1"), 9) < 0
    assert a.stat("ip.tx_no_route") == 1
    assert a.pop_all() == []


# ------------------------------------------------------------------ fix_checksums


def test_fix_checksums(net):
    b = net.host("b", "10.0.0.2/24")
    lib, ffi = b.lib, b.ffi
    good = ip_frame(b, PEER_IP, _udp_ip())
    bad = bytearray(good)
    bad[24:26] = b"\0\0"            # IP header checksum
    bad[40:42] = b"\x12\x34"        # UDP checksum
    buf = ffi.new("uint8_t[]", bytes(bad))
    lib.ts_fix_checksums(buf, len(bad))
    assert bytes(ffi.buffer(buf, len(bad))) == good
    rng = random.Random(5)
    for n in range(0, 120):
        junk = bytearray(rng.randrange(256) for _ in range(n))
        if n > 14:
            junk[12:14] = b"\x08\x00"
            junk[14] = 0x40 | rng.randrange(16)
        buf = ffi.new("uint8_t[]", max(n, 1))
        ffi.memmove(buf, bytes(junk), n)
        lib.ts_fix_checksums(buf, n)

"""The DHCP client (RFC 2131, options of RFC 2132) against a small DHCP server written here,
answering through the simulator's frame filter: DISCOVER/OFFER/REQUEST/ACK and the
configuration it leaves (address, mask, default route), NAK restarts, retransmission backoff
(4, 8, 16, 32, 64 s, +-1 s), REQUESTING giving up, renewal at T1 (unicast), rebinding at T2
(broadcast), expiry, release, and malformed replies dropped and counted per reason."""

from __future__ import annotations

import random
import struct
from itertools import pairwise

import pytest
from netsim import dotted, ip
from test_ip import BCAST_MAC, arp, eth, ipv4, udp

SERVER_MAC = bytes.fromhex("02000000fe01")
SERVER_IP = "10.0.0.1"
ROUTER = "10.0.0.254"
OFFER_IP = "10.0.0.50"
COOKIE = 0x63825363
DISCOVER, OFFER, REQUEST, DECLINE, ACK, NAK, RELEASE = 1, 2, 3, 4, 5, 6, 7
SEC = 1_000_000


def options(opts: list[tuple[int, bytes]], end: bool = True) -> bytes:
    out = b"".join(bytes([code, len(val)]) + val for code, val in opts)
    return out + (b"\xff" if end else b"")


def bootp(op: int, xid: int, chaddr: bytes, yiaddr: str = "0.0.0.0", ciaddr: str = "0.0.0.0",
          flags: int = 0, opts: bytes = b"", htype: int = 1, hlen: int = 6,
          cookie: int = COOKIE, sname: bytes = b"", file: bytes = b"") -> bytes:
    head = struct.pack("!BBBBIHH4s4s4s4s16s64s128sI", op, htype, hlen, 0, xid, 0, flags,
                       ip(ciaddr).to_bytes(4, "big"), ip(yiaddr).to_bytes(4, "big"),
                       ip(SERVER_IP).to_bytes(4, "big"), b"\0" * 4, chaddr.ljust(16, b"\0"),
                       sname.ljust(64, b"\0"), file.ljust(128, b"\0"), cookie)
    msg = head + opts
    return msg + b"\0" * max(0, 300 - len(msg))


def parse_dhcp(frame: bytes) -> dict | None:
    """The DHCP fields of a client frame (UDP 68 -> 67), or None for anything else."""
    if len(frame) < 14 + 28 or frame[12:14] != b"\x08\x00" or frame[23] != 17:
        return None
    p = frame[14:]
    ihl = (p[0] & 15) * 4
    sport, dport = struct.unpack("!HH", p[ihl:ihl + 4])
    if (sport, dport) != (68, 67):
        return None
    m = p[ihl + 8:]
    op, htype, hlen, _, xid, secs, flags = struct.unpack("!BBBBIHH", m[:12])
    assert struct.unpack("!I", m[236:240])[0] == COOKIE
    opts, i = {}, 240
    while i < len(m) and m[i] != 255:
        if m[i] == 0:
            i += 1
            continue
        opts[m[i]] = m[i + 2:i + 2 + m[i + 1]]
        i += 2 + m[i + 1]
    assert i < len(m), "no END option"
    return {"op": op, "htype": htype, "hlen": hlen, "xid": xid, "secs": secs,
            "flags": flags, "ciaddr": dotted(int.from_bytes(m[12:16], "big")),
            "chaddr": m[28:34], "opts": opts, "type": opts[53][0],
            "src": dotted(int.from_bytes(p[12:16], "big")),
            "dst": dotted(int.from_bytes(p[16:20], "big")), "dst_mac": frame[:6],
            "udp_len": len(m)}


class Server:
    """A DHCP server on the segment, answering the client through ``net.filter``.

    ``offers``/``acks`` switch answering on and off; ``nak_next`` NAKs the next REQUEST;
    ``ack_unicast`` controls answering REQUESTs sent to the server's own address (RENEWING).
    Every client message is kept in ``seen`` as ``(now_us, fields)``."""

    def __init__(self, net, client, lease: int = 3600, t1: int | None = None,
                 t2: int | None = None) -> None:
        self.net, self.client = net, client
        self.lease, self.t1, self.t2 = lease, t1, t2
        self.offers = self.acks = self.ack_unicast = True
        self.nak_next = 0
        self.seen: list[tuple[int, dict]] = []
        net.filter = self.filter

    def types(self) -> list[int]:
        return [m["type"] for _, m in self.seen]

    def filter(self, src, frame: bytes) -> list[bytes]:
        if src is self.client:
            self._arp(frame)
            msg = parse_dhcp(frame)
            if msg is not None:
                self.seen.append((self.net.now_us, msg))
                reply = self.answer(msg)
                if reply is not None:
                    self.deliver(msg, reply)
        return [frame]

    def _arp(self, frame: bytes) -> None:
        """Answer the client's ARP requests for the server (needed to renew by unicast)."""
        if frame[12:14] != b"\x08\x06" or frame[20:22] != b"\x00\x01":
            return
        if frame[38:42] == ip(SERVER_IP).to_bytes(4, "big"):
            spa = dotted(int.from_bytes(frame[28:32], "big"))
            self.client.send(eth(frame[6:12], SERVER_MAC, 0x0806,
                                 arp(2, SERVER_MAC, SERVER_IP, frame[6:12], spa)))

    def lease_opts(self, typ: int) -> list[tuple[int, bytes]]:
        opts = [(53, bytes([typ])), (54, ip(SERVER_IP).to_bytes(4, "big")),
                (51, self.lease.to_bytes(4, "big")), (1, bytes([255, 255, 255, 0])),
                (3, ip(ROUTER).to_bytes(4, "big"))]
        if self.t1 is not None:
            opts.append((58, self.t1.to_bytes(4, "big")))
        if self.t2 is not None:
            opts.append((59, self.t2.to_bytes(4, "big")))
        return opts

    def answer(self, msg: dict) -> bytes | None:
        if msg["type"] == DISCOVER and self.offers:
            return bootp(2, msg["xid"], msg["chaddr"], OFFER_IP, flags=msg["flags"],
                         opts=options(self.lease_opts(OFFER)))
        if msg["type"] != REQUEST or not self.acks:
            return None
        if msg["dst"] == SERVER_IP and not self.ack_unicast:
            return None
        if self.nak_next:
            self.nak_next -= 1
            return bootp(2, msg["xid"], msg["chaddr"], flags=msg["flags"],
                         opts=options([(53, bytes([NAK])), (54, ip(SERVER_IP).to_bytes(4, "big"))]))
        return bootp(2, msg["xid"], msg["chaddr"], OFFER_IP, ciaddr=msg["ciaddr"],
                     flags=msg["flags"], opts=options(self.lease_opts(ACK)))

    def deliver(self, msg: dict, reply: bytes, sport: int = 67) -> None:
        """Send a reply the way RFC 2131 4.1 says: broadcast when the client asked for it."""
        if msg["flags"] & 0x8000 or msg["ciaddr"] == "0.0.0.0":
            dst_mac, dst = BCAST_MAC, "255.255.255.255"
        else:
            dst_mac, dst = msg["chaddr"], msg["ciaddr"]
        self.client.send(eth(dst_mac, SERVER_MAC, 0x0800,
                             ipv4(SERVER_IP, dst, 17, udp(SERVER_IP, dst, sport, 68, reply))))


def start(net, silent: bool = False, **server_kw):
    c = net.host("c", None)
    srv = Server(net, c, **server_kw)
    srv.offers = not silent
    assert c.lib.ts_dhcp_state(c.s) == c.lib.TS_DHCP_OFF
    assert c.lib.ts_dhcp_start(c.s) == 0
    net.pump()
    return c, srv


def state(c) -> int:
    return c.lib.ts_dhcp_state(c.s)


def test_discover_offer_request_ack_configures_the_interface(net):
    c, srv = start(net)
    lib = c.lib
    assert srv.types() == [DISCOVER, REQUEST]
    d, r = srv.seen[0][1], srv.seen[1][1]
    assert (d["src"], d["dst"], d["dst_mac"]) == ("0.0.0.0", "255.255.255.255", BCAST_MAC)
    assert (d["op"], d["htype"], d["hlen"], d["chaddr"]) == (1, 1, 6, c.mac)
    assert d["flags"] & 0x8000                       # we cannot take unicast yet
    assert list(d["opts"][55]) == [1, 3, 6, 51, 54, 58, 59]
    assert d["opts"][61] == b"\x01" + c.mac
    assert d["udp_len"] >= 300                        # BOOTP minimum for relays
    assert 50 not in d["opts"] and 54 not in d["opts"]
    assert (r["src"], r["dst"], r["xid"]) == ("0.0.0.0", "255.255.255.255", d["xid"])
    assert r["opts"][50] == ip(OFFER_IP).to_bytes(4, "big")
    assert r["opts"][54] == ip(SERVER_IP).to_bytes(4, "big")
    assert state(c) == lib.TS_DHCP_BOUND
    assert c.ip == OFFER_IP
    assert dotted(lib.ts_get_netmask(c.s)) == "255.255.255.0"
    assert dotted(lib.ts_route_lookup(c.s, ip("8.8.8.8"))) == ROUTER
    assert dotted(lib.ts_dhcp_server(c.s)) == SERVER_IP
    assert lib.ts_dhcp_lease_s(c.s) == 3600
    assert c.stat("dhcp.bound") == 1 and c.stat("dhcp.rx_offer") == 1
    assert c.stat("dhcp.rx_ack") == 1
    assert lib.ts_dhcp_start(c.s) < 0                 # already running


def test_bound_host_talks_over_the_new_address(net):
    c, _ = start(net)
    peer = net.host("p", "10.0.0.7/24")
    assert c.lib.ts_ping(c.s, ip("10.0.0.7"), 9, 1, b"hi", 2) == 0
    net.pump()
    assert c.lib.ts_ping_replies(c.s, 9) == 1
    assert peer.stat("icmp.tx_echo_reply") == 1


def test_nak_restarts_with_a_new_discover(net):
    c = net.host("c", None)
    srv = Server(net, c)
    srv.nak_next = 1
    assert c.lib.ts_dhcp_start(c.s) == 0
    net.pump()
    assert srv.types() == [DISCOVER, REQUEST, DISCOVER, REQUEST]
    assert srv.seen[2][1]["xid"] != srv.seen[0][1]["xid"]
    assert state(c) == c.lib.TS_DHCP_BOUND
    assert c.stat("dhcp.rx_nak") == 1 and c.stat("dhcp.restart") == 1


def test_discover_backoff_4_8_16_32_64_randomized(net):
    c, srv = start(net, silent=True)
    net.advance(1000 * 1000)     # drive retransmissions for ~1000 s (server silent)
    times = [t for t, m in srv.seen if m["type"] == DISCOVER]
    assert len({m["xid"] for _, m in srv.seen}) == 1     # one exchange, one xid
    gaps = [(b - a) / SEC for a, b in pairwise(times)]
    expect = [4, 8, 16, 32, 64] + [64] * (len(gaps) - 5)
    assert len(gaps) >= 8
    for gap, base in zip(gaps, expect, strict=True):
        assert base - 1 <= gap <= base + 1, gaps
    assert len({round(g % 1, 3) for g in gaps}) > 1      # randomized, not fixed
    assert c.stat("dhcp.retransmit") == len(gaps)
    assert state(c) == c.lib.TS_DHCP_SELECTING and c.ip == "0.0.0.0"


def test_backoff_is_deterministic_for_a_seed(tsmod):
    from netsim import Net

    def gaps(seed: int) -> list[int]:
        n = Net(tsmod)
        try:
            h = n.host("c", None, seed=seed)
            s = Server(n, h)
            s.offers = False
            h.lib.ts_dhcp_start(h.s)
            n.advance(200 * 1000)
            return [t for t, _ in s.seen]
        finally:
            n.close()

    assert gaps(5) == gaps(5)
    assert gaps(5) != gaps(6)


def test_requesting_gives_up_and_rediscovers(net):
    c = net.host("c", None)
    srv = Server(net, c)
    srv.acks = False
    c.lib.ts_dhcp_start(c.s)
    net.pump()
    assert state(c) == c.lib.TS_DHCP_REQUESTING
    srv.offers = False
    net.advance(130 * 1000)
    reqs = [t for t, m in srv.seen if m["type"] == REQUEST]
    assert len(reqs) == 5                                  # 4, 8, 16, 32 s apart
    gaps = [(b - a) / SEC for a, b in pairwise(reqs)]
    for gap, base in zip(gaps, [4, 8, 16, 32], strict=True):
        assert base - 1 <= gap <= base + 1, gaps
    rediscover = [t for t, m in srv.seen if m["type"] == DISCOVER and t > reqs[-1]]
    assert 63 * SEC <= rediscover[0] - reqs[-1] <= 65 * SEC     # after the 64 s wait
    assert state(c) == c.lib.TS_DHCP_SELECTING


def test_renew_at_t1_by_unicast(net):
    c, srv = start(net, lease=1000)
    bound_at = net.now_us
    net.advance(499 * 1000)
    assert srv.types() == [DISCOVER, REQUEST]
    net.advance(2 * 1000)
    t, r = srv.seen[2]
    assert t - bound_at == 500 * SEC
    assert r["type"] == REQUEST and (r["src"], r["dst"]) == (OFFER_IP, SERVER_IP)
    assert r["dst_mac"] == SERVER_MAC and r["ciaddr"] == OFFER_IP
    assert 50 not in r["opts"] and 54 not in r["opts"]    # RFC 2131 4.3.2
    assert r["flags"] & 0x8000 == 0
    assert state(c) == c.lib.TS_DHCP_BOUND and c.ip == OFFER_IP
    assert c.stat("dhcp.renew") == 1
    # The renewed lease runs from the ACK: the next renewal 500 s after it.
    net.advance(498 * 1000)
    assert len(srv.seen) == 3
    net.advance(2 * 1000)
    assert len(srv.seen) == 4 and srv.seen[3][0] - t == 500 * SEC


def test_t1_t2_options_are_used(net):
    c, srv = start(net, lease=1000, t1=100, t2=200)
    bound_at = net.now_us
    srv.ack_unicast = False
    net.advance(250 * 1000)
    reqs = [(t - bound_at) / SEC for t, m in srv.seen[2:]]
    assert reqs == [100, 160, 200]           # T1, +60 s, T2 (then rebound by broadcast)
    assert state(c) == c.lib.TS_DHCP_BOUND                 # rebound at T2 by broadcast


def test_inconsistent_t1_t2_fall_back_to_defaults(net):
    c, srv = start(net, lease=1000, t1=900, t2=800)
    bound_at = net.now_us
    assert c.stat("dhcp.bad_timers_fixed") == 1
    net.advance(501 * 1000)
    assert [t - bound_at for t, _ in srv.seen[2:]] == [500 * SEC]


def test_rebind_at_t2_by_broadcast(net):
    c, srv = start(net, lease=1000)
    bound_at = net.now_us
    srv.ack_unicast = False                # the server does not answer renewals
    net.advance(880 * 1000)
    sent = [((t - bound_at) / SEC, m) for t, m in srv.seen[2:]]
    renews = [t for t, m in sent if m["dst"] == SERVER_IP]
    # RENEWING: at T1 (500 s), then after half the time left to T2, at least 60 s, the
    # last one cut short by T2 (875 s).
    assert renews == [500, 687.5, 781.25, 841.25]
    rebind = [(t, m) for t, m in sent if m["dst"] == "255.255.255.255"]
    assert rebind[0][0] == 875
    assert rebind[0][1]["src"] == OFFER_IP and rebind[0][1]["ciaddr"] == OFFER_IP
    assert c.stat("dhcp.rebind") == 1
    assert state(c) == c.lib.TS_DHCP_BOUND and c.ip == OFFER_IP


def test_lease_expiry_deconfigures_and_restarts(net):
    c, srv = start(net, lease=1000)
    srv.acks = srv.offers = False
    net.advance(999 * 1000)
    assert state(c) == c.lib.TS_DHCP_REBINDING and c.ip == OFFER_IP
    net.advance(2 * 1000)
    assert c.stat("dhcp.expired") == 1
    assert c.ip == "0.0.0.0"
    assert c.lib.ts_route_lookup(c.s, ip("8.8.8.8")) == 0
    assert state(c) == c.lib.TS_DHCP_SELECTING
    assert srv.types()[-1] == DISCOVER and srv.seen[-1][1]["src"] == "0.0.0.0"
    srv.acks = srv.offers = True
    net.advance(10 * 1000)
    assert state(c) == c.lib.TS_DHCP_BOUND and c.ip == OFFER_IP


def test_clock_jump_past_the_lease(net):
    c, srv = start(net, lease=100)
    srv.acks = srv.offers = False
    net.now_us += 500 * SEC
    c.lib.ts_clock_set(c.s, net.now_us)
    c.lib.ts_poll(c.s)
    net.pump()
    assert c.stat("dhcp.expired") == 1 and c.ip == "0.0.0.0"


def test_infinite_lease_has_no_timers(net):
    c, srv = start(net, lease=0xFFFFFFFF)
    assert state(c) == c.lib.TS_DHCP_BOUND
    net.advance(10_000_000)                 # ~4 months: nothing to renew
    assert srv.types() == [DISCOVER, REQUEST] and state(c) == c.lib.TS_DHCP_BOUND


def test_stop_releases_the_lease(net):
    c, srv = start(net)
    c.lib.ts_dhcp_stop(c.s)
    net.pump()
    rel = srv.seen[-1][1]
    assert rel["type"] == RELEASE and (rel["dst"], rel["ciaddr"]) == (SERVER_IP, OFFER_IP)
    assert rel["opts"][54] == ip(SERVER_IP).to_bytes(4, "big")
    assert state(c) == c.lib.TS_DHCP_OFF and c.ip == "0.0.0.0"
    assert c.lib.ts_dhcp_start(c.s) == 0                   # and it can start again
    net.pump()
    assert state(c) == c.lib.TS_DHCP_BOUND


# ---- malformed replies ---------------------------------------------------------------

def _selecting(net):
    c, srv = start(net)
    srv.offers = srv.acks = False
    c.lib.ts_dhcp_stop(c.s)
    net.pump()
    c.lib.ts_dhcp_start(c.s)
    net.pump()
    assert state(c) == c.lib.TS_DHCP_SELECTING
    return c, srv, srv.seen[-1][1]


def _offer_opts(**drop) -> list[tuple[int, bytes]]:
    opts = [(53, bytes([OFFER])), (54, ip(SERVER_IP).to_bytes(4, "big")),
            (51, (3600).to_bytes(4, "big")), (1, bytes([255, 255, 255, 0]))]
    return [o for o in opts if o[0] not in drop.get("codes", ())]


def _good(d):
    return dict(op=2, xid=d["xid"], chaddr=d["chaddr"], yiaddr=OFFER_IP, flags=0x8000,
                opts=options(_offer_opts()))


MALFORMED = {
    "dhcp.drop_op": lambda d: {**_good(d), "op": 1},
    "dhcp.drop_htype": lambda d: {**_good(d), "htype": 6},
    "dhcp.drop_xid": lambda d: {**_good(d), "xid": d["xid"] ^ 1},
    "dhcp.drop_chaddr": lambda d: {**_good(d), "chaddr": b"\x02\0\0\0\0\x77"},
    "dhcp.drop_cookie": lambda d: {**_good(d), "cookie": 0x63825364},
    "dhcp.drop_option_length": lambda d: {**_good(d), "opts": options(_offer_opts())[:-1]
                                          + b"\x0c\xffabc"},
    "dhcp.drop_no_end": lambda d: {**_good(d), "opts": options(_offer_opts(), end=False)
                                   + b"\x0c\x01x" * 30},
    "dhcp.drop_no_type": lambda d: {**_good(d), "opts": options(_offer_opts(codes=(53,)))},
    "dhcp.drop_option_value": lambda d: {**_good(d), "opts": options(
        [(53, b"\x02\x02")] + _offer_opts(codes=(53,)))},
    "dhcp.drop_option_duplicate": lambda d: {**_good(d), "opts": options(
        _offer_opts() + [(53, b"\x02")])},
    "dhcp.drop_type": lambda d: {**_good(d), "opts": options(
        [(53, b"\x63")] + _offer_opts(codes=(53,)))},
    "dhcp.drop_state": lambda d: {**_good(d), "opts": options(
        [(53, bytes([ACK]))] + _offer_opts(codes=(53,)))},
    "dhcp.drop_no_server_id": lambda d: {**_good(d), "opts": options(_offer_opts(codes=(54,)))},
    "dhcp.drop_address": lambda d: {**_good(d), "yiaddr": "224.0.0.1"},
    "dhcp.drop_netmask": lambda d: {**_good(d), "opts": options(
        _offer_opts(codes=(1,)) + [(1, bytes([255, 0, 255, 0]))])},
}


@pytest.mark.parametrize("counter", sorted(MALFORMED))
def test_malformed_reply_dropped_and_counted(net, counter):
    c, srv, d = _selecting(net)
    before = c.stats()
    srv.deliver(d, bootp(**MALFORMED[counter](d)))
    net.pump()
    after = c.stats()
    changed = {k for k in after if after[k] != before[k] and k.startswith("dhcp.drop")}
    assert changed == {counter}
    assert after[counter] == before[counter] + 1
    assert state(c) == c.lib.TS_DHCP_SELECTING and c.stat("dhcp.rx_offer") == 1
    srv.deliver(d, bootp(**_good(d)))                     # a good one is still taken
    net.pump()
    assert state(c) == c.lib.TS_DHCP_REQUESTING


def test_short_and_wrong_port_replies(net):
    c, srv, d = _selecting(net)
    srv.deliver(d, bootp(**_good(d))[:239])
    srv.deliver(d, bootp(**_good(d)), sport=99)
    net.pump()
    assert c.stat("dhcp.drop_short") == 1 and c.stat("dhcp.drop_port") == 1
    assert state(c) == c.lib.TS_DHCP_SELECTING


def test_option_overload_into_file_and_sname(net):
    c, srv, d = _selecting(net)
    file_opts = options([(53, bytes([OFFER])), (54, ip(SERVER_IP).to_bytes(4, "big"))])
    srv.deliver(d, bootp(**{**_good(d), "opts": options([(52, b"\x03")]),
                           "file": file_opts, "sname": options([(51, b"\0\0\x0e\x10")])}))
    net.pump()
    assert state(c) == c.lib.TS_DHCP_REQUESTING
    assert srv.seen[-1][1]["opts"][54] == ip(SERVER_IP).to_bytes(4, "big")


def test_bad_overload_values_dropped(net):
    c, srv, d = _selecting(net)
    srv.deliver(d, bootp(**{**_good(d), "opts": options(_offer_opts() + [(52, b"\x04")])}))
    srv.deliver(d, bootp(**{**_good(d), "opts": options([(52, b"\x01")]),
                           "file": b"\0" * 126 + b"\x35\x05"}))   # runs past file
    net.pump()
    assert c.stat("dhcp.drop_option_value") == 1
    assert c.stat("dhcp.drop_option_length") == 1
    assert state(c) == c.lib.TS_DHCP_SELECTING


def test_ack_from_another_server_or_address_dropped(net):
    c = net.host("c", None)
    srv = Server(net, c)
    srv.acks = False
    c.lib.ts_dhcp_start(c.s)
    net.pump()
    r = srv.seen[-1][1]
    other = options([(53, bytes([ACK])), (54, ip("10.0.0.9").to_bytes(4, "big")),
                     (51, b"\0\0\x0e\x10")])
    srv.deliver(r, bootp(2, r["xid"], c.mac, OFFER_IP, flags=0x8000, opts=other))
    wrong_ip = options(srv.lease_opts(ACK))
    srv.deliver(r, bootp(2, r["xid"], c.mac, "10.0.0.51", flags=0x8000, opts=wrong_ip))
    no_lease = options([o for o in srv.lease_opts(ACK) if o[0] != 51])
    srv.deliver(r, bootp(2, r["xid"], c.mac, OFFER_IP, flags=0x8000, opts=no_lease))
    nak_other = options([(53, bytes([NAK])), (54, ip("10.0.0.9").to_bytes(4, "big"))])
    srv.deliver(r, bootp(2, r["xid"], c.mac, flags=0x8000, opts=nak_other))
    net.pump()
    assert c.stat("dhcp.drop_server_id") == 2
    assert c.stat("dhcp.drop_address") == 1
    assert c.stat("dhcp.drop_no_lease") == 1
    assert state(c) == c.lib.TS_DHCP_REQUESTING and c.ip == "0.0.0.0"


def test_off_client_ignores_replies(net):
    c = net.host("c", None)
    c.lib.ts_dhcp_start(c.s)
    c.lib.ts_dhcp_stop(c.s)
    c.pop_all()
    srv = Server(net, c)
    fake = {"flags": 0x8000, "ciaddr": "0.0.0.0"}
    srv.deliver(fake, bootp(2, 1, c.mac, OFFER_IP, opts=options(_offer_opts())))
    net.pump()
    assert c.stat("dhcp.rx") == 0          # the port is closed while off
    assert state(c) == c.lib.TS_DHCP_OFF


def test_random_mutations_never_break_the_client(net):
    c, srv, d = _selecting(net)
    rng = random.Random(1234)
    good = bootp(**_good(d))
    for _ in range(400):
        m = bytearray(good[:rng.randint(200, len(good))])
        for _ in range(rng.randint(1, 8)):
            m[rng.randrange(len(m))] = rng.randrange(256)
        if rng.random() < 0.5:             # keep the header valid, mutate the options
            m[:240] = good[:240]
        srv.deliver(d, bytes(m))
        net.pump()                         # ts_check runs after every round
        if state(c) != c.lib.TS_DHCP_SELECTING:
            c.lib.ts_dhcp_stop(c.s)
            c.lib.ts_dhcp_start(c.s)
            net.pump()
            d = srv.seen[-1][1]
            good = bootp(**_good(d))
    drops = sum(v for k, v in c.stats().items() if k.startswith("dhcp.drop"))
    assert drops > 100

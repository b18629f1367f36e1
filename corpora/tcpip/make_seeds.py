"""Write the seed corpora of the tcpip fuzz targets from the captures of the conformance tests.

Usage::

    LAB_TCPIP_PCAPS=/tmp/pcaps .venv/bin/pytest -q tests/tcpip/test_kernel.py
    .venv/bin/python corpora/tcpip/make_seeds.py /tmp/pcaps [OUT_DIR]

OUT_DIR defaults to this script's folder; ``frame/``, ``tcp_session/``, ``ip_reassembly/`` and
``dhcp/`` are rewritten there, each with a README.md naming the capture every seed came from.
Nothing is written by hand: every seed is real traffic the Linux kernel sent to our stack.

- ``frame``: frames the kernel sent to our MAC (or broadcast), one per kind (ethertype, IP
  protocol, TCP flags, ICMP type, fragment or not), prefixed by the flags byte 0 (the frames
  carry the kernel's own checksums, so the harness leaves them alone).
- ``tcp_session``: the kernel's side of each connection it opened to our HTTP server (curl):
  its segments in order as in-sequence ``Segment`` steps on fixture connection 1 (its raw
  flags, window, options and payload), with a clock ``Advance`` where the capture shows a
  pause, cut to the program's step limit keeping the opening and the closing; and for each
  connection our client opened to the kernel's HTTP server, a connect followed by the
  server's segments on connection 7 (which answers our own active open).
- ``ip_reassembly``: the fragments of each datagram the kernel fragmented (ping -s 4000), in
  captured order, and all of them in reverse order.
- ``dhcp``: dnsmasq's OFFER and ACK as ``DhcpReply`` steps (its options verbatim), alone, and
  followed by advances to T1, T2 and the lease's end.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from plugins.tcpip.capture import read_pcap  # noqa: E402
from plugins.tcpip.fuzzing.steps import (  # noqa: E402
    Advance,
    App,
    DhcpReply,
    Fragment,
    Segment,
    write_program,
)
from plugins.tcpip.fuzzing.targets import (  # noqa: E402
    DHCP_KINDS,
    DHCP_STEPS,
    REASM_KINDS,
    REASM_STEPS,
    SESSION_KINDS,
    SESSION_STEPS,
)
from plugins.tcpip.kernel import KERNEL_MAC  # noqa: E402

KMAC = bytes.fromhex(KERNEL_MAC.replace(":", ""))
KERNEL_HTTP_PORT = 8080
"""The kernel-side HTTP server of the conformance tests (tests/tcpip/kernel_http.py)."""
APP_CONNECT = 6
"""``TS_FX_CONNECT``: our stack opens a connection to the peer, which conn 7 then answers."""
FRAME_MAX = 2047
TARGET_NAMES = ("frame", "tcp_session", "ip_reassembly", "dhcp")


def _from_kernel(frames: list[tuple[float, bytes]]) -> list[tuple[float, bytes]]:
    return [(t, f) for t, f in frames if f[6:12] == KMAC and len(f) >= 14]


def _ipv4(f: bytes) -> tuple[bytes, bytes] | None:
    """(IPv4 header, payload) of an Ethernet frame, or None."""
    if f[12:14] != b"\x08\x00" or len(f) < 34:
        return None
    ihl = (f[14] & 15) * 4
    total = struct.unpack_from("!H", f, 16)[0]
    return f[14:14 + ihl], f[14 + ihl:14 + total]


def _kind(f: bytes) -> tuple:
    ip = _ipv4(f)
    if ip is None:
        return (f[12:14],)
    hdr, body = ip
    frag = struct.unpack_from("!H", hdr, 6)[0] & 0x3FFF != 0
    proto = hdr[9]
    detail = body[13] if proto == 6 and len(body) > 13 and not frag else \
        body[0] if body and not frag else None
    return (proto, frag, detail, len(body) > 0 and proto == 6 and len(body) > 32)


def frame_seeds(captures: dict[str, list]) -> dict[str, tuple[bytes, str]]:
    seen, out = set(), {}
    for name, frames in captures.items():
        for _, f in _from_kernel(frames):
            if len(f) > FRAME_MAX or _kind(f) in seen:
                continue
            seen.add(_kind(f))
            out[f"{name}-{len(out):02d}.bin"] = (b"\x00" + f, f"kernel frame from {name}")
    return out


def _tcp(f: bytes) -> tuple[int, int, int, int, bytes, bytes] | None:
    """(sport, dport, flags, window, options, payload) of a TCP frame."""
    ip = _ipv4(f)
    if ip is None or ip[0][9] != 6 or len(ip[1]) < 20:
        return None
    seg = ip[1]
    sport, dport = struct.unpack_from("!HH", seg)
    off = (seg[12] >> 4) * 4
    return sport, dport, seg[13], struct.unpack_from("!H", seg, 14)[0], seg[20:off], seg[off:]


def _session(frames: list[tuple[float, bytes]], sport: int, dport: int = 80,
             conn: int = 1) -> list:
    steps, last = [], None
    for t, f in frames:
        tcp = _tcp(f)
        if tcp is None or tcp[0] != sport or tcp[1] != dport:
            continue
        if last is not None and t - last > 0.02:
            steps.append(Advance(40))
        last = t
        steps.append(Segment(conn, tcp[2], 0, 0, tcp[3], tcp[4][:40], tcp[5][:1460]))
    if len(steps) > SESSION_STEPS:
        steps = steps[:SESSION_STEPS - 8] + steps[-8:]
    return steps


def session_seeds(captures: dict[str, list]) -> dict[str, tuple[bytes, str]]:
    out = {}
    for name, frames in captures.items():
        kernel = _from_kernel(frames)
        clients = sorted({tcp[0] for _, f in kernel if (tcp := _tcp(f)) and tcp[1] == 80
                          and tcp[2] & 0x02})
        for i, port in enumerate(clients):
            steps = _session(kernel, port)
            if steps:
                out[f"{name}-conn{i}.bin"] = (write_program(steps, SESSION_KINDS, SESSION_STEPS),
                                              f"the kernel's side of connection {i} in {name}")
        servers = sorted({(tcp[0], tcp[1]) for _, f in kernel if (tcp := _tcp(f))
                          and tcp[0] == KERNEL_HTTP_PORT and tcp[2] & 0x12 == 0x12})
        for i, (sport, dport) in enumerate(servers):
            steps = [App(APP_CONNECT, 1, 0)] + _session(kernel, sport, dport, conn=7)
            out[f"{name}-out{i}.bin"] = (
                write_program(steps[:SESSION_STEPS], SESSION_KINDS, SESSION_STEPS),
                f"our connect, then the kernel server's side of connection {i} in {name}")
    return out


def reassembly_seeds(captures: dict[str, list]) -> dict[str, tuple[bytes, str]]:
    out: dict[str, tuple[bytes, str]] = {}
    for name, frames in captures.items():
        frags: dict[int, list[Fragment]] = {}
        for _, f in _from_kernel(frames):
            ip = _ipv4(f)
            if ip is None:
                continue
            hdr, body = ip
            flags_off = struct.unpack_from("!H", hdr, 6)[0]
            if flags_off & 0x3FFF == 0 or hdr[9] not in Fragment.PROTOS:
                continue
            ident = struct.unpack_from("!H", hdr, 4)[0]
            frags.setdefault(ident, []).append(
                Fragment(ident & 3, hdr[9], flags_off & 0x1FFF, flags_off >> 13 & 1,
                         body[:1480]))
        every: list[Fragment] = []
        for i, (_, parts) in enumerate(sorted(frags.items())):
            out[f"{name}-dgram{i}.bin"] = (write_program(parts, REASM_KINDS, REASM_STEPS),
                                           f"datagram {i} of {name}, fragments in order")
            every += parts
        if len(every) > 1:
            out[f"{name}-reversed.bin"] = (
                write_program(every[::-1][:REASM_STEPS], REASM_KINDS, REASM_STEPS),
                f"every fragment of {name}, last first")
    return out


def _dhcp_reply(f: bytes) -> DhcpReply | None:
    ip = _ipv4(f)
    if ip is None or ip[0][9] != 17 or len(ip[1]) < 8 + 240:
        return None
    udp = ip[1]
    if struct.unpack_from("!H", udp, 0)[0] != 67:
        return None
    bootp = udp[8:]
    flags, yiaddr = struct.unpack_from("!H", bootp, 10)[0], struct.unpack_from("!I", bootp, 16)[0]
    opts, msg_type, i = bytearray(), 0, 240
    while i < len(bootp) and bootp[i] != 255:
        if bootp[i] == 0:
            i += 1
            continue
        code, length = bootp[i], bootp[i + 1]
        if code == 53:
            msg_type = bootp[i + 2]
        else:
            opts += bootp[i:i + 2 + length]
        i += 2 + length
    return DhcpReply(msg_type, 1, yiaddr, 1 if flags & 0x8000 or f[:6] == b"\xff" * 6 else 0,
                     bytes(opts[:312]))


def dhcp_seeds(captures: dict[str, list]) -> dict[str, tuple[bytes, str]]:
    out = {}
    for name, frames in captures.items():
        replies = [r for _, f in _from_kernel(frames) if (r := _dhcp_reply(f))]
        if not replies:
            continue
        base = replies[:2]
        variants = {
            "lease": base,
            "renew": base + [Advance(61_000), Advance(1000)],
            "rebind": base + [Advance(106_000), Advance(1000)],
            "expire": base + [Advance(121_000), Advance(1000)],
        }
        for tag, steps in variants.items():
            out[f"{name}-{tag}.bin"] = (write_program(steps, DHCP_KINDS, DHCP_STEPS),
                                        f"dnsmasq's replies in {name}, then {tag}")
    return out


MAKERS = {"frame": frame_seeds, "tcp_session": session_seeds,
          "ip_reassembly": reassembly_seeds, "dhcp": dhcp_seeds}


def write(pcap_dir: Path, out_dir: Path) -> dict[str, int]:
    captures = {p.stem: read_pcap(p) for p in sorted(Path(pcap_dir).rglob("*.pcap"))}
    counts = {}
    for target, make in MAKERS.items():
        seeds = make(captures)
        folder = out_dir / target
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.bin"):
            old.unlink()
        lines = [f"# {target} seeds", "", "Made by `corpora/tcpip/make_seeds.py` from the "
                 "captures of tests/tcpip/test_kernel.py (real kernel traffic).", ""]
        for name, (data, what) in sorted(seeds.items()):
            (folder / name).write_bytes(data)
            lines.append(f"- `{name}`: {what}")
        (folder / "README.md").write_text("\n".join(lines) + "\n")
        counts[target] = len(seeds)
    return counts


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: make_seeds.py PCAP_DIR [OUT_DIR]")
    here = Path(__file__).resolve().parent
    print(write(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) == 3 else here))

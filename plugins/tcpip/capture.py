"""Packet captures of the tcpip stack: reading the classic pcap files the stack writes
(``ts_pcap_open``), and asking tshark whether it finds anything wrong in one.

Contract: :func:`read_pcap` returns every frame of a little- or big-endian microsecond pcap
as ``(seconds, bytes)``, raising ValueError naming the offset of the first thing that is not
pcap; :func:`tshark_problems` returns one line per frame tshark dissects as malformed or with
a bad IPv4/ICMP/UDP/TCP checksum (checksum validation switched on for all four), and raises
RuntimeError when tshark itself fails; :func:`tshark_count` is the number of frames it reads.
"""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

MAGIC_LE = b"\xd4\xc3\xb2\xa1"
MAGIC_BE = b"\xa1\xb2\xc3\xd4"
CHECKSUM_PREFS = ("ip.check_checksum:TRUE", "tcp.check_checksum:TRUE",
                  "udp.check_checksum:TRUE")
PROBLEMS = ('_ws.malformed or ip.checksum.status == "Bad" or tcp.checksum.status == "Bad" '
            'or udp.checksum.status == "Bad" or icmp.checksum.status == "Bad"')


def read_pcap(path: Path) -> list[tuple[float, bytes]]:
    data = Path(path).read_bytes()
    if len(data) < 24 or data[:4] not in (MAGIC_LE, MAGIC_BE):
        raise ValueError(f"{path}: not a pcap file (no pcap magic at offset 0)")
    end = "<" if data[:4] == MAGIC_LE else ">"
    frames, off = [], 24
    while off < len(data):
        if off + 16 > len(data):
            raise ValueError(f"{path}: truncated record header at offset {off}")
        sec, usec, caplen, _ = struct.unpack_from(end + "IIII", data, off)
        off += 16
        if off + caplen > len(data):
            raise ValueError(f"{path}: record at offset {off - 16} runs past the end")
        frames.append((sec + usec / 1e6, data[off:off + caplen]))
        off += caplen
    return frames


def _tshark(path: Path, *args: str) -> str:
    proc = subprocess.run(["tshark", "-n", "-r", str(path),
                           *(a for p in CHECKSUM_PREFS for a in ("-o", p)), *args],
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"tshark -r {path} failed: {proc.stderr.strip()[-500:]}")
    return proc.stdout


def tshark_problems(path: Path) -> list[str]:
    return [ln for ln in _tshark(path, "-Y", PROBLEMS).splitlines() if ln.strip()]


def tshark_count(path: Path) -> int:
    return len([ln for ln in _tshark(path, "-T", "fields", "-e", "frame.number").splitlines()
                if ln.strip()])


def tshark_fields(path: Path, display_filter: str, *fields: str) -> list[list[str]]:
    """The ``fields`` of every frame matching ``display_filter``, one list per frame."""
    out = _tshark(path, "-Y", display_filter, "-T", "fields",
                  *(a for f in fields for a in ("-e", f)))
    return [ln.split("\t") for ln in out.splitlines() if ln.strip()]

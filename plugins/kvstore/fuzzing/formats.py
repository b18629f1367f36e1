"""The persistence formats: snapshot images (``snap.h``) and logs of commands
(``aof_load.h``), read and written independently of ``targets/kvstore``.

Contract: :func:`read_snapshot` returns the :data:`Keyspace` an image holds (keys expired at
``now`` left out) or raises :class:`ImageError` at the first defect the format rules out;
:func:`write_snapshot` writes a valid image of given entries; :func:`replay_log` replays a
log -- strict RESP2 arrays of bulks, each a write command that must succeed -- through the
command model in loading mode (:class:`~plugins.kvstore.fuzzing.model.Model`) and returns the
keyspace left and the command count, or raises :class:`ImageError` at the first byte of the
first bad command; :func:`crc64` is the images' CRC-64/XZ.  Pure, no I/O.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from plugins.kvstore.fuzzing.model import WRITE_COMMANDS, Model, now_ms
from plugins.kvstore.fuzzing.wire import string2ll

__all__ = [
    "MAX_LOG_ARRAY", "SNAP_MAGIC", "SNAP_VERSION", "ImageError", "Keyspace", "crc64",
    "read_snapshot", "replay_log", "varint", "write_snapshot",
]

_CRC64_POLY = 0xC96C5795D7870F42  # ECMA-182, reflected (CRC-64/XZ)


def _crc64_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ (_CRC64_POLY if crc & 1 else 0)
        table.append(crc)
    return table


_CRC64_TABLE = _crc64_table()
_MASK64 = (1 << 64) - 1


def crc64(data: bytes, crc: int = 0) -> int:
    """CRC-64/XZ of ``data`` continuing from ``crc`` (0 to start); check value of
    ``b"123456789"`` is ``0x995DC9BBDF1939FA``."""
    crc ^= _MASK64
    table = _CRC64_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ _MASK64


SNAP_MAGIC = b"KVSNAP"
SNAP_VERSION = 1
Keyspace = dict[bytes, tuple[bytes, int | None]]
"""key -> (value, expiry in Unix ms or None): what a load leaves in the keyspace."""


def varint(n: int) -> bytes:
    """Unsigned LEB128."""
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def write_snapshot(entries: Iterable[tuple[bytes, bytes, int | None]]) -> bytes:
    """A snapshot image (``snap.h``) of (key, value, expiry or None) entries, in order."""
    body = bytearray(SNAP_MAGIC + struct.pack("<H", SNAP_VERSION))
    for key, value, expiry in entries:
        if expiry is None:
            body += b"\x01"
        else:
            body += b"\x02" + struct.pack("<q", expiry)
        body += varint(len(key)) + key + varint(len(value)) + value
    body += b"\xff"
    return bytes(body) + struct.pack("<Q", crc64(bytes(body)))


class ImageError(ValueError):
    """A defect in a snapshot or log image; ``offset`` is where the bad part starts."""

    def __init__(self, offset: int, what: str) -> None:
        super().__init__(f"{what} at offset {offset}")
        self.offset, self.what = offset, what


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = 0
    for i in range(10):
        if pos + i >= len(buf):
            raise ImageError(pos, "truncated length")
        byte = buf[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, pos + i + 1
    raise ImageError(pos, "length longer than 10 bytes")


def _read_bytes(buf: bytes, pos: int) -> tuple[bytes, int]:
    size, pos = _read_varint(buf, pos)
    if size > len(buf) - pos:
        raise ImageError(pos, f"length {size} runs past the end")
    return buf[pos:pos + size], pos + size


def read_snapshot(buf: bytes, now: int | None = None) -> Keyspace:
    """The keyspace a snapshot image holds, keys expired at ``now`` (default: the clock) left
    out; raises :class:`ImageError` on any defect the format (``snap.h``) rules out: bad magic
    or version, unknown entry tag, lengths past the end, a repeated key, no end marker, wrong
    CRC-64 of everything before the CRC, any byte after it, a negative expiry (``snap.h``:
    expiries are ``>= 0``)."""
    now = now_ms() if now is None else now
    if buf[:len(SNAP_MAGIC)] != SNAP_MAGIC:
        raise ImageError(0, "bad magic")
    if len(buf) < 8 or struct.unpack_from("<H", buf, 6)[0] != SNAP_VERSION:
        raise ImageError(6, "bad or missing version")
    pos, seen, out = 8, set(), {}
    while True:
        if pos >= len(buf):
            raise ImageError(pos, "no end marker")
        tag, start = buf[pos], pos
        pos += 1
        if tag == 0xFF:
            break
        if tag not in (1, 2):
            raise ImageError(start, f"unknown entry tag {tag:#x}")
        expiry = None
        if tag == 2:
            if len(buf) - pos < 8:
                raise ImageError(start, "truncated expiry")
            expiry = struct.unpack_from("<q", buf, pos)[0]
            if expiry < 0:
                raise ImageError(pos, "negative expiry")
            pos += 8
        key, pos = _read_bytes(buf, pos)
        value, pos = _read_bytes(buf, pos)
        if key in seen:
            raise ImageError(start, "repeated key")
        seen.add(key)
        if expiry is None or expiry >= now:
            out[key] = (value, expiry)
    if len(buf) - pos < 8:
        raise ImageError(pos, "truncated checksum")
    if struct.unpack_from("<Q", buf, pos)[0] != crc64(buf[:pos]):
        raise ImageError(pos, "checksum mismatch")
    if pos + 8 != len(buf):
        raise ImageError(pos + 8, "bytes after the checksum")
    return out


MAX_LOG_ARRAY = 1 << 20
"""The most arguments a log command may have (``aof_load.h``: 1 <= N <= 1M)."""


def _strict_line(buf: bytes, pos: int, kind: int) -> tuple[int, int]:
    """The integer of a ``<kind>digits\\r\\n`` line at ``pos`` and the offset after it."""
    if pos >= len(buf) or buf[pos] != kind:
        raise ImageError(pos, f"expected {chr(kind)!r}")
    cr = buf.find(b"\r\n", pos)
    value = string2ll(buf[pos + 1:cr]) if cr >= 0 else None
    if value is None:
        raise ImageError(pos, "bad or incomplete length line")
    return value, cr + 2


def _log_command(buf: bytes, pos: int) -> tuple[list[bytes], int]:
    count, pos = _strict_line(buf, pos, ord("*"))
    if not 1 <= count <= MAX_LOG_ARRAY:
        raise ImageError(pos, "bad array length")
    args = []
    for _ in range(count):
        size, pos = _strict_line(buf, pos, ord("$"))
        if size < 0 or len(buf) - pos < size + 2 or buf[pos + size:pos + size + 2] != b"\r\n":
            raise ImageError(pos, "bad or incomplete bulk")
        args.append(buf[pos:pos + size])
        pos += size + 2
    return args, pos


def replay_log(buf: bytes) -> tuple[Keyspace, int]:
    """Replay a log (``aof_load.h``) through :class:`Model` in loading mode: the keyspace left
    (keys expired by the end left out) and the number of commands.  Raises
    :class:`ImageError` at the first byte of the first command that is not a strict RESP2
    array of bulks, is no write command, or fails (replies an error)."""
    model, pos, count = Model(loading=True), 0, 0
    while pos < len(buf):
        start = pos
        try:
            args, pos = _log_command(buf, pos)
        except ImageError as exc:
            raise ImageError(start, exc.what) from None
        if args[0].lower() not in WRITE_COMMANDS:
            raise ImageError(start, f"not a write command: {args[0][:40]!r}")
        reply = model.execute(args)
        if reply.startswith(b"-"):
            raise ImageError(start, f"command failed: {reply[:80]!r}")
        count += 1
    return model.keyspace(), count


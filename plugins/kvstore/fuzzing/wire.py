"""RESP2 on the wire, both directions, as Redis 7.0 writes and reads it.

Contract: pure functions over ``bytes``, no state, no I/O.  ``string2ll`` is Redis's strict
integer parser; ``simple``/``integer``/``bulk``/``array``/``error``/``error_format`` build
the exact reply bytes Redis 7.0 sends (``error_format`` is ``addReplyErrorFormat``: trailing
and leading CR/LF trimmed, the ones inside mapped to spaces; ``error`` is ``addReplyError``
and ``rejectCommandFormat``: all of them mapped to spaces); ``encode_multibulk`` and
``encode_inline`` build requests whose parse gives back exactly the arguments given;
``split_replies`` cuts a reply stream into replies and raises :class:`ReplyError` on
anything that is not well-formed RESP2.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "INT_MAX", "LLONG_MAX", "LLONG_MIN", "LONG_STR_SIZE", "NULL", "OK", "ReplyError", "array",
    "array_items", "bulk", "cstr", "encode_inline", "encode_multibulk", "error",
    "error_format", "integer", "simple", "split_replies", "string2ll",
]

LLONG_MAX = (1 << 63) - 1
LLONG_MIN = -(1 << 63)
INT_MAX = (1 << 31) - 1
LONG_STR_SIZE = 21
"""Redis's ``LONG_STR_SIZE``: an integer text this long or longer is never a valid integer."""


def string2ll(s: bytes) -> int | None:
    """Redis 7.0's ``string2ll``: the value of ``s``, or None.  Strict: no sign other than a
    leading ``-``, no leading zeros (``0`` itself excepted), no spaces, at most 20 bytes, and
    the value must fit in a signed 64-bit integer."""
    if not s or len(s) >= LONG_STR_SIZE:
        return None
    if s == b"0":
        return 0
    body = s[1:] if s[:1] == b"-" else s
    if not body or not (0x31 <= body[0] <= 0x39) or any(not 0x30 <= c <= 0x39 for c in body):
        return None
    value = -int(body) if s[:1] == b"-" else int(body)
    return value if LLONG_MIN <= value <= LLONG_MAX else None


def simple(text: bytes) -> bytes:
    return b"+" + text + b"\r\n"


def integer(n: int) -> bytes:
    return b":%d\r\n" % n


def bulk(data: bytes | None) -> bytes:
    return b"$-1\r\n" if data is None else b"$%d\r\n%s\r\n" % (len(data), data)


def array(items: Sequence[bytes]) -> bytes:
    return b"*%d\r\n" % len(items) + b"".join(items)


OK = simple(b"OK")
NULL = bulk(None)


def error(text: bytes) -> bytes:
    """Redis's ``addReplyError``: ``-ERR`` unless the text starts with ``-``; CR and LF become
    spaces (``rejectCommandFormat`` and the fixed texts)."""
    text = text.replace(b"\r", b" ").replace(b"\n", b" ")
    return (text if text.startswith(b"-") else b"-ERR " + text) + b"\r\n"


def error_format(text: bytes) -> bytes:
    """Redis's ``addReplyErrorFormat``: CR and LF are trimmed from both ends first
    (``sdstrim``), the ones left inside become spaces."""
    return error(text.strip(b"\r\n"))


def cstr(arg: bytes) -> bytes:
    """``arg`` as C code reading it with ``%s``/``strcasecmp`` sees it: up to its first NUL."""
    return arg.split(b"\0", 1)[0]


def encode_multibulk(args: Sequence[bytes]) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


_INLINE_PLAIN = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                          b":_-.*?[]@!#%^&()+=,/<>{}|~")


def encode_inline(args: Sequence[bytes]) -> bytes:
    """One inline request whose ``sdssplitargs`` split gives exactly ``args``: plain words as
    they are, anything else double-quoted with ``\\xHH`` escapes."""
    words = []
    for a in args:
        if a and all(c in _INLINE_PLAIN for c in a):
            words.append(a)
        else:
            words.append(b'"' + b"".join(bytes([c]) if c in _INLINE_PLAIN else b"\\x%02x" % c
                                         for c in a) + b'"')
    return b" ".join(words) + b"\r\n"


class ReplyError(ValueError):
    """A reply stream that is not well-formed RESP2."""


def _reply_end(buf: bytes, pos: int, depth: int = 0) -> int:
    """End offset of the one RESP2 reply starting at ``pos``."""
    if depth > 64:
        raise ReplyError(f"arrays nested too deep at {pos}")
    cr = buf.find(b"\r\n", pos)
    if pos >= len(buf) or cr < 0:
        raise ReplyError(f"truncated reply at {pos}")
    kind, line, end = buf[pos:pos + 1], buf[pos + 1:cr], cr + 2
    if kind in (b"+", b"-"):
        if b"\r" in line or b"\n" in line:
            raise ReplyError(f"CR or LF inside a status/error line at {pos}")
        return end
    n = string2ll(line)
    if n is None:
        raise ReplyError(f"bad number {line[:24]!r} at {pos}")
    if kind == b":":
        return end
    if kind == b"$":
        if n == -1:
            return end
        if n < 0 or buf[end + n:end + n + 2] != b"\r\n":
            raise ReplyError(f"bad bulk of length {n} at {pos}")
        return end + n + 2
    if kind == b"*":
        if n < -1:
            raise ReplyError(f"bad array length {n} at {pos}")
        for _ in range(max(n, 0)):
            end = _reply_end(buf, end, depth + 1)
        return end
    raise ReplyError(f"unknown reply type {kind!r} at {pos}")


def split_replies(buf: bytes) -> list[bytes]:
    """The replies in a concatenated RESP2 reply stream; raises :class:`ReplyError`."""
    out, pos = [], 0
    while pos < len(buf):
        end = _reply_end(buf, pos)
        out.append(buf[pos:end])
        pos = end
    return out


def array_items(reply: bytes) -> list[bytes]:
    """The elements of an array reply (each a complete reply)."""
    cr = reply.index(b"\r\n")
    n, pos, items = int(reply[1:cr]), cr + 2, []
    for _ in range(max(n, 0)):
        end = _reply_end(reply, pos)
        items.append(reply[pos:end])
        pos = end
    return items


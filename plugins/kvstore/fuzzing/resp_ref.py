"""The reference RESP2 request parser: how Redis 7.0 splits a client's bytes into commands.

Contract: :func:`parse_requests` takes the bytes a connection received and returns
:class:`Parsed` -- every complete request in order, then either the protocol error that stops
Redis 7.0 (the text after ``-ERR``) or nothing (the rest is an incomplete request) -- following
``networking.c``'s ``processInputBuffer``: a request starting with ``*`` is a multibulk array
(``processMultibulkBuffer``: ``string2ll`` counts up to ``INT_MAX`` and bulk lengths up to
``proto-max-bulk-len``, ``*0``/``*-1`` skipped, the LF after a CR and the two bytes after a
bulk left unchecked), anything else an inline line split by :func:`split_args`
(``sdssplitargs``; blank lines skipped).  Line ends are found with ``strchr``, so a NUL byte
before one hides it, and a line with no end that runs past ``PROTO_INLINE_MAX_SIZE`` (64 KiB)
is an error.  Written from Redis's source, independent of ``targets/kvstore/resp.c``; pure,
no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from plugins.kvstore.fuzzing.wire import INT_MAX, cstr, string2ll

__all__ = ["REDIS_7_0", "Limits", "Parsed", "parse_requests", "split_args"]


@dataclass(frozen=True)
class Limits:
    """The limits of a RESP2 request parser: ``max_bulk`` is ``proto-max-bulk-len``;
    ``max_array`` the largest multibulk count (Redis 7.0: ``INT_MAX``); ``inline_max`` how far
    a line may run without its terminator (``PROTO_INLINE_MAX_SIZE``)."""

    max_bulk: int = 512 << 20
    max_array: int = INT_MAX
    inline_max: int = 64 << 10


REDIS_7_0 = Limits()
"""Redis 7.0's limits (checked against redis-server 7.0 by the tests)."""


@dataclass
class Parsed:
    """What a parser made of a buffer: the complete commands in order, then either the
    protocol error that stops it (``error``, the text after ``-ERR``) or nothing (the rest, if
    any, is an incomplete request).  ``consumed``: bytes taken by complete requests."""

    commands: list[list[bytes]] = field(default_factory=list)
    error: bytes | None = None
    consumed: int = 0


def _find(buf: bytes, char: bytes, pos: int) -> int:
    """Offset of ``char`` at or after ``pos`` as Redis's ``strchr`` on the query buffer finds
    it, or -1: a NUL byte before it hides it (the line looks incomplete)."""
    at = buf.find(char, pos)
    nul = buf.find(b"\0", pos, None if at < 0 else at)
    return -1 if nul >= 0 else at


_SPACE = frozenset(b" \t\n\r\v\f")  # C isspace() in the C locale


def split_args(line: bytes) -> list[bytes] | None:
    """Redis 7.0's ``sdssplitargs`` on ``line`` read as a C string: the words, or None on
    unbalanced quotes (or a closing quote not followed by a space)."""
    line = cstr(line)
    n, i, words = len(line), 0, []

    def at(k: int) -> int:
        return line[k] if k < n else 0

    hexdigits = b"0123456789abcdefABCDEF"
    escapes = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("a"): 7}
    while True:
        while i < n and line[i] in _SPACE:
            i += 1
        if i >= n:
            return words
        word, inq, insq, done = bytearray(), False, False, False
        while not done:
            c = at(i)
            if inq:
                if c == 0x5C and at(i + 1) == ord("x") and at(i + 2) and at(i + 2) in hexdigits \
                        and at(i + 3) and at(i + 3) in hexdigits:
                    word.append(int(line[i + 2:i + 4], 16))
                    i += 3
                elif c == 0x5C and at(i + 1):
                    i += 1
                    word.append(escapes.get(line[i], line[i]))
                elif c == ord('"'):
                    if at(i + 1) and at(i + 1) not in _SPACE:
                        return None
                    done = True
                elif c == 0:
                    return None
                else:
                    word.append(c)
            elif insq:
                if c == 0x5C and at(i + 1) == ord("'"):
                    i += 1
                    word.append(ord("'"))
                elif c == ord("'"):
                    if at(i + 1) and at(i + 1) not in _SPACE:
                        return None
                    done = True
                elif c == 0:
                    return None
                else:
                    word.append(c)
            elif c in (0x20, 0x0A, 0x0D, 0x09, 0):
                done = True
            elif c == ord('"'):
                inq = True
            elif c == ord("'"):
                insq = True
            else:
                word.append(c)
            if i < n:
                i += 1
        words.append(bytes(word))


def _line(buf: bytes, pos: int, limits: Limits, too_big: bytes) -> int | bytes | None:
    """The CR ending the length line at ``pos`` (with a byte after it, the LF Redis does not
    check); None when incomplete; the error text when the line is over the limit."""
    cr = _find(buf, b"\r", pos)
    if cr < 0:
        return b"Protocol error: " + too_big if len(buf) - pos > limits.inline_max else None
    return cr if cr + 1 < len(buf) else None


def _multibulk(buf: bytes, pos: int, limits: Limits) -> tuple[str, Any, int]:
    """One multibulk request at ``pos``: ("more", None, pos), ("error", text, pos),
    ("skip", None, end) or ("command", args, end)."""
    cr = _line(buf, pos, limits, b"too big mbulk count string")
    if not isinstance(cr, int):
        return ("more", None, pos) if cr is None else ("error", cr, pos)
    count = string2ll(buf[pos + 1:cr])
    if count is None or count > limits.max_array:
        return "error", b"Protocol error: invalid multibulk length", pos
    p = cr + 2
    if count <= 0:
        return "skip", None, p
    args = []
    for _ in range(count):
        cr = _line(buf, p, limits, b"too big bulk count string")
        if not isinstance(cr, int):
            return ("more", None, pos) if cr is None else ("error", cr, pos)
        if buf[p] != ord("$"):
            got = cstr(buf[p:p + 1])  # printf %c of a NUL ends the C string there
            return "error", b"Protocol error: expected '$', got '" + got + (b"'" if got else
                                                                           b""), pos
        size = string2ll(buf[p + 1:cr])
        if size is None or size < 0 or size > limits.max_bulk:
            return "error", b"Protocol error: invalid bulk length", pos
        p = cr + 2
        if len(buf) - p < size + 2:
            return "more", None, pos
        args.append(buf[p:p + size])
        p += size + 2
    return "command", args, p


def _inline(buf: bytes, pos: int, limits: Limits) -> tuple[str, Any, int]:
    nl = _find(buf, b"\n", pos)
    if nl < 0:
        if len(buf) - pos > limits.inline_max:
            return "error", b"Protocol error: too big inline request", pos
        return "more", None, pos
    line = buf[pos:nl]
    if line.endswith(b"\r"):
        line = line[:-1]
    words = split_args(line)
    if words is None:
        return "error", b"Protocol error: unbalanced quotes in request", pos
    return ("command", words, nl + 1) if words else ("skip", None, nl + 1)


def parse_requests(buf: bytes, limits: Limits = REDIS_7_0) -> Parsed:
    """Every complete request in ``buf`` as Redis 7.0's ``processInputBuffer`` splits them
    (``processMultibulkBuffer`` for a request starting with ``*``, ``processInlineBuffer``
    otherwise), under ``limits``."""
    out, pos = Parsed(), 0
    while pos < len(buf):
        step = _multibulk if buf[pos] == ord("*") else _inline
        status, value, end = step(buf, pos, limits)
        if status == "more":
            break
        if status == "error":
            out.error = value
            break
        if status == "command":
            out.commands.append(value)
        pos = out.consumed = end
    return out


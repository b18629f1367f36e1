"""The three kvstore fuzz targets as ``lab.FuzzTarget`` declarations, with their load,
oracle, equality and invariant functions (what each target checks: the package docstring).

Contract: each ``_load_*`` returns the function the harness calls on one input, running the
C code in process through :class:`~plugins.kvstore.fuzzing.kvlib.Lib` on a freshly reset
keyspace; each ``_oracle_*`` returns the pure-Python reference of the same input (the
request parser of ``resp_ref``, the readers of ``formats``, the model of ``model``), held to
Redis 7.0 exactly; ``same_*`` are the targets' ``equal`` and the other public functions
their invariants (raising AssertionError).  ``explain`` is a debugging aid for ``commands``
inputs.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import lab
from plugins.kvstore.fuzzing.formats import ImageError, Keyspace, crc64, read_snapshot, replay_log
from plugins.kvstore.fuzzing.kvlib import RECIPE, Lib
from plugins.kvstore.fuzzing.resp_ref import REDIS_7_0, Limits, parse_requests
from plugins.kvstore.fuzzing.scripts import Script, model_transcript, normalize
from plugins.kvstore.fuzzing.wire import ReplyError, error, split_replies

__all__ = [
    "AOF_LOAD", "CLOSERS", "COMMANDS_TARGET", "EXPIRY_SLACK_MS", "FUZZ_TARGETS", "RESP",
    "SMALL_BULK", "LoadOutcome", "RespOutcome", "aof_input", "exec_replies_framed", "explain",
    "offset_within_input", "same_counts", "same_keyspace", "same_load", "snapshot_reloads",
]

# ============================================================================ resp

SMALL_BULK = 16
"""The second ``proto-max-bulk-len`` the ``resp`` target parses with (reachable by mutation)."""
CLOSERS = frozenset({b"quit", b"shutdown", b"host:", b"post"})
"""Commands after which a connection (and ``kv_lib_exec``) may stop reading: QUIT, SHUTDOWN
when it succeeds, and the cross-protocol guard (``Host:``/``POST`` close without a reply)."""


@dataclass(frozen=True)
class RespOutcome:
    """What each parser said: (request count, None) or (-1, protocol error text), for the
    default bulk limit and for ``SMALL_BULK``; the target adds what ``kv_lib_exec`` did."""

    default: tuple[int, bytes | None]
    small: tuple[int, bytes | None]
    exec_rc: int | None = None
    exec_out: bytes = b""


def _reference_counts(data: bytes) -> RespOutcome:
    def verdict(limits: Limits) -> tuple[int, bytes | None]:
        parsed = parse_requests(data, limits)
        return (-1, parsed.error) if parsed.error is not None else (len(parsed.commands), None)

    return RespOutcome(verdict(REDIS_7_0), verdict(replace(REDIS_7_0, max_bulk=SMALL_BULK)))


def _load_resp(ctx: lab.LoadContext) -> Callable[[bytes], RespOutcome]:
    kv = Lib(ctx)

    def resp(data: bytes) -> RespOutcome:
        """``kv_lib_parse`` with the default and the small bulk limit, then ``kv_lib_exec`` on
        a fresh keyspace."""
        kv.lib.kv_lib_reset()
        rc, out = kv.exec(data)
        return RespOutcome(kv.parse(data, 0), kv.parse(data, SMALL_BULK), rc, out)

    return resp


def _oracle_resp(ctx: lab.LoadContext) -> Callable[[bytes], RespOutcome]:
    return _reference_counts


def same_counts(out: RespOutcome, ref: RespOutcome) -> bool:
    """Equal request counts, or the same protocol error text (the ``exec`` fields are the
    target's own, checked by :func:`exec_replies_framed`)."""
    return (out.default, out.small) == (ref.default, ref.small)


def exec_replies_framed(data: bytes, out: RespOutcome) -> None:
    """``kv_lib_exec``'s replies are well-formed RESP2, one per executed request, and on a
    protocol error end with that error; it stops early only after a closing command."""
    ref = parse_requests(data)
    try:
        replies = split_replies(out.exec_out)
    except ReplyError as exc:
        raise AssertionError(f"malformed reply stream: {exc}") from None
    names = [args[0].lower() for args in ref.commands]
    if out.exec_rc == -1:
        assert ref.error is not None, "kv_lib_exec reported a protocol error the parser did not"
        assert len(replies) == len(names) + 1, \
            f"{len(replies)} replies for {len(names)} requests and a protocol error"
        assert replies[-1] == error(ref.error), f"error reply {replies[-1][:80]!r}"
        return
    rc = out.exec_rc
    assert rc is not None and 0 <= rc <= len(names), f"kv_lib_exec returned {rc}"
    stopped = rc > 0 and names[rc - 1] in CLOSERS
    if not stopped:
        assert rc == len(names) and ref.error is None, \
            f"kv_lib_exec ran {rc} of {len(names)} requests (protocol error: {ref.error!r})"
    silent = 1 if stopped and names[rc - 1] in (b"host:", b"post") else 0
    assert len(replies) in (rc - silent, rc - 1 if stopped else rc), \
        f"{len(replies)} replies for {rc} requests"


# ============================================================================ aof_load

EXPIRY_SLACK_MS = 60_000
"""Expiries of a replayed log may differ by this much: relative TTLs (EXPIRE, SET EX) are
turned into absolute times by each side's own clock."""


@dataclass(frozen=True)
class LoadOutcome:
    """One load: accepted (with the keyspace it left) or rejected (with the bad offset).  The
    target also records the snapshot it wrote back and what loading that snapshot gave."""

    kind: int
    accepted: bool
    keyspace: Keyspace | None = None
    offset: int | None = None
    size: int = 0
    why: str = ""
    reloaded: Keyspace | None = None
    snapshot_error: str | None = None

    def __repr__(self) -> str:
        if self.accepted:
            return (f"LoadOutcome(kind={self.kind}, accepted, {len(self.keyspace or {})} keys"
                    f"{', snapshot: ' + self.snapshot_error if self.snapshot_error else ''})")
        return f"LoadOutcome(kind={self.kind}, rejected at {self.offset}: {self.why[:60]})"


def aof_input(data: bytes) -> tuple[int, bytes]:
    """(kind, image) of an ``aof_load`` input (see the package docstring)."""
    if not data:
        raise lab.Reject("empty input: no kind byte")
    kind, image = data[0] & 1, data[1:]
    if kind == 1 and data[0] & 2 and len(image) >= 8:
        image = image[:-8] + struct.pack("<Q", crc64(image[:-8]))
    return kind, image


def _load_aof(ctx: lab.LoadContext) -> Callable[[bytes], LoadOutcome]:
    kv = Lib(ctx)

    def load(data: bytes) -> LoadOutcome:
        """``kv_lib_load``; when it accepts, the keyspace read back through
        ``kv_lib_snapshot``, and that snapshot loaded again."""
        kind, image = aof_input(data)
        ok, offset, why = kv.load(kind, image)
        if not ok:
            return LoadOutcome(kind, False, offset=offset, size=len(image), why=why)
        snap = kv.snapshot()
        try:
            keyspace = read_snapshot(snap)
        except ImageError as exc:
            return LoadOutcome(kind, True, {}, size=len(image), snapshot_error=str(exc))
        again, _, why = kv.load(1, snap)
        reloaded = read_snapshot(kv.snapshot()) if again else None
        return LoadOutcome(kind, True, keyspace, size=len(image), reloaded=reloaded,
                           why=why)

    return load


def _oracle_aof(ctx: lab.LoadContext) -> Callable[[bytes], LoadOutcome]:
    def reference(data: bytes) -> LoadOutcome:
        """:func:`read_snapshot` or :func:`replay_log` on the same image."""
        kind, image = aof_input(data)
        try:
            keyspace = replay_log(image)[0] if kind == 0 else read_snapshot(image)
        except ImageError as exc:
            return LoadOutcome(kind, False, offset=exc.offset, size=len(image), why=str(exc))
        return LoadOutcome(kind, True, keyspace, size=len(image))

    return reference


def same_keyspace(a: Keyspace | None, b: Keyspace | None, slack: int = 0) -> bool:
    if a is None or b is None or a.keys() != b.keys():
        return a is None and b is None
    for key, (value, expiry) in a.items():
        other_value, other_expiry = b[key]
        if value != other_value or (expiry is None) != (other_expiry is None):
            return False
        if expiry is not None and abs(expiry - other_expiry) > slack:  # type: ignore[operator]
            return False
    return True


def same_load(out: LoadOutcome, ref: LoadOutcome) -> bool:
    """Same verdict; on acceptance the same keyspace (expiries of a log within
    ``EXPIRY_SLACK_MS``); a rejected log at the same offset."""
    if out.accepted != ref.accepted:
        return False
    if out.accepted:
        return same_keyspace(out.keyspace, ref.keyspace, EXPIRY_SLACK_MS if out.kind == 0 else 0)
    return out.kind == 1 or out.offset == ref.offset


def offset_within_input(data: bytes, out: LoadOutcome) -> None:
    """A rejection points inside the image (or at its end, for a truncated one)."""
    if not out.accepted:
        assert out.offset is not None and 0 <= out.offset <= out.size, \
            f"bad offset {out.offset} for a {out.size}-byte image"


def snapshot_reloads(data: bytes, out: LoadOutcome) -> None:
    """What was loaded is written as a valid snapshot, which loads again to the same keyspace
    (idempotence of snapshot -> load -> snapshot)."""
    if not out.accepted:
        return
    assert out.snapshot_error is None, f"kv_lib_snapshot wrote a bad image: {out.snapshot_error}"
    assert out.reloaded is not None, f"kv_lib_load rejected kv_lib_snapshot's image: {out.why}"
    assert same_keyspace(out.keyspace, out.reloaded), \
        "loading the snapshot gave a different keyspace"


# ============================================================================ commands


def _load_commands(ctx: lab.LoadContext) -> Callable[[Any], tuple[bytes, ...]]:
    kv = Lib(ctx)

    def commands(fdp: Any) -> tuple[bytes, ...]:
        """The script's replies from ``kv_lib_exec`` on a fresh keyspace, batch by batch; a
        batch whose replies are malformed or miscounted shows up as a marker reply."""
        script = Script.build(fdp)
        kv.lib.kv_lib_reset()
        replies: list[bytes] = []
        for batch in script.batches:
            rc, out = kv.exec(Script.wire(batch))
            try:
                got = split_replies(out)
            except ReplyError as exc:
                got = [b"<malformed replies: %s>" % str(exc).encode()]
            if rc != len(batch) or len(got) != len(batch):
                got.append(b"<%d replies, kv_lib_exec returned %d, %d requests>"
                           % (len(got), rc, len(batch)))
            replies += [normalize(a, r) for (a, _), r in zip(batch, got, strict=False)]
            replies += got[len(batch):]
        return tuple(replies)

    return commands


def _oracle_commands(ctx: lab.LoadContext) -> Callable[[Any], tuple[bytes, ...]]:
    def model(fdp: Any) -> tuple[bytes, ...]:
        """:class:`Model`'s replies to the same script."""
        return model_transcript(Script.build(fdp))

    return model


def explain(data: bytes, ctx: lab.LoadContext) -> str:
    """For a ``commands`` input: the first command whose reply differs, with both replies."""
    import atheris

    script = Script.build(atheris.FuzzedDataProvider(data))
    ours = _load_commands(ctx)(atheris.FuzzedDataProvider(data))
    theirs = model_transcript(script)
    for i, (args, a, b) in enumerate(zip(script.commands(), ours, theirs, strict=False)):
        if a != b:
            return f"command {i}: {args!r}\n  kvlib: {a!r}\n  model: {b!r}"
    return "no difference" if len(ours) == len(theirs) else \
        f"reply counts differ: kvlib {len(ours)}, model {len(theirs)}"


# ============================================================================ declarations

_RESP_TOKENS = (
    b"*1\r\n", b"*2\r\n", b"*3\r\n", b"*0\r\n", b"*-1\r\n", b"$0\r\n\r\n", b"$4\r\n",
    b"$-1\r\n", b"$16\r\n", b"$17\r\n", b"\r\n", b"\r", b"\n", b"*", b"$", b"\x00",
    b"$4\r\nPING\r\n", b"$4\r\nECHO\r\n", b"$3\r\nSET\r\n", b"$3\r\nGET\r\n", b"PING\r\n",
    b"ECHO ", b"SET k v\r\n", b"\"", b"'", b"\\x41", b"\\\"", b"\\'", b"\"\" ", b"'' ",
    b"\t", b" ", b"*1048576\r\n", b"*1048577\r\n", b"*2147483648\r\n", b"9223372036854775807",
    b"-9223372036854775808", b"01", b"-0", b"+1", b"QUIT\r\n",
)
_LOG_TOKENS = (
    b"*3\r\n$3\r\nSET\r\n", b"*2\r\n$3\r\nDEL\r\n", b"*3\r\n$9\r\nPEXPIREAT\r\n",
    b"*2\r\n$4\r\nINCR\r\n", b"*1\r\n$8\r\nFLUSHALL\r\n", b"$4\r\nPXAT\r\n", b"$1\r\nk\r\n",
    b"$13\r\n4102444800000\r\n", b"$1\r\n1\r\n", b"\r\n",
    b"KVSNAP\x01\x00", b"\x01\x01k\x01v", b"\x02\x00\xd8\xc3\x2c\xbb\x03\x00\x00", b"\xff",
    b"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", b"\xff\xff\xff\xff\xff\xff\xff\x7f",
)

RESP = lab.FuzzTarget(
    name="resp",
    description="kv_lib_parse (two bulk limits) and kv_lib_exec on raw client bytes vs an "
                "independent Redis 7.0 RESP2 request parser: same request count or protocol "
                "error; replies framed one per request",
    load=_load_resp,
    oracle=_oracle_resp,
    equal=same_counts,
    invariants=(exec_replies_framed,),
    dictionary=_RESP_TOKENS,
    max_len=70_000,
    timeout=10,
    recipe=RECIPE,
)

AOF_LOAD = lab.FuzzTarget(
    name="aof_load",
    description="kv_lib_load on logs and snapshots (byte 0: kind, CRC fix-up) vs independent "
                "readers of both formats; rejection offsets in range, snapshots reload to "
                "the same keyspace",
    load=_load_aof,
    oracle=_oracle_aof,
    equal=same_load,
    invariants=(offset_within_input, snapshot_reloads),
    dictionary=_LOG_TOKENS,
    max_len=8192,
    timeout=10,
    recipe=RECIPE,
)

COMMANDS_TARGET = lab.FuzzTarget(
    name="commands",
    description="structured scripts of string/keyspace commands through kv_lib_exec in "
                "pipelined batches vs a Python model of Redis 7.0 (exact reply bytes)",
    load=_load_commands,
    structured=True,
    oracle=_oracle_commands,
    max_len=4096,
    timeout=10,
    recipe=RECIPE,
)

FUZZ_TARGETS: tuple[lab.FuzzTarget, ...] = (RESP, AOF_LOAD, COMMANDS_TARGET)

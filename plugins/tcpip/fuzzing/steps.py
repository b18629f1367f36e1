"""The steps of the stateful tcpip fuzz targets, each readable from a FuzzedDataProvider
(``read``) and writable into an :class:`~plugins.tcpip.fuzzing.fdp.Encoder` (``write``) so
that seeds decode into the steps they were made from.

Contract: ``read_program(fdp, kinds, limit)`` returns up to ``limit`` steps, each one of the
classes in ``kinds`` (chosen by the input), consuming the input in a fixed order;
``write_program(steps, kinds)`` is its inverse.  Segment fields are offsets from the
connection's state (``ts_fx_segment``): a delta of 0 is "in sequence", so a seed replaying a
captured conversation stays in sequence whatever ISN the stack picks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from plugins.tcpip.fuzzing.fdp import Encoder

S32 = (-(2**31), 2**31 - 1)
DELTAS = (0, 1, -1)
"""Sequence deltas of the first three modes; mode 3 is a small delta, mode 4 any 32-bit one."""


class Provider(Protocol):
    def ConsumeIntInRange(self, lo: int, hi: int) -> int: ...  # noqa: N802, D102
    def ConsumeBytes(self, n: int) -> bytes: ...  # noqa: N802, D102


def _read_delta(fdp: Provider) -> int:
    mode = fdp.ConsumeIntInRange(0, 4)
    if mode < 3:
        return DELTAS[mode]
    return fdp.ConsumeIntInRange(-70000, 70000) if mode == 3 else fdp.ConsumeIntInRange(*S32)


def _write_delta(enc: Encoder, delta: int) -> None:
    if delta in DELTAS:
        enc.int_in_range(DELTAS.index(delta), 0, 4)
    elif -70000 <= delta <= 70000:
        enc.int_in_range(3, 0, 4)
        enc.int_in_range(delta, -70000, 70000)
    else:
        enc.int_in_range(4, 0, 4)
        enc.int_in_range(delta, *S32)


def _read_blob(fdp: Provider, most: int) -> bytes:
    return fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, most))


def _write_blob(enc: Encoder, data: bytes, most: int) -> None:
    enc.int_in_range(len(data), 0, most)
    enc.bytes(data)


@dataclass(frozen=True)
class Segment:
    """A TCP segment from the peer on connection ``conn`` (from peer port 40000 + conn to our
    port 80; conn 7 answers the connection our stack opened, once an ``App`` connect made
    one)."""

    conn: int
    flags: int
    seq_delta: int
    ack_delta: int
    window: int
    options: bytes
    payload: bytes

    MAX_PAYLOAD: ClassVar[int] = 1460

    @classmethod
    def read(cls, fdp: Provider) -> Segment:
        return cls(fdp.ConsumeIntInRange(0, 7), fdp.ConsumeIntInRange(0, 255),
                   _read_delta(fdp), _read_delta(fdp), fdp.ConsumeIntInRange(0, 65535),
                   _read_blob(fdp, 40), _read_blob(fdp, cls.MAX_PAYLOAD))

    def write(self, enc: Encoder) -> None:
        enc.int_in_range(self.conn, 0, 7)
        enc.int_in_range(self.flags, 0, 255)
        _write_delta(enc, self.seq_delta)
        _write_delta(enc, self.ack_delta)
        enc.int_in_range(self.window, 0, 65535)
        _write_blob(enc, self.options, 40)
        _write_blob(enc, self.payload, self.MAX_PAYLOAD)


ADVANCE_MS = (1, 40, 250, 1000)
"""Clock steps of the first modes: a tick, the delayed-ACK timer, a retransmission, a second."""


@dataclass(frozen=True)
class Advance:
    """The clock moves forward ``ms`` milliseconds (timers fire on the way)."""

    ms: int

    @classmethod
    def read(cls, fdp: Provider) -> Advance:
        mode = fdp.ConsumeIntInRange(0, len(ADVANCE_MS))
        return cls(ADVANCE_MS[mode] if mode < len(ADVANCE_MS)
                   else fdp.ConsumeIntInRange(0, 300_000))

    def write(self, enc: Encoder) -> None:
        if self.ms in ADVANCE_MS:
            enc.int_in_range(ADVANCE_MS.index(self.ms), 0, len(ADVANCE_MS))
        else:
            enc.int_in_range(len(ADVANCE_MS), 0, len(ADVANCE_MS))
            enc.int_in_range(self.ms, 0, 300_000)


@dataclass(frozen=True)
class App:
    """An application call on socket slot ``sock`` (``enum ts_fx_op``)."""

    op: int
    sock: int
    arg: int

    @classmethod
    def read(cls, fdp: Provider) -> App:
        return cls(fdp.ConsumeIntInRange(0, 8), fdp.ConsumeIntInRange(0, 7),
                   fdp.ConsumeIntInRange(0, 8192))

    def write(self, enc: Encoder) -> None:
        enc.int_in_range(self.op, 0, 8)
        enc.int_in_range(self.sock, 0, 7)
        enc.int_in_range(self.arg, 0, 8192)


@dataclass(frozen=True)
class Fragment:
    """One IPv4 fragment from the peer: datagram ``ident``, offset in 8-byte units."""

    ident: int
    proto: int
    offset8: int
    more: int
    payload: bytes

    PROTOS: ClassVar[tuple[int, ...]] = (17, 6, 1)

    @classmethod
    def read(cls, fdp: Provider) -> Fragment:
        return cls(fdp.ConsumeIntInRange(0, 3), cls.PROTOS[fdp.ConsumeIntInRange(0, 2)],
                   fdp.ConsumeIntInRange(0, 8191), fdp.ConsumeIntInRange(0, 1),
                   _read_blob(fdp, 1480))

    def write(self, enc: Encoder) -> None:
        enc.int_in_range(self.ident, 0, 3)
        enc.int_in_range(self.PROTOS.index(self.proto), 0, 2)
        enc.int_in_range(self.offset8, 0, 8191)
        enc.int_in_range(self.more, 0, 1)
        _write_blob(enc, self.payload, 1480)


@dataclass(frozen=True)
class DhcpReply:
    """A DHCP message from the server (10.77.0.1:67): the BOOTP fields the harness does not
    fill itself, and the options after the message type, as raw TLV bytes."""

    msg_type: int          # option 53, 0: none
    xid_ok: int            # 0: a wrong transaction id
    yiaddr: int
    broadcast: int
    options: bytes

    @classmethod
    def read(cls, fdp: Provider) -> DhcpReply:
        return cls(fdp.ConsumeIntInRange(0, 8), fdp.ConsumeIntInRange(0, 3),
                   fdp.ConsumeIntInRange(0, 2**32 - 1), fdp.ConsumeIntInRange(0, 1),
                   _read_blob(fdp, 312))

    def write(self, enc: Encoder) -> None:
        enc.int_in_range(self.msg_type, 0, 8)
        enc.int_in_range(self.xid_ok, 0, 3)
        enc.int_in_range(self.yiaddr, 0, 2**32 - 1)
        enc.int_in_range(self.broadcast, 0, 1)
        _write_blob(enc, self.options, 312)


def read_program(fdp: Provider, kinds: tuple[type, ...], limit: int) -> list[Any]:
    steps = []
    for _ in range(fdp.ConsumeIntInRange(1, limit)):
        steps.append(kinds[fdp.ConsumeIntInRange(0, len(kinds) - 1)].read(fdp))
    return steps


def write_program(steps: list[Any], kinds: tuple[type, ...], limit: int) -> bytes:
    enc = Encoder()
    enc.int_in_range(len(steps), 1, limit)
    for step in steps:
        enc.int_in_range(kinds.index(type(step)), 0, len(kinds) - 1)
        step.write(enc)
    return enc.data()

"""Pieces for stateful fuzz targets that read their input as a program of operations and run
it against the code under test and a model in lock step.

``Program`` reads the input front to back, little-endian: ``u8``/``u16``/``u32``/``s16`` and
``take(n)`` give integers and ``raw(n)`` bytes; a read past the end gives zeros, so every
input is a valid program and a truncated operand is simply zero. ``Outcome`` records how many
operations ran and the first disagreement with the model (None when there was none), and the
``no_violation`` invariant turns that disagreement into a finding.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    """What a program did: operations run, and the first disagreement with the model or
    failed check (None when there was none)."""

    steps: int
    violation: str | None


def no_violation(data: bytes, out: Outcome) -> None:
    """Invariant of stateful targets: the code under test and the model agreed throughout."""
    if out.violation is not None:
        raise AssertionError(out.violation)


class Program:
    """Little-endian reader of an operation program; reads past the end give zeros."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def left(self) -> bool:
        """Whether unread bytes remain."""
        return self.pos < len(self.data)

    def raw(self, n: int) -> bytes:
        """The next ``n`` bytes, zero-padded past the end."""
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk.ljust(n, b"\0")

    def take(self, n: int) -> int:
        """The next ``n`` bytes as an unsigned little-endian integer."""
        return int.from_bytes(self.raw(n), "little")

    def u8(self) -> int:
        return self.take(1)

    def u16(self) -> int:
        return self.take(2)

    def u32(self) -> int:
        return self.take(4)

    def s16(self) -> int:
        v = self.take(2)
        return v - 0x10000 if v & 0x8000 else v

"""The operation-program reader shared by stateful fuzz targets: little-endian operands,
zeros past the end, and the invariant that turns a disagreement into a finding."""

from __future__ import annotations

import pytest

from lab.fuzz.programs import Outcome, Program, no_violation


def test_operands_are_little_endian_and_zero_past_the_end() -> None:
    p = Program(bytes([0x01, 0x34, 0x12, 0x78, 0x56, 0x34, 0x12, 0xFE, 0xFF, 0xAA]))
    assert (p.u8(), p.u16(), p.u32(), p.s16()) == (1, 0x1234, 0x12345678, -2)
    assert p.left() and p.raw(3) == b"\xaa\0\0" and not p.left()
    assert (p.u32(), p.take(8)) == (0, 0)


def test_a_violation_is_a_finding_and_agreement_is_not() -> None:
    no_violation(b"", Outcome(3, None))
    with pytest.raises(AssertionError, match="^alloc: C gave 1, the model 2$"):
        no_violation(b"", Outcome(1, "alloc: C gave 1, the model 2"))

"""Writing inputs for FuzzedDataProvider-driven targets, so that seeds made from real traffic
decode into the very steps they were made from.

Contract: the targets read their inputs with only two calls of atheris's provider,
``ConsumeIntInRange(lo, hi)`` (bytes taken from the end of the input, most significant
first, one per 8 bits of ``hi - lo``, value ``lo + n % (hi - lo + 1)``) and
``ConsumeBytes(n)`` (taken from the front).  :class:`Encoder` records the same calls with the
values wanted and ``data()`` lays them out so that the provider returns exactly those values
in that order (``tests/tcpip/test_fuzz_tcpip.py`` checks the round trip against atheris).
"""

from __future__ import annotations


def _width(span: int) -> int:
    n, offset = 0, 0
    while offset < 64 and (span >> offset) > 0:
        n += 1
        offset += 8
    return n


class Encoder:
    """Records the provider calls a decoder will make, with the values it must get."""

    def __init__(self) -> None:
        self._front = bytearray()
        self._back = bytearray()          # in consumption order; laid out reversed

    def int_in_range(self, value: int, lo: int, hi: int) -> int:
        if not lo <= value <= hi:
            raise ValueError(f"{value} is outside [{lo}, {hi}]")
        width, v = _width(hi - lo), value - lo
        self._back += bytes((v >> (8 * (width - 1 - k))) & 0xFF for k in range(width))
        return value

    def bytes(self, data: bytes) -> bytes:
        self._front += data
        return data

    def data(self) -> bytes:
        return bytes(self._front) + bytes(reversed(self._back))

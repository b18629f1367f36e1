"""Write the seed corpora of the gpu fuzz targets (plugins/gpu/fuzzing.py).

Usage::

    .venv/bin/python corpora/gpu/make_seeds.py [OUT_DIR]

OUT_DIR defaults to this script's folder; ``opencl/`` and ``avx2/`` are rewritten there with
the same programs, each folder with a README.md describing every seed. The encoders below
mirror the readers of :class:`plugins.gpu.fuzzing.Program` operand by operand (a test replays
every seed and checks it runs clean and makes the calls its description says). Opcodes below
6 mean the same on every target; the OpenCL target's extra calls (views, allocations) come
after them.
"""

from __future__ import annotations

import shutil
import struct
import sys
from pathlib import Path

TARGETS = ("opencl", "avx2")
REDUCE, SCAN, HISTOGRAM, TRANSPOSE, SGEMM, COPY, VIEW, ALLOC = range(8)
WRONG_TYPE = 7  # a dtype byte with value % 8 == 7 picks a wrong element type


def count(n: int) -> bytes:
    """An element count of 1..3000 (n - 1 as the u16), or 0."""
    if n == 0:
        return bytes([0])
    assert 1 <= n <= 3000
    return bytes([2]) + struct.pack("<H", n - 1)


def values(n: int, pattern: bytes = bytes(range(16))) -> bytes:
    """The value bytes a call of ``n`` floats reads (at most 64, repeated by the reader)."""
    return (pattern * 64)[:min(n, 64)]


def keys(n: int) -> bytes:
    return bytes(range(256))[:min(n, 32) * 4].ljust(min(n, 32) * 4, b"\xa5")


def reduce(op: int, n: int, dtype: int = 0) -> bytes:
    return bytes([REDUCE, op]) + count(n) + bytes([dtype]) + values(n)


def scan(inclusive: bool, n: int, dtype: int = 0) -> bytes:
    return bytes([SCAN, int(inclusive)]) + count(n) + bytes([dtype]) + keys(n)


def histogram(bin_pick: int, n: int, dtype: int = 0) -> bytes:
    return bytes([HISTOGRAM, bin_pick]) + count(n) + bytes([dtype]) + keys(n)


def transpose(rows: int, cols: int, flat: bool = False) -> bytes:
    return bytes([TRANSPOSE, rows, cols, 0 if flat else 1]) + values(rows * cols)


def sgemm(m: int, k: int, n: int, k2: int | None = None) -> bytes:
    chain = bytes([1]) if k2 is None else bytes([0, k2])
    return bytes([SGEMM, m, k, n]) + chain + values(m * k) + values((k2 or k) * n, b"\x03\x02")


def copy(n: int) -> bytes:
    return bytes([COPY]) + count(n) + values(n)


def view(n: int, offset: int, length: int) -> bytes:
    """A view of ``length`` elements at byte ``offset`` into ``n`` floats, summed."""
    pick = bytes([offset // 4]) if offset % 4 == 0 and offset < 32 else \
        bytes([128]) + struct.pack("<I", offset)
    return bytes([VIEW]) + count(n) + values(n) + pick + struct.pack("<H", length)


def alloc(dims: tuple[int, ...], huge_shift: int | None = None) -> bytes:
    """An allocation of ``dims`` (each < 40); with ``huge_shift``, the first dimension is
    shifted left by 32 + huge_shift."""
    assert 1 <= len(dims) <= 3 and all(0 <= d < 40 for d in dims)
    huge = bytes([0, huge_shift]) if huge_shift is not None else bytes([1])
    return bytes([ALLOC, len(dims) - 1, *dims]) + huge


SEEDS = {
    "reduce-sum-1000.bin": (reduce(0, 1000), "sum of 1000 floats"),
    "reduce-min-max-small.bin": (reduce(1, 3) + reduce(2, 255),
                                 "min of 3 floats, max of 255 (below a work-group)"),
    "reduce-empty.bin": (reduce(0, 0), "sum of nothing: refused"),
    "reduce-wrong-type.bin": (reduce(0, 40, WRONG_TYPE), "sum of float64 values: refused"),
    "scan-both.bin": (scan(False, 2999) + scan(True, 257),
                      "exclusive scan of 2999 keys, inclusive of 257"),
    "histogram-bins.bin": (histogram(5, 3000) + histogram(1, 17) + histogram(10, 100),
                           "256, 1 and 65536 bins"),
    "histogram-bad-bins.bin": (histogram(0, 10) + histogram(12, 10),
                               "0 bins, 2^31 bins: refused"),
    "transpose-shapes.bin": (transpose(1, 37) + transpose(37, 1) + transpose(33, 47),
                             "1x37, 37x1 and 33x47 matrices"),
    "transpose-flat.bin": (transpose(4, 4, flat=True), "a 1-D array: refused"),
    "sgemm-odd.bin": (sgemm(33, 17, 45) + sgemm(1, 1, 1), "33x17 @ 17x45, 1x1 @ 1x1"),
    "sgemm-no-chain.bin": (sgemm(4, 5, 6, k2=7), "4x5 @ 7x6: refused"),
    "copy.bin": (copy(1) + copy(3000) + copy(0), "copies of 1 and 3000 floats, then of none"),
}
DRIVER_SEEDS = {  # the OpenCL driver's own calls
    "view-offsets.bin": (view(100, 12, 50) + view(100, 0, 100) + view(300, 396, 200),
                         "views of 50 floats at byte 12, the whole array, and 200 at byte 396"),
    "view-bad.bin": (view(100, 2, 10) + view(100, 8, 99) + view(100, 0, 0),
                     "a misaligned offset, a window past the end, an empty view: refused"),
    "alloc.bin": (alloc((3, 5)) + alloc((7,)) + alloc((2, 0)) + alloc((1,), huge_shift=0),
                  "3x5 and 7 floats; 2x0 and 2^32 floats: refused"),
}


def main(out: Path) -> None:
    for target in TARGETS:
        folder = out / target
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        lines = [f"# `{target}` seeds", "", "Written by `corpora/gpu/make_seeds.py`.", ""]
        seeds = {**SEEDS, **(DRIVER_SEEDS if target == "opencl" else {})}
        for name, (data, what) in seeds.items():
            (folder / name).write_bytes(data)
            lines.append(f"- `{name}`: {what}.")
        (folder / "README.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent)

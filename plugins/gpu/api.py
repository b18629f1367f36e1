"""The contract every gpu implementation keeps: the operations, their data types, their
results and the errors they raise, so the bench, the tests and the fuzz targets can drive our
OpenCL driver, our AVX2 kernels and the references alike.

Operations (``x``, ``a``, ``b`` are *device arrays*: whatever ``to_device`` returned, with
``.shape`` and ``.dtype`` like NumPy's; results are device arrays unless said otherwise):

* ``reduce(x, op)``: ``op`` in ``REDUCE_OPS`` over a 1-D float32 array; returns a Python
  float (this call waits for the result). sum within ``sum_tolerance``; min/max exact.
* ``scan(x, inclusive)``: prefix sums of a 1-D uint32 array, wrapping modulo 2^32 (exact):
  exclusive ``out[0] = 0, out[i] = x[0] + ... + x[i-1]``; inclusive adds ``x[i]``.
* ``histogram(keys, nbins)``: counts of ``keys % nbins`` over a 1-D uint32 array, as a
  uint32 array of ``nbins`` (exact), ``1 <= nbins <= MAX_BINS``.
* ``transpose(a)``: a 2-D float32 array (rows, cols) becomes (cols, rows) (exact).
* ``sgemm(a, b)``: (m, k) @ (k, n) float32, row-major, within ``gemm_tolerance``.
* ``copy(x)``: a new array equal to ``x`` (the bandwidth limit the others are measured
  against: it moves every byte twice, read and write).

Plus ``to_device(host)`` (a C-contiguous NumPy array in, a device array out), ``to_host(arr)``
(a new NumPy array), ``finish()`` (wait for all queued work) and ``close()``.

Bad input raises ``GpuError`` (a ``ValueError``) with one line naming what was wrong and what
is valid, before any work is queued: empty arrays, wrong dtypes or ranks, mismatched GEMM
shapes, ``nbins`` out of range, misaligned or out-of-range offsets, more memory than the device
has. No implementation may return a wrong answer or hang on any input.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # numpy is imported where it is used: registering the plugin (every lab
    import numpy as np  # command, and every bench process under callgrind) needs none of it

REDUCE_OPS = ("sum", "min", "max")
MAX_BINS = 65536
OPERATIONS = (*REDUCE_OPS, "scan", "histogram", "transpose", "sgemm", "copy")

# what each reference library offers (the bench skips the rest, saying so)
OFFERS = {
    "numpy": frozenset({*REDUCE_OPS, "scan", "histogram", "transpose", "sgemm", "copy"}),
    "pyopencl": frozenset({*REDUCE_OPS, "scan", "copy"}),
    "clblast": frozenset({"sum", "transpose", "sgemm", "copy"}),
}


class GpuError(ValueError):
    """Bad input to a gpu operation: the message is one line, naming what is valid."""


class Backend(Protocol):
    """One implementation of the operations above."""

    def to_device(self, host: np.ndarray) -> Any: ...
    def to_host(self, arr: Any) -> np.ndarray: ...
    def reduce(self, x: Any, op: str) -> float: ...
    def scan(self, x: Any, inclusive: bool) -> Any: ...
    def histogram(self, keys: Any, nbins: int) -> Any: ...
    def transpose(self, a: Any) -> Any: ...
    def sgemm(self, a: Any, b: Any) -> Any: ...
    def copy(self, x: Any) -> Any: ...
    def finish(self) -> None: ...
    def close(self) -> None: ...


TINY = 2.0 ** -126  # the smallest normal float32 (np.finfo(np.float32).tiny)


def sum_tolerance(x: np.ndarray) -> float:
    """The largest error a float32 sum of ``x`` may have: 2^-16 of the sum of magnitudes (a
    tree or blocked sum stays far inside; a naive running float32 sum of 2^26 values does
    not), plus one smallest normal per element for devices that flush subnormals to zero."""
    import numpy as np

    return float(np.sum(np.abs(x), dtype=np.float64)) * 2.0 ** -16 + x.size * TINY


def gemm_tolerance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise bound on |C - A@B| (A@B in float64): k * 2^-20 * (|A| @ |B|), about eight
    float32 roundings per product term on the longest summation any blocking gives, plus k
    smallest normals for products that underflow in float32 (1e-30 * 1e-30 is 0 there)."""
    import numpy as np

    k = a.shape[1]
    mags = np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64)
    return k * 2.0 ** -20 * mags + k * TINY


def reference(op: str, *args: Any) -> Any:
    """The NumPy answer (float64 where it matters) the implementations are checked against:
    ``reference("sum", x)``, ``("scan", x, inclusive)``, ``("histogram", keys, nbins)``,
    ``("transpose", a)``, ``("sgemm", a, b)``, ``("copy", x)``."""
    import numpy as np

    if op in REDUCE_OPS:
        (x,) = args
        return float({"sum": np.sum, "min": np.min, "max": np.max}[op](x.astype(np.float64)))
    if op == "scan":
        x, inclusive = args
        inc = np.cumsum(x, dtype=np.uint64).astype(np.uint32)  # wraps modulo 2^32
        return inc if inclusive else np.concatenate(([np.uint32(0)], inc[:-1]))
    if op == "histogram":
        keys, nbins = args
        return np.bincount(keys % np.uint32(nbins), minlength=nbins).astype(np.uint32)
    if op == "transpose":
        (a,) = args
        return np.ascontiguousarray(a.T)
    if op == "sgemm":
        a, b = args
        return a.astype(np.float64) @ b.astype(np.float64)
    if op == "copy":
        (x,) = args
        return x.copy()
    raise ValueError(f"unknown operation {op!r}: expected one of {', '.join(OPERATIONS)}")

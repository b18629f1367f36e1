"""The gpu operations on the CPU in AVX2 C (``targets/gpu/avx2``), behind ``api.Backend``.

The native library is built by the lab's cffi builder (the ``avx2`` recipe of the gpu system);
this module only receives the loaded module's ``(ffi, lib)`` pair::

    module = native.load(system, "avx2", "release")
    backend = Avx2(module.ffi, module.lib, threads=0)   # 0: all online CPUs

Device arrays are NumPy arrays: ``to_device`` copies the host array into a buffer aligned to
64 bytes (``aligned_empty``), and every result comes from a ``HostPool`` of such buffers
that reuses them once no array refers to one. Any other NumPy
array is accepted as an operand too when it has the operation's dtype (native byte order),
is C-contiguous, non-empty and aligned to its 4-byte element (what the C code needs); a
misaligned or strided view raises ``GpuError`` rather than being copied behind the caller's
back. Calls are synchronous (the C code returns when the result is complete, with the GIL
released), so ``finish`` and ``close`` have nothing to do.

Every bad input raises ``api.GpuError`` naming what was wrong and what is valid, before any C
call; the C entry points validate their arguments again and a non-zero status from them
raises ``GpuError`` with ``gpu_avx2_strerror``'s sentence.
"""

from __future__ import annotations

import operator
import os
import weakref
from typing import Any

import numpy as np

from plugins.gpu.api import MAX_BINS, REDUCE_OPS, GpuError

__all__ = ["ALIGN", "MAX_THREADS", "Avx2", "HostPool", "aligned_empty"]

ALIGN = 64
MAX_THREADS = 256
_OPS = {"sum": 0, "min": 1, "max": 2}
_DTYPES = {np.dtype(np.float32): "float *", np.dtype(np.uint32): "uint32_t *"}


def aligned_empty(shape: int | tuple[int, ...], dtype: Any) -> np.ndarray:
    """An uninitialized C-contiguous array whose data starts on a 64-byte boundary."""
    dt = np.dtype(dtype)
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
    raw = np.empty(nbytes + ALIGN, dtype=np.uint8)
    start = -raw.ctypes.data % ALIGN
    return raw[start:start + nbytes].view(dt).reshape(shape)


class _Block:
    """One pooled buffer exported to NumPy: arrays made from it (and every view of them)
    keep it alive, so it returns to the pool only when none is left."""

    def __init__(self, raw: np.ndarray, start: int, shape: tuple[int, ...], dt: np.dtype):
        self.raw = raw
        self.__array_interface__ = {"data": (raw.ctypes.data + start, False),
                                    "shape": shape, "typestr": dt.str, "version": 3}


class HostPool:
    """Result buffers on the host, reused like the OpenCL driver's device pool: an array's
    64-byte-aligned block goes back to the pool once no array or view refers to it, and the
    next result of the same size takes it, so repeated operations touch no fresh pages (a
    fresh page costs a fault: a 64 MiB copy into new memory runs at a third of the speed).
    Blocks are kept by exact size, ``cap`` bytes at most."""

    def __init__(self, cap: int = 1 << 30) -> None:
        self.cap, self.cached = cap, 0
        self.allocations = self.reuses = 0
        self._free: dict[int, list[np.ndarray]] = {}

    def empty(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        dt = np.dtype(dtype)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
        free = self._free.get(nbytes)
        if free:
            raw = free.pop()
            self.cached -= raw.nbytes
            self.reuses += 1
        else:
            raw = np.empty(nbytes + ALIGN, dtype=np.uint8)
            self.allocations += 1
        block = _Block(raw, -raw.ctypes.data % ALIGN, shape, dt)
        weakref.finalize(block, self._release, nbytes, raw)
        return np.asarray(block)

    def _release(self, nbytes: int, raw: np.ndarray) -> None:
        if self.cached + raw.nbytes <= self.cap:
            self._free.setdefault(nbytes, []).append(raw)
            self.cached += raw.nbytes

    def clear(self) -> None:
        self._free.clear()
        self.cached = 0


def _device_bytes() -> int:
    """Physical memory: the most a single array may take (``more memory than the device
    has`` is an input error in the api)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):  # pragma: no cover - every Linux has both
        return 1 << 62


def _describe(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return f"a {x.dtype} array of shape {x.shape}"
    return f"a {type(x).__name__}"


class Avx2:
    """``api.Backend`` over the AVX2 C kernels; ``threads`` = 0 uses every online CPU."""

    name = "avx2"

    def __init__(self, ffi: Any, lib: Any, threads: int = 0) -> None:
        if isinstance(threads, bool) or not isinstance(threads, int) \
                or not 0 <= threads <= MAX_THREADS:
            raise GpuError(f"threads must be an int from 0 (all online CPUs) to {MAX_THREADS}, "
                           f"got {threads!r}")
        if not self.supported(lib):
            raise GpuError("this CPU lacks AVX2 or FMA; the avx2 backend needs both")
        self.ffi, self.lib, self.threads = ffi, lib, threads
        self._limit = _device_bytes()
        self.pool = HostPool()

    @staticmethod
    def supported(lib: Any) -> bool:
        """True when this CPU runs the library's AVX2 and FMA code."""
        return bool(lib.gpu_avx2_supported())

    # -- memory ------------------------------------------------------------------------

    def to_device(self, host: np.ndarray) -> np.ndarray:
        """A 64-byte aligned copy of ``host`` (a non-empty C-contiguous float32/uint32 array)."""
        if not isinstance(host, np.ndarray) or host.dtype not in _DTYPES:
            raise GpuError(f"to_device takes a float32 or uint32 NumPy array, got "
                           f"{_describe(host)}")
        if not host.flags.c_contiguous:
            raise GpuError(f"to_device takes a C-contiguous array, got strides {host.strides} "
                           f"for shape {host.shape}")
        if host.size == 0:
            raise GpuError(f"to_device takes a non-empty array, got shape {host.shape}")
        out = self._alloc(host.shape, host.dtype)
        out[...] = host
        return out

    def to_host(self, arr: np.ndarray) -> np.ndarray:
        """A new NumPy array equal to ``arr``."""
        if not isinstance(arr, np.ndarray):
            raise GpuError(f"to_host takes a device array (a NumPy array), got {_describe(arr)}")
        return np.array(arr, copy=True)

    def _alloc(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        nbytes = int(np.prod(shape, dtype=object)) * np.dtype(dtype).itemsize
        if nbytes > self._limit:
            raise GpuError(f"a result of shape {shape} needs {nbytes} bytes, more than the "
                           f"{self._limit} bytes of memory this machine has")
        try:
            return self.pool.empty(shape, dtype)
        except (MemoryError, ValueError) as exc:
            raise GpuError(f"cannot allocate a result of shape {shape}: "
                           f"{str(exc).splitlines()[0]}") from None

    # -- checks ------------------------------------------------------------------------

    def _operand(self, what: str, x: Any, dtypes: tuple[Any, ...], ndim: int | None) -> Any:
        """The C pointer to ``x`` after checking it is a usable array of one of ``dtypes`` and
        of rank ``ndim`` (None: any); raises GpuError naming the problem."""
        valid = " or ".join(str(np.dtype(d)) for d in dtypes)
        rank = f"{ndim}-D " if ndim is not None else ""
        if not isinstance(x, np.ndarray):
            raise GpuError(f"{what} must be a {rank}{valid} device array, got {_describe(x)}")
        if x.dtype not in [np.dtype(d) for d in dtypes]:
            raise GpuError(f"{what} must be {valid} (native byte order), got {x.dtype}")
        dt = x.dtype
        if ndim is not None and x.ndim != ndim:
            raise GpuError(f"{what} must be {ndim}-D, got {x.ndim}-D of shape {x.shape}")
        if x.size == 0:
            raise GpuError(f"{what} must not be empty, got shape {x.shape}")
        if not x.flags.c_contiguous:
            raise GpuError(f"{what} must be C-contiguous, got strides {x.strides} for shape "
                           f"{x.shape}")
        address = x.__array_interface__["data"][0]
        if address % dt.itemsize:
            raise GpuError(f"{what} must be aligned to {dt.itemsize} bytes (to_device gives "
                           f"{ALIGN}), got address {address:#x}")
        return self.ffi.cast(_DTYPES[dt], address)

    def _check(self, status: int) -> None:
        """Raise GpuError for a non-zero C status."""
        if status != 0:
            text = self.ffi.string(self.lib.gpu_avx2_strerror(status)).decode()
            raise GpuError(f"avx2 kernel failed: {text} (status {status})")

    # -- operations --------------------------------------------------------------------

    def reduce(self, x: np.ndarray, op: str) -> float:
        """sum (accumulated in double), min or max (exact; NaN if any input is NaN)."""
        if not isinstance(op, str) or op not in _OPS:
            raise GpuError(f"unknown reduce op {op!r}; valid: {', '.join(REDUCE_OPS)}")
        ptr = self._operand("reduce input", x, (np.float32,), 1)
        result = self.ffi.new("double *")
        self._check(self.lib.gpu_avx2_reduce(ptr, x.size, _OPS[op], result, self.threads))
        return float(result[0])

    def scan(self, x: np.ndarray, inclusive: bool) -> np.ndarray:
        """Exclusive (``inclusive=False``) or inclusive prefix sums modulo 2^32."""
        if not isinstance(inclusive, bool | np.bool_ | int | np.integer) or inclusive not in (0, 1):
            raise GpuError(f"scan's inclusive must be True or False, got {inclusive!r}")
        ptr = self._operand("scan input", x, (np.uint32,), 1)
        out = self._alloc(x.shape, np.uint32)
        self._check(self.lib.gpu_avx2_scan(ptr, self._ptr(out), x.size, int(inclusive),
                                           self.threads))
        return out

    def histogram(self, keys: np.ndarray, nbins: int) -> np.ndarray:
        """Counts of ``keys % nbins`` as ``nbins`` uint32 (1 <= nbins <= MAX_BINS)."""
        try:
            bins = operator.index(nbins) if not isinstance(nbins, bool | np.bool_) else None
        except TypeError:
            bins = None
        if bins is None or not 1 <= bins <= MAX_BINS:
            raise GpuError(f"nbins must be an integer from 1 to {MAX_BINS}, got {nbins!r}")
        ptr = self._operand("histogram keys", keys, (np.uint32,), 1)
        out = self._alloc((bins,), np.uint32)
        self._check(self.lib.gpu_avx2_histogram(ptr, keys.size, bins, self._ptr(out),
                                                self.threads))
        return out

    def transpose(self, a: np.ndarray) -> np.ndarray:
        """(rows, cols) float32 -> (cols, rows)."""
        ptr = self._operand("transpose input", a, (np.float32,), 2)
        rows, cols = a.shape
        out = self._alloc((cols, rows), np.float32)
        self._check(self.lib.gpu_avx2_transpose(ptr, rows, cols, self._ptr(out),
                                                self.threads))
        return out

    def sgemm(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(m, k) @ (k, n) float32."""
        pa = self._operand("sgemm a", a, (np.float32,), 2)
        pb = self._operand("sgemm b", b, (np.float32,), 2)
        (m, k), (k2, n) = a.shape, b.shape
        if k != k2:
            raise GpuError(f"sgemm needs a (m, k) and b (k, n) with the same k, got a {a.shape} "
                           f"and b {b.shape}")
        out = self._alloc((m, n), np.float32)
        self._check(self.lib.gpu_avx2_sgemm(pa, pb, self._ptr(out), m, n, k, self.threads))
        return out

    def copy(self, x: np.ndarray) -> np.ndarray:
        """A new aligned array equal to ``x`` (float32 or uint32, any rank)."""
        ptr = self._operand("copy input", x, (np.float32, np.uint32), None)
        out = self._alloc(x.shape, x.dtype)
        self._check(self.lib.gpu_avx2_copy(self.ffi.cast("float *", ptr),
                                           self.ffi.cast("float *", self._ptr(out)),
                                           x.size, self.threads))
        return out

    def finish(self) -> None:
        """Nothing is queued: every call returns when its result is complete."""

    def close(self) -> None:
        """Drop the pooled result buffers (the C worker threads live for the process)."""
        self.pool.clear()

    def _ptr(self, out: np.ndarray) -> Any:
        return self.ffi.cast(_DTYPES[out.dtype], out.__array_interface__["data"][0])

"""The implementations a user would otherwise pick, behind the same contract as ours
(:mod:`plugins.gpu.api`): NumPy on the CPU, PyOpenCL's own generated kernels
(``ReductionKernel``, ``InclusiveScanKernel``/``ExclusiveScanKernel``, its memory pool), and
CLBlast (Debian ``libclblast1``, called through cffi in ABI mode on PyOpenCL's buffers and
queue) for GEMM, transpose (``omatcopy``), sum and copy.

Each reference does only what its library offers: ``api.OFFERS`` lists the operations per
implementation, and the bench skips the rest with that reason. Inputs are validated as ours
are (``check_*`` below), so bad input gets the same one-line ``GpuError``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from plugins.gpu.api import MAX_BINS, REDUCE_OPS, GpuError


def _check(x: Any, dtype: type, ndim: int, what: str) -> None:
    if x.dtype != np.dtype(dtype) or x.ndim != ndim:
        raise GpuError(f"{what} needs a {ndim}-D {np.dtype(dtype).name} array, got a "
                       f"{x.ndim}-D {x.dtype} one")
    if x.size == 0:
        raise GpuError(f"{what} needs at least one element, got an empty array")


def check_reduce(x: Any, op: str) -> None:
    if op not in REDUCE_OPS:
        raise GpuError(f"unknown reduction {op!r}: expected one of {', '.join(REDUCE_OPS)}")
    _check(x, np.float32, 1, "reduce")


def check_copy(x: Any) -> None:
    if x.size == 0:
        raise GpuError("copy needs at least one element, got an empty array")


def check_histogram(keys: Any, nbins: int) -> None:
    _check(keys, np.uint32, 1, "histogram")
    if not isinstance(nbins, int | np.integer) or not 1 <= nbins <= MAX_BINS:
        raise GpuError(f"histogram bins must be an integer in 1..{MAX_BINS}, got {nbins!r}")


def check_sgemm(a: Any, b: Any) -> None:
    _check(a, np.float32, 2, "sgemm A")
    _check(b, np.float32, 2, "sgemm B")
    if a.shape[1] != b.shape[0]:
        raise GpuError(f"sgemm shapes do not chain: A is {a.shape[0]}x{a.shape[1]}, B is "
                       f"{b.shape[0]}x{b.shape[1]} (A's columns must equal B's rows)")


class Numpy:
    """NumPy (its BLAS for GEMM): device arrays are NumPy arrays."""

    def to_device(self, host: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(host).copy()

    def to_host(self, arr: np.ndarray) -> np.ndarray:
        return arr.copy()

    def reduce(self, x: np.ndarray, op: str) -> float:
        check_reduce(x, op)
        return float({"sum": np.sum, "min": np.min, "max": np.max}[op](x))

    def scan(self, x: np.ndarray, inclusive: bool) -> np.ndarray:
        _check(x, np.uint32, 1, "scan")
        out = np.cumsum(x, dtype=np.uint32)  # unsigned arithmetic wraps modulo 2^32
        if inclusive:
            return out
        out[1:] = out[:-1]
        out[0] = 0
        return out

    def histogram(self, keys: np.ndarray, nbins: int) -> np.ndarray:
        check_histogram(keys, nbins)
        bins = keys & np.uint32(nbins - 1) if nbins & (nbins - 1) == 0 else keys % nbins
        return np.bincount(bins, minlength=nbins).astype(np.uint32)

    def transpose(self, a: np.ndarray) -> np.ndarray:
        _check(a, np.float32, 2, "transpose")
        return np.ascontiguousarray(a.T)

    def sgemm(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        check_sgemm(a, b)
        return a @ b

    def copy(self, x: np.ndarray) -> np.ndarray:
        check_copy(x)
        return x.copy()

    def finish(self) -> None:
        pass

    def close(self) -> None:
        pass


class _OpenCL:
    """A context and queue on the device ``select_device`` picks, and array transfers."""

    def __init__(self, device: Any) -> None:
        import pyopencl as cl
        import pyopencl.tools as cltools

        self.cl = cl
        self.ctx = cl.Context([device])
        self.queue = cl.CommandQueue(self.ctx)
        self.pool = cltools.MemoryPool(cltools.ImmediateAllocator(self.queue))

    def to_device(self, host: np.ndarray) -> Any:
        import pyopencl.array as cla

        return cla.to_device(self.queue, np.ascontiguousarray(host), allocator=self.pool)

    def to_host(self, arr: Any) -> np.ndarray:
        return arr.get(queue=self.queue)

    def empty(self, shape: tuple[int, ...], dtype: type) -> Any:
        import pyopencl.array as cla

        return cla.empty(self.queue, shape, dtype, allocator=self.pool)

    def finish(self) -> None:
        self.queue.finish()

    def close(self) -> None:
        self.queue.finish()
        self.pool.free_held()


class PyOpenCL(_OpenCL):
    """PyOpenCL's own generated kernels: what a PyOpenCL user writes instead of kernels."""

    def __init__(self, device: Any) -> None:
        super().__init__(device)
        from pyopencl.reduction import ReductionKernel
        from pyopencl.scan import ExclusiveScanKernel, InclusiveScanKernel

        f32, u32 = np.float32, np.uint32
        self._reduce = {
            "sum": ReductionKernel(self.ctx, f32, "0", "a+b", arguments="__global float *x",
                                   map_expr="x[i]"),
            "min": ReductionKernel(self.ctx, f32, "INFINITY", "fmin(a,b)",
                                   arguments="__global float *x", map_expr="x[i]"),
            "max": ReductionKernel(self.ctx, f32, "-INFINITY", "fmax(a,b)",
                                   arguments="__global float *x", map_expr="x[i]"),
        }
        self._scan = {True: InclusiveScanKernel(self.ctx, u32, "a+b", neutral="0"),
                      False: ExclusiveScanKernel(self.ctx, u32, "a+b", neutral="0")}

    def reduce(self, x: Any, op: str) -> float:
        check_reduce(x, op)
        return float(self._reduce[op](x, queue=self.queue).get())

    def scan(self, x: Any, inclusive: bool) -> Any:
        _check(x, np.uint32, 1, "scan")
        out = self.empty(x.shape, np.uint32)
        self._scan[bool(inclusive)](x, out, queue=self.queue)
        return out

    def copy(self, x: Any) -> Any:
        check_copy(x)
        return x.copy(queue=self.queue)


_CDEF = """
typedef struct _cl_mem* cl_mem;
typedef struct _cl_command_queue* cl_command_queue;
typedef struct _cl_event* cl_event;
int CLBlastSgemm(int layout, int a_transpose, int b_transpose, size_t m, size_t n, size_t k,
                 float alpha, cl_mem a_buffer, size_t a_offset, size_t a_ld,
                 cl_mem b_buffer, size_t b_offset, size_t b_ld, float beta,
                 cl_mem c_buffer, size_t c_offset, size_t c_ld,
                 cl_command_queue* queue, cl_event* event);
int CLBlastSomatcopy(int layout, int a_transpose, size_t m, size_t n, float alpha,
                     cl_mem a_buffer, size_t a_offset, size_t a_ld,
                     cl_mem b_buffer, size_t b_offset, size_t b_ld,
                     cl_command_queue* queue, cl_event* event);
int CLBlastSsum(size_t n, cl_mem sum_buffer, size_t sum_offset,
                cl_mem x_buffer, size_t x_offset, size_t x_inc,
                cl_command_queue* queue, cl_event* event);
int CLBlastScopy(size_t n, cl_mem x_buffer, size_t x_offset, size_t x_inc,
                 cl_mem y_buffer, size_t y_offset, size_t y_inc,
                 cl_command_queue* queue, cl_event* event);
"""
ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112
CLBLAST_LIBRARY = "libclblast.so.1"


class CLBlast(_OpenCL):
    """CLBlast's tuned BLAS kernels on PyOpenCL's buffers and queue."""

    def __init__(self, device: Any) -> None:
        super().__init__(device)
        import cffi

        self.ffi = cffi.FFI()
        self.ffi.cdef(_CDEF)
        self.lib = self.ffi.dlopen(CLBLAST_LIBRARY)
        self._queue = self.ffi.new("cl_command_queue*",
                                   self.ffi.cast("cl_command_queue", self.queue.int_ptr))

    def _mem(self, arr: Any) -> Any:
        return self.ffi.cast("cl_mem", arr.base_data.int_ptr)

    def _offset(self, arr: Any) -> int:
        return arr.offset // arr.dtype.itemsize

    def _call(self, name: str, *args: Any) -> None:
        event = self.ffi.new("cl_event*")
        status = getattr(self.lib, name)(*args, self._queue, event)
        if status != 0:
            raise RuntimeError(f"{name} failed with CLBlast status {status}")
        if event[0] != self.ffi.NULL:  # hand the event to PyOpenCL, which releases it
            self.cl.Event.from_int_ptr(int(self.ffi.cast("intptr_t", event[0])), retain=False)

    def reduce(self, x: Any, op: str) -> float:
        check_reduce(x, op)
        if op != "sum":
            raise GpuError(f"CLBlast has no {op} reduction (it offers sum)")
        out = self.empty((1,), np.float32)
        self._call("CLBlastSsum", x.size, self._mem(out), self._offset(out), self._mem(x),
                   self._offset(x), 1)
        return float(out.get(queue=self.queue)[0])

    def transpose(self, a: Any) -> Any:
        _check(a, np.float32, 2, "transpose")
        rows, cols = a.shape
        out = self.empty((cols, rows), np.float32)
        self._call("CLBlastSomatcopy", ROW_MAJOR, TRANS, rows, cols, 1.0, self._mem(a),
                   self._offset(a), cols, self._mem(out), self._offset(out), rows)
        return out

    def sgemm(self, a: Any, b: Any) -> Any:
        check_sgemm(a, b)
        (m, k), n = a.shape, b.shape[1]
        c = self.empty((m, n), np.float32)
        self._call("CLBlastSgemm", ROW_MAJOR, NO_TRANS, NO_TRANS, m, n, k, 1.0, self._mem(a),
                   self._offset(a), k, self._mem(b), self._offset(b), n, 0.0, self._mem(c),
                   self._offset(c), n)
        return c

    def copy(self, x: Any) -> Any:
        check_copy(x)
        out = self.empty(x.shape, x.dtype)
        self._call("CLBlastScopy", x.size, self._mem(x), self._offset(x), 1, self._mem(out),
                   self._offset(out), 1)
        return out

"""The gpu fuzz targets: the driver API under hostile sizes, shapes, types, bin counts and
(where the implementation has them) views and allocations, run in lock step with a model of
the contract in :mod:`plugins.gpu.api`.

Each input is a program of up to ``MAX_STEPS`` calls (:class:`Program`: one opcode byte, then
little-endian operands; a truncated operand reads as zeros; element values come from the
input too). For every call the model decides whether the contract makes it valid. A valid
call must succeed and give NumPy's answer (``api.reference``, within the stated tolerance);
an invalid one must raise ``GpuError`` with a one-line message, from ``to_device`` or from
the operation, before anything runs. Anything else (a wrong answer, a valid call refused, an
invalid one accepted, another exception, a multi-line message) is the outcome's
``violation``, which the ``no_violation`` invariant reports.

Targets: ``opencl`` (our OpenCL driver on the selected device, with views at hostile offsets
and allocations beyond the device's memory; guided by the Python coverage of the driver,
which atheris instruments, since libFuzzer cannot see into the OpenCL runtime) and ``avx2``
(our AVX2 core, natively instrumented in the fuzz build).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import lab
from lab.fuzz import programs
from lab.fuzz.programs import Outcome
from plugins.gpu import api

MAX_STEPS = 6
MAX_ELEMENTS = 3000
MAX_DIM = 48
BINS = (0, 1, 2, 3, 7, 255, 256, 257, 4096, 65535, 65536, 65537, 1 << 31)
FLOATS = np.array([0.0, -0.0, 1.0, -1.0, 0.5, 3.0, -7.25, 1e-30, -2e-37, 1e-36, 2.0 ** 20,
                   -(2.0 ** 20), 0.1, 65504.0, 1.5e-5, 123.456], dtype=np.float32)
WRONG = (np.float64, np.int32, np.uint8, np.float16)


class Program(programs.Program):
    """The operand reader with the gpu targets' value generators."""

    def count(self) -> int:
        """An element count: mostly small, sometimes 0 or around a work-group's size."""
        kind = self.u8()
        if kind % 8 == 0:
            return 0
        if kind % 8 == 1:
            return (64, 128, 255, 256, 257, 1023, 1024, 1025)[kind // 8 % 8]
        return self.u16() % MAX_ELEMENTS + 1

    def floats(self, shape: tuple[int, ...]) -> np.ndarray:
        size = int(np.prod(shape))
        picks = np.frombuffer(self.raw(min(size, 64)) or b"\0", dtype=np.uint8)
        idx = np.resize(picks, size) % FLOATS.size if size else picks[:0]
        return FLOATS[idx].reshape(shape)

    def keys(self, n: int) -> np.ndarray:
        raw = np.frombuffer(self.raw(min(n, 32) * 4), dtype="<u4")
        base = np.resize(raw, n).astype(np.uint32)
        return base ^ (np.arange(n, dtype=np.uint32) * np.uint32(2654435761))

    def cast(self, values: np.ndarray, dtype: type) -> np.ndarray:
        """``values`` as ``dtype`` (a wrong type may not hold them: that is the point)."""
        with np.errstate(all="ignore"):
            return values.astype(dtype)

    def dtype(self, right: type) -> tuple[type, bool]:
        """Mostly the right dtype; one time in eight a wrong one."""
        b = self.u8()
        return (WRONG[b // 8 % len(WRONG)], False) if b % 8 == 7 else (right, True)


def _one_line(exc: BaseException) -> str | None:
    text = str(exc)
    if not text or "\n" in text:
        return f"GpuError message is not one line: {text!r}"
    return None


def _agree(got: Any, want: Any, tol: Any) -> bool:
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    return got.shape == want.shape and bool(np.all(np.abs(got - want) <= tol))


class Runner:
    """Runs a program against one backend and the model."""

    def __init__(self, backend: Any) -> None:
        self.b = backend

    def call(self, valid: bool, what: str, hosts: list[np.ndarray],
             op: Callable[..., Any], want: Callable[[], Any], tol: Any = 0,
             fetch: bool = True) -> str | None:
        """Upload ``hosts``, run ``op`` on the device arrays and judge it (None: agreed)."""
        try:
            devs = [self.b.to_device(h) for h in hosts]
            out = op(*devs)
            got = self.b.to_host(out) if fetch else out
        except api.GpuError as exc:
            if valid:
                return f"{what}: a valid call was refused: {exc}"
            return _one_line(exc)
        if not valid:
            return f"{what}: an invalid call was accepted"
        if not _agree(got, want(), tol):
            return f"{what}: wrong answer {np.asarray(got).ravel()[:8]!r}..."
        return None

    def reduce(self, p: Program) -> str | None:
        which = api.REDUCE_OPS[p.u8() % 3]
        n, (dtype, right) = p.count(), p.dtype(np.float32)
        x = p.cast(p.floats((n,)), dtype)
        tol = api.sum_tolerance(x.astype(np.float32)) if which == "sum" else 0
        return self.call(right and n > 0, f"reduce {which} n={n} {np.dtype(dtype)}", [x],
                         lambda d: self.b.reduce(d, which),
                         lambda: api.reference(which, x.astype(np.float32)), tol, fetch=False)

    def scan(self, p: Program) -> str | None:
        inclusive = bool(p.u8() & 1)
        n, (dtype, right) = p.count(), p.dtype(np.uint32)
        x = p.cast(p.keys(n), dtype)
        return self.call(right and n > 0, f"scan inclusive={inclusive} n={n}", [x],
                         lambda d: self.b.scan(d, inclusive),
                         lambda: api.reference("scan", x.astype(np.uint32), inclusive))

    def histogram(self, p: Program) -> str | None:
        pick = p.u8()
        nbins = BINS[pick % len(BINS)] if pick < 200 else p.u32()
        n, (dtype, right) = p.count(), p.dtype(np.uint32)
        keys = p.cast(p.keys(n), dtype)
        valid = right and n > 0 and 1 <= nbins <= api.MAX_BINS
        return self.call(valid, f"histogram n={n} bins={nbins}", [keys],
                         lambda d: self.b.histogram(d, nbins),
                         lambda: api.reference("histogram", keys.astype(np.uint32), nbins))

    def transpose(self, p: Program) -> str | None:
        rows, cols = p.u8() % MAX_DIM, p.u8() % MAX_DIM
        flat = p.u8() % 16 == 0  # a 1-D array: the wrong rank
        a = p.floats((rows * cols,) if flat else (rows, cols))
        return self.call(not flat and rows > 0 and cols > 0, f"transpose {a.shape}", [a],
                         self.b.transpose, lambda: api.reference("transpose", a))

    def sgemm(self, p: Program) -> str | None:
        m, k, n = (p.u8() % MAX_DIM for _ in range(3))
        k2 = k if p.u8() % 8 else p.u8() % MAX_DIM  # sometimes shapes that do not chain
        a, b = p.floats((m, k)), p.floats((k2, n))
        valid = min(m, k, n, k2) > 0 and k == k2
        tol = api.gemm_tolerance(a, b) if valid else 0
        return self.call(valid, f"sgemm {a.shape}@{b.shape}", [a, b], self.b.sgemm,
                         lambda: api.reference("sgemm", a, b), tol)

    def copy(self, p: Program) -> str | None:
        n = p.count()
        x = p.floats((n,))
        return self.call(n > 0, f"copy n={n}", [x], self.b.copy, lambda: x)

    def run(self, data: bytes) -> Outcome:
        p = Program(data)
        ops = [self.reduce, self.scan, self.histogram, self.transpose, self.sgemm, self.copy]
        ops += list(self.extra_ops())
        steps = 0
        while p.left() and steps < MAX_STEPS:
            violation = ops[p.u8() % len(ops)](p)
            steps += 1
            if violation is not None:
                return Outcome(steps, violation)
        self.b.finish()
        return Outcome(steps, None)

    def extra_ops(self) -> tuple[Callable[[Program], str | None], ...]:
        return ()


class DriverRunner(Runner):
    """The OpenCL driver's own calls too: views at hostile offsets and counts (read back and
    reduced through), and allocations of hostile shapes. Allocations are either small (must
    succeed) or beyond the device's largest allocation (must be refused); nothing in between
    is tried, so the fuzzer never fills the device."""

    def extra_ops(self) -> tuple[Callable[[Program], str | None], ...]:
        return (self.view, self.alloc)

    def view(self, p: Program) -> str | None:
        n = p.count() or 1
        x = p.floats((n,))
        pick = p.u8()
        offset = (pick % 8) * 4 if pick < 128 else p.u32() % (4 * n + 64)
        count = p.u16() % (n + 8)
        valid = offset % 4 == 0 and count >= 1 and offset + 4 * count <= 4 * n
        first = offset // 4
        window = x[first:first + count]
        tol = api.sum_tolerance(window) if valid else 0

        def through(d: Any) -> float:
            return self.b.reduce(self.b.view(d, offset, count), "sum")
        return self.call(valid, f"view n={n} offset={offset} count={count}", [x], through,
                         lambda: api.reference("sum", window), tol, fetch=False)

    def alloc(self, p: Program) -> str | None:
        dims = [p.u8() % 40 for _ in range(1 + p.u8() % 3)]
        huge = p.u8() % 4 == 0
        if huge:  # past 2^31 elements, and so past any largest allocation
            dims[0] = max(dims[0], 1) << (32 + p.u8() % 28)
        shape = tuple(dims)
        limit = int(self.b.info["max_alloc_bytes"])
        size = int(np.prod(shape, dtype=object))
        valid = min(shape) >= 1 and size * 4 <= limit and size <= 1 << 31
        what = f"empty {shape}"
        try:
            arr = self.b.empty(shape, np.float32)
        except api.GpuError as exc:
            return f"{what}: a valid call was refused: {exc}" if valid else _one_line(exc)
        arr.release()
        return None if valid else f"{what}: an invalid call was accepted"


def load_opencl(ctx: lab.LoadContext) -> Callable[[bytes], Outcome]:
    """The ``opencl`` target's runner (see :mod:`plugins.gpu.fuzztargets`)."""
    from plugins.gpu.cl import Driver

    runner = DriverRunner(Driver())
    return runner.run


def load_avx2(ctx: lab.LoadContext) -> Callable[[bytes], Outcome]:
    """The ``avx2`` target's runner on the fuzz build of the AVX2 core."""
    from plugins.gpu.avx2 import Avx2

    module = ctx.build("avx2")
    runner = Runner(Avx2(module.ffi, module.lib))
    return runner.run

"""``Driver``: the OpenCL implementation of ``plugins.gpu.api.Backend``.

One context on one device (``select_device``), ``queues`` in-order profiling command queues
(``Queues``), a ``BufferPool`` every array and temporary comes from, and the programs of
targets/gpu/cl built with per-device tunables (``params.choose``).

Contracts beyond ``api``:

* Every operation takes ``queue=`` (an index, default 0). Dependencies are tracked per
  buffer block: a command waits for the last commands on *other* queues that used any block
  it touches (within a queue, in-order execution orders them), so results are correct
  whatever queues the caller mixes, and pooled blocks can be reused across queues safely.
* Operations that return a device array return once the work is enqueued (they may finish
  later); ``to_host``, ``reduce`` (returns a Python float), ``finish``, ``timeline`` and
  ``profile`` wait. ``to_device`` is blocking by default (the host array may be changed
  afterwards); with ``blocking=False`` the caller must not change it before ``finish()``.
* Views: ``view(arr, offset_bytes, count, shape=None)`` is a window into ``arr``'s bytes
  sharing its block. Offsets reach the kernels as element offsets (kernel arguments, not
  sub-buffers), so they need only be multiples of the element size, not of the device's
  base address alignment.
* Every operation validates its arguments (type, owner, dtype, rank, non-empty, offsets,
  shapes, ``nbins``, ``op``, ``queue``) and allocates its outputs and temporaries before
  it enqueues anything: bad input or too little memory raises ``GpuError`` (one line)
  with nothing enqueued (the timeline does not grow).
* Arrays hold at most 2^31 elements (the kernels index with 32-bit integers).

Not thread-safe: use one Driver per thread.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pyopencl as cl

from plugins.gpu.api import MAX_BINS, REDUCE_OPS, GpuError
from plugins.gpu.cl import params as tuning
from plugins.gpu.cl import program as programs
from plugins.gpu.cl.array import DeviceArray
from plugins.gpu.cl.device import describe, select_device
from plugins.gpu.cl.pool import Block, BufferPool, PoolStats
from plugins.gpu.cl.queues import ProfileStat, Queues, TimelineEntry

MAX_ELEMENTS = 1 << 31
SCAN_MIN_CHUNK = 1024  # elements per work-item, at least, in the CPU (chunked) scan
F32 = np.dtype(np.float32)
U32 = np.dtype(np.uint32)
_OPCODE = {"sum": 0, "min": 1, "max": 2}


def _u32(v: int) -> np.uint32:
    return np.uint32(v)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


class Driver:
    """The OpenCL backend (see module docstring). ``device``: a spec for ``select_device``
    (or a ``cl.Device``); ``queues``: how many command queues; ``pool_cap_bytes`` and
    ``memory_limit_bytes``: the pool's cache cap and memory limit (defaults: a quarter of
    the device's global memory, and all of it); ``params``: tunables to use instead of
    ``params.choose(device)`` (tests and tuning)."""

    def __init__(self, device: str | cl.Device | None = None, queues: int = 2, *,
                 pool_cap_bytes: int | None = None,
                 memory_limit_bytes: int | None = None,
                 params: tuning.Params | None = None) -> None:
        self.device: cl.Device = device if isinstance(device, cl.Device) else \
            select_device(device)
        self.info: dict[str, Any] = describe(self.device)
        self.context = cl.Context([self.device])
        self.queues = Queues(self.context, self.device, queues)
        self.pool = BufferPool(self.context, self.device, cap_bytes=pool_cap_bytes,
                               limit_bytes=memory_limit_bytes)
        self.params = tuning.choose(self.device) if params is None else params
        self._programs: dict[str, tuple[tuning.Params, dict[str, cl.Kernel]]] = {}
        self._closed = False

    # -- programs ----------------------------------------------------------------------------

    def kernels(self, name: str) -> tuple[tuning.Params, dict[str, cl.Kernel]]:
        """The kernels of targets/gpu/cl/``name`` and the tunables they were built with; a
        kernel that takes fewer work-items than chosen gets the program rebuilt smaller."""
        hit = self._programs.get(name)
        if hit is not None:
            return hit
        p = self.params
        wg_info = cl.kernel_work_group_info.WORK_GROUP_SIZE
        for _ in range(12):
            prog = programs.build(self.context, self.device, name, p.defines(name))
            kernels = {k.function_name: k for k in prog.all_kernels()}
            fits = min(k.get_work_group_info(wg_info, self.device) for k in kernels.values())
            smaller = tuning.limit(p, name, fits)
            if smaller == p:
                break
            p = smaller
        self._programs[name] = (p, kernels)
        return p, kernels

    def tunables(self) -> dict[str, dict[str, int]]:
        """The -D options each program is (or would be) built with on this device."""
        names = ("reduce.cl", "scan.cl", "histogram.cl", "transpose.cl", "sgemm.cl")
        return {n: (self._programs[n][0] if n in self._programs else self.params).defines(n)
                for n in names}

    # -- validation --------------------------------------------------------------------------

    def _live(self) -> None:
        if self._closed:
            raise GpuError("this Driver is closed: create a new one")

    def _check(self, x: Any, op: str, name: str, dtype: np.dtype | None = None,
               ndim: int | None = None) -> DeviceArray:
        if not isinstance(x, DeviceArray):
            raise GpuError(f"{op}: {name} must be a DeviceArray from this driver's to_device "
                           f"or an operation, got {type(x).__name__}")
        if x.released:
            raise GpuError(f"{op}: {name} was released; pass a live array")
        if x.block.pool is not self.pool:
            raise GpuError(f"{op}: {name} belongs to another Driver; pass arrays from this one")
        if dtype is not None and x.dtype != dtype:
            raise GpuError(f"{op}: {name} has dtype {x.dtype}, expected {dtype}")
        if ndim is not None and x.ndim != ndim:
            raise GpuError(f"{op}: {name} has shape {x.shape} ({x.ndim}-D), expected a "
                           f"{ndim}-D array")
        if x.size < 1:
            raise GpuError(f"{op}: {name} is empty (shape {x.shape}); sizes must be >= 1")
        if x.offset % x.itemsize:
            raise GpuError(f"{op}: {name} starts at byte offset {x.offset}, not a multiple of "
                           f"its element size {x.itemsize}")
        return x

    @staticmethod
    def _check_shape(shape: Sequence[int], op: str) -> tuple[int, ...]:
        shape = tuple(int(s) for s in shape)
        if not shape:
            raise GpuError(f"{op}: a 0-D (scalar) array; expected at least 1 dimension")
        if any(s < 1 for s in shape):
            raise GpuError(f"{op}: shape {shape} has a zero or negative size; sizes must "
                           f"be >= 1")
        if math.prod(shape) > MAX_ELEMENTS:
            raise GpuError(f"{op}: shape {shape} has {math.prod(shape)} elements; at most "
                           f"2^31 = {MAX_ELEMENTS} are supported")
        return shape

    def _alloc(self, shapes: Sequence[tuple[tuple[int, ...], np.dtype]],
               op: str) -> list[DeviceArray]:
        """New arrays for ``shapes`` (the output first, then temporaries): all of them, or
        GpuError before any is allocated."""
        shapes = [(self._check_shape(shape, op), dtype) for shape, dtype in shapes]
        nbytes = [math.prod(shape) * dtype.itemsize for shape, dtype in shapes]
        what = f"{op} output" if len(shapes) == 1 else f"{op} (output and temporaries)"
        self.pool.check_many(nbytes, what)
        out: list[DeviceArray] = []
        try:
            for (shape, dtype), size in zip(shapes, nbytes, strict=True):
                out.append(DeviceArray(self.pool.acquire(size, what), 0, shape, dtype))
        except GpuError:  # the device refused after all: give back what was taken
            for arr in out:
                arr.release()
            raise
        return out

    # -- dependencies ------------------------------------------------------------------------

    @staticmethod
    def _deps(queue: int, blocks: Sequence[Block]) -> list[cl.Event]:
        """Events on other queues that commands touching ``blocks`` must wait for."""
        seen: dict[int, cl.Event] = {}
        for b in blocks:
            for q, ev in b.events.items():
                if q != queue:
                    seen[id(ev)] = ev
        return list(seen.values())

    @staticmethod
    def _touch(queue: int, event: cl.Event, reads: Sequence[Block],
               writes: Sequence[Block]) -> None:
        for b in writes:
            b.events = {queue: event}
        for b in reads:
            b.events[queue] = event

    def _launch(self, name: str, queue: int, kernel: cl.Kernel, gsize: Sequence[int],
                lsize: Sequence[int], args: Sequence[Any], reads: Sequence[DeviceArray],
                writes: Sequence[DeviceArray]) -> cl.Event:
        rb = [a.block for a in reads]
        wb = [a.block for a in writes]
        ev = self.queues.launch(name, queue, kernel, gsize, lsize, args,
                                wait_for=self._deps(queue, rb + wb))
        self._touch(queue, ev, rb, wb)
        return ev

    # -- host transfers ----------------------------------------------------------------------

    def to_device(self, host: np.ndarray, *, queue: int | None = None,
                  blocking: bool = True) -> DeviceArray:
        """A new device array equal to ``host`` (any numeric dtype, >= 1 dimension, non-empty;
        made C-contiguous if it is not)."""
        self._live()
        q = self.queues.index(queue)
        if not isinstance(host, np.ndarray):
            raise GpuError(f"to_device: expected a NumPy array, got {type(host).__name__}")
        if host.dtype.kind not in "biufc":
            raise GpuError(f"to_device: dtype {host.dtype} is not numeric; expected a bool, "
                           f"integer, float or complex array")
        (arr,) = self._alloc([(host.shape, host.dtype)], "to_device")
        host = np.ascontiguousarray(host)
        block = arr.block
        ev = self.queues.transfer("to_device", q, block.buffer, host, blocking=blocking,
                                  wait_for=self._deps(q, [block]), dst_offset=0)
        self._touch(q, ev, [], [block])
        return arr

    def empty(self, shape: Sequence[int] | int, dtype: Any = np.float32) -> DeviceArray:
        """A new uninitialised device array (from the pool)."""
        self._live()
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        (arr,) = self._alloc([(shape, np.dtype(dtype))], "empty")
        return arr

    def to_host(self, arr: DeviceArray, *, queue: int | None = None) -> np.ndarray:
        """A new NumPy array with ``arr``'s contents (waits for the work that produces it)."""
        self._live()
        q = self.queues.index(queue)
        arr = self._check(arr, "to_host", "arr")
        out = np.empty(arr.shape, arr.dtype)
        block = arr.block
        ev = self.queues.transfer("to_host", q, out, block.buffer, blocking=True,
                                  wait_for=self._deps(q, [block]), src_offset=arr.offset)
        self._touch(q, ev, [block], [])
        return out

    def view(self, arr: DeviceArray, offset_bytes: int, count: int,
             shape: Sequence[int] | None = None) -> DeviceArray:
        """``count`` elements of ``arr``'s dtype starting ``offset_bytes`` into ``arr``, as a
        1-D array (or ``shape``, whose product is ``count``) sharing ``arr``'s block.
        ``offset_bytes`` must be a non-negative multiple of the element size and the window
        must lie inside ``arr``."""
        self._live()
        arr = self._check(arr, "view", "arr")
        for label, v in (("offset_bytes", offset_bytes), ("count", count)):
            if not isinstance(v, int | np.integer) or isinstance(v, bool):
                raise GpuError(f"view: {label} must be an integer, got {type(v).__name__}")
        offset_bytes, count = int(offset_bytes), int(count)
        size = arr.itemsize
        if offset_bytes < 0 or offset_bytes % size:
            raise GpuError(f"view: offset_bytes={offset_bytes} must be a non-negative multiple "
                           f"of the element size {size} ({arr.dtype})")
        if count < 1:
            raise GpuError(f"view: count={count}; a view must have at least 1 element")
        if offset_bytes + count * size > arr.nbytes:
            raise GpuError(f"view: {count} elements at byte {offset_bytes} end at byte "
                           f"{offset_bytes + count * size}, past the array's {arr.nbytes} "
                           f"bytes")
        new_shape = (count,) if shape is None else self._check_shape(shape, "view")
        if math.prod(new_shape) != count:
            raise GpuError(f"view: shape {new_shape} has {math.prod(new_shape)} elements, "
                           f"expected count={count}")
        return DeviceArray(arr.block, arr.offset + offset_bytes, new_shape, arr.dtype)

    # -- operations --------------------------------------------------------------------------

    def reduce(self, x: DeviceArray, op: str, *, queue: int | None = None) -> float:
        """``op`` ('sum', 'min', 'max') over a 1-D float32 array, as a Python float (waits)."""
        self._live()
        q = self.queues.index(queue)
        if op not in REDUCE_OPS:
            raise GpuError(f"reduce: op={op!r}; expected one of {', '.join(REDUCE_OPS)}")
        x = self._check(x, "reduce", "x", F32, 1)
        p, k = self.kernels("reduce.cl")
        n = x.size
        groups = max(1, min(p.max_groups, _ceil_div(n, p.wg * p.vec * 8)))
        shapes = [((1,), F32)] + ([((groups,), F32)] if groups > 1 else [])
        result, *partial = self._alloc(shapes, "reduce")
        first = partial[0] if partial else result
        self._launch(f"reduce.{op}", q, k[f"reduce_{op}"], (groups * p.wg,), (p.wg,),
                     (x.buffer, _u32(x.element_offset), _u32(n), first.buffer),
                     reads=[x], writes=[first])
        if partial:
            self._launch("reduce.final", q, k["reduce_final"], (p.wg,), (p.wg,),
                         (first.buffer, _u32(groups), result.buffer, _u32(_OPCODE[op])),
                         reads=[first], writes=[result])
            first.release()
        value = self.to_host(result, queue=q)
        result.release()
        return float(value[0])

    def scan(self, x: DeviceArray, inclusive: bool = False, *,
             queue: int | None = None) -> DeviceArray:
        """Exclusive (default) or inclusive prefix sums of a 1-D uint32 array, mod 2^32."""
        self._live()
        q = self.queues.index(queue)
        if not isinstance(inclusive, bool | np.bool_ | int | np.integer) \
                or inclusive not in (0, 1):
            raise GpuError(f"scan: inclusive={inclusive!r}; expected True or False")
        x = self._check(x, "scan", "x", U32, 1)
        p, k = self.kernels("scan.cl")
        n = x.size
        if p.chunked and n > p.scan_tile:
            return self._scan_chunked(q, p, k, x, bool(inclusive))
        levels = []
        m = n
        while m > p.scan_tile:
            m = _ceil_div(m, p.scan_tile)
            levels.append(m)
        out, *sums = self._alloc([((n,), U32)] + [((s,), U32) for s in levels], "scan")
        self._scan(q, p, k, x, out, bool(inclusive), iter(sums))
        for s in sums:
            s.release()
        return out

    def _scan_chunked(self, q: int, p: tuning.Params, k: dict[str, cl.Kernel],
                      x: DeviceArray, inclusive: bool) -> DeviceArray:
        """The CPU form: one contiguous chunk per work-item, at most one tile of them."""
        n = x.size
        items = min(p.max_groups * p.wg, p.scan_tile, _ceil_div(n, SCAN_MIN_CHUNK))
        groups = _ceil_div(items, p.wg)
        chunk = _ceil_div(n, groups * p.wg)
        out, sums = self._alloc([((n,), U32), ((groups * p.wg,), U32)], "scan")
        self._launch("scan.reduce", q, k["scan_chunk_reduce"], (groups * p.wg,), (p.wg,),
                     (x.buffer, _u32(x.element_offset), _u32(n), _u32(chunk), sums.buffer),
                     reads=[x], writes=[sums])
        self._scan(q, p, k, sums, sums, False, iter(()))
        self._launch("scan.apply", q, k["scan_chunk_apply"], (groups * p.wg,), (p.wg,),
                     (x.buffer, _u32(x.element_offset), out.buffer, _u32(0), _u32(n),
                      _u32(chunk), sums.buffer, _u32(inclusive)), reads=[x, sums],
                     writes=[out])
        sums.release()
        return out

    def _scan(self, q: int, p: tuning.Params, k: dict[str, cl.Kernel], src: DeviceArray,
              dst: DeviceArray, inclusive: bool, sums: Iterator[DeviceArray]) -> None:
        n = src.size
        tiles = _ceil_div(n, p.scan_tile)
        if tiles == 1:
            self._launch("scan.tile", q, k["scan_tile"], (p.wg,), (p.wg,),
                         (src.buffer, _u32(src.element_offset), dst.buffer,
                          _u32(dst.element_offset), _u32(n), src.buffer, _u32(0),
                          _u32(inclusive)), reads=[src], writes=[dst])
            return
        level = next(sums)
        self._launch("scan.reduce", q, k["scan_reduce"], (tiles * p.wg,), (p.wg,),
                     (src.buffer, _u32(src.element_offset), _u32(n), level.buffer),
                     reads=[src], writes=[level])
        self._scan(q, p, k, level, level, False, sums)
        self._launch("scan.tile", q, k["scan_tile"], (tiles * p.wg,), (p.wg,),
                     (src.buffer, _u32(src.element_offset), dst.buffer,
                      _u32(dst.element_offset), _u32(n), level.buffer, _u32(1),
                      _u32(inclusive)), reads=[src, level], writes=[dst])

    def histogram(self, keys: DeviceArray, nbins: int, *,
                  queue: int | None = None) -> DeviceArray:
        """Counts of ``keys % nbins`` (1-D uint32 keys, 1 <= nbins <= MAX_BINS) as uint32."""
        self._live()
        q = self.queues.index(queue)
        if not isinstance(nbins, int | np.integer) or isinstance(nbins, bool) \
                or not 1 <= nbins <= MAX_BINS:
            raise GpuError(f"histogram: nbins={nbins!r}; expected an integer 1..{MAX_BINS}")
        nbins = int(nbins)
        keys = self._check(keys, "histogram", "keys", U32, 1)
        p, k = self.kernels("histogram.cl")
        n = keys.size
        budget = p.local_mem - k["hist_local"].get_work_group_info(
            cl.kernel_work_group_info.LOCAL_MEM_SIZE, self.device)
        wg = p.hist_wg
        copies = 0
        if p.hist_private and nbins * wg * 4 <= budget:
            copies = wg
        elif nbins * 4 <= budget:
            copies = 1
            while copies * 2 <= p.hist_copies and nbins * copies * 2 * 4 <= budget:
                copies *= 2
        groups = max(1, min(p.compute_units * p.hist_groups_per_cu,
                            _ceil_div(n, wg * p.vec * 8)))
        if copies:  # zeroing and merging a work-group's bins should not outweigh its keys
            groups = max(1, min(groups, n // (nbins * copies)))
        (out,) = self._alloc([((nbins,), U32)], "histogram")
        ob = out.block
        ev = self.queues.fill("histogram.zero", q, ob.buffer, np.uint32(0), 0, nbins * 4,
                              wait_for=self._deps(q, [ob]))
        self._touch(q, ev, [], [ob])
        mask = nbins - 1
        pow2 = int(nbins & mask == 0)
        magic = 0 if pow2 else (2**64 - 1) // nbins + 1  # see histogram.cl
        common = (keys.buffer, _u32(keys.element_offset), _u32(n), _u32(nbins), _u32(mask),
                  _u32(pow2), np.uint64(magic))
        if copies:
            self._launch("histogram.local", q, k["hist_local"], (groups * wg,), (wg,),
                         common + (cl.LocalMemory(nbins * copies * 4), _u32(copies),
                                   out.buffer), reads=[keys], writes=[out])
        else:
            self._launch("histogram.global", q, k["hist_global"], (groups * wg,), (wg,),
                         common + (out.buffer,), reads=[keys], writes=[out])
        return out

    def transpose(self, a: DeviceArray, *, queue: int | None = None) -> DeviceArray:
        """The (cols, rows) transpose of a 2-D float32 (rows, cols) array."""
        self._live()
        q = self.queues.index(queue)
        a = self._check(a, "transpose", "a", F32, 2)
        p, k = self.kernels("transpose.cl")
        rows, cols = a.shape
        (out,) = self._alloc([((cols, rows), F32)], "transpose")
        tiles_c = _ceil_div(cols, p.tdim)
        groups = tiles_c * _ceil_div(rows, p.tdim)
        self._launch("transpose", q, k["transpose"], (groups * p.tdim, p.trows),
                     (p.tdim, p.trows),
                     (a.buffer, _u32(a.element_offset), out.buffer, _u32(0), _u32(rows),
                      _u32(cols), _u32(tiles_c)), reads=[a], writes=[out])
        return out

    def sgemm(self, a: DeviceArray, b: DeviceArray, *, queue: int | None = None) -> DeviceArray:
        """(m, k) @ (k, n) of float32 row-major arrays, as a new (m, n) array."""
        self._live()
        q = self.queues.index(queue)
        a = self._check(a, "sgemm", "a", F32, 2)
        b = self._check(b, "sgemm", "b", F32, 2)
        (m, kk), (k2, n) = a.shape, b.shape
        if kk != k2:
            raise GpuError(f"sgemm: shapes {a.shape} @ {b.shape} do not match; a's columns "
                           f"({kk}) must equal b's rows ({k2})")
        p, kern = self.kernels("sgemm.cl")
        (out,) = self._alloc([((m, n), F32)], "sgemm")
        ln, lm = p.gemm_local
        tiles_n = _ceil_div(n, p.tsn)
        groups = tiles_n * _ceil_div(m, p.tsm)
        self._launch("sgemm", q, kern["sgemm"], (groups * ln, lm), (ln, lm),
                     (_u32(m), _u32(n), _u32(kk), a.buffer, _u32(a.element_offset), b.buffer,
                      _u32(b.element_offset), out.buffer, _u32(0), _u32(tiles_n)),
                     reads=[a, b], writes=[out])
        return out

    def copy(self, x: DeviceArray, *, queue: int | None = None) -> DeviceArray:
        """A new array equal to ``x`` (any dtype and shape), by clEnqueueCopyBuffer."""
        self._live()
        q = self.queues.index(queue)
        x = self._check(x, "copy", "x")
        (out,) = self._alloc([(x.shape, x.dtype)], "copy")
        xb, ob = x.block, out.block
        ev = self.queues.copy("copy", q, ob.buffer, xb.buffer, byte_count=x.nbytes,
                              src_offset=x.offset, dst_offset=0,
                              wait_for=self._deps(q, [xb, ob]))
        self._touch(q, ev, [xb], [ob])
        return out

    # -- synchronisation, profiling, teardown ------------------------------------------------

    def finish(self) -> None:
        """Wait for all queued work on every queue."""
        self._live()
        self.queues.finish()

    def timeline(self) -> list[TimelineEntry]:
        """Every command enqueued so far (name, queue, queued/submit/start/end ns); waits."""
        self._live()
        return self.queues.timeline()

    def profile(self) -> dict[str, ProfileStat]:
        """Device time (ns) and count per command name over the timeline; waits."""
        self._live()
        return self.queues.profile()

    def clear_timeline(self) -> None:
        """Wait, then forget the recorded commands."""
        self._live()
        self.queues.clear()

    def stats(self) -> PoolStats:
        """The buffer pool's statistics."""
        return self.pool.snapshot()

    def close(self) -> None:
        """Wait for all work and free the pool's cached buffers (idempotent); arrays still
        held free their buffers when released."""
        if self._closed:
            return
        self.queues.close()
        self.pool.close()
        programs.forget(self.context)
        self._programs.clear()
        self._closed = True

    def __enter__(self) -> Driver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Driver {self.info['platform']} / {self.info['device']}>"

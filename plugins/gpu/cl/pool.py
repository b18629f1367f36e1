"""A buffer pool over one OpenCL context: size classes, reuse, alignment and limits.

Each block is its own ``cl.Buffer`` of a *size class*: the request rounded up to the
granule (the device's base address alignment, at least 256 bytes), and above 16 granules to
one of 8 steps per power of two (at most 12.5% waste). Every block therefore starts at an
address aligned to CL_DEVICE_MEM_BASE_ADDR_ALIGN (the runtime aligns each buffer) and its
size is a multiple of the granule, so sub-buffers at granule offsets are valid too.

Released blocks are cached per class and handed out again (a *reuse*); cached bytes beyond
``cap_bytes`` are freed, least recently released first, and ``trim()`` frees them on
demand. Requests larger than CL_DEVICE_MAX_MEM_ALLOC_SIZE, or larger than the memory left
under ``limit_bytes`` (the device's global memory by default) once the cache is emptied,
raise ``GpuError`` before anything is allocated.

Blocks carry the events of the last commands that used them, one per queue, so that whoever
gets a block next (from the pool or by sharing) can wait for them before touching it: a
block released while commands still use it is safe to reuse on any queue.

Not thread-safe, except that ``release_later`` (used from ``__del__``) only appends to a
deque that the pool drains on its next call.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

import pyopencl as cl

from plugins.gpu.api import GpuError
from plugins.gpu.cl.device import base_align_bytes

MIN_GRANULE = 256
STEPS_PER_DOUBLING = 8


@dataclass
class PoolStats:
    """Counters of a pool. Bytes are size-class bytes (what the device holds)."""

    allocations: int = 0  # new cl.Buffers created
    reuses: int = 0  # requests served from the cache
    releases: int = 0  # blocks given back
    frees: int = 0  # cached blocks destroyed (cap, trim, memory pressure, close)
    refused: int = 0  # requests refused with GpuError
    bytes_live: int = 0
    bytes_cached: int = 0
    blocks_live: int = 0
    blocks_cached: int = 0
    peak_bytes_live: int = 0


class Block:
    """One pooled buffer: ``buffer`` of ``size`` bytes (its size class), the number of
    arrays holding it, and the last event per queue index of the commands that used it."""

    __slots__ = ("buffer", "size", "pool", "refs", "events", "__weakref__")

    def __init__(self, buffer: cl.Buffer, size: int, pool: BufferPool) -> None:
        self.buffer = buffer
        self.size = size
        self.pool = pool
        self.refs = 0
        self.events: dict[int, cl.Event] = {}

    def __repr__(self) -> str:
        return f"<Block {self.size} bytes, refs={self.refs}>"


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


class BufferPool:
    """Pooled device buffers for ``context`` on ``device`` (see the module docstring)."""

    def __init__(self, context: cl.Context, device: cl.Device, *, cap_bytes: int | None = None,
                 limit_bytes: int | None = None) -> None:
        self.context = context
        self.device = device
        self.alignment = base_align_bytes(device)
        self.granule = max(MIN_GRANULE, self.alignment)
        self.max_alloc = int(device.max_mem_alloc_size)
        global_mem = int(device.global_mem_size)
        self.limit_bytes = global_mem if limit_bytes is None else min(int(limit_bytes),
                                                                      global_mem)
        self.cap_bytes = global_mem // 4 if cap_bytes is None else int(cap_bytes)
        self.stats = PoolStats()
        self._free: dict[int, list[Block]] = {}
        # cached blocks, oldest release first (the order trimming frees them in)
        self._lru: collections.OrderedDict[int, Block] = collections.OrderedDict()
        self._pending: collections.deque[Block] = collections.deque()
        self._closed = False

    # -- sizes -------------------------------------------------------------------------------

    def size_class(self, nbytes: int) -> int:
        """The block size a request of ``nbytes`` gets: a multiple of the granule, at most
        12.5% over the request above 16 granules."""
        n = _round_up(max(int(nbytes), 1), self.granule)
        if n > 16 * self.granule:
            step = (1 << (n.bit_length() - 1)) // STEPS_PER_DOUBLING
            n = _round_up(n, step)
        if n > self.max_alloc:  # the class may not exceed what the device can allocate
            n = max(int(nbytes), 1)
        return n

    def check(self, nbytes: int, what: str = "buffer") -> int:
        """The size class of ``nbytes`` if the pool could serve it now, else GpuError
        (nothing is allocated or freed)."""
        return self.check_many([nbytes], what)[0]

    def check_many(self, requests: list[int], what: str = "buffer") -> list[int]:
        """The size classes of ``requests`` if the pool could serve them all at once, else
        GpuError naming ``what`` (nothing is allocated or freed): each must be within the
        device's largest allocation and together within the memory left (``limit_bytes``
        less the bytes in use; cached blocks would be freed to make room)."""
        self._drain()
        for nbytes in requests:
            if nbytes > self.max_alloc:
                self.stats.refused += 1
                raise GpuError(f"{what} needs {nbytes} bytes, more than the device's largest "
                               f"allocation (CL_DEVICE_MAX_MEM_ALLOC_SIZE = {self.max_alloc} "
                               f"bytes)")
        sizes = [self.size_class(n) for n in requests]
        total = sum(sizes)
        if self.stats.bytes_live + total > self.limit_bytes:
            self.stats.refused += 1
            left = max(self.limit_bytes - self.stats.bytes_live, 0)
            raise GpuError(f"{what} needs {total} bytes but only {left} of the device's "
                           f"{self.limit_bytes} bytes are left ({self.stats.bytes_live} in use)")
        return sizes

    # -- acquire / release -------------------------------------------------------------------

    def acquire(self, nbytes: int, what: str = "buffer") -> Block:
        """A block of at least ``nbytes`` (refs 0: the caller takes the reference): a cached
        one of the same class if any, else a new buffer. GpuError, allocating nothing, when
        the request exceeds the device's largest allocation or the memory left."""
        self._drain()
        if self._closed:
            raise GpuError("the buffer pool is closed: create a new Driver")
        if nbytes < 1:
            raise GpuError(f"{what} of {nbytes} bytes: sizes must be at least 1 byte")
        size = self.check(nbytes, what)
        free = self._free.get(size)
        if free:
            block = free.pop()
            del self._lru[id(block)]
            self.stats.bytes_cached -= size
            self.stats.blocks_cached -= 1
            self.stats.reuses += 1
        else:
            over = self.stats.bytes_live + self.stats.bytes_cached + size - self.limit_bytes
            if over > 0:
                self.trim(max(self.stats.bytes_cached - over, 0))
            block = Block(self._create(size, what), size, self)
            self.stats.allocations += 1
        self.stats.bytes_live += size
        self.stats.blocks_live += 1
        self.stats.peak_bytes_live = max(self.stats.peak_bytes_live, self.stats.bytes_live)
        return block

    def _create(self, size: int, what: str) -> cl.Buffer:
        try:
            return cl.Buffer(self.context, cl.mem_flags.READ_WRITE, size)
        except cl.Error:
            self.trim(0)  # give the cache back and try once more
            try:
                return cl.Buffer(self.context, cl.mem_flags.READ_WRITE, size)
            except cl.Error as exc:
                self.stats.refused += 1
                raise GpuError(f"{what}: the device refused {size} bytes "
                               f"({' '.join(str(exc).split())})") from None

    def release(self, block: Block) -> None:
        """Give ``block`` back: it is cached for reuse (then the cache is trimmed to the cap),
        or freed if the pool is closed. Its pending events stay with it."""
        self._drain()
        self._release(block)

    def release_later(self, block: Block) -> None:
        """``release`` deferred to the pool's next call (safe from ``__del__``); at once when
        the pool is closed (it has no next call)."""
        self._pending.append(block)
        if self._closed:
            self._drain()

    def _drain(self) -> None:
        while self._pending:
            self._release(self._pending.popleft())

    def _release(self, block: Block) -> None:
        self.stats.releases += 1
        self.stats.bytes_live -= block.size
        self.stats.blocks_live -= 1
        if self._closed:
            block.buffer.release()
            return
        self._free.setdefault(block.size, []).append(block)
        self._lru[id(block)] = block
        self.stats.bytes_cached += block.size
        self.stats.blocks_cached += 1
        if self.stats.bytes_cached > self.cap_bytes:
            self.trim(self.cap_bytes)

    def trim(self, keep_bytes: int = 0) -> int:
        """Free cached blocks, least recently released first, until at most ``keep_bytes``
        stay cached; returns the bytes freed."""
        freed = 0
        while self._lru and self.stats.bytes_cached > keep_bytes:
            _, block = self._lru.popitem(last=False)
            self._free[block.size].remove(block)
            self.stats.bytes_cached -= block.size
            self.stats.blocks_cached -= 1
            self.stats.frees += 1
            freed += block.size
            block.events.clear()
            block.buffer.release()  # the runtime keeps it alive for commands still queued
        return freed

    def snapshot(self) -> PoolStats:
        """A copy of the statistics (after pending releases are applied)."""
        self._drain()
        return PoolStats(**vars(self.stats))

    def close(self) -> None:
        """Free every cached block; blocks still held are freed when released."""
        self._drain()
        self.trim(0)
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

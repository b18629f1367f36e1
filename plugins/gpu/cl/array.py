"""``DeviceArray``: a typed, shaped window into a pooled device block.

An array holds one reference to a ``Block`` of a ``BufferPool``, a byte ``offset`` into it, a
``shape`` and a ``dtype``; the bytes ``[offset, offset + nbytes)`` lie inside the block.
Views (``Driver.view``) share the block and hold their own reference. The block goes back to
its pool when the last array holding it is released, explicitly (``release()``) or by garbage
collection. Using a released array raises ``GpuError``.
"""

from __future__ import annotations

import math

import numpy as np
import pyopencl as cl

from plugins.gpu.api import GpuError
from plugins.gpu.cl.pool import Block


class DeviceArray:
    """``shape``/``dtype`` elements at byte ``offset`` of a pooled block (see module doc)."""

    __slots__ = ("_block", "offset", "shape", "dtype", "__weakref__")

    def __init__(self, block: Block, offset: int, shape: tuple[int, ...],
                 dtype: np.dtype) -> None:
        self.dtype = np.dtype(dtype)
        self.shape = tuple(int(s) for s in shape)
        self.offset = int(offset)
        if self.offset < 0 or self.offset + self.nbytes > block.size:
            raise GpuError(f"array of {self.nbytes} bytes at offset {self.offset} does not fit "
                           f"its block of {block.size} bytes")
        block.refs += 1
        self._block: Block | None = block

    @property
    def size(self) -> int:
        """Number of elements."""
        return math.prod(self.shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    @property
    def released(self) -> bool:
        return self._block is None

    @property
    def block(self) -> Block:
        """The block this array lives in; GpuError once released."""
        if self._block is None:
            raise GpuError("this device array was released: use a live array from to_device or "
                           "an operation")
        return self._block

    @property
    def buffer(self) -> cl.Buffer:
        """The whole block's buffer (the array starts ``offset`` bytes into it)."""
        return self.block.buffer

    @property
    def element_offset(self) -> int:
        """``offset`` in elements (views keep it a whole number)."""
        return self.offset // self.dtype.itemsize

    def release(self) -> None:
        """Drop this array's reference to its block (idempotent); the last one returns the
        block to its pool."""
        block, self._block = self._block, None
        if block is not None:
            block.refs -= 1
            if block.refs == 0:
                block.pool.release(block)

    def __del__(self) -> None:
        block = getattr(self, "_block", None)
        if block is not None:
            self._block = None
            block.refs -= 1
            if block.refs == 0:
                block.pool.release_later(block)

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        state = "released" if self._block is None else f"offset={self.offset}"
        return f"DeviceArray(shape={self.shape}, dtype={self.dtype}, {state})"

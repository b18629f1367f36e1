"""The ``kvlib`` cffi library (``targets/kvstore/kvlib.h``) as the fuzz targets call it.

Contract: :class:`Lib` builds the ``kvlib`` recipe in the context's flavor
(``ctx.build(RECIPE)``), calls ``kv_lib_init(HASH_SEED)`` once, and wraps ``kv_lib_exec``,
``kv_lib_parse``, ``kv_lib_load`` and ``kv_lib_snapshot`` into calls on and returning
``bytes``; callers reset the keyspace (``lib.kv_lib_reset()``) before every input.  The
buffers returned by the library are copied before the next call reuses them.
"""

from __future__ import annotations

import lab

__all__ = ["HASH_SEED", "RECIPE", "Lib"]

RECIPE = "kvlib"
"""The name of the cffi recipe (declared by the kvstore system) the targets run on."""
HASH_SEED = 0x5EED
"""``kv_lib_init`` seed: fixed, so that every run of an input takes the same table paths."""


class Lib:
    """The ``kvlib`` module of one flavor, initialised once with ``HASH_SEED``, with the
    output cells its calls share."""

    def __init__(self, ctx: lab.LoadContext) -> None:
        mod = ctx.build(RECIPE)
        self.ffi, self.lib = mod.ffi, mod.lib
        self.lib.kv_lib_init(HASH_SEED)
        self._out = self.ffi.new("const char **")
        self._outlen = self.ffi.new("size_t *")
        self._offset = self.ffi.new("size_t *")
        self._err = self.ffi.new("char[]", 512)

    def exec(self, wire: bytes) -> tuple[int, bytes]:
        """``kv_lib_exec``: (requests executed or -1, the reply bytes)."""
        rc = self.lib.kv_lib_exec(wire, len(wire), self._out, self._outlen)
        return rc, self.ffi.buffer(self._out[0], self._outlen[0])[:]

    def parse(self, wire: bytes, max_bulk: int) -> tuple[int, bytes | None]:
        """``kv_lib_parse``: (complete requests, None) or (-1, protocol error text)."""
        n = self.lib.kv_lib_parse(wire, len(wire), max_bulk, self._err, 512)
        return (n, None) if n >= 0 else (-1, self.ffi.string(self._err))

    def load(self, kind: int, image: bytes) -> tuple[bool, int, str]:
        """``kv_lib_load`` into a fresh keyspace: (accepted, bad offset, error text)."""
        rc = self.lib.kv_lib_load(kind, image, len(image), self._offset, self._err, 512)
        return rc == 0, self._offset[0], self.ffi.string(self._err).decode(errors="replace")

    def snapshot(self) -> bytes:
        self.lib.kv_lib_snapshot(self._out, self._outlen)
        return self.ffi.buffer(self._out[0], self._outlen[0])[:]


"""The implementations compared in the compress bench, behind one small adapter interface.

Each adapter offers ``compress(data, level) -> bytes`` and ``decompress(blob, size) -> bytes``
(``size`` is the known original size, as every fast decompressor API takes a size hint).
``ours``, ``zlib`` and ``libdeflate`` all write zlib streams (RFC 1950), so their sizes and
speeds compare like for like; the others are further points on the speed/ratio curve.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from functools import lru_cache
from typing import Any

from lab.model import LoadContext


class Ours:
    """This project's DEFLATE core (targets/compress), zlib framing."""

    def __init__(self, ctx: LoadContext) -> None:
        from plugins.compress.codec import Codec

        module = ctx.build("compress")
        self.codec = Codec(module.ffi, module.lib)

    def compress(self, data: bytes, level: int) -> bytes:
        return self.codec.compress(data, level, "zlib")

    def decompress(self, blob: bytes, size: int) -> bytes:
        return self.codec.decompress(blob, "zlib", size_hint=size)


class Zlib:
    """Python's zlib module (the system zlib)."""

    def compress(self, data: bytes, level: int) -> bytes:
        return zlib.compress(data, level)

    def decompress(self, blob: bytes, size: int) -> bytes:
        return zlib.decompress(blob, 15, max(size, 1))


class Libdeflate:
    """libdeflate through the PyPI ``deflate`` binding, zlib framing."""

    def __init__(self) -> None:
        import deflate

        self.mod = deflate

    def compress(self, data: bytes, level: int) -> bytes:
        return self.mod.zlib_compress(data, level)

    def decompress(self, blob: bytes, size: int) -> bytes:
        return self.mod.zlib_decompress(blob, size)


class Zstd:
    def __init__(self) -> None:
        import zstandard

        self.mod = zstandard
        self.dctx = zstandard.ZstdDecompressor()

    @lru_cache(maxsize=32)  # noqa: B019 - one compressor context per level, kept for the run
    def _cctx(self, level: int) -> Any:
        return self.mod.ZstdCompressor(level=level)

    def compress(self, data: bytes, level: int) -> bytes:
        return self._cctx(level).compress(data)

    def decompress(self, blob: bytes, size: int) -> bytes:
        return self.dctx.decompress(blob, max_output_size=max(size, 1))


class Lz4:
    def __init__(self) -> None:
        import lz4.frame

        self.frame = lz4.frame

    def compress(self, data: bytes, level: int) -> bytes:
        return self.frame.compress(data, compression_level=level)

    def decompress(self, blob: bytes, size: int) -> bytes:
        return self.frame.decompress(blob)


class Brotli:
    def __init__(self) -> None:
        import brotli

        self.mod = brotli

    def compress(self, data: bytes, level: int) -> bytes:
        return self.mod.compress(data, quality=level)

    def decompress(self, blob: bytes, size: int) -> bytes:
        return self.mod.decompress(blob)


class Bz2:
    def compress(self, data: bytes, level: int) -> bytes:
        return bz2.compress(data, level)

    def decompress(self, blob: bytes, size: int) -> bytes:
        return bz2.decompress(blob)


class Lzma:
    def compress(self, data: bytes, level: int) -> bytes:
        return lzma.compress(data, preset=level)

    def decompress(self, blob: bytes, size: int) -> bytes:
        return lzma.decompress(blob)


def version_of(dist: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"

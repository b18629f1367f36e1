"""Python wrapper over the native ``compress`` core (DEFLATE, RFC 1951).

The native library is built by the lab's cffi builder from the C sources in
``targets/compress`` and the declarations between the ``LAB-CDEF`` markers of
``compress.h``; this module only receives the resulting ``(ffi, lib)`` pair
and imports nothing else from the project.

Formats: ``"raw"`` (bare DEFLATE, like zlib's ``wbits=-15``), ``"zlib"``
(RFC 1950, ``wbits=15``) and ``"gzip"`` (RFC 1952, single member,
``wbits=31``).

Contracts:

* Every malformed or hostile stream raises :class:`CompressError` naming the
  problem and the input byte offset where it was detected; decoding never
  reads out of bounds, never loops forever and never produces more than
  ``max_output`` bytes (a larger result raises instead: decompression bombs
  are stopped).
* Bad arguments (level outside 0-9, unknown format or flush mode) raise
  ``ValueError`` naming the bad value and the valid ones.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "DEFAULT_MAX_OUTPUT",
    "FORMATS",
    "CompressError",
    "Codec",
    "Compressor",
    "Decompressor",
]

FORMATS = ("raw", "zlib", "gzip")
DEFAULT_MAX_OUTPUT = 1 << 30

_FORMAT_CODES = {"raw": 0, "zlib": 1, "gzip": 2}
_NO_FLUSH = 0
_SYNC_FLUSH = 2
_FINISH = 4
_FLUSH_MODES = {"finish": _FINISH, "sync": _SYNC_FLUSH}
_OK = 0
_STREAM_END = 1
_BUF_ERROR = 2
_MIN_OUT = 16384
_STREAM_CHUNK = 64 * 1024
_SCRATCH = 128 * 1024  # one-shot outputs up to this size use pooled buffers
_POOL_MAX = 4  # pooled scratch buffers kept per Codec


class CompressError(ValueError):
    """A malformed/hostile stream or bad argument.

    The message says what and where, e.g. ``'invalid distance too far back at
    input byte 1234 (zlib stream)'``.
    """


def _format_code(fmt: str) -> int:
    """Return the C format constant for ``fmt`` or raise ``ValueError``."""
    code = _FORMAT_CODES.get(fmt) if isinstance(fmt, str) else None
    if code is None:
        raise ValueError(f"unknown format {fmt!r}; valid formats: {', '.join(FORMATS)}")
    return code


def _check_level(level: int) -> int:
    """Return ``level`` if it is an int in 0-9, else raise ``ValueError``."""
    if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= 9:
        raise ValueError(f"invalid compression level {level!r}; valid levels: 0-9")
    return level


def _check_max_output(max_output: int) -> int:
    """Return ``max_output`` if it is a non-negative int, else raise."""
    if isinstance(max_output, bool) or not isinstance(max_output, int) or max_output < 0:
        raise ValueError(f"invalid max_output {max_output!r}; must be a non-negative integer")
    return max_output


def _grow(cap: int, in_len: int, in_used: int) -> int:
    """Next output capacity after ``cap`` bytes filled from ``in_used`` input."""
    grown = max(2 * cap, _MIN_OUT)
    if 0 < in_used < in_len:  # extrapolate the compression ratio seen so far
        grown = max(cap * in_len // in_used * 9 // 8 + 4096, cap * 3 // 2, _MIN_OUT)
    return grown


def _bomb_error(max_output: int) -> CompressError:
    return CompressError(f"output exceeds max_output={max_output} bytes (decompression bomb?)")


class Codec:
    """Entry points of the native codec.

    ``ffi`` and ``lib`` are the cffi objects built from ``compress.h``.
    Instances may be shared between threads: their only mutable state is a
    small pool of scratch output buffers, each taken by one call at a time
    (``list.pop``/``append`` are atomic) and returned when the call is done.
    """

    def __init__(self, ffi: Any, lib: Any) -> None:
        self._ffi = ffi
        self._lib = lib
        # output buffers are overwritten by C, so skip zero-filling them
        self._alloc = ffi.new_allocator(should_clear_after_alloc=False)
        # free scratch buffers of _SCRATCH bytes, each with an ffi.buffer
        # view: slicing the view copies the output out in one step
        self._pool: list[tuple[Any, Any]] = []
        # bound once: attribute lookups on cffi objects cost per call
        self._buffer = ffi.buffer
        self._deflate_once = lib.cz_deflate_once
        self._inflate_once = lib.cz_inflate_once

    # ------------------------------------------------------------ helpers
    def _error(self, status: int, pos: int | None, fmt: str) -> CompressError:
        """Build the CompressError for a negative C status code."""
        text = self._ffi.string(self._lib.cz_strerror(status)).decode()
        where = f" at input byte {pos}" if pos is not None else ""
        return CompressError(f"{text}{where} ({fmt} stream)")

    def _scratch(self, size: int) -> tuple[Any, Any]:
        """A fresh output buffer of ``size`` bytes and its ``ffi.buffer`` view."""
        buf = self._alloc("char[]", size)
        return buf, self._buffer(buf)

    def _once(
        self, call: Any, src: Any, cap: int, arg: int, arg2: int | None = None
    ) -> bytes | None:
        """Run ``call(src, len(src), buf, cap, arg[, arg2])`` -- a ``cz_*_once``
        function -- into a scratch (or fresh) buffer of ``cap`` bytes; return
        its output, or None when the full call must be made.

        The trailing arguments are explicit, not ``*args``: a star call costs
        a tuple and a slower call path, which shows on 1 KiB inputs."""
        pool = self._pool
        pooled = cap <= _SCRATCH
        if pooled:
            try:
                scratch = pool.pop()
            except IndexError:
                scratch = self._scratch(_SCRATCH)
        else:
            scratch = self._scratch(cap)
        buf = scratch[0]
        if arg2 is None:
            n = call(src, len(src), buf, cap, arg)
        else:
            n = call(src, len(src), buf, cap, arg, arg2)
        out = scratch[1][:n] if n >= 0 else None
        if pooled and len(pool) < _POOL_MAX:
            pool.append(scratch)
        return out

    # ------------------------------------------------------------ one-shot
    def compress(self, data: bytes, level: int = 6, fmt: str = "zlib") -> bytes:
        """Compress ``data`` (any bytes-like object) in one call.

        ``level`` is 0 (stored only) to 9 (best), like zlib; ``fmt`` is one
        of :data:`FORMATS`.  The result is decodable by Python's ``zlib``
        with the matching ``wbits``.
        """
        code = _FORMAT_CODES.get(fmt) if type(fmt) is str else None
        if code is None:
            code = _format_code(fmt)
        if type(level) is not int or not 0 <= level <= 9:
            _check_level(level)
        # bytes go to the `const char *` parameter without a copy
        src = data if type(data) is bytes else self._ffi.from_buffer(data)
        n = len(src)
        # a cheap estimate of cz_deflate_bound; if it were ever too small the
        # fast call fails and the full call below uses the real bound
        cap = n + (n >> 11) + 160
        out = self._once(self._deflate_once, src, cap, level, code)
        if out is not None:
            return out
        return self._compress_full(src, level, code, fmt)

    def _compress_full(self, src: Any, level: int, code: int, fmt: str) -> bytes:
        ffi, lib = self._ffi, self._lib
        src = ffi.from_buffer("uint8_t[]", src)
        n = len(src)
        cap = lib.cz_deflate_bound(n, code)
        out = self._alloc("uint8_t[]", cap)
        out_len = ffi.new("size_t *")
        status = lib.cz_deflate(src, n, out, cap, out_len, level, code)
        if status != _OK:
            raise self._error(status, None, fmt)
        return ffi.buffer(out, out_len[0])[:]

    def decompress(
        self,
        data: bytes,
        fmt: str = "zlib",
        *,
        size_hint: int | None = None,
        max_output: int = DEFAULT_MAX_OUTPUT,
    ) -> bytes:
        """Decompress one complete stream held in ``data``.

        Raises :class:`CompressError` if the stream is malformed or
        truncated, if bytes follow its end (trailing garbage), or if the
        output would exceed ``max_output`` bytes.  With a correct
        ``size_hint`` (the exact decompressed size) this takes a single C
        call; otherwise the output buffer grows geometrically.
        """
        try:  # a plain subscript: cheaper than type check + .get per call
            code = _FORMAT_CODES[fmt]
        except (KeyError, TypeError):  # unknown or unhashable: raises
            code = _format_code(fmt)
        if max_output is not DEFAULT_MAX_OUTPUT and (type(max_output) is not int or max_output < 0):
            _check_max_output(max_output)
        if size_hint is not None and size_hint >= 0:
            # fast path: one call that succeeds only on a clean, complete
            # stream fitting the hint; anything else is redone in full below
            out = self._once(
                self._inflate_once,
                data if type(data) is bytes else self._ffi.from_buffer(data),
                size_hint if size_hint < max_output else max_output,
                code,
            )
            if out is not None:
                return out
        return self._decompress_full(data, fmt, code, size_hint, max_output)

    def _decompress_full(
        self, data: bytes, fmt: str, code: int, size_hint: int | None, max_output: int
    ) -> bytes:
        ffi, lib = self._ffi, self._lib
        src = ffi.from_buffer("uint8_t[]", data)
        n = len(src)
        if size_hint is not None and size_hint >= 0:
            cap = size_hint
        elif code == _FORMAT_CODES["gzip"] and n >= 18:
            cap = int.from_bytes(ffi.buffer(src)[n - 4 : n], "little")  # ISIZE mod 2**32
        else:
            cap = max(8 * n, _MIN_OUT)  # untouched pages of the buffer cost nothing
        cap = min(cap, max_output)
        sizes = ffi.new("size_t[3]")
        while True:
            out = self._alloc("uint8_t[]", max(cap, 1))
            status = lib.cz_inflate(src, n, out, cap, sizes, sizes + 1, sizes + 2, code)
            if status == _OK:
                if sizes[1] != n:
                    raise CompressError(
                        f"trailing data after end of stream at input byte {sizes[1]} ({fmt} stream)"
                    )
                return ffi.buffer(out, sizes[0])[:]
            if status != _BUF_ERROR:
                raise self._error(status, sizes[2], fmt)
            if cap >= max_output:
                raise _bomb_error(max_output)
            cap = min(_grow(cap, n, sizes[1]), max_output)

    # ------------------------------------------------------------ streaming
    def compressobj(self, level: int = 6, fmt: str = "zlib") -> Compressor:
        """Return a streaming :class:`Compressor`."""
        return Compressor(self, _check_level(level), fmt)

    def decompressobj(
        self, fmt: str = "zlib", *, max_output: int = DEFAULT_MAX_OUTPUT
    ) -> Decompressor:
        """Return a streaming :class:`Decompressor`."""
        return Decompressor(self, fmt, _check_max_output(max_output))

    # ------------------------------------------------------------ checksums
    def adler32(self, data: bytes, value: int = 1) -> int:
        """Adler-32 (RFC 1950) of ``data``, continuing from ``value``."""
        src = self._ffi.from_buffer("uint8_t[]", data)
        return int(self._lib.cz_adler32(value & 0xFFFFFFFF, src, len(src)))

    def crc32(self, data: bytes, value: int = 0) -> int:
        """CRC-32 (RFC 1952) of ``data``, continuing from ``value``."""
        src = self._ffi.from_buffer("uint8_t[]", data)
        return int(self._lib.cz_crc32(value & 0xFFFFFFFF, src, len(src)))


class Compressor:
    """Streaming compressor (like ``zlib.compressobj``).

    ``compress(data)`` returns whatever output is ready (possibly ``b""``);
    ``flush("sync")`` ends the current block on a byte boundary so that all
    input so far can be decoded; ``flush("finish")`` ends the stream, after
    which the object cannot be used.
    """

    def __init__(self, codec: Codec, level: int, fmt: str) -> None:
        code = _format_code(fmt)
        self._ffi = codec._ffi
        self._lib = codec._lib
        self._codec = codec
        self._fmt = fmt
        raw = self._lib.cz_deflater_new(level, code)
        if raw == self._ffi.NULL:
            raise MemoryError("cz_deflater_new failed")
        self._d = self._ffi.gc(raw, self._lib.cz_deflater_free)
        self._out = codec._alloc("uint8_t[]", _STREAM_CHUNK)
        self._sizes = self._ffi.new("size_t[2]")
        self._finished = False

    def _write(self, data: bytes, flush: int) -> bytes:
        if self._finished:
            raise CompressError(f"compressor already finished ({self._fmt} stream)")
        ffi, lib = self._ffi, self._lib
        src = ffi.from_buffer("uint8_t[]", data)
        n, off = len(src), 0
        out, sizes, chunks = self._out, self._sizes, []
        while True:
            status = lib.cz_deflater_write(
                self._d,
                src + off,
                n - off,
                flush,
                out,
                _STREAM_CHUNK,
                sizes,
                sizes + 1,
            )
            off += sizes[0]
            if sizes[1]:
                chunks.append(ffi.buffer(out, sizes[1])[:])
            if status == _BUF_ERROR:
                continue
            if status < 0:
                raise self._codec._error(status, None, self._fmt)
            if status == _STREAM_END:
                self._finished = True
            return b"".join(chunks)

    def compress(self, data: bytes) -> bytes:
        """Feed ``data``; return the compressed bytes produced so far."""
        return self._write(data, _NO_FLUSH)

    def flush(self, mode: str = "finish") -> bytes:
        """Flush pending output; ``mode`` is ``"finish"`` or ``"sync"``."""
        flush = _FLUSH_MODES.get(mode) if isinstance(mode, str) else None
        if flush is None:
            raise ValueError(f"unknown flush mode {mode!r}; valid modes: finish, sync")
        return self._write(b"", flush)


class Decompressor:
    """Streaming decompressor (like ``zlib.decompressobj``).

    ``decompress(data)`` returns the output available so far.  Once the end
    of the stream has been verified ``eof`` is true and any bytes after it
    are in ``unused_data``.  Raises :class:`CompressError` on malformed input
    (with the absolute input offset) and when the total output would exceed
    ``max_output``.
    """

    def __init__(self, codec: Codec, fmt: str, max_output: int) -> None:
        code = _format_code(fmt)
        self._ffi = codec._ffi
        self._lib = codec._lib
        self._codec = codec
        self._fmt = fmt
        raw = self._lib.cz_inflater_new(code)
        if raw == self._ffi.NULL:
            raise MemoryError("cz_inflater_new failed")
        self._s = self._ffi.gc(raw, self._lib.cz_inflater_free)
        self._out = codec._alloc("uint8_t[]", _STREAM_CHUNK)
        self._sizes = self._ffi.new("size_t[2]")
        self._max_output = max_output
        self._total_out = 0
        self.eof = False
        self.unused_data = b""

    def decompress(self, data: bytes) -> bytes:
        """Feed ``data``; return the decompressed bytes produced so far."""
        if self.eof:
            self.unused_data += bytes(data)
            return b""
        ffi, lib = self._ffi, self._lib
        src = ffi.from_buffer("uint8_t[]", data)
        n, off = len(src), 0
        out, sizes, chunks = self._out, self._sizes, []
        while True:
            status = lib.cz_inflater_write(
                self._s, src + off, n - off, out, _STREAM_CHUNK, sizes, sizes + 1
            )
            off += sizes[0]
            produced = sizes[1]
            if produced:
                self._total_out += produced
                if self._total_out > self._max_output:
                    raise _bomb_error(self._max_output)
                chunks.append(ffi.buffer(out, produced)[:])
            if status < 0:
                pos = int(lib.cz_inflater_error_pos(self._s))
                raise self._codec._error(status, pos, self._fmt)
            if status == _STREAM_END:
                self.eof = True
                self.unused_data = ffi.buffer(src)[off:n]
                break
            if produced < _STREAM_CHUNK and (off >= n or sizes[0] == 0):
                break
        return b"".join(chunks)

    def flush(self) -> bytes:
        """Return any remaining output (all output is returned eagerly)."""
        return b""

"""Fuzz targets of the compress system: our DEFLATE core against zlib, and against itself.

Three targets, all on the cffi core built by the ``compress`` recipe in the flavor being
fuzzed (``ctx.build(RECIPE)``, wrapped in :class:`~plugins.compress.codec.Codec` exactly as
the bench's ``Ours`` does):

``inflate``
    Input byte 0 (mod 3) picks the framing -- raw (RFC 1951), zlib (RFC 1950) or gzip
    (RFC 1952) -- and the rest is the compressed stream.  The one-shot decoder
    (``Codec.decompress``) is compared with Python's ``zlib`` at the matching ``wbits``
    (-15 / 15 / 31).  ``targets/compress/fuzz/inflate_fuzz.c`` is the same target as a plain
    libFuzzer harness against zlib's C API.
``roundtrip`` (structured)
    A FuzzedDataProvider chooses a level, a framing, chunk boundaries with optional sync
    flushes, decompression chunk sizes and a payload; the payload goes through the streaming
    compressor and back through the streaming decompressor.  Invariants: the round trip is
    exact, our own output decodes cleanly, and zlib decodes our output (also at every sync
    flush point) to the same bytes.
``gzip_header``
    Input bytes are one gzip member, decoded by the *streaming* decoder fed the first
    ``BYTEWISE`` bytes one at a time (the gzip header parser is incremental; this drives it
    through every split point of FEXTRA/FNAME/FCOMMENT/FHCRC) and the rest in one piece,
    against zlib (``wbits=31``).

The decoder contract both sides are held to (the Codec's documented contract):

* exactly one complete stream: truncated input is rejected, and so is any byte after the end
  of the stream -- including a second gzip member (our core decodes a single member; zlib's
  ``decompressobj`` stops after one member too and leaves the rest in ``unused_data``, which
  the oracle therefore treats as trailing data);
* at most ``LIMIT`` bytes of output: a stream decoding to more is rejected (decompression-bomb
  stop); one decoding to exactly ``LIMIT`` bytes is accepted;
* no preset dictionaries (a zlib FDICT header is rejected on both sides: zlib asks for the
  dictionary, which the oracle has not got).

Only accept/reject and the output bytes are compared, never the reason for a rejection: the
two decoders legitimately detect some malformations at different points (zlib reports a
truncated dynamic header as "needs more input" where ours may already see a bad code).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import lab
from plugins.compress.codec import Codec, CompressError
from plugins.compress.references import Ours

__all__ = ["FUZZ_TARGETS", "LIMIT", "RECIPE", "RoundTrip", "zlib_decompress"]

RECIPE = "compress"
LIMIT = 1 << 20
"""Largest accepted decompressed size, in bytes (both sides reject anything larger)."""

FORMATS = ("raw", "zlib", "gzip")
WBITS = {"raw": -15, "zlib": 15, "gzip": 31}
BYTEWISE = 512
"""``gzip_header``: leading input bytes fed to the streaming decoder one at a time."""

ROUNDTRIP_MAX_PAYLOAD = 512 << 10
"""``roundtrip``: the payload may be repeated up to this size (to slide the 256 KiB
compression window and the 128 KiB decompression window)."""


def _codec(ctx: lab.LoadContext) -> Codec:
    """Our core built in ``ctx.flavor``, wrapped as the bench's ``ours`` implementation."""
    return Ours(ctx).codec


def _framing(data: bytes) -> tuple[str, bytes]:
    """Split an ``inflate`` input into (format, stream); an empty input selects nothing and is
    rejected, identically by the target and the oracle."""
    if not data:
        raise lab.Reject("empty input: no framing byte")
    return FORMATS[data[0] % 3], data[1:]


def zlib_decompress(stream: bytes, wbits: int, limit: int = LIMIT) -> bytes:
    """Decode exactly one complete stream with Python's zlib under our decoder's contract.

    Raises :class:`lab.Reject` for: a zlib error (malformed data, checksum, preset dictionary
    needed); more than ``limit`` bytes of output; a truncated stream (``decompressobj`` does not
    raise on truncation, it just is not at ``eof``); bytes after the end of the stream,
    including a second gzip member.  ``max_length=limit + 1`` makes "exactly ``limit`` bytes"
    distinguishable from "more": with ``max_length=limit`` zlib may stop with a full buffer
    before it has read the end-of-block code and trailer of a stream of exactly ``limit``.
    """
    d = zlib.decompressobj(wbits)
    try:
        out = d.decompress(stream, limit + 1)
    except zlib.error as exc:
        raise lab.Reject(f"zlib: {exc}") from None
    if len(out) > limit:
        raise lab.Reject(f"output exceeds {limit} bytes")
    if not d.eof:  # with room left in the output, all input was consumed: truncated
        raise lab.Reject("truncated stream")
    if d.unused_data:
        raise lab.Reject(f"{len(d.unused_data)} bytes after the end of the stream")
    return out


# ---------------------------------------------------------------------------- inflate


def _load_inflate(ctx: lab.LoadContext) -> Callable[[bytes], bytes]:
    """The one-shot C decoder called directly, as ``inflate_fuzz.c`` does: one
    ``cz_inflate`` into a ``LIMIT``-byte buffer allocated once (the Codec's growing-buffer
    retries would re-decode, and allocate, per input; its contract is tested elsewhere)."""
    mod = ctx.build(RECIPE)
    ffi, lib = mod.ffi, mod.lib
    out = ffi.new("uint8_t[]", LIMIT)
    view = ffi.buffer(out)
    sizes = ffi.new("size_t[3]")
    codes = {"raw": lib.CZ_RAW, "zlib": lib.CZ_ZLIB, "gzip": lib.CZ_GZIP}

    def inflate(data: bytes) -> bytes:
        """Our one-shot decoder on ``data[1:]`` in the framing picked by ``data[0] % 3``;
        returns the decompressed bytes or raises :class:`lab.Reject`."""
        fmt, stream = _framing(data)
        status = lib.cz_inflate(stream, len(stream), out, LIMIT, sizes, sizes + 1, sizes + 2,
                                codes[fmt])
        if status == lib.CZ_BUF_ERROR:
            raise lab.Reject(f"output exceeds {LIMIT} bytes")
        if status != lib.CZ_OK:
            raise lab.Reject(ffi.string(lib.cz_strerror(status)).decode())
        if sizes[1] != len(stream):
            raise lab.Reject("trailing data after the end of the stream")
        assert sizes[0] <= LIMIT, "cz_inflate wrote past its output capacity"
        return view[:sizes[0]]

    return inflate


def _oracle_inflate(ctx: lab.LoadContext) -> Callable[[bytes], bytes]:
    def zlib_inflate(data: bytes) -> bytes:
        """Python's zlib on the same framing and stream as ``inflate``."""
        fmt, stream = _framing(data)
        return zlib_decompress(stream, WBITS[fmt])

    return zlib_inflate


# ---------------------------------------------------------------------------- gzip_header


def _load_gzip_header(ctx: lab.LoadContext) -> Callable[[bytes], bytes]:
    codec = _codec(ctx)

    def gzip_member(data: bytes) -> bytes:
        """Our streaming decoder on ``data`` as one gzip member, the first ``BYTEWISE`` bytes
        fed one at a time; returns the decompressed bytes or raises :class:`lab.Reject`."""
        d = codec.decompressobj("gzip", max_output=LIMIT)
        head = min(len(data), BYTEWISE)
        parts = []
        try:
            for i in range(head):
                parts.append(d.decompress(data[i:i + 1]))
            parts.append(d.decompress(data[head:]))
            parts.append(d.flush())
        except CompressError as exc:
            raise lab.Reject(str(exc)) from None
        if not d.eof:
            raise lab.Reject("truncated stream")
        if d.unused_data:  # includes a second member: one member per stream by contract
            raise lab.Reject(f"{len(d.unused_data)} bytes after the end of the stream")
        return b"".join(parts)

    return gzip_member


def _oracle_gzip_header(ctx: lab.LoadContext) -> Callable[[bytes], bytes]:
    def zlib_gzip(data: bytes) -> bytes:
        """Python's zlib (``wbits=31``, gzip only) on ``data``."""
        return zlib_decompress(data, WBITS["gzip"])

    return zlib_gzip


# ---------------------------------------------------------------------------- roundtrip


@dataclass
class RoundTrip:
    """What one ``roundtrip`` input did: the choices, our compressed stream, what our streaming
    decoder made of it, and the (compressed length, payload length) at each sync flush."""

    level: int
    fmt: str
    payload: bytes
    compressed: bytes = b""
    decompressed: bytes = b""
    syncs: list[tuple[int, int]] = field(default_factory=list)
    eof: bool = False
    unused: bytes = b""
    error: str | None = None

    def __repr__(self) -> str:  # the payload can be 512 KiB: keep reports readable
        return (f"RoundTrip(level={self.level}, fmt={self.fmt!r}, payload={len(self.payload)}B, "
                f"compressed={len(self.compressed)}B, decompressed={len(self.decompressed)}B, "
                f"syncs={len(self.syncs)}, eof={self.eof}, error={self.error!r})")


def _payload(fdp: Any) -> bytes:
    """The payload: the provider's remaining bytes, repeated ``2**k`` times (k chosen first)
    with the copy number appended to each copy, capped at ``ROUNDTRIP_MAX_PAYLOAD``."""
    scale = fdp.ConsumeIntInRange(0, 7)
    base = fdp.ConsumeBytes(fdp.remaining_bytes())
    copies = min(1 << scale, max(1, ROUNDTRIP_MAX_PAYLOAD // (len(base) + 1)))
    if copies == 1:
        return base
    return b"".join(base + bytes([i & 0xFF]) for i in range(copies))


def _load_roundtrip(ctx: lab.LoadContext) -> Callable[[Any], RoundTrip]:
    codec = _codec(ctx)

    def roundtrip(fdp: Any) -> RoundTrip:
        """Compress a provider-chosen payload with the streaming API and decode it back.

        Consumed from the provider, in this order (integers come from the end of the input,
        the payload from the front): level 0-9; framing index 0-2; number of compression
        chunks 0-15, then per chunk a 16-bit cut position (mod payload length + 1) and a
        flush selector 0-3 (0 = sync flush after the chunk); number of decompression chunk
        sizes 0-7, each 1-4096 (used cyclically; none = one piece); the repeat scale; then
        the rest as payload.  Never rejects; failures of our own API are recorded in
        ``error`` for the invariants.
        """
        level = fdp.ConsumeIntInRange(0, 9)
        fmt = FORMATS[fdp.ConsumeIntInRange(0, 2)]
        plan = [(fdp.ConsumeIntInRange(0, 0xFFFF), fdp.ConsumeIntInRange(0, 3) == 0)
                for _ in range(fdp.ConsumeIntInRange(0, 15))]
        sizes = [fdp.ConsumeIntInRange(1, 4096) for _ in range(fdp.ConsumeIntInRange(0, 7))]
        payload = _payload(fdp)
        rt = RoundTrip(level, fmt, payload)
        cuts = sorted((c % (len(payload) + 1), sync) for c, sync in plan)
        try:
            co = codec.compressobj(level, fmt)
            parts, start = [], 0
            for cut, sync in cuts:
                parts.append(co.compress(payload[start:cut]))
                start = cut
                if sync:
                    parts.append(co.flush("sync"))
                    rt.syncs.append((sum(map(len, parts)), cut))
            parts.append(co.compress(payload[start:]))
            parts.append(co.flush("finish"))
            rt.compressed = b"".join(parts)
        except (CompressError, ValueError, MemoryError) as exc:
            rt.error = f"compressing: {type(exc).__name__}: {exc}"
            return rt
        try:
            d = codec.decompressobj(fmt, max_output=len(payload))  # exact size: must fit
            blob, out, i, k = rt.compressed, [], 0, 0
            while i < len(blob):
                n = sizes[k % len(sizes)] if sizes else len(blob)
                out.append(d.decompress(blob[i:i + n]))
                i, k = i + n, k + 1
            out.append(d.flush())
            rt.decompressed, rt.eof, rt.unused = b"".join(out), d.eof, bytes(d.unused_data)
        except (CompressError, ValueError, MemoryError) as exc:
            rt.error = f"decompressing: {type(exc).__name__}: {exc}"
        return rt

    return roundtrip


def exact_roundtrip(data: bytes, rt: RoundTrip) -> None:
    """Our compressor and decompressor raised nothing, and the round trip gave the payload."""
    assert rt.error is None, rt.error
    assert rt.eof, "our decoder did not reach the end of our own stream"
    assert not rt.unused, f"our decoder left {len(rt.unused)} bytes of our own stream unused"
    if rt.decompressed != rt.payload:
        at = next((i for i, (a, b) in enumerate(zip(rt.decompressed, rt.payload, strict=False))
                   if a != b), min(len(rt.decompressed), len(rt.payload)))
        raise AssertionError(f"round trip differs at byte {at} (got {len(rt.decompressed)} "
                             f"bytes, expected {len(rt.payload)}; {rt!r})")


def zlib_reads_our_stream(data: bytes, rt: RoundTrip) -> None:
    """zlib decodes our stream to the payload, with nothing after its end; at every sync flush
    the output so far decodes to exactly the payload so far (a sync flush must make all input
    given so far decodable, as zlib's ``Z_SYNC_FLUSH`` does).

    An invariant rather than an oracle: encoders legitimately differ byte for byte, so zlib's
    own compression of the payload is nothing to compare with; what must hold is that the
    reference decoder accepts what we produce.
    """
    if rt.error is not None:
        return  # exact_roundtrip reports it
    d = zlib.decompressobj(WBITS[rt.fmt])
    got, done = bytearray(), 0
    try:
        for clen, plen in rt.syncs:
            got += d.decompress(rt.compressed[done:clen])
            done = clen
            assert got == rt.payload[:plen], (
                f"after the sync flush at compressed byte {clen} zlib decodes {len(got)} "
                f"bytes, not the {plen} bytes of payload given so far ({rt!r})")
        got += d.decompress(rt.compressed[done:])
    except zlib.error as exc:
        raise AssertionError(f"zlib rejects our stream: {exc} ({rt!r})") from None
    assert d.eof, f"zlib did not reach the end of our stream ({rt!r})"
    assert d.unused_data == b"", f"zlib found {len(d.unused_data)} bytes after our stream"
    assert got == rt.payload, f"zlib decodes our stream to different bytes ({rt!r})"


# ---------------------------------------------------------------------------- declarations

_STREAM_TOKENS = (
    b"\x03\x00",  # final fixed-Huffman block with only end-of-block (empty stream)
    b"\x01\x00\x00\xff\xff",  # final empty stored block
    b"\x00\x00\x00\xff\xff",  # non-final empty stored block (sync-flush marker)
    b"\x01\x01\x00\xfe\xff",  # final stored block of 1 byte (LEN/NLEN)
    b"\xff\xff\x00\x00",  # LEN 65535, NLEN 0
    b"\x05",  # final dynamic block header bits (BFINAL=1, BTYPE=10)
    b"\x04",  # non-final dynamic block
    b"\x02",  # non-final fixed block
    b"\x4b\x04\x00",  # final fixed block: literal 'a', end-of-block (raw b"a")
    b"\x00\x00\x00\x00",
    b"\xff\xff\xff\xff",
)
_GZIP_TOKENS = (
    b"\x1f\x8b\x08",  # ID1 ID2 CM=8
    b"\x1f\x8b\x08\x00",  # ... no flags
    b"\x1f\x8b\x08\x1e",  # ... FEXTRA|FNAME|FCOMMENT|FHCRC
    b"\x1f\x8b\x08\x08",  # ... FNAME
    b"\x02", b"\x04", b"\x08", b"\x10", b"\x1f", b"\x20", b"\xe0",  # FLG bits (+ reserved)
    b"\x00\x00\x00\x00\x00\x03",  # MTIME 0, XFL 0, OS 3 (Unix)
    b"\x00\xff",  # XFL 0, OS unknown
    b"\x06\x00AP\x02\x00xy",  # XLEN 6: one subfield 'AP' of 2 bytes
    b"\x00\x00",  # XLEN 0 / empty HCRC
    b"name.txt\x00",  # FNAME (zero terminated)
    b"comment\x00",
    b"\x00" * 8,  # CRC32 + ISIZE of the empty payload
)
_ZLIB_TOKENS = (
    b"\x78\x9c",  # CM 8, CINFO 7, default level
    b"\x78\x01", b"\x78\x5e", b"\x78\xda",  # other FLEVELs
    b"\x08\x1d",  # CINFO 0 (256-byte window)
    b"\x78\xbb",  # FDICT set (rejected: no dictionary)
    b"\x88\x98",  # CINFO 8: invalid window size
    b"\x00\x00\x00\x01",  # Adler-32 of the empty payload
)

INFLATE = lab.FuzzTarget(
    name="inflate",
    description="one-shot decoder (raw/zlib/gzip by input byte 0 mod 3, 1 MiB output bound) "
                "vs Python's zlib decompressobj at the matching wbits",
    load=_load_inflate,
    oracle=_oracle_inflate,
    dictionary=_STREAM_TOKENS + _ZLIB_TOKENS + _GZIP_TOKENS[:4],
    max_len=65536,
    timeout=10,
    recipe=RECIPE,
    raw_harness="fuzz/inflate_fuzz.c",
    raw_libraries=("z",),
)

ROUNDTRIP = lab.FuzzTarget(
    name="roundtrip",
    description="streaming compress (level, framing, chunking, sync flushes chosen by the "
                "input) then streaming decompress in random pieces: exact, and zlib agrees",
    load=_load_roundtrip,
    structured=True,
    invariants=(exact_roundtrip, zlib_reads_our_stream),
    max_len=16384,
    timeout=20,
    recipe=RECIPE,
)

GZIP_HEADER = lab.FuzzTarget(
    name="gzip_header",
    description="one gzip member (RFC 1952 FEXTRA/FNAME/FCOMMENT/FHCRC, CRC32/ISIZE) through "
                "the streaming decoder, header fed byte by byte, vs zlib wbits=31",
    load=_load_gzip_header,
    oracle=_oracle_gzip_header,
    dictionary=_GZIP_TOKENS + _STREAM_TOKENS[:4],
    max_len=8192,
    timeout=10,
    recipe=RECIPE,
)

FUZZ_TARGETS: tuple[lab.FuzzTarget, ...] = (INFLATE, ROUNDTRIP, GZIP_HEADER)

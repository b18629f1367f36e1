"""Malformed and hostile streams: each raises CompressError saying what is wrong and where,
never crashes, hangs or grows without bound. Random inputs are checked against zlib."""

from __future__ import annotations

import random
import zlib

import pytest

from labtest import SANITIZED
from plugins.compress import corpus
from plugins.compress.codec import CompressError

RANDOM_INPUTS = 300 if SANITIZED else 3000


def _raw(data: bytes, level: int = 6) -> bytes:
    co = zlib.compressobj(level, zlib.DEFLATED, -15)
    return co.compress(data) + co.flush()


def _expect(codec, blob: bytes, fmt: str, words: str) -> str:  # noqa: ANN001
    with pytest.raises(CompressError, match=words) as info:
        codec.decompress(blob, fmt)
    message = str(info.value)
    assert "byte" in message and "\n" not in message
    return message


def test_reserved_block_type(codec) -> None:
    _expect(codec, bytes([0b111]) + b"\x00" * 8, "raw", "(?i)block type")


def test_stored_length_mismatch(codec) -> None:
    _expect(codec, bytes([0b001, 0x05, 0x00, 0x00, 0x00]) + b"hello", "raw",
            "(?i)(stored|length)")


class BitWriter:
    """Builds DEFLATE bit streams by hand (RFC 1951 section 3.1.1 bit order)."""

    def __init__(self) -> None:
        self.bits: list[int] = []

    def value(self, v: int, n: int) -> BitWriter:  # fields: least significant bit first
        self.bits += [(v >> i) & 1 for i in range(n)]
        return self

    def code(self, c: int, n: int) -> BitWriter:  # Huffman codes: most significant bit first
        self.bits += [(c >> (n - 1 - i)) & 1 for i in range(n)]
        return self

    def bytes(self) -> bytes:
        bits = self.bits + [0] * (-len(self.bits) % 8)
        return bytes(sum(b << i for i, b in enumerate(bits[k:k + 8]))
                     for k in range(0, len(bits), 8))


def _fixed_block(distance_code: int) -> bytes:
    """A final fixed-Huffman block: literal 'a', a length-3 match, end of block."""
    w = BitWriter().value(1, 1).value(1, 2)
    w.code(0x30 + ord("a"), 8)          # literal 'a' (0-143: 8-bit codes from 0x30)
    w.code(257 - 256, 7)                # length code 257 = length 3 (7-bit codes)
    w.code(distance_code, 5)            # distance code (fixed 5-bit codes)
    w.code(0, 7)                        # end of block (256)
    return w.bytes()


def test_distance_too_far_back(codec) -> None:
    ok = _fixed_block(0)                # distance 1: repeats 'a'
    assert zlib.decompress(ok, -15) == b"aaaa" == codec.decompress(ok, "raw")
    bad = _fixed_block(1)               # distance 2, but only one byte was written
    with pytest.raises(zlib.error):
        zlib.decompress(bad, -15)
    _expect(codec, bad, "raw", "(?i)distance")


def test_bad_zlib_header_and_checksum(codec) -> None:
    good = zlib.compress(b"payload " * 100)
    _expect(codec, b"\x78\x00" + good[2:], "zlib", "(?i)header")
    _expect(codec, good[:-1] + bytes([good[-1] ^ 1]), "zlib", "(?i)(adler|checksum)")


def test_bad_gzip_magic_crc_and_size(codec) -> None:
    co = zlib.compressobj(6, zlib.DEFLATED, 31)
    good = co.compress(b"gzip payload " * 100) + co.flush()
    _expect(codec, b"\x1f\x8c" + good[2:], "gzip", "(?i)(header|magic)")
    crc_bad = good[:-8] + bytes([good[-8] ^ 1]) + good[-7:]
    _expect(codec, crc_bad, "gzip", "(?i)(crc|checksum)")
    size_bad = good[:-4] + bytes([good[-4] ^ 1]) + good[-3:]
    _expect(codec, size_bad, "gzip", "(?i)(length|size)")


def test_every_truncation_is_an_error(codec) -> None:
    good = zlib.compress(corpus.build("text", 3000), 9)
    step = 7 if SANITIZED else 1
    for cut in range(0, len(good) - 1, step):
        with pytest.raises(CompressError):
            codec.decompress(good[:cut])


def test_trailing_garbage_is_reported(codec) -> None:
    with pytest.raises(CompressError, match="(?i)trailing"):
        codec.decompress(zlib.compress(b"abc") + b"junk")


def test_decompression_bomb_stops_at_max_output(codec) -> None:
    co = zlib.compressobj(9)
    chunk = bytes(1 << 20)
    bomb = b"".join(co.compress(chunk) for _ in range(64)) + co.flush()  # 64 MiB of zeros
    assert len(bomb) < 100_000
    with pytest.raises(CompressError, match="max_output"):
        codec.decompress(bomb, max_output=1 << 20)
    d = codec.decompressobj(max_output=1 << 20)
    with pytest.raises(CompressError, match="max_output"):
        d.decompress(bomb)


def _agree(codec, blob: bytes) -> None:  # noqa: ANN001
    d = zlib.decompressobj(-15)
    try:
        out = d.decompress(blob)
        # a complete stream with nothing after it; we reject trailing bytes, zlib ignores them
        expected = out if d.eof and not d.unused_data else None
    except zlib.error:
        expected = None
    try:
        got = codec.decompress(blob, "raw", max_output=1 << 24)
    except CompressError:
        got = None
    assert got == expected, blob.hex()


def test_random_bytes_agree_with_zlib(codec) -> None:
    rng = random.Random(11)
    for _ in range(RANDOM_INPUTS):
        _agree(codec, rng.randbytes(rng.randrange(1, 200)))


def test_bit_flips_of_valid_streams_agree_with_zlib(codec) -> None:
    rng = random.Random(12)
    base = _raw(corpus.build("source", 4000) + corpus.build("text", 300), 6)
    for _ in range(RANDOM_INPUTS):
        blob = bytearray(base)
        for _ in range(rng.randrange(1, 4)):
            pos = rng.randrange(len(blob))
            blob[pos] ^= 1 << rng.randrange(8)
        _agree(codec, bytes(blob))

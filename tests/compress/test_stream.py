"""The streaming API: any chunking of input gives a stream zlib accepts, and our streaming
decoder accepts zlib's output fed in arbitrary pieces."""

from __future__ import annotations

import random
import zlib

import pytest

from plugins.compress import corpus

WBITS = {"raw": -15, "zlib": 15, "gzip": 31}


def _chunks(data: bytes, rng: random.Random) -> list[bytes]:
    out, i = [], 0
    while i < len(data):
        n = rng.choice((1, 7, 100, 4096, 65536))
        out.append(data[i:i + n])
        i += n
    return out


@pytest.mark.parametrize("fmt", list(WBITS))
def test_streamed_compression_is_valid(codec, fmt: str) -> None:
    data = corpus.build("source", 200_000)
    rng = random.Random(3)
    co = codec.compressobj(6, fmt)
    blob = b"".join(co.compress(c) for c in _chunks(data, rng)) + co.flush()
    assert zlib.decompress(blob, WBITS[fmt]) == data


def test_sync_flush_makes_prefix_decodable(codec) -> None:
    co = codec.compressobj(6, "raw")
    first = co.compress(b"hello, streaming world\n" * 50) + co.flush("sync")
    d = zlib.decompressobj(-15)
    assert d.decompress(first) == b"hello, streaming world\n" * 50
    rest = co.compress(b"more") + co.flush()
    assert d.decompress(rest) == b"more"


@pytest.mark.parametrize("fmt", list(WBITS))
def test_streamed_decompression_of_zlib_output(codec, fmt: str) -> None:
    data = corpus.build("text", 300_000)
    co = zlib.compressobj(9, zlib.DEFLATED, WBITS[fmt])
    blob = co.compress(data) + co.flush()
    rng = random.Random(5)
    d = codec.decompressobj(fmt)
    out = b"".join(d.decompress(c) for c in _chunks(blob + b"TRAILER", rng))
    assert out == data and d.eof and d.unused_data == b"TRAILER"

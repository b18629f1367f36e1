"""Adler-32 (RFC 1950) and CRC-32 (RFC 1952) agree with zlib's, including chaining."""

from __future__ import annotations

import zlib

import pytest

from plugins.compress import corpus


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 5551, 5552, 5553, 65536, 1_000_003])
def test_checksums_match_zlib(codec, size: int) -> None:
    data = corpus.build("binary", size)
    assert codec.adler32(data) == zlib.adler32(data)
    assert codec.crc32(data) == zlib.crc32(data)


def test_checksums_chain(codec) -> None:
    a, b = corpus.build("text", 10_000), corpus.build("random", 7_777)
    assert codec.adler32(b, codec.adler32(a)) == zlib.adler32(a + b)
    assert codec.crc32(b, codec.crc32(a)) == zlib.crc32(a + b)



def test_known_answer_values(codec) -> None:
    assert codec.adler32(b"Wikipedia") == 0x11E60398
    assert codec.crc32(b"123456789") == 0xCBF43926  # the CRC-32 check value

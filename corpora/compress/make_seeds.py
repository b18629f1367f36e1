"""Write the seed corpora of the compress fuzz targets (plugins/compress/fuzz.py).

Usage: ``python corpora/compress/make_seeds.py [OUT_DIR]`` (default: this script's folder).
Writes ``inflate/``, ``roundtrip/`` and ``gzip_header/`` under OUT_DIR, each with its seeds
and a ``README.md`` listing what every seed is and how it was made; files from earlier runs
that are no longer produced are removed.

Deterministic: the inputs are texts written out here and bytes from seeded generators; the
streams come from Python's ``zlib``/``gzip`` (``mtime=0``) or are assembled by hand following
RFC 1951/1952, so the same zlib version always writes the same bytes (another zlib version
may choose other encodings of the same data, which are equally valid seeds).  Every seed is
smaller than 4 KiB.
"""

from __future__ import annotations

import gzip
import random
import struct
import sys
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
MAX_SEED = 4096
LIMIT = 1 << 20  # plugins.compress.fuzz.LIMIT (not imported: the script runs stand-alone)
RAW, ZLIB, GZIP = b"\x00", b"\x01", b"\x02"  # the inflate target's framing byte (mod 3)

PROSE = (
    b"A compressed data set consists of a series of blocks, corresponding to successive "
    b"blocks of input data. The block sizes are arbitrary, except that non-compressible "
    b"blocks are limited to 65,535 bytes. Each block is compressed using a combination of "
    b"the LZ77 algorithm and Huffman coding. The Huffman trees for each block are "
    b"independent of those for previous or subsequent blocks; the LZ77 algorithm may use a "
    b"reference to a duplicated string occurring in a previous block, up to 32K input "
    b"bytes before.\n"
)
HELLO = b"hello, hello, hello world\n"


def words(n: int, seed: int) -> bytes:
    """``n`` bytes of pseudo-English: words drawn by a seeded generator (dynamic Huffman
    blocks need a skewed symbol distribution with some repeats)."""
    vocab = PROSE.replace(b",", b"").replace(b".", b"").split()
    rng = random.Random(seed)
    out = bytearray()
    while len(out) < n:
        out += vocab[rng.randrange(len(vocab))] + (b"\n" if rng.randrange(12) == 0 else b" ")
    return bytes(out[:n])


def deflate(data: bytes, level: int = 6, wbits: int = -15, strategy: int = 0) -> bytes:
    """``data`` compressed by zlib in the container selected by ``wbits``."""
    co = zlib.compressobj(level, zlib.DEFLATED, wbits, 9, strategy)
    return co.compress(data) + co.flush()


def deflate_pieces(pieces: list[tuple[bytes, int]], level: int = 6, wbits: int = -15) -> bytes:
    """Raw/zlib stream of ``pieces``, each followed by its zlib flush mode."""
    co = zlib.compressobj(level, zlib.DEFLATED, wbits)
    out = b""
    for data, mode in pieces:
        out += co.compress(data) + co.flush(mode)
    return out


def gzip_member(payload: bytes, *, flags: int = 0, extra: bytes | None = None,
                name: bytes | None = None, comment: bytes | None = None, hcrc: bool = False,
                bad_hcrc: bool = False, level: int = 6, xfl: int = 0, os_byte: int = 3,
                mtime: int = 0) -> bytes:
    """One RFC 1952 member assembled by hand: header (FLG bits set for the optional fields
    given, plus ``flags``), raw DEFLATE body from zlib, CRC32 and ISIZE trailer."""
    flg = flags | (0x04 if extra is not None else 0) | (0x08 if name is not None else 0) \
        | (0x10 if comment is not None else 0) | (0x02 if hcrc else 0)
    head = b"\x1f\x8b\x08" + bytes([flg]) + struct.pack("<I", mtime) + bytes([xfl, os_byte])
    if extra is not None:
        head += struct.pack("<H", len(extra)) + extra
    if name is not None:
        head += name + b"\x00"
    if comment is not None:
        head += comment + b"\x00"
    if hcrc:
        crc = zlib.crc32(head) & 0xFFFF
        head += struct.pack("<H", crc ^ (0x5A5A if bad_hcrc else 0))
    trailer = struct.pack("<II", zlib.crc32(payload), len(payload) & 0xFFFFFFFF)
    return head + deflate(payload, level) + trailer


def subfield(si: bytes, data: bytes) -> bytes:
    """An FEXTRA subfield: SI1 SI2, LEN (little-endian), data (RFC 1952 section 2.3.1.1)."""
    return si + struct.pack("<H", len(data)) + data


def fdp_input(payload: bytes, ints: list[tuple[int, int, int]]) -> bytes:
    """Bytes that make an atheris FuzzedDataProvider return ``ints`` (value, lo, hi), in order,
    from ``ConsumeIntInRange(lo, hi)`` and then ``payload`` from ``ConsumeBytes``.

    The provider takes integers from the end of the input -- ceil(bits(hi - lo) / 8) bytes
    each, the first taken (the last byte) most significant, value = lo + n % (hi - lo + 1) --
    and bytes from the front.
    """
    tail = []
    for value, lo, hi in ints:
        assert lo <= value <= hi
        size = ((hi - lo).bit_length() + 7) // 8
        tail.append((value - lo).to_bytes(size, "little"))
    return payload + b"".join(reversed(tail))


def roundtrip_input(payload: bytes, *, level: int, fmt: int,
                    chunks: tuple[tuple[int, bool], ...] = (),
                    dsizes: tuple[int, ...] = (), scale: int = 0) -> bytes:
    """A ``roundtrip`` input making its provider choose: ``level``, framing ``fmt`` (0 raw,
    1 zlib, 2 gzip), compression cuts ``chunks`` (position, sync flush after it),
    decompression piece sizes ``dsizes``, payload repeated ``2**scale`` times."""
    ints = [(level, 0, 9), (fmt, 0, 2), (len(chunks), 0, 15)]
    for cut, sync in chunks:
        ints += [(cut, 0, 0xFFFF), (0 if sync else 1, 0, 3)]
    ints.append((len(dsizes), 0, 7))
    ints += [(n, 1, 4096) for n in dsizes]
    ints.append((scale, 0, 7))
    return fdp_input(payload, ints)


def inflate_seeds() -> list[tuple[str, bytes, str]]:
    """(file name, bytes, description) of the ``inflate`` seeds."""
    text = words(3000, seed=1)
    rng = random.Random(2)
    far = rng.randbytes(700)
    far_input = far + b"ab" * 15800 + far  # the repeat sits 32,300 bytes back (window 32 KiB)
    full = deflate(b"\x00" * LIMIT, 9, 15)
    return [
        ("raw_empty_fixed.bin", RAW + deflate(b""),
         "raw framing; zlib level 6 of b'' (one final fixed block holding only end-of-block)"),
        ("raw_hello_fixed.bin", RAW + deflate(HELLO),
         "raw; zlib level 6 of a 26-byte line (fixed-Huffman block with a match)"),
        ("raw_text_dynamic.bin", RAW + deflate(text, 9),
         "raw; zlib level 9 of 3000 bytes of seeded pseudo-English (dynamic-Huffman block)"),
        ("raw_text_stored.bin", RAW + deflate(PROSE, 0),
         "raw; zlib level 0 of the RFC 1951 prose paragraph (stored block)"),
        ("raw_huffman_only.bin", RAW + deflate(text[:1500], 6, -15, zlib.Z_HUFFMAN_ONLY),
         "raw; zlib Z_HUFFMAN_ONLY of 1500 bytes of pseudo-English (literals only)"),
        ("raw_sync_full_flush.bin",
         RAW + deflate_pieces([(PROSE[:200], zlib.Z_SYNC_FLUSH), (PROSE[200:], zlib.Z_FULL_FLUSH),
                               (HELLO, zlib.Z_FINISH)]),
         "raw; three pieces ended by Z_SYNC_FLUSH, Z_FULL_FLUSH, Z_FINISH (empty stored "
         "blocks between blocks)"),
        ("raw_far_distance.bin", RAW + deflate(far_input, 9),
         "raw; level 9 of 700 seeded random bytes, 31,600 bytes of 'ab', the 700 bytes again "
         "(a match near the 32 KiB window limit)"),
        ("zlib_empty.bin", ZLIB + deflate(b"", 6, 15),
         "zlib framing (header 78 9c); zlib level 6 of b''"),
        ("zlib_small_window.bin", ZLIB + deflate(text[:1000], 9, 9),
         "zlib; wbits=9 (CINFO 1, 512-byte window) level 9 of 1000 pseudo-English bytes"),
        ("zlib_zeros_exactly_limit.bin", ZLIB + full,
         "zlib; level 9 of 1 MiB of zeros: exactly the 1 MiB output limit (accepted)"),
        ("zlib_zeros_over_limit.bin", ZLIB + deflate(b"\x00" * (LIMIT + 1), 9, 15),
         "zlib; level 9 of 1 MiB + 1 zeros: one byte over the limit (both sides reject)"),
        ("zlib_truncated.bin", ZLIB + deflate(PROSE, 6, 15)[:-3],
         "zlib; the prose paragraph at level 6 less its last 3 bytes (truncated: reject)"),
        ("zlib_trailing_garbage.bin", ZLIB + deflate(HELLO, 6, 15) + b"JUNK",
         "zlib; the hello line followed by 4 bytes 'JUNK' (trailing data: reject)"),
        ("gzip_text.bin", GZIP + gzip.compress(PROSE, 6, mtime=0),
         "gzip framing; Python gzip.compress(prose, 6, mtime=0)"),
        ("gzip_fname_fhcrc.bin", GZIP + gzip_member(HELLO, name=b"hello.txt", hcrc=True),
         "gzip; hand-built member with FNAME 'hello.txt' and FHCRC, body zlib level 6"),
    ]


def roundtrip_seeds() -> list[tuple[str, bytes, str]]:
    """(file name, bytes, description) of the ``roundtrip`` seeds."""
    text = words(2000, seed=3)
    noise = random.Random(4).randbytes(1500)
    return [
        ("empty.bin", b"",
         "the empty input: level 0, raw, no chunks, empty payload"),
        ("level6_zlib_text.bin", roundtrip_input(PROSE, level=6, fmt=1),
         "level 6, zlib, prose paragraph in one piece, decoded in one piece"),
        ("level0_raw_stored_chunks.bin",
         roundtrip_input(PROSE, level=0, fmt=0, chunks=((10, False), (100, False), (300, False)),
                         dsizes=(7,)),
         "level 0 (stored), raw, prose cut at 10/100/300, decoded 7 bytes at a time"),
        ("level1_gzip_sync_flushes.bin",
         roundtrip_input(text, level=1, fmt=2, chunks=((1, True), (500, True), (1999, True)),
                         dsizes=(1, 64, 1000)),
         "level 1, gzip, 2000 pseudo-English bytes with sync flushes after 1, 500, 1999 "
         "bytes, decoded in pieces of 1, 64, 1000 bytes"),
        ("level9_zlib_repeat128.bin", roundtrip_input(words(2200, seed=5), level=9, fmt=1,
                                                      scale=7),
         "level 9, zlib, 2200 pseudo-English bytes repeated 128 times (275 KiB: slides the "
         "256 KiB compression window and the 128 KiB decompression window)"),
        ("level9_raw_bytewise_decode.bin",
         roundtrip_input(HELLO * 4, level=9, fmt=0, dsizes=(1, 2, 3)),
         "level 9, raw, the hello line 4 times, decoded 1, 2, 3 bytes at a time"),
        ("level5_gzip_noise.bin",
         roundtrip_input(noise, level=5, fmt=2, chunks=((700, False),), dsizes=(4096,)),
         "level 5, gzip, 1500 seeded random bytes (incompressible: stored blocks)"),
        ("level4_zlib_empty_chunks_syncs.bin",
         roundtrip_input(HELLO, level=4, fmt=1,
                         chunks=((0, True), (0, True), (13, True), (13, False), (26, True))),
         "level 4, zlib, the hello line with empty chunks and back-to-back sync flushes "
         "(at 0, 0, 13, 13, 26)"),
        ("level2_raw_repeat_noise.bin",
         roundtrip_input(noise[:300], level=2, fmt=0, chunks=((40000, True),), scale=6,
                         dsizes=(333,)),
         "level 2, raw, 300 random bytes repeated 64 times, sync flush mid-stream, decoded "
         "333 bytes at a time"),
    ]


def gzip_header_seeds() -> list[tuple[str, bytes, str]]:
    """(file name, bytes, description) of the ``gzip_header`` seeds."""
    extra = subfield(b"AP", b"apollo") + subfield(b"LX", b"\x00\x01\x02\x03")
    return [
        ("plain.gz", gzip_member(HELLO),
         "no optional fields (FLG 0), OS 3, body zlib level 6 of the hello line"),
        ("python_gzip_module.gz", gzip.compress(PROSE, 9, mtime=0),
         "Python gzip.compress(prose, 9, mtime=0) (XFL 2)"),
        ("empty_payload.gz", gzip_member(b""),
         "empty payload: CRC32 0, ISIZE 0"),
        ("fname.gz", gzip_member(HELLO, name=b"hello.txt"), "FNAME 'hello.txt'"),
        ("fcomment.gz", gzip_member(HELLO, comment=b"a comment, zero terminated"),
         "FCOMMENT"),
        ("fextra_subfields.gz", gzip_member(HELLO, extra=extra),
         "FEXTRA with two subfields ('AP' 6 bytes, 'LX' 4 bytes)"),
        ("fextra_xlen0.gz", gzip_member(HELLO, extra=b""), "FEXTRA with XLEN 0"),
        ("fhcrc.gz", gzip_member(HELLO, hcrc=True), "FHCRC over the 10-byte fixed header"),
        ("all_fields.gz",
         gzip_member(PROSE, flags=0x01, extra=extra, name=b"prose.txt", comment=b"RFC 1951",
                     hcrc=True, mtime=0x5F5E1000, xfl=2, os_byte=255),
         "FTEXT, FEXTRA, FNAME, FCOMMENT, FHCRC together, MTIME set, XFL 2, OS 255"),
        ("long_name_600.gz", gzip_member(HELLO, name=b"n" * 600),
         "a 600-byte FNAME: the header crosses the target's byte-at-a-time feeding boundary "
         "(512)"),
        ("stored_body.gz", gzip_member(PROSE, level=0, name=b"stored"),
         "FNAME, body zlib level 0 (stored block)"),
        ("bad_hcrc.gz", gzip_member(HELLO, name=b"x", hcrc=True, bad_hcrc=True),
         "FHCRC that does not match the header (both sides reject)"),
        ("reserved_flag.gz", gzip_member(HELLO, flags=0x20),
         "reserved FLG bit 5 set (both sides reject)"),
        ("two_members.gz", gzip_member(b"one\n") + gzip_member(b"two\n", name=b"2"),
         "two members (one member per stream by contract: both sides reject)"),
    ]


TARGETS = {
    "inflate": (inflate_seeds, "Input byte 0 selects the framing (0 raw, 1 zlib, 2 gzip; taken "
                               "mod 3), the rest is the compressed stream."),
    "roundtrip": (roundtrip_seeds, "Structured target: the integers are read from the end of "
                                   "the input by atheris' FuzzedDataProvider, the payload from "
                                   "the front (see `roundtrip_input` in make_seeds.py)."),
    "gzip_header": (gzip_header_seeds, "Each file is one input to the target: a gzip member "
                                       "(RFC 1952)."),
}


def write(out: Path) -> None:
    """Write every target's seeds and README under ``out``."""
    for target, (make, about) in TARGETS.items():
        folder = out / target
        folder.mkdir(parents=True, exist_ok=True)
        seeds = make()
        names = {name for name, _, _ in seeds}
        assert len(names) == len(seeds), f"{target}: duplicate seed names"
        for stale in folder.iterdir():
            if stale.is_file() and stale.name != "README.md" and stale.name not in names:
                stale.unlink()
        lines = [f"# Seeds of the compress `{target}` fuzz target", "",
                 f"Generated by `corpora/compress/make_seeds.py` (Python zlib "
                 f"{zlib.ZLIB_RUNTIME_VERSION}); do not edit by hand, rerun the script. "
                 f"{about}", "", "| seed | bytes | what it is |", "|---|---|---|"]
        for name, data, what in seeds:
            assert len(data) < MAX_SEED, f"{target}/{name} is {len(data)} bytes"
            (folder / name).write_bytes(data)
            lines.append(f"| `{name}` | {len(data)} | {what} |")
        (folder / "README.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else HERE
    write(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

"""The compress fuzz targets (plugins/compress/fuzz.py), run in-process without a fuzzer: on
every seed of corpora/compress and on hand-made hostile inputs, each target and its oracle must
agree, with the verdict the input calls for (a corrupted stream rejected by both, a valid one
accepted by both with the same bytes); the roundtrip invariants must hold on every seed and must
fire on a broken round trip."""

from __future__ import annotations

import random
import shutil
import struct
import subprocess
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import lab
from labtest import FLAVOR, ROOT, SANITIZED
from plugins.compress.fuzz import (
    FUZZ_TARGETS,
    LIMIT,
    RoundTrip,
    exact_roundtrip,
    zlib_reads_our_stream,
)

CORPORA = ROOT / "corpora" / "compress"
REJECTED = "rejected"
TARGETS = {t.name: t for t in FUZZ_TARGETS}


def _seeds(target: str) -> list[Path]:
    return sorted(p for p in (CORPORA / target).iterdir() if p.name != "README.md")


@pytest.fixture(scope="session")
def system() -> lab.System:
    from lab.host import get_host

    return get_host().systems()["compress"]


@pytest.fixture(scope="session")
def ctx(system: lab.System) -> lab.LoadContext:
    from lab import native

    return lab.LoadContext(system, FLAVOR, build=lambda r: native.load(system, r, FLAVOR))


class Counted:
    """Wraps a function and counts its calls (to prove the oracle really ran)."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn, self.calls = fn, 0

    def __call__(self, arg: Any) -> Any:
        self.calls += 1
        return self.fn(arg)


def _outcome(fn: Callable[[Any], Any], arg: Any) -> Any:
    try:
        return fn(arg)
    except lab.Reject:
        return REJECTED


class Pair:
    """A target and its (counted) oracle, loaded once per test."""

    def __init__(self, name: str, ctx: lab.LoadContext) -> None:
        target = TARGETS[name]
        assert target.oracle is not None
        self.under_test = target.load(ctx)
        self.oracle = Counted(target.oracle(ctx))

    def verdict(self, data: bytes) -> Any:
        """The common outcome (bytes or REJECTED); fails when target and oracle disagree."""
        out, ref = _outcome(self.under_test, data), _outcome(self.oracle, data)
        if out is REJECTED or ref is REJECTED:
            assert out is ref, f"target {_show(out)}, oracle {_show(ref)} on {data[:24].hex()}"
        else:
            assert out == ref, f"outputs differ on {data[:24].hex()}"
        return out


def _show(value: Any) -> str:
    return REJECTED if value is REJECTED else f"accepted {len(value)} bytes"


# ----------------------------------------------------------------------- declarations


def test_targets_are_declared_and_valid(system: lab.System) -> None:
    from lab.model import validate_system

    assert [t.name for t in system.fuzz_targets] == ["inflate", "roundtrip", "gzip_header"]
    assert "fuzz" in system.offers
    assert validate_system(system) == []
    for t in FUZZ_TARGETS:
        assert t.recipe == "compress" and 4096 <= t.max_len <= 65536
        assert (CORPORA / t.name / "README.md").is_file() and len(_seeds(t.name)) >= 5
        assert all(p.stat().st_size < 4096 for p in _seeds(t.name))
    assert TARGETS["roundtrip"].structured and TARGETS["roundtrip"].invariants
    assert TARGETS["inflate"].raw_libraries == ("z",)
    assert (ROOT / "targets" / "compress" / TARGETS["inflate"].raw_harness).is_file()


def test_seed_script_reproduces_the_seeds(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_seeds", CORPORA / "make_seeds.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write(tmp_path)
    for target in TARGETS:
        made = sorted(p.name for p in (tmp_path / target).iterdir())
        assert made == sorted(p.name for p in (CORPORA / target).iterdir())
        readme = (CORPORA / target / "README.md").read_text()
        if f"Python zlib {zlib.ZLIB_RUNTIME_VERSION})" not in readme:
            continue  # another zlib may encode the same data differently
        for name in made:
            assert (tmp_path / target / name).read_bytes() == \
                (CORPORA / target / name).read_bytes(), f"{target}/{name} is stale"


# ----------------------------------------------------------------------- inflate

# seeds that must be rejected by both sides; every other seed must be accepted by both
INFLATE_REJECTED = {"zlib_zeros_over_limit.bin", "zlib_truncated.bin",
                    "zlib_trailing_garbage.bin"}


@pytest.mark.parametrize("seed", _seeds("inflate"), ids=lambda p: p.name)
def test_inflate_seed_agrees_with_zlib(ctx: lab.LoadContext, seed: Path) -> None:
    pair = Pair("inflate", ctx)
    verdict = pair.verdict(seed.read_bytes())
    assert pair.oracle.calls == 1
    if seed.name in INFLATE_REJECTED:
        assert verdict is REJECTED
    else:
        assert verdict is not REJECTED
    if seed.name == "zlib_zeros_exactly_limit.bin":
        assert verdict == b"\x00" * LIMIT


def _bits(*fields: tuple[int, int, bool]) -> bytes:
    """Pack (value, width, huffman) fields LSB first (RFC 1951 section 3.1.1): Huffman codes
    go most significant bit first, every other field least significant bit first."""
    acc, n = 0, 0
    for value, width, huffman in fields:
        for i in range(width):
            bit = (value >> (width - 1 - i)) & 1 if huffman else (value >> i) & 1
            acc |= bit << n
            n += 1
    return acc.to_bytes((n + 7) // 8, "little")


FIXED_FINAL = ((1, 1, False), (1, 2, False))  # BFINAL=1, BTYPE=01
EOB = (0, 7, True)  # fixed code of symbol 256
LIT_A = (0x30 + ord("a"), 8, True)  # fixed code of literal 0x61
LEN3 = (1, 7, True)  # fixed code of symbol 257 (length 3)


def _zlib(data: bytes, level: int = 6) -> bytes:
    return zlib.compress(data, level)


def _gzip(data: bytes) -> bytes:
    co = zlib.compressobj(6, zlib.DEFLATED, 31)
    return co.compress(data) + co.flush()


def _flip(blob: bytes, at: int, mask: int = 0x01) -> bytes:
    return blob[:at] + bytes([blob[at] ^ mask]) + blob[at + 1:]


TEXT = b"the quick brown fox jumps over the lazy dog; " * 40

HOSTILE_REJECTED = {
    "empty input": b"",
    "raw: no stream": b"\x00",
    "raw: block type 3": b"\x00\x07",
    "raw: stored LEN/NLEN mismatch": b"\x00\x01\x05\x00\x00\x00hello",
    "raw: stored block truncated": b"\x00\x01\x05\x00\xfa\xffhel",
    "raw: final stored block then a byte": b"\x00\x01\x00\x00\xff\xff\x00",
    "raw: match before any output": b"\x00" + _bits(*FIXED_FINAL, LEN3, (0, 5, True), EOB),
    "raw: match too far back": b"\x00" + _bits(*FIXED_FINAL, LIT_A, LEN3, (2, 5, True), EOB),
    "raw: distance code 30": b"\x00" + _bits(*FIXED_FINAL, LIT_A, LEN3, (30, 5, True), EOB),
    "raw: literal/length 286": b"\x00" + _bits(*FIXED_FINAL, (0xC6, 8, True), EOB),
    "raw: no end-of-block": b"\x00" + _bits(*FIXED_FINAL, LIT_A, LIT_A),
    "raw: stream without final block": b"\x00\x00\x00\x00\xff\xff",
    "zlib: bad FCHECK": b"\x01\x78\x9d" + _zlib(TEXT)[2:],
    "zlib: CM 7": b"\x01\x77\x9c" + _zlib(TEXT)[2:],
    "zlib: CINFO 8": b"\x01\x88\x98" + zlib.compress(TEXT)[2:],
    "zlib: FDICT": b"\x01\x78\xbb\x00\x00\x00\x01" + _zlib(TEXT)[2:],
    "zlib: corrupted Adler-32": b"\x01" + _flip(_zlib(TEXT), len(_zlib(TEXT)) - 1),
    "zlib: corrupted body": b"\x01" + _flip(_zlib(TEXT), 20, 0xFF),
    "zlib: header only": b"\x01\x78\x9c",
    "zlib: trailer cut short": b"\x01" + _zlib(TEXT)[:-1],
    "zlib: second stream after the first": b"\x01" + _zlib(b"a") + _zlib(b"b"),
    "zlib: one byte over the limit": b"\x01" + _zlib(b"\x00" * (LIMIT + 1), 9),
    "zlib: bomb far over the limit": b"\x01" + _zlib(b"\x00" * (8 * LIMIT), 9),
    "gzip: bad magic": b"\x02\x1f\x8c" + _gzip(TEXT)[2:],
    "gzip: CM 7": b"\x02\x1f\x8b\x07" + _gzip(TEXT)[3:],
    "gzip: reserved flag": b"\x02\x1f\x8b\x08\x80" + _gzip(TEXT)[4:],
    "gzip: corrupted CRC-32": b"\x02" + _flip(_gzip(TEXT), len(_gzip(TEXT)) - 8),
    "gzip: wrong ISIZE": b"\x02" + _flip(_gzip(TEXT), len(_gzip(TEXT)) - 4),
    "gzip: two members": b"\x02" + _gzip(b"one") + _gzip(b"two"),
    "gzip: header cut in FNAME": b"\x02\x1f\x8b\x08\x08\x00\x00\x00\x00\x00\x03name",
}

HOSTILE_ACCEPTED = {
    "raw: empty fixed block": (b"\x00\x03\x00", b""),
    "raw: 'a' then a match of distance 1": (
        b"\x00" + _bits(*FIXED_FINAL, LIT_A, LEN3, (0, 5, True), EOB), b"aaaa"),
    "raw: framing byte 3 is raw too": (b"\x03\x03\x00", b""),
    "raw: stored then fixed": (b"\x00\x00\x02\x00\xfd\xffhi\x03\x00", b"hi"),
    "zlib: CINFO 0 header": (b"\x01\x08\x1d" + zlib.compress(b"x")[2:], b"x"),
    "zlib: level 0": (b"\x01" + _zlib(TEXT, 0), TEXT),
    "zlib: exactly the limit": (b"\x01" + _zlib(b"\x00" * LIMIT, 9), b"\x00" * LIMIT),
    "gzip: member": (b"\x02" + _gzip(TEXT), TEXT),
    "gzip: framing byte 5 is gzip": (b"\x05" + _gzip(b"z"), b"z"),
}


@pytest.mark.parametrize("name", list(HOSTILE_REJECTED))
def test_inflate_hostile_input_is_rejected_by_both(ctx: lab.LoadContext, name: str) -> None:
    pair = Pair("inflate", ctx)
    assert pair.verdict(HOSTILE_REJECTED[name]) is REJECTED
    assert pair.oracle.calls == 1


@pytest.mark.parametrize("name", list(HOSTILE_ACCEPTED))
def test_inflate_valid_input_is_accepted_by_both(ctx: lab.LoadContext, name: str) -> None:
    data, expected = HOSTILE_ACCEPTED[name]
    pair = Pair("inflate", ctx)
    assert pair.verdict(data) == expected
    assert pair.oracle.calls == 1


def test_inflate_agrees_on_mutated_seeds(ctx: lab.LoadContext) -> None:
    """A few hundred seeded random mutations (bit flips, cuts, splices) of the seeds."""
    pair = Pair("inflate", ctx)
    seeds = [p.read_bytes() for p in _seeds("inflate")]
    rng = random.Random(1951)
    rejected = accepted = 0
    for _ in range(100 if SANITIZED else 400):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randrange(1, 4)):
            op = rng.randrange(3)
            if op == 0 and len(data) > 1:
                data[rng.randrange(1, len(data))] ^= 1 << rng.randrange(8)
            elif op == 1:
                del data[rng.randrange(len(data) + 1):]
            else:
                data[rng.randrange(len(data) + 1):] = rng.choice(seeds)[1:]
        if pair.verdict(bytes(data)) is REJECTED:
            rejected += 1
        else:
            accepted += 1
    assert rejected and accepted  # the mutations exercised both verdicts
    assert pair.oracle.calls == rejected + accepted


# ----------------------------------------------------------------------- gzip_header

GZIP_REJECTED = {"bad_hcrc.gz", "reserved_flag.gz", "two_members.gz"}


@pytest.mark.parametrize("seed", _seeds("gzip_header"), ids=lambda p: p.name)
def test_gzip_header_seed_agrees_with_zlib(ctx: lab.LoadContext, seed: Path) -> None:
    pair = Pair("gzip_header", ctx)
    verdict = pair.verdict(seed.read_bytes())
    assert pair.oracle.calls == 1
    if seed.name in GZIP_REJECTED:
        assert verdict is REJECTED
    else:
        assert verdict is not REJECTED


def test_gzip_header_every_truncation_is_rejected(ctx: lab.LoadContext) -> None:
    pair = Pair("gzip_header", ctx)
    member = (CORPORA / "gzip_header" / "all_fields.gz").read_bytes()
    assert pair.verdict(member) is not REJECTED
    cuts = list(range(0, 100)) + list(range(100, len(member), 17 if SANITIZED else 3))
    for cut in cuts:
        assert pair.verdict(member[:cut]) is REJECTED, f"prefix of {cut} bytes accepted"
    assert pair.oracle.calls == 1 + len(cuts)


def test_gzip_header_byte_flips_agree(ctx: lab.LoadContext) -> None:
    """Every header byte of two members, each flipped two ways: both sides agree.  Flips of
    the magic, CM or FHCRC value are rejected; without FHCRC an MTIME flip is harmless."""
    pair = Pair("gzip_header", ctx)
    for seed, header_end in (("all_fields.gz", b"RFC 1951\x00"), ("fname.gz", b"hello.txt\x00")):
        member = (CORPORA / "gzip_header" / seed).read_bytes()
        header_len = member.index(header_end) + len(header_end) + (2 if seed == "all_fields.gz"
                                                                    else 0)
        outcomes = {(at, mask): pair.verdict(_flip(member, at, mask))
                    for at in range(header_len) for mask in (0x01, 0xFF)}
        for at in (0, 1, 2):
            assert outcomes[at, 0x01] is REJECTED and outcomes[at, 0xFF] is REJECTED
        if seed == "all_fields.gz":
            assert outcomes[header_len - 1, 0x01] is REJECTED  # FHCRC
            assert outcomes[5, 0x01] is REJECTED  # MTIME, covered by FHCRC
        else:
            assert outcomes[5, 0x01] is not REJECTED
    assert pair.oracle.calls > 100


def test_gzip_header_fields_split_across_feeding_boundary(ctx: lab.LoadContext) -> None:
    """Headers longer than the byte-by-byte prefix: the split falls inside FEXTRA, FNAME and
    FCOMMENT in turn."""
    pair = Pair("gzip_header", ctx)
    payload = b"payload\n" * 10
    body = zlib.compressobj(6, zlib.DEFLATED, -15)
    deflated = body.compress(payload) + body.flush()
    trailer = struct.pack("<II", zlib.crc32(payload), len(payload))
    for flg, fields in ((0x04, struct.pack("<H", 1000) + bytes(1000)),
                        (0x08, b"n" * 700 + b"\x00"),
                        (0x18, b"n" * 400 + b"\x00" + b"c" * 400 + b"\x00")):
        member = b"\x1f\x8b\x08" + bytes([flg]) + bytes(6) + fields + deflated + trailer
        assert pair.verdict(member) == payload


# ----------------------------------------------------------------------- roundtrip


def _roundtrip(ctx: lab.LoadContext) -> Callable[[bytes], RoundTrip]:
    import atheris

    fn = TARGETS["roundtrip"].load(ctx)

    def run(data: bytes) -> RoundTrip:
        rt = fn(atheris.FuzzedDataProvider(data))
        for check in TARGETS["roundtrip"].invariants:
            check(data, rt)
        return rt

    return run


def test_roundtrip_seeds_hold_and_cover_the_choices(ctx: lab.LoadContext) -> None:
    run = _roundtrip(ctx)
    results = [run(p.read_bytes()) for p in _seeds("roundtrip")]
    assert {rt.fmt for rt in results} == {"raw", "zlib", "gzip"}
    assert {0, 9} <= {rt.level for rt in results}
    assert any(len(rt.syncs) >= 3 for rt in results)
    assert any(len(rt.payload) > 256 << 10 for rt in results)  # slides both windows
    assert all(rt.decompressed == rt.payload for rt in results)


def test_roundtrip_random_inputs_hold(ctx: lab.LoadContext) -> None:
    run = _roundtrip(ctx)
    rng = random.Random(1952)
    for _ in range(40 if SANITIZED else 150):
        size = rng.choice((0, 1, 5, 40, 300, 2000, 9000))
        base = rng.randbytes(size) if rng.randrange(2) else bytes(rng.choice(b"ab\n") for _ in
                                                                range(size))
        run(base)


def test_roundtrip_invariants_catch_a_broken_round_trip(ctx: lab.LoadContext) -> None:
    run = _roundtrip(ctx)
    good = run((CORPORA / "roundtrip" / "level1_gzip_sync_flushes.bin").read_bytes())
    exact_roundtrip(b"", good)
    zlib_reads_our_stream(b"", good)
    broken = [
        RoundTrip(**{**good.__dict__, "decompressed": good.decompressed[:-1] + b"?"}),
        RoundTrip(**{**good.__dict__, "eof": False}),
        RoundTrip(**{**good.__dict__, "unused": b"x"}),
        RoundTrip(**{**good.__dict__, "error": "decompressing: CompressError: boom"}),
    ]
    for rt in broken:
        with pytest.raises(AssertionError):
            exact_roundtrip(b"", rt)
    bad_stream = RoundTrip(**{**good.__dict__, "compressed": _flip(good.compressed, 40, 0xFF)})
    bad_trailer = RoundTrip(**{**good.__dict__, "compressed": good.compressed[:-1] + b"\x00"
                               if good.compressed[-1] else good.compressed[:-1] + b"\x01"})
    bad_sync = RoundTrip(**{**good.__dict__,
                            "syncs": [(c, p + 1) for c, p in good.syncs]})
    for rt in (bad_stream, bad_trailer, bad_sync):
        with pytest.raises(AssertionError):
            zlib_reads_our_stream(b"", rt)


# ----------------------------------------------------------------------- raw harness


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_raw_harness_compiles_warning_free(tmp_path: Path) -> None:
    if subprocess.run(["cc", "-E", "-x", "c", "-", "-o", "/dev/null"], input="#include <zlib.h>",
                      text=True, capture_output=True).returncode != 0:
        pytest.skip("zlib.h is not installed")
    src = ROOT / "targets" / "compress"
    proc = subprocess.run(
        ["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-I", str(src),
         str(src / TARGETS["inflate"].raw_harness)],
        capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr

"""The compress system: DEFLATE (RFC 1951) with zlib/gzip framing, against zlib, libdeflate
and the other general-purpose compressors a user would reach for.

Table of contents: one cffi recipe (``targets/compress``), eight implementations, two
workloads (compress: MB/s and ratio; decompress: MB/s), on the corpus in ``corpus.py``.

Test only: ``CZ_TEST_SLOWDOWN=F`` (a fraction, 0 < F <= 1) in the environment when this
plugin is imported builds the core with ``-DCZ_TEST_SLOWDOWN_PPM=round(F * 1e6)``
(``targets/compress/slowdown.c``): every compression then also runs a deterministic busy loop
costing F of the work (calibrated on the quick compress benchmark, on both the instruction and
the wall channel) and produces the same output. ``lab ci``'s detector tests use it as a known,
injected regression; the flag is part of the build cache key, so the two builds never mix.
Unset or empty: the normal build. Any other value makes the plugin fail to load, with a
one-line reason.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Mapping
from typing import Any

import lab
from plugins.compress import corpus
from plugins.compress.fuzz import FUZZ_TARGETS
from plugins.compress.references import (
    Brotli,
    Bz2,
    Libdeflate,
    Lz4,
    Lzma,
    Ours,
    Zlib,
    Zstd,
    version_of,
)

SLOWDOWN_VAR = "CZ_TEST_SLOWDOWN"


def slowdown_cflags(value: str | None) -> tuple[str, ...]:
    """The extra cflags for a ``$CZ_TEST_SLOWDOWN`` value: none when unset or empty, else
    ``-DCZ_TEST_SLOWDOWN_PPM=<round(F * 1e6)>``; ValueError (one line naming the variable,
    the value and what is valid) for anything but a fraction 0 < F <= 1."""
    if value is None or not value.strip():
        return ()
    try:
        fraction = float(value)
    except ValueError:
        fraction = float("nan")
    ppm = round(fraction * 1e6) if 0 < fraction <= 1 else 0
    if ppm <= 0:
        raise ValueError(f"{SLOWDOWN_VAR}={value!r} is not valid: expected a fraction F with "
                         f"0 < F <= 1 (e.g. 0.05 injects a 5% slowdown; at least 0.000001), "
                         f"or unset/empty for the normal build")
    return (f"-DCZ_TEST_SLOWDOWN_PPM={ppm}",)


# read once, at import: a malformed value makes this plugin fail to load (one line)
SLOWDOWN_CFLAGS = slowdown_cflags(os.environ.get(SLOWDOWN_VAR))

KiB, MiB = 1 << 10, 1 << 20
SIZES = (1 * KiB, 64 * KiB, 1 * MiB, 16 * MiB, 64 * MiB)
LEVELS = tuple(range(1, 10))


def _prepare(params: Mapping[str, Any]) -> bytes:
    return corpus.build(params["corpus"], params["size"])


def _compress_call(obj: Any, data: bytes, params: Mapping[str, Any]) -> Callable[[], object]:
    level = params["level"]
    return lambda: obj.compress(data, level)


def _ratio(obj: Any, data: bytes, params: Mapping[str, Any]) -> dict[str, float]:
    """Compression ratio (input/output), after checking the round trip is exact."""
    blob = obj.compress(data, params["level"])
    if obj.decompress(blob, len(data)) != data:
        raise AssertionError("round trip changed the data")
    return {"ratio": len(data) / max(len(blob), 1)}


def _decompress_call(obj: Any, data: bytes, params: Mapping[str, Any]) -> Callable[[], object]:
    blob = obj.compress(data, params["level"])
    if obj.decompress(blob, len(data)) != data:
        raise AssertionError("round trip changed the data")
    size = len(data)
    return lambda: obj.decompress(blob, size)


COMMON = {"corpus": corpus.KINDS, "level": LEVELS, "size": SIZES}
DEFAULT_SIZES = (1 * KiB, 64 * KiB, 1 * MiB)
QUICK = {"corpus": ("text",), "level": (6,), "size": (64 * KiB,)}

WORKLOADS = (
    lab.Workload(
        name="compress",
        description="compress one buffer (MB/s of uncompressed input; ratio = input/output)",
        params=COMMON, prepare=_prepare, timed=_compress_call,
        metrics=(lab.throughput("size"),), measure=_ratio,
        measured=(lab.Metric("ratio", "x", "higher"),),
        default={"level": (1, 6, 9), "size": DEFAULT_SIZES}, quick=QUICK, size_param="size",
    ),
    lab.Workload(
        name="decompress",
        description="decompress one buffer compressed by the same implementation "
                    "(MB/s of uncompressed output)",
        params=COMMON, prepare=_prepare, timed=_decompress_call,
        metrics=(lab.throughput("size"),),
        default={"level": (6,), "size": DEFAULT_SIZES}, quick=QUICK, size_param="size",
    ),
)

IMPLS = (
    lab.Impl("ours", "this project's DEFLATE core (targets/compress), zlib framing",
             load=Ours, recipes=("compress",)),
    lab.Impl("zlib", "Python's zlib (system zlib " + zlib.ZLIB_RUNTIME_VERSION + ")",
             load=lambda ctx: Zlib(), version=lambda: zlib.ZLIB_RUNTIME_VERSION),
    lab.Impl("libdeflate", "libdeflate via PyPI 'deflate', zlib framing",
             load=lambda ctx: Libdeflate(), requires=(lab.PythonModule("deflate", pip="deflate"),),
             version=lambda: version_of("deflate")),
    lab.Impl("zstd", "Zstandard via PyPI 'zstandard'", load=lambda ctx: Zstd(),
             requires=(lab.PythonModule("zstandard", pip="zstandard"),),
             version=lambda: version_of("zstandard")),
    lab.Impl("lz4", "LZ4 frame via PyPI 'lz4'", load=lambda ctx: Lz4(),
             requires=(lab.PythonModule("lz4", pip="lz4"),), version=lambda: version_of("lz4")),
    lab.Impl("brotli", "Brotli via PyPI 'brotli' (quality = level)", load=lambda ctx: Brotli(),
             requires=(lab.PythonModule("brotli", pip="brotli"),),
             version=lambda: version_of("brotli")),
    lab.Impl("bz2", "Python's bz2 (libbz2)", load=lambda ctx: Bz2()),
    lab.Impl("lzma", "Python's lzma (liblzma, preset = level)", load=lambda ctx: Lzma()),
)

SYSTEM = lab.System(
    name="compress",
    shape="lib",
    description="DEFLATE/zlib/gzip (RFC 1950-1952) in C vs zlib, libdeflate, zstd, lz4, "
                "brotli, bz2, lzma",
    impls=IMPLS,
    workloads=WORKLOADS,
    baseline="zlib",
    recipes=(lab.CffiLib("compress", sources=("*.c",), header="compress.h",
                         cflags=SLOWDOWN_CFLAGS),),
    requires=(lab.Command("cc", apt="gcc"), lab.AptPackage("python3-dev")),
    offers=("bench", "fuzz", "profile"),
    fuzz_targets=FUZZ_TARGETS,
)


@lab.hookimpl
def lab_register_systems() -> list[lab.System]:
    return [SYSTEM]


@lab.hookimpl
def lab_fingerprint_extra(system: lab.System | None) -> dict[str, Any] | None:
    if system is None or system.name != "compress":
        return None
    versions = {i.name: i.version() for i in IMPLS if i.version is not None}
    return {"compress": {"corpus_sha256": corpus.digests(), "versions": versions}}

"""The compress benchmark corpus, built reproducibly from files every Debian machine has.

Five kinds of data, any size from 1 KiB to 64 MiB:
- ``text``: English prose: the license texts in ``/usr/share/common-licenses``, then the
  packages' ``/usr/share/doc/*/copyright`` files (several MiB, so that sizes up to a few MiB
  are not repetitions that long-window compressors would exploit);
- ``source``: Python source code, the standard library under ``/usr/lib/python3*``;
- ``binary``: ELF executables from ``/usr/bin``;
- ``random``: incompressible bytes from a seeded generator;
- ``repetitive``: log-like lines that differ in a few characters.
File-based kinds concatenate their distinct files in name order (at most 8 MiB) and repeat
that material until the size is reached, so the same machine setup always yields the same
bytes; the digests go into the run's fingerprint so runs on different material are never
compared blindly.
"""

from __future__ import annotations

import glob
import hashlib
import os
import random
import sysconfig
from functools import cache
from pathlib import Path

KINDS = ("text", "source", "binary", "random", "repetitive")
MATERIAL_LIMIT = 8 << 20  # file-based material read at most; larger sizes repeat it


def _regular_files(patterns: list[str]) -> list[Path]:
    seen: set[str] = set()
    out = []
    for pattern in patterns:
        for name in sorted(glob.glob(pattern, recursive=True)):
            path = Path(name)
            real = os.path.realpath(path)
            if path.is_symlink() or not path.is_file() or real in seen:
                continue
            seen.add(real)
            out.append(path)
    return out


def _concat(files: list[Path], accept=lambda head: True) -> bytes:  # noqa: ANN001
    parts, total, seen = [], 0, set()
    for f in files:
        try:
            data = f.read_bytes()
        except OSError:
            continue
        digest = hashlib.sha256(data).digest()
        if not data or not accept(data[:4]) or digest in seen:
            continue
        seen.add(digest)
        parts.append(data)
        total += len(data)
        if total >= MATERIAL_LIMIT:
            break
    return b"".join(parts)


@cache
def material(kind: str) -> bytes:
    """The base material of a file-based kind (cached for the process)."""
    if kind == "text":
        return _concat(_regular_files(["/usr/share/common-licenses/*",
                                       "/usr/share/doc/*/copyright"]))
    if kind == "source":
        stdlib = sysconfig.get_paths()["stdlib"]
        return _concat(_regular_files(["/usr/lib/python3*/**/*.py", f"{stdlib}/**/*.py"]))
    if kind == "binary":
        return _concat(_regular_files(["/usr/bin/*"]), accept=lambda h: h == b"\x7fELF")
    raise ValueError(f"no base material for kind {kind!r}")


def _repetitive(size: int) -> bytes:
    rng = random.Random(7)
    lines, total = [], 0
    while total < size:
        line = (f"2026-11-22T18:{rng.randrange(60):02d}:{rng.randrange(60):02d} INFO worker-"
                f"{rng.randrange(4)} request ok status=200 bytes={rng.choice((512, 1024))}\n")
        lines.append(line)
        total += len(line)
    return "".join(lines).encode()[:size]


def build(kind: str, size: int) -> bytes:
    """``size`` bytes of corpus ``kind``; raises ValueError naming the valid kinds."""
    if kind not in KINDS:
        raise ValueError(f"unknown corpus {kind!r}; valid: {', '.join(KINDS)}")
    if size < 0:
        raise ValueError(f"corpus size must be >= 0, got {size}")
    if kind == "random":
        return random.Random(1).randbytes(size)
    if kind == "repetitive":
        return _repetitive(size)
    base = material(kind)
    if not base:
        raise ValueError(f"no material found on this machine for corpus {kind!r}")
    reps = -(-size // len(base))
    return (base * reps)[:size]


def digests() -> dict[str, str]:
    """SHA-256 prefixes of each kind's first MiB: which material this machine provides."""
    return {k: hashlib.sha256(build(k, 1 << 20)).hexdigest()[:16] for k in KINDS}

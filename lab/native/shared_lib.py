"""The lab's own small shared libraries (LD_PRELOAD shims), compiled once and cached.

:func:`build` compiles one C source into ``cache_dir()/core/<name>-<hash>.so``, where the hash
covers the source, the flags and the compiler's identity: a changed source or compiler gives
a new file, an unchanged one is reused. It compiles under a temporary name and renames into
place, so concurrent builders never see a half-written library. A failing compiler raises
:class:`~lab.errors.BuildError` with its diagnostics.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from lab.errors import BuildError
from lab.native.flavors import compiler_identity
from lab.paths import cache_dir


def build(name: str, source: Path, cc: str, cflags: Sequence[str], libs: Sequence[str] = (),
          what: str | None = None) -> Path:
    """The library ``name`` built from ``source`` (see the module docstring); ``what`` names
    it in error messages."""
    h = hashlib.sha256(source.read_bytes())
    h.update("\0".join((compiler_identity(cc), *cflags, *libs)).encode())
    out_dir = cache_dir() / "core"
    target = out_dir / f"{name}-{h.hexdigest()[:16]}.so"
    if target.is_file():
        return target
    out_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}-", suffix=".so.tmp", dir=out_dir)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        _compile([cc, *cflags, "-o", str(tmp), str(source), *libs], what or name)
        tmp.chmod(0o755)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _compile(cmd: list[str], what: str) -> None:
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BuildError(f"{what}: cannot run {cmd[0]}: {exc}") from exc
    if res.returncode != 0:
        raise BuildError(f"{what}: {' '.join(cmd)} failed:\n{res.stderr.strip()}")

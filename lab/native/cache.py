"""A content-addressed build cache that is safe under concurrent lab processes.

Layout: ``<cache>/build/<system>/<recipe>/<flavor>/<key>/`` holds one artifact and its
``build.json``; the key is a SHA-256 over everything the output depends on (sources, flags,
compiler identity, tool versions), so nothing rebuilds when nothing changed and flavors never
share a folder. A build happens in a temporary folder beside the final one under an exclusive
``flock`` and is published with an atomic ``rename``; a second process waiting on the lock
finds the finished artifact and reuses it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

KEEP = 3  # artifacts kept per flavor; older ones are pruned after a successful build


@dataclass(frozen=True)
class Artifact:
    """A built artifact: its folder, its key, and whether this call built it."""

    path: Path
    key: str
    rebuilt: bool
    info: dict[str, Any]


class Builder(Protocol):
    """Turns one recipe kind into an artifact; registered with ``lab_register_builders``."""

    kind: str

    def key_parts(self, system: Any, recipe: Any, flavor: Any) -> dict[str, Any]:
        """Everything the output depends on, JSON-serializable."""

    def produce(self, system: Any, recipe: Any, flavor: Any, out_dir: Path) -> dict[str, Any]:
        """Build into ``out_dir``; return facts for ``build.json``; raise BuildError on failure."""

    def load(self, system: Any, recipe: Any, flavor: Any, artifact: Artifact) -> Any:
        """Load the artifact into this process (or return a handle to it)."""


def digest(parts: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``parts``."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def hash_files(files: list[Path]) -> dict[str, str]:
    """Path -> SHA-256 of each file's content."""
    return {str(f): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


@contextmanager
def locked(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``lock_path`` (created if needed)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class BuildCache:
    """Build-once storage of artifacts under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def flavor_dir(self, system: str, recipe: str, flavor: str) -> Path:
        return self.root / system / recipe / flavor

    def lookup(self, system: str, recipe: str, flavor: str, key: str) -> Artifact | None:
        final = self.flavor_dir(system, recipe, flavor) / key[:20]
        info_file = final / "build.json"
        if not info_file.exists():
            return None
        info = json.loads(info_file.read_text())
        if info.get("key") != key:
            return None
        return Artifact(final, key, False, info)

    def get(self, system: str, recipe: str, flavor: str, key: str,
            produce: Callable[[Path], dict[str, Any]]) -> Artifact:
        """The artifact for ``key``, built by ``produce(tmp_dir)`` only when not cached."""
        found = self.lookup(system, recipe, flavor, key)
        if found:
            return found
        fdir = self.flavor_dir(system, recipe, flavor)
        with locked(fdir / ".lock"):
            found = self.lookup(system, recipe, flavor, key)
            if found:
                return found
            tmp = Path(tempfile.mkdtemp(prefix=".building-", dir=fdir))
            try:
                start = time.monotonic()
                info = dict(produce(tmp))
                info.update(key=key, built_at=time.time(),
                            seconds=round(time.monotonic() - start, 3))
                (tmp / "build.json").write_text(json.dumps(info, indent=2, default=str))
                final = fdir / key[:20]
                os.rename(tmp, final)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            self._prune(fdir, keep=final)
            return Artifact(final, key, True, info)

    @staticmethod
    def _prune(fdir: Path, keep: Path) -> None:
        done = [p for p in fdir.iterdir() if p.is_dir() and (p / "build.json").exists()]
        done.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        for old in [p for p in done if p != keep][KEEP - 1:]:
            shutil.rmtree(old, ignore_errors=True)

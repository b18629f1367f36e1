"""Where a fuzz target's files live.

Committed: ``corpora/<system>/<target>/`` (seeds, each noted in its README.md) and its
``regressions/`` subfolder (minimized crash inputs, replayed by the test suite). Generated,
under ``results/fuzz/<system>/<target>/``: ``corpus/`` (the grown corpus), ``artifacts/``
(raw crash files from libFuzzer), ``logs/`` and ``dict.txt``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from lab import paths
from lab.model import FuzzTarget, System


@dataclass(frozen=True)
class TargetLayout:
    system: str
    target: str
    seeds: Path
    regressions: Path
    base: Path

    @property
    def corpus(self) -> Path:
        return self.base / "corpus"

    @property
    def artifacts(self) -> Path:
        return self.base / "artifacts"

    @property
    def logs(self) -> Path:
        return self.base / "logs"

    def make_dirs(self) -> None:
        for d in (self.corpus, self.artifacts, self.logs):
            d.mkdir(parents=True, exist_ok=True)

    def input_files(self, *, regressions: bool = True) -> list[Path]:
        """Every input to replay: seeds, regressions (optional) and the grown corpus, sorted
        within each folder; READMEs and hidden files are not inputs."""
        dirs = [self.seeds, *([self.regressions] if regressions else []), self.corpus]
        out: list[Path] = []
        for d in dirs:
            if d.is_dir():
                out += sorted(p for p in d.iterdir() if is_input(p))
        return out


def _input_name(name: str) -> bool:
    """Notes (``.md``, ``.txt``) and hidden files sit beside inputs but are not inputs."""
    return not name.startswith(".") and not name.endswith((".md", ".txt"))


def is_input(path: Path) -> bool:
    return path.is_file() and _input_name(path.name)


def layout(system: System, target: FuzzTarget) -> TargetLayout:
    seeds = paths.corpora_dir(system.name) / target.name
    return TargetLayout(system.name, target.name, seeds, seeds / "regressions",
                        paths.fuzz_dir() / system.name / target.name)


def corpus_size(folder: Path) -> tuple[int, int]:
    """(files, bytes) of the inputs in ``folder`` (0, 0 when absent). libFuzzer may replace
    files while this counts (REDUCE), so a file that vanishes is skipped."""
    if not folder.is_dir():
        return 0, 0
    count = size = 0
    for entry in os.scandir(folder):
        if not _input_name(entry.name):
            continue
        try:
            if entry.is_file():
                size += entry.stat().st_size
                count += 1
        except FileNotFoundError:
            continue
    return count, size

"""Corpus maintenance: ``lab fuzz --merge`` (libFuzzer ``-merge=1``, optionally promoting
inputs that add coverage into the committed seeds) and ``--export-regression``."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from lab.errors import LabError, UsageError
from lab.fuzz import process
from lab.fuzz.engine import prebuild, resolve_targets
from lab.fuzz.layout import corpus_size, layout
from lab.model import FuzzTarget, System


def _merge(system: System, target: FuzzTarget, into: Path, *sources: Path) -> str:
    """Run libFuzzer's merge: inputs of ``sources`` that add coverage go into ``into``."""
    argv = [str(process.launcher()), *process.base_flags(target), "-merge=1",
            str(into), *map(str, sources)]
    proc = subprocess.run(argv, env=process.environment(process.spec(system, target)),
                          capture_output=True, text=True, errors="replace", timeout=3600,
                          cwd=into.parent)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
        raise LabError(f"merge of {system.name}/{target.name} failed: {' | '.join(tail)}")
    return proc.stderr


def _note(readme: Path, lines: list[str], title: str) -> None:
    if not readme.exists():
        readme.write_text(f"# {title}\n\n")
    with readme.open("a") as fh:
        fh.writelines(line + "\n" for line in lines)


def merge_corpus(system: System, target: FuzzTarget, promote: int | None) -> str:
    """Minimize the grown corpus in place; with ``promote``, copy up to that many inputs that
    add coverage over the seeds into ``corpora/``. Returns a one-line summary."""
    from lab.fuzz.preflight import require_toolchain

    require_toolchain()
    prebuild(system, [target])
    lay = layout(system, target)
    if corpus_size(lay.corpus)[0] == 0:
        raise UsageError(f"{system.name}/{target.name} has no grown corpus yet; run "
                         f"`lab fuzz {system.name} --target {target.name}` first")
    before = corpus_size(lay.corpus)
    merged = lay.base / "corpus.merging"
    shutil.rmtree(merged, ignore_errors=True)
    merged.mkdir(parents=True)
    _merge(system, target, merged, lay.corpus)
    old = lay.base / "corpus.old"
    shutil.rmtree(old, ignore_errors=True)
    lay.corpus.rename(old)
    merged.rename(lay.corpus)
    shutil.rmtree(old)
    after = corpus_size(lay.corpus)
    text = (f"{system.name}/{target.name}: corpus {before[0]} -> {after[0]} inputs "
            f"({before[1]} -> {after[1]} B)")
    if promote:
        text += "; " + _promote(system, target, promote)
    return text


def _promote(system: System, target: FuzzTarget, limit: int) -> str:
    lay = layout(system, target)
    lay.seeds.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lab-promote-") as tmp:
        pool = Path(tmp) / "pool"
        shutil.copytree(lay.seeds, pool, ignore=shutil.ignore_patterns("regressions", "*.md"))
        known = {p.name for p in pool.iterdir()}
        _merge(system, target, pool, lay.corpus)
        fresh = sorted(p for p in pool.iterdir() if p.name not in known)[:limit]
        stamp = datetime.now(UTC).strftime("%Y-%m-%d")
        notes = []
        for p in fresh:
            name = f"promoted-{hashlib.sha1(p.read_bytes()).hexdigest()[:12]}"
            shutil.copyfile(p, lay.seeds / name)
            notes.append(f"- `{name}`: promoted from the grown corpus by `lab fuzz --merge "
                         f"--promote` on {stamp} (adds coverage over the other seeds)")
    if notes:
        _note(lay.seeds / "README.md", notes, f"Seeds of {system.name}/{target.name}")
    return f"promoted {len(notes)} input(s) into {lay.seeds}"


def export_regression(system: System, crash_id: int) -> Path:
    """Write crash ``crash_id``'s minimized (else original) input to the regressions folder
    of its target, with a note in that folder's README.md."""
    from lab.store import open_store

    store = open_store()
    try:
        row = store.crash(crash_id)
    finally:
        store.close()
    if row["system"] != system.name:
        raise UsageError(f"crash {crash_id} is a crash of {row['system']}, not {system.name}")
    target = resolve_targets(system, [row["target"]])[0]
    lay = layout(system, target)
    data = row["minimized"] or row["input"]
    lay.regressions.mkdir(parents=True, exist_ok=True)
    kind = row["kind"].replace(":", "-")
    path = lay.regressions / f"{kind}-{hashlib.sha1(row['signature'].encode()).hexdigest()[:10]}"
    if not path.exists():
        path.write_bytes(data)
        _note(lay.regressions / "README.md",
              [f"- `{path.name}`: crash #{crash_id}, {row['signature']} (first seen "
               f"{row['first_seen'][:10]}, {len(data)} B, "
               f"{'minimized' if row['minimized'] else 'as found'})"],
              f"Regression inputs of {system.name}/{target.name}")
    return path

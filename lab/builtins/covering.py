"""``lab cover SYSTEM [--target T] [--json]``: source-based coverage of fuzz targets' inputs.

Measures every fuzz target of SYSTEM (or only ``--target``) with :func:`lab.fuzz.cover.run_cover`,
records one run of kind ``cover``, writes llvm-cov's HTML under
``reports/<system>/coverage/<target>/`` and prints one line per target (or one JSON document:
``{"system", "run_id", "targets": [...]}``). An unknown system, a system without fuzz targets
or an unknown target is a usage error (exit 2) naming the valid choices.
"""

from __future__ import annotations

import fnmatch
import json
import os
from pathlib import Path
from typing import Any

import click

import lab
from lab.builtins.common import system_named
from lab.model import FuzzTarget, System


def pick_targets(system: System, name: str | None) -> list[FuzzTarget]:
    """The targets to measure: all of ``system``'s, or the one called ``name``."""
    from lab.errors import UsageError
    from lab.host import get_host

    if not system.fuzz_targets:
        fuzzable = [s.name for s in get_host().systems().values() if s.fuzz_targets]
        raise UsageError(f"system {system.name!r} declares no fuzz targets; systems with fuzz "
                         f"targets: {', '.join(fuzzable) or 'none'}")
    names = [t.name for t in system.fuzz_targets]
    if name is None:
        return list(system.fuzz_targets)
    if name not in names:
        raise UsageError(f"unknown fuzz target {name!r} of {system.name}; valid: "
                         f"{', '.join(names)}")
    return [system.fuzz_target(name)]


def _pct(covered: int | None, total: int | None) -> str:
    if not total:
        return "n/a"
    return f"{100.0 * (covered or 0) / total:.1f}%"


def _shown_path(path: str) -> str:
    """``path`` relative to the current folder when it lies below it."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def format_row(system: str, row: dict[str, Any]) -> str:
    """One line of ``lab cover`` output for a measured (or skipped) target."""
    head = f"{system}/{row['target']}:"
    if "skipped" in row:
        return f"{head} skipped: {row['skipped']}"
    parts = [f"{metric} {_pct(row[f'{metric}_covered'], row[f'{metric}_total'])} "
             f"({row[f'{metric}_covered']}/{row[f'{metric}_total']})"
             for metric in ("lines", "branches", "functions")]
    parts.append(f"corpus {row['corpus_units']} inputs")
    if row.get("html"):
        parts.append(f"html: {_shown_path(row['html'])}")
    line = f"{head} " + "  ".join(parts)
    for path, why in row.get("crashed_inputs", []):
        line += f"\n  skipped input {Path(path).name}: {why} (coverage build, no sanitizer)"
    return line


def _sum(rows: list[dict[str, int]], metric: str) -> tuple[int, int]:
    return (sum(r[f"{metric}_covered"] for r in rows), sum(r[f"{metric}_total"] for r in rows))


def format_files(row: dict[str, Any], patterns: tuple[str, ...]) -> list[str]:
    """Per-file lines (and their sum) of the source files matching any of ``patterns``."""
    files = {name: c for name, c in row.get("files", {}).items()
             if any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(Path(name).name, p)
                    for p in patterns)}
    if not files:
        return [f"  no source file matches {', '.join(patterns)}"]
    lines = []
    for name, c in sorted(files.items()):
        lines.append(f"  {name}: " + "  ".join(
            f"{m} {_pct(c[f'{m}_covered'], c[f'{m}_total'])} "
            f"({c[f'{m}_covered']}/{c[f'{m}_total']})" for m in ("lines", "branches")))
    if len(files) > 1:
        sums = {m: _sum(list(files.values()), m) for m in ("lines", "branches")}
        lines.append(f"  together ({len(files)} files): " + "  ".join(
            f"{m} {_pct(*sums[m])} ({sums[m][0]}/{sums[m][1]})" for m in sums))
    return lines


@click.command("cover")
@click.argument("system")
@click.option("--target", "-t", "target", help="Only this fuzz target (default: all).")
@click.option("--files", "file_globs", multiple=True, metavar="GLOB",
              help="Also print the coverage of the source files matching GLOB (repeatable; "
                   "e.g. 'tcp_*.c').")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
def cover_cmd(system: str, target: str | None, file_globs: tuple[str, ...],
              as_json: bool) -> None:
    """Measure the source coverage (lines, branches, functions) reached by SYSTEM's fuzz
    inputs: seeds, regressions and the corpus grown by `lab fuzz`."""
    from lab.fuzz.cover import run_cover
    from lab.store import open_store

    s = system_named(system)
    targets = pick_targets(s, target)
    argv = ["lab", "cover", s.name, *(["--target", target] if target else [])]
    store = open_store()
    try:
        rows = run_cover(s, targets, store, argv=argv)
    finally:
        store.close()
    if as_json:
        doc = {"system": s.name, "run_id": rows[0]["run_id"] if rows else None,
               "targets": [{k: v for k, v in r.items() if k not in ("system", "run_id")}
                           for r in rows]}
        click.echo(json.dumps(doc, indent=2))
        return
    for row in rows:
        click.echo(format_row(s.name, row))
        if file_globs and "skipped" not in row:
            for line in format_files(row, file_globs):
                click.echo(line)


@lab.hookimpl
def lab_register_commands() -> list[click.Command]:
    return [cover_cmd]

"""``lab ci --calibrate``: A/A runs of the working tree against itself, and the noise bands.

Each A/A run is a ``lab ci`` comparison whose two sides are the same build (the working tree,
two scratch stores), measured exactly as a real check is (paired, interleaved rounds, the same
seeds scheme). From the K runs, per benchmark: the noise band (:func:`lab.ci.detect.calibrate`
over the K pairs) and the smallest change one comparison can detect at 80% power
(:func:`lab.ci.detect.min_detectable` with that band). Both are stored per machine
fingerprint, replacing the previous calibration of the same benchmarks, and later checks use
them. The false alarms are counted honestly, leave-one-out: run i is judged against bands
calibrated from the other K - 1 runs (all K when K < 3), as a real check would be judged
against a calibration made earlier. The A/A runs take no follow-up rounds; the benchmarks a
run leaves unclear (those a real check would follow up) are listed per run.

Contract. ``run_calibration(options, runs)`` needs ``runs >= 2`` (ValueError otherwise) and
returns a ``Calibration``; ``key_of``/``bench_of`` convert between a ``Key`` and the stored
benchmark name.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab import paths
from lab.ci import compare as cmp
from lab.ci import detect, trees
from lab.ci.measure import Figure, Figures, Key, Side


def bench_of(key: Key) -> str:
    return json.dumps([key.workload, key.impl, json.loads(key.params), key.metric],
                      sort_keys=True)


def key_of(system: str, bench: str) -> Key:
    workload, impl, params, metric = json.loads(bench)
    return Key(system, workload, impl, json.dumps(params, sort_keys=True,
                                                  separators=(",", ":")), metric)


@dataclass
class Band:
    key: Key
    half_width: float
    min_detectable: float
    aa_ratios: list[float]
    unit: str = ""

    def to_json(self) -> dict:
        return {"system": self.key.system, "bench": bench_of(self.key), "label": self.key.label,
                "half_width": self.half_width, "min_detectable": self.min_detectable,
                "aa_ratios": self.aa_ratios}


@dataclass
class Calibration:
    started: str
    systems: list[str]
    tree: trees.Tree
    runs: int
    rounds: list[int] = field(default_factory=list)
    bands: list[Band] = field(default_factory=list)
    false_alarms: list[list[dict]] = field(default_factory=list)  # per A/A run
    unclear: list[list[str]] = field(default_factory=list)  # per A/A run: labels left unclear
    exact_changes: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    fingerprints: dict[str, tuple[str, dict]] = field(default_factory=dict)
    seconds: float = 0.0
    report: dict[str, str] = field(default_factory=dict)

    @property
    def runs_with_false_alarms(self) -> int:
        return sum(1 for alarms in self.false_alarms if alarms)


def _one_aa(i: int, tree: trees.Tree, systems: list[str], options: Any, scratch: Path,
            on_step: Callable[[str], None]) -> tuple[Figures, Figures, int, list[str], dict]:
    from lab.ci.run import figures_of, measure
    from lab.store import open_store

    env = dict(os.environ)
    a = Side(trees.Tree("A", tree.path, tree.commit, tree.dirty, tree.repo), scratch / f"{i}a.db",
             env)
    b = Side(trees.Tree("B", tree.path, tree.commit, tree.dirty, tree.repo), scratch / f"{i}b.db",
             env)
    rounds = measure([a, b], systems, options, seed=options.seed + i,
                     on_step=lambda s: on_step(f"A/A {i + 1} · {s}"))
    figs = []
    fps: dict[str, tuple[str, dict]] = {}
    for side in (a, b):
        store = open_store(str(side.store))
        try:
            figs.append(figures_of(side, store, systems))
            for system, runs in side.runs.items():
                if runs:
                    record = store.run(runs[-1])
                    fps[system] = (record.fingerprint_hash, record.fingerprint)
        finally:
            store.close()
    return figs[0], figs[1], rounds, a.errors + b.errors, fps


def _bands(pairs: dict[Key, list[tuple[Figure, Figure]]], units: dict[Key, str],
           skip: int | None = None) -> list[Band]:
    out = []
    for key, all_pairs in sorted(pairs.items(), key=lambda kv: bench_of(kv[0])):
        use = [p for j, p in enumerate(all_pairs) if j != skip] or all_pairs
        use = [p for p in use if min(len(p[0].values), len(p[1].values)) >= 2]
        if not use:
            continue
        band = detect.calibrate([(a.values, b.values) for a, b in use],
                                groups=[(a.groups, b.groups) for a, b in use],
                                paired=all(a.paired and b.paired for a, b in use))
        mde = detect.min_detectable(use[0][0].values, band=band, groups=use[0][0].groups)
        out.append(Band(key, band.half_width, mde, list(band.aa_ratios), units.get(key, "")))
    return out


def run_calibration(options: Any, runs: int,
                    on_step: Callable[[str], None] = lambda s: None) -> Calibration:
    """K A/A runs, bands stored, false alarms counted (see the module doc)."""
    from lab.ci import ci_report
    from lab.ci.run import _scratch_root, _stamp, bench_systems

    if runs < 2:
        raise ValueError(f"calibration needs at least 2 A/A runs, not {runs}")
    start = time.monotonic()
    repo = trees.repository()
    systems = bench_systems(options.systems)
    result = Calibration(_stamp(), systems, trees.working(repo), runs)
    scratch = Path(tempfile.mkdtemp(prefix="lab-ci-aa-", dir=_scratch_root()))
    pairs: dict[Key, list[tuple[Figure, Figure]]] = {}
    units: dict[Key, str] = {}
    per_run: list[tuple[Figures, Figures]] = []
    try:
        for i in range(runs):
            a, b, rounds, errors, fps = _one_aa(i, result.tree, systems, options, scratch,
                                                    on_step)
            result.rounds.append(rounds)
            result.problems += errors
            result.fingerprints.update(fps)
            per_run.append((a, b))
            for key in set(a) & set(b):
                if not (a[key].channel == "instructions" or
                        (len(set(a[key].values)) == 1 and len(set(b[key].values)) == 1)):
                    pairs.setdefault(key, []).append((a[key], b[key]))
                    units[key] = a[key].unit
        result.bands = _bands(pairs, units)
        for i, (a, b) in enumerate(per_run):
            loo = {band.key: band.half_width
                   for band in _bands(pairs, units, skip=i if runs >= 3 else None)}
            rows = cmp.compare(a, b, loo)
            result.false_alarms.append([r.to_json() for r in rows
                                        if r.significant and r.kind == "statistical"])
            result.unclear.append([r.key.label for r in rows if r.unclear])
            result.exact_changes += [dict(r.to_json(), aa_run=i + 1) for r in rows
                                     if r.significant and r.kind == "exact"]
        _save(result, options, runs)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        result.seconds = time.monotonic() - start
        result.report = ci_report.write_calibration(
            result, paths.reports_dir() / "ci" / f"calibrate-{result.started}")
    return result


def _save(result: Calibration, options: Any, runs: int) -> None:
    """One ``ci-calibrate`` run per system in the store, holding that system's bands."""
    from lab.store import open_store

    store = open_store()
    try:
        for system, (fp_hash, fp) in sorted(result.fingerprints.items()):
            bands = [b.to_json() for b in result.bands if b.key.system == system]
            if not bands:
                continue
            run_id = store.begin_run(system=system, kind="ci-calibrate",
                                     command=options.command or ["lab", "ci", "--calibrate"],
                                     fingerprint=fp, fingerprint_hash=fp_hash,
                                     git_commit=result.tree.commit, git_dirty=result.tree.dirty,
                                     options={"runs": runs, "rounds": options.rounds})
            store.save_noise_bands(run_id, fp_hash, bands)
            store.finish_run(run_id, "ok")
    finally:
        store.close()

"""``lab ci``: compare the working tree with a baseline commit, benchmarks and fuzzing.

Steps: pick the baseline (``--baseline REF``; else the commit of the previous ``lab ci`` run
in the store; else none, and this run becomes the baseline of the next), check it out as a
worktree, build both trees, run the quick benchmarks paired and interleaved (timed channel, in
rounds) and once a side under callgrind (instruction channel), judge every benchmark
(:mod:`lab.ci.compare`), diff the instruction profiles of the changed ones, fuzz every target
for a share of the budget and replay its crashes on the baseline (:mod:`lab.ci.fuzzgate`),
then write ``reports/ci/<stamp>/``. The run is recorded in the store as a ``ci`` run.

Follow-up rounds. A benchmark whose verdict is "no change" but whose interval still reaches
beyond its noise band is unclear (:attr:`lab.ci.compare.Row.unclear`): the data neither show a
change nor rule one out, typically because a burst of load on the machine hit some of its
processes. Its system gets more paired rounds, ``FOLLOW_UP`` at a time, and everything is
judged again, until nothing is unclear or ``max_rounds`` are done or the budget's benchmark
share is spent. A change is still called only when its whole interval lies beyond the band.

Budget. ``budget`` minutes cover the whole check, roughly: rounds stop once the next would end
past three quarters of it (never fewer than ``MIN_ROUNDS``), and the fuzz targets share what
is left (each ``FUZZ_MIN_S`` to ``FUZZ_MAX_S`` seconds).

Exit status (``CiResult.status``): 2 when the baseline does not build (nothing is compared
against it), 1 on a confirmed regression, a new crash or a current tree that does not build
or bench, 0 otherwise.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lab import paths
from lab.ci import compare as cmp
from lab.ci import trees
from lab.ci.fuzzgate import TargetOutcome, fuzz_and_triage
from lab.ci.measure import (
    Figures,
    Key,
    Selection,
    Side,
    bench_once,
    collect,
    interleave,
    last_line,
)

MIN_ROUNDS = 3
FOLLOW_UP = 2
BENCH_SHARE = 0.75
FUZZ_MIN_S, FUZZ_MAX_S = 5.0, 300.0
UNKNOWN_SYSTEM = "unknown system"


@dataclass
class CiOptions:
    """What ``lab ci`` compares and how long it may take."""

    systems: tuple[str, ...] = ()
    baseline: str | None = None
    budget_min: float = 30.0
    rounds: int = 5
    max_rounds: int = 15
    seed: int = 0
    selection: Selection = field(default_factory=Selection)
    fuzz: bool = True
    wall: bool = True
    instructions: bool = True
    baseline_env: dict[str, str] = field(default_factory=dict)
    current_env: dict[str, str] = field(default_factory=dict)
    command: list[str] = field(default_factory=list)


@dataclass
class CiResult:
    """Everything the report shows."""

    started: str
    systems: list[str]
    current: trees.Tree
    baseline: trees.Tree | None
    baseline_source: str  # "given", "previous ci run", "none (first run)", "working tree"
    status: int = 0
    rounds: int = 0
    rows: list[cmp.Row] = field(default_factory=list)
    fuzz: list[TargetOutcome] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # failures of the current tree
    baseline_problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    profile_diffs: list[dict] = field(default_factory=list)
    run_id: int | None = None
    seconds: float = 0.0
    report: dict[str, str] = field(default_factory=dict)

    @property
    def regressions(self) -> list[cmp.Row]:
        return [r for r in self.rows if r.verdict == "regression"]

    @property
    def new_crashes(self) -> list:
        return [c for t in self.fuzz for c in t.new_crashes]


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%SZ")


def bench_systems(requested: tuple[str, ...]) -> list[str]:
    """The systems to check: those requested (each must exist), else all that offer bench."""
    from lab.builtins.common import system_named
    from lab.host import get_host

    if requested:
        return [system_named(s).name for s in requested]
    return [s.name for s in get_host().systems().values() if "bench" in s.offers]


def fuzz_targets(systems: list[str]) -> list[tuple[str, str]]:
    from lab.host import get_host

    found = get_host().systems()
    return [(s, t.name) for s in systems if "fuzz" in found[s].offers
            for t in found[s].fuzz_targets]


def _previous_baseline(store: Any) -> str | None:
    for run in store.runs("ci", 200):
        if run.kind == "ci" and run.status == "ok" and run.git_commit:
            return run.git_commit
    return None


def _build(side: Side, systems: list[str]) -> tuple[list[str], list[str]]:
    """Build every system on ``side``: (systems built, error lines)."""
    built, errors = [], []
    for system in systems:
        proc = side.run(["build", system], timeout=3600)
        if proc.returncode == 0:
            built.append(system)
        else:
            errors.append(f"{system}: {last_line(proc)}")
    return built, errors


class _Clock:
    def __init__(self, budget_min: float) -> None:
        self.start = time.monotonic()
        self.total = budget_min * 60

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start


def _keep_going(clock: _Clock, bench_start: float, share: float) -> Callable[[int], bool]:
    def keep(done: int) -> bool:
        per_round = (clock.elapsed - bench_start) / done
        return done < MIN_ROUNDS or clock.elapsed + per_round <= share * clock.total
    return keep


def measure(sides: list[Side], systems: list[str], options: CiOptions, *, seed: int,
            keep_going: Callable[[int], bool] = lambda r: True,
            on_step: Callable[[str], None] = lambda s: None) -> int:
    """Timed rounds (interleaved across ``sides``), then one instruction run a side and
    system, as ``options`` selects; the rounds done."""
    rounds = 0
    if options.wall:
        rounds = interleave(sides, systems, options.selection, rounds=options.rounds,
                            seed=seed, keep_going=keep_going, on_step=on_step)
    if options.instructions:
        for system in systems:
            for side in sides:
                on_step(f"instructions · {system} · {side.label}")
                bench_once(side, system, options.selection, seed=seed, instructions=True)
    return rounds


def figures_of(side: Side, store: Any, systems: list[str]) -> Figures:
    figures: Figures = {}
    for system in systems:
        runs = list(side.runs.get(system, []))
        if system in side.instruction_runs:
            runs.append(side.instruction_runs[system])
        figures.update(collect(store, system, runs, side.round_of))
    return figures


def noise_bands(store: Any, side: Side) -> dict[Key, float]:
    """The half-widths calibrated on this machine (the fingerprint of each system's runs on
    ``side``, whose runs are in ``store``), by benchmark."""
    from lab.ci.calibrate import key_of

    bands: dict[Key, float] = {}
    for system, runs in side.runs.items():
        if not runs:
            continue
        fp_hash = store.run(runs[-1]).fingerprint_hash
        bands.update({key_of(b["system"], b["bench"]): float(b["half_width"])
                      for b in store.noise_bands(fp_hash) if b["system"] == system})
    return bands


def _open(path: Path) -> Any:
    from lab.store import open_store

    return open_store(str(path))


def run_ci(options: CiOptions, on_step: Callable[[str], None] = lambda s: None) -> CiResult:
    """Run the whole check (see the module doc); the report is written before returning."""
    from lab.ci import ci_report
    from lab.fingerprint import fingerprint
    from lab.store import open_store

    clock = _Clock(options.budget_min)
    repo = trees.repository()
    systems = bench_systems(options.systems)
    store = open_store()
    current_tree = trees.working(repo)
    current_tree.env = dict(options.current_env)
    result = CiResult(_stamp(), systems, current_tree, None, "given")
    base_env = dict(os.environ)
    scratch = Path(tempfile.mkdtemp(prefix="lab-ci-", dir=_scratch_root()))
    fp, fp_hash = fingerprint()
    result.run_id = store.begin_run(
        system="ci", kind="ci", command=options.command or ["lab", "ci"], fingerprint=fp,
        fingerprint_hash=fp_hash, git_commit=current_tree.commit, git_dirty=current_tree.dirty,
        options={"systems": systems, "baseline": options.baseline, "rounds": options.rounds,
                 "budget_min": options.budget_min})
    baseline_tree: trees.Tree | None = None
    try:
        baseline_tree = _baseline_tree(options, repo, store, scratch, result)
        current = Side(current_tree, paths.store_path(), base_env)
        baseline = (Side(baseline_tree, scratch / "baseline.db", base_env)
                    if baseline_tree else None)
        _run_steps(result, options, systems, current, baseline, store, clock, on_step)
    finally:
        if baseline_tree is not None:
            baseline_tree.remove()
        result.seconds = clock.elapsed
        result.report = ci_report.write(result, paths.reports_dir() / "ci" / result.started)
        store.finish_run(result.run_id, "ok" if result.status != 2 else "failed",
                         None if result.status != 2 else "; ".join(result.baseline_problems))
        store.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return result


def _scratch_root() -> str:
    root = paths.cache_dir() / "ci"
    root.mkdir(parents=True, exist_ok=True)
    return str(root)


def _baseline_tree(options: CiOptions, repo: Path, store: Any, scratch: Path,
                   result: CiResult) -> trees.Tree | None:
    ref = options.baseline
    if ref == trees.WORKING:
        result.baseline_source = "working tree"
        tree = trees.working(repo, label="baseline")
        tree.env = dict(options.baseline_env)
        return tree
    if ref is None:
        ref = _previous_baseline(store)
        if ref is None:
            result.baseline_source = "none (first run)"
            result.notes.append("no earlier lab ci run in the store: this run is the baseline "
                                "of the next one, nothing is compared")
            return None
        result.baseline_source = "previous ci run"
    commit = trees.resolve(repo, ref)
    tree = trees.checkout(repo, commit, scratch / "baseline-tree")
    tree.env = dict(options.baseline_env)
    return tree


def _run_steps(result: CiResult, options: CiOptions, systems: list[str], current: Side,
               baseline: Side | None, store: Any, clock: _Clock,
               on_step: Callable[[str], None]) -> None:
    result.baseline = baseline.tree if baseline else None
    on_step("building the current tree")
    built, errors = _build(current, systems)
    result.problems += [f"current tree does not build {e}" for e in errors]
    if baseline is not None:
        on_step("building the baseline")
        base_built, base_errors = _build(baseline, built)
        for err in base_errors:
            if UNKNOWN_SYSTEM in err:
                result.notes.append(f"the baseline has no such system, nothing to compare: {err}")
            else:
                result.baseline_problems.append(f"baseline does not build {err}")
        if result.baseline_problems:
            result.status = 2
            return
        built = base_built
    targets = fuzz_targets(built) if options.fuzz else []
    share = BENCH_SHARE if targets else 1.0
    if baseline is None:
        _measure_alone(result, options, built, current, clock, share, on_step)
    else:
        started = clock.elapsed
        result.rounds = measure([baseline, current], built, options, seed=options.seed,
                                keep_going=_keep_going(clock, started, share),
                                on_step=on_step)
        per_round = (clock.elapsed - started) / max(result.rounds, 1)
        base_store = _open(baseline.store)
        try:
            result.rows = _compare(baseline, current, base_store, store, built)
            _follow_up(result, options, (baseline, current), (base_store, store), built,
                       clock.total * share - clock.elapsed, per_round, on_step)
            result.profile_diffs = _profile_diffs(result, baseline, current, base_store, store)
        finally:
            base_store.close()
        result.problems += [f"current tree: {e}" for e in current.errors]
        result.baseline_problems += [f"baseline: {e}" for e in baseline.errors]
    if targets:
        left = max(clock.total - clock.elapsed, 0.0) / len(targets)
        seconds = min(max(left, FUZZ_MIN_S), FUZZ_MAX_S)
        result.fuzz = fuzz_and_triage(current, baseline, store, targets, seconds, on_step)
    if result.regressions or result.new_crashes or result.problems:
        result.status = 1


def _compare(baseline: Side, current: Side, base_store: Any, store: Any,
             systems: list[str]) -> list[cmp.Row]:
    return cmp.compare(figures_of(baseline, base_store, systems),
                       figures_of(current, store, systems), noise_bands(store, current))


def _follow_up(result: CiResult, options: CiOptions, sides: tuple[Side, Side],
               stores: tuple[Any, Any], systems: list[str], seconds: float, per_round: float,
               on_step: Callable[[str], None],
               now: Callable[[], float] = time.monotonic) -> None:
    """Follow-up rounds, ``FOLLOW_UP`` at a time, of the systems with an unclear benchmark,
    until none is unclear, ``options.max_rounds`` are done or ``seconds`` would be passed
    (``per_round``: the estimated cost of a round of every system)."""
    deadline = now() + seconds
    while options.wall and result.rounds < options.max_rounds:
        unclear = [s for s in systems if any(r.unclear and r.key.system == s
                                             for r in result.rows)]
        if not unclear:
            return
        cost = per_round * len(unclear) / len(systems)
        batch = min(FOLLOW_UP, options.max_rounds - result.rounds,
                    int((deadline - now()) // max(cost, 1e-9)))
        if batch < 1:
            return
        result.notes.append(f"{batch} follow-up round(s) after round {result.rounds}: "
                            f"unclear in {', '.join(unclear)}")
        result.rounds += interleave(list(sides), unclear, options.selection, rounds=batch,
                                    seed=options.seed, start=result.rounds, on_step=on_step)
        result.rows = _compare(*sides, *stores, systems)


def _measure_alone(result: CiResult, options: CiOptions, systems: list[str], current: Side,
                   clock: _Clock, share: float, on_step: Callable[[str], None]) -> None:
    """A first run: the current tree's figures go into the store for the next run."""
    result.rounds = measure([current], systems, options, seed=options.seed,
                            keep_going=_keep_going(clock, clock.elapsed, share),
                            on_step=on_step)
    result.problems += [f"current tree: {e}" for e in current.errors]


def _profile_diffs(result: CiResult, baseline: Side, current: Side, base_store: Any,
                   store: Any, limit: int = 8) -> list[dict]:
    """Per changed benchmark, the functions whose instructions changed most."""
    from lab.ci.profdiff import diff_for

    out = []
    seen = set()
    for row in result.rows:
        key = (row.key.system, row.key.workload, row.key.impl, row.key.params)
        if not row.significant or key in seen:
            continue
        seen.add(key)
        a = baseline.instruction_runs.get(row.key.system)
        b = current.instruction_runs.get(row.key.system)
        if a is None or b is None:
            continue
        diff = diff_for(base_store, a, store, b, row.key, limit)
        if diff is not None:
            out.append(diff)
    return out

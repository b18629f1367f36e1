"""Running the two trees' benchmarks paired and interleaved, and collecting their figures.

Each side (baseline, current) runs its own lab in a child process (``python -m lab.cli`` with
the tree's environment, see :mod:`lab.ci.trees`) and records into its own store: the current
tree into the lab's store, so its runs join the history, the baseline into a scratch store.
The timed channel runs in rounds: in each round, for each system, the two sides run one quick
bench each, back to back, in an order drawn from a seeded generator, so slow drift of the
machine (another job starting, thermal state) falls on both sides alike. The instruction
channel is deterministic and runs once a side.

A figure's values are one per repetition of one bench process: the samples of a repetition
are reduced to their median, so a benchmark gets ``rounds x reps`` values a side (samples
within one repetition are not independent of each other: pooling them would make any
systematic difference between two processes look significant). Each value is labelled with
its process's round (the round's bench seed), so the statistics can resample whole processes
and pair the two sides' processes of one round (:mod:`lab.ci.detect`).

Contract. ``Side.run(argv)`` returns the child's completed process (never raises on a non-zero
exit; ``subprocess.TimeoutExpired`` becomes a failed process); ``collect`` reads the runs of a
side into ``Figures`` keyed by ``Key``; a value list is in run order.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lab.ci.trees import Tree


@dataclass(frozen=True)
class Key:
    """One benchmark: a metric of one implementation on one workload and parameter set."""

    system: str
    workload: str
    impl: str
    params: str  # canonical JSON
    metric: str

    @property
    def label(self) -> str:
        params = json.loads(self.params)
        shown = ",".join(f"{k}={v}" for k, v in sorted(params.items()))
        return f"{self.system} {self.workload}{f' [{shown}]' if shown else ''} {self.impl} " \
               f"{self.metric}"


@dataclass
class Figure:
    """A benchmark's values on one side, and what they mean."""

    unit: str
    better: str
    channel: str
    values: list[float] = field(default_factory=list)
    runs: list[int] = field(default_factory=list)
    rounds: list[int] = field(default_factory=list)

    @property
    def paired(self) -> bool:
        """Whether every value carries the round it was measured in."""
        return bool(self.values) and len(self.rounds) == len(self.values)

    @property
    def groups(self) -> list[int] | None:
        """Each value's process, or None when not recorded: the repetitions of one process
        share the load of their moment, so statistics resample whole processes. The label is
        the process's round where known (one process a round and side, and the same label on
        the other side marks its pair), else its run id."""
        if self.paired:
            return self.rounds
        return self.runs if len(self.runs) == len(self.values) else None


Figures = dict[Key, Figure]


@dataclass
class Side:
    """One tree, its store and the bench runs it made."""

    tree: Tree
    store: Path
    base_env: dict[str, str]
    runs: dict[str, list[int]] = field(default_factory=dict)
    round_of: dict[int, int] = field(default_factory=dict)
    instruction_runs: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.tree.label

    def environment(self) -> dict[str, str]:
        env = self.tree.environment(self.base_env)
        env["LAB_STORE"] = str(self.store)
        return env

    def run(self, argv: Sequence[str], timeout: float = 3600) -> subprocess.CompletedProcess:
        """``lab ARGV`` in this tree; a timeout becomes exit status 124."""
        cmd = [sys.executable, "-m", "lab.cli", *argv]
        try:
            return subprocess.run(cmd, capture_output=True, text=True, env=self.environment(),
                                  cwd=self.tree.path, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            return subprocess.CompletedProcess(cmd, 124, exc.stdout or "",
                                               f"timed out after {timeout:.0f} s")


def last_line(proc: subprocess.CompletedProcess) -> str:
    """The last non-empty line of a child's stderr (its one-line error), else of stdout."""
    for text in (proc.stderr, proc.stdout):
        lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
        if lines:
            return lines[-1]
    return f"exit status {proc.returncode}"


@dataclass(frozen=True)
class Selection:
    """What to measure of each system: workload and implementation filters (empty: all)."""

    workloads: tuple[str, ...] = ()
    impls: tuple[str, ...] = ()
    reps: int = 3

    def bench_argv(self, system: str, *, seed: int, instructions: bool = False) -> list[str]:
        argv = ["bench", system, "--quick", "--no-report", "--json", "--seed", str(seed)]
        if not instructions:
            argv += ["--reps", str(self.reps)]
        for flag, values in (("--workload", self.workloads), ("--impl", self.impls)):
            for value in values:
                argv += [flag, value]
        if instructions:
            argv += ["--metric", "instructions"]
        return argv


def bench_once(side: Side, system: str, selection: Selection, *, seed: int,
               instructions: bool = False) -> int | None:
    """One quick bench of ``system`` on ``side``; its run id, or None (error recorded)."""
    proc = side.run(selection.bench_argv(system, seed=seed, instructions=instructions))
    try:
        doc = json.loads(proc.stdout)
    except json.JSONDecodeError:
        doc = None
    if proc.returncode != 0 or not isinstance(doc, dict) or "run_id" not in doc:
        channel = "instructions" if instructions else "wall"
        side.errors.append(f"{system} ({channel}): {last_line(proc)}")
        return None
    run_id = int(doc["run_id"])
    if instructions:
        side.instruction_runs[system] = run_id
    else:
        side.runs.setdefault(system, []).append(run_id)
        side.round_of[run_id] = seed
    return run_id


def interleave(sides: Sequence[Side], systems: Sequence[str], selection: Selection, *,
               rounds: int, seed: int, keep_going: Callable[[int], bool] = lambda r: True,
               on_step: Callable[[str], None] = lambda s: None, start: int = 0) -> int:
    """Run ``rounds`` rounds (fewer when ``keep_going(done)`` says stop after a round);
    returns the rounds done. A side whose first round fails is not run again. ``start``
    numbers follow-up rounds after the ``start`` already done (their own order and seeds)."""
    rng = np.random.default_rng(seed if start == 0 else [seed, start])
    done = 0
    for r in range(start, start + rounds):
        for system in systems:
            for i in rng.permutation(len(sides)):
                side = sides[int(i)]
                if r > 0 and not side.runs.get(system):
                    continue
                on_step(f"round {r + 1}/{start + rounds} · {system} · {side.label}")
                bench_once(side, system, selection, seed=seed * 1000 + r)
        done += 1
        if not keep_going(done):
            break
    return done


def _meta(store: Any, run_id: int) -> dict[tuple, dict]:
    from lab.store.sqlite import canonical

    return {(r["impl"], r["workload"], canonical(r["params"]), r["metric"]): r
            for r in store.results(run_id)}


def collect(store: Any, system: str, run_ids: Sequence[int],
            round_of: Mapping[int, int] | None = None) -> Figures:
    """The figures of ``run_ids``: per benchmark, one value per (run, repetition), the median
    of that repetition's samples; labelled with each run's round where ``round_of`` has it."""
    from lab.store.sqlite import canonical

    figures: Figures = {}
    for run_id in run_ids:
        meta = _meta(store, run_id)
        groups: dict[tuple, list[float]] = defaultdict(list)
        for s in store.samples(run_id):
            groups[(s.impl, s.workload, canonical(s.params), s.metric, s.rep)].append(s.value)
        for (impl, workload, params, metric, _rep), values in sorted(groups.items(),
                                                                     key=lambda kv: kv[0]):
            info = meta.get((impl, workload, params, metric))
            if info is None or info.get("status") != "ok":
                continue
            key = Key(system, workload, impl, params, metric)
            fig = figures.setdefault(key, Figure(info.get("unit") or "", info["better"],
                                                 info["channel"]))
            fig.values.append(float(np.median(values)))
            fig.runs.append(run_id)
            if round_of is not None and run_id in round_of:
                fig.rounds.append(round_of[run_id])
    return figures

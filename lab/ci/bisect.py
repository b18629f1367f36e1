"""``lab bisect``: the commit between GOOD and BAD that changed one benchmark.

Method. The commits on the ancestry path from GOOD to BAD are searched by halving. Every
measurement is paired and interleaved, as ``lab ci`` measures: each step runs the midpoint
commit in the same rounds as GOOD and BAD (three trees, order drawn per round), and judges the
midpoint twice with :mod:`lab.ci.compare`: against GOOD and against BAD. It is *bad* when it
differs from GOOD in the direction BAD does and not from BAD, *good* in the mirror case; when
neither is clear (both or neither comparisons significant), the step adds rounds, up to
``max_rounds``, before giving up on that commit ("unclear"). The search first checks that GOOD
and BAD differ at all, and ends by confirming the culprit: its parent and it, compared
directly, must show the change in the same direction.

The benchmark is one metric of one implementation on one workload (``--metric``, default the
workload's first wall-clock metric; an instruction-channel metric such as ``vg_instructions``
is measured once per tree and step, since it is deterministic).

Contract. ``bisect(options)`` returns a ``Bisection`` whose ``culprit`` is a full commit when
found and confirmed, else ``None`` with ``reason`` saying why; it raises UsageError for refs
git does not know or a GOOD that is not an ancestor of BAD.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lab.ci import compare as cmp
from lab.ci import detect, trees
from lab.ci.measure import Figures, Key, Selection, Side, bench_once, collect, interleave
from lab.errors import UsageError


@dataclass
class BisectOptions:
    system: str
    workload: str
    good: str
    bad: str
    impl: str | None = None
    metric: str | None = None
    rounds: int = 4
    max_rounds: int = 12
    reps: int = 3
    seed: int = 0


@dataclass
class Step:
    commit: str
    subject: str
    verdict: str  # "good", "bad", "unclear"
    vs_good: float | None
    vs_bad: float | None
    rounds: int

    def to_json(self) -> dict:
        return {"commit": self.commit, "subject": self.subject, "verdict": self.verdict,
                "ratio_vs_good": self.vs_good, "ratio_vs_bad": self.vs_bad,
                "rounds": self.rounds}


@dataclass
class Bisection:
    good: str
    bad: str
    benchmark: str = ""
    change: float | None = None  # BAD vs GOOD
    candidates: int = 0
    steps: list[Step] = field(default_factory=list)
    culprit: str | None = None
    culprit_subject: str = ""
    confirmation: dict | None = None
    reason: str = ""

    def to_json(self) -> dict:
        return {"good": self.good, "bad": self.bad, "benchmark": self.benchmark,
                "change": self.change, "candidates": self.candidates,
                "steps": [s.to_json() for s in self.steps], "culprit": self.culprit,
                "culprit_subject": self.culprit_subject, "confirmation": self.confirmation,
                "reason": self.reason}


def _git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                         timeout=120, check=False)
    return out.stdout.strip() if out.returncode == 0 else ""


def path_commits(repo: Path, good: str, bad: str) -> list[str]:
    """Commits after GOOD up to BAD on the ancestry path, oldest first (BAD last)."""
    if subprocess.run(["git", "-C", str(repo), "merge-base", "--is-ancestor", good, bad],
                      capture_output=True, check=False).returncode != 0:
        raise UsageError(f"good {good[:10]} is not an ancestor of bad {bad[:10]}; valid: a "
                         "good commit that bad descends from")
    listed = _git(repo, "rev-list", "--reverse", "--ancestry-path", f"{good}..{bad}")
    return [c for c in listed.splitlines() if c]


class _Trees:
    """Worktrees and scratch stores, one per commit, made on first use."""

    def __init__(self, repo: Path, scratch: Path, opts: BisectOptions) -> None:
        self.repo, self.scratch, self.opts = repo, scratch, opts
        self.sides: dict[str, Side] = {}
        self.built: dict[str, str | None] = {}

    def side(self, commit: str) -> Side:
        if commit not in self.sides:
            tree = trees.checkout(self.repo, commit, self.scratch / f"tree-{commit[:12]}",
                                  label=commit[:10])
            self.sides[commit] = Side(tree, self.scratch / f"{commit[:12]}.db", dict(os.environ))
        return self.sides[commit]

    def build_error(self, commit: str) -> str | None:
        if commit not in self.built:
            from lab.ci.measure import last_line

            proc = self.side(commit).run(["build", self.opts.system], timeout=3600)
            self.built[commit] = None if proc.returncode == 0 else last_line(proc)
        return self.built[commit]

    def remove(self) -> None:
        for side in self.sides.values():
            side.tree.remove()


def _instruction_metric(metric: str | None) -> bool:
    return bool(metric and metric.startswith("vg_"))


class _Measurer:
    def __init__(self, trees_: _Trees, opts: BisectOptions,
                 on_step: Callable[[str], None]) -> None:
        self.trees, self.opts, self.on_step = trees_, opts, on_step
        self.selection = Selection((opts.workload,), (opts.impl,) if opts.impl else (),
                                   opts.reps)
        self.seed = opts.seed

    def figures(self, commits: list[str], rounds: int) -> dict[str, Figures]:
        """Add ``rounds`` paired rounds (or one instruction run each) for ``commits``."""
        sides = [self.trees.side(c) for c in commits]
        self.seed += 1
        if _instruction_metric(self.opts.metric):
            for side in sides:
                if self.opts.system not in side.instruction_runs:
                    bench_once(side, self.opts.system, self.selection, seed=self.seed,
                               instructions=True)
        else:
            interleave(sides, [self.opts.system], self.selection, rounds=rounds,
                       seed=self.seed, on_step=self.on_step)
        out = {}
        for commit, side in zip(commits, sides, strict=True):
            from lab.store import open_store

            store = open_store(str(side.store))
            try:
                runs = list(side.runs.get(self.opts.system, []))
                if self.opts.system in side.instruction_runs:
                    runs.append(side.instruction_runs[self.opts.system])
                out[commit] = collect(store, self.opts.system, runs, side.round_of)
            finally:
                store.close()
        return out


def _pick(figures: Figures, opts: BisectOptions) -> list[Key]:
    keys = [k for k, f in figures.items() if k.workload == opts.workload
            and (opts.impl is None or k.impl == opts.impl)
            and (k.metric == opts.metric if opts.metric else f.channel == "wall")]
    return sorted(keys, key=lambda k: (k.impl, k.params, k.metric))


def _row(a: Figures, b: Figures, key: Key) -> cmp.Row | None:
    rows = [r for r in cmp.compare({key: a[key]}, {key: b[key]}, {}) if r.key == key]
    return rows[0] if rows else None


def _classify(figs: dict[str, Figures], good: str, mid: str, bad: str, key: Key,
              direction: str) -> tuple[str, float | None, float | None]:
    vs_good = _row(figs[good], figs[mid], key)
    vs_bad = _row(figs[bad], figs[mid], key)
    if vs_good is None or vs_bad is None:
        return "unclear", None, None
    moved = vs_good.verdict == direction
    back = vs_bad.verdict not in (detect.NO_CHANGE, cmp.NOT_ENOUGH)
    if moved and not back:
        verdict = "bad"
    elif not moved and vs_good.verdict == detect.NO_CHANGE and back:
        verdict = "good"
    else:
        verdict = "unclear"
    return verdict, vs_good.ratio, vs_bad.ratio


def bisect(opts: BisectOptions, on_step: Callable[[str], None] = lambda s: None) -> Bisection:
    """Find and confirm the commit that changed the benchmark (see the module doc)."""
    from lab.ci.run import _scratch_root

    repo = trees.repository()
    good, bad = trees.resolve(repo, opts.good), trees.resolve(repo, opts.bad)
    commits = path_commits(repo, good, bad)
    result = Bisection(good, bad, candidates=len(commits))
    if not commits:
        raise UsageError(f"good {good[:10]} and bad {bad[:10]} are the same commit; valid: a "
                         "bad commit that descends from good")
    scratch = Path(tempfile.mkdtemp(prefix="lab-bisect-", dir=_scratch_root()))
    made = _Trees(repo, scratch, opts)
    try:
        _search(result, opts, made, commits, on_step)
    finally:
        made.remove()
        shutil.rmtree(scratch, ignore_errors=True)
    return result


def _search(result: Bisection, opts: BisectOptions, made: _Trees, commits: list[str],
            on_step: Callable[[str], None]) -> None:
    good, bad = result.good, result.bad
    for commit in (good, bad):
        err = made.build_error(commit)
        if err:
            result.reason = f"{commit[:10]} does not build: {err}"
            return
    measure = _Measurer(made, opts, on_step)
    figs = measure.figures([good, bad], opts.rounds)
    keys = [k for k in _pick(figs[good], opts) if k in figs[bad]]
    if not keys:
        result.reason = (f"no figure of workload {opts.workload!r}"
                         f"{f' impl {opts.impl!r}' if opts.impl else ''}"
                         f"{f' metric {opts.metric!r}' if opts.metric else ''} on both commits")
        return
    rows = [r for k in keys if (r := _row(figs[good], figs[bad], k))]
    ref = max(rows, key=lambda r: abs(r.change))
    result.benchmark, result.change = ref.key.label, ref.change
    if not ref.significant:
        result.reason = (f"good and bad do not differ clearly on {ref.key.label}: "
                         f"{ref.change * 100:+.2f}% ({ref.verdict})")
        return
    direction = ref.verdict
    lo, hi = 0, len(commits) - 1  # commits[hi] is known bad; everything before lo is good
    while lo < hi:
        mid = (lo + hi) // 2
        step = _step(made, measure, opts, good, commits[mid], bad, ref.key, direction)
        result.steps.append(step)
        if step.verdict == "bad":
            hi = mid
        elif step.verdict == "good":
            lo = mid + 1
        else:
            result.reason = f"could not tell whether {commits[mid][:10]} is good or bad"
            return
    culprit = commits[lo]
    result.culprit_subject = _git(made.repo, "log", "-1", "--format=%s", culprit)
    parent = good if lo == 0 else commits[lo - 1]
    conf = measure.figures([parent, culprit], opts.rounds)
    row = _row(conf[parent], conf[culprit], ref.key) if ref.key in conf[culprit] else None
    result.confirmation = row.to_json() if row else None
    if row is not None and row.verdict == direction:
        result.culprit = culprit
    else:
        result.reason = (f"{culprit[:10]} did not confirm: against its parent it shows "
                         f"{row.verdict if row else 'no figure'}")


def _step(made: _Trees, measure: _Measurer, opts: BisectOptions, good: str, mid: str,
          bad: str, key: Key, direction: str) -> Step:
    subject = _git(made.repo, "log", "-1", "--format=%s", mid)
    err = made.build_error(mid)
    if err:
        return Step(mid, subject, "unclear", None, None, 0)
    rounds = opts.rounds
    figs = measure.figures([good, mid, bad], opts.rounds)
    while True:
        verdict, vs_good, vs_bad = _classify(figs, good, mid, bad, key, direction)
        if verdict != "unclear" or rounds >= opts.max_rounds or \
                _instruction_metric(opts.metric):
            return Step(mid, subject, verdict, vs_good, vs_bad, rounds)
        extra = min(opts.rounds, opts.max_rounds - rounds)
        figs = measure.figures([good, mid, bad], extra)
        rounds += extra

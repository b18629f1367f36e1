"""Benchmark histories across runs and commits, with the change points found in them.

A *benchmark* is one (workload, implementation, parameter set, metric, channel) of a system;
its *history* is the median of each finished bench run that measured it, oldest first, each
point keyed to the run's commit (and dirty flag). Runs on another machine or environment
(another fingerprint hash) are left out unless forced: their figures are not comparable, and
a history that mixed them would show the machine change as a regression. Without ``force``
the history follows the fingerprint of the system's latest bench run.

Change points come from :func:`lab.ci.changepoint.change_points` (E-divisive means with a
t-test, p < ``max_pvalue`` and a relative change of at least ``min_magnitude``), as Apache
Otava reports them for nightly performance results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lab.ci.changepoint import ChangePoint, change_points

MAX_PVALUE = 0.001
MIN_MAGNITUDE = 0.02


@dataclass(frozen=True)
class Point:
    """One run's figure: ``median`` with its interval, and where it came from."""

    run_id: int
    started: str
    commit: str | None
    dirty: bool
    fingerprint: str
    median: float
    ci_low: float | None
    ci_high: float | None

    @property
    def label(self) -> str:
        """The short commit (``+`` when dirty), or the run id when there is none."""
        if not self.commit:
            return f"run {self.run_id}"
        return self.commit[:7] + ("+" if self.dirty else "")


@dataclass
class Series:
    """One benchmark's history and its change points."""

    workload: str
    impl: str
    params: dict[str, Any]
    metric: str
    unit: str
    better: str
    channel: str
    points: list[Point] = field(default_factory=list)
    changes: list[ChangePoint] = field(default_factory=list)

    @property
    def name(self) -> str:
        params = ",".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        return f"{self.workload} · {self.impl} · {params} · {self.metric} [{self.channel}]"

    def verdict(self, change: ChangePoint) -> str:
        """``regression`` or ``improvement``, from the metric's better direction."""
        worse = change.after < change.before if self.better == "higher" else \
            change.after > change.before
        return "regression" if worse else "improvement"


@dataclass
class History:
    """The histories of a system: ``series``, the ``fingerprint`` they follow (None when
    forced across fingerprints) and how many runs were ``left_out`` for another one."""

    system: str
    series: list[Series]
    fingerprint: str | None
    left_out: int
    runs: int


def _key(row: dict[str, Any]) -> tuple:
    return (row["workload"], row["impl"], tuple(sorted(row["params"].items())), row["metric"],
            row.get("channel", "wall"))


def load(store: Any, system: str, workload: str | None = None, *, force: bool = False,
         impl: str | None = None, metric: str | None = None) -> History:
    """The histories of ``system`` from ``store`` (see the module docstring)."""
    rows = store.result_history(system, workload)
    if impl is not None:
        rows = [r for r in rows if r["impl"] == impl]
    if metric is not None:
        rows = [r for r in rows if r["metric"] == metric]
    latest = store.latest_run(system)
    fingerprint = None if force or latest is None else latest.fingerprint_hash
    runs_all = {r["run_id"] for r in rows}
    if fingerprint is not None:
        rows = [r for r in rows if r["fingerprint_hash"] == fingerprint]
    kept = {r["run_id"] for r in rows}
    by_key: dict[tuple, Series] = {}
    for r in rows:
        series = by_key.get(_key(r))
        if series is None:
            series = by_key[_key(r)] = Series(r["workload"], r["impl"], dict(r["params"]),
                                              r["metric"], r["unit"], r["better"],
                                              r.get("channel", "wall"))
        series.points.append(Point(r["run_id"], r["started"], r["git_commit"], r["git_dirty"],
                                   r["fingerprint_hash"], float(r["median"]), r["ci_low"],
                                   r["ci_high"]))
    return History(system, list(by_key.values()), fingerprint, len(runs_all - kept), len(kept))


def analyze(history: History, *, max_pvalue: float = MAX_PVALUE,
            min_magnitude: float = MIN_MAGNITUDE) -> History:
    """Find the change points of every series (in place); returns ``history``."""
    for series in history.series:
        series.changes = change_points([p.median for p in series.points],
                                       max_pvalue=max_pvalue, min_magnitude=min_magnitude)
    return history


def to_dict(history: History) -> dict[str, Any]:
    """JSON-ready form (``lab history --json``)."""
    return {
        "system": history.system, "fingerprint": history.fingerprint,
        "runs": history.runs, "left_out": history.left_out,
        "series": [{
            "name": s.name, "workload": s.workload, "impl": s.impl, "params": s.params,
            "metric": s.metric, "unit": s.unit, "better": s.better, "channel": s.channel,
            "points": [{"run_id": p.run_id, "commit": p.commit, "dirty": p.dirty,
                        "started": p.started, "median": p.median, "ci_low": p.ci_low,
                        "ci_high": p.ci_high} for p in s.points],
            "change_points": [{
                "index": c.index, "run_id": s.points[c.index].run_id,
                "commit": s.points[c.index].commit, "before": c.before, "after": c.after,
                "change": c.change, "pvalue": c.pvalue, "verdict": s.verdict(c)}
                for c in s.changes],
        } for s in history.series],
    }

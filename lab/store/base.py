"""The result store's interface: what the bench engine, reports and exports need of a store.

The SQLite store (``lab.store.sqlite``) is the default; a server database can be added by a
plugin implementing ``lab_open_store`` and this protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

RUN_STATUSES = ("running", "ok", "failed", "interrupted")


@dataclass(frozen=True)
class RunRecord:
    """One run of a lab command."""

    id: int
    system: str
    kind: str
    command: list[str]
    started: str
    finished: str | None
    status: str
    git_commit: str | None
    git_dirty: bool
    fingerprint_hash: str
    fingerprint: dict[str, Any]
    options: dict[str, Any]
    error: str | None


@dataclass(frozen=True)
class Sample:
    """One raw measurement: ``rep`` is the repetition, ``seconds`` the raw timed duration,
    ``channel`` where the figure came from (see :mod:`lab.bench.channels`)."""

    impl: str
    workload: str
    params: dict[str, Any]
    metric: str
    rep: int
    value: float
    seconds: float | None = None
    channel: str = "wall"


class Store(Protocol):
    """A durable store of runs, raw samples and their summaries."""

    location: str

    def begin_run(self, *, system: str, kind: str, command: list[str], fingerprint: dict,
                  fingerprint_hash: str, git_commit: str | None, git_dirty: bool,
                  options: dict) -> int:
        """Record a new run with status ``running``; return its id."""

    def add_samples(self, run_id: int, samples: list[Sample]) -> None:
        """Append raw samples, durably (committed before returning)."""

    def save_summary(self, run_id: int, results: list[dict], comparisons: list[dict]) -> None:
        """Replace the run's summarized results and comparisons."""

    def finish_run(self, run_id: int, status: str, error: str | None = None) -> None:
        """Set the final status (``ok``, ``failed`` or ``interrupted``) and end time."""

    def run(self, run_id: int) -> RunRecord:
        """The run with this id; raises StoreError when there is none."""

    def latest_run(self, system: str, kind: str = "bench") -> RunRecord | None:
        """The newest run of ``system``, or None."""

    def runs(self, system: str | None = None, limit: int = 50) -> list[RunRecord]:
        """Newest first."""

    def samples(self, run_id: int) -> list[Sample]:
        """Every raw sample of the run, in insertion order."""

    def results(self, run_id: int) -> list[dict]:
        """The summarized results of the run."""

    def comparisons(self, run_id: int) -> list[dict]:
        """The comparisons of the run."""

    def table_names(self) -> list[str]:
        """Tables offered to ``lab export``."""

    def read_table(self, name: str, run_id: int | None = None) -> Any:
        """A pandas DataFrame of one table (optionally one run's rows)."""

    def add_fuzz_stats(self, run_id: int, rows: list[dict]) -> None:
        """Append fuzzing statistics (target, elapsed, execs, exec_per_s, cov, ft,
        corpus_units, corpus_bytes, crashes)."""

    def fuzz_stats(self, system: str, target: str | None = None) -> list[dict]:
        """Every statistics row of ``system`` (optionally one target), in run and time order."""

    def record_crash(self, run_id: int | None, crash: dict) -> tuple[int, bool]:
        """Store a triaged crash or count a sighting of a known signature: (id, is_new)."""

    def update_crash(self, crash_id: int, **fields: Any) -> None:
        """Set reliability, minimized, status ('open'/'fixed') or report of a crash."""

    def crashes(self, system: str | None = None) -> list[dict]:
        """All crashes (of one system), oldest first."""

    def crash(self, crash_id: int) -> dict:
        """One crash by id; StoreError naming ``lab crashes`` when absent."""

    def add_coverage(self, run_id: int, row: dict) -> None:
        """Store one target's coverage totals (lines/branches/functions/regions, html path)."""

    def coverage(self, system: str) -> list[dict]:
        """Every coverage measurement of ``system``, oldest first."""

    def add_profile(self, run_id: int, profile: dict) -> int:
        """Store one per-function profile: impl, workload, params, source (``py-spy``,
        ``perf``, ``callgrind``), unit (``samples``, ``instructions``), total, functions
        (name -> [self, inclusive]), optional folded ``stacks`` text, ``artifacts`` (name ->
        path of a file written for the report) and ``note`` (e.g. a partial profile)."""

    def profiles(self, run_id: int) -> list[dict]:
        """The profiles of one run, in the order they were stored."""

    def result_history(self, system: str, workload: str | None = None) -> list[dict]:
        """Every ``ok`` result of the system's finished bench runs, oldest run first, with
        the run's ``run_id``, ``started``, ``git_commit``, ``git_dirty`` and
        ``fingerprint_hash``."""

    def add_chaos_case(self, run_id: int, case: dict) -> int:
        """Record one chaos case (impl, scenario, seed, status, valid, stats, verdicts,
        folder); returns its id."""

    def update_chaos_case(self, case_id: int, case: dict) -> None:
        """Replace a stored case's status, validity, stats and verdicts (after shrinking)."""

    def chaos_cases(self, run_id: int) -> list[dict]:
        """The chaos cases of one run, in the order they were stored."""

    def save_noise_bands(self, run_id: int | None, fingerprint_hash: str,
                         bands: list[dict]) -> None:
        """Record ``lab ci --calibrate``'s noise bands (dicts with system, bench, half_width,
        min_detectable, aa_ratios), replacing earlier ones of the same benchmarks."""

    def noise_bands(self, fingerprint_hash: str) -> list[dict]:
        """The noise bands calibrated on the machine of ``fingerprint_hash``."""

    def close(self) -> None:
        """Release the connection."""

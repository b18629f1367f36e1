"""Runs a bench: record the run, build native cores, measure in a child process, summarize.

The child (``lab.bench.child``) streams events; this process stores each item's samples as
they arrive. A child that crashes or stops answering for ``item_timeout`` seconds costs only
the item it was measuring: that item is recorded as failed and a new child takes the rest.
Ctrl-C stops the child, marks the run ``interrupted`` and keeps everything measured.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lab import native, paths
from lab.bench.channels import RESERVED, in_process, run_channels
from lab.bench.instructions import DumpReader, callgrind_profile, instruction_figures
from lab.bench.plan import Item, Plan, Skip, make_plan
from lab.bench.summary import summarize
from lab.errors import BuildError, LabError
from lab.fingerprint import fingerprint
from lab.gitinfo import commit_and_dirty
from lab.host import get_host
from lab.model import System
from lab.store import open_store
from lab.store.base import RunRecord, Sample, Store

PRESETS: dict[str, dict[str, Any]] = {
    "quick": {"reps": 3, "min_rounds": 3, "max_time": 0.03, "min_time": 0.0005},
    "default": {"reps": 3, "min_rounds": 5, "max_time": 0.08, "min_time": 0.001},
    "full": {"reps": 5, "min_rounds": 5, "max_time": 0.3, "min_time": 0.002},
}


@dataclass
class BenchOptions:
    """How hard to measure. ``mode`` picks parameter subsets and the timing preset."""

    mode: str = "default"
    impls: list[str] = field(default_factory=list)
    workloads: list[str] = field(default_factory=list)
    params: list[str] = field(default_factory=list)
    flavor: str = "release"
    reps: int | None = None
    seed: int = 0
    item_timeout: float = 600.0
    noise: float = 0.01
    report: bool = True
    counters: bool = False
    memory: bool = False
    metric: str = "time"

    def channels(self) -> tuple[str, ...]:
        """The measurement channels this run produces (see lab.bench.channels)."""
        return run_channels(asdict(self))

    def timing(self) -> dict[str, Any]:
        preset = dict(PRESETS[self.mode])
        if self.reps is not None:
            preset["reps"] = self.reps
        preset["warmup_iterations"] = 1
        return preset


@dataclass
class RunSummary:
    """What a finished (or interrupted) run produced."""

    run: RunRecord
    system: System
    results: list[dict]
    comparisons: list[dict]
    report: Path | None = None


class Interrupted(Exception):
    """Ctrl-C reached the bench; what was measured is kept."""


@dataclass
class Progress:
    """Callbacks for a progress display; all optional."""

    start: Callable[[int], None] = lambda total: None
    item: Callable[[Item], None] = lambda item: None
    advance: Callable[[], None] = lambda: None
    warn: Callable[[str], None] = lambda message: print(f"lab: warning: {message}",
                                                       file=sys.stderr)


class Runner:
    """Drives child processes over the planned items and records what they report."""

    def __init__(self, system: System, plan: Plan, options: BenchOptions, store: Store,
                 run_id: int, progress: Progress) -> None:
        self.system, self.plan, self.options = system, plan, options
        self.store, self.run_id, self.progress = store, run_id, progress
        self.notes: list[dict[str, Any]] = []
        self.finished: set[int] = set()
        self.workdir = paths.run_dir(run_id)
        shutil.rmtree(self.workdir, ignore_errors=True)  # a deleted store's run of this id
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log = self.workdir / "child.log"
        self._offset = 0  # read position in the current child's events file
        self.channels = options.channels()
        self.missing: dict[tuple, dict[str, Any]] = {}
        self.callgrind_dir = self.workdir / "callgrind"
        # a run id can come again (a new store beside an old cache): never read old dumps
        shutil.rmtree(self.callgrind_dir, ignore_errors=True)
        self.profiled: set[tuple] = set()
        self.count_allocs = True  # preload the allocation counter on the memory channel
        self.dumps = DumpReader(self.callgrind_dir)

    def fail(self, item: Item, note: str) -> None:
        self.notes.append({"impl": item.impl, "workload": item.workload, "params": item.params,
                           "status": "failed", "note": note})
        self.finished.add(item.index)
        self.progress.advance()

    def run(self) -> None:
        """Measure every planned item; raises :class:`Interrupted` on Ctrl-C."""
        self.progress.start(len(self.plan.items))
        pending = list(self.plan.items)
        while pending:
            self._child(pending)
            left = [i for i in pending if i.index not in self.finished]
            if len(left) == len(pending):  # a child that measured nothing: don't spin
                for item in left:
                    self.fail(item, f"failed: benchmark process ended without measuring it; "
                                    f"log: {self.log}")
                left = []
            pending = left

    def _spec(self, pending: list[Item]) -> Path:
        spec = {
            "system": self.system.name, "flavor": self.options.flavor,
            "channels": list(self.channels),
            "options": self.options.timing(), "order": [i.index for i in pending],
            "items": {str(i.index): asdict(i) for i in pending},
        }
        path = self.workdir / "spec.json"
        path.write_text(json.dumps(spec))
        return path

    def _child(self, pending: list[Item]) -> None:
        events = self.workdir / "events.jsonl"
        events.write_text("")
        self._offset = 0
        by_index = {i.index: i for i in pending}
        with open(self.log, "a") as log:
            proc = subprocess.Popen(
                [*self._prefix(), sys.executable, "-m", "lab.bench.child",
                 str(self._spec(pending)), str(events)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=self._child_env())
            try:
                current, stalled = self._follow(proc, events, by_index)
            except KeyboardInterrupt:
                self._stop(proc)
                self._drain(events, by_index)
                raise Interrupted from None
            except BaseException:
                self._stop(proc)  # never leave a measuring process (and its servers) behind
                raise
        if current is not None and current.index not in self.finished:
            code = proc.returncode
            why = (f"killed by signal {-code}" if code and code < 0 else f"exit status {code}")
            if stalled:
                why = f"no result after {self.options.item_timeout:.0f} s"
            self.fail(current, f"failed: benchmark process {why} while measuring; log: {self.log}")
        elif proc.returncode != 0 and not self.finished.intersection(by_index):
            raise LabError(f"benchmark process exited with status {proc.returncode} before "
                           f"measuring anything; log: {self.log}\n{self._log_tail()}")

    def _prefix(self) -> list[str]:
        if "instructions" not in self.channels:
            return []
        from lab.callgrind import valgrind_argv

        self.callgrind_dir.mkdir(exist_ok=True)
        return valgrind_argv(self.callgrind_dir)

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ, LAB_RUN_DIR=str(self.workdir),
                   **native.flavors_runtime_env(self.options.flavor))
        if "instructions" in self.channels:
            from lab.callgrind import DETERMINISTIC_ENV

            env.update(DETERMINISTIC_ENV)  # the same work in every run, in one thread
        if "memory" in self.channels and self.count_allocs:
            from lab import alloccount

            env = alloccount.preload_env(env)
        return env

    def _log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _follow(self, proc: subprocess.Popen, events: Path, by_index: dict[int, Item]
                ) -> tuple[Item | None, bool]:
        """Read events until the child exits or stalls; return the item it was measuring
        and whether it stalled (then it has been stopped)."""
        current, last = None, time.monotonic()
        while True:
            started = self._drain(events, by_index)
            if started is not None:
                current, last = started, time.monotonic()
            if current is not None and current.index in self.finished:
                current, last = None, time.monotonic()
            if proc.poll() is not None:
                return self._drain(events, by_index) or current, False
            if time.monotonic() - last > self.options.item_timeout:
                self._stop(proc)
                return current, True
            time.sleep(0.02)

    def _drain(self, events: Path, by_index: dict[int, Item]) -> Item | None:
        """Handle the complete event lines written since the last call (each exactly once);
        return the last item that started among them."""
        started = None
        with open(events) as fh:
            fh.seek(self._offset)
            while True:
                line = fh.readline()
                if not line.endswith("\n"):
                    break
                self._offset = fh.tell()
                started = self._handle(json.loads(line), by_index) or started
        return started

    def _handle(self, event: dict[str, Any], by_index: dict[int, Item]) -> Item | None:
        item = by_index[event["index"]]
        if event["event"] == "start":
            self.progress.item(item)
            return item
        if event["event"] == "error":
            self.fail(item, f"failed: {event['error']}")
            return None
        if "dump" in event:
            try:
                event = dict(event, extra=self._callgrind(item, event["dump"]))
            except (OSError, ValueError) as exc:
                self.fail(item, f"failed: callgrind dump {event['dump']!r}: {exc}")
                return None
        for metric, why in event.get("missing", {}).items():
            self._missing(item, metric, why)
        self.store.add_samples(self.run_id, self._samples(item, event))
        self.finished.add(item.index)
        self.progress.advance()
        return None

    def _missing(self, item: Item, metric: str, why: str) -> None:
        """Note that ``metric`` of this item has no value, and why (once per result row)."""
        key = (item.impl, item.workload, json.dumps(item.params, sort_keys=True), metric)
        self.missing[key] = {"impl": item.impl, "workload": item.workload,
                             "params": item.params, "metric": metric, "status": "skipped",
                             "note": f"{metric}: {why}"}

    @staticmethod
    def _samples(item: Item, event: dict[str, Any]) -> list[Sample]:
        out = []
        for metric, values in event["samples"].items():
            out += [Sample(item.impl, item.workload, item.params, metric, item.rep, v, s)
                    for v, s in zip(values, event["seconds"], strict=True)]
        out += [Sample(item.impl, item.workload, item.params, metric, item.rep, v,
                       channel="measured") for metric, v in event["measured"].items()]
        for metric, values in event.get("extra", {}).items():
            if metric in RESERVED:  # a metric the lab does not know is not stored
                out += [Sample(item.impl, item.workload, item.params, metric, item.rep, v,
                               channel=RESERVED[metric]) for v in values]
        return out

    def _callgrind(self, item: Item, label: str) -> dict[str, list[float]]:
        """The instruction-channel figures of the dump ``label``; the first dump of each
        (impl, workload, params) is kept as a per-function profile for the report."""
        dump = self.dumps.take(label)
        figures, missing = instruction_figures(dump)
        for metric, why in missing.items():
            self._missing(item, metric, why)
        key = (item.impl, item.workload, json.dumps(item.params, sort_keys=True))
        if key not in self.profiled:
            self.profiled.add(key)
            self.store.add_profile(self.run_id, dict(callgrind_profile(dump), impl=item.impl,
                                                     workload=item.workload,
                                                     params=item.params))
        return figures

    @staticmethod
    def _stop(proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _channel_skips(system: System, plan: Plan, channels: tuple[str, ...]) -> None:
    """Workloads the run's channels cannot measure become skip notes."""
    if "instructions" not in channels:
        return
    out = [w for w in plan.workloads if not in_process(system.workload(w))]
    for w in out:
        plan.skips += [Skip(i, w, None, "skipped: the instruction channel counts in-process "
                                        "work only (this workload runs in other processes)")
                       for i in plan.impls]
    plan.items = [i for i in plan.items if i.workload not in out]
    elsewhere = {name: system.impl(name).device for name in plan.impls
                 if system.impl(name).device}
    for name, device in elsewhere.items():
        plan.skips += [Skip(name, w, None, f"skipped: the instruction channel counts this "
                                           f"process's own CPU code; {name} runs its work on "
                                           f"an {device}")
                       for w in plan.workloads if w not in out]
    plan.items = [i for i in plan.items if i.impl not in elsewhere]


def _prebuild(system: System, plan: Plan, flavor: str) -> list[dict[str, Any]]:
    """Build the recipes the chosen impls need; a failed build fails those impls only."""
    notes = []
    needed = {r for name in plan.impls for r in system.impl(name).recipes}
    # implementations skipped for every workload (missing requirements) need no build
    skipped = {name for name in plan.impls
               if all(any(s.impl == name and s.workload == w and s.params is None
                          for s in plan.skips) for w in plan.workloads)}
    for recipe in sorted(needed):
        try:
            native.build(system, recipe, flavor)
        except BuildError as exc:
            for name in plan.impls:
                if recipe in system.impl(name).recipes and name not in skipped:
                    notes += [{"impl": name, "workload": w, "params": None, "status": "failed",
                               "note": f"failed: {exc}"} for w in plan.workloads]
    return notes


def _expand(notes: list[dict[str, Any]], plan: Plan) -> list[dict[str, Any]]:
    """Notes with ``params`` None stand for every parameter set of their workload."""
    out = []
    for n in notes:
        if n["params"] is None:
            out += [dict(n, params=c) for c in plan.combos[n["workload"]]]
        else:
            out.append(n)
    return out


def fingerprint_for(system: System) -> tuple[dict[str, Any], str]:
    extra: dict[str, Any] = {}
    for part in get_host().collect("lab_fingerprint_extra", system=system):
        extra.update(part)
    return fingerprint(extra)


def run_bench(system: System, options: BenchOptions, argv: list[str],
              progress: Progress | None = None) -> RunSummary:
    """Plan, record, measure, summarize and report one bench run of ``system``."""
    timing = options.timing()
    plan = make_plan(system, options.impls, options.workloads, options.mode, options.params,
                     timing["reps"], options.seed)
    native.flavor(options.flavor)
    progress = progress or Progress()
    count_allocs = _check_channels(options, progress.warn)
    channels = options.channels()
    _channel_skips(system, plan, channels)
    store = open_store()
    fp, fp_hash = fingerprint_for(system)
    commit, dirty = commit_and_dirty(paths.root())
    run_id = store.begin_run(system=system.name, kind="bench", command=argv, fingerprint=fp,
                             fingerprint_hash=fp_hash, git_commit=commit, git_dirty=dirty,
                             options=dict(asdict(options), **timing))
    host = get_host()
    host.hook.lab_bench_start(run_id=run_id, system=system, options=asdict(options))
    notes = [{"impl": s.impl, "workload": s.workload, "params": s.params, "status": "skipped",
              "note": s.note} for s in plan.skips]
    status, error = "ok", None
    try:
        build_notes = _prebuild(system, plan, options.flavor)
        failed_impls = {n["impl"] for n in build_notes}
        notes += build_notes
        plan.items = [i for i in plan.items if i.impl not in failed_impls]
        runner = Runner(system, plan, options, store, run_id, progress)
        runner.count_allocs = count_allocs
        try:
            runner.run()
        finally:
            notes += runner.notes + list(runner.missing.values())
    except (Interrupted, KeyboardInterrupt):
        status = "interrupted"
    except Exception as exc:
        status, error = "failed", str(exc)
        raise
    finally:
        # a second Ctrl-C must not leave the run half-recorded
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            results, comparisons = summarize(system, store.samples(run_id), _expand(notes, plan),
                                             options.noise, channels)
            store.save_summary(run_id, results, comparisons)
            store.finish_run(run_id, status, error)
        finally:
            signal.signal(signal.SIGINT, previous)
    summary = RunSummary(store.run(run_id), system, results, comparisons)
    if options.report:
        summary.report = write_reports(summary)
    host.hook.lab_bench_finish(summary=summary)
    store.close()
    return summary


def _check_channels(options: BenchOptions, warn: Callable[[str], None]) -> bool:
    """Refuse channel options that contradict each other; where a tool the channel needs is
    missing, warn and measure what can be measured (the benchmark still runs). Returns
    whether the memory channel can preload the allocation counter."""
    from lab.errors import LabError, UsageError

    if options.metric not in ("time", "instructions"):
        raise UsageError(f"unknown --metric {options.metric!r}; valid: time, instructions")
    if options.metric == "instructions":
        if options.counters or options.memory:
            raise UsageError("--metric instructions runs under valgrind: it cannot be "
                             "combined with --counters or --memory")
        from lab import callgrind

        try:
            callgrind.check_valgrind()
            callgrind.build()  # here, not in the child under valgrind (much slower there)
        except LabError as exc:
            warn(f"{exc}; measuring wall time instead")
            options.metric = "time"
    if options.memory:
        from lab import alloccount

        try:
            alloccount.preload_env(dict(os.environ,
                                        **native.flavors_runtime_env(options.flavor)))
        except LabError as exc:
            warn(f"{exc}; measuring peak RSS without allocation counts")
            return False
    return True


def write_reports(summary: RunSummary) -> Path | None:
    """Ask every reporter to write its report; return the first main file written."""
    out_dir = paths.reports_dir() / summary.system.name / str(summary.run.id)
    written = [p for p in get_host().hook.lab_report_write(summary=summary, out_dir=out_dir) if p]
    return written[0] if written else None

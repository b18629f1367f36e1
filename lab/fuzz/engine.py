"""``lab fuzz``: run libFuzzer workers on a system's targets within a time or run budget.

Each target gets ``jobs`` worker processes sharing one grown corpus (libFuzzer reloads it
every second, so what one worker finds, the others use). The engine reads every worker's
output, keeps a live status, writes statistics to the store every ``stats_interval`` seconds,
triages each crash artifact (:mod:`lab.fuzz.crashes`) and restarts the worker while budget
remains. Without a target list the time budget is split evenly among the system's targets.
Ctrl-C stops the workers and keeps corpus, statistics and crashes (the run ends
``interrupted``).
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lab import native, paths
from lab.errors import LabError
from lab.fuzz import process
from lab.fuzz.crashes import TriageOptions, triage
from lab.fuzz.layout import TargetLayout, corpus_size, layout
from lab.fuzz.progress import parse_final_stat, parse_loaded_counters, parse_status
from lab.fuzz.toolchain import INSTALL_HINT
from lab.fuzz.triage import artifact_path
from lab.model import FuzzTarget, System

KEEP_LINES = 4000
STARTUP_FAILURES = 2
FORK_AFTER = 3
"""Crash exits of one worker slot after which it restarts in libFuzzer's fork mode
(``-fork=1 -ignore_crashes=1``): a shallow bug found again and again must not stop the search
for deeper ones. Crash files of fork mode are picked up from the artifacts folder."""
FORK_FLAGS = ("-fork=1", "-ignore_crashes=1", "-ignore_timeouts=1", "-ignore_ooms=1")
_FORK_STATUS = re.compile(r"^#(?P<execs>\d+): cov: (?P<cov>\d+) ft: (?P<ft>\d+) corp: \d+")


@dataclass
class FuzzOptions:
    """A fuzzing request. ``seconds`` and ``runs`` are budgets (``runs`` per target, split
    among the jobs); at least one must be set."""

    seconds: float | None = 60.0
    runs: int | None = None
    jobs: int = 1
    seed: int | None = None
    stats_interval: float = 5.0
    triage: TriageOptions = field(default_factory=TriageOptions)
    corpus: Path | None = None  # override the grown corpus folder (--vs-raw uses a fresh one)
    record: bool = True


@dataclass
class CrashNote:
    id: int
    new: bool
    kind: str
    signature: str
    reliability: float | None
    input_size: int
    minimized_size: int | None


@dataclass
class TargetResult:
    """How fuzzing one target went."""

    system: str
    target: str
    seconds: float = 0.0
    execs: int = 0
    exec_per_s: float = 0.0
    cov: int | None = None
    ft: int | None = None
    corpus_units: int = 0
    corpus_bytes: int = 0
    seed_units: int = 0
    counters: int = 0
    restarts: int = 0
    status: str = "ok"
    error: str | None = None
    crashes: list[CrashNote] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class FuzzError(LabError):
    """The fuzzer cannot do useful work (no coverage, a worker that cannot start)."""


class _Worker:
    """One libFuzzer process and what the engine knows of its output."""

    def __init__(self, index: int, argv: list[str], env: dict[str, str], lines: queue.Queue,
                 log: Path) -> None:
        self.index = index
        self.forked = "-fork=1" in argv
        self.lines: deque[str] = deque(maxlen=KEEP_LINES)
        self.execs = 0
        self.inited = False
        self.counters: list[int] = []
        self.done_reading = threading.Event()
        self.log = log.open("a", encoding="utf-8", errors="replace")
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, errors="replace",
                                     start_new_session=True, cwd=log.parent)
        threading.Thread(target=self._read, args=(lines,), daemon=True).start()

    def _read(self, sink: queue.Queue) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            sink.put((self, line.rstrip("\n")))
        self.done_reading.set()

    def finished(self) -> bool:
        return self.proc.poll() is not None and self.done_reading.is_set()

    def stop(self, grace: float = 5.0) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGINT)
                self.proc.wait(timeout=grace)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait()
        self.done_reading.wait(timeout=grace)

    def output(self) -> str:
        return "\n".join(self.lines)


Progress = Callable[[dict[str, Any]], None]


class _Triager:
    """Triage crash artifacts on a thread of its own (with its own store connection), so that
    statistics, the status line and worker restarts go on while a crash is re-run and
    minimized."""

    def __init__(self, run: TargetRun) -> None:
        self.run = run
        self.todo: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._work, daemon=True)
        self.thread.start()

    def submit(self, artifact: Path, report: str) -> None:
        self.todo.put((artifact, report))

    def _work(self) -> None:
        from lab.store import open_store

        r = self.run
        store = open_store() if r.store is not None else None
        while True:
            item = self.todo.get()
            if item is None:
                break
            try:
                t = triage(store, r.run_id, r.system, r.target, item[0], item[1],
                           r.options.triage)
            except Exception as exc:  # noqa: BLE001 - a triage failure must not stop fuzzing
                r.result.error = f"triage of {item[0].name} failed: {exc}"
                continue
            finally:
                self.todo.task_done()
            r.result.crashes.append(CrashNote(
                t.crash_id, t.new, t.finding.kind, t.signature, t.reliability, t.input_size,
                t.minimized_size))
            if r.progress:
                r.progress({"event": "crash", "target": r.target.name, "id": t.crash_id,
                            "new": t.new, "signature": t.signature,
                            "reliability": t.reliability})
        if store is not None:
            store.close()

    def finish(self, wait: bool) -> None:
        """Let queued artifacts be triaged (``wait``) or drop them, then end the thread."""
        if not wait:
            while not self.todo.empty():
                self.todo.get_nowait()
                self.todo.task_done()
        self.todo.put(None)
        self.thread.join(timeout=None if wait else 5)


class TargetRun:
    """Fuzz one target with ``options.jobs`` workers until its budget is spent."""

    def __init__(self, store: Any, run_id: int | None, system: System, target: FuzzTarget,
                 options: FuzzOptions, seconds: float | None, progress: Progress | None) -> None:
        self.store, self.run_id, self.system, self.target = store, run_id, system, target
        self.options, self.seconds, self.progress = options, seconds, progress
        self.lay: TargetLayout = layout(system, target)
        self.corpus = options.corpus or self.lay.corpus
        self.result = TargetResult(system.name, target.name)
        self.queue: queue.Queue = queue.Queue()
        self.workers: list[_Worker] = []
        self.execs_done = 0  # executions of workers that have exited
        self.cov: int | None = None
        self.ft: int | None = None
        self.startup_failures = 0
        self.stats: list[dict] = []
        self.last_stats = (0.0, 0)
        self.seen_artifacts: set[str] = set()
        self.crash_exits: dict[int, int] = {}
        self.stopping = False

    # -- workers ---------------------------------------------------------------------------

    def _argv(self, index: int, remaining: float | None, runs: int | None) -> list[str]:
        argv = [str(process.launcher()), *process.base_flags(self.target),
                f"-artifact_prefix={self.lay.artifacts}/", "-print_final_stats=1", "-reload=1"]
        if remaining is not None:
            argv.append(f"-max_total_time={max(1, int(remaining))}")
        if runs is not None:
            argv.append(f"-runs={max(1, runs)}")
        if self.options.seed is not None:
            argv.append(f"-seed={self.options.seed + index + 1}")
        dict_file = process.dictionary_file(self.target, self.lay.base)
        if dict_file is not None:
            argv.append(f"-dict={dict_file}")
        argv.append(str(self.corpus))
        if self.lay.seeds.is_dir():
            argv.append(str(self.lay.seeds))
        return argv

    def _start(self, index: int, remaining: float | None, runs: int | None) -> _Worker:
        env = process.environment(process.spec(self.system, self.target))
        log = self.lay.logs / f"worker-{index}.log"
        argv = self._argv(index, remaining, runs)
        if self.crash_exits.get(index, 0) >= FORK_AFTER and runs is None:
            argv[1:1] = FORK_FLAGS
        return _Worker(index, argv, env, self.queue, log)

    def _runs_left(self) -> int | None:
        if self.options.runs is None:
            return None
        return max(0, self.options.runs - self._execs()) // max(1, self.options.jobs) or None

    # -- output ----------------------------------------------------------------------------

    def _consume(self, worker: _Worker, line: str) -> None:
        worker.lines.append(line)
        worker.log.write(line + "\n")
        if line.startswith("#LAB execs="):
            worker.execs = max(worker.execs, int(line.split("=", 1)[1]))
            return
        counters = parse_loaded_counters(line)
        if counters is not None:
            worker.counters.append(counters)
            return
        final = parse_final_stat(line)
        if final is not None:
            if final[0] == "number_of_executed_units":
                worker.execs = max(worker.execs, final[1])
            return
        fork = _FORK_STATUS.match(line) if worker.forked else None
        if fork:
            worker.inited = True
            worker.execs = max(worker.execs, int(fork["execs"]))
            self.cov = max(self.cov or 0, int(fork["cov"]))
            self.ft = max(self.ft or 0, int(fork["ft"]))
            return
        status = parse_status(line)
        if status is None:
            return
        worker.execs = max(worker.execs, status.execs)
        if status.event == "INITED":
            worker.inited = True
            self._check_coverage(worker)
        if status.cov is not None:
            self.cov = max(self.cov or 0, status.cov)
        if status.ft is not None:
            self.ft = max(self.ft or 0, status.ft)

    def _check_coverage(self, worker: _Worker) -> None:
        """The preflight's last check, on the real run: native counters must register
        (unless the target declares that its code under test runs in another process)."""
        self.result.counters = max(self.result.counters, sum(worker.counters))
        if not self.target.native:
            return
        if not worker.counters or sum(worker.counters) == 0:
            raise FuzzError(
                f"{self.system.name}/{self.target.name}: no native coverage counters registered "
                "(the core was not built with -fsanitize=fuzzer-no-link, or atheris's "
                f"asan_with_fuzzer.so was not preloaded); {INSTALL_HINT}, then check with "
                f"`lab doctor --fuzz {self.system.name}`")

    def _execs(self) -> int:
        return self.execs_done + sum(w.execs for w in self.workers)

    # -- crashes and exits ----------------------------------------------------------------------

    def _handle_exit(self, worker: _Worker) -> None:
        self.workers.remove(worker)
        self.execs_done += worker.execs
        worker.log.close()
        text = worker.output()
        found = artifact_path(text)
        code = worker.proc.returncode
        if found:
            artifact = Path(found)
            if not artifact.is_absolute():
                artifact = self.lay.logs / artifact
            if artifact.exists():
                self._triage(artifact, text)
            self.crash_exits[worker.index] = self.crash_exits.get(worker.index, 0) + 1
        elif code not in (0, -signal.SIGINT, 130) and not self.stopping \
                and not (worker.forked and code == 1):  # fork mode exits 1 after crashes
            if not worker.inited:
                self.startup_failures += 1
            tail = " | ".join(ln for ln in list(worker.lines)[-6:] if ln.strip())
            self.result.error = f"worker {worker.index} exited with status {code}: {tail}"
        if found and not worker.inited:
            self.startup_failures += 1
        if self.startup_failures >= STARTUP_FAILURES:
            raise FuzzError(f"{self.system.name}/{self.target.name}: workers fail before "
                            f"fuzzing starts: {self.result.error or 'a seed input crashes'} "
                            f"(log: {self.lay.logs})")

    def _triage(self, artifact: Path, report: str | None) -> None:
        if artifact.name in self.seen_artifacts:
            return
        self.seen_artifacts.add(artifact.name)
        self.triager.submit(artifact, report)

    def _scan_artifacts(self) -> None:
        """Crash files no worker output named (fork mode): triage them by re-running."""
        for path in sorted(self.lay.artifacts.iterdir()):
            if path.is_file() and path.name not in self.seen_artifacts \
                    and path.name.startswith(("crash-", "leak-", "timeout-", "oom-")):
                self._triage(path, None)

    # -- statistics ------------------------------------------------------------------------

    def _snapshot(self, elapsed: float) -> dict:
        units, size = corpus_size(self.corpus)
        execs = self._execs()
        t0, e0 = self.last_stats
        rate = (execs - e0) / (elapsed - t0) if elapsed > t0 else 0.0
        self.last_stats = (elapsed, execs)
        return {"target": self.target.name, "elapsed": round(elapsed, 2), "execs": execs,
                "exec_per_s": round(rate, 1), "cov": self.cov, "ft": self.ft,
                "corpus_units": units, "corpus_bytes": size,
                "crashes": len(self.result.crashes)}

    def _record(self, row: dict) -> None:
        self.stats.append(row)
        if self.store is not None and self.run_id is not None:
            self.store.add_fuzz_stats(self.run_id, [row])
        if self.progress:
            self.progress({"event": "stats", "seconds": self.seconds, **row})

    # -- main loop -------------------------------------------------------------------------

    def run(self) -> TargetResult:
        for d in (self.corpus, self.lay.artifacts, self.lay.logs):
            d.mkdir(parents=True, exist_ok=True)
        self.result.seed_units = corpus_size(self.lay.seeds)[0]
        self.stopping = False
        self.triager = _Triager(self)
        interrupted = False
        start = time.monotonic()
        deadline = start + self.seconds if self.seconds is not None else None
        next_stats = start + min(1.0, self.options.stats_interval)
        try:
            for i in range(self.options.jobs):
                self.workers.append(self._start(i, self.seconds, self._runs_left()))
            self._loop(start, deadline, next_stats)
        except KeyboardInterrupt:
            self.result.status = interrupted = "interrupted"
            raise
        finally:
            self.stopping = True
            for w in list(self.workers):
                w.stop()
                self._drain()
                self.workers.remove(w)
                self.execs_done += w.execs
                w.log.close()
            elapsed = time.monotonic() - start
            if not interrupted:
                self._scan_artifacts()
            self.triager.finish(wait=not interrupted)
            self._finish(elapsed)
        return self.result

    def _drain(self, wait: float = 0.0) -> None:
        try:
            worker, line = self.queue.get(timeout=wait) if wait else self.queue.get_nowait()
            self._consume(worker, line)
            while True:
                worker, line = self.queue.get_nowait()
                self._consume(worker, line)
        except queue.Empty:
            pass

    def _loop(self, start: float, deadline: float | None, next_stats: float) -> None:
        hard_stop = deadline + 30 + self.target.timeout if deadline is not None else None
        while True:
            self._drain(wait=0.2)
            now = time.monotonic()
            for w in [w for w in self.workers if w.finished()]:
                self._drain()
                self._handle_exit(w)
                self._restart(w.index, deadline, now)
            if now >= next_stats:
                self._scan_artifacts()
                self._record(self._snapshot(now - start))
                next_stats = now + self.options.stats_interval
            if not self.workers:
                return
            if hard_stop is not None and now > hard_stop:  # a worker ignores its time budget
                for w in list(self.workers):
                    w.stop(grace=1.0)

    def _restart(self, index: int, deadline: float | None, now: float) -> None:
        remaining = deadline - now if deadline is not None else None
        runs = self._runs_left()
        if remaining is not None and remaining < 2:
            return
        if self.options.runs is not None and runs is None:
            return
        if remaining is None and runs is None:
            return
        self.result.restarts += 1
        self.workers.append(self._start(index, remaining, runs))

    def _finish(self, elapsed: float) -> None:
        """The final statistics row: exec/s is the whole run's average."""
        row = self._snapshot(elapsed)
        row["exec_per_s"] = round(row["execs"] / elapsed, 1) if elapsed > 0 else 0.0
        self._record(row)
        r = self.result
        r.seconds = round(elapsed, 2)
        r.execs, r.exec_per_s = row["execs"], row["exec_per_s"]
        r.cov, r.ft = self.cov, self.ft
        r.corpus_units, r.corpus_bytes = row["corpus_units"], row["corpus_bytes"]


def resolve_targets(system: System, names: list[str] | None) -> list[FuzzTarget]:
    """The requested targets (all when ``names`` is empty); a clear error otherwise."""
    from lab.errors import UsageError

    if not system.fuzz_targets:
        raise UsageError(f"system {system.name!r} declares no fuzz targets; systems with fuzz "
                         f"targets: {', '.join(fuzzable_systems()) or 'none'}")
    valid = [t.name for t in system.fuzz_targets]
    for name in names or []:
        if name not in valid:
            raise UsageError(f"unknown fuzz target {name!r} for {system.name}; valid: "
                             f"{', '.join(valid)}")
    return [t for t in system.fuzz_targets if not names or t.name in names]


def fuzzable_systems() -> list[str]:
    from lab.host import get_host

    return [s.name for s in get_host().systems().values() if s.fuzz_targets]


def prebuild(system: System, targets: list[FuzzTarget]) -> None:
    """Build the fuzz flavor of every recipe the targets use (once, before workers start)."""
    recipes = {t.recipe for t in targets if t.recipe} or (
        {system.recipes[0].name} if system.recipes else set())
    for recipe in sorted(recipes):
        native.build(system, recipe, "fuzz")


def fuzz_system(system: System, targets: list[FuzzTarget], options: FuzzOptions,
                argv: list[str], progress: Progress | None = None) -> list[TargetResult]:
    """Fuzz ``targets`` of ``system`` (sharing the time budget) and record one run."""
    from lab.bench.engine import fingerprint_for
    from lab.fuzz.preflight import require_toolchain
    from lab.gitinfo import commit_and_dirty
    from lab.store import open_store

    if options.seconds is None and options.runs is None:
        raise LabError("a fuzz run needs a time (--time) or run (--runs) budget")
    require_toolchain()
    prebuild(system, targets)
    store = open_store() if options.record else None
    run_id = None
    if store is not None:
        fp, fp_hash = fingerprint_for(system)
        commit, dirty = commit_and_dirty(paths.root())
        run_id = store.begin_run(system=system.name, kind="fuzz", command=argv, fingerprint=fp,
                                 fingerprint_hash=fp_hash, git_commit=commit, git_dirty=dirty,
                                 options={"targets": [t.name for t in targets],
                                          "seconds": options.seconds, "runs": options.runs,
                                          "jobs": options.jobs, "seed": options.seed})
    share = options.seconds / len(targets) if options.seconds is not None else None
    results: list[TargetResult] = []
    status, error = "ok", None
    try:
        for target in targets:
            results.append(TargetRun(store, run_id, system, target, options, share,
                                     progress).run())
    except KeyboardInterrupt:
        status, error = "interrupted", "interrupted by the user"
        raise
    except LabError as exc:
        status, error = "failed", str(exc)
        raise
    finally:
        if store is not None and run_id is not None:
            store.finish_run(run_id, status, error)
            store.close()
    return results

"""``lab profile``: run one workload of one implementation under a sampling profiler.

The run is recorded in the store (kind ``profile``) with one profile row: the per-function
self and inclusive sample counts and the folded stacks. Its files (flame graph SVG,
speedscope JSON, folded stacks, an HTML and a Markdown page) go to
``reports/<system>/profile/<run>/``. In-process workloads are sampled by py-spy attached to
the profiled process; server workloads by perf on the implementation's server processes.
A workload that crashes keeps the profile taken until then, marked partial.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lab import native, paths
from lab.bench.channels import in_process
from lab.errors import BuildError, LabError, UsageError
from lab.gitinfo import commit_and_dirty
from lab.model import System
from lab.profile import samplers
from lab.profile.stacks import Stacks, functions, to_folded, top
from lab.store import open_store


@dataclass
class ProfileOptions:
    """What to profile and for how long."""

    impl: str | None = None
    workload: str | None = None
    params: list[str] = field(default_factory=list)
    duration: float = 5.0
    rate: int = 250
    flavor: str = "profile"
    top: int = 20


@dataclass
class ProfileResult:
    """A finished profile: the run, the stacks, the top functions and the files written."""

    run_id: int
    system: str
    impl: str
    workload: str
    params: dict[str, Any]
    source: str
    stacks: Stacks
    calls: int
    seconds: float
    note: str | None
    out_dir: Path
    artifacts: dict[str, str]

    def top(self, n: int = 20) -> list:
        return top(self.stacks, n, by="self")


def choose(system: System, options: ProfileOptions) -> tuple[str, str, dict[str, Any]]:
    """(impl, workload, params): the system's own core, its first workload, the first quick
    parameter set, unless the options name others."""
    from lab.bench.plan import parse_overrides

    impls = [i.name for i in system.impls]
    impl = options.impl or impls[0]
    if impl not in impls:
        raise UsageError(f"unknown implementation {impl!r}; valid: {', '.join(impls)}")
    names = [w.name for w in system.workloads]
    workload = options.workload or names[0]
    if workload not in names:
        raise UsageError(f"unknown workload {workload!r}; valid: {', '.join(names)}")
    w = system.workload(workload)
    overrides = parse_overrides([w], options.params).get(workload, {})
    combos = w.combos("quick", overrides)
    if w.supports is not None:
        combos = [c for c in combos if w.supports(impl, c) is None]
    if not combos:
        raise UsageError(f"{impl} cannot run {workload} with these parameters")
    return impl, workload, combos[0]


def _build(system: System, impl: str, flavor: str) -> None:
    for recipe in system.impl(impl).recipes:
        native.build(system, recipe, flavor)


class _Child:
    """The profiled process and its events file."""

    def __init__(self, workdir: Path, spec: dict[str, Any], flavor: str) -> None:
        self.events = workdir / "events.jsonl"
        self.events.write_text("")
        spec_path = workdir / "spec.json"
        spec_path.write_text(json.dumps(spec))
        self.log = workdir / "child.log"
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "lab.profile.child", str(spec_path), str(self.events)],
                stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, text=True,
                env=dict(os.environ, LAB_RUN_DIR=str(workdir),
                         **native.flavors_runtime_env(flavor)))
        self._seen = 0

    def _complete_lines(self) -> list[str]:
        text = self.events.read_text()
        return text.splitlines() if text.endswith("\n") else text.splitlines()[:-1]

    def wait_event(self, timeout: float) -> dict[str, Any] | None:
        """The next complete event, or None when the process ended (or ``timeout`` passed)
        without writing one."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ended = self.proc.poll() is not None
            lines = self._complete_lines()  # read after poll: nothing written is missed
            if len(lines) > self._seen:
                self._seen += 1
                return json.loads(lines[self._seen - 1])
            if ended:
                return None
            time.sleep(0.05)
        return None

    def go(self) -> bool:
        """Tell the child to start the work; False when it is gone."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write("go\n")
            self.proc.stdin.flush()
            return True
        except BrokenPipeError:
            return False

    def finish(self, timeout: float = 60) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            return self.proc.wait()

    def stop(self) -> None:
        """Stop the child so that it still closes its implementation (servers it started):
        SIGINT first (it raises KeyboardInterrupt wherever the child is), SIGKILL after 15 s."""
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def tail(self) -> str:
        try:
            return " | ".join(self.log.read_text(errors="replace").strip().splitlines()[-5:])
        except OSError:
            return ""


def _sampler(local: bool, workdir: Path, options: ProfileOptions, ready: dict) -> Any:
    if local:
        return samplers.PySpy(workdir / "pyspy.txt", options.rate)
    return samplers.Perf(workdir / "perf.data", options.rate, names=ready.get("names"))


def _profiled_work(child: _Child, sampler: Any, options: ProfileOptions
                   ) -> tuple[dict, str | None]:
    """Let the child work while ``sampler`` records; (the done event or {}, a note)."""
    done = child.wait_event(timeout=options.duration + 600) if child.go() else None
    if done is not None and done["event"] == "done":
        return done, None
    why = done["error"] if done else f"exit status {child.finish()}"
    return {}, f"partial profile: the workload failed while profiled ({why}); log: {child.log}"


def _sample(system: System, options: ProfileOptions, impl: str, workload: str,
            params: dict[str, Any], workdir: Path) -> tuple[Any, dict, str | None]:
    """Run the child under the right sampler; (sampler, done event or {}, note). The child
    and the sampler are stopped however this ends."""
    local = in_process(system.workload(workload))
    samplers.check("py-spy" if local else "perf")
    spec = {"system": system.name, "impl": impl, "workload": workload, "params": params,
            "flavor": options.flavor, "duration": options.duration}
    child = _Child(workdir, spec, options.flavor)
    sampler = None
    try:
        ready = child.wait_event(timeout=600)
        if ready is None or ready["event"] != "ready":
            why = ready["error"] if ready else f"exit status {child.proc.poll()}"
            raise LabError(f"{impl} on {workload} failed before profiling: {why}; log: "
                           f"{child.log} ({child.tail()})")
        if not local and not ready["pids"] and not ready["names"]:
            raise LabError(f"{workload} runs outside the profiled process, but {impl}'s "
                           "object lists neither its processes (a pids() method) nor their "
                           "command names (process_names())")
        sampler = _sampler(local, workdir, options, ready)
        sampler.start(ready["pid"] if local else ready["pids"])
        done, note = _profiled_work(child, sampler, options)
        if not local:
            sampler.pids.update(done.get("pids", ()))  # a server restarted meanwhile
            sampler.stop()
        code = child.finish()
        if local:
            sampler.stop()  # py-spy writes its file once the process has exited
        if note is None and code != 0:
            note = f"the profiled process exited with status {code} after the work"
        return sampler, done, note
    finally:
        child.stop()
        if sampler is not None:
            sampler.stop()


def run_profile(system: System, options: ProfileOptions, argv: list[str]) -> ProfileResult:
    """Profile one workload; record it and write its files. Raises LabError on failure."""
    from lab.bench.engine import fingerprint_for
    from lab.profile.report import write_profile

    impl, workload, params = choose(system, options)
    native.flavor(options.flavor)
    try:
        _build(system, impl, options.flavor)
    except BuildError as exc:
        raise LabError(f"building {impl} ({options.flavor}) failed: {exc}") from None
    store = open_store()
    fp, fp_hash = fingerprint_for(system)
    commit, dirty = commit_and_dirty(paths.root())
    run_id = store.begin_run(system=system.name, kind="profile", command=argv, fingerprint=fp,
                             fingerprint_hash=fp_hash, git_commit=commit, git_dirty=dirty,
                             options=dict(asdict(options), impl=impl, workload=workload,
                                          params=params))
    workdir = paths.cache_dir() / "runs" / f"profile-{run_id}"
    shutil.rmtree(workdir, ignore_errors=True)  # a run id can come again with a new store
    workdir.mkdir(parents=True)
    try:
        sampler, done, note = _sample(system, options, impl, workload, params, workdir)
        try:
            stacks = sampler.stacks()
        except ValueError as exc:
            raise LabError(f"{sampler.source}'s output could not be read: {exc}") from None
        if not stacks.counts:
            raise LabError(f"{sampler.source} recorded no samples of {impl} on {workload}; "
                           f"log: {sampler.log}")
        out_dir = paths.reports_dir() / system.name / "profile" / str(run_id)
        result = ProfileResult(run_id, system.name, impl, workload, params, sampler.source,
                               stacks, int(done.get("calls", 0)),
                               float(done.get("seconds", 0.0)), note, out_dir, {})
        result.artifacts = write_profile(result, options.top)
        store.add_profile(run_id, profile_row(result))
        store.finish_run(run_id, "ok", note)
    except BaseException as exc:
        store.finish_run(run_id, "interrupted" if isinstance(exc, KeyboardInterrupt)
                         else "failed", str(exc))
        raise
    finally:
        store.close()
    return result


def profile_row(result: ProfileResult) -> dict[str, Any]:
    """The store's profile row of a sampled profile."""
    costs = functions(result.stacks)
    return {"impl": result.impl, "workload": result.workload, "params": result.params,
            "source": result.source, "unit": "samples", "total": result.stacks.total,
            "functions": {n: [c.self_weight, c.total_weight] for n, c in costs.items()},
            "stacks": to_folded(result.stacks), "artifacts": result.artifacts,
            "note": result.note}

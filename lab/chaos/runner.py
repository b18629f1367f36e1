"""``lab chaos``: run a system's scenarios against its implementations, shrink what fails,
record everything, write the report; ``--replay RUN`` re-applies a recorded schedule.

A run is stored with kind ``chaos`` (options: seed, scenarios, implementations, time) and one
``chaos_cases`` row per case. Case folders (history, faults as applied, logs) live under
``results/chaos/<run>/<impl>-<scenario>/``; the report under
``reports/<system>/chaos/<run>/``.

A case *fails* when a checker it does not tolerate is invalid, or when a figure it requires
(``Scenario.required``, e.g. ``{"lost": 0}``) differs. A failing case is shrunk: the applied
schedule, each fault anchored to the number of operations completed when it began, is reduced
by delta debugging (replaying subsets against a fresh cluster, same seed) and then the
operation list, within a budget of replays; the case records the reduction and the shrunk
schedule, and its replay command re-applies that schedule.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lab import paths
from lab.chaos.case import CaseSpec, run_case
from lab.chaos.checkers import Verdict
from lab.chaos.model import ChaosSuite, Scenario
from lab.chaos.nemesis import Nemesis, registered
from lab.chaos.report import write_report
from lab.chaos.results import Case, load_case
from lab.chaos.schedule import QUIET, Fault, generate
from lab.chaos.shrink import ddmin
from lab.errors import LabError, StoreError, UsageError
from lab.model import System


@dataclass
class ChaosOptions:
    """What to run: scenario and implementation names (None: all of the suite's compared
    implementations and scenarios), the seed (None: drawn), seconds of load per case (None:
    the scenario's), ``quick`` (the scenarios' quick times), and the shrinking budget."""

    scenarios: list[str] | None = None
    impls: list[str] | None = None
    seed: int | None = None
    time: float | None = None
    quick: bool = False
    shrink: bool = True
    shrink_replays: int = 12
    shrink_seconds: float = 240.0
    flavor: str = "release"


@dataclass
class ChaosRun:
    """A finished ``lab chaos`` run."""

    run_id: int
    system: str
    seed: int
    cases: list[Case]
    report: Path | None
    failed: list[str] = field(default_factory=list)


def suite_of(system: System) -> ChaosSuite:
    if system.chaos is None:
        raise UsageError(f"{system.name} declares no chaos scenarios (systems with them offer "
                         "'chaos' in `lab list`)")
    return system.chaos


def choose(suite: ChaosSuite, options: ChaosOptions) -> list[tuple[Scenario, str]]:
    """(scenario, impl) pairs to run, in order; unknown names are a usage error."""
    names = [s.name for s in suite.scenarios]
    chosen = options.scenarios or names
    for n in chosen:
        if n not in names:
            raise UsageError(f"unknown chaos scenario {n!r}; valid: {', '.join(names)}")
    every = list(suite.impls) + list(suite.test_impls)
    impls = options.impls or list(suite.impls)
    for i in impls:
        if i not in every:
            raise UsageError(f"unknown chaos implementation {i!r}; valid: {', '.join(every)}")
    pairs = []
    for n in chosen:
        scenario = suite.scenario(n)
        pairs += [(scenario, i) for i in impls if not scenario.impls or i in scenario.impls]
    return pairs


def case_time(scenario: Scenario, options: ChaosOptions) -> float:
    if options.time is not None:
        return options.time
    if options.quick and scenario.quick_time is not None:
        return scenario.quick_time
    return scenario.time


def schedule_for(scenario: Scenario, seed: int, seconds: float,
                 nemeses: dict[str, Nemesis]) -> list[Fault]:
    durations = {n: nemeses[n].durations for n in scenario.nemeses if n in nemeses}
    quiet = scenario.quiet or QUIET
    return generate(seed, scenario.nemeses, durations, ["n1"], seconds, count=scenario.faults,
                    quiet=quiet)


def required_verdict(scenario: Scenario, case: Case) -> Verdict | None:
    """The scenario's required figures checked against the case's, or None when it has none."""
    if not scenario.required:
        return None
    unjudged = [k for k in scenario.required if case.stats.get(k) is None]
    if unjudged:
        return Verdict("required", None, f"{', '.join(unjudged)} could not be measured "
                       "(the checker could not judge the history)")
    misses = [f"{k} = {case.stats.get(k)!r}, required {v!r}"
              for k, v in scenario.required.items() if case.stats.get(k) != v]
    if misses:
        return Verdict("required", False, "; ".join(misses), anomalies=[
            {"kind": "requirement", "explanation": m, "ops": []} for m in misses])
    return Verdict("required", True, ", ".join(f"{k} = {v!r}" for k, v in
                                               scenario.required.items()))


def failures(scenario: Scenario, case: Case) -> list[str]:
    """The checkers whose failure fails the case (empty when it passed)."""
    return [v.checker for v in case.verdicts
            if v.valid is False and v.checker not in scenario.tolerate]


def anchored(case: Case) -> list[Fault]:
    """The faults a case applied, anchored to the operations taken when each began (what a
    replay re-applies), with their planned windows and their original draw."""
    out = []
    for k, f in enumerate(case.faults):
        if f.skipped:
            continue
        end = f.end if f.end is not None else f.start
        duration = f.duration if f.duration is not None else max(0.0, end - f.start)
        out.append(Fault(f.nemesis, f.target, f.start, round(duration, 4),
                         {"draw": k, **f.args}, after_ops=f.after_ops))
    return out


def _finish(spec: CaseSpec, case: Case) -> Case:
    case.tolerated = list(spec.scenario.tolerate)
    extra = required_verdict(spec.scenario, case)
    if extra is not None and case.status == "ok":
        case.verdicts.append(extra)
    case.save()
    return case


def _run(spec: CaseSpec) -> Case:
    return _finish(spec, run_case(spec))


def _replay_spec(spec: CaseSpec, faults: list[Fault], ops: list[int], folder: Path) -> CaseSpec:
    """``spec`` re-run with ``faults`` and only the operations ``ops`` (original indices).
    Anchors are operation indices too, so they need no moving: a fault fires once the
    clients reach its operation, or have no operation left."""
    anchored_faults = [f if f.after_ops is not None else
                       Fault(f.nemesis, f.target, f.at, f.duration, f.args, after_ops=0)
                       for f in faults]
    return CaseSpec(spec.system, spec.suite, spec.scenario, spec.impl, spec.seed,
                    max(spec.time * 2, 10.0), anchored_faults, folder, spec.flavor,
                    sorted(ops), spec.nemeses)


def shrink_case(spec: CaseSpec, case: Case, options: ChaosOptions,
                say: Callable[[str], None]) -> dict[str, Any]:
    """Delta-debug the failing case's schedule, then its operations (see the module
    docstring), in at most ``options.shrink_replays`` replays; the shrink record the case
    keeps. The first replay re-runs the whole recorded schedule: when it does not fail again
    the failure is recorded as not reproduced and nothing is shrunk. Ctrl-C stops the search
    and keeps the smallest failing schedule found so far."""
    failing = set(failures(spec.scenario, case))
    faults = anchored(case)
    ops = list(case.stats.get("ops_kept") or range(int(case.stats.get("taken", 0))))
    deadline = time.monotonic() + options.shrink_seconds
    folders = Path(case.folder) / "shrink"
    shutil.rmtree(folders, ignore_errors=True)
    counter = [0]
    smallest: list[Any] = [faults, ops, None]

    def fails(fs: list[Fault], os_: list[int]) -> bool:
        counter[0] += 1
        folder = folders / str(counter[0])
        trial = _run(_replay_spec(spec, fs, os_, folder))
        if trial.status == "interrupted":
            raise KeyboardInterrupt
        hit = bool(failing & set(failures(spec.scenario, trial)))
        say(f"  shrink replay {counter[0]}: {len(fs)} faults, {len(os_)} ops -> "
            f"{'fails' if hit else 'passes'}")
        if hit and (len(fs), len(os_)) <= (len(smallest[0]), len(smallest[1])):
            if smallest[2] is not None:
                shutil.rmtree(smallest[2], ignore_errors=True)
            smallest[:] = [fs, os_, folder]
        else:  # only the smallest failing replay is kept, as evidence
            shutil.rmtree(folder, ignore_errors=True)
        return hit

    budget = options.shrink_replays
    record: dict[str, Any] = {"schedule": [f.to_dict() for f in faults], "ops_kept": ops}
    try:
        fault_result = ddmin(faults, lambda fs: fails(fs, ops), max_tests=budget,
                             deadline=deadline, verify=True)
    except ValueError:
        return dict(record, faults="not reproduced: the recorded schedule passed when "
                    "replayed", ops="not shrunk", replays=counter[0], reproduced=False)
    except KeyboardInterrupt:
        return dict(record, schedule=[f.to_dict() for f in smallest[0]],
                    ops_kept=list(smallest[1]), faults=f"{len(faults)} faults -> "
                    f"{len(smallest[0])} (interrupted)", ops="not shrunk",
                    replays=counter[0], reproduced=counter[0] > 0, interrupted=True)
    kept = list(fault_result.items)
    left = budget - fault_result.tests
    op_summary = f"{len(ops)} ops -> {len(ops)} (no replays left)"
    kept_ops = ops
    if left > 0:
        try:
            op_result = ddmin(ops, lambda os_: fails(kept, os_), max_tests=left,
                              deadline=deadline)
            kept_ops, op_summary = list(op_result.items), op_result.summary("ops")
        except KeyboardInterrupt:
            kept_ops = list(smallest[1]) if smallest[0] == kept else ops
            op_summary = f"{len(ops)} ops -> {len(kept_ops)} (interrupted)"
            record["interrupted"] = True
    return {"faults": fault_result.summary("faults"), "ops": op_summary,
            "schedule": [f.to_dict() for f in kept], "ops_kept": kept_ops,
            "replays": counter[0], "reproduced": True,
            "interrupted": record.get("interrupted", False),
            "evidence": str(smallest[2]) if smallest[2] is not None else None}


def _open(system: System, kind_options: dict[str, Any], argv: list[str]) -> tuple[Any, int]:
    from lab.bench.engine import fingerprint_for
    from lab.gitinfo import commit_and_dirty
    from lab.store import open_store

    store = open_store()
    fp, fp_hash = fingerprint_for(system)
    commit, dirty = commit_and_dirty(paths.root())
    run_id = store.begin_run(system=system.name, kind="chaos", command=argv, fingerprint=fp,
                             fingerprint_hash=fp_hash, git_commit=commit, git_dirty=dirty,
                             options=kind_options)
    return store, run_id


def chaos_dir(run_id: int) -> Path:
    return paths.store_path().parent / "chaos" / str(run_id)


def _replay_command(run_id: int, case: Case) -> str:
    return f"lab chaos --replay {run_id} --impl {case.impl} --scenario {case.scenario}"


def _execute(store: Any, run_id: int, specs: list[CaseSpec], options: ChaosOptions,
             say: Callable[[str], None], cases: list[Case]) -> None:
    """Run ``specs`` in order, appending each finished case to ``cases`` (the caller's list,
    so that what finished is reported even when a later case is interrupted). A case is
    stored as soon as it ran, and again once shrunk."""
    for spec in specs:
        say(f"{spec.impl} / {spec.scenario.name}: {len(spec.schedule)} faults over "
            f"{spec.time:g} s (seed {spec.seed})")
        case = _run(spec)
        case.replay = _replay_command(run_id, case)
        case.save()
        row = store.add_chaos_case(run_id, dict(case.to_dict(), valid=case.valid))
        cases.append(case)
        if case.status == "interrupted":
            raise KeyboardInterrupt
        failing = failures(spec.scenario, case)
        if failing and options.shrink and anchored(case):
            say(f"  {', '.join(failing)} failed; shrinking the schedule")
            case.shrink = shrink_case(spec, case, options, say)
            say(f"  shrunk: {case.shrink['faults']}; {case.shrink['ops']}")
            case.save()
            store.update_chaos_case(row, dict(case.to_dict(), valid=case.valid))
            if case.shrink.get("interrupted"):
                raise KeyboardInterrupt
        say("  " + _line(case, failing))


def _line(case: Case, failing: list[str]) -> str:
    if case.status != "ok":
        return f"{case.status}: {case.error}"
    verdicts = ", ".join(f"{v.checker} {v.status}" for v in case.verdicts)
    lost = case.stats.get("lost")
    figures = f"; acked {case.stats.get('acked')}, lost {lost}" if lost is not None else ""
    return f"{'FAILED' if failing else 'ok'}: {verdicts}{figures}"


def run_chaos(system: System, options: ChaosOptions, argv: list[str],
              say: Callable[[str], None] = print) -> ChaosRun:
    """Run the chosen scenarios (see the module docstring)."""
    from lab import native

    suite = suite_of(system)
    pairs = choose(suite, options)
    native.flavor(options.flavor)  # an unknown flavor is a usage error before anything runs
    seed = options.seed if options.seed is not None else int.from_bytes(os.urandom(4), "big")
    nemeses = registered()
    store, run_id = _open(system, dict(asdict(options), seed=seed), argv)
    base = chaos_dir(run_id)
    shutil.rmtree(base, ignore_errors=True)  # a run id can come again with a new store
    specs = []
    for scenario, impl in pairs:
        seconds = case_time(scenario, options)
        specs.append(CaseSpec(system.name, suite, scenario, impl, seed, seconds,
                              schedule_for(scenario, seed, seconds, nemeses),
                              base / f"{impl}-{scenario.name}", options.flavor,
                              nemeses=nemeses))
    return _complete(system, store, run_id, seed, specs, options, say,
                     f"{system.name}: chaos run {run_id}")


def _complete(system: System, store: Any, run_id: int, seed: int, specs: list[CaseSpec],
              options: ChaosOptions, say: Callable[[str], None], title: str) -> ChaosRun:
    status, error = "failed", None
    cases: list[Case] = []
    report = None
    try:
        _execute(store, run_id, specs, options, say, cases)
        status = "ok"
    except KeyboardInterrupt:
        status, error = "interrupted", "interrupted by the user"
        raise
    except Exception as e:
        error = f"{type(e).__name__}: {e}"
        raise
    finally:
        try:
            report = _report(system, run_id, cases, title, store) if cases else None
        except Exception as e:  # noqa: BLE001 - the run's outcome must still be stored
            say(f"lab chaos: the report could not be written: {type(e).__name__}: {e}")
        store.finish_run(run_id, status, error)
    failed = [f"{c.impl}/{c.scenario}" for c, s in zip(cases, specs, strict=False)
              if failures(s.scenario, c) or c.status == "error"]
    return ChaosRun(run_id, system.name, seed, cases, report, failed)


def _report(system: System, run_id: int, cases: list[Case], title: str, store: Any
            ) -> Path | None:
    out = paths.reports_dir() / system.name / "chaos" / str(run_id)
    run = store.run(run_id)
    return write_report(cases, out, title=title, run_id=run_id,
                        command=" ".join(run.command))


def rewrite_report(system: System, store: Any, run: Any) -> Path:
    """The report of recorded chaos run ``run``, written again from its case folders (a case
    whose folder is gone is left out, and said so)."""
    cases = []
    for row in store.chaos_cases(run.id):
        try:
            cases.append(load_case(Path(row["folder"])))
        except ValueError as e:
            print(f"lab report: case {row['impl']}/{row['scenario']} left out: {e}",
                  file=sys.stderr)
    if not cases:
        raise UsageError(f"chaos run {run.id} has no case left to report")
    title = f"{system.name}: chaos run {run.id}"
    return write_report(cases, paths.reports_dir() / system.name / "chaos" / str(run.id),
                        title=title, run_id=run.id, command=" ".join(run.command))


def replay(system_name: str | None, run_id: int, options: ChaosOptions, argv: list[str],
           say: Callable[[str], None] = print) -> ChaosRun:
    """Re-apply the schedules of recorded run ``run_id`` (its shrunk schedule when the case
    was shrunk) with the same seed and operations; only the cases ``options`` selects."""
    from lab.builtins.common import system_named
    from lab.store import open_store

    old = open_store()
    try:
        record = old.run(run_id)
    except StoreError:
        raise UsageError(f"no run {run_id} in the store (see `lab runs`)") from None
    if record.kind != "chaos":
        raise UsageError(f"run {run_id} is a {record.kind} run, not a chaos run")
    if system_name is not None and system_name != record.system:
        raise UsageError(f"run {run_id} is of {record.system}, not {system_name}")
    rows = old.chaos_cases(run_id)
    system = system_named(record.system)
    suite = suite_of(system)
    picked = [r for r in rows if (not options.impls or r["impl"] in options.impls)
              and (not options.scenarios or r["scenario"] in options.scenarios)]
    if not picked:
        raise UsageError(f"run {run_id} has no case matching the selection; its cases: "
                         + ", ".join(f"{r['impl']}/{r['scenario']}" for r in rows))
    nemeses = registered()
    store, new_id = _open(system, dict(asdict(options), replay_of=run_id), argv)
    base = chaos_dir(new_id)
    shutil.rmtree(base, ignore_errors=True)
    specs = [_replayed(suite, r, base, options, nemeses) for r in picked]
    options.shrink = False  # a replay reproduces; shrinking is the original run's job
    seed = specs[0].seed
    return _complete(system, store, new_id, seed, specs, options, say,
                     f"{system.name}: replay of chaos run {run_id} (run {new_id})")


def _replayed(suite: ChaosSuite, row: dict[str, Any], base: Path, options: ChaosOptions,
              nemeses: dict[str, Nemesis]) -> CaseSpec:
    try:
        case = load_case(Path(row["folder"]))
    except ValueError as e:
        raise LabError(f"cannot replay {row['impl']}/{row['scenario']}: {e}") from None
    names = [s.name for s in suite.scenarios]
    if case.scenario not in names:
        raise LabError(f"scenario {case.scenario!r} no longer exists (valid: {', '.join(names)})")
    scenario = suite.scenario(case.scenario)
    recorded_ops = case.stats.get("ops_kept") or range(int(case.stats.get("taken", 0)))
    if case.shrink and case.shrink.get("reproduced", True):
        faults = [Fault.from_dict(f) for f in case.shrink["schedule"]]
        ops = list(case.shrink.get("ops_kept") or recorded_ops)
    else:
        faults, ops = anchored(case), list(recorded_ops)
    spec = CaseSpec(case.system, suite, scenario, case.impl, case.seed, case.duration, [],
                    base / f"{case.impl}-{case.scenario}", options.flavor, nemeses=nemeses)
    return _replay_spec(spec, faults, ops, spec.folder)


def to_json(run: ChaosRun) -> str:
    return json.dumps({"run_id": run.run_id, "system": run.system, "seed": run.seed,
                       "report": str(run.report) if run.report else None,
                       "failed": run.failed,
                       "cases": [c.to_dict() for c in run.cases]}, indent=2, default=repr)

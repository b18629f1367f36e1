"""Run one chaos case: one scenario against one implementation, with one fault schedule.

Sequence: reap what dead lab processes left; set up the machinery the schedule's nemeses need
(a tmpfs data disk, the unsynced-loss shim, libfaketime, network namespaces); open the
cluster and start its nodes; start the client threads (the history is recorded as it
happens); apply each fault in turn (its window begins at its time, or, in a replay, when the
clients reach the operation it was anchored to in the recorded run, and lasts its duration);
stop the clients; heal everything (faults ended, every node running); read the final state
with every client; run the checkers. Every process, mount and namespace made for the case is
removed in ``finally``, however the case ends.

Checkers: ``set-full`` (``set`` workload) or ``linearizable`` (``register``), ``convergence``
(every final read agrees) and ``recovery`` (every node runs and answers after the heal).
"""

from __future__ import annotations

import os
import random
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.chaos import cleanup
from lab.chaos.checkers import Verdict, linearizable, setfull
from lab.chaos.history import FAIL, INFO, INVOKE, OK, History, Recorder, compress
from lab.chaos.machinery import Clock, Disk
from lab.chaos.model import ChaosSuite, Cluster, Placement, Scenario
from lab.chaos.nemesis import FaultContext, Nemesis, registered, restart, skip_reason
from lab.chaos.results import AppliedFault, Case
from lab.chaos.schedule import Fault
from lab.chaos.workload import Driver

HISTORY = "history.jsonl"
"""The history file a case records into; gzipped (``history.jsonl.gz``) once it is over."""
CLIENT_TIMEOUT = 1.0
FINAL_READ_S = 30.0
LINEARIZABLE_LIMIT = 10.0


@dataclass
class CaseSpec:
    """What to run. ``schedule`` is the fault schedule (faults with ``after_ops`` fire once the
    clients have taken that operation index, the others at their time); ``indices`` restricts the
    operations to those (a replay or shrinking step; None: as many as the time allows)."""

    system: str
    suite: ChaosSuite
    scenario: Scenario
    impl: str
    seed: int
    time: float
    schedule: list[Fault]
    folder: Path
    flavor: str = "release"
    indices: list[int] | None = None
    nemeses: dict[str, Nemesis] = field(default_factory=dict)


@dataclass
class _Machinery:
    disk: Disk | None = None
    shims: dict[str, Any] = field(default_factory=dict)
    clocks: dict[str, Clock] = field(default_factory=dict)
    network: Any = None
    notes: list[str] = field(default_factory=list)
    unclocked: dict[str, dict[str, str]] = field(default_factory=dict)


def needs_of(spec: CaseSpec) -> set[str]:
    names = set(spec.scenario.nemeses) | {f.nemesis for f in spec.schedule}
    return {need for n in names if n in spec.nemeses for need in spec.nemeses[n].needs}


def _set_up_disk(spec: CaseSpec, workdir: Path, needs: set[str]) -> tuple[Disk | None, Path]:
    if "disk" not in needs and spec.scenario.disk_mb is None:
        return None, workdir / "data"
    disk = Disk(workdir / "disk", spec.scenario.disk_mb or 64)
    return disk, (disk.where if disk.unavailable is None else workdir / "data")


def _arm_nodes(cluster: Cluster, needs: set[str], workdir: Path, m: _Machinery) -> None:
    """Preload the shim and libfaketime into the nodes (before their first start)."""
    for node in cluster.nodes:
        if "fs" in needs:
            from lab.chaos.fsshim import FsShim, missing

            why = missing()
            if why is None:
                shim = FsShim(node.data_dir, workdir / f"fs-{node.name}")
                node.env = shim.env(node.env)
                m.shims[node.name] = shim
            else:
                m.notes.append(f"unsynced-loss shim unavailable: {why}")
        if "clock" in needs:
            clock = Clock(workdir / f"clock-{node.name}")
            m.unclocked[node.name] = dict(node.env)
            node.env = clock.env(node.env)
            m.clocks[node.name] = clock


def track(node: Any) -> None:
    """Record the node's current processes, so that they are reaped if the lab dies."""
    cleanup.track_node(node)


def _start(node: Any, shim: Any) -> None:
    if shim is not None:
        shim.mark_durable()
    cleanup.start_tracked(node)


def _first_start(node: Any, m: _Machinery) -> None:
    """Start a node; when libfaketime keeps it from starting (it clashes with jemalloc, which
    redis-server uses: libfaketime issue #130), start it without and say why clock faults
    are skipped."""
    try:
        _start(node, m.shims.get(node.name))
    except RuntimeError as e:
        clock = m.clocks.get(node.name)
        if clock is None or "libfaketime" not in str(e):
            raise
        node.kill()
        node.env = m.unclocked[node.name]
        clock.unavailable = ("libfaketime cannot run inside this process (it clashes with "
                             "jemalloc's start-up, libfaketime issue #130)")
        m.notes.append(f"{node.name}: {clock.unavailable}")
        _start(node, m.shims.get(node.name))


class _Faults:
    """Applies a schedule in the calling thread and keeps what happened."""

    def __init__(self, spec: CaseSpec, cluster: Cluster, m: _Machinery, driver: Driver,
                 t0: float) -> None:
        self.spec, self.cluster, self.m, self.driver, self.t0 = spec, cluster, m, driver, t0
        self.applied: list[AppliedFault] = []
        self.stats: dict[str, Any] = {}
        self.active: tuple[Nemesis, FaultContext, AppliedFault] | None = None
        self.healed_at = t0

    def context(self, fault: Fault, draw: int) -> FaultContext:
        """The fault's context; its random source depends on the seed and on ``draw``, the
        fault's position in the original schedule, so a replay or a shrunk schedule draws
        the same torn length, clock jump or flipped bit."""
        node = next((n for n in self.cluster.nodes if n.name == fault.target),
                    self.cluster.nodes[0])
        return FaultContext(node=node, rng=random.Random(self.spec.seed * 7919 + draw),
                            args=dict(fault.args), shim=self.m.shims.get(node.name),
                            disk=self.m.disk, clock=self.m.clocks.get(node.name),
                            network=self.m.network, stats=self.stats)

    def _wait_for(self, fault: Fault, gap: float, deadline: float) -> bool:
        """Sleep until the fault is due; False when the load ended first. An anchored fault
        is due once the clients have taken operation ``after_ops`` (or have none left) and
        at least ``gap`` seconds (the recorded quiet period, at most 2 s) passed since the
        previous fault healed."""
        while time.monotonic() < deadline:
            if fault.after_ops is not None:
                reached = self.driver.taken >= fault.after_ops or not self.driver.running()
                if reached and time.monotonic() - self.healed_at >= min(gap, 2.0):
                    return True
            elif time.monotonic() >= self.t0 + fault.at:
                return True
            time.sleep(0.002)
        return False

    def run(self, deadline: float) -> None:
        schedule = self.spec.schedule
        for k, fault in enumerate(schedule):
            previous_end = schedule[k - 1].at + schedule[k - 1].duration if k else 0.0
            if not self._wait_for(fault, max(0.0, fault.at - previous_end), deadline):
                for j in range(k, len(schedule)):
                    self._record(schedule[j], int(schedule[j].args.get("draw", j)),
                                 "the load ended before it was due")
                break
            self.apply(fault, int(fault.args.get("draw", k)))

    def _record(self, fault: Fault, draw: int, skipped: str | None,
                ctx: FaultContext | None = None) -> AppliedFault:
        now = round(time.monotonic() - self.t0, 4)
        target = ctx.node.name if ctx is not None else fault.target
        record = AppliedFault(fault.nemesis, target, now, now if skipped else None,
                              self.driver.taken, {**fault.args, "draw": draw}, skipped,
                              duration=fault.duration)
        self.applied.append(record)
        return record

    def apply(self, fault: Fault, draw: int) -> None:
        nemesis = self.spec.nemeses.get(fault.nemesis)
        if nemesis is None:
            self._record(fault, draw, f"unknown nemesis {fault.nemesis!r}")
            return
        ctx = self.context(fault, draw)
        try:
            why = skip_reason(nemesis, ctx)
        except Exception as e:  # noqa: BLE001 - a probe that breaks skips the fault, visibly
            why = f"could not check what {nemesis.name} needs: {e}"
        record = self._record(fault, draw, why, ctx)
        if why:
            return
        self.active = (nemesis, ctx, record)
        record.effect = _safely(nemesis.begin, ctx)
        track(ctx.node)
        time.sleep(fault.duration)
        self.heal()

    def heal(self) -> None:
        """End the fault in force, if any (its nemesis' own end: a killed node restarts)."""
        if self.active is None:
            return
        nemesis, ctx, record = self.active
        self.active = None
        healed = _safely(nemesis.end, ctx)
        track(ctx.node)
        if not ctx.node.alive():
            healed += f"; {ctx.node.name} is down (exit status {ctx.node.exit_status()})"
        record.end = round(time.monotonic() - self.t0, 4)
        self.healed_at = time.monotonic()
        record.effect = "; ".join(filter(None, [record.effect, healed]))

    def abort(self) -> None:
        """Stop the fault in force without its heal action (the case is being torn down:
        nothing is restarted); the record says so."""
        if self.active is None:
            return
        _, ctx, record = self.active
        self.active = None
        record.end = round(time.monotonic() - self.t0, 4)
        record.effect = "; ".join(filter(None, [record.effect, "case ended during the fault"]))


def _safely(action: Any, ctx: FaultContext) -> str:
    try:
        return action(ctx)
    except Exception as e:  # noqa: BLE001 - a failing fault is recorded, the case goes on
        return f"error: {type(e).__name__}: {' '.join(str(e).split())[:300]}"


def _heal_all(cluster: Cluster, m: _Machinery, faults: _Faults | None) -> list[str]:
    """Every fault ended and every node running; one line per node restarted or still down."""
    if faults is not None:
        faults.heal()
    for shim in m.shims.values():
        shim.set_mode("normal")
    for clock in m.clocks.values():
        clock.set()
    if m.disk is not None and m.disk.unavailable is None:
        m.disk.release()
    if m.network is not None:
        m.network.heal()
    notes = []
    for node in cluster.nodes:
        _resume(node)
        if not node.alive():
            status = node.exit_status()
            ctx = FaultContext(node=node, rng=random.Random(0), args={},
                               shim=m.shims.get(node.name), stats=faults.stats if faults else {})
            outcome = restart(ctx)  # an exit is not a crash: its written bytes stay
            track(node)
            notes.append(f"{node.name} was down at the end (exit status {status}); {outcome}")
    return notes


def _checkers(workload: str, history: History, final: list[tuple[str | None, str, Any]],
              down: list[str]) -> list[Verdict]:
    if workload == "set":
        main = setfull.check(history)
    else:
        main = linearizable.check(history, time_limit=LINEARIZABLE_LIMIT)
    return [main, convergence(final), recovery(final, down)]


def convergence(final: list[tuple[str | None, str, Any]]) -> Verdict:
    """Every successful final read of a key (after the heal) returned the same state."""
    by_key: dict[str | None, set[str]] = {}
    reads = 0
    for key, kind, result in final:
        if kind == OK:
            by_key.setdefault(key, set()).add(repr(_normal(result)))
            reads += 1
    if not reads:
        return Verdict("convergence", None, "no final read succeeded: nothing to compare")
    diverged = {k: v for k, v in by_key.items() if len(v) > 1}
    if not diverged:
        return Verdict("convergence", True, f"{reads} final reads of {len(by_key)} keys agree",
                       stats={"reads": reads, "keys": len(by_key)})
    return Verdict("convergence", False, f"final reads of {len(diverged)} keys disagree",
                   anomalies=[{"kind": "diverged", "explanation":
                               f"final reads of {k!r} after the heal disagree: "
                               + "; ".join(sorted(v))[:500], "ops": []}
                              for k, v in diverged.items()],
                   stats={"reads": reads, "keys": len(by_key), "diverged": len(diverged)})


def _normal(result: Any) -> Any:
    return sorted(result) if isinstance(result, list | set | tuple) else result


def recovery(final: list[tuple[str | None, str, Any]], notes: list[str]) -> Verdict:
    """Every final read succeeded: the system serves requests again after the heal."""
    failed = [kind for _, kind, _ in final if kind != OK]
    if not final:
        return Verdict("recovery", None, "no final reads were made")
    if failed:
        return Verdict("recovery", False, f"{len(failed)} of {len(final)} final reads failed "
                       f"after the heal", anomalies=[{"kind": "unavailable", "explanation":
                       "the system did not serve reads within "
                       f"{FINAL_READ_S:.0f} s of the heal. " + " ".join(notes), "ops": []}])
    return Verdict("recovery", True, "serving after the heal" +
                   (f" ({'; '.join(notes)})" if notes else ""))


def _stats(history: History, verdicts: list[Verdict], faults: _Faults | None,
           t0: float) -> dict[str, Any]:
    counts = {OK: 0, FAIL: 0, INFO: 0}
    for op in history:
        if op.type != INVOKE:
            counts[op.type] += 1
    stats: dict[str, Any] = {"ops": sum(counts.values()), "ok": counts[OK],
                             "fail": counts[FAIL], "info": counts[INFO]}
    main = verdicts[0] if verdicts else None
    if main is not None and main.checker == setfull.NAME:
        judged = "acknowledged" in main.stats
        stats["acked"] = main.stats.get("acknowledged")
        stats["lost"] = main.stats.get("lost") if judged else None
        windows = loss_windows(history, main.stats.get("lost_elements") or [],
                               faults.applied if faults else [], t0)
        stats["lost_windows"] = windows
        stats["lost_window"] = max((w["window_s"] for w in windows), default=None)
    if faults is not None:
        stats.update(faults.stats)
    return stats


def loss_windows(history: History, lost: list[Any], applied: list[AppliedFault],
                 t0: float) -> list[dict[str, Any]]:
    """The lost acknowledged writes grouped by the fault that lost them (the first one not
    over when they were acknowledged): per fault, how many were lost, ``window_s`` the span
    of time whose acknowledged writes vanished (first to last lost acknowledgement) and
    ``before_fault_s`` how long before the fault began the earliest of them was acknowledged
    (what ``everysec`` puts at risk before a crash; 0 when all were acknowledged during
    the fault, as under a lying fsync)."""
    if not lost:
        return []
    wanted = set(lost)
    acked: dict[Any, float] = {}
    for invoke, done in history.pairs():
        if (invoke.f == "add" and done is not None and done.type == OK
                and invoke.value in wanted and invoke.value not in acked):
            acked[invoke.value] = done.time - t0
    # a write acknowledged while a fault is in force (its reply left before the crash and
    # arrived after) belongs to that fault: the first fault that had not ended yet
    ends = [(f.end if f.end is not None else f.start, i) for i, f in enumerate(applied)
            if not f.skipped]
    groups: dict[int | None, list[float]] = {}
    for t in acked.values():
        after = next((i for end, i in ends if end >= t), None)
        groups.setdefault(after, []).append(t)
    out = []
    for index, times in sorted(groups.items(), key=lambda kv: min(kv[1])):
        fault = applied[index] if index is not None else None
        reference = fault.start if fault is not None else max(times)
        out.append({"fault": index, "nemesis": fault.nemesis if fault else None,
                    "count": len(times), "first_ack": round(min(times), 4),
                    "last_ack": round(max(times), 4),
                    "window_s": round(max(times) - min(times), 4),
                    "before_fault_s": round(max(0.0, reference - min(times)), 4)})
    return out


def run_case(spec: CaseSpec) -> Case:
    """Run ``spec`` (see the module docstring); the returned case is saved in its folder.
    Ctrl-C (or SIGTERM) ends the case, torn down, with status ``interrupted``: the caller
    decides to stop."""
    for line in cleanup.reap():
        print(f"lab chaos: {line}", file=sys.stderr)
    spec.nemeses = spec.nemeses or registered()
    folder = Path(spec.folder)
    workdir, logs = folder / "work", folder / "logs"
    for d in (workdir, logs):
        d.mkdir(parents=True, exist_ok=True)
    case = Case(system=spec.system, impl=spec.impl, scenario=spec.scenario.name,
                description=spec.scenario.description, seed=spec.seed, duration=spec.time,
                t0=time.monotonic(), folder=str(folder), settings=dict(spec.scenario.settings))
    needs = needs_of(spec)
    m = _Machinery()
    cluster: Cluster | None = None
    faults: _Faults | None = None
    driver: Driver | None = None
    recorder = Recorder(folder / HISTORY)
    try:
        m.disk, data_root = _set_up_disk(spec, workdir, needs)
        if "network" in needs:
            m.network = _network(spec, m)
        placement = Placement(workdir=workdir, data_root=data_root, logs_dir=logs,
                              host=m.network.address("n1") if m.network is not None
                              and not getattr(m.network, "unavailable", None) else "127.0.0.1")
        cluster = spec.suite.open(spec.impl, spec.scenario.settings, placement, spec.flavor)
        _arm_nodes(cluster, needs, workdir, m)
        if m.network is not None and not getattr(m.network, "unavailable", None):
            for node in cluster.nodes:
                node.env["LAB_CHAOS_NETNS"] = m.network.namespace(node.name)
        for node in cluster.nodes:
            _first_start(node, m)
        driver = Driver(cluster, recorder, spec.scenario.workload, spec.seed,
                        spec.scenario.clients, timeout=CLIENT_TIMEOUT, indices=spec.indices)
        case.t0 = time.monotonic()
        deadline = case.t0 + max(spec.time, _schedule_end(spec.schedule) + 0.3)
        faults = _Faults(spec, cluster, m, driver, case.t0)
        driver.start(deadline)
        faults.run(deadline)
        while driver.running() and time.monotonic() < deadline:
            time.sleep(0.01)
        driver.stop()
        driver.join(CLIENT_TIMEOUT * 3 + 1)
        down = _heal_all(cluster, m, faults)
        up = any(node.alive() for node in cluster.nodes)
        final = driver.final_reads(time.monotonic() + (FINAL_READ_S if up else 1.0))
        case.verdicts = _checkers(spec.scenario.workload, recorder.history, final, down)
        case.stats = _stats(recorder.history, case.verdicts, faults, case.t0)
        case.stats["taken"] = driver.taken
        if spec.indices is not None:
            case.stats["ops_kept"] = list(spec.indices)
        case.stats["client_errors"] = driver.errors[:5]
        case.stats["notes"] = m.notes + down
    except KeyboardInterrupt:  # the caller sees the status, stores the case, then stops
        case.status, case.error = "interrupted", "interrupted by the user"
    except Exception as e:  # noqa: BLE001 - the case is recorded as an error, others go on
        case.status, case.error = "error", f"{type(e).__name__}: {' '.join(str(e).split())}"
    finally:
        if driver is not None:
            driver.stop()
            driver.join(CLIENT_TIMEOUT * 3 + 1)
        if faults is not None:
            faults.abort()
            case.faults = faults.applied
        problems = _tear_down(cluster, m, logs)
        if problems:
            case.stats.setdefault("notes", []).extend(problems)
        recorder.close()
        _compress_history(folder)
        case.save()
    return case


def _compress_history(folder: Path) -> None:
    """Keep the finished case's history gzipped (each whole-set read makes it grow
    quadratically: tens of MB for 20 s, a tenth of that compressed)."""
    try:
        compress(folder / HISTORY)
    except OSError as e:
        print(f"lab chaos: {folder / HISTORY} left uncompressed: {e}", file=sys.stderr)


def _schedule_end(schedule: list[Fault]) -> float:
    """When the last timed fault ends (anchored faults wait for operations, not time)."""
    return max((f.at + f.duration for f in schedule if f.after_ops is None), default=0.0)


def _network(spec: CaseSpec, m: _Machinery) -> Any:
    """The case's network namespaces, or an object saying why there are none."""
    from lab.chaos import netfaults

    why = netfaults.missing()
    if why is not None:
        return _Unavailable(why)
    net = netfaults.Network(f"chaos{spec.seed % 1000}", ["n1"])
    net.__enter__()
    return net


@dataclass
class _Unavailable:
    unavailable: str

    def heal(self) -> None:
        return None


def _resume(node: Any) -> None:
    for pid in node.pids():
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


def _tear_down(cluster: Cluster | None, m: _Machinery, logs: Path) -> list[str]:
    """Stop everything the case made, each step on its own (one failing does not keep the
    others from running); one line per step that failed."""
    steps: list[tuple[str, Any]] = []
    if cluster is not None:
        steps += [(f"resume {n.name}", lambda n=n: _resume(n)) for n in cluster.nodes]
        steps.append(("stop the cluster", lambda: cluster.close(logs)))
    for shim in m.shims.values():
        steps.append(("reset the fsync shim", lambda shim=shim: shim.set_mode("normal")))
    steps.append(("forget stopped processes", cleanup.forget_stopped))
    if m.network is not None and hasattr(m.network, "__exit__"):
        steps.append(("remove the network", lambda: m.network.__exit__(None, None, None)))
    if m.disk is not None:
        steps.append(("unmount the data disk", m.disk.close))
    problems = []
    for what, step in steps:
        try:
            step()
        except Exception as e:  # noqa: BLE001 - every step runs; failures are reported
            problems.append(f"could not {what}: {type(e).__name__}: {e}")
    return problems



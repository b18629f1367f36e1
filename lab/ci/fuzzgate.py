"""The fuzzing part of ``lab ci``: a short budget per target, and which crashes are new.

Every fuzz target of the selected systems is fuzzed on the current tree for a few seconds
(``lab fuzz SYSTEM --target T --time S --json``, recorded in the lab's store as any fuzz run;
each new crash is minimized for a quarter of S, 1 to 10 s, to keep triage near the budget).
Each crash it reports is then replayed on the baseline tree (``lab repro FILE --target
SYSTEM/T`` with the input as found): a crash that reproduces there is old (the baseline has the
same bug) and does not fail the check; one that runs cleanly on the baseline is new. A replay
that cannot decide (the baseline lacks the target, the replay errs) is counted as new, with
the reason: the check errs on the side of reporting.

Contract. ``fuzz_and_triage`` returns one ``TargetOutcome`` per target, in order; it never
raises for a failing child process (the failure is in the outcome's ``error``).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.ci.measure import Side, last_line

NEW, OLD = "new", "reproduces on baseline"


@dataclass
class CrashOutcome:
    """One crash found on the current tree, and what the baseline made of it."""

    id: int
    kind: str
    signature: str
    verdict: str  # NEW or OLD
    note: str = ""

    def to_json(self) -> dict:
        return {"id": self.id, "kind": self.kind, "signature": self.signature,
                "verdict": self.verdict, "note": self.note}


@dataclass
class TargetOutcome:
    """How fuzzing one target went."""

    system: str
    target: str
    seconds: float
    execs: int = 0
    error: str | None = None
    crashes: list[CrashOutcome] = field(default_factory=list)

    @property
    def new_crashes(self) -> list[CrashOutcome]:
        return [c for c in self.crashes if c.verdict == NEW]

    def to_json(self) -> dict:
        return {"system": self.system, "target": self.target, "seconds": self.seconds,
                "execs": self.execs, "error": self.error,
                "crashes": [c.to_json() for c in self.crashes]}


def _replay_on_baseline(baseline: Side, system: str, target: str, data: bytes,
                        signature: str) -> tuple[str, str]:
    """Replay on the baseline: OLD only when it crashes there with the same signature
    (``lab repro`` ends its output with ``crashed: SIGNATURE`` and exits 1 on a crash)."""
    with tempfile.TemporaryDirectory(prefix="lab-ci-repro-") as tmp:
        path = Path(tmp) / "input"
        path.write_bytes(data)
        proc = baseline.run(["repro", str(path), "--target", f"{system}/{target}"], timeout=600)
    verdict = last_line(subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout, ""))
    if proc.returncode == 1 and verdict.startswith("crashed: "):
        seen = verdict.removeprefix("crashed: ")
        if seen == signature:
            return OLD, ""
        return NEW, f"the baseline crashes differently: {seen}"
    if proc.returncode == 0:
        return NEW, "runs cleanly on the baseline"
    return NEW, f"the baseline could not replay it: {last_line(proc)}"


def minimize_seconds(seconds: float) -> int:
    """Seconds to minimize each new crash: a quarter of the target's share, 1 to 10, so that
    triage keeps close to the budget (the stored crash can be minimized later)."""
    return int(min(10, max(1, seconds // 4)))


def _fuzz_one(current: Side, baseline: Side | None, store: Any, system: str, target: str,
              seconds: float) -> TargetOutcome:
    out = TargetOutcome(system, target, seconds)
    proc = current.run(["fuzz", system, "--target", target, "--time", f"{seconds:g}",
                        "--minimize-time", str(minimize_seconds(seconds)), "--json"],
                       timeout=seconds * 4 + 600)
    try:
        results = json.loads(proc.stdout)
    except json.JSONDecodeError:
        out.error = last_line(proc)
        return out
    for res in results if isinstance(results, list) else []:
        out.execs += int(res.get("execs") or 0)
        if res.get("status") not in (None, "ok", "crashed") and res.get("error"):
            out.error = str(res["error"])
        for note in res.get("crashes", []):
            if any(c.id == int(note["id"]) for c in out.crashes):
                continue  # found again by another worker or later in the run
            crash = store.crash(int(note["id"]))
            if baseline is None:
                verdict, why = NEW, "no baseline to replay it on"
            else:
                verdict, why = _replay_on_baseline(baseline, system, target, crash["input"],
                                                   note["signature"])
            out.crashes.append(CrashOutcome(int(note["id"]), note["kind"], note["signature"],
                                            verdict, why))
    return out


def fuzz_and_triage(current: Side, baseline: Side | None, store: Any,
                    targets: Sequence[tuple[str, str]], seconds: float,
                    on_step: Callable[[str], None] = lambda s: None) -> list[TargetOutcome]:
    """Fuzz each (system, target) for ``seconds`` on ``current``; replay crashes on
    ``baseline``."""
    outcomes = []
    for system, target in targets:
        on_step(f"fuzz · {system}/{target} · {seconds:g} s")
        outcomes.append(_fuzz_one(current, baseline, store, system, target, seconds))
    return outcomes

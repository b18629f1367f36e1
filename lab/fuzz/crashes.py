"""Crash triage: from a libFuzzer artifact and its report to a deduplicated crash record.

For each artifact: parse the report into a kind and a signature (:mod:`lab.fuzz.triage`);
if the store already holds that signature for the target, count one more sighting and stop
(deduplication across runs). Otherwise re-run the input ``reliability_runs`` times to measure
how reliably it reproduces (the share of runs that crash with the same signature), minimize it
with libFuzzer's ``-minimize_crash`` and keep the minimized input only when it still gives the
same signature, then store input, minimized input and report.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab import paths
from lab.fuzz import process
from lab.fuzz.triage import Finding, parse_report, strip_numbers
from lab.model import FuzzTarget, System

HARNESS_DIR = Path(__file__).resolve().parent
MAX_REPORT = 64 * 1024


@dataclass
class TriageOptions:
    reliability_runs: int = 5
    minimize_seconds: int = 10


@dataclass
class Triaged:
    """What triage concluded about one artifact."""

    crash_id: int
    new: bool
    finding: Finding
    signature: str
    reliability: float | None
    minimized_size: int | None
    input_size: int


def project_roots(system: System) -> list[Path]:
    roots = [paths.root()]
    if system.targets is not None:
        roots.append(system.targets.resolve())
    return roots


CATEGORY_MAX = 120
"""Longest message category kept in an invariant finding's signature."""


def _message_category(text: str) -> str:
    """The category of a finding raised by the harness, the part of its message that names
    the problem without the input's particulars: a Mismatch's message up to its first colon
    (``target rejected, oracle accepted``); an InvariantViolation's invariant name and its
    message up to the first ``;`` (``kernel_survived: kernel panic: page fault in kernel at
    N``), numbers replaced by ``N`` and at most :data:`CATEGORY_MAX` characters, so one
    invariant's different failures are different crashes."""
    match = re.search(r"Mismatch: ([^:\n]+)", text)
    if match:
        return match.group(1).strip()
    match = re.search(r"InvariantViolation: ([^;\n]+)", text)
    if not match:
        return ""
    return strip_numbers(match.group(1).strip())[:CATEGORY_MAX].rstrip()


def analyse(system: System, target: FuzzTarget, report: str) -> tuple[Finding, str]:
    """The finding and its signature, scoped to the target. Differential and invariant
    findings raise from the harness, so their signature is the category in the message."""
    finding = parse_report(report, project_roots(system), [HARNESS_DIR])
    signature = finding.signature
    if finding.kind in ("mismatch", "invariant"):
        signature = f"{finding.kind}: {_message_category(report) or finding.summary}"
    return finding, signature


def reproduce(system: System, target: FuzzTarget, data_file: Path, *,
              flavor: str = "fuzz") -> tuple[bool, str, str | None]:
    """Run one input once: (crashed, report text, signature or None)."""
    shot = process.run_input(system, target, data_file, flavor=flavor)
    if not shot.crashed and not shot.timed_out:
        return False, shot.output, None
    _, signature = analyse(system, target, shot.output)
    return True, shot.output, signature


def reliability(system: System, target: FuzzTarget, data_file: Path, signature: str,
                runs: int) -> float:
    """Share of ``runs`` re-runs that crash with the same signature (0.0-1.0)."""
    same = 0
    for _ in range(runs):
        crashed, _, sig = reproduce(system, target, data_file)
        same += crashed and sig == signature
    return same / runs if runs else 0.0


def _minimized(system: System, target: FuzzTarget, data_file: Path, signature: str,
               seconds: int) -> bytes | None:
    with tempfile.TemporaryDirectory(prefix="lab-min-") as tmp:
        out = Path(tmp) / "minimized"
        if not process.minimize(system, target, data_file, out, seconds):
            return None
        crashed, _, sig = reproduce(system, target, out)
        return out.read_bytes() if crashed and sig == signature else None


def triage(store: Any, run_id: int | None, system: System, target: FuzzTarget,
           artifact: Path, report: str | None, options: TriageOptions) -> Triaged:
    """Triage one artifact (see the module docstring) and record it in ``store``; without a
    ``report`` (fork mode prints none), the artifact is re-run to get one. The artifact file
    is deleted when its signature was already known (its input is in the store)."""
    if report is None:
        report = process.run_input(system, target, artifact).output
    finding, signature = analyse(system, target, report)
    data = artifact.read_bytes()
    crash = {"system": system.name, "target": target.name, "kind": finding.kind,
             "signature": signature, "summary": finding.summary, "input": data,
             "report": report[-MAX_REPORT:]}
    crash_id, new = store.record_crash(run_id, crash)
    if not new:
        artifact.unlink(missing_ok=True)
        return Triaged(crash_id, False, finding, signature, None, None, len(data))
    rel = reliability(system, target, artifact, signature, options.reliability_runs)
    small = _minimized(system, target, artifact, signature, options.minimize_seconds) \
        if options.minimize_seconds > 0 else None
    store.update_crash(crash_id, reliability=rel, minimized=small)
    return Triaged(crash_id, True, finding, signature, rel, len(small) if small else None,
                   len(data))

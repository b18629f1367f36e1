"""``lab repro``: run one crash input again and say whether it still crashes the same way.

A stored crash is replayed from the store (its minimized input unless asked for the original)
and its status is updated: ``open`` when it reproduces, ``fixed`` when it runs cleanly. The
``fuzz`` flavor runs it as found (clang build under libFuzzer); ``debug`` replays it without
libFuzzer on the gcc ASan+UBSan build, as the test suite does with regression inputs.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lab.builtins.common import system_named
from lab.fuzz import process
from lab.fuzz.crashes import analyse, reproduce
from lab.fuzz.engine import resolve_targets
from lab.model import FuzzTarget, System


@dataclass
class Outcome:
    crashed: bool
    signature: str | None
    report: str
    verdict: str = ""


def replay_debug(system: System, target: FuzzTarget, data_file: Path) -> Outcome:
    """Replay one input in a plain process on the debug build (no libFuzzer)."""
    sp = process.spec(system, target, flavor="debug", mode="replay")
    proc = subprocess.run([sys.executable, "-m", "lab.fuzz.worker", str(data_file)],
                          env=process.environment(sp), capture_output=True, text=True,
                          errors="replace", timeout=target.timeout * 3 + 60)
    out = proc.stdout + proc.stderr
    if proc.returncode == 0:
        return Outcome(False, None, out)
    return Outcome(True, analyse(system, target, out)[1], out)


def run_once(system: System, target: FuzzTarget, data_file: Path, flavor: str) -> Outcome:
    if flavor == "debug":
        return replay_debug(system, target, data_file)
    from lab.fuzz.preflight import require_toolchain

    require_toolchain()
    crashed, report, signature = reproduce(system, target, data_file)
    return Outcome(crashed, signature, report)


def _target(system_name: str, target_name: str) -> tuple[System, FuzzTarget]:
    system = system_named(system_name)
    return system, resolve_targets(system, [target_name])[0]


def reproduce_file(system_name: str, target_name: str, path: Path, flavor: str) -> Outcome:
    system, target = _target(system_name, target_name)
    out = run_once(system, target, path.resolve(), flavor)
    out.verdict = (f"crashed: {out.signature}" if out.crashed
                   else f"no crash: {path} runs cleanly through {system.name}/{target.name}")
    return out


def reproduce_stored(crash_id: int, flavor: str, original: bool) -> Outcome:
    from lab.store import open_store

    store = open_store()
    try:
        row = store.crash(crash_id)
        system, target = _target(row["system"], row["target"])
        data = row["input"] if original or not row["minimized"] else row["minimized"]
        with tempfile.TemporaryDirectory(prefix="lab-repro-") as tmp:
            path = Path(tmp) / f"crash-{crash_id}"
            path.write_bytes(data)
            out = run_once(system, target, path, flavor)
        which = f"crash #{crash_id} ({len(data)} B input, {flavor} build)"
        if not out.crashed:
            out.verdict = f"did not reproduce: {which} runs cleanly; marked fixed"
            store.update_crash(crash_id, status="fixed")
        elif out.signature == row["signature"]:
            out.verdict = f"reproduced: {which}: {row['signature']}"
            store.update_crash(crash_id, status="open")
        else:
            out.verdict = (f"crashed differently: {which}: {out.signature} (recorded: "
                           f"{row['signature']})")
        return out
    finally:
        store.close()

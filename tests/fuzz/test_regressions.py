"""Every committed fuzz input of every system, replayed on the debug (gcc ASan+UBSan) build:
the seeds and, above all, the regression inputs exported from triaged crashes
(`lab fuzz SYSTEM --export-regression ID`), which must keep running cleanly once fixed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab.fuzz import process
from lab.fuzz.layout import is_input, layout
from lab.host import get_host, reset_host
from labtest import ROOT


def _targets() -> list[tuple[str, str]]:
    saved = os.environ.pop("LAB_PLUGIN_PATH", None)
    try:
        reset_host()
        systems = get_host().systems().values()
        return [(s.name, t.name) for s in systems if s.source.startswith(str(ROOT / "plugins"))
                or (s.targets and str(s.targets).startswith(str(ROOT / "targets")))
                for t in s.fuzz_targets]
    finally:
        if saved is not None:
            os.environ["LAB_PLUGIN_PATH"] = saved
        reset_host()


TARGETS = _targets()


def test_every_plugin_system_with_fuzz_targets_is_replayed() -> None:
    assert ("compress", "inflate") in TARGETS  # the collection itself must not come up empty


@pytest.mark.parametrize(("system_name", "target_name"), TARGETS,
                         ids=[f"{s}/{t}" for s, t in TARGETS])
def test_committed_inputs_run_clean_on_the_debug_build(system_name: str, target_name: str,
                                                       session_cache: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAB_PLUGIN_PATH", raising=False)
    monkeypatch.delenv("LAB_CORPORA", raising=False)
    monkeypatch.setenv("LAB_CACHE", str(session_cache))
    reset_host()
    system = get_host().systems()[system_name]
    target = system.fuzz_target(target_name)
    lay = layout(system, target)
    files = sorted(p for d in (lay.seeds, lay.regressions) if d.is_dir()
                   for p in d.iterdir() if is_input(p))
    assert files, f"{system_name}/{target_name} has no committed seeds in {lay.seeds}"
    env = process.environment(process.spec(system, target, flavor="debug", mode="replay"))
    proc = subprocess.run([sys.executable, "-m", "lab.fuzz.worker", *map(str, files)], env=env,
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    errors = [ln for ln in proc.stdout.splitlines() if ln.startswith("#LAB error")]
    assert proc.returncode == 0 and not errors, (errors, proc.stderr[-3000:])
    ran = [ln for ln in proc.stdout.splitlines() if ln.startswith("#LAB ok")]
    assert len(ran) == len(files)
    reset_host()

"""Constants shared by the test folders (imported as ``labtest``; pytest puts tests/ on the
path through ``pythonpath`` in pyproject.toml)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
TOY_PLUGINS = FIXTURES / "plugins"
BAD_PLUGINS = FIXTURES / "bad_plugins"

# The compress core's tests run on the build flavor named by $LAB_FLAVOR (release by
# default); the sanitizer test re-runs them on the ASan+UBSan ``debug`` build, at -O0, where
# smaller inputs keep the suite quick.
FLAVOR = os.environ.get("LAB_FLAVOR", "release")
SANITIZED = FLAVOR == "debug"
INTEROP_SIZE = 48 << 10 if SANITIZED else 256 << 10


def assert_fuzz_runs_clean(run_lab, system: str, targets: set[str],  # noqa: ANN001
                           timeout: float = 400) -> None:
    """``lab fuzz SYSTEM --target T... --runs 1500`` on the committed seeds: every one of
    ``targets`` ran its executions from its seeds, gained coverage, and found no crash or
    harness error."""
    chosen = [arg for name in sorted(targets) for arg in ("--target", name)]
    res = run_lab("fuzz", system, *chosen, "--runs", "1500", "--seed", "5", "--json",
                  env={"LAB_CORPORA": str(ROOT / "corpora")}, timeout=timeout)
    assert res.code == 0, res.err
    results = {r["target"]: r for r in res.json()}
    assert set(results) == targets
    for r in results.values():
        assert r["execs"] >= 1500 and r["cov"] > 0 and r["seed_units"] > 0, r
        assert r["crashes"] == [] and r["error"] is None, r


def assert_passes_under_sanitizers(files: Iterable[Path | str], env: dict[str, str] | None = None,
                                   pytest_args: tuple[str, ...] = (), timeout: float = 900,
                                   skips: bool = True) -> None:
    """``files`` (test modules) run again in a child pytest under ``lab exec --flavor debug``
    (the ASan+UBSan build, assertions on), with ``env`` added to the environment: the child
    must pass, run at least one test (and skip none unless ``skips``), and print no sanitizer
    report."""
    proc = subprocess.run(
        [sys.executable, "-m", "lab.cli", "exec", "--flavor", "debug", "--", sys.executable,
         "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *pytest_args,
         *(str(f) for f in files)],
        capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=timeout,
        cwd=ROOT)
    tail = (proc.stdout + proc.stderr)[-3000:]
    assert proc.returncode == 0, tail
    assert "ERROR: AddressSanitizer" not in tail and "runtime error:" not in tail, tail
    assert " passed" in proc.stdout, tail
    assert skips or " skipped" not in proc.stdout, tail


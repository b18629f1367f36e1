"""Constants shared by the test folders (imported as ``labtest``; pytest puts tests/ on the
path through ``pythonpath`` in pyproject.toml)."""

from __future__ import annotations

import os
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

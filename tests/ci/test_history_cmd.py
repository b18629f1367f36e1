"""`lab history`: a real slowdown built into the toy core shows as one change point at the
run that introduced it; runs of another fingerprint are left out unless forced."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from labtest import ROOT, TOY_PLUGINS

SLOW = {"TOY_CFLAGS": "-DTOY_SLOW_FINISH"}
PER_SIDE = 5  # runs per build: with 3, one run slowed by a busy CI machine sank the t-test


@pytest.fixture(scope="module")
def built_history(tmp_path_factory: pytest.TempPathFactory,
                  session_cache: Path) -> tuple[Path, list[int]]:
    """Five bench runs of the toy core, then five of a build 64x slower in its last step, in
    a store made once for this module; returns the store and the run ids."""
    home = tmp_path_factory.mktemp("toy-history")
    env = {**os.environ, "LAB_STORE": str(home / "lab.db"), "LAB_CACHE": str(session_cache),
           "LAB_REPORTS": str(home / "reports"), "LAB_PLUGIN_PATH": str(TOY_PLUGINS),
           "LAB_CORPORA": str(home / "corpora")}
    ids = []
    for extra in [{}] * PER_SIDE + [SLOW] * PER_SIDE:
        proc = subprocess.run([sys.executable, "-m", "lab.cli", "bench", "toy", "--quick",
                               "--impl", "fast", "--json"], capture_output=True, text=True,
                              env={**env, **extra}, timeout=300, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr
        ids.append(json.loads(proc.stdout)["run_id"])
    return home / "lab.db", ids


@pytest.fixture
def toy_history(built_history: tuple[Path, list[int]], lab_env: dict) -> list[int]:
    """This test's own copy of the module's history; returns the run ids."""
    store, ids = built_history
    Path(lab_env["LAB_STORE"]).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(store, lab_env["LAB_STORE"])
    return ids


def test_the_slow_build_is_one_change_point(run_lab, toy_history: list[int]) -> None:
    res = run_lab("history", "toy", "--json")
    assert res.code == 0, res.err
    doc = res.json()
    assert doc["runs"] == 2 * PER_SIDE and doc["left_out"] == 0
    series = {s["metric"]: s for s in doc["series"]}
    rate = series["rate"]
    assert [p["run_id"] for p in rate["points"]] == toy_history
    (change,) = rate["change_points"]
    assert change["index"] == PER_SIDE and change["run_id"] == toy_history[PER_SIDE]
    assert change["verdict"] == "regression"  # rate: higher is better
    medians = [p["median"] for p in rate["points"]]
    assert change["before"] == pytest.approx(sum(medians[:PER_SIDE]) / PER_SIDE)
    assert change["after"] == pytest.approx(sum(medians[PER_SIDE:]) / PER_SIDE)
    assert change["change"] < -0.5 and change["pvalue"] < 0.001
    assert series["checksum"]["change_points"] == []  # the same result, computed slower
    page = Path(doc["report"])
    assert "regression" in page.read_text()
    assert len(list(page.parent.glob("*.png"))) == 2

    text = run_lab("history", "toy")
    assert text.code == 0
    assert "regression at" in text.out and f"(run {toy_history[PER_SIDE]})" in text.out


def test_runs_of_another_fingerprint_need_force(run_lab, toy_history: list[int],
                                                lab_env: dict) -> None:
    db = sqlite3.connect(lab_env["LAB_STORE"])
    with db:  # the first run was measured on another machine
        db.execute("INSERT INTO fingerprints(hash, data) VALUES ('elsewhere', '{}')")
        db.execute("UPDATE runs SET fingerprint_hash = 'elsewhere' WHERE id = ?",
                   (toy_history[0],))
    db.close()
    doc = run_lab("history", "toy", "--metric", "rate", "--json").json()
    assert doc["left_out"] == 1 and doc["runs"] == 2 * PER_SIDE - 1
    assert [p["run_id"] for p in doc["series"][0]["points"]] == toy_history[1:]
    forced = run_lab("history", "toy", "--metric", "rate", "--force", "--json").json()
    assert forced["left_out"] == 0 and forced["fingerprint"] is None
    assert len(forced["series"][0]["points"]) == 2 * PER_SIDE


def test_bad_requests_get_one_line_errors(run_lab) -> None:
    for args, words in ((("history", "toy"), "no finished bench run of toy"),
                        (("history", "toy", "--workload", "nope"), "valid: sum"),
                        (("history", "nope"), "unknown system 'nope'")):
        res = run_lab(*args, timeout=60)
        lines = [line for line in res.err.splitlines() if line.strip()]
        assert res.code != 0 and len(lines) == 1 and words in lines[0], (args, res.err)

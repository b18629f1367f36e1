"""`lab history`: a real slowdown built into the toy core shows as one change point at the
run that introduced it; runs of another fingerprint are left out unless forced."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

SLOW = {"TOY_CFLAGS": "-DTOY_SLOW_FINISH"}


@pytest.fixture
def toy_history(run_lab) -> list[int]:
    """Three bench runs of the toy core, then three of a build 64x slower in its last step;
    returns the run ids."""
    ids = []
    for env in ({}, {}, {}, SLOW, SLOW, SLOW):
        res = run_lab("bench", "toy", "--quick", "--impl", "fast", "--json", env=env)
        assert res.code == 0, res.err
        ids.append(res.json()["run_id"])
    return ids


def test_the_slow_build_is_one_change_point(run_lab, toy_history: list[int]) -> None:
    res = run_lab("history", "toy", "--json")
    assert res.code == 0, res.err
    doc = res.json()
    assert doc["runs"] == 6 and doc["left_out"] == 0
    series = {s["metric"]: s for s in doc["series"]}
    rate = series["rate"]
    assert [p["run_id"] for p in rate["points"]] == toy_history
    (change,) = rate["change_points"]
    assert change["index"] == 3 and change["run_id"] == toy_history[3]
    assert change["verdict"] == "regression"  # rate: higher is better
    medians = [p["median"] for p in rate["points"]]
    assert change["before"] == pytest.approx(sum(medians[:3]) / 3)
    assert change["after"] == pytest.approx(sum(medians[3:]) / 3)
    assert change["change"] < -0.5 and change["pvalue"] < 0.001
    assert series["checksum"]["change_points"] == []  # the same result, computed slower
    page = Path(doc["report"])
    assert "regression" in page.read_text()
    assert len(list(page.parent.glob("*.png"))) == 2

    text = run_lab("history", "toy")
    assert text.code == 0
    assert "regression at" in text.out and f"(run {toy_history[3]})" in text.out


def test_runs_of_another_fingerprint_need_force(run_lab, toy_history: list[int],
                                                lab_env: dict) -> None:
    db = sqlite3.connect(lab_env["LAB_STORE"])
    with db:  # the first run was measured on another machine
        db.execute("INSERT INTO fingerprints(hash, data) VALUES ('elsewhere', '{}')")
        db.execute("UPDATE runs SET fingerprint_hash = 'elsewhere' WHERE id = ?",
                   (toy_history[0],))
    db.close()
    doc = run_lab("history", "toy", "--metric", "rate", "--json").json()
    assert doc["left_out"] == 1 and doc["runs"] == 5
    assert [p["run_id"] for p in doc["series"][0]["points"]] == toy_history[1:]
    forced = run_lab("history", "toy", "--metric", "rate", "--force", "--json").json()
    assert forced["left_out"] == 0 and forced["fingerprint"] is None
    assert len(forced["series"][0]["points"]) == 6


def test_bad_requests_get_one_line_errors(run_lab) -> None:
    for args, words in ((("history", "toy"), "no finished bench run of toy"),
                        (("history", "toy", "--workload", "nope"), "valid: sum"),
                        (("history", "nope"), "unknown system 'nope'")):
        res = run_lab(*args, timeout=60)
        lines = [line for line in res.err.splitlines() if line.strip()]
        assert res.code != 0 and len(lines) == 1 and words in lines[0], (args, res.err)

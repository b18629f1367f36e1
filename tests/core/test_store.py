"""The SQLite result store: migrations, refusal to touch foreign or newer files, locking,
and a bench run interrupted with Ctrl-C."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.errors import StoreError
from lab.store import migrations
from lab.store.base import Sample
from lab.store.sqlite import SQLiteStore


def _new_run(store: SQLiteStore) -> int:
    return store.begin_run(system="toy", kind="bench", command=["lab", "bench", "toy"],
                           fingerprint={"cpu_model": "x"}, fingerprint_hash="abc",
                           git_commit=None, git_dirty=False, options={"mode": "quick"})


def test_fresh_store_is_at_latest_schema_in_wal_mode(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "lab.db")
    assert migrations.version(store.conn) == migrations.LATEST
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    run = _new_run(store)
    store.add_samples(run, [Sample("a", "w", {"n": 1}, "rate", 0, 2.5, 0.1)])
    store.finish_run(run, "ok")
    rec = store.run(run)
    assert rec.status == "ok" and rec.fingerprint == {"cpu_model": "x"} and rec.finished
    assert store.samples(run)[0].params == {"n": 1}


def test_migration_from_version_1_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "lab.db"
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrations.migrate(conn, target=1) == [1]
    conn.execute("INSERT INTO fingerprints VALUES ('fp', '{}')")
    conn.execute("INSERT INTO runs(system, command, started, status, fingerprint_hash) "
                 "VALUES ('old', '[\"lab\"]', '2026-01-01T00:00:00+00:00', 'ok', 'fp')")
    conn.execute("INSERT INTO samples VALUES (1, 'a', 'w', '{}', 'm', 0, 1.5, NULL)")
    conn.close()
    store = SQLiteStore(path)
    assert migrations.version(store.conn) == migrations.LATEST
    old = store.run(1)
    assert old.system == "old" and old.kind == "bench"
    assert [s.value for s in store.samples(1)] == [1.5]
    assert store.results(1) == []


def test_newer_schema_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "lab.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="schema version 99, newer than this lab supports"):
        SQLiteStore(path)
    assert path.read_bytes() == before


def test_corrupt_store_gives_one_line_error_and_is_not_overwritten(run_lab, lab_env) -> None:
    path = Path(lab_env["LAB_STORE"])
    path.parent.mkdir(parents=True)
    garbage = b"this is not an sqlite file\n" * 200
    path.write_bytes(garbage)
    res = run_lab("runs")
    assert res.code == 1
    assert "corrupt or not a lab store" in res.err and len(res.err.strip().splitlines()) == 1
    assert path.read_bytes() == garbage


def test_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE mine(x)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not a lab store"):
        SQLiteStore(path)


def test_locked_store_is_a_clear_error_and_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "lab.db"
    store = SQLiteStore(path, timeout=0.2)
    run = _new_run(store)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    with pytest.raises(StoreError, match="locked by another process"):
        store.add_samples(run, [Sample("a", "w", {}, "m", 0, 1.0)])
    other.execute("ROLLBACK")
    store.add_samples(run, [Sample("a", "w", {}, "m", 0, 1.0)])
    assert len(store.samples(run)) == 1 and store.run(run).status == "running"


def test_ctrl_c_marks_run_interrupted_and_keeps_samples(lab_env: dict) -> None:
    env = {**os.environ, **lab_env}
    proc = subprocess.Popen([sys.executable, "-m", "lab.cli", "bench", "toy", "--full",
                             "--reps", "30", "--no-report"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    db = Path(lab_env["LAB_STORE"])
    deadline = time.monotonic() + 120
    count = 0
    while time.monotonic() < deadline and count < 3:
        time.sleep(0.3)
        if db.exists():
            try:
                con = sqlite3.connect(db, timeout=1)
                count = con.execute("SELECT count(DISTINCT rep) FROM samples").fetchone()[0]
                con.close()
            except sqlite3.Error:
                count = 0
    assert count >= 3, "the bench did not start measuring"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    store = SQLiteStore(db)
    run = store.runs("toy")[0]
    assert run.status == "interrupted" and run.finished
    kept = store.samples(run.id)
    assert kept and {s.impl for s in kept} <= {"fast", "fast-again", "slow"}
    groups: dict[tuple, list[float]] = {}
    for s in kept:
        groups.setdefault((s.impl, s.params["n"], s.rep, s.metric), []).append(s.value)
    for values in groups.values():  # an item stored twice would repeat its rounds
        half = len(values) // 2
        assert len(values) % 2 or values[:half] != values[half:], "samples were stored twice"
    ok = [r for r in store.results(run.id) if r["status"] == "ok"]
    assert ok and all(r["n"] > 0 for r in ok)
    assert "run 1: interrupted" in out

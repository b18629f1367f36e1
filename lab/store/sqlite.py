"""The default result store: one SQLite file in WAL mode (``results/lab.db``).

Every write is its own short transaction, so a run killed at any moment leaves every sample
committed before it. Opening never overwrites: a file that is not a lab store, a store from a
newer lab, or a store locked beyond the busy timeout raises :class:`StoreError`.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lab.errors import StoreError
from lab.store import migrations
from lab.store.base import RUN_STATUSES, RunRecord, Sample

BUSY_TIMEOUT_S = 10.0
TABLES = ("runs", "fingerprints", "samples", "results", "comparisons", "fuzz_stats", "crashes",
          "coverage", "profiles", "chaos_cases", "ci_noise")
CRASH_STATUSES = ("open", "fixed")


def now() -> str:
    """The current UTC time, ISO-8601 with seconds."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def canonical(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, separators=(",", ":"))


class SQLiteStore:
    """A :class:`lab.store.base.Store` on one SQLite file."""

    def __init__(self, path: Path, *, migrate: bool = True,
                 timeout: float = BUSY_TIMEOUT_S) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
            self.conn.row_factory = sqlite3.Row
            self._check_and_migrate(migrate)
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from None

    def _error(self, exc: sqlite3.Error) -> StoreError:
        text = str(exc)
        if "locked" in text or "busy" in text:
            return StoreError(f"result store {self.path} is locked by another process ({text}); "
                              "retry when it has finished")
        if "not a database" in text or "malformed" in text:
            return StoreError(f"result store {self.path} is corrupt or not a lab store ({text}); "
                              "it was left untouched: move it away or set LAB_STORE to another "
                              "file")
        return StoreError(f"result store {self.path}: {text}")

    def _check_and_migrate(self, migrate: bool) -> None:
        current = migrations.version(self.conn)  # raises on a non-database file
        if current > migrations.LATEST:
            raise StoreError(f"result store {self.path} has schema version {current}, newer than "
                             f"this lab supports ({migrations.LATEST}); upgrade the lab")
        if current:
            names = {r[0] for r in self.conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table'")}
            if "runs" not in names:
                raise StoreError(f"result store {self.path} is not a lab store (no runs table); "
                                 "it was left untouched")
        elif self.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            raise StoreError(f"{self.path} is an SQLite database but not a lab store; "
                             "it was left untouched")
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        if migrate:
            migrations.migrate(self.conn)

    # -- writing ---------------------------------------------------------------------------

    def _write(self, sql: str, rows: list[tuple] | tuple = ()) -> int:
        try:
            with self.conn:
                self.conn.execute("BEGIN IMMEDIATE")
                if rows and isinstance(rows, list):
                    self.conn.executemany(sql, rows)
                    return 0
                cur = self.conn.execute(sql, rows)
                return cur.lastrowid or 0
        except sqlite3.Error as exc:
            raise self._error(exc) from None

    def begin_run(self, *, system: str, kind: str, command: list[str], fingerprint: dict,
                  fingerprint_hash: str, git_commit: str | None, git_dirty: bool,
                  options: dict) -> int:
        self._write("INSERT OR IGNORE INTO fingerprints(hash, data) VALUES (?, ?)",
                    (fingerprint_hash, json.dumps(fingerprint, sort_keys=True)))
        return self._write(
            "INSERT INTO runs(system, kind, command, started, status, git_commit, git_dirty, "
            "fingerprint_hash, options) VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?)",
            (system, kind, json.dumps(command), now(), git_commit, int(git_dirty),
             fingerprint_hash, json.dumps(options, sort_keys=True, default=str)))

    def add_samples(self, run_id: int, samples: list[Sample]) -> None:
        if not samples:
            return
        self._write(
            "INSERT INTO samples(run_id, impl, workload, params, metric, rep, value, seconds, "
            "channel) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(run_id, s.impl, s.workload, canonical(s.params), s.metric, s.rep, s.value,
              s.seconds, s.channel) for s in samples])

    def save_summary(self, run_id: int, results: list[dict], comparisons: list[dict]) -> None:
        try:
            with self.conn:
                self.conn.execute("BEGIN IMMEDIATE")
                self.conn.execute("DELETE FROM results WHERE run_id = ?", (run_id,))
                self.conn.execute("DELETE FROM comparisons WHERE run_id = ?", (run_id,))
                self.conn.executemany(
                    "INSERT INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    [(run_id, r["impl"], r["workload"], canonical(r["params"]), r["metric"],
                      r["unit"], r["better"], r["median"], r["ci_low"], r["ci_high"], r["n"],
                      r["status"], r.get("note"), r.get("channel", "wall")) for r in results])
                self.conn.executemany(
                    "INSERT INTO comparisons VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    [(run_id, c["impl"], c["baseline"], c["workload"], canonical(c["params"]),
                      c["metric"], c["ratio"], c["ci_low"], c["ci_high"], c["p_value"],
                      c["verdict"], c.get("channel", "wall")) for c in comparisons])
        except sqlite3.Error as exc:
            raise self._error(exc) from None

    def finish_run(self, run_id: int, status: str, error: str | None = None) -> None:
        assert status in RUN_STATUSES, status
        self._write("UPDATE runs SET status = ?, finished = ?, error = ? WHERE id = ?",
                    (status, now(), error, run_id))

    # -- reading ---------------------------------------------------------------------------

    def _query(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        try:
            return self.conn.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise self._error(exc) from None

    def _record(self, row: sqlite3.Row) -> RunRecord:
        fp = self._query("SELECT data FROM fingerprints WHERE hash = ?", (row["fingerprint_hash"],))
        return RunRecord(
            id=row["id"], system=row["system"], kind=row["kind"],
            command=json.loads(row["command"]), started=row["started"],
            finished=row["finished"], status=row["status"], git_commit=row["git_commit"],
            git_dirty=bool(row["git_dirty"]), fingerprint_hash=row["fingerprint_hash"],
            fingerprint=json.loads(fp[0]["data"]) if fp else {},
            options=json.loads(row["options"]), error=row["error"])

    def run(self, run_id: int) -> RunRecord:
        rows = self._query("SELECT * FROM runs WHERE id = ?", (run_id,))
        if not rows:
            raise StoreError(f"no run {run_id} in {self.path}")
        return self._record(rows[0])

    def latest_run(self, system: str, kind: str = "bench") -> RunRecord | None:
        rows = self._query("SELECT * FROM runs WHERE system = ? AND kind = ? ORDER BY id DESC "
                           "LIMIT 1", (system, kind))
        return self._record(rows[0]) if rows else None

    def runs(self, system: str | None = None, limit: int = 50) -> list[RunRecord]:
        if system:
            rows = self._query("SELECT * FROM runs WHERE system = ? ORDER BY id DESC LIMIT ?",
                               (system, limit))
        else:
            rows = self._query("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,))
        return [self._record(r) for r in rows]

    def samples(self, run_id: int) -> list[Sample]:
        rows = self._query("SELECT * FROM samples WHERE run_id = ? ORDER BY rowid", (run_id,))
        return [Sample(r["impl"], r["workload"], json.loads(r["params"]), r["metric"], r["rep"],
                       r["value"], r["seconds"], r["channel"]) for r in rows]

    def _summary_rows(self, table: str, run_id: int) -> list[dict]:
        rows = self._query(f"SELECT * FROM {table} WHERE run_id = ? ORDER BY rowid", (run_id,))
        out = []
        for r in rows:
            d = dict(r)
            d.pop("run_id")
            d["params"] = json.loads(d["params"])
            out.append(d)
        return out

    def results(self, run_id: int) -> list[dict]:
        return self._summary_rows("results", run_id)

    def comparisons(self, run_id: int) -> list[dict]:
        return self._summary_rows("comparisons", run_id)

    def result_history(self, system: str, workload: str | None = None) -> list[dict]:
        """Every ``ok`` result of the system's finished bench runs, oldest run first, each with
        its run's id, start time, commit, dirty flag and fingerprint hash."""
        sql = ("SELECT r.id AS run_id, r.started, r.git_commit, r.git_dirty, "
               "r.fingerprint_hash, res.* FROM results res JOIN runs r ON r.id = res.run_id "
               "WHERE r.system = ? AND r.kind = 'bench' AND r.status = 'ok' "
               "AND res.status = 'ok' AND res.median IS NOT NULL")
        args: tuple = (system,)
        if workload is not None:
            sql += " AND res.workload = ?"
            args += (workload,)
        out = []
        for row in self._query(sql + " ORDER BY r.id, res.rowid", args):
            d = dict(row)
            d["params"] = json.loads(d["params"])
            d["git_dirty"] = bool(d["git_dirty"])
            out.append(d)
        return out

    def table_names(self) -> list[str]:
        return list(TABLES)

    def read_table(self, name: str, run_id: int | None = None) -> Any:
        import pandas as pd

        if name not in TABLES:
            raise StoreError(f"unknown table {name!r}; valid: {', '.join(TABLES)}")
        sql, args = f"SELECT * FROM {name}", ()
        if run_id is not None and name != "fingerprints":
            column = {"runs": "id", "crashes": "last_run_id"}.get(name, "run_id")
            sql, args = f"{sql} WHERE {column} = ?", (run_id,)
        try:
            return pd.read_sql_query(sql, self.conn, params=args)
        except (sqlite3.Error, pd.errors.DatabaseError) as exc:
            raise StoreError(f"result store {self.path}: {exc}") from None

    # -- fuzzing ---------------------------------------------------------------------------

    def add_fuzz_stats(self, run_id: int, rows: list[dict]) -> None:
        if not rows:
            return
        self._write(
            "INSERT INTO fuzz_stats(run_id, target, elapsed, execs, exec_per_s, cov, ft, "
            "corpus_units, corpus_bytes, crashes) VALUES (?,?,?,?,?,?,?,?,?,?)",
            [(run_id, r["target"], r["elapsed"], r["execs"], r.get("exec_per_s"), r.get("cov"),
              r.get("ft"), r.get("corpus_units"), r.get("corpus_bytes"), r.get("crashes", 0))
             for r in rows])

    def fuzz_stats(self, system: str, target: str | None = None) -> list[dict]:
        sql = ("SELECT s.*, r.started FROM fuzz_stats s JOIN runs r ON r.id = s.run_id "
               "WHERE r.system = ?")
        args: tuple = (system,)
        if target is not None:
            sql, args = sql + " AND s.target = ?", (system, target)
        return [dict(r) for r in self._query(sql + " ORDER BY s.run_id, s.elapsed", args)]

    def record_crash(self, run_id: int | None, crash: dict) -> tuple[int, bool]:
        """Insert a crash, or count one more sighting of the same (system, target, signature);
        returns (id, is_new). A sighting of a crash marked fixed reopens it."""
        key = (crash["system"], crash["target"], crash["signature"])
        found = self._query("SELECT id FROM crashes WHERE system = ? AND target = ? AND "
                            "signature = ?", key)
        stamp = now()
        if found:
            self._write("UPDATE crashes SET count = count + 1, last_seen = ?, last_run_id = ?, "
                        "status = 'open' WHERE id = ?", (stamp, run_id, found[0]["id"]))
            return found[0]["id"], False
        new_id = self._write(
            "INSERT INTO crashes(system, target, kind, signature, summary, first_seen, "
            "last_seen, count, reliability, status, input, minimized, report, first_run_id, "
            "last_run_id) VALUES (?,?,?,?,?,?,?,1,?,'open',?,?,?,?,?)",
            (*key[:2], crash["kind"], crash["signature"], crash["summary"], stamp, stamp,
             crash.get("reliability"), crash["input"], crash.get("minimized"), crash["report"],
             run_id, run_id))
        return new_id, True

    def update_crash(self, crash_id: int, **fields: Any) -> None:
        allowed = {"reliability", "minimized", "status", "report"}
        bad = set(fields) - allowed
        assert not bad, bad
        assert fields.get("status", "open") in CRASH_STATUSES
        if fields:
            sets = ", ".join(f"{k} = ?" for k in fields)
            self._write(f"UPDATE crashes SET {sets} WHERE id = ?", (*fields.values(), crash_id))

    def crashes(self, system: str | None = None) -> list[dict]:
        sql, args = "SELECT * FROM crashes", ()
        if system:
            sql, args = sql + " WHERE system = ?", (system,)
        return [dict(r) for r in self._query(sql + " ORDER BY id", args)]

    def crash(self, crash_id: int) -> dict:
        rows = self._query("SELECT * FROM crashes WHERE id = ?", (crash_id,))
        if not rows:
            raise StoreError(f"no crash {crash_id} in {self.path} (see `lab crashes`)")
        return dict(rows[0])

    def add_coverage(self, run_id: int, row: dict) -> None:
        cols = ("target", "corpus_units", "lines_covered", "lines_total", "branches_covered",
                "branches_total", "functions_covered", "functions_total", "regions_covered",
                "regions_total", "html")
        self._write(f"INSERT INTO coverage(run_id, {', '.join(cols)}) VALUES "
                    f"(?, {', '.join('?' * len(cols))})", (run_id, *(row.get(c) for c in cols)))

    def coverage(self, system: str) -> list[dict]:
        """Every coverage measurement of ``system``, oldest first, with its run's start."""
        return [dict(r) for r in self._query(
            "SELECT c.*, r.started FROM coverage c JOIN runs r ON r.id = c.run_id "
            "WHERE r.system = ? ORDER BY c.run_id", (system,))]

    # -- profiles --------------------------------------------------------------------------

    def add_profile(self, run_id: int, profile: dict) -> int:
        cols = ("impl", "workload", "params", "source", "unit", "total", "functions", "stacks",
                "artifacts", "note")
        row = dict(profile, params=canonical(profile["params"]),
                   functions=json.dumps(profile["functions"], sort_keys=True),
                   stacks=profile.get("stacks"),
                   artifacts=json.dumps(profile.get("artifacts", {}), sort_keys=True))
        return self._write(f"INSERT INTO profiles(run_id, {', '.join(cols)}) VALUES "
                           f"(?, {', '.join('?' * len(cols))})",
                           (run_id, *(row.get(c) for c in cols)))

    def profiles(self, run_id: int) -> list[dict]:
        out = []
        for r in self._query("SELECT * FROM profiles WHERE run_id = ? ORDER BY id", (run_id,)):
            d = dict(r)
            d["params"] = json.loads(d["params"])
            d["functions"] = json.loads(d["functions"])
            d["artifacts"] = json.loads(d["artifacts"])
            out.append(d)
        return out

    # -- chaos cases -------------------------------------------------------------------------
    def add_chaos_case(self, run_id: int, case: dict) -> int:
        valid = case.get("valid")
        return self._write(
            "INSERT INTO chaos_cases(run_id, impl, scenario, seed, status, valid, stats, "
            "verdicts, folder) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, case["impl"], case["scenario"], int(case["seed"]), case["status"],
             None if valid is None else int(bool(valid)),
             json.dumps(case.get("stats", {}), sort_keys=True, default=repr),
             json.dumps(case.get("verdicts", []), sort_keys=True, default=repr),
             case["folder"]))

    def update_chaos_case(self, case_id: int, case: dict) -> None:
        valid = case.get("valid")
        self._write("UPDATE chaos_cases SET status = ?, valid = ?, stats = ?, verdicts = ? "
                    "WHERE id = ?",
                    (case["status"], None if valid is None else int(bool(valid)),
                     json.dumps(case.get("stats", {}), sort_keys=True, default=repr),
                     json.dumps(case.get("verdicts", []), sort_keys=True, default=repr),
                     case_id))

    def chaos_cases(self, run_id: int) -> list[dict]:
        out = []
        for r in self._query("SELECT * FROM chaos_cases WHERE run_id = ? ORDER BY id",
                             (run_id,)):
            d = dict(r)
            d["valid"] = None if d["valid"] is None else bool(d["valid"])
            d["stats"] = json.loads(d["stats"])
            d["verdicts"] = json.loads(d["verdicts"])
            out.append(d)
        return out

    # -- lab ci -----------------------------------------------------------------------------

    def save_noise_bands(self, run_id: int | None, fingerprint_hash: str,
                         bands: list[dict]) -> None:
        rows = [(fingerprint_hash, b["system"], b["bench"], run_id, float(b["half_width"]),
                 b.get("min_detectable"), json.dumps(list(b.get("aa_ratios", ()))), now())
                for b in bands]
        if rows:
            self._write("INSERT OR REPLACE INTO ci_noise(fingerprint_hash, system, bench, "
                        "run_id, half_width, min_detectable, aa_ratios, updated) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def noise_bands(self, fingerprint_hash: str) -> list[dict]:
        out = []
        for r in self._query("SELECT * FROM ci_noise WHERE fingerprint_hash = ? "
                             "ORDER BY system, bench", (fingerprint_hash,)):
            d = dict(r)
            d["aa_ratios"] = json.loads(d["aa_ratios"])
            out.append(d)
        return out

    def close(self) -> None:
        self.conn.close()

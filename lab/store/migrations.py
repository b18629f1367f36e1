"""Schema migrations of the SQLite store, applied in order; ``PRAGMA user_version`` records
how many have run. Append new steps; never edit a released one.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: list[str] = [
    # 1: runs, fingerprints and raw samples.
    """
    CREATE TABLE fingerprints (
        hash TEXT PRIMARY KEY,
        data TEXT NOT NULL
    );
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        system TEXT NOT NULL,
        command TEXT NOT NULL,
        started TEXT NOT NULL,
        finished TEXT,
        status TEXT NOT NULL,
        git_commit TEXT,
        git_dirty INTEGER NOT NULL DEFAULT 0,
        fingerprint_hash TEXT NOT NULL REFERENCES fingerprints(hash),
        options TEXT NOT NULL DEFAULT '{}',
        error TEXT
    );
    CREATE TABLE samples (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        impl TEXT NOT NULL,
        workload TEXT NOT NULL,
        params TEXT NOT NULL,
        metric TEXT NOT NULL,
        rep INTEGER NOT NULL,
        value REAL NOT NULL,
        seconds REAL
    );
    CREATE INDEX samples_run ON samples(run_id);
    """,
    # 2: summaries kept with the run, so reports need no recomputation; the kind of run.
    """
    ALTER TABLE runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'bench';
    CREATE TABLE results (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        impl TEXT NOT NULL, workload TEXT NOT NULL, params TEXT NOT NULL,
        metric TEXT NOT NULL, unit TEXT NOT NULL, better TEXT NOT NULL,
        median REAL, ci_low REAL, ci_high REAL, n INTEGER NOT NULL,
        status TEXT NOT NULL, note TEXT
    );
    CREATE TABLE comparisons (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        impl TEXT NOT NULL, baseline TEXT NOT NULL, workload TEXT NOT NULL,
        params TEXT NOT NULL, metric TEXT NOT NULL,
        ratio REAL, ci_low REAL, ci_high REAL, p_value REAL, verdict TEXT NOT NULL
    );
    CREATE INDEX results_run ON results(run_id);
    CREATE INDEX comparisons_run ON comparisons(run_id);
    CREATE INDEX runs_system ON runs(system, id);
    """,
    # 3: fuzzing statistics over time, triaged crashes (deduplicated by signature), coverage.
    """
    CREATE TABLE fuzz_stats (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        target TEXT NOT NULL, elapsed REAL NOT NULL, execs INTEGER NOT NULL,
        exec_per_s REAL, cov INTEGER, ft INTEGER, corpus_units INTEGER, corpus_bytes INTEGER,
        crashes INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX fuzz_stats_run ON fuzz_stats(run_id);
    CREATE TABLE crashes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        system TEXT NOT NULL, target TEXT NOT NULL, kind TEXT NOT NULL,
        signature TEXT NOT NULL, summary TEXT NOT NULL,
        first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, count INTEGER NOT NULL,
        reliability REAL, status TEXT NOT NULL,
        input BLOB NOT NULL, minimized BLOB, report TEXT NOT NULL,
        first_run_id INTEGER, last_run_id INTEGER,
        UNIQUE (system, target, signature)
    );
    CREATE TABLE coverage (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        target TEXT NOT NULL, corpus_units INTEGER NOT NULL,
        lines_covered INTEGER, lines_total INTEGER,
        branches_covered INTEGER, branches_total INTEGER,
        functions_covered INTEGER, functions_total INTEGER,
        regions_covered INTEGER, regions_total INTEGER, html TEXT
    );
    CREATE INDEX coverage_run ON coverage(run_id);
    """,
    # 4: the measurement channel of every figure (see lab.bench.channels); per-function
    # profiles (py-spy or perf samples, callgrind instructions) kept for reports and diffs.
    """
    ALTER TABLE samples ADD COLUMN channel TEXT NOT NULL DEFAULT 'wall';
    ALTER TABLE results ADD COLUMN channel TEXT NOT NULL DEFAULT 'wall';
    ALTER TABLE comparisons ADD COLUMN channel TEXT NOT NULL DEFAULT 'wall';
    UPDATE samples SET channel = 'measured' WHERE seconds IS NULL;
    UPDATE results SET channel = 'measured' WHERE EXISTS (
        SELECT 1 FROM samples s WHERE s.run_id = results.run_id AND s.metric = results.metric
        AND s.seconds IS NULL);
    UPDATE comparisons SET channel = 'measured' WHERE EXISTS (
        SELECT 1 FROM samples s WHERE s.run_id = comparisons.run_id
        AND s.metric = comparisons.metric AND s.seconds IS NULL);
    CREATE TABLE profiles (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        impl TEXT NOT NULL, workload TEXT NOT NULL, params TEXT NOT NULL,
        source TEXT NOT NULL, unit TEXT NOT NULL, total REAL NOT NULL,
        functions TEXT NOT NULL, stacks TEXT, artifacts TEXT NOT NULL DEFAULT '{}',
        note TEXT
    );
    CREATE INDEX profiles_run ON profiles(run_id);
    """,
    # 5: chaos cases (one scenario against one implementation), their verdicts and figures;
    # the history and schedule stay in the case's folder.
    """
    CREATE TABLE chaos_cases (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        impl TEXT NOT NULL, scenario TEXT NOT NULL, seed INTEGER NOT NULL,
        status TEXT NOT NULL, valid INTEGER, stats TEXT NOT NULL, verdicts TEXT NOT NULL,
        folder TEXT NOT NULL
    );
    CREATE INDEX chaos_cases_run ON chaos_cases(run_id);
    """,
    # 6: lab ci's noise bands, one per benchmark and machine fingerprint, from A/A runs
    # (lab ci --calibrate); the latest calibration replaces the previous one.
    """
    CREATE TABLE ci_noise (
        fingerprint_hash TEXT NOT NULL, system TEXT NOT NULL, bench TEXT NOT NULL,
        run_id INTEGER REFERENCES runs(id), half_width REAL NOT NULL,
        min_detectable REAL, aa_ratios TEXT NOT NULL, updated TEXT NOT NULL,
        PRIMARY KEY (fingerprint_hash, system, bench)
    );
    """,
]

LATEST = len(MIGRATIONS)


def version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def migrate(conn: sqlite3.Connection, target: int = LATEST) -> list[int]:
    """Apply the missing migrations up to ``target`` in one transaction each; return them."""
    applied = []
    current = version(conn)
    for number in range(current + 1, target + 1):
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            if version(conn) >= number:  # another process migrated meanwhile
                continue
            for statement in MIGRATIONS[number - 1].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
        applied.append(number)
    return applied

"""Tests for lab.fuzz.progress on real libFuzzer / atheris run logs.

The logs in ``tests/fuzz/reports`` (``run_*.txt``, ``py_run_*.txt``) are captured output of short
fuzzing runs of the toy targets described in ``reports/README.txt``: a plain libFuzzer binary with
a seed corpus (``run_clean``), one whose corpus grew past 16 KB so libFuzzer printed ``Kb`` sizes
(``run_large_corpus``), one with two instrumented modules (``run_two_modules``), an atheris run
driving a native core through cffi (``py_run_clean``), and runs that found a crash.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lab.fuzz.progress import (
    Loaded,
    SeedCorpus,
    Status,
    parse_final_stat,
    parse_loaded,
    parse_loaded_counters,
    parse_seed_corpus,
    parse_status,
    size_bytes,
)

REPORTS = Path(__file__).parent / "reports"
LOGS = ("run_clean", "run_large_corpus", "run_two_modules", "py_run_clean", "run_found_uaf",
        "py_run_found_mismatch")
STATUS_LINE = re.compile(r"^#\d+\t")


def lines(name: str) -> list[str]:
    return (REPORTS / f"{name}.txt").read_text().splitlines()


def line_of(name: str, prefix: str) -> str:
    """The fixture line starting with ``prefix`` (so the tested text is the captured one)."""
    return next(line for line in lines(name) if line.startswith(prefix))


def test_inited_pulse_and_done_lines() -> None:
    assert parse_status(line_of("run_clean", "#4\t")) == Status(
        execs=4, event="INITED", cov=10, ft=15, corpus_units=3, corpus_bytes=14, exec_per_s=0,
        rss_mb=31,
    )
    assert parse_status(line_of("run_clean", "#2097152\t")) == Status(
        execs=2097152, event="pulse", cov=14, ft=36, corpus_units=23, corpus_bytes=76,
        exec_per_s=1048576, rss_mb=138,
    )
    assert parse_status(line_of("run_clean", "#5895431\t")) == Status(
        execs=5895431, event="DONE", cov=14, ft=36, corpus_units=23, corpus_bytes=76,
        exec_per_s=982571, rss_mb=331,
    )


def test_new_and_reduce_lines_with_dictionary_entries() -> None:
    new = line_of("py_run_clean", "#364\t")
    assert new.endswith('MS: 2 ShuffleBytes-CMP- DE: "LAB!"-')
    assert parse_status(new) == Status(364, "NEW", 19, 45, 21, 53, 0, 62)
    reduce = parse_status(line_of("py_run_clean", "#1529\t"))
    assert (reduce.event, reduce.cov, reduce.ft, reduce.corpus_units) == ("REDUCE", 20, 58, 32)


def test_corpus_sizes_in_kilobytes() -> None:
    inited = parse_status(line_of("run_large_corpus", "#3\t"))
    assert (inited.corpus_units, inited.corpus_bytes) == (2, 19 * 1024)
    done = parse_status(line_of("run_large_corpus", "#400\t"))
    assert (done.corpus_units, done.corpus_bytes) == (36, 201 * 1024)


def test_documented_size_units() -> None:
    # libFuzzer switches to Mb past 16 MB of corpus; the line format is the same
    status = parse_status("#70000\tNEW    cov: 9 ft: 9 corp: 3/2Mb lim: 4096 exec/s: 5 rss: 90Mb")
    assert status.corpus_bytes == 2 * 1024 * 1024
    assert size_bytes("25", "b") == 25
    assert size_bytes("10", "Kb") == 10240


@pytest.mark.parametrize("name", LOGS)
def test_every_status_line_of_a_run_parses_and_nothing_else_does(name: str) -> None:
    log = lines(name)
    statuses = [parse_status(line) for line in log if STATUS_LINE.match(line)]
    assert statuses and all(status is not None for status in statuses)
    assert [parse_status(line) for line in log if not STATUS_LINE.match(line)] == [None] * (
        len(log) - len(statuses)
    )
    execs = [status.execs for status in statuses]
    assert execs == sorted(execs)
    assert statuses[0].event == "INITED"
    assert all(status.cov is not None and status.rss_mb is not None for status in statuses)


def test_events_seen_in_a_long_run() -> None:
    events = {status.event for status in map(parse_status, lines("run_clean")) if status}
    assert events == {"INITED", "NEW", "REDUCE", "pulse", "DONE"}


def test_loaded_counters() -> None:
    assert parse_loaded_counters(line_of("run_clean", "INFO: Loaded 1 modules")) == 17
    assert parse_loaded_counters(line_of("py_run_clean", "INFO: Loaded 1 modules")) == 14
    two = line_of("run_two_modules", "INFO: Loaded 2 modules")
    assert parse_loaded(two) == Loaded(modules=2, counters=15, per_module=(14, 1))
    assert parse_loaded_counters(two) == 15
    assert parse_loaded_counters(line_of("run_two_modules", "INFO: Loaded 2 PC tables")) is None


def test_loaded_lines_are_collected_one_per_line() -> None:
    counters = [c for c in map(parse_loaded_counters, lines("run_found_uaf")) if c is not None]
    assert counters == [38]


def test_final_stats() -> None:
    stats = dict(s for s in map(parse_final_stat, lines("run_clean")) if s is not None)
    assert stats == {
        "number_of_executed_units": 5895431,
        "average_exec_per_sec": 982571,
        "new_units_added": 51,
        "slowest_unit_time_sec": 0,
        "peak_rss_mb": 331,
    }
    assert parse_final_stat("stat::peak_rss_mb: 40") == ("peak_rss_mb", 40)


def test_seed_corpus() -> None:
    assert parse_seed_corpus(line_of("run_clean", "INFO: seed corpus")) == SeedCorpus(
        files=3, min_bytes=3, max_bytes=10, total_bytes=18, rss_mb=30
    )
    large = parse_seed_corpus(line_of("run_large_corpus", "INFO: seed corpus"))
    assert (large.files, large.max_bytes, large.total_bytes) == (2, 20000, 20004)


@pytest.mark.parametrize(
    "line",
    ["", "#", "#12", "#12\tNEW", "#12\tNEW foo: 1", "    #0 0x55 in toy_parse demo.c:1:2",
     "###### Recommended dictionary. ######", "INFO: Loaded 1 modules", "stat::x: y",
     "Done 200000 runs in 0 second(s)", "\x00\xff", "#1\tNEW cov: ft: corp: /b"],
)
def test_other_lines_give_none(line: str) -> None:
    assert parse_status(line) is None
    assert parse_loaded_counters(line) is None
    assert parse_final_stat(line) is None
    assert parse_seed_corpus(line) is None


def test_trailing_newline_is_accepted() -> None:
    line = line_of("run_clean", "#4\t")
    assert parse_status(line + "\n") == parse_status(line)

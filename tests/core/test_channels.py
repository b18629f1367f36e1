"""Measurement channels of `lab bench` on the toy system: perf counters (--counters), memory
(--memory) and deterministic instruction counts under callgrind (--metric instructions);
every figure marked with its channel, comparisons never across channels."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import lab
from lab.bench.channels import RESERVED
from lab.model import validate_system
from lab.perfevents import HARDWARE, SOFTWARE


def _bench(run_lab, *flags: str, env: dict | None = None) -> dict:
    res = run_lab("bench", "toy", "--quick", "--json", "--no-report", *flags,
                  env=env)
    assert res.code == 0, res.err
    return res.json()


def _rows(doc: dict, metric: str, status: str = "ok") -> list[dict]:
    return [r for r in doc["results"] if r["metric"] == metric and r["status"] == status]


def test_counters_add_software_events_and_say_which_hardware_events_are_missing(
        run_lab) -> None:
    doc = _bench(run_lab, "--counters")
    impls = {"fast", "slow", "fast-again"}
    task = _rows(doc, "task_clock")
    assert {r["impl"] for r in task} == impls
    assert all(r["channel"] == "counters" and r["unit"] == "ns/call" for r in task)
    by_impl = {r["impl"]: r["median"] for r in task}
    assert 0 < by_impl["fast"] < by_impl["slow"]  # three passes cost more CPU time per call
    for event in SOFTWARE[1:]:
        assert {r["impl"] for r in _rows(doc, event)} == impls
    for event in HARDWARE:
        measured = _rows(doc, event)
        missing = [r for r in _rows(doc, event, "skipped") if r["impl"] in impls]
        # a hardware event is either counted (non-zero) or said to be missing, never a zero
        assert len(measured) + len(missing) >= len(impls), event
        assert all(r["median"] > 0 for r in measured), event
        assert all("not supported" in r["note"] or "not permitted" in r["note"]
                   for r in missing), missing
    counters = [c for c in doc["comparisons"] if c["metric"] == "task_clock"]
    assert counters and all(c["channel"] == "counters" for c in counters)
    assert {r["channel"] for r in _rows(doc, "rate")} == {"wall"}
    assert {r["channel"] for r in _rows(doc, "checksum")} == {"measured"}


def test_memory_channel_counts_the_cores_allocations_and_peak_rss(run_lab, lab_env,
                                                                  tmp_path: Path) -> None:
    mark = tmp_path / "child-env"
    doc = _bench(run_lab, "--memory", env={"TOY_CHILD_ENV_MARK": str(mark)})
    # the counter is preloaded in the measuring process only: a server it starts (redis with
    # its own allocator) must not inherit it
    lines = mark.read_text().splitlines()
    assert lines and all("lab_alloc" not in line for line in lines), lines
    peak = _rows(doc, "peak_rss")
    assert peak and all(r["channel"] == "memory" and r["median"] > 1 << 20 for r in peak)
    allocs = _rows(doc, "allocs")
    # the toy core sums in place: zero allocations per call, counted (not missing)
    assert {r["impl"] for r in allocs} == {"fast", "slow", "fast-again"}
    assert all(r["median"] == 0 for r in allocs)
    conn = sqlite3.connect(lab_env["LAB_STORE"])
    channels = dict(conn.execute("SELECT metric, channel FROM samples GROUP BY metric"))
    assert channels["peak_rss"] == "memory" and channels["rate"] == "wall"
    assert channels["checksum"] == "measured"


@pytest.mark.slow
def test_instruction_channel_is_deterministic_and_keeps_a_per_function_profile(
        run_lab, lab_env) -> None:
    mark = Path(lab_env["LAB_STORE"]).parent / "timed-env"
    first = _bench(run_lab, "--metric", "instructions", env={"TOY_TIMED_ENV_MARK": str(mark)})
    # counted in one thread (a pool's spinning depends on scheduling), hashes seeded alike
    seen = set(mark.read_text().splitlines())
    assert seen == {"LAB_THREADS=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 PYTHONHASHSEED=0"}
    second = _bench(run_lab, "--metric", "instructions")
    assert not _rows(first, "rate") and not _rows(first, "task_clock")  # one channel only
    counts = {}
    for doc in (first, second):
        rows = _rows(doc, "vg_instructions")
        assert {r["impl"] for r in rows} == {"fast", "slow", "fast-again"}
        assert all(r["channel"] == "instructions" and r["n"] == 3 for r in rows), [
            (r["channel"], r["n"]) for r in rows]
        counts[doc["run_id"]] = {r["impl"]: r["median"] for r in rows}
    a, b = counts.values()
    for impl in a:
        assert abs(a[impl] - b[impl]) / a[impl] < 0.001, (impl, a[impl], b[impl])
    assert a["slow"] > 1.5 * a["fast"]  # three passes
    cmp = {c["impl"]: c for c in first["comparisons"] if c["metric"] == "vg_instructions"}
    assert cmp["slow"]["verdict"] == "worse" and cmp["slow"]["channel"] == "instructions"
    assert cmp["fast-again"]["verdict"] == "same"
    from lab.store import open_store

    store = open_store()
    profiles = store.profiles(first["run_id"])
    store.close()
    assert {p["impl"] for p in profiles} == {"fast", "slow", "fast-again"}
    slow = next(p for p in profiles if p["impl"] == "slow")
    assert slow["source"] == "callgrind" and slow["unit"] == "instructions"
    toy_sum = next(v for k, v in slow["functions"].items() if k.startswith("toy_sum "))
    assert toy_sum[0] >= 3 * 4000  # three passes over 4000 numbers, an instruction each at least


def _path_without(tmp_path: Path, tool: str) -> str:
    """A PATH with every command of /usr/bin but ``tool``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for exe in Path("/usr/bin").iterdir():
        if not exe.name.startswith(tool):
            (bin_dir / exe.name).symlink_to(exe)
    return str(bin_dir)


def test_instruction_channel_without_valgrind_still_runs_the_benchmark(
        run_lab, tmp_path: Path) -> None:
    res = run_lab("bench", "toy", "--quick", "--metric", "instructions", "--counters")
    assert res.code == 2 and "cannot be combined with --counters" in res.err
    res = run_lab("bench", "toy", "--quick", "--metric", "instructions", "--json",
                  "--no-report", env={"PATH": _path_without(tmp_path, "valgrind")})
    assert res.code == 0, res.err
    assert "valgrind" in res.err and "apt-get install valgrind" in res.err
    assert "measuring wall time instead" in res.err and "Traceback" not in res.err
    doc = res.json()
    assert _rows(doc, "rate") and not _rows(doc, "vg_instructions")


def test_memory_channel_under_a_sanitizer_flavor_measures_rss_only(run_lab) -> None:
    res = run_lab("bench", "toy", "--quick", "--memory", "--flavor", "debug", "--impl", "slow",
                  "--json", "--no-report")
    assert res.code == 0, res.err
    assert "cannot count allocations under AddressSanitizer" in res.err
    doc = res.json()
    assert _rows(doc, "peak_rss") and not _rows(doc, "allocs")
    notes = [r["note"] for r in _rows(doc, "allocs", "skipped") if r["impl"] == "slow"]
    assert notes and "allocation counter is not loaded" in notes[0]


def test_workloads_may_not_take_the_channels_metric_names() -> None:
    w = lab.Workload("w", "d", {"n": (1,)}, prepare=lambda p: None,
                     measure=lambda o, s, p: {}, measured=(lab.Metric("task_clock", "ns"),))
    s = lab.System("s", "lib", "d", (lab.Impl("a", "a", load=lambda c: None),), (w,), "a")
    problems = validate_system(s)
    assert any("'task_clock' is reserved for the lab's counters channel" in p
               for p in problems), problems
    assert RESERVED["vg_instructions"] == "instructions" and RESERVED["peak_rss"] == "memory"


def test_summary_keeps_the_reason_a_workload_has_no_instruction_figures() -> None:
    from lab.bench.summary import summarize
    from lab.store.base import Sample

    server = lab.Workload("server", "d", {"n": (1,)}, prepare=lambda p: None,
                          measure=lambda o, s, p: {}, measured=(lab.Metric("ops", "ops/s"),))
    s = lab.System("s", "server", "d", (lab.Impl("a", "a", load=lambda c: None),), (server,),
                   "a")
    note = {"impl": "a", "workload": "server", "params": {"n": 1}, "status": "skipped",
            "note": "skipped: the instruction channel counts in-process work only"}
    results, _ = summarize(s, [], [note], channels=("instructions",))
    assert {r["metric"] for r in results} >= {"vg_instructions"}
    assert all(r["status"] == "skipped" and r["channel"] == "instructions" for r in results)
    # a metric measured in one repetition and missing in another keeps its figure only
    sample = Sample("a", "server", {"n": 1}, "server_task_clock", 0, 5.0, channel="counters")
    missing = dict(note, metric="server_task_clock", note="server_task_clock: not counted")
    results, _ = summarize(s, [sample], [missing], channels=("wall", "measured", "counters"))
    rows = [r for r in results if r["metric"] == "server_task_clock"]
    assert [(r["status"], r["median"]) for r in rows] == [("ok", 5.0)]

"""lab.perfevents: the perf_event_open binding counts a known loop (task clock always,
instructions where the machine has them), reports unsupported events as such and never as
zero, attaches to a child process, and refuses unknown event names."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from lab import perfevents as pe


def _loop(n: int) -> int:
    total = 0
    for i in range(n):
        total += i
    return total


def test_task_clock_follows_the_work_done() -> None:
    _, small = pe.count(lambda: _loop(200_000), ("task_clock",))
    start = time.thread_time()
    _, big = pe.count(lambda: _loop(2_000_000), ("task_clock",))
    cpu_ns = (time.thread_time() - start) * 1e9
    assert small["task_clock"].status == "ok" and big["task_clock"].unit == "ns"
    assert big["task_clock"].value > 4 * small["task_clock"].value
    assert 0.5 * cpu_ns < big["task_clock"].value < 1.5 * cpu_ns


def test_hardware_events_count_or_say_not_supported() -> None:
    _, small = pe.count(lambda: _loop(100_000), pe.HARDWARE)
    _, big = pe.count(lambda: _loop(1_000_000), pe.HARDWARE)
    for name in pe.HARDWARE:
        r = big[name]
        assert r.status in ("ok", "not supported", "not permitted"), r
        if r.status != "ok":
            assert r.value is None and "not" in str(r)       # never a zero
    if big["instructions"].status == "ok":
        ratio = big["instructions"].value / small["instructions"].value
        assert 5 < ratio < 15, ratio                         # ten times the loop


def test_context_switches_of_a_sleep() -> None:
    _, readings = pe.count(lambda: time.sleep(0.02), ("context_switches", "page_faults"))
    assert readings["context_switches"].value >= 1
    assert readings["page_faults"].status == "ok"


def test_attach_to_a_child_process() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.readline(); "
         "sum(i for i in range(3_000_000))"], stdin=subprocess.PIPE, text=True)
    counters = pe.Counters(("task_clock",), pid=child.pid)
    try:
        counters.start()
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.wait(timeout=60) == 0
        counters.stop()
        ns = counters.read()["task_clock"].value
    finally:
        counters.close()
    assert ns is not None and ns > 10e6                      # at least 10 ms of its CPU


def test_unknown_event_and_missing_process() -> None:
    with pytest.raises(ValueError, match="unknown event 'cycels'; valid: task_clock"):
        pe.Counters(("cycels",))
    gone = subprocess.Popen(["true"])
    gone.wait()
    with pytest.raises(ProcessLookupError, match=f"no process {gone.pid}"):
        pe.Counters(("task_clock",), pid=gone.pid)

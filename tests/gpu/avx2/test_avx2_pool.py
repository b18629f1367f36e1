"""The AVX2 library's persistent thread pool (targets/gpu/avx2/parallel.c): many back-to-back
parallel calls, calls from several Python threads at once (the C code runs with the GIL
released, so they really overlap) and calls in a fork()ed child all give exact results, with
more parts than CPUs too (threads=5). Inputs are past every operation's per-thread grain, so
each call is split into parts; sums are of small integers, hence exact in double."""

from __future__ import annotations

import json
import os
import threading
import time

import numpy as np
import pytest

from labtest import SANITIZED
from plugins.gpu import api

N = (1 << 20) + 3  # reduce/scan/copy split at 2^18 per part, histogram at 2^17
ROUNDS = 10 if SANITIZED else 100
NBINS = 7


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20240612)
    return {"floats": rng.integers(-1000, 1000, N).astype(np.float32),
            "keys": rng.integers(0, 1 << 32, N, dtype=np.uint32)}


def _mismatches(b, data: dict[str, np.ndarray], rounds: int) -> list[str]:  # noqa: ANN001
    """Run every split operation `rounds` times on backend b; what came out wrong."""
    floats, keys = data["floats"], data["keys"]
    x, k = b.to_device(floats), b.to_device(keys)
    want_sum = float(np.sum(floats, dtype=np.float64))
    want_scan = api.reference("scan", keys, True)
    want_hist = api.reference("histogram", keys, NBINS)
    bad = []
    for i in range(rounds):
        checks = {
            "sum": b.reduce(x, "sum") == want_sum,
            "max": b.reduce(x, "max") == floats.max(),
            "copy": np.array_equal(b.copy(x), floats),
            "scan": np.array_equal(b.scan(k, True), want_scan),
            "histogram": np.array_equal(b.histogram(k, NBINS), want_hist),
        }
        bad += [f"threads={b.threads} round {i}: {name}" for name, ok in checks.items() if not ok]
    return bad


def test_back_to_back_calls_are_exact(avx2, backends, data) -> None:
    """threads=0 (a part per CPU) and threads=5 (more parts than workers: the caller and the
    workers claim the rest dynamically), many calls in a row on the same workers."""
    for b in (avx2, backends[5], backends[2]):
        assert _mismatches(b, data, ROUNDS) == []


def test_concurrent_python_threads_get_exact_results(avx2_module, data) -> None:
    """Four Python threads call the library at once with threads 0, 1, 2 and 5; jobs run one
    after another on the pool (or inline for threads=1), none mixes up another's parts."""
    from plugins.gpu.avx2 import Avx2

    start = threading.Barrier(4)
    found: dict[int, list[str]] = {}

    def run(threads: int) -> None:
        b = Avx2(avx2_module.ffi, avx2_module.lib, threads=threads)  # own result pool
        start.wait(timeout=60)
        found[threads] = _mismatches(b, data, ROUNDS // 2)

    workers = [threading.Thread(target=run, args=(t,), daemon=True) for t in (0, 1, 2, 5)]
    for w in workers:
        w.start()
    deadline = time.monotonic() + 120
    for w in workers:
        w.join(timeout=max(0.0, deadline - time.monotonic()))
    assert not any(w.is_alive() for w in workers), "a call never returned"
    assert found == {0: [], 1: [], 2: [], 5: []}


def _in_child(work) -> tuple[int, object]:  # noqa: ANN001
    """Run work() in a fork()ed child; its exit code and JSON result. Fails the test when
    the child does not return within a minute (a lock inherited in the held state)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report and leave without running pytest's teardown
        code = 1
        try:
            os.write(write_end, json.dumps(work()).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    deadline = time.monotonic() + 60
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.005)
    if done[0] == 0:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(read_end)
        pytest.fail("the forked child hung in the pool")
    with os.fdopen(read_end) as f:
        return os.waitstatus_to_exitcode(done[1]), json.loads(f.read() or "null")


def test_forked_child_gets_a_working_pool(avx2, data) -> None:
    """After the parent's workers exist, a fork()ed child (which has none of them) still
    splits its calls and gets the exact results."""
    floats = data["floats"]
    x = avx2.to_device(floats)
    want = float(np.sum(floats, dtype=np.float64))
    assert avx2.reduce(x, "sum") == want  # the workers are up
    code, got = _in_child(lambda: [avx2.reduce(x, "sum") for _ in range(20)])
    assert code == 0 and got == [want] * 20


def test_fork_while_another_thread_runs_jobs(avx2_module, data) -> None:
    """fork() waits for the job in flight (pthread_atfork), so the child never inherits a
    held pool lock or a half-published job."""
    from plugins.gpu.avx2 import Avx2

    floats = np.tile(data["floats"], 16)  # 2^24 floats: each job holds the pool ~1 ms
    want = float(np.sum(floats, dtype=np.float64))
    b = Avx2(avx2_module.ffi, avx2_module.lib, threads=0)
    x = b.to_device(floats)
    stop, sums = threading.Event(), []

    def busy() -> None:
        while not stop.is_set():
            sums.append(b.reduce(x, "sum"))

    thread = threading.Thread(target=busy, daemon=True)
    thread.start()
    try:
        for _ in range(10):
            time.sleep(0.002)
            assert _in_child(lambda: b.reduce(x, "sum")) == (0, want)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert sums and set(sums) == {want}

"""Bad input: every case raises a one-line GpuError naming what was wrong and what is valid,
before anything is enqueued (the timeline does not grow) and without allocating: empty and
0-D arrays, wrong types, dtypes and ranks, misaligned and out-of-range views, mismatched
GEMM shapes, nbins and op out of range, foreign or released arrays, a closed driver, and
requests over the device's largest allocation or the memory left."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from plugins.gpu.api import GpuError
from plugins.gpu.cl import Driver, KernelBuildError
from plugins.gpu.cl import program as programs


@pytest.fixture(scope="module")
def arrays(driver: Driver) -> dict:
    d = driver
    return {
        "f": d.to_device(np.arange(100, dtype=np.float32)),
        "u": d.to_device(np.arange(100, dtype=np.uint32)),
        "m": d.to_device(np.ones((10, 10), dtype=np.float32)),
        "m2": d.to_device(np.ones((7, 3), dtype=np.float32)),
        "b": d.to_device(np.zeros(64, dtype=np.uint8)),
    }


def expect_refused(d: Driver, call: Callable[[], object], match: str) -> None:
    recorded, live = d.queues.recorded, d.stats()
    with pytest.raises(GpuError, match=match) as exc:
        call()
    assert "\n" not in str(exc.value)
    assert d.queues.recorded == recorded, "nothing may be enqueued"
    after = d.stats()
    assert (after.allocations, after.bytes_live) == (live.allocations, live.bytes_live)


CASES: list[tuple[str, Callable[[Driver, dict], object], str]] = [
    ("empty upload", lambda d, a: d.to_device(np.zeros(0, np.float32)), r"sizes must be >= 1"),
    ("empty 2-D upload", lambda d, a: d.to_device(np.zeros((3, 0), np.float32)),
     r"shape \(3, 0\).*>= 1"),
    ("0-D upload", lambda d, a: d.to_device(np.array(1.0, dtype=np.float32)),
     r"0-D.*at least 1 dimension"),
    ("list upload", lambda d, a: d.to_device([1.0, 2.0]), r"expected a NumPy array, got list"),
    ("object dtype", lambda d, a: d.to_device(np.array(["a"], dtype=object)),
     r"not numeric"),
    ("numpy to op", lambda d, a: d.reduce(np.ones(4, np.float32), "sum"),
     r"x must be a DeviceArray.*got ndarray"),
    ("reduce dtype", lambda d, a: d.reduce(a["u"], "sum"),
     r"x has dtype uint32, expected float32"),
    ("reduce rank", lambda d, a: d.reduce(a["m"], "max"), r"shape \(10, 10\).*expected a 1-D"),
    ("reduce op", lambda d, a: d.reduce(a["f"], "mean"), r"op='mean'.*sum, min, max"),
    ("scan dtype", lambda d, a: d.scan(a["f"], False), r"expected uint32"),
    ("scan rank", lambda d, a: d.scan(d.view(a["u"], 0, 100, shape=(10, 10)), False),
     r"expected a 1-D"),
    ("scan flag", lambda d, a: d.scan(a["u"], "yes"), r"inclusive='yes'.*True or False"),
    ("nbins 0", lambda d, a: d.histogram(a["u"], 0), r"nbins=0.*1\.\.65536"),
    ("nbins big", lambda d, a: d.histogram(a["u"], 65537), r"nbins=65537.*1\.\.65536"),
    ("nbins float", lambda d, a: d.histogram(a["u"], 2.0), r"nbins=2\.0.*integer"),
    ("nbins bool", lambda d, a: d.histogram(a["u"], True), r"nbins=True"),
    ("histogram dtype", lambda d, a: d.histogram(a["f"], 10), r"keys has dtype float32"),
    ("transpose rank", lambda d, a: d.transpose(a["f"]), r"expected a 2-D"),
    ("transpose dtype", lambda d, a: d.transpose(d.view(a["u"], 0, 100, shape=(10, 10))),
     r"expected float32"),
    ("gemm mismatch", lambda d, a: d.sgemm(a["m"], a["m2"]),
     r"\(10, 10\) @ \(7, 3\) do not match; a's columns \(10\) must equal b's rows \(7\)"),
    ("gemm rank", lambda d, a: d.sgemm(a["f"], a["m"]), r"a has shape \(100,\)"),
    ("copy type", lambda d, a: d.copy("x"), r"must be a DeviceArray"),
    ("view misaligned", lambda d, a: d.view(a["f"], 2, 10),
     r"offset_bytes=2 must be a non-negative multiple of the element size 4"),
    ("view negative", lambda d, a: d.view(a["f"], -4, 10), r"offset_bytes=-4"),
    ("view past end", lambda d, a: d.view(a["f"], 4 * 95, 10),
     r"end at byte 420, past the array's 400 bytes"),
    ("view count 0", lambda d, a: d.view(a["f"], 0, 0), r"count=0"),
    ("view shape", lambda d, a: d.view(a["f"], 0, 10, shape=(3, 3)),
     r"shape \(3, 3\) has 9 elements, expected count=10"),
    ("view float offset", lambda d, a: d.view(a["f"], 4.0, 10), r"must be an integer"),
    ("empty shape", lambda d, a: d.empty((0,)), r"sizes must be >= 1"),
    ("too many elements", lambda d, a: d.empty((1 << 16, 1 << 16)), r"at most 2\^31"),
    ("queue", lambda d, a: d.scan(a["u"], queue=7), r"queue=7: expected an index"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_refused(driver: Driver, arrays: dict, case: tuple) -> None:
    _, call, match = case
    expect_refused(driver, lambda: call(driver, arrays), match)


def test_larger_than_largest_allocation(driver: Driver) -> None:
    max_alloc = driver.info["max_alloc_bytes"]
    n = max_alloc // 16 + 1
    if n > 1 << 31:
        pytest.skip("this device's largest allocation is beyond 2^31 complex128 elements")
    expect_refused(driver, lambda: driver.empty((n,), np.complex128),
                   r"more than the device's largest allocation")


def test_gemm_output_too_large(driver: Driver) -> None:
    side = int((driver.info["max_alloc_bytes"] // 4) ** 0.5) + 2  # side^2 floats > max alloc
    if side * side > 1 << 31:
        pytest.skip("this device allocates more than 2^31 floats at once")
    a = driver.to_device(np.ones((side, 1), np.float32))
    b = driver.to_device(np.ones((1, side), np.float32))
    expect_refused(driver, lambda: driver.sgemm(a, b), r"sgemm output needs \d+ bytes")


def test_more_than_memory_left(driver: Driver) -> None:
    with Driver(driver.device, memory_limit_bytes=1 << 20) as small:
        x = small.to_device(np.ones(100_000, np.float32))  # about 400 KB of 1 MiB
        expect_refused(small, lambda: small.to_device(np.ones(200_000, np.float32)),
                       r"to_device output needs \d+ bytes but only \d+ of the device's "
                       r"1048576 bytes are left")
        y = small.copy(x)  # fits
        expect_refused(small, lambda: small.copy(x), r"copy output needs")
        y.release()
        small.copy(x).release()  # fits again once released


def test_temporaries_count_too(driver: Driver) -> None:
    """reduce needs a result and a partials buffer: with room for only one, it is refused
    before either is taken."""
    n = 100_000
    probe = Driver(driver.device, queues=1)
    room = probe.pool.size_class(4 * n) + probe.pool.size_class(4)
    probe.close()
    with Driver(driver.device, queues=1, memory_limit_bytes=room) as small:
        x = small.to_device(np.ones(n, np.float32))
        expect_refused(small, lambda: small.reduce(x, "sum"),
                       r"reduce \(output and temporaries\) needs \d+ bytes but only")


def test_foreign_released_and_closed(driver: Driver) -> None:
    other = Driver(driver.device, queues=1)
    foreign = other.to_device(np.ones(10, np.float32))
    expect_refused(driver, lambda: driver.copy(foreign), r"belongs to another Driver")
    gone = driver.to_device(np.ones(10, np.float32))
    gone.release()
    expect_refused(driver, lambda: driver.reduce(gone, "sum"), r"x was released")
    other.close()
    with pytest.raises(GpuError, match="Driver is closed"):
        other.copy(foreign)
    other.close()  # idempotent
    foreign.release()  # after close: frees its buffer, no error


def test_build_failure_carries_the_log(driver: Driver) -> None:
    with pytest.raises(KernelBuildError, match=r"sgemm\.cl.*failed") as exc:
        programs.build(driver.context, driver.device, "sgemm.cl", {"BOGUS": 1})
    assert "needs -D TSM" in str(exc.value)  # the #error from the build log
    with pytest.raises(KernelBuildError, match="not found"):
        programs.build(driver.context, driver.device, "nonexistent.cl", {})

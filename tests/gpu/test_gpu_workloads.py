"""The gpu workloads: shapes, bytes counted per element, the copy ceiling every memory-bound
workload is shown against, which reference offers what, and the correctness check that
keeps a wrong answer from ever being timed."""

from __future__ import annotations

import numpy as np
import pytest

from lab.model import validate_system
from plugins.gpu import SYSTEM
from plugins.gpu.references import Numpy
from plugins.gpu.workloads import BYTES, matrix_shape

WL = {w.name: w for w in SYSTEM.workloads}


def test_the_system_is_valid_and_every_memory_bound_workload_is_bounded_by_copy() -> None:
    assert validate_system(SYSTEM) == []
    for name in ("reduce", "scan", "histogram", "transpose"):
        assert WL[name].limit is not None and WL[name].limit.workload == "copy"
        assert WL[name].combos("default")[0]["elements"] == 1 << 10
    assert WL["copy"].limit is None and WL["gemm"].limit is None
    assert WL["gemm"].baseline == "clblast"
    sizes = set(WL["reduce"].params["elements"])
    assert min(sizes) == 1 << 10 and max(sizes) == 1 << 28
    assert all(set(WL[n].params["elements"]) == sizes for n in BYTES)


@pytest.mark.parametrize(("size", "shape"), [(1 << 10, (32, 32)), (1 << 11, (32, 64)),
                                             (1 << 28, (16384, 16384)), (1, (1, 1))])
def test_matrix_shapes_are_near_square(size: int, shape: tuple[int, int]) -> None:
    assert matrix_shape(size) == shape


@pytest.mark.parametrize(("workload", "per"), sorted(BYTES.items()))
def test_bandwidth_counts_the_bytes_each_operation_moves(workload: str, per: int) -> None:
    (metric,) = WL[workload].metrics
    assert metric.metric.unit == "GB/s"
    assert metric.convert(0.5, {"elements": 1 << 20}) == pytest.approx((1 << 20) * per / 0.5 / 1e9)


def test_gemm_counts_two_n_cubed_flops() -> None:
    (metric,) = WL["gemm"].metrics
    assert metric.metric.unit == "GFLOP/s"
    assert metric.convert(2.0, {"n": 1000}) == pytest.approx(1.0)


@pytest.mark.parametrize(("impl", "params", "reason"), [
    ("pyopencl", {"elements": 1024, "bins": 256}, "pyopencl offers no histogram (copy, max, min, "
                                              "scan, sum only)"),
    ("clblast", {"elements": 1024, "op": "max"}, "clblast offers no max (copy, sgemm, sum, "
                                             "transpose only)"),
    ("clblast", {"elements": 1024, "op": "sum"}, None),
    ("opencl", {"elements": 1024, "bins": 256}, None),
])
def test_references_run_only_what_their_library_offers(impl: str, params: dict,
                                                        reason: str | None) -> None:
    workload = WL["histogram"] if "bins" in params else WL["reduce"]
    assert workload.supports(impl, params) == reason


@pytest.mark.parametrize("name", sorted(WL))
def test_every_workload_times_numpy_after_checking_its_answer(name: str) -> None:
    params = WL[name].combos("quick")[0]
    state = WL[name].prepare(params)
    call = WL[name].timed(Numpy(), state, params)
    call()
    again = WL[name].prepare(params)  # deterministic inputs
    assert all(np.array_equal(state[k], again[k]) for k in state)


class _Wrong(Numpy):
    """Off by a little in every operation."""

    def reduce(self, x: np.ndarray, op: str) -> float:
        return super().reduce(x, op) + (1.0 if op == "sum" else 1e-6)

    def scan(self, x: np.ndarray, inclusive: bool) -> np.ndarray:
        out = super().scan(x, inclusive)
        out[-1] += np.uint32(1)
        return out

    def sgemm(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        out = super().sgemm(a, b)
        out[0, 0] += 1e-2
        return out


@pytest.mark.parametrize(("name", "params"), [
    ("reduce", {"elements": 1024, "op": "sum"}), ("reduce", {"elements": 1024, "op": "max"}),
    ("scan", {"elements": 1024, "kind": "inclusive"}), ("gemm", {"n": 64}),
])
def test_a_wrong_answer_fails_the_row_instead_of_being_timed(name: str, params: dict) -> None:
    state = WL[name].prepare(params)
    with pytest.raises(AssertionError, match="wrong at 0 of 1|wrong at"):
        WL[name].timed(_Wrong(), state, params)


@pytest.mark.parametrize(("value", "threads"), [(None, 0), ("", 0), ("1", 1), (" 3 ", 3)])
def test_lab_threads_sets_the_avx2_pool_size(monkeypatch: pytest.MonkeyPatch,
                                             value: str | None, threads: int) -> None:
    """The instruction channel sets LAB_THREADS=1 so counts do not depend on scheduling."""
    from plugins import gpu

    if value is None:
        monkeypatch.delenv("LAB_THREADS", raising=False)
    else:
        monkeypatch.setenv("LAB_THREADS", value)
    assert gpu.threads() == threads


def test_a_bad_lab_threads_is_one_line_naming_what_is_valid(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from plugins import gpu
    from plugins.gpu.api import GpuError

    monkeypatch.setenv("LAB_THREADS", "many")
    with pytest.raises(GpuError, match=r"^LAB_THREADS must be a thread count \(0: every "
                                       r"online CPU\), got 'many'$"):
        gpu.threads()

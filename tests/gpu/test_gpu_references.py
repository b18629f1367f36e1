"""The references keep the same contract as ours: NumPy, PyOpenCL's generated kernels and
CLBlast give NumPy's float64 answers within the stated tolerances for sizes that are not
powers of two and smaller than a work-group, and refuse bad input with one line."""

from __future__ import annotations

import numpy as np
import pytest

from plugins.gpu import api
from plugins.gpu.api import OFFERS
from plugins.gpu.references import CLBlast, Numpy, PyOpenCL

SIZES = (1, 2, 7, 255, 256, 257, 4097, 65537)


@pytest.fixture(scope="module")
def backends():  # noqa: ANN201 - name -> reference backend
    import pyopencl as cl

    from plugins.gpu.requirements import opencl_problem

    assert opencl_problem() is None, "make setup installs PoCL, an OpenCL platform"
    device = cl.get_platforms()[0].get_devices()[0]
    made = {"numpy": Numpy(), "pyopencl": PyOpenCL(device), "clblast": CLBlast(device)}
    yield made
    for backend in made.values():
        backend.close()


def offering(*ops: str) -> list[str]:
    """The references that offer every one of ``ops`` (the bench skips the others, saying
    so)."""
    return [name for name, offered in OFFERS.items() if set(ops) <= offered]


@pytest.mark.parametrize(("name", "op"), [(n, op) for op in api.REDUCE_OPS
                                          for n in offering(op)])
def test_reductions_match_numpy(backends, name: str, op: str) -> None:  # noqa: ANN001
    b = backends[name]
    rng = np.random.default_rng(1)
    for n in SIZES:
        x = rng.standard_normal(n, dtype=np.float32)
        tol = api.sum_tolerance(x) if op == "sum" else 0
        assert abs(b.reduce(b.to_device(x), op) - api.reference(op, x)) <= tol, (name, n)


@pytest.mark.parametrize("inclusive", [False, True])
@pytest.mark.parametrize("name", offering("scan"))
def test_scans_wrap_and_match_numpy(backends, name: str, inclusive: bool) -> None:  # noqa: ANN001
    b = backends[name]
    rng = np.random.default_rng(2)
    for n in SIZES:
        x = rng.integers(0, 1 << 32, n, dtype=np.uint32)  # sums wrap many times
        got = b.to_host(b.scan(b.to_device(x), inclusive))
        assert np.array_equal(got, api.reference("scan", x, inclusive)), (name, n)


@pytest.mark.parametrize("name", offering("copy"))
def test_histogram_transpose_and_copy_match_numpy(backends, name: str) -> None:  # noqa: ANN001
    b = backends[name]
    rng = np.random.default_rng(3)
    for n in SIZES:
        x = rng.standard_normal(n, dtype=np.float32)
        assert np.array_equal(b.to_host(b.copy(b.to_device(x))), x)
        if "histogram" in OFFERS[name]:
            keys = rng.integers(0, 1 << 32, n, dtype=np.uint32)
            for bins in (1, 3, 256, 65536):
                got = b.to_host(b.histogram(b.to_device(keys), bins))
                assert np.array_equal(got, api.reference("histogram", keys, bins))
        if "transpose" in OFFERS[name]:
            a = rng.standard_normal((n % 61 + 1, n % 37 + 1), dtype=np.float32)
            assert np.array_equal(b.to_host(b.transpose(b.to_device(a))), a.T)


@pytest.mark.parametrize("shape", [(1, 1, 1), (33, 17, 65), (129, 70, 257)])
@pytest.mark.parametrize("name", offering("sgemm"))
def test_sgemm_within_tolerance(backends, name: str,  # noqa: ANN001
                                shape: tuple[int, int, int]) -> None:
    b = backends[name]
    m, k, n = shape
    rng = np.random.default_rng(4)
    a = rng.standard_normal((m, k), dtype=np.float32)
    bb = rng.standard_normal((k, n), dtype=np.float32)
    got = b.to_host(b.sgemm(b.to_device(a), b.to_device(bb)))
    assert got.shape == (m, n)
    assert np.all(np.abs(got - api.reference("sgemm", a, bb)) <= api.gemm_tolerance(a, bb))


def test_gemm_tolerance_catches_a_wrong_product() -> None:
    """The tolerance is tight enough to see one wrong term of the sum."""
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((64, 64)), rng.standard_normal((64, 64))
    c = a @ b
    c[3, 4] += a[3, 10] * b[10, 4] or 1.0  # counts one product twice
    assert not np.all(np.abs(c - api.reference("sgemm", a, b)) <= api.gemm_tolerance(a, b))


def test_sum_tolerance_catches_a_naive_float32_sum() -> None:
    """A running float32 sum of 2^22 values drifts past the bound; NumPy's pairwise one does
    not."""
    x = np.full(1 << 22, 0.1, dtype=np.float32)
    naive = np.cumsum(x, dtype=np.float32)[-1]
    exact = api.reference("sum", x)
    assert abs(naive - exact) > api.sum_tolerance(x)
    assert abs(float(np.sum(x)) - exact) <= api.sum_tolerance(x)


BAD = [
    ("sum", lambda b, d: b.reduce(d(np.zeros(0, np.float32)), "sum"),
     "reduce needs at least one element, got an empty array"),
    ("sum", lambda b, d: b.reduce(d(np.zeros(4, np.float64)), "sum"),
     "reduce needs a 1-D float32 array, got a 1-D float64 one"),
    ("sum", lambda b, d: b.reduce(d(np.zeros(4, np.float32)), "mean"),
     "unknown reduction 'mean': expected one of sum, min, max"),
    ("sgemm", lambda b, d: b.sgemm(d(np.zeros((2, 3), np.float32)),
                                   d(np.zeros((4, 2), np.float32))),
     "sgemm shapes do not chain: A is 2x3, B is 4x2 (A's columns must equal B's rows)"),
]


@pytest.mark.parametrize(("name", "call", "message"),
                         [(n, call, msg) for op, call, msg in BAD for n in offering(op)])
def test_bad_input_is_one_line(backends, name: str, call, message: str) -> None:  # noqa: ANN001
    b = backends[name]
    with pytest.raises(api.GpuError) as exc:
        call(b, b.to_device)
    assert str(exc.value) == message


def test_histogram_bins_are_checked() -> None:
    b = Numpy()
    for bins in (0, api.MAX_BINS + 1, 2.5):
        with pytest.raises(api.GpuError, match=r"histogram bins must be an integer in "
                                               r"1\.\.65536, got"):
            b.histogram(np.zeros(3, np.uint32), bins)

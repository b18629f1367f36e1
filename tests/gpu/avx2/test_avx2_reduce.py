"""AVX2 reduce: sum within ``api.sum_tolerance`` (in fact far tighter: double accumulation),
min/max exact, NaN inputs give NaN, and the thread count does not change min/max and moves
the sum only within the tolerance."""

from __future__ import annotations

import math

import numpy as np
import pytest

from labtest import SANITIZED
from plugins.gpu import api

SIZES = (1, 2, 7, 8, 9, 31, 32, 33, 255, 256, 257, 1000, 4097, 65537)
BIG = (1 << 20) + 3  # past the per-thread grain (2^18): four parts at most


def _data(rng: np.random.Generator, n: int) -> np.ndarray:
    return (rng.standard_normal(n) * 100 + 3).astype(np.float32)


@pytest.mark.parametrize("n", (*SIZES, BIG))
def test_reduce_matches_reference(avx2, rng, n: int) -> None:
    host = _data(rng, n)
    x = avx2.to_device(host)
    got = avx2.reduce(x, "sum")
    assert isinstance(got, float)
    assert abs(got - api.reference("sum", host)) <= api.sum_tolerance(host) * 2.0 ** -8
    assert avx2.reduce(x, "min") == api.reference("min", host)
    assert avx2.reduce(x, "max") == api.reference("max", host)


@pytest.mark.parametrize("n", (1, 9, 33, 257, 1000))
def test_min_max_find_the_extreme_anywhere(avx2, rng, n: int) -> None:
    """The extreme at the start, inside the vector loop and in the scalar tail."""
    for pos in sorted({0, n // 2, n - 1}):
        host = rng.uniform(-1, 1, n).astype(np.float32)
        host[pos] = 7.5
        assert avx2.reduce(avx2.to_device(host), "max") == 7.5
        host[pos] = -np.inf
        assert avx2.reduce(avx2.to_device(host), "min") == -np.inf


def test_sum_keeps_small_terms_next_to_a_large_one(avx2) -> None:
    """2^24 followed by a million ones: a float32 running sum never leaves 2^24."""
    host = np.ones((1 << 20) + 3, dtype=np.float32)
    host[0] = 2.0 ** 24
    assert avx2.reduce(avx2.to_device(host), "sum") == 2.0 ** 24 + (1 << 20) + 2


def test_sum_does_not_overflow_float32(avx2) -> None:
    """64 values near FLT_MAX: any float32 partial sum would be inf."""
    host = np.full(64, 3.0e38, dtype=np.float32)
    got = avx2.reduce(avx2.to_device(host), "sum")
    assert math.isfinite(got) and abs(got - api.reference("sum", host)) <= 1e30


def test_sum_cancels_exactly(avx2, rng) -> None:
    host = _data(rng, 40001)
    both = np.concatenate([host, -host[::-1]])
    assert avx2.reduce(avx2.to_device(both), "sum") == 0.0


@pytest.mark.parametrize("n", (1, 9, 33, 1000, 4097))
@pytest.mark.parametrize("op", api.REDUCE_OPS)
def test_nan_propagates(avx2, rng, n: int, op: str) -> None:
    """Documented: any NaN input makes sum, min and max NaN (as NumPy), wherever it sits."""
    for pos in sorted({0, n // 2, n - 1}):
        host = _data(rng, n)
        host[pos] = np.nan
        assert math.isnan(avx2.reduce(avx2.to_device(host), op)), (op, n, pos)


def test_infinities(avx2) -> None:
    host = np.array([1, np.inf, -3, 2] * 10, dtype=np.float32)
    assert avx2.reduce(avx2.to_device(host), "max") == np.inf
    assert avx2.reduce(avx2.to_device(host), "min") == -3
    assert avx2.reduce(avx2.to_device(host), "sum") == np.inf


@pytest.mark.parametrize("n", (1000, BIG, (1 << 21) + 17) if not SANITIZED else (1000, BIG))
def test_thread_count_changes_nothing_beyond_tolerance(backends, rng, n: int) -> None:
    host = _data(rng, n)
    tol = api.sum_tolerance(host) * 2.0 ** -8
    ref = api.reference("sum", host)
    for threads, b in backends.items():
        x = b.to_device(host)
        assert b.reduce(x, "min") == api.reference("min", host), threads
        assert b.reduce(x, "max") == api.reference("max", host), threads
        got = b.reduce(x, "sum")
        assert abs(got - ref) <= tol, threads
        assert b.reduce(x, "sum") == got, "the same call gives the same sum"


def test_accepts_plain_arrays_aligned_to_four(avx2, rng) -> None:
    """Documented: any C-contiguous float32 array aligned to 4 bytes is an operand."""
    host = _data(rng, 1001)
    view = host[1:]  # 4 bytes past NumPy's own (16-byte) alignment
    assert view.ctypes.data % 64 != 0
    assert avx2.reduce(view, "max") == api.reference("max", view)

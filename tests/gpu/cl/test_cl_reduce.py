"""reduce(x, op): sum within api.sum_tolerance, min/max exact, for sizes around and below a
work-group, non-powers of two, views at non-zero offsets, special values, on all three
drivers (the device's own tunables, GPU-style ones, tiny limits)."""

from __future__ import annotations

import numpy as np
import pytest

from plugins.gpu import api
from plugins.gpu.cl import Driver

SIZES = [1, 2, 3, 31, 255, 256, 257, 1000, 4095, 4097, 65537, (1 << 20) + 3]


def check(op: str, got: float, x: np.ndarray) -> None:
    want = api.reference(op, x)
    if op == "sum":
        assert abs(got - want) <= api.sum_tolerance(x), (op, x.size, got, want)
    else:
        assert got == want, (op, x.size, got, want)


@pytest.mark.parametrize("n", SIZES)
def test_reduce_matches_numpy(any_driver: Driver, rng: np.random.Generator, n: int) -> None:
    x = rng.standard_normal(n).astype(np.float32)
    dx = any_driver.to_device(x)
    for op in api.REDUCE_OPS:
        check(op, any_driver.reduce(dx, op), x)


def test_extremes_at_either_end(driver: Driver) -> None:
    """The min and max sit in the trailing elements (the tail of the vector loads) and at
    index 0."""
    for n in (17, 4097, 65537):
        x = np.arange(n, dtype=np.float32)
        x[-1] = -5.0
        dx = driver.to_device(x)
        assert driver.reduce(dx, "min") == -5.0
        assert driver.reduce(dx, "max") == n - 2
        x[0] = 1e9
        assert driver.reduce(driver.to_device(x), "max") == 1e9


def test_sum_accuracy_large_same_sign(driver: Driver, rng: np.random.Generator) -> None:
    """2^22 positive values: well inside the tolerance (a compensated, tree-shaped sum is
    orders of magnitude more accurate than the bound)."""
    x = (rng.random(1 << 22, dtype=np.float32) + np.float32(1000.0)).astype(np.float32)
    got = driver.reduce(driver.to_device(x), "sum")
    want = api.reference("sum", x)
    assert abs(got - want) <= api.sum_tolerance(x) / 64, (got, want)


@pytest.mark.parametrize("n", [5, 4099])
def test_special_values(any_driver: Driver, n: int) -> None:
    d = any_driver
    x = np.ones(n, dtype=np.float32)
    x[n // 2] = np.inf
    dx = d.to_device(x)
    assert d.reduce(dx, "sum") == np.inf
    assert d.reduce(dx, "max") == np.inf
    assert d.reduce(dx, "min") == 1.0
    x[n // 3] = -np.inf
    assert np.isnan(d.reduce(d.to_device(x), "sum"))
    x[n // 3] = np.nan
    dx = d.to_device(x)
    for op in api.REDUCE_OPS:
        assert np.isnan(d.reduce(dx, op)), op


@pytest.mark.parametrize("offset", [1, 3, 17])
def test_through_views(any_driver: Driver, rng: np.random.Generator, offset: int) -> None:
    base = rng.standard_normal(6000).astype(np.float32)
    db = any_driver.to_device(base)
    for count in (1, 255, 4001):
        v = any_driver.view(db, offset * 4, count)
        for op in api.REDUCE_OPS:
            check(op, any_driver.reduce(v, op), base[offset:offset + count])

"""transpose(a): exact, for 1x1, single rows and columns, shapes that are not multiples of
the tile (edges on both sides), tall and wide matrices, 2-D views at non-zero offsets, on all
three drivers (32x32 tiles with 8 rows of work-items; 32x32 with 1 row on the tiny one)."""

from __future__ import annotations

import numpy as np
import pytest

from plugins.gpu import api
from plugins.gpu.cl import Driver

SHAPES = [(1, 1), (1, 37), (37, 1), (65, 129), (1000, 3), (3, 1000), (32, 32), (33, 31),
          (256, 257), (1, 70000), (70000, 1)]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_transpose_matches_numpy(any_driver: Driver, rng: np.random.Generator,
                                 shape: tuple[int, int]) -> None:
    a = rng.standard_normal(shape).astype(np.float32)
    got = any_driver.to_host(any_driver.transpose(any_driver.to_device(a)))
    assert got.shape == shape[::-1] and got.dtype == np.float32
    np.testing.assert_array_equal(got, api.reference("transpose", a))


def test_twice_is_identity(driver: Driver, rng: np.random.Generator) -> None:
    a = rng.standard_normal((300, 77)).astype(np.float32)
    da = driver.to_device(a)
    np.testing.assert_array_equal(driver.to_host(driver.transpose(driver.transpose(da))), a)


@pytest.mark.parametrize("offset", [1, 13])
def test_through_views(any_driver: Driver, rng: np.random.Generator, offset: int) -> None:
    flat = rng.standard_normal(70 * 45 + 50).astype(np.float32)
    db = any_driver.to_device(flat)
    v = any_driver.view(db, offset * 4, 70 * 45, shape=(70, 45))
    want = flat[offset:offset + 70 * 45].reshape(70, 45).T
    np.testing.assert_array_equal(any_driver.to_host(any_driver.transpose(v)), want)

"""copy(x) (clEnqueueCopyBuffer), to_device and to_host: exact round trips for every size,
several dtypes and ranks, byte-granular views (uint8 at odd offsets), and copies that are
independent of their source."""

from __future__ import annotations

import numpy as np
import pytest

from plugins.gpu import api
from plugins.gpu.cl import DeviceArray, Driver

SIZES = [1, 2, 3, 31, 255, 256, 257, 1000, 4095, 4097, 65537, (1 << 20) + 3]


@pytest.mark.parametrize("n", SIZES)
def test_copy_matches_numpy(driver: Driver, rng: np.random.Generator, n: int) -> None:
    x = rng.standard_normal(n).astype(np.float32)
    dx = driver.to_device(x)
    c = driver.copy(dx)
    assert isinstance(c, DeviceArray) and c.shape == (n,) and c.dtype == np.float32
    assert c.buffer is not dx.buffer
    np.testing.assert_array_equal(driver.to_host(c), api.reference("copy", x))
    np.testing.assert_array_equal(driver.to_host(dx), x)


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.uint32, np.float64, np.complex64,
                                   np.bool_])
def test_dtypes_and_ranks(driver: Driver, rng: np.random.Generator, dtype: type) -> None:
    x = (rng.standard_normal((7, 11, 3)) * 100).astype(dtype)
    got = driver.to_host(driver.copy(driver.to_device(x)))
    assert got.dtype == x.dtype and got.shape == x.shape
    np.testing.assert_array_equal(got, x)


def test_non_contiguous_input_is_made_contiguous(driver: Driver) -> None:
    x = np.arange(60, dtype=np.float32).reshape(6, 10)[:, ::3]
    np.testing.assert_array_equal(driver.to_host(driver.to_device(x)), x)


@pytest.mark.parametrize("offset", [1, 3, 4, 1001])
def test_byte_views(driver: Driver, rng: np.random.Generator, offset: int) -> None:
    base = rng.integers(0, 256, 5000, dtype=np.uint8)
    db = driver.to_device(base)
    for count in (1, 7, 3000):
        v = driver.view(db, offset, count)
        np.testing.assert_array_equal(driver.to_host(v), base[offset:offset + count])
        np.testing.assert_array_equal(driver.to_host(driver.copy(v)),
                                      base[offset:offset + count])


def test_view_of_view(driver: Driver) -> None:
    base = np.arange(1000, dtype=np.uint32)
    v = driver.view(driver.view(driver.to_device(base), 40, 500), 8, 100)
    np.testing.assert_array_equal(driver.to_host(driver.copy(v)), base[12:112])


def test_copy_is_independent(driver: Driver) -> None:
    x = np.arange(4097, dtype=np.float32)
    dx = driver.to_device(x)
    c = driver.copy(dx)
    scan_input = driver.to_device(np.ones(4097, dtype=np.uint32))
    dx.release()  # the source's block goes back to the pool and may be overwritten
    driver.to_device(np.zeros(4097, dtype=np.float32))
    driver.scan(scan_input)
    np.testing.assert_array_equal(driver.to_host(c), x)

"""scan(x, inclusive): exact exclusive and inclusive prefix sums of uint32, wrapping modulo
2^32, for sizes below, at and around a work-group and a scan tile, several levels of block
sums (the tiny driver's tile is 256 elements), views at non-zero offsets, on all three
drivers."""

from __future__ import annotations

import numpy as np
import pytest

from plugins.gpu import api
from plugins.gpu.cl import Driver

SIZES = [1, 2, 3, 31, 255, 256, 257, 1000, 4095, 4097, 65537, (1 << 20) + 3]


def full_range(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 2**32, n, dtype=np.uint32)  # prefix sums wrap many times


@pytest.mark.parametrize("n", SIZES)
def test_scan_matches_numpy(any_driver: Driver, rng: np.random.Generator, n: int) -> None:
    x = full_range(rng, n)
    dx = any_driver.to_device(x)
    for inclusive in (False, True):
        got = any_driver.to_host(any_driver.scan(dx, inclusive))
        assert got.dtype == np.uint32 and got.shape == (n,)
        np.testing.assert_array_equal(got, api.reference("scan", x, inclusive))


def test_tile_boundaries(any_driver: Driver, rng: np.random.Generator) -> None:
    tile = any_driver.kernels("scan.cl")[0].scan_tile
    for n in (tile - 1, tile, tile + 1, 2 * tile + 3, tile * tile + 1):
        x = full_range(rng, n)
        got = any_driver.to_host(any_driver.scan(any_driver.to_device(x), False))
        np.testing.assert_array_equal(got, api.reference("scan", x, False), err_msg=str(n))


def test_three_levels_of_block_sums(tiny: Driver, rng: np.random.Generator) -> None:
    tile = tiny.kernels("scan.cl")[0].scan_tile
    n = tile**2 * 3 + 7  # block sums of block sums of block sums
    x = full_range(rng, n)
    got = tiny.to_host(tiny.scan(tiny.to_device(x), True))
    np.testing.assert_array_equal(got, api.reference("scan", x, True))


def test_ones_and_default_is_exclusive(driver: Driver) -> None:
    x = np.ones(70000, dtype=np.uint32)
    dx = driver.to_device(x)
    np.testing.assert_array_equal(driver.to_host(driver.scan(dx)), np.arange(70000))
    np.testing.assert_array_equal(driver.to_host(driver.scan(dx, True)), np.arange(1, 70001))


@pytest.mark.parametrize("offset", [1, 5, 1023])
def test_through_views(any_driver: Driver, rng: np.random.Generator, offset: int) -> None:
    base = full_range(rng, 80000)
    db = any_driver.to_device(base)
    for count in (1, 300, 70001):
        v = any_driver.view(db, offset * 4, count)
        for inclusive in (False, True):
            got = any_driver.to_host(any_driver.scan(v, inclusive))
            want = api.reference("scan", base[offset:offset + count], inclusive)
            np.testing.assert_array_equal(got, want)

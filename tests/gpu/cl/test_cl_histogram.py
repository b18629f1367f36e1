"""histogram(keys, nbins): exact counts of keys % nbins for power-of-two and other nbins,
nbins larger than the input, skewed keys (all in one bin), views at non-zero offsets, on all
three drivers, which between them take every path: private per-work-item sub-histograms
(the CPU driver), local atomics with several copies (gpu_like), and global atomics when the
bins do not fit in local memory (tiny, 8 KiB)."""

from __future__ import annotations

import numpy as np
import pytest

from plugins.gpu import api
from plugins.gpu.cl import Driver

SIZES = [1, 2, 3, 31, 255, 256, 257, 1000, 4095, 4097, 65537, (1 << 20) + 3]
NBINS = [1, 2, 7, 256, 1000, 4096, 65536]


def check(d: Driver, keys: np.ndarray, nbins: int, dk: object = None) -> None:
    dk = d.to_device(keys) if dk is None else dk
    got = d.to_host(d.histogram(dk, nbins))
    assert got.dtype == np.uint32 and got.shape == (nbins,)
    np.testing.assert_array_equal(got, api.reference("histogram", keys, nbins),
                                  err_msg=f"n={keys.size} nbins={nbins}")


@pytest.mark.parametrize("n", SIZES)
def test_histogram_matches_numpy(any_driver: Driver, rng: np.random.Generator, n: int) -> None:
    keys = rng.integers(0, 2**32, n, dtype=np.uint32)
    dk = any_driver.to_device(keys)
    for nbins in NBINS:
        check(any_driver, keys, nbins, dk)


def test_paths_taken(driver: Driver, gpu_like: Driver, tiny: Driver) -> None:
    """The three drivers do take the local and the global paths."""
    keys = np.arange(5000, dtype=np.uint32)
    for d, nbins, name in ((driver, 256, "histogram.local"), (gpu_like, 256, "histogram.local"),
                           (tiny, 65536, "histogram.global")):
        d.histogram(d.to_device(keys), nbins)
        assert d.timeline()[-1].name == name


@pytest.mark.parametrize("nbins", [1, 3, 256, 65536])
def test_skewed_keys(any_driver: Driver, nbins: int) -> None:
    keys = np.full(100_003, 123_456_789, dtype=np.uint32)
    keys[::97] = 5
    check(any_driver, keys, nbins)


def test_extreme_keys(driver: Driver, gpu_like: Driver) -> None:
    keys = np.array([0, 1, 2**32 - 1, 2**31, 65535, 65536, 65537] * 1001, dtype=np.uint32)
    for d in (driver, gpu_like):
        for nbins in (1, 2, 3, 65535, 65536):
            check(d, keys, nbins)


@pytest.mark.parametrize("offset", [1, 7, 999])
def test_through_views(any_driver: Driver, rng: np.random.Generator, offset: int) -> None:
    base = rng.integers(0, 2**32, 90000, dtype=np.uint32)
    db = any_driver.to_device(base)
    for count in (1, 33, 80001):
        v = any_driver.view(db, offset * 4, count)
        for nbins in (16, 1000):
            got = any_driver.to_host(any_driver.histogram(v, nbins))
            want = api.reference("histogram", base[offset:offset + count], nbins)
            np.testing.assert_array_equal(got, want)

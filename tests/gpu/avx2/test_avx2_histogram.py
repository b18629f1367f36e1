"""AVX2 histogram: counts of keys % nbins, exact for power-of-two bins (mask path) and the
others (Lemire's direct remainder, checked at the extreme keys), with the interleaved
sub-histograms for small nbins, and independent of the thread count."""

from __future__ import annotations

import numpy as np
import pytest

from plugins.gpu import api

SIZES = (1, 2, 7, 8, 9, 31, 255, 256, 257, 1000, 4097, 65537)
BIG = (1 << 20) + 3  # past the per-thread grain (2^17)
NBINS = (1, 2, 3, 7, 256, 1000, 4096, 16384, 16385, 65521, 65535, 65536)


def _keys(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 1 << 32, n, dtype=np.uint32)


@pytest.mark.parametrize("n", (*SIZES, BIG))
@pytest.mark.parametrize("nbins", (1, 7, 256, 1000, 65536))
def test_histogram_matches_reference(avx2, rng, n: int, nbins: int) -> None:
    host = _keys(rng, n)
    got = avx2.histogram(avx2.to_device(host), nbins)
    assert got.dtype == np.uint32 and got.shape == (nbins,)
    np.testing.assert_array_equal(got, api.reference("histogram", host, nbins))


@pytest.mark.parametrize("nbins", NBINS)
def test_every_bin_count_at_extreme_keys(avx2, rng, nbins: int) -> None:
    """Keys next to 0, 2^32 and multiples of nbins, where a remainder shortcut slips."""
    top = np.arange((1 << 32) - 300, 1 << 32, dtype=np.int64)
    last = (1 << 32) // nbins  # multiples of nbins at both ends of the key range
    mult = np.concatenate([np.arange(1, 2000), np.arange(max(last - 2000, 1), last + 1)])
    near = ((mult.astype(np.int64) * nbins)[:, None] + np.array([-1, 0, 1])).ravel()
    host = np.concatenate([np.arange(300), top, near[(near >= 0) & (near < 1 << 32)],
                           _keys(rng, 5000)]).astype(np.uint32)
    got = avx2.histogram(avx2.to_device(host), nbins)
    np.testing.assert_array_equal(got, api.reference("histogram", host, nbins))
    assert int(got.sum(dtype=np.uint64)) == host.size


@pytest.mark.parametrize("nbins", (1, 5, 4096, 65536))
def test_one_repeated_key(avx2, nbins: int) -> None:
    host = np.full(4099, 123457, dtype=np.uint32)
    got = avx2.histogram(avx2.to_device(host), nbins)
    assert got[123457 % nbins] == 4099 and int(got.sum()) == 4099


@pytest.mark.parametrize("nbins", (3, 1024, 40000))
def test_thread_count_changes_nothing(backends, rng, nbins: int) -> None:
    host = _keys(rng, BIG)
    want = api.reference("histogram", host, nbins)
    for threads, b in backends.items():
        np.testing.assert_array_equal(b.histogram(b.to_device(host), nbins), want,
                                      err_msg=f"threads={threads}")


def test_numpy_integer_nbins(avx2, rng) -> None:
    host = _keys(rng, 100)
    np.testing.assert_array_equal(avx2.histogram(host, np.int64(10)),
                                  api.reference("histogram", host, 10))

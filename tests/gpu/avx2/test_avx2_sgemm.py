"""AVX2 SGEMM: within ``api.gemm_tolerance`` for square, skinny and odd shapes (every
micro-tile edge, several k, m and n blocks), exact on small integers, NaN propagating, and
bitwise identical for every thread count."""

from __future__ import annotations

import numpy as np
import pytest

from labtest import SANITIZED
from plugins.gpu import api

# (m, n, k): edges of the 6 x 16 micro-tile, k past the 256 block, m past the 144 block,
# n past the 3072 block.
SHAPES = ((1, 1, 1), (1, 37, 1), (37, 1, 1), (1, 1, 37), (6, 16, 1), (7, 17, 3),
          (5, 15, 2), (33, 17, 65), (65, 129, 33), (12, 32, 256), (13, 33, 257),
          (100, 50, 513), (150, 20, 10), (2, 3100, 3), (64, 64, 64))


def _pair(rng: np.random.Generator, m: int, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    return (rng.standard_normal((m, k)).astype(np.float32),
            rng.standard_normal((k, n)).astype(np.float32))


@pytest.mark.parametrize("shape", SHAPES)
def test_sgemm_within_tolerance(avx2, rng, shape: tuple[int, int, int]) -> None:
    m, n, k = shape
    a, b = _pair(rng, m, n, k)
    got = avx2.sgemm(avx2.to_device(a), avx2.to_device(b))
    assert got.dtype == np.float32 and got.shape == (m, n)
    err = np.abs(got - api.reference("sgemm", a, b))
    assert (err <= api.gemm_tolerance(a, b)).all(), err.max()


def test_small_integers_are_exact(avx2, rng) -> None:
    """Integer products and sums below 2^24 are exact in float32, in any order."""
    a = rng.integers(-4, 5, (37, 300)).astype(np.float32)
    b = rng.integers(-4, 5, (300, 45)).astype(np.float32)
    np.testing.assert_array_equal(avx2.sgemm(avx2.to_device(a), avx2.to_device(b)),
                                  api.reference("sgemm", a, b))


def test_identity(avx2, rng) -> None:
    a = rng.standard_normal((23, 40)).astype(np.float32)
    eye = np.eye(40, dtype=np.float32)
    np.testing.assert_array_equal(avx2.sgemm(avx2.to_device(a), avx2.to_device(eye)), a)


def test_nan_reaches_its_row_and_column(avx2, rng) -> None:
    a, b = _pair(rng, 20, 30, 40)
    a[3, 5] = np.nan
    b[7, 11] = np.nan
    got = avx2.sgemm(avx2.to_device(a), avx2.to_device(b))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(api.reference("sgemm", a, b)))
    assert np.isnan(got[3]).all() and np.isnan(got[:, 11]).all()


# Split by rows (m >= n) and by columns (n > m); sizes past the 2^20 multiply-add grain.
PARALLEL = ((90, 70, 400), (20, 300, 300)) if SANITIZED else ((300, 200, 300), (40, 700, 300))


@pytest.mark.parametrize("shape", PARALLEL)
def test_thread_count_changes_nothing(backends, rng, shape: tuple[int, int, int]) -> None:
    a, b = _pair(rng, *shape)
    results = {t: be.sgemm(be.to_device(a), be.to_device(b)) for t, be in backends.items()}
    assert (np.abs(results[1] - api.reference("sgemm", a, b)) <= api.gemm_tolerance(a, b)).all()
    for threads, got in results.items():
        np.testing.assert_array_equal(got, results[1], err_msg=f"threads={threads}")

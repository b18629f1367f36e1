"""sgemm(a, b): within api.gemm_tolerance of the float64 product, for (1,1,1), shapes that
are not multiples of any tile in m, n or k, k = 1, outer products, 2-D views at non-zero
offsets, on all three drivers (64x64 tiles with 8x8 or 4x4 outputs per work-item, 16x16
tiles on the tiny one)."""

from __future__ import annotations

import numpy as np
import pytest

from plugins.gpu import api
from plugins.gpu.cl import Driver

SHAPES = [(1, 1, 1), (33, 17, 65), (129, 70, 257), (64, 64, 64), (1, 300, 1), (300, 1, 200),
          (5, 1000, 3), (65, 16, 63)]


def check(got: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    assert got.shape == (a.shape[0], b.shape[1]) and got.dtype == np.float32
    err = np.abs(got.astype(np.float64) - api.reference("sgemm", a, b))
    bad = err > api.gemm_tolerance(a, b)
    assert not bad.any(), f"{bad.sum()} entries out of tolerance, first at {np.argwhere(bad)[0]}"


@pytest.mark.parametrize("mkn", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_sgemm_matches_numpy(any_driver: Driver, rng: np.random.Generator,
                             mkn: tuple[int, int, int]) -> None:
    m, k, n = mkn
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    got = any_driver.to_host(any_driver.sgemm(any_driver.to_device(a), any_driver.to_device(b)))
    check(got, a, b)


def test_identity_is_exact(driver: Driver, rng: np.random.Generator) -> None:
    a = rng.standard_normal((97, 97)).astype(np.float32)
    eye = np.eye(97, dtype=np.float32)
    got = driver.to_host(driver.sgemm(driver.to_device(a), driver.to_device(eye)))
    np.testing.assert_array_equal(got, a)


@pytest.mark.parametrize("offset", [1, 29])
def test_through_views(any_driver: Driver, rng: np.random.Generator, offset: int) -> None:
    m, k, n = 45, 38, 71
    flat = rng.standard_normal(m * k + k * n + 100).astype(np.float32)
    d = any_driver
    db = d.to_device(flat)
    va = d.view(db, offset * 4, m * k, shape=(m, k))
    vb = d.view(db, (offset + m * k + 3) * 4, k * n, shape=(k, n))
    a = flat[offset:offset + m * k].reshape(m, k)
    b = flat[offset + m * k + 3:offset + m * k + 3 + k * n].reshape(k, n)
    check(d.to_host(d.sgemm(va, vb)), a, b)

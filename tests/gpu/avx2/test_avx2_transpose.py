"""AVX2 transpose: exact for every shape (8 x 8 register blocks, 32-wide tiles through a
buffer, ragged edges, the streaming path for large outputs) and every thread count."""

from __future__ import annotations

import numpy as np
import pytest

from plugins.gpu import api

SHAPES = ((1, 1), (1, 37), (37, 1), (2, 9), (8, 8), (9, 7), (16, 32), (31, 33), (32, 32),
          (33, 31), (64, 64), (65, 129), (255, 257), (1000, 7), (7, 1000), (256, 1024))


def _matrix(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("shape", SHAPES)
def test_transpose_matches_reference(avx2, rng, shape: tuple[int, int]) -> None:
    host = _matrix(rng, shape)
    got = avx2.transpose(avx2.to_device(host))
    assert got.dtype == np.float32 and got.shape == shape[::-1]
    np.testing.assert_array_equal(got, api.reference("transpose", host))


@pytest.mark.parametrize("shape", ((1024, 2056), (1027, 2050)))
def test_large_streamed_and_unstreamed(avx2, rng, shape: tuple[int, int]) -> None:
    """Over 8 MiB: rows % 8 == 0 streams the output (16-row tiles), 1027 rows do not."""
    host = _matrix(rng, shape)
    np.testing.assert_array_equal(avx2.transpose(avx2.to_device(host)), host.T)


def test_transpose_twice_is_identity(avx2, rng) -> None:
    host = _matrix(rng, (129, 65))
    np.testing.assert_array_equal(avx2.transpose(avx2.transpose(avx2.to_device(host))), host)


@pytest.mark.parametrize("shape", ((1000, 300), (300, 1000), (2, 70000)))
def test_thread_count_changes_nothing(backends, rng, shape: tuple[int, int]) -> None:
    host = _matrix(rng, shape)
    for threads, b in backends.items():
        np.testing.assert_array_equal(b.transpose(b.to_device(host)), host.T,
                                      err_msg=f"threads={threads}")

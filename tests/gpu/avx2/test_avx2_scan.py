"""AVX2 prefix scan of uint32: exclusive and inclusive sums wrapping modulo 2^32, exact at
every size and thread count; the C entry point also runs in place (out == in)."""

from __future__ import annotations

import numpy as np
import pytest

from plugins.gpu import api

SIZES = (1, 2, 7, 8, 9, 15, 16, 17, 31, 255, 256, 257, 1000, 4097, 65537)
BIG = (1 << 20) + 3  # past the per-thread grain (2^18)


def _keys(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 1 << 32, n, dtype=np.uint32)  # full range: sums wrap often


@pytest.mark.parametrize("n", (*SIZES, BIG))
@pytest.mark.parametrize("inclusive", (False, True))
def test_scan_matches_reference(avx2, rng, n: int, inclusive: bool) -> None:
    host = _keys(rng, n)
    x = avx2.to_device(host)
    got = avx2.scan(x, inclusive)
    assert got.dtype == np.uint32 and got.shape == (n,)
    np.testing.assert_array_equal(got, api.reference("scan", host, inclusive))
    np.testing.assert_array_equal(x, host)  # the input is left alone


def test_scan_wraps_modulo_2_32(avx2) -> None:
    host = np.full(100, 0xFFFFFFFF, dtype=np.uint32)
    want = (-np.arange(1, 101, dtype=np.int64)) % (1 << 32)  # i * (2^32 - 1) mod 2^32
    np.testing.assert_array_equal(avx2.scan(avx2.to_device(host), True), want)
    np.testing.assert_array_equal(avx2.scan(avx2.to_device(host), False),
                                  np.concatenate(([0], want[:-1])))


def test_scan_exclusive_starts_at_zero(avx2) -> None:
    got = avx2.scan(avx2.to_device(np.array([5, 6, 7], dtype=np.uint32)), False)
    assert got.tolist() == [0, 5, 11]


@pytest.mark.parametrize("inclusive", (False, True))
def test_thread_count_changes_nothing(backends, rng, inclusive: bool) -> None:
    host = _keys(rng, BIG + 12345)
    want = api.reference("scan", host, inclusive)
    for threads, b in backends.items():
        np.testing.assert_array_equal(b.scan(b.to_device(host), inclusive), want,
                                      err_msg=f"threads={threads}")


@pytest.mark.parametrize("n", (1, 17, 1000, BIG))
@pytest.mark.parametrize("inclusive", (0, 1))
@pytest.mark.parametrize("threads", (1, 3))
def test_c_scan_in_place(ffi, lib, rng, n: int, inclusive: int, threads: int) -> None:
    host = _keys(rng, n)
    want = api.reference("scan", host, bool(inclusive))
    buf = host.copy()
    ptr = ffi.cast("uint32_t *", buf.ctypes.data)
    assert lib.gpu_avx2_scan(ptr, ptr, n, inclusive, threads) == lib.GPU_AVX2_OK
    np.testing.assert_array_equal(buf, want)

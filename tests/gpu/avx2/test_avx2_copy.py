"""AVX2 copy: equal to its input at every size, bit for bit (uint32 patterns that are NaNs
as floats too), through memcpy below 8 MiB and non-temporal stores above, from any 4-byte
alignment of the destination, with any thread count."""

from __future__ import annotations

import numpy as np
import pytest

from plugins.gpu.avx2 import ALIGN

SIZES = (1, 2, 7, 8, 9, 31, 255, 256, 257, 1000, 4097, 65537, (1 << 20) + 3)
STREAMED = (1 << 21) + 5  # 8 MiB + 20 bytes: the streaming path


@pytest.mark.parametrize("n", (*SIZES, STREAMED))
def test_copy_equals_input(avx2, rng, n: int) -> None:
    host = rng.standard_normal(n).astype(np.float32)
    x = avx2.to_device(host)
    got = avx2.copy(x)
    assert got.ctypes.data != x.ctypes.data and got.ctypes.data % ALIGN == 0
    np.testing.assert_array_equal(got, host)


@pytest.mark.parametrize("n", (9, STREAMED))
def test_copy_keeps_bits_and_shape(avx2, rng, n: int) -> None:
    host = rng.integers(0, 1 << 32, n, dtype=np.uint32)
    host[:5] = [0x7FA00001, 0xFFC00000, 0x7F800001, 0x80000000, 0xFFFFFFFF]  # NaNs, -0
    got = avx2.copy(avx2.to_device(host))
    assert got.dtype == np.uint32
    np.testing.assert_array_equal(got, host)
    square = avx2.to_device(rng.standard_normal((33, 7)).astype(np.float32))
    got2 = avx2.copy(square)
    assert got2.shape == (33, 7)
    np.testing.assert_array_equal(got2, square)


@pytest.mark.parametrize("offset", (0, 1, 3, 7))
@pytest.mark.parametrize("threads", (1, 2, 3))
def test_c_copy_from_every_alignment(ffi, lib, rng, offset: int, threads: int) -> None:
    """The streaming head loop: dst at 4-byte steps past a 32-byte boundary."""
    n = STREAMED
    src = rng.standard_normal(n).astype(np.float32)
    buf = np.zeros(n + 16, dtype=np.float32)
    base = (-buf.ctypes.data % 32) // 4
    dst = buf[base + offset:base + offset + n]
    assert lib.gpu_avx2_copy(ffi.cast("float *", src.ctypes.data),
                             ffi.cast("float *", dst.ctypes.data), n, threads) == 0
    np.testing.assert_array_equal(dst, src)
    assert not buf[:base + offset].any() and not buf[base + offset + n:].any()


def test_thread_count_changes_nothing(backends, rng) -> None:
    host = rng.standard_normal(STREAMED).astype(np.float32)
    for threads, b in backends.items():
        np.testing.assert_array_equal(b.copy(b.to_device(host)), host,
                                      err_msg=f"threads={threads}")


def test_results_reuse_pooled_buffers_only_once_nothing_refers_to_them(avx2) -> None:
    """A dropped result's buffer serves the next result of its size; one still referenced,
    even only through a view, is never handed out again."""
    import gc

    x = avx2.to_device(np.arange(4096, dtype=np.float32))
    first = avx2.copy(x)
    address = first.ctypes.data
    tail = first[1:]  # a view keeps the block
    del first
    gc.collect()
    second = avx2.copy(x)
    assert second.ctypes.data != address and tail[0] == 1.0
    reuses = avx2.pool.reuses
    del tail, second
    gc.collect()
    third = avx2.copy(x)
    assert avx2.pool.reuses == reuses + 1
    assert third.ctypes.data % 64 == 0 and np.array_equal(third, np.arange(4096))
    avx2.close()
    assert avx2.pool.cached == 0

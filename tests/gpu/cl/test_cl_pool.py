"""BufferPool and DeviceArray lifetimes: size classes, reuse of released blocks, the
alignment guarantee (device addresses read back by a kernel), statistics, the cap on cached
bytes, trimming, and requests over the device's largest allocation or the memory left
refused with GpuError before anything is allocated."""

from __future__ import annotations

import gc

import numpy as np
import pyopencl as cl
import pytest

from plugins.gpu.api import GpuError
from plugins.gpu.cl import BufferPool, Driver
from plugins.gpu.cl.pool import Block

ADDRESS_KERNEL = """
__kernel void address(__global const uchar *p, __global ulong *out) { out[0] = (ulong)p; }
"""


@pytest.fixture
def pool(driver: Driver) -> BufferPool:
    p = BufferPool(driver.context, driver.device, cap_bytes=1 << 20, limit_bytes=8 << 20)
    yield p
    p.close()


def test_size_classes(pool: BufferPool) -> None:
    g = pool.granule
    assert g >= pool.alignment and g % pool.alignment == 0 and g & (g - 1) == 0
    last = 0
    for n in [1, 2, 100, g - 1, g, g + 1, 16 * g, 16 * g + 1, 1000_000, 3 << 20, (1 << 24) + 5]:
        c = pool.size_class(n)
        assert c >= n and c % g == 0 and c >= last
        if n > 16 * g:
            assert c <= n * 1.125 + g
        last = c
    assert pool.size_class(1000) == pool.size_class(999)  # neighbours share a class


def test_reuse_and_stats(pool: BufferPool) -> None:
    a = pool.acquire(10_000)
    assert isinstance(a, Block) and a.size == pool.size_class(10_000)
    s = pool.snapshot()
    assert (s.allocations, s.reuses, s.bytes_live, s.blocks_live) == (1, 0, a.size, 1)
    pool.release(a)
    s = pool.snapshot()
    assert (s.bytes_live, s.bytes_cached, s.blocks_cached, s.releases) == (0, a.size, 1, 1)
    b = pool.acquire(9_990)  # same class: the same block comes back
    assert b is a
    s = pool.snapshot()
    assert (s.allocations, s.reuses, s.bytes_cached, s.bytes_live) == (1, 1, 0, a.size)
    c = pool.acquire(100_000)  # another class: a new block
    assert c is not a and pool.snapshot().allocations == 2
    pool.release(b)
    pool.release(c)
    assert pool.snapshot().peak_bytes_live == a.size + c.size


def test_alignment_of_device_addresses(driver: Driver) -> None:
    kernel = cl.Program(driver.context, ADDRESS_KERNEL).build().address
    queue = driver.queues[0]
    out = cl.Buffer(driver.context, cl.mem_flags.WRITE_ONLY, 8)
    blocks = [driver.pool.acquire(n) for n in (1, 3, 1000, 4097, 65537, 1 << 20)]
    try:
        for b in blocks:
            kernel(queue, (1,), None, b.buffer, out)
            addr = np.empty(1, np.uint64)
            cl.enqueue_copy(queue, addr, out)
            assert int(addr[0]) % driver.pool.alignment == 0, hex(int(addr[0]))
            assert b.size % driver.pool.granule == 0
    finally:
        for b in blocks:
            driver.pool.release(b)


def test_cap_trims_oldest(pool: BufferPool) -> None:
    blocks = [pool.acquire(300_000) for _ in range(6)]  # 6 x ~300 KB live, cap 1 MiB
    for b in blocks:
        pool.release(b)
    s = pool.snapshot()
    assert s.bytes_cached <= pool.cap_bytes and s.frees >= 2
    assert s.blocks_cached == 6 - s.frees
    survivor = pool.acquire(300_000)  # the most recently released block survived
    assert survivor is blocks[-1] and pool.snapshot().reuses == 1
    pool.release(survivor)
    freed = pool.trim(0)
    assert freed > 0 and pool.snapshot().bytes_cached == 0


def test_oversized_requests_refused_without_allocating(pool: BufferPool) -> None:
    before = pool.snapshot()
    with pytest.raises(GpuError, match="largest allocation"):
        pool.acquire(pool.max_alloc + 1)
    with pytest.raises(GpuError, match="left"):
        pool.acquire(9 << 20)  # over limit_bytes (8 MiB)
    after = pool.snapshot()
    assert after.allocations == before.allocations and after.refused == before.refused + 2
    assert after.bytes_live == before.bytes_live == 0


def test_memory_left_counts_live_blocks_and_frees_cache(pool: BufferPool) -> None:
    a = pool.acquire(5 << 20)
    with pytest.raises(GpuError, match="left"):
        pool.acquire(4 << 20)  # 5 + 4 MiB live would exceed 8 MiB
    pool.release(a)  # cached now (over the cap, so freed at once)
    b = pool.acquire(4 << 20)  # fits once the cache is given back
    assert pool.snapshot().bytes_live == b.size
    pool.release(b)


def test_arrays_release_blocks(driver: Driver) -> None:
    gc.collect()
    x = driver.to_device(np.arange(12345, dtype=np.float32))
    live = driver.stats().blocks_live
    v = driver.view(x, 400, 10)
    x.release()
    assert x.released and driver.stats().blocks_live == live  # the view keeps the block
    np.testing.assert_array_equal(driver.to_host(v), np.arange(100, 110, dtype=np.float32))
    del v
    gc.collect()
    assert driver.stats().blocks_live == live - 1  # garbage collection released it
    with pytest.raises(GpuError, match="released"):
        _ = x.buffer


def test_repeated_ops_reuse_buffers(driver: Driver) -> None:
    x = driver.to_device(np.arange(100_000, dtype=np.uint32))
    for _ in range(3):  # warm up: every class the ops need is allocated once
        driver.copy(x).release()
        driver.scan(x).release()
        driver.histogram(x, 300).release()
    before = driver.stats()
    for _ in range(20):
        driver.copy(x).release()
        driver.scan(x).release()
        driver.histogram(x, 300).release()
    after = driver.stats()
    assert after.allocations == before.allocations
    assert after.reuses >= before.reuses + 60

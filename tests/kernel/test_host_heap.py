"""mm/heap.c through the kernel-host build, on a heap inside a host buffer that grows through
khost_heap_grow: alignment, splitting and merging, growth up to the limit, refused frees of
bogus, interior and stale pointers, calloc overflow, and k_heap_check after every step."""

from __future__ import annotations

from typing import Any

import pytest
from test_host_common import kmod

EINVAL = 22
BUF = 256 << 10


class Heap:
    def __init__(self, initial: int = 4096, room: int = BUF, grow: bool = True,
                 fail: bool = False) -> None:
        self.ffi, self.lib = ffi, lib = kmod().ffi, kmod().lib
        self.raw = ffi.new("char[]", BUF + 16)
        self.start = (int(ffi.cast("uintptr_t", self.raw)) + 15) & ~15
        self.arena = ffi.new("struct khost_arena *", {"max_end": self.start + room,
                                                      "fail": int(fail)})
        self.h = ffi.new("struct k_heap *")
        fn = lib.khost_heap_grow_fn() if grow else ffi.NULL
        self.rc = lib.k_heap_init(self.h, self.start, initial, self.start + room, fn, self.arena)

    def alloc(self, n: int) -> int:
        return self.addr(self.lib.k_heap_alloc(self.h, n))

    def calloc(self, n: int, size: int) -> int:
        return self.addr(self.lib.k_heap_calloc(self.h, n, size))

    def free(self, p: int) -> int:
        return self.lib.k_heap_free(self.h, self.ffi.cast("void *", p))

    def size(self, p: int) -> int:
        return self.lib.k_heap_size(self.h, self.ffi.cast("void *", p))

    def check(self) -> int:
        return self.lib.k_heap_check(self.h)

    def addr(self, p: Any) -> int:
        return int(self.ffi.cast("uintptr_t", p))

    def fill(self, p: int, n: int, byte: int) -> None:
        self.ffi.memmove(self.ffi.cast("char *", p), bytes([byte]) * n, n)

    def read(self, p: int, n: int) -> bytes:
        return self.ffi.buffer(self.ffi.cast("char *", p), n)[:]


def test_init_refuses_bad_regions() -> None:
    h = Heap()
    lib, ffi = h.lib, h.ffi
    fresh = ffi.new("struct k_heap *")
    assert lib.k_heap_init(fresh, h.start + 8, 4096, h.start + BUF, ffi.NULL, ffi.NULL) == -EINVAL
    assert lib.k_heap_init(fresh, h.start, 16, h.start + BUF, ffi.NULL, ffi.NULL) == -EINVAL
    assert lib.k_heap_init(fresh, h.start, 4096, h.start + 4000, ffi.NULL, ffi.NULL) == -EINVAL
    assert h.rc == 0 and h.check() == 0 and h.h.used == 0 and h.h.nblocks == 0


def test_blocks_are_aligned_disjoint_and_keep_their_contents() -> None:
    h = Heap()
    blocks = []
    for i, n in enumerate((1, 15, 16, 17, 100, 1000, 33)):
        p = h.alloc(n)
        assert p % 16 == 0 and h.size(p) >= n and h.size(p) % 16 == 0
        h.fill(p, n, i + 1)
        blocks.append((p, n, i + 1))
        assert h.check() == 0
    spans = sorted((p, p + h.size(p)) for p, _, _ in blocks)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))
    assert h.h.nblocks == 7 and h.h.used == sum(h.size(p) for p, _, _ in blocks)
    for p, n, byte in blocks[::2] + blocks[1::2]:
        assert h.read(p, n) == bytes([byte]) * n
        assert h.free(p) == 0 and h.check() == 0
    assert h.h.used == 0 and h.h.nblocks == 0


def test_free_space_merges_back_into_one_block() -> None:
    h = Heap(initial=4096, grow=False)
    ps = [h.alloc(100) for _ in range(10)]
    for p in ps[1::2] + ps[::2]:
        assert h.free(p) == 0 and h.check() == 0
    big = h.alloc(4096 - 32)                        # the whole region again
    assert big == h.start + 16 and h.alloc(1) == 0


def test_growth_until_the_limit() -> None:
    h = Heap(initial=256, room=64 << 10)
    got = []
    while (p := h.alloc(3000)) != 0:
        got.append(p)
        assert h.check() == 0
    assert 18 <= len(got) <= 21 and h.arena.grows >= 1 and h.h.end <= h.h.limit
    assert h.alloc(16) != 0                         # small blocks still fit in the tail
    for p in got:
        assert h.free(p) == 0
    assert h.check() == 0 and h.alloc(60 << 10) != 0


def test_grow_refusal_and_no_callback() -> None:
    refused = Heap(initial=512, fail=True)
    assert refused.alloc(1000) == 0 and refused.arena.grows == 0 and refused.check() == 0
    assert refused.alloc(400) != 0
    fixed = Heap(initial=512, grow=False)
    assert fixed.alloc(1000) == 0 and fixed.check() == 0


def test_calloc_zeroes_and_refuses_overflow() -> None:
    h = Heap()
    p = h.alloc(512)
    h.fill(p, 512, 0xAB)
    assert h.free(p) == 0
    q = h.calloc(16, 32)
    assert q == p and h.read(q, 512) == bytes(512)
    assert h.calloc(1 << 62, 8) == 0 and h.calloc(0, 10) == 0 and h.calloc(10, 0) == 0
    assert h.alloc(0) == 0 and h.alloc((1 << 64) - 1) == 0 and h.alloc(1 << 40) == 0
    assert h.check() == 0


def test_bogus_and_double_frees_are_refused() -> None:
    h = Heap()
    a, b = h.alloc(64), h.alloc(64)
    h.fill(a, 64, 0x11)
    assert h.free(0) == 0                           # free(NULL)
    for bogus in (a + 16, a - 16, a + 8, b + 64, h.start, h.start - 4096, 1, 1 << 63):
        assert h.free(bogus) == -EINVAL and h.size(bogus) == 0, hex(bogus)
    assert h.free(a) == 0
    assert h.free(a) == -EINVAL and h.size(a) == 0  # double free (merged or not)
    assert h.free(b) == 0 and h.free(b) == -EINVAL
    assert h.check() == 0 and h.h.nblocks == 0


def test_stale_pointers_into_a_merged_block_are_refused() -> None:
    h = Heap()
    ps = [h.alloc(48) for _ in range(4)]
    for p in ps:
        assert h.free(p) == 0
    big = h.alloc(400)                              # covers the old blocks' headers
    for p in ps[1:]:
        assert h.free(p) == -EINVAL
    assert h.free(big) == 0 and h.check() == 0


@pytest.mark.parametrize("field", ["used", "nblocks"])
def test_check_sees_bad_counters(field: str) -> None:
    h = Heap()
    h.alloc(10)
    setattr(h.h, field, getattr(h.h, field) + 1)
    assert h.check() == -1


def test_check_sees_a_smashed_header() -> None:
    h = Heap()
    a = h.alloc(32)
    h.alloc(32)
    h.fill(a, 48, 0x55)                             # overflows into the footer
    assert h.check() == -1

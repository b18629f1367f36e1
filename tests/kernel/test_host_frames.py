"""mm/frame.c through the kernel-host build: init's refusals, reserve clipping, next-fit
alloc with its hint, first-fit runs, refused frees, and k_frames_check after everything."""

from __future__ import annotations

from typing import Any

import pytest
from test_host_common import kmod

EINVAL = 22
PAGE = 4096


class Frames:
    def __init__(self, base: int, nframes: int) -> None:
        self.ffi, self.lib = kmod().ffi, kmod().lib
        self.bitmap = self.ffi.new("uint32_t[]", max(1, self.lib.k_frames_bitmap_words(nframes)))
        self.fa = self.ffi.new("struct k_frames *")
        self.rc = self.lib.k_frames_init(self.fa, base, nframes, self.bitmap)

    def __getattr__(self, name: str) -> Any:
        fn = getattr(self.lib, f"k_frames_{name}")
        return lambda *args: fn(self.fa, *args)


def test_bitmap_words() -> None:
    lib = kmod().lib
    assert [lib.k_frames_bitmap_words(n) for n in (0, 1, 32, 33, 0xFFFFFFFF)] == \
        [0, 1, 1, 2, 0x8000000]


@pytest.mark.parametrize(("base", "n"), [(0, 4), (0x1234, 4), (0x1000, 0),
                                         (0xFFFFF000, 2), (0x80000000, 0x80001)])
def test_init_refuses_bad_ranges(base: int, n: int) -> None:
    f = Frames(0x1000, 0)                           # a zeroed struct (init refused)
    assert kmod().lib.k_frames_init(f.fa, base, n, f.bitmap) == -EINVAL  # before any write
    assert f.fa.nframes == 0 and f.alloc() == 0 and f.free(base) == -EINVAL
    assert f.check() == 0


def test_init_refuses_a_null_bitmap_and_accepts_the_top_of_memory() -> None:
    f = Frames(0x1000, 4)
    assert kmod().lib.k_frames_init(f.fa, 0x1000, 4, kmod().ffi.NULL) == -EINVAL
    top = Frames(0xFFFF0000, 16)
    assert top.rc == 0 and top.free_count() == 16
    assert [top.alloc() for _ in range(17)][-2:] == [0xFFFFF000, 0]
    assert top.check() == 0


def test_reserve_clips_to_the_range_and_counts_new_frames() -> None:
    f = Frames(0x100000, 64)
    assert f.reserve(0, 0x101001) == 2              # frames 0 and 1 (overlap of the end)
    assert f.reserve(0x100800, 0x1000) == 0         # already reserved
    assert f.reserve(0x13F000, 0xFFFFFFFF) == 1     # runs past 4 GiB: only the last frame
    assert f.reserve(0x200000, 0x1000) == 0 and f.reserve(0x100000, 0) == 0
    assert f.free_count() == 61 and f.check() == 0
    assert f.is_used(0x100FFF) == 1 and f.is_used(0x102000) == 0
    assert f.is_used(0xFFFFF) == -EINVAL and f.is_used(0x140000) == -EINVAL


def test_alloc_is_next_fit_from_the_hint() -> None:
    f = Frames(0x1000, 4)
    got = [f.alloc() for _ in range(3)]
    assert got == [0x1000, 0x2000, 0x3000]
    assert f.free(0x1000) == 0
    assert f.alloc() == 0x4000                      # from the hint, not the freed frame
    assert f.alloc() == 0x1000                      # wraps to the start
    assert f.alloc() == 0 and f.free_count() == 0 and f.check() == 0


def test_alloc_run_is_first_fit() -> None:
    f = Frames(0x10000, 40)
    assert f.alloc_run(0) == 0 and f.alloc_run(41) == 0 and f.alloc_run(0xFFFFFFFF) == 0
    a = f.alloc_run(10)
    b = f.alloc_run(10)
    assert (a, b) == (0x10000, 0x10000 + 10 * PAGE)
    assert f.free(a + 3 * PAGE) == 0 and f.free(a + 4 * PAGE) == 0
    assert f.alloc_run(3) == 0x10000 + 20 * PAGE    # the 2-frame hole is too small
    assert f.alloc_run(2) == a + 3 * PAGE
    assert f.alloc_run(17) == 0x10000 + 23 * PAGE   # exactly the rest
    assert f.alloc_run(1) == 0 and f.free_count() == 0 and f.check() == 0


def test_free_refuses_bad_addresses() -> None:
    f = Frames(0x10000, 8)
    a = f.alloc()
    assert f.free(a + 4) == -EINVAL                 # unaligned
    assert f.free(0x8000) == -EINVAL and f.free(0x18000) == -EINVAL
    assert f.free(0x11000) == -EINVAL               # never allocated
    assert f.free(a) == 0 and f.free(a) == -EINVAL  # double free
    assert f.free_count() == 8 and f.check() == 0


def test_check_sees_corruption() -> None:
    f = Frames(0x10000, 40)
    f.alloc()
    f.fa.nfree += 1
    assert f.check() == -1
    f.fa.nfree -= 1
    f.bitmap[1] |= 1 << 9                           # bit of frame 41, past nframes
    assert f.check() == -1

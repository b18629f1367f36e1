"""sys/uaccess.c through the kernel-host build: the range table's refusals, lookups, gaps,
and pointer checks across adjacent ranges, holes, read-only ranges, the kernel half and the
top of the address space."""

from __future__ import annotations

from test_host_common import kmod

EINVAL, ENOMEM, EFAULT = 22, 12, 14
BASE, TOP, PAGE = 0x40000000, 0xC0000000, 4096


def vmap() -> object:
    m = kmod().ffi.new("struct k_vmap *")
    kmod().lib.k_vmap_init(m)
    return m


def test_add_refusals_and_order() -> None:
    lib, m = kmod().lib, vmap()
    assert lib.k_vmap_add(m, BASE + 0x5000, 1, 1, 0) == 0        # one page
    assert lib.k_vmap_add(m, BASE + 0x1000, 0x2000, 0, 0) == 0
    assert [(m.r[i].start, m.r[i].end) for i in range(m.n)] == \
        [(BASE + 0x1000, BASE + 0x3000), (BASE + 0x5000, BASE + 0x6000)]
    for start, length in ((BASE + 0x5800, 1), (BASE + 0x2000, 0x1000), (BASE, 0x2000),
                          (BASE + 0x4000, 0x1001), (BASE - PAGE, PAGE), (TOP - PAGE, 0x1001),
                          (TOP, PAGE), (BASE + 0x8000, 0), (0xFFFFF000, 0x2000),
                          (BASE + 0x9000, 0xFFFFFFFF)):
        assert lib.k_vmap_add(m, start, length, 1, 0) == -EINVAL, (hex(start), length)
    assert lib.k_vmap_add(m, TOP - PAGE, PAGE, 1, 1) == 0        # the very top is fine
    for i in range(13):
        assert lib.k_vmap_add(m, BASE + 0x100000 + 2 * i * PAGE, PAGE, 0, 0) == 0
    assert m.n == 16 and lib.k_vmap_add(m, BASE + 0x900000, PAGE, 0, 0) == -ENOMEM
    assert lib.k_vmap_add(m, BASE + 0x5000, PAGE, 0, 0) == -EINVAL  # overlap wins over full


def test_lookup_and_find_gap() -> None:
    lib, ffi, m = kmod().lib, kmod().ffi, vmap()
    lib.k_vmap_add(m, BASE, 0x3000, 1, 0)
    lib.k_vmap_add(m, BASE + 0x4000, 0x1000, 0, 1)
    r = lib.k_vmap_lookup(m, BASE + 0x4FFF)
    assert (r.start, r.end, r.writable, r.lazy) == (BASE + 0x4000, BASE + 0x5000, 0, 1)
    assert lib.k_vmap_lookup(m, BASE + 0x3000) == ffi.NULL
    assert lib.k_vmap_lookup(m, 0xF0000000) == ffi.NULL
    assert lib.k_vmap_find_gap(m, 0, 1) == BASE + 0x3000
    assert lib.k_vmap_find_gap(m, 0, 0x1001) == BASE + 0x5000
    assert lib.k_vmap_find_gap(m, BASE + 0x3001, 1) == BASE + 0x5000
    assert lib.k_vmap_find_gap(m, TOP - PAGE, PAGE) == TOP - PAGE
    assert lib.k_vmap_find_gap(m, TOP - PAGE, 2 * PAGE) == 0
    assert lib.k_vmap_find_gap(m, 0xFFFFFFFF, 1) == 0 and lib.k_vmap_find_gap(m, 0, 0) == 0


def test_check_and_span() -> None:
    lib, m = kmod().lib, vmap()
    lib.k_vmap_add(m, BASE, 0x2000, 0, 0)                        # text (read-only)
    lib.k_vmap_add(m, BASE + 0x2000, 0x1000, 1, 0)               # data, adjacent
    lib.k_vmap_add(m, BASE + 0x5000, 0x1000, 1, 1)               # after a hole
    check, span = lib.k_uaccess_check, lib.k_uaccess_span
    assert check(m, BASE + 0x1FF0, 0x20, 0) == 0                 # across the seam
    assert check(m, BASE + 0x1FF0, 0x20, 1) == -EFAULT           # text is not writable
    assert check(m, BASE + 0x2FF0, 0x20, 0) == -EFAULT           # into the hole
    assert check(m, BASE + 0x2FF0, 0x10, 1) == 0
    assert check(m, 0x1000, 0, 1) == 0                           # len 0
    assert check(m, 0xC0001000, 4, 0) == -EFAULT                 # the kernel half
    assert check(m, 0xFFFFFFF0, 0x20, 0) == -EFAULT              # wraps around
    assert check(m, BASE + 0x5000, 0xFFFFFFFF, 0) == -EFAULT
    assert span(m, BASE + 0x1000, 0x10000, 0) == 0x2000
    assert span(m, BASE + 0x1000, 0x10000, 1) == 0
    assert span(m, BASE + 0x2800, 0x100, 1) == 0x100
    assert span(m, BASE + 0x5FFF, 0xFFFFFFFF, 1) == 1
    assert span(m, BASE + 0x3000, 10, 0) == 0
    assert span(m, 0xFFFFFFFF, 0xFFFFFFFF, 0) == 0

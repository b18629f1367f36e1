"""proc/elf.c through the kernel-host build, against the rules in its header comment and the
fuzz oracle (plugins.kernel.fuzzing.elf_oracle): the seed executables are accepted with the
expected segments, and each rule refuses an image that breaks only it."""

from __future__ import annotations

import struct
import sys
from collections.abc import Callable

import pytest
from test_host_common import ROOT, kmod

from plugins.kernel.fuzzing import elf_oracle

sys.path.insert(0, str(ROOT / "corpora" / "kernel"))
import make_seeds  # noqa: E402

ENOEXEC, E2BIG = 8, 7
BASE, TOP = 0x40000000, 0xC0000000


def parse(image: bytes, lo: int = BASE, hi: int = TOP) -> int | tuple:
    ffi, lib = kmod().ffi, kmod().lib
    info = ffi.new("struct k_elf_info *")
    rc = lib.k_elf_parse(image, len(image), lo, hi, info)
    if rc:
        return rc
    return info.entry, tuple((s.vaddr, s.memsz, s.offset, s.filesz, s.skew, s.writable,
                              s.executable) for s in info.segs[0:info.nsegs])


def image(phdrs: list[tuple[int, ...]], entry: int = BASE + 0x54, size: int = 0x200) -> bytes:
    return make_seeds.elf_image(phdrs, entry, make_seeds.EXIT0, size=size)


TEXT = (1, 0, BASE, 0x100, 0x100, 5)


def test_seed_programs() -> None:
    seeds = make_seeds.elf_seeds()
    assert parse(seeds["exit0.bin"][0]) == (BASE + 84, ((BASE, 96, 0, 96, 0, 0, 1),))
    entry, segs = parse(seeds["text-bss.bin"][0])
    assert segs[1] == (BASE + 0x1000, 0x2080, 0x80, 8, 0x80, 1, 0)
    assert parse(seeds["nine-loads.bin"][0]) == -E2BIG
    for data, _ in seeds.values():
        assert parse(data) == elf_oracle(data)


def _patch(offset: int, fmt: str, value: int) -> Callable[[bytes], bytes]:
    def apply(data: bytes) -> bytes:
        out = bytearray(data)
        struct.pack_into(fmt, out, offset, value)
        return bytes(out)
    return apply


HEADER_BREAKS = {
    "magic": _patch(0, "<B", 0x7E), "class64": _patch(4, "<B", 2), "big-endian": _patch(5, "<B", 2),
    "ident-version": _patch(6, "<B", 0), "ET_DYN": _patch(16, "<H", 3),
    "x86-64": _patch(18, "<H", 62), "version": _patch(20, "<I", 0), "ehsize": _patch(40, "<H", 64),
    "phentsize": _patch(42, "<H", 56), "no-phdrs": _patch(44, "<H", 0),
    "PN_XNUM": _patch(44, "<H", 0xFFFF), "table-outside": _patch(28, "<I", 0x1F0),
    "table-wraps": _patch(28, "<I", 0xFFFFFFF0),
}


@pytest.mark.parametrize("rule", sorted(HEADER_BREAKS))
def test_header_rules(rule: str) -> None:
    good = image([TEXT])
    assert isinstance(parse(good), tuple)
    bad = HEADER_BREAKS[rule](good)
    assert parse(bad) == -ENOEXEC == elf_oracle(bad)


SEGMENT_BREAKS = {
    "filesz>memsz": [(1, 0, BASE, 0x100, 0xFF, 5)],
    "past-eof": [(1, 0x100, BASE + 0x100, 0x101, 0x101, 5), TEXT[:2] + (BASE + 0x1000,) + TEXT[3:]],
    "offset-wraps": [TEXT, (1, 0xFFFFFF00, BASE + 0x1F00, 0x200, 0x200, 6)],
    "incongruent": [(1, 0x10, BASE, 0x100, 0x100, 5)],
    "below-user": [(1, 0, BASE - 0x1000, 0x100, 0x100, 5)],
    "past-top": [TEXT, (1, 0, TOP - 0x1000, 0x10, 0x1001, 6)],
    "memsz-wraps": [TEXT, (1, 0x80, BASE + 0x1080, 0, 0xFFFFFFF0, 6)],
    "overlap": [TEXT, (1, 0, BASE + 0x0, 0x10, 0x10, 6)],
    "same-page": [TEXT, (1, 0x180, BASE + 0x180, 0x10, 0x10, 6)],
    "interp": [TEXT, (3, 0x100, 0, 0x10, 0x10, 4)],
    "dynamic": [TEXT, (2, 0x100, 0, 0x10, 0x10, 4)],
    "entry-outside": [(1, 0, BASE, 0x40, 0x40, 5)],
    "entry-not-exec": [(1, 0, BASE, 0x100, 0x100, 6)],
}


@pytest.mark.parametrize("rule", sorted(SEGMENT_BREAKS))
def test_segment_rules(rule: str) -> None:
    bad = image(SEGMENT_BREAKS[rule])
    assert parse(bad) == -ENOEXEC == elf_oracle(bad)


def test_empty_loads_are_skipped_and_other_types_ignored() -> None:
    data = image([(1, 0x1F0, BASE + 0x5000, 0, 0, 6), TEXT, (4, 0, 0, 0, 0, 0),
                  (0x6474E551, 0, 0, 0, 0, 6)])
    assert parse(data) == (BASE + 0x54, ((BASE, 0x100, 0, 0x100, 0, 0, 1),)) == elf_oracle(data)


def test_user_range_is_a_parameter_and_short_inputs_are_refused() -> None:
    good = image([TEXT])
    assert parse(good, BASE + 0x1000, TOP) == -ENOEXEC
    assert parse(good, BASE, BASE + 0x1000) != -ENOEXEC
    assert parse(good, BASE, BASE + 0xFFF) == -ENOEXEC
    for n in range(0, 60, 7):
        assert parse(good[:n]) == -ENOEXEC == elf_oracle(good[:n])

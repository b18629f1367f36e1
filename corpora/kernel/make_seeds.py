"""Write the seed corpora of the kernel fuzz targets (plugins/kernel/fuzzing.py).

Usage::

    .venv/bin/python corpora/kernel/make_seeds.py [OUT_DIR]

OUT_DIR defaults to this script's folder; ``frames/``, ``heap/``, ``runq/``, ``elf/``,
``labfs/`` and ``uaccess/`` are rewritten there, each with a README.md describing every seed.
Everything is constructed here, deterministically:

- the four op-program targets get short programs written with the encoders below, which
  mirror the readers of fuzzing.py operand by operand (a test replays every seed and checks
  it runs clean and does what its description says);
- ``elf`` gets tiny i386 executables built byte by byte (a one-segment ``exit(0)``, a text +
  data/bss program, one with a PT_GNU_STACK header to ignore, and one with nine loadable
  segments, the ``-E2BIG`` case);
- ``labfs`` gets images written by :func:`plugins.kernel.diskfs.image`.
"""

from __future__ import annotations

import shutil
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from plugins.kernel import diskfs  # noqa: E402

USER_BASE = 0x40000000
TARGET_NAMES = ("frames", "heap", "runq", "elf", "labfs", "uaccess")


def u8(v: int) -> bytes:
    return struct.pack("<B", v & 0xFF)


def u16(v: int) -> bytes:
    return struct.pack("<H", v & 0xFFFF)


def s16(v: int) -> bytes:
    return struct.pack("<h", v)


def u32(v: int) -> bytes:
    return struct.pack("<I", v & 0xFFFFFFFF)


# ------------------------------------------------------------------ frames programs

def fr_header(base: int, nframes: int) -> bytes:
    return u8(0x01) + u32(base) + u16(nframes)       # flags: align the base


def fr_rel(index: int, sub: int = 0) -> bytes:
    """An address base + index frames (+ sub bytes)."""
    return (u8(0x06) + s16(index) + u16(sub)) if sub else (u8(0x02) + s16(index))


def fr_raw(addr: int) -> bytes:
    return u8(0x00) + u32(addr)


def fr_handed(i: int) -> bytes:
    return u8(0x01) + u8(i)


def fr_reserve(addr: bytes, length: int) -> bytes:
    return u8(0) + addr + (u8(1) + u32(length) if length > 0xFFFF else u8(0) + u16(length))


FR_ALLOC, FR_COUNT = u8(1), u8(5)


def fr_run(n: int) -> bytes:
    return u8(2) + u8(1) + u16(n)


def fr_free(addr: bytes) -> bytes:
    return u8(3) + addr


def fr_used(addr: bytes) -> bytes:
    return u8(4) + addr


def frames_seeds() -> dict[str, tuple[bytes, str]]:
    boot = (fr_header(0x00100000, 256) + fr_reserve(fr_rel(0), 0x5000)
            + FR_ALLOC + FR_ALLOC + fr_run(8) + fr_used(fr_rel(5, 12)) + FR_COUNT
            + fr_free(fr_handed(0)) + fr_free(fr_handed(0)) + FR_ALLOC + fr_run(3)
            + fr_free(fr_rel(300)) + fr_used(fr_raw(0x1000)) + FR_COUNT)
    full = (fr_header(0x00400000, 40) + fr_run(40) + FR_ALLOC + fr_free(fr_handed(0))
            + fr_free(fr_rel(39)) + FR_ALLOC + FR_ALLOC + FR_COUNT)
    top = (fr_header(0xFFFF0000, 16) + fr_reserve(fr_raw(0xFFFFE000), 0x10000)
           + FR_ALLOC + fr_run(14) + fr_free(fr_handed(0)) + FR_COUNT)
    wrap = fr_header(0xFFFF0000, 17) + FR_ALLOC + fr_free(fr_raw(0xFFFF0000)) + FR_COUNT
    return {
        "boot.bin": (boot, "256 frames at 1 MiB: the kernel image reserved, allocs, a run of "
                     "8, double free, out-of-range free, is_used outside"),
        "exhaust.bin": (full, "40 frames all taken by one run, then alloc fails, frees and "
                        "allocs again (the hint wraps)"),
        "top.bin": (top, "16 frames ending exactly at 4 GiB, a reservation running past it"),
        "wrap.bin": (wrap, "17 frames from 0xffff0000 pass 4 GiB: init refuses, every op on "
                     "the empty allocator fails cleanly"),
    }


# -------------------------------------------------------------------- heap programs

def hp_header(initial: int, grow_pages: int, fail: bool = False) -> bytes:
    return u16(initial - 64) + u16(grow_pages * 1024) + u8(0xFF if fail else 0)


def hp_alloc(size: int) -> bytes:
    return u8(0) + u8(0) + u16(size)


def hp_calloc(n: int, size: int) -> bytes:
    return u8(1) + u8(n) + u16(size) + u8(0)


HP_CALLOC_OVERFLOW = u8(1) + u8(1) + u16(1) + u8(0xFF)
HP_ALLOC_HUGE = u8(0) + u8(0xFF) + u32(0xFFFFFFFF)   # << 31: far past the limit
HP_FREE_NULL = u8(5)


def hp_free(i: int) -> bytes:
    return u8(2) + u8(i)


def hp_bogus_inside(i: int, blocks: int) -> bytes:
    return u8(3) + u8(0) + u8(i) + u8(blocks - 1) + u8(1)


def hp_double(i: int) -> bytes:
    return u8(3) + u8(3) + u8(i)


def hp_size_raw(addr: int) -> bytes:
    return u8(4) + u8(2) + u32(addr) + u8(0)


def heap_seeds() -> dict[str, tuple[bytes, str]]:
    basic = (hp_header(256, 4) + hp_alloc(24) + hp_alloc(100) + hp_calloc(3, 40)
             + hp_alloc(1) + hp_free(1) + hp_alloc(64) + hp_free(0) + hp_free(0)
             + HP_FREE_NULL + hp_size_raw(0x1234))
    grow = (hp_header(128, 16) + b"".join(hp_alloc(1000 + 300 * i) for i in range(8))
            + hp_free(3) + hp_free(2) + hp_calloc(15, 500) + hp_alloc(2047) + hp_free(0))
    bogus = (hp_header(1024, 2) + hp_alloc(32) + hp_alloc(48) + hp_bogus_inside(0, 1)
             + hp_bogus_inside(1, 2) + hp_free(0) + hp_double(0) + HP_CALLOC_OVERFLOW
             + HP_ALLOC_HUGE + hp_alloc(16))
    nogrow = (hp_header(512, 8, fail=True) + hp_alloc(200) + hp_alloc(200) + hp_alloc(200)
              + hp_free(0) + hp_alloc(100) + hp_alloc(50))
    return {
        "basic.bin": (basic, "allocs, calloc, frees with merges, a stale double free, "
                      "free(NULL), size of a wild pointer"),
        "grow.bin": (grow, "a 128-byte heap grown page by page to 16 KiB by khost_heap_grow"),
        "bogus.bin": (bogus, "frees of pointers into payloads, a double free, calloc "
                      "overflow, an alloc far past the limit"),
        "nogrow.bin": (nogrow, "the grow callback refuses: allocation fails, frees make room"),
    }


# -------------------------------------------------------------------- runq programs

def rq_byte(op: int, queue: int) -> int:
    return next(b for b in range(256) if b % 6 == op and (b >> 3) & 1 == queue)


def rq(op: int, node: int = 0, queue: int = 0, prio: int | None = None) -> bytes:
    out = u8(rq_byte(op, queue)) + u8(node)
    return out + (u8(prio) if op == 0 else b"")


def runq_seeds() -> dict[str, tuple[bytes, str]]:
    fifo = (rq(0, 1, prio=2) + rq(0, 2, prio=2) + rq(0, 3, prio=0) + rq(1, 1) + rq(1, 2)
            + rq(1, 3) + rq(3) + rq(2) + rq(2) + rq(1, 1) + rq(2) + rq(2) + rq(5) + rq(2))
    remove = (rq(0, 4, prio=1) + rq(0, 5, prio=1) + rq(0, 6, prio=3) + rq(1, 4) + rq(1, 5)
              + rq(1, 6) + rq(4, 5) + rq(4, 5) + rq(4, 6, queue=1) + rq(1, 5, queue=1)
              + rq(1, 4) + rq(5) + rq(5, queue=1) + rq(2, queue=1) + rq(4, 6) + rq(2))
    bad = (rq(0, 7, prio=4) + rq(1, 7) + rq(0, 8, prio=5) + rq(1, 8) + rq(2) + rq(3)
           + rq(4, 9) + rq(0, 7, prio=3) + rq(1, 7) + rq(1, 7, queue=1) + rq(2, queue=1))
    return {
        "fifo.bin": (fifo, "priority order and FIFO within a level, a re-push, peek and count"),
        "remove.bin": (remove, "remove from the middle, twice, from the other queue; a node "
                       "moved between queues"),
        "invalid.bin": (bad, "bad priorities refused, pop/peek of empty queues, a double push "
                        "into the other queue"),
    }


# ----------------------------------------------------------------- uaccess programs

def ua_page(i: int, sub: int = 0) -> bytes:
    """USER_BASE + i pages (+ sub bytes)."""
    return (u8(5) + u16(i) + u16(sub)) if sub else (u8(4) + u16(i))


def ua_raw(addr: int) -> bytes:
    return u8(0) + u32(addr)


def ua_len_pages(n: int) -> bytes:
    return u8(3) + u16(n)


def ua_len(n: int) -> bytes:
    return u8(0) + u32(n)


def ua_add(addr: bytes, length: bytes, writable: bool, lazy: bool = False) -> bytes:
    return u8(0) + addr + length + u8(int(writable) | int(lazy) << 1)


def ua_check(addr: bytes, length: bytes, write: bool) -> bytes:
    return u8(1) + addr + length + u8(int(write))


def ua_span(addr: bytes, length: bytes, write: bool) -> bytes:
    return u8(2) + addr + length + u8(int(write))


def ua_lookup(addr: bytes) -> bytes:
    return u8(3) + addr


def ua_gap(addr: bytes, length: bytes) -> bytes:
    return u8(4) + addr + length


def uaccess_seeds() -> dict[str, tuple[bytes, str]]:
    proc = (ua_add(ua_page(0x8048), ua_len_pages(2), False)
            + ua_add(ua_page(0x804A), ua_len(0x1800), True)
            + ua_add(ua_raw(0xBFFF0000), ua_len_pages(16), True, lazy=True)
            + ua_check(ua_page(0x8048, 0x10), ua_len(0x2000), False)
            + ua_check(ua_page(0x8048, 0x10), ua_len(0x2000), True)
            + ua_check(ua_page(0x804B, 0xFF0), ua_len(0x20), False)
            + ua_span(ua_page(0x8049, 0xF00), ua_len(0x10000), True)
            + ua_span(ua_page(0x8049, 0xF00), ua_len(0x10000), False)
            + ua_lookup(ua_page(0x804A, 4)) + ua_lookup(ua_page(0x9000))
            + ua_gap(ua_page(0x8048), ua_len_pages(3)) + ua_gap(ua_raw(0), ua_len(1)))
    edges = (ua_add(ua_raw(0xBFFF0000), ua_len_pages(16), True)
             + ua_add(ua_raw(0xBFFFF000), ua_len_pages(2), True)
             + ua_add(ua_raw(0x3FFFF000), ua_len_pages(1), True)
             + ua_add(ua_page(1, 12), ua_len_pages(1), True)
             + ua_add(ua_page(3), ua_len(0), True)
             + ua_check(ua_raw(0xBFFFFF00), ua_len(0x100), True)
             + ua_check(ua_raw(0xBFFFFF00), ua_len(0x101), True)
             + ua_check(ua_raw(0xFFFFFFF0), ua_len(0x20), False)
             + ua_check(ua_raw(0xC0001000), ua_len(4), False)
             + ua_span(ua_raw(0xBFFFFFF0), ua_len(0xFFFFFFFF), False)
             + ua_gap(ua_raw(0xBFFF0000), ua_len_pages(1)))
    full = b"".join(ua_add(ua_page(2 * i), ua_len_pages(1), bool(i & 1)) for i in range(17))
    full += ua_gap(ua_page(0), ua_len_pages(2)) + ua_span(ua_page(0), ua_len(0x40000), False)
    return {
        "process.bin": (proc, "a program's text, data and lazy stack; checks across the "
                        "text/data seam, spans, lookups, gaps"),
        "edges.bin": (edges, "ranges at the top of user space, refused adds (overlap, below "
                      "the base, unaligned, empty), queries in the kernel half and wrapping"),
        "full.bin": (full, "the table filled to 16 ranges, the 17th refused with ENOMEM"),
    }


# ---------------------------------------------------------------------------- elf

EXIT0 = bytes.fromhex("b801000000" "bb00000000" "cd80")  # mov eax, 1; mov ebx, 0; int 0x80


def elf_image(phdrs: list[tuple[int, ...]], entry: int, body: bytes, size: int = 0) -> bytes:
    """ELF32 i386 ET_EXEC: header, program headers (type, offset, vaddr, filesz, memsz,
    flags), then body at offset 52 + 32 * len(phdrs), padded to size."""
    ident = b"\x7fELF\x01\x01\x01" + bytes(9)
    hdr = struct.pack("<16sHHIIIIIHHHHHH", ident, 2, 3, 1, entry, 52, 0, 0, 52, 32,
                      len(phdrs), 40, 0, 0)
    table = b"".join(struct.pack("<8I", t, off, va, va, fs, ms, fl, 0x1000)
                     for t, off, va, fs, ms, fl in phdrs)
    out = hdr + table + body
    return out + bytes(max(0, size - len(out)))


def elf_seeds() -> dict[str, tuple[bytes, str]]:
    one_len = 52 + 32 + len(EXIT0)
    one = elf_image([(1, 0, USER_BASE, one_len, one_len, 5)], USER_BASE + 84, EXIT0)
    two_code = 52 + 64
    two = elf_image([(1, 0, USER_BASE, 0x80, 0x80, 5),
                     (1, 0x80, USER_BASE + 0x1080, 8, 0x2000, 6)],
                    USER_BASE + two_code, EXIT0, size=0x88)
    stack = elf_image([(1, 0, USER_BASE, 0x100, 0x100, 5), (0x6474E551, 0, 0, 0, 0, 6)],
                      USER_BASE + 52 + 64, EXIT0, size=0x100)
    nine = elf_image([(1, 0, USER_BASE + i * 0x1000, 0x10, 0x10, 5) for i in range(9)],
                     USER_BASE + 52 + 9 * 32, EXIT0, size=0x200)
    return {
        "exit0.bin": (one, "one R+X segment holding the whole file: exit(0)"),
        "text-bss.bin": (two, "text, then data with a 0x80 skew and 8 KiB of bss"),
        "gnu-stack.bin": (stack, "a PT_GNU_STACK header beside the text (ignored)"),
        "nine-loads.bin": (nine, "nine PT_LOAD segments: -E2BIG"),
    }


def labfs_seeds() -> dict[str, tuple[bytes, str]]:
    prog = elf_seeds()["exit0.bin"][0]
    small = diskfs.image({"/bin/true": prog, "/etc/motd": b"welcome to the lab\n"})
    mixed = diskfs.image({"/a": b"", "/data/odd": bytes(range(256)) * 2 + b"xyz",
                          "/data/sector": b"S" * 512, "/z": b"last"})
    many = diskfs.image({f"/f{i:02d}": bytes([i]) * i for i in range(12)})
    return {
        "bin-true.img": (small, "/bin/true (exit(0)) and /etc/motd"),
        "mixed.img": (mixed, "an empty file, a 515-byte file, exactly one sector, a tiny "
                      "last file"),
        "twelve.img": (many, "twelve small files: a directory of two sectors"),
        "empty.img": (diskfs.image({}), "no files at all"),
    }


GENERATORS = {"frames": frames_seeds, "heap": heap_seeds, "runq": runq_seeds,
              "elf": elf_seeds, "labfs": labfs_seeds, "uaccess": uaccess_seeds}


def main(out: Path) -> None:
    for name in TARGET_NAMES:
        folder = out / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        seeds = GENERATORS[name]()
        lines = [f"# `{name}` seeds", "", "Written by `corpora/kernel/make_seeds.py`.", ""]
        for fname, (data, what) in seeds.items():
            (folder / fname).write_bytes(data)
            lines.append(f"- `{fname}`: {what}.")
        (folder / "README.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent)

"""The kernel's fuzz targets: its hardware-free subsystems (``kernel-host``, the cffi build of
``targets/kernel`` with ``-DKERNEL_HOST``) driven in process.

Four stateful targets read their input as a program of operations (:class:`Ops`: one opcode
byte, then little-endian operands; a truncated operand reads as zeros) and run it against the
C code and a Python model in lock step; the first disagreement, or a failed ``*_check`` of the
structure after any operation, is the outcome's ``violation`` (the ``no_violation`` invariant):

- ``frames``: a frame allocator over a fuzzed base and frame count (init refusals included),
  then reserve / alloc / alloc_run / free / is_used / free_count against a bitmap model of the
  documented policy (next-fit alloc from the hint, first-fit runs); ``k_frames_check`` after
  every operation, and the whole bitmap compared at the end.
- ``heap``: a heap in a host buffer growing inside it (``khost_heap_grow``), alloc / calloc /
  free of live blocks / frees of pointers it never returned or already freed / k_heap_size;
  live blocks never overlap, keep their contents (each is filled with its own byte and checked
  before it is freed; calloc's are zero), an allocation fails only when growth has no room
  for it, and ``k_heap_check`` passes after every operation.
- ``runq``: two run queues and a pool of nodes with fuzzed priorities (invalid ones included):
  push / pop / peek / remove (also from the wrong queue) against per-priority FIFOs.
- ``uaccess``: ``k_vmap_add`` sequences and ``k_uaccess_check`` / ``k_uaccess_span`` /
  ``k_vmap_lookup`` / ``k_vmap_find_gap`` queries against an interval model, with addresses
  around range edges, in the kernel half and near 4 GiB (wrap-around).

Two parsers are compared with an oracle instead (both refuse, or both give the same result):

- ``elf``: ``k_elf_parse`` on the raw input (user range [K_USER_BASE, K_USER_TOP)) against
  :func:`elf_oracle`, this module's own implementation of the rules of ``proc/elf.c``; the
  output is the entry and the segment list, or the error number.
- ``labfs``: the input as a disk: mount, every entry, a lookup of every name, and every file
  read whole (in uneven pieces) and its CRC checked, against :func:`plugins.kernel.diskfs.parse`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import lab
from lab.fuzz.programs import Outcome, no_violation
from lab.fuzz.programs import Program as Ops
from plugins.kernel import diskfs

RECIPE = "kernel-host"
EINVAL, ENOMEM, EFAULT, ENOEXEC, E2BIG, ENOENT = 22, 12, 14, 8, 7, 2
PAGE = 4096
MASK32 = 0xFFFFFFFF
USER_BASE, USER_TOP, VMAP_MAX = 0x40000000, 0xC0000000, 16


class Diverged(Exception):
    """Raised inside a program run at the first disagreement (becomes Outcome.violation)."""


def expect(what: str, got: Any, want: Any) -> None:
    if got != want:
        raise Diverged(f"{what}: C gave {got!r}, the model {want!r}")


def _run(program: Callable[[Ops], int], data: bytes) -> Outcome:
    ops = Ops(data)
    try:
        steps = program(ops)
    except Diverged as exc:
        return Outcome(-1, str(exc))
    return Outcome(steps, None)


def _module(ctx: lab.LoadContext) -> tuple[Any, Any]:
    mod = ctx.build(RECIPE)
    return mod.ffi, mod.lib


# ------------------------------------------------------------------------------ frames

class FrameModel:
    """The documented policy of mm/frame.c over a bytearray (1 = used)."""

    def __init__(self, base: int, nframes: int) -> None:
        self.base, self.n = base, nframes
        self.used = bytearray(nframes)
        self.hint = 0

    @property
    def nfree(self) -> int:
        return self.used.count(0)

    def index(self, addr: int) -> int | None:
        if self.n == 0 or addr < self.base:
            return None
        i = (addr - self.base) // PAGE
        return i if i < self.n else None

    def reserve(self, addr: int, length: int) -> int:
        if self.n == 0 or length == 0:
            return 0
        lo, hi = max(addr, self.base), min(addr + length, self.base + self.n * PAGE)
        if lo >= hi:
            return 0
        first, last = (lo - self.base) // PAGE, (hi - self.base - 1) // PAGE
        newly = self.used[first:last + 1].count(0)
        self.used[first:last + 1] = b"\1" * (last + 1 - first)
        return newly

    def alloc(self) -> int:
        if self.n == 0:
            return 0
        i = self.used.find(0, self.hint)
        if i < 0:
            i = self.used.find(0, 0, self.hint)
        if i < 0:
            return 0
        self.used[i] = 1
        self.hint = i + 1 if i + 1 < self.n else 0
        return self.base + i * PAGE

    def alloc_run(self, k: int) -> int:
        if k == 0 or k > self.n:
            return 0
        i = self.used.find(bytes(k))
        if i < 0:
            return 0
        self.used[i:i + k] = b"\1" * k
        return self.base + i * PAGE

    def free(self, addr: int) -> int:
        i = self.index(addr)
        if addr % PAGE or i is None or not self.used[i]:
            return -EINVAL
        self.used[i] = 0
        return 0

    def is_used(self, addr: int) -> int:
        i = self.index(addr)
        return -EINVAL if i is None else self.used[i]


BITS = bytes.maketrans(b"\0\1", b"01")


def frames_init_ok(base: int, nframes: int) -> bool:
    return base != 0 and base % PAGE == 0 and nframes != 0 and base + nframes * PAGE <= 1 << 32


def _load_frames(ctx: lab.LoadContext) -> Callable[[bytes], Outcome]:
    ffi, lib = _module(ctx)

    def program(ops: Ops) -> int:
        flags, base, nframes = ops.u8(), ops.u32(), ops.u16()
        if flags & 3:
            base &= ~(PAGE - 1)                      # mostly aligned bases
        if flags & 0x60 != 0x60:
            nframes %= 300                           # mostly small allocators
        words = (nframes + 31) // 32
        bitmap = ffi.new("uint32_t[]", max(words, 1))
        fa = ffi.new("struct k_frames *")
        no_bitmap = (flags & 0x18) == 0x18                 # now and then a NULL bitmap
        rc = lib.k_frames_init(fa, base, nframes, ffi.NULL if no_bitmap else bitmap)
        ok = frames_init_ok(base, nframes) and not no_bitmap
        expect(f"init(base={base:#x}, nframes={nframes})", rc, 0 if ok else -EINVAL)
        model = FrameModel(base, nframes) if ok else FrameModel(0, 0)
        handed: list[int] = []

        def addr() -> int:
            kind = ops.u8()
            if kind & 3 == 0:
                return ops.u32()
            if kind & 3 == 1 and handed:
                return (handed[ops.u8() % len(handed)] + (ops.u16() if kind & 4 else 0)) & MASK32
            a = model.base + ops.s16() * PAGE + (ops.u16() % PAGE if kind & 4 else 0)
            return a & MASK32

        steps = 0
        while ops.left():
            op, steps = ops.u8() % 6, steps + 1
            if op == 0:
                a = addr()
                n = ops.u32() if ops.u8() & 1 else ops.u16()
                expect(f"reserve({a:#x}, {n:#x})", lib.k_frames_reserve(fa, a, n),
                       model.reserve(a, n))
            elif op == 1:
                got = lib.k_frames_alloc(fa)
                expect("alloc", got, model.alloc())
                if got:
                    handed.append(got)
            elif op == 2:
                k = ops.u16() % 300 if ops.u8() & 7 else ops.u32()
                got = lib.k_frames_alloc_run(fa, k)
                expect(f"alloc_run({k})", got, model.alloc_run(k))
                if got:
                    handed.append(got)
            elif op == 3:
                a = addr()
                expect(f"free({a:#x})", lib.k_frames_free(fa, a), model.free(a))
            elif op == 4:
                a = addr()
                expect(f"is_used({a:#x})", lib.k_frames_is_used(fa, a), model.is_used(a))
            else:
                expect("free_count", lib.k_frames_free_count(fa), model.nfree)
            expect(f"k_frames_check after op {op}", lib.k_frames_check(fa), 0)
            expect("nfree", fa.nfree, model.nfree)
        if model.n:
            got = int.from_bytes(ffi.buffer(fa.bitmap, 4 * words), "little")
            want = int(bytes(model.used[::-1]).translate(BITS).decode(), 2)
            expect("bitmap", hex(got), hex(want))
        return steps

    return lambda data: _run(program, data)


# -------------------------------------------------------------------------------- heap

HEAP_BUFFER = 64 << 10


def _load_heap(ctx: lab.LoadContext) -> Callable[[bytes], Outcome]:
    ffi, lib = _module(ctx)
    raw = ffi.new("char[]", HEAP_BUFFER + 16)
    raw_addr = int(ffi.cast("uintptr_t", raw))
    start = (raw_addr + 15) & ~15
    buf = memoryview(ffi.buffer(raw))[start - raw_addr:]  # the heap's bytes; keeps raw alive
    grow = lib.khost_heap_grow_fn()

    def ptr(a: int) -> Any:
        return ffi.cast("void *", a)

    def program(ops: Ops) -> int:
        initial = 64 + ops.u16() % 8192
        limit = start + min(HEAP_BUFFER, initial + ops.u16() * 4)
        arena = ffi.new("struct khost_arena *", {"max_end": limit, "fail": ops.u8() == 0xFF})
        h = ffi.new("struct k_heap *")
        expect("init", lib.k_heap_init(h, start, initial, limit, grow, arena), 0)
        live: dict[int, tuple[int, int]] = {}        # payload address -> (size asked, fill)
        freed: list[int] = []
        serial = 0
        steps = 0

        def place(p: int, size: int, what: str, zero: bool) -> None:
            nonlocal serial
            if p == 0:
                return
            usable = lib.k_heap_size(h, ptr(p))
            if p % 16 or usable < size or usable % 16 or not start <= p < p + usable <= h.end:
                raise Diverged(f"{what}: block {p - start:#x}+{usable} for {size} bytes")
            for q in live:
                qend = q + lib.k_heap_size(h, ptr(q))
                if p < qend and q < p + usable:
                    raise Diverged(f"{what}: block {p - start:#x} overlaps {q - start:#x}")
            off = p - start
            if zero and buf[off:off + size] != bytes(size):
                raise Diverged(f"{what}: calloc'd block {off:#x} is not zeroed")
            serial += 1
            fill = serial & 0xFF or 1
            buf[off:off + size] = bytes([fill]) * size
            live[p] = (size, fill)

        def must_fit(size: int) -> bool:
            """Whether growth alone has room for the block (header and footer: 32 bytes)."""
            return 0 < size and not arena.fail and limit - h.end >= -(-size // 16) * 16 + 32

        def bogus() -> int:
            kind = ops.u8() % 4
            if kind == 0 and live:
                p = list(live)[ops.u8() % len(live)]
                return p + 16 * (1 + ops.u8() % 8) * (1 if ops.u8() & 1 else -1)
            if kind == 1:
                return start + ops.u16() % (HEAP_BUFFER + 64)
            if kind == 2:
                return ops.u32() << (ops.u8() % 33)
            return freed[ops.u8() % len(freed)] if freed else start + 16

        while ops.left():
            op, steps = ops.u8() % 6, steps + 1
            if op == 0:
                big = ops.u8()
                size = ops.u16() % 2048 if big < 0xF0 else (ops.u32() << (big & 31))
                must = must_fit(size)
                p = int(ffi.cast("uintptr_t", lib.k_heap_alloc(h, size)))
                if size == 0 or size > limit - start:
                    expect(f"alloc({size})", p, 0)
                elif must and p == 0:
                    raise Diverged(f"alloc({size}) failed with {limit - h.end} bytes to grow")
                place(p, size, f"alloc({size})", False)
            elif op == 1:
                n, size = ops.u8() % 16, ops.u16() % 512
                if ops.u8() == 0xFF:
                    n, size = 1 << 62, 8                 # n * size overflows size_t
                must = must_fit(n * size)
                p = int(ffi.cast("uintptr_t", lib.k_heap_calloc(h, n, size)))
                if n * size == 0 or n * size > limit - start:
                    expect(f"calloc({n}, {size})", p, 0)
                elif must and p == 0:
                    raise Diverged(f"calloc({n}, {size}) failed with {limit - h.end} to grow")
                place(p, n * size, f"calloc({n}, {size})", True)
            elif op == 2 and live:
                p = list(live)[ops.u8() % len(live)]
                size, fill = live.pop(p)
                if buf[p - start:p - start + size] != bytes([fill]) * size:
                    raise Diverged(f"block {p - start:#x} ({size} bytes) lost its contents")
                expect(f"free({p - start:#x})", lib.k_heap_free(h, ptr(p)), 0)
                freed.append(p)
            elif op == 3:
                p = bogus() & 0xFFFFFFFFFFFFFFFF
                want = 0 if p == 0 else -EINVAL
                if p not in live:
                    expect(f"free(bogus {p:#x})", lib.k_heap_free(h, ptr(p)), want)
            elif op == 4:
                p = bogus() & 0xFFFFFFFFFFFFFFFF
                if p not in live:
                    expect(f"size(bogus {p:#x})", lib.k_heap_size(h, ptr(p)), 0)
            elif op == 5:
                expect("free(NULL)", lib.k_heap_free(h, ffi.NULL), 0)
            expect(f"k_heap_check after op {op}", lib.k_heap_check(h), 0)
            expect("nblocks", h.nblocks, len(live))
            expect("used", h.used, sum(lib.k_heap_size(h, ptr(p)) for p in live))
        return steps

    return lambda data: _run(program, data)


# -------------------------------------------------------------------------------- runq

NPRIO, NODES = 4, 12


def _load_runq(ctx: lab.LoadContext) -> Callable[[bytes], Outcome]:
    ffi, lib = _module(ctx)

    def program(ops: Ops) -> int:
        queues = [ffi.new("struct k_runq *") for _ in range(2)]
        for q in queues:
            lib.k_runq_init(q)
        pool = ffi.new("struct k_runq_node[]", NODES)
        addr = {int(ffi.cast("uintptr_t", pool + i)): i for i in range(NODES)}
        model = [[[] for _ in range(NPRIO)] for _ in range(2)]   # queue -> prio -> FIFO
        where: dict[int, int] = {}                               # node -> queue holding it
        prio = [0] * NODES

        def node_id(p: Any) -> int | None:
            return None if p == ffi.NULL else addr[int(ffi.cast("uintptr_t", p))]

        def head(qi: int) -> int | None:
            return next((fifo[0] for fifo in model[qi] if fifo), None)

        steps = 0
        while ops.left():
            b, steps = ops.u8(), steps + 1
            op, qi, i = b % 6, (b >> 3) & 1, ops.u8() % NODES
            q = queues[qi]
            if op == 0 and i not in where:
                prio[i] = ops.u8() % (NPRIO + 2)
                pool[i].prio = prio[i]
            elif op == 1:
                ok = i not in where and prio[i] < NPRIO
                expect(f"push(q{qi}, n{i} prio {prio[i]})", lib.k_runq_push(q, pool + i),
                       0 if ok else -EINVAL)
                if ok:
                    model[qi][prio[i]].append(i)
                    where[i] = qi
            elif op == 2:
                want = head(qi)
                expect(f"pop(q{qi})", node_id(lib.k_runq_pop(q)), want)
                if want is not None:
                    model[qi][prio[want]].pop(0)
                    del where[want]
                    expect(f"n{want}.queued after pop", pool[want].queued, 0)
            elif op == 3:
                expect(f"peek(q{qi})", node_id(lib.k_runq_peek(q)), head(qi))
            elif op == 4:
                ok = where.get(i) == qi
                expect(f"remove(q{qi}, n{i})", lib.k_runq_remove(q, pool + i),
                       0 if ok else -EINVAL)
                if ok:
                    model[qi][prio[i]].remove(i)
                    del where[i]
            elif op == 5:
                expect(f"count(q{qi})", lib.k_runq_count(q), sum(map(len, model[qi])))
            for k, qq in enumerate(queues):
                expect(f"k_runq_check(q{k}) after op {op}", lib.k_runq_check(qq), 0)
        for k in range(2):
            got = []
            while (n := node_id(lib.k_runq_pop(queues[k]))) is not None:
                got.append(n)
            expect(f"drain(q{k})", got, [n for fifo in model[k] for n in fifo])
        return steps

    return lambda data: _run(program, data)


# ----------------------------------------------------------------------------- uaccess

def _round_page(n: int) -> int:
    return -(-n // PAGE) * PAGE


class VmapModel:
    """Disjoint ranges (start, end, writable, lazy) as a sorted list."""

    def __init__(self) -> None:
        self.r: list[tuple[int, int, int, int]] = []

    def add(self, start: int, length: int, writable: int, lazy: int) -> int:
        end = start + _round_page(length)
        if start % PAGE or length == 0 or start < USER_BASE or end > USER_TOP:
            return -EINVAL
        if any(start < e and s < end for s, e, _, _ in self.r):
            return -EINVAL
        if len(self.r) >= VMAP_MAX:
            return -ENOMEM
        self.r = sorted([*self.r, (start, end, int(bool(writable)), int(bool(lazy)))])
        return 0

    def lookup(self, addr: int) -> tuple[int, int, int, int] | None:
        return next((r for r in self.r if r[0] <= addr < r[1]), None)

    def reach(self, addr: int, limit: int, write: int) -> int:
        cur = addr
        while cur < limit:
            r = self.lookup(cur)
            if r is None or (write and not r[2]):
                break
            cur = r[1]
        return min(cur, limit)

    def check(self, addr: int, length: int, write: int) -> int:
        if length == 0:
            return 0
        if addr + length > 1 << 32:
            return -EFAULT
        return 0 if self.reach(addr, addr + length, write) == addr + length else -EFAULT

    def span(self, addr: int, most: int, write: int) -> int:
        return self.reach(addr, addr + most, write) - addr

    def find_gap(self, hint: int, length: int) -> int:
        if length == 0:
            return 0
        size = _round_page(length)
        lo = max(_round_page(hint), USER_BASE)
        for at in sorted({lo, *(e for _, e, _, _ in self.r if e >= lo)}):
            if at + size <= USER_TOP and not any(at < e and s < at + size
                                                 for s, e, _, _ in self.r):
                return at
        return 0


def _load_uaccess(ctx: lab.LoadContext) -> Callable[[bytes], Outcome]:
    ffi, lib = _module(ctx)

    def program(ops: Ops) -> int:
        m = ffi.new("struct k_vmap *")
        lib.k_vmap_init(m)
        model = VmapModel()

        def addr() -> int:
            kind = ops.u8() % 6
            if kind == 0:
                return ops.u32()
            if kind == 1 and model.r:
                s, e, _, _ = model.r[ops.u8() % len(model.r)]
                return ((s, e)[ops.u8() & 1] + ops.s16()) & MASK32
            if kind == 2:
                return (USER_TOP + ops.s16()) & MASK32
            if kind == 3:
                return (MASK32 - ops.u16()) & MASK32
            return (USER_BASE + ops.u16() * PAGE + (ops.u16() if kind == 5 else 0)) & MASK32

        def length() -> int:
            kind = ops.u8() % 4
            if kind == 0:
                return ops.u32()
            if kind == 1:
                return ops.u8()
            return ops.u16() * (PAGE if kind == 3 else 1)

        steps = 0
        while ops.left():
            op, steps = ops.u8() % 5, steps + 1
            if op == 0:
                a, n, flags = addr(), length(), ops.u8()
                expect(f"vmap_add({a:#x}, {n:#x})",
                       lib.k_vmap_add(m, a, n, flags & 1, flags & 2),
                       model.add(a, n, flags & 1, flags & 2))
            elif op == 1:
                a, n, w = addr(), length(), ops.u8() & 1
                expect(f"uaccess_check({a:#x}, {n:#x}, w={w})",
                       lib.k_uaccess_check(m, a, n, w), model.check(a, n, w))
            elif op == 2:
                a, n, w = addr(), length(), ops.u8() & 1
                expect(f"uaccess_span({a:#x}, {n:#x}, w={w})",
                       lib.k_uaccess_span(m, a, n, w), model.span(a, n, w))
            elif op == 3:
                a = addr()
                r = lib.k_vmap_lookup(m, a)
                got = None if r == ffi.NULL else (r.start, r.end, r.writable, r.lazy)
                expect(f"vmap_lookup({a:#x})", got, model.lookup(a))
            else:
                a, n = addr(), length()
                expect(f"vmap_find_gap({a:#x}, {n:#x})", lib.k_vmap_find_gap(m, a, n),
                       model.find_gap(a, n))
            got = [(m.r[i].start, m.r[i].end, m.r[i].writable, m.r[i].lazy)
                   for i in range(m.n)]
            expect("ranges", got, model.r)
        return steps

    return lambda data: _run(program, data)


# --------------------------------------------------------------------------------- elf

EHDR = struct.Struct("<16sHHIIIIIHHHHHH")
PHDR = struct.Struct("<8I")
PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3
ElfResult = int | tuple[int, tuple[tuple[int, ...], ...]]
"""``-errno``, or (entry, segments as (vaddr, memsz, offset, filesz, skew, writable, exec))."""


def elf_oracle(data: bytes, user_lo: int = USER_BASE, user_hi: int = USER_TOP) -> ElfResult:
    """The rules of proc/elf.c (its header comment), written independently."""
    if len(data) < 52:
        return -ENOEXEC
    (ident, e_type, machine, version, entry, phoff, _shoff, _flags, ehsize, phentsize, phnum,
     *_rest) = EHDR.unpack_from(data)
    if ident[:7] != b"\x7fELF\x01\x01\x01" or (e_type, machine, version) != (2, 3, 1):
        return -ENOEXEC
    if ehsize != 52 or phentsize != 32 or not 1 <= phnum < 0xFFFF or phoff + 32 * phnum > len(data):
        return -ENOEXEC
    phdrs = [PHDR.unpack_from(data, phoff + 32 * i) for i in range(phnum)]
    if any(p[0] in (PT_DYNAMIC, PT_INTERP) for p in phdrs):
        return -ENOEXEC
    loads = [p for p in phdrs if p[0] == PT_LOAD and (p[4] or p[5])]
    if len(loads) > 8:
        return -E2BIG
    segs: list[tuple[int, ...]] = []
    pages: list[tuple[int, int]] = []
    for _type, offset, vaddr, _paddr, filesz, memsz, flags, _align in loads:
        if filesz > memsz or offset + filesz > len(data) or vaddr % PAGE != offset % PAGE:
            return -ENOEXEC
        lo, hi = vaddr - vaddr % PAGE, _round_page(vaddr + memsz)
        if memsz + vaddr % PAGE > MASK32 or lo < user_lo or hi > user_hi:
            return -ENOEXEC
        if any(lo < e and s < hi for s, e in pages):
            return -ENOEXEC
        pages.append((lo, hi))
        segs.append((lo, memsz + vaddr % PAGE, offset, filesz, vaddr % PAGE,
                     int(bool(flags & 2)), int(bool(flags & 1))))
    if not any(s[6] and s[0] + s[4] <= entry < s[0] + s[1] for s in segs):
        return -ENOEXEC
    return entry, tuple(segs)


def _load_elf(ctx: lab.LoadContext) -> Callable[[bytes], ElfResult]:
    ffi, lib = _module(ctx)
    info = ffi.new("struct k_elf_info *")

    def parse(data: bytes) -> ElfResult:
        rc = lib.k_elf_parse(data, len(data), USER_BASE, USER_TOP, info)
        if rc != 0:
            return rc
        segs = tuple((s.vaddr, s.memsz, s.offset, s.filesz, s.skew, s.writable, s.executable)
                     for s in info.segs[0:info.nsegs])
        return info.entry, segs

    return parse


def _load_elf_oracle(ctx: lab.LoadContext) -> Callable[[bytes], ElfResult]:  # noqa: ARG001
    return elf_oracle


# ------------------------------------------------------------------------------- labfs

READ_PIECES = (1, 7, 512, 513, 4096, 1 << 20)
VIOLATION = "<violation>"
"""Key of the labfs target's output when the C reader contradicted itself (an entry it listed
but cannot look up or read): never a valid path, so the outputs differ from the oracle's."""


def _load_labfs(ctx: lab.LoadContext) -> Callable[[bytes], dict[str, bytes]]:
    ffi, lib = _module(ctx)
    read = lib.khost_disk_read_fn()

    def mount(data: bytes) -> dict[str, bytes]:
        try:
            return mount_all(data)
        except Diverged as exc:
            return {VIOLATION: str(exc).encode()}

    def mount_all(data: bytes) -> dict[str, bytes]:
        cdata = ffi.from_buffer(data)
        disk = ffi.new("struct khost_disk *", {"data": cdata, "len": len(data),
                                               "fail_after": -1})
        fs = ffi.new("struct k_labfs *")
        rc = lib.k_labfs_mount(fs, read, disk)
        if rc != 0:
            raise lab.Reject(f"mount: errno {-rc}")
        e, found = ffi.new("struct k_labfs_entry *"), ffi.new("struct k_labfs_entry *")
        out: dict[str, bytes] = {}
        for i in range(fs.nfiles):
            rc = lib.k_labfs_entry_at(fs, i, e)
            if rc != 0:
                raise Diverged(f"entry_at({i}) of a mounted image: errno {-rc}")
            name = ffi.string(e.name)
            rc = lib.k_labfs_lookup(fs, name, found)
            if rc != 0 or ffi.string(found.name) != name or found.start != e.start:
                raise Diverged(f"lookup({name!r}) does not find entry {i}: {rc}")
            piece = max(READ_PIECES[i % len(READ_PIECES)], e.size // 64)  # <= 64 calls
            buf = ffi.new("uint8_t[]", piece)
            chunks, off = [], 0
            while True:
                n = lib.k_labfs_read(fs, e, off, buf, piece)
                if n < 0:
                    raise Diverged(f"read({name!r}) inside a mounted image: errno {-n}")
                if n == 0:
                    break
                chunks.append(ffi.buffer(buf, n)[:])
                off += n
            contents = b"".join(chunks)
            if len(contents) != e.size:
                raise Diverged(f"{name!r}: read {len(contents)} of {e.size} bytes")
            if lib.k_labfs_crc32(0, contents, len(contents)) != e.crc:
                raise lab.Reject(f"{name!r}: data CRC mismatch")
            out[name.decode("ascii")] = contents
        for bad in (b"", b"/", b"/no/such/file", b"/" + b"x" * 60):
            rc = lib.k_labfs_lookup(fs, bad, found)
            want = -36 if len(bad) >= 48 else -ENOENT
            if bad.decode() not in out and rc != want:
                raise Diverged(f"lookup({bad!r}) gave {rc}, expected {want}")
        return out

    return mount


def _load_labfs_oracle(ctx: lab.LoadContext) -> Callable[[bytes], dict[str, bytes]]:  # noqa: ARG001
    def parse(data: bytes) -> dict[str, bytes]:
        try:
            return diskfs.parse(data)
        except diskfs.Corrupt as exc:
            raise lab.Reject(str(exc)) from None

    return parse


# ------------------------------------------------------------------------ declarations

def _program(name: str, load: Callable[[lab.LoadContext], Callable[[bytes], Outcome]],
             description: str, tokens: tuple[bytes, ...] = ()) -> lab.FuzzTarget:
    return lab.FuzzTarget(name=name, description=description, load=load,
                          invariants=(no_violation,), dictionary=tokens, max_len=4096,
                          recipe=RECIPE)


FRAMES = _program("frames", _load_frames, "frame allocator op sequences (init with fuzzed "
                  "base/count, reserve, alloc, alloc_run, free, is_used) vs a bitmap model; "
                  "k_frames_check after every op")
HEAP = _program("heap", _load_heap, "kernel heap in a host buffer with growth: alloc, calloc, "
                "frees (bogus and double ones too), sizes; contents preserved, k_heap_check "
                "after every op")
RUNQ = _program("runq", _load_runq, "two run queues and a node pool with fuzzed priorities: "
                "push/pop/peek/remove vs per-priority FIFOs; k_runq_check after every op")
UACCESS = _program("uaccess", _load_uaccess, "vmap_add sequences and uaccess_check/span, "
                   "lookup and find_gap queries vs an interval model (kernel addresses, "
                   "wrap-around)", (b"\x00\x00\x00\x40", b"\x00\x00\x00\xc0", b"\xff\xff\xff\xff"))
ELF = lab.FuzzTarget(
    name="elf", description="k_elf_parse on the raw bytes vs this module's Python reading of "
    "the same rules (entry, segments, or the error number)",
    load=_load_elf, oracle=_load_elf_oracle, max_len=4096, recipe=RECIPE,
    dictionary=(b"\x7fELF\x01\x01\x01", b"\x02\x00\x03\x00", b"\x01\x00\x00\x00",
                b"\x34\x00\x20\x00", b"\x00\x00\x00\x40", b"\x00\x10\x00\x00"))
LABFS = lab.FuzzTarget(
    name="labfs", description="the input as a LABFS disk: mount, every entry, lookups and "
    "whole-file reads through the read callback vs diskfs.parse",
    load=_load_labfs, oracle=_load_labfs_oracle, max_len=64 << 10, recipe=RECIPE,
    dictionary=(diskfs.MAGIC, b"\x01\x00\x00\x00", b"/bin/", b"\x00" * 16))

FUZZ_TARGETS = (FRAMES, HEAP, RUNQ, ELF, LABFS, UACCESS)

"""The ``syscalls`` fuzz target: programs of system calls run inside our kernel under QEMU.

Each input is a program for ``/bin/sysfuzz`` (``targets/kernel/user/sysfuzz.c``): records of
:data:`RECORD_SIZE` bytes, ``u32 nr, u32 a[5]`` little-endian, at most :data:`MAX_RECORDS`,
a trailing partial record ignored. The kernel gets ``nr % 32``. Arguments are decoded in the
guest: ``0xB0F0xxxx`` points into an 8 KiB scratch buffer at ``xxxx & 0x1FFF``;
``0xB0F1xxxx`` points to string ``xxxx % 13`` of :data:`STRINGS` (index 4 is 300 bytes with no
NUL at the end of the scratch buffer); a raw value inside sysfuzz's own image or stack moves
to an unmapped hole; anything else is passed raw. The guest skips or clamps the calls that
would make a correct kernel wait forever (see the C file's header).

A run boots ``kernel.elf`` with ``-initrd <program> -append "mode=fuzz"`` (the program is
Multiboot module 0, served as ``/dev/fuzzprog``); the kernel waits for every user process and
prints ``LAB FUZZ done calls=<n>`` (exit value 0), or ``LAB FUZZ hang <pids>`` (exit value 3)
when some are still alive after 5 s of guest time. :func:`kernel_survived` turns everything
else into a finding with a stable first phrase: ``kernel panic: <message>`` (numbers
replaced by ``N``), ``triple fault (guest reset)``, ``hang: guest killed at the timeout``,
``hang: user processes alive at the deadline``, ``fuzz run did not finish: ...``, and
``frame leak: ...`` when the physical frames in use (the kernel heap's own not counted) differ
from before the run once every process has exited (``leaked_frames=`` of the done line).

The decisions trust the exit value, never a line alone: a fuzz program can write any text to
the console (``LAB PANIC`` included), but only the kernel writes the isa-debug-exit port.
"""

from __future__ import annotations

import random
import re
import struct
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lab
from lab.qemu import QemuConfig, QemuResult, QemuSession, boot

RECIPE = "kernel-image"
RECORD = struct.Struct("<6I")
RECORD_SIZE = RECORD.size
MAX_RECORDS = 128
BOOT_TIMEOUT = 15.0
TAIL_LINES = 12
KCOV_PREFIX = "LAB KCOV "
HOST = "kernel-host"
EXIT_OK, EXIT_PANIC, EXIT_HANG = 0, 2, 3

# System call numbers (targets/kernel/sys/syscall_nr.h).
EXIT, WRITE, READ, SPAWN, FORK, WAIT, SLEEP, GETPID = 1, 2, 3, 4, 5, 6, 7, 8
MMAP, YIELD, OPEN, CLOSE, MUNMAP, UPTIME, SETPRIO = 9, 10, 11, 12, 13, 14, 15
EFAULT, ENOSYS = 14, 38

STRINGS = ("/bin/true", "/etc/motd", "/bin/sysfuzz", "", "<300 bytes, no NUL>",
           "/etc/pattern", "/dev/fuzzprog", "/no/such/file", "/bin/fault", "null",
           "/bin/usertest", "efault", "/bin/")


def scratch(offset: int = 0) -> int:
    """The argument value of a pointer into the guest's scratch buffer at ``offset``."""
    return 0xB0F00000 | (offset & 0x1FFF)


def string(name: str | int) -> int:
    """The argument value of a pointer to one of :data:`STRINGS` (by value or index)."""
    return 0xB0F10000 | (name if isinstance(name, int) else STRINGS.index(name))


def encode(calls: Iterable[Sequence[int]]) -> bytes:
    """A program from ``(nr, a0, ..., a4)`` tuples (missing arguments are 0; values are
    taken modulo 2**32)."""
    out = bytearray()
    for call in calls:
        words = [int(v) & 0xFFFFFFFF for v in call][:6]
        out += RECORD.pack(*(words + [0] * (6 - len(words))))
    return bytes(out)


def decode(data: bytes) -> list[tuple[int, ...]]:
    """The records a program holds, as the guest reads them (whole records, at most 128)."""
    n = min(len(data) // RECORD_SIZE, MAX_RECORDS)
    return [RECORD.unpack_from(data, i * RECORD_SIZE) for i in range(n)]


SEED_NOTES = {
    "getpid-write.bin": "getpid, uptime, a console write from a listed string, yield",
    "read-motd.bin": "open /etc/motd, read it into the scratch buffer, write it out, read at "
                     "the end, close twice, read a closed fd",
    "read-fuzzprog.bin": "read /dev/fuzzprog itself into the scratch buffer, then use its "
                         "bytes as a path for open and spawn",
    "fork-wait.bin": "fork: both run the rest; wait(-1) in the parent (the child skips it), "
                     "exit(5) in both",
    "spawn-true.bin": "spawn /bin/true and wait; spawn /bin/sysfuzz (it exits at once) and "
                      "/bin/fault null (killed); spawn a non-program and a 300-byte path",
    "mmap-munmap.bin": "mmap, a read into an unmapped region, partial and repeated munmap, "
                       "mmap of 0 and of a huge length (clamped to 1 MiB)",
    "bad-pointers.bin": "kernel address 0x00100000, NULL, 0xfffffff0+0x20 and an unterminated "
                        "string given to write, open, spawn, wait: -EFAULT / -ENAMETOOLONG",
    "sleep-yield.bin": "sleeps (one clamped to 20 ms), yields, setprio, unknown numbers",
}


def seed_programs() -> dict[str, bytes]:
    """A handful of meaningful programs, by file name (``corpora/kernel/syscalls``; each is
    described in :data:`SEED_NOTES`)."""
    kernel, null = 0x00100000, 0
    calls: dict[str, list[tuple[int, ...]]] = {
        "getpid-write.bin": [(GETPID,), (UPTIME,), (WRITE, 1, string("/etc/motd"), 9),
                             (YIELD,), (GETPID,)],
        "read-motd.bin": [(OPEN, string("/etc/motd")), (READ, 3, scratch(0), 64),
                          (WRITE, 1, scratch(0), 27), (READ, 3, scratch(64), 4096),
                          (CLOSE, 3), (READ, 3, scratch(0), 4), (CLOSE, 3)],
        "read-fuzzprog.bin": [(OPEN, string("/dev/fuzzprog")), (READ, 3, scratch(0), 8192),
                              (OPEN, scratch(0)), (SPAWN, scratch(4), 0), (CLOSE, 3)],
        "fork-wait.bin": [(FORK,), (GETPID,), (WAIT, 0xFFFFFFFF, scratch(16)),
                          (WAIT, 0xFFFFFFFF, 0), (EXIT, 5)],
        "spawn-true.bin": [(SPAWN, string("/bin/true"), string("")),
                           (WAIT, 0xFFFFFFFF, scratch(0)),
                           (SPAWN, string("/bin/sysfuzz"), string("/bin/true")),
                           (SPAWN, string("/bin/fault"), string("null")),
                           (WAIT, 0xFFFFFFFF, scratch(4)), (WAIT, 0xFFFFFFFF, scratch(8)),
                           (SPAWN, string("/etc/motd"), 0), (SPAWN, string(4), 0)],
        "mmap-munmap.bin": [(MMAP, 8192, 1), (MMAP, 4096, 0), (MMAP, 0, 1),
                            (READ, 3, 0x60000000, 16), (MUNMAP, 0x60000000, 4096),
                            (MUNMAP, 0x60001000, 4096), (MUNMAP, 0x60002000, 4096),
                            (MUNMAP, 0x60000000, 4096), (MMAP, 0xFFFFFFFF, 1)],
        "bad-pointers.bin": [(WRITE, 1, kernel, 16), (WRITE, 1, null, 16), (OPEN, kernel),
                             (OPEN, null), (SPAWN, kernel, 0),
                             (SPAWN, string("/bin/true"), kernel), (WAIT, 5, kernel),
                             (WRITE, 1, 0xFFFFFFF0, 0x20), (OPEN, string(4))],
        "sleep-yield.bin": [(SLEEP, 10), (YIELD,), (SLEEP, 1000), (UPTIME,), (SETPRIO, 0, 3),
                            (YIELD,), (SETPRIO, 0, 1), (SLEEP, 0), (0,),
                            (31, 1, 2, 3, 4, 5)],
    }
    return {name: encode(prog) for name, prog in calls.items()}


def write_seeds(folder: Path) -> list[Path]:
    """Write :func:`seed_programs` and a README.md noting each into ``folder`` (created,
    old ``*.bin`` removed); the seed files written."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.bin"):
        old.unlink()
    out = []
    lines = ["# `syscalls` seeds", "",
             "Written by `corpora/kernel/make_syscall_seeds.py` "
             "(`plugins.kernel.sysfuzz.seed_programs`).", ""]
    for name, data in sorted(seed_programs().items()):
        path = folder / name
        path.write_bytes(data)
        out.append(path)
        lines.append(f"- `{name}`: {SEED_NOTES[name]}.")
    (folder / "README.md").write_text("\n".join(lines) + "\n")
    return out


def random_program(rng: random.Random, records: int = 24) -> bytes:
    """A pseudo-random program that mostly picks valid numbers and decoded pointers."""
    def arg() -> int:
        kind = rng.randrange(6)
        if kind == 0:
            return scratch(rng.randrange(0x2000))
        if kind == 1:
            return string(rng.randrange(len(STRINGS)))
        if kind == 2:
            return rng.choice((0, 0x00100000, 0xFFFFFFF0, 0xC0000000, 0x7FFF0000, 0x60000000,
                               0xFFFFFFFF, 0x3FFFFFFF))
        if kind == 3:
            return rng.randrange(0x40)
        return rng.getrandbits(32)

    calls = [(rng.randrange(1, 17) if rng.random() < 0.9 else rng.getrandbits(32),
              *(arg() for _ in range(5))) for _ in range(records)]
    return encode(calls)


# ------------------------------------------------------------------------ running it

@dataclass(frozen=True)
class FuzzRun:
    """How one program ended: QEMU's ``outcome`` (``exit``, ``reset``, ``timeout``,
    ``crash``), the isa-debug-exit ``exit_value``, the kernel's ``panic`` message (when the
    exit value says panic), ``hang`` (the kernel reported live processes), ``done`` (its
    ``LAB FUZZ done`` line) and that line's ``leaked_frames``, the fuzzer's own counts
    (``calls=`` etc. of its summary line, empty when the first process did not finish), the
    per-call results when traced, the last serial lines, and ``kcov``, the guest's coverage
    bitmap (``LAB KCOV``, printed by the fuzz flavor of the image; empty otherwise)."""

    outcome: str
    exit_value: int | None
    panic: str | None
    hang: bool
    done: bool
    counts: tuple[tuple[str, int], ...]
    results: tuple[tuple[int, int, int, int | None], ...]
    tail: tuple[str, ...]
    leaked_frames: int = 0
    error: str = ""
    wall_s: float = 0.0
    kcov: bytes = b""

    def count(self, key: str) -> int | None:
        return dict(self.counts).get(key)


_COUNTS_RE = re.compile(r"LAB FUZZ (calls=\d+(?: \w+=\d+)*)$")
_RESULT_RE = re.compile(r"LAB FUZZ r (\d+) (\d+) (\d+) (-?\d+|skip)$")
_NUMBER_RE = re.compile(r"0x[0-9a-fA-F]+|\d+")
_SOURCE_RE = re.compile(r"(?:/[^\s/():]+)*/([^\s/():]+\.[chS])\b")
_LEAK_RE = re.compile(r"^LAB FUZZ done calls=\d+ leaked_frames=(-?\d+)")


def _leaked(lines: list[str]) -> int:
    for line in lines:
        m = _LEAK_RE.match(line)
        if m:
            return int(m.group(1))
    return 0


def _counts(lines: list[str]) -> tuple[tuple[str, int], ...]:
    for line in lines:
        m = _COUNTS_RE.search(line)  # console output of the program may precede it
        if m:
            pairs = (kv.split("=", 1) for kv in m.group(1).split())
            return tuple((k, int(v)) for k, v in pairs)
    return ()


def _results(lines: list[str]) -> tuple[tuple[int, int, int, int | None], ...]:
    out = []
    for line in lines:
        m = _RESULT_RE.search(line)  # a console write may precede it
        if m:
            ret = None if m.group(4) == "skip" else int(m.group(4))
            out.append((int(m.group(1)), int(m.group(2)), int(m.group(3)), ret))
    return tuple(out)


def summarize(result: QemuResult) -> FuzzRun:
    """The :class:`FuzzRun` of one boot's :class:`QemuResult` (any mode=fuzz or mode=panic
    boot)."""
    lines = result.lines()
    panic = None
    if result.outcome == "exit" and result.exit_value == EXIT_PANIC:
        found = [ln[len("LAB PANIC"):].strip() for ln in lines if ln.startswith("LAB PANIC")]
        panic = found[-1] if found else "(no LAB PANIC line)"
    exited = result.outcome == "exit"
    return FuzzRun(
        outcome=result.outcome, exit_value=result.exit_value, panic=panic,
        hang=exited and result.exit_value == EXIT_HANG,
        done=exited and result.exit_value == EXIT_OK and any(
            ln.startswith("LAB FUZZ done calls=") for ln in lines),
        counts=_counts(lines), results=_results(lines), tail=tuple(lines[-TAIL_LINES:]),
        leaked_frames=_leaked(lines) if exited and result.exit_value == EXIT_OK else 0,
        error=result.error, wall_s=result.wall_s, kcov=_kcov(lines))


def _kcov(lines: list[str]) -> bytes:
    found = [ln[len(KCOV_PREFIX):].strip() for ln in lines if ln.startswith(KCOV_PREFIX)]
    try:
        return bytes.fromhex(found[-1]) if found else b""
    except ValueError:  # a line cut short by the end of the run
        return b""


def panic_signature(message: str) -> str:
    """A panic message without its addresses and numbers (they vary between builds) and with
    source paths cut to their file name (they vary between checkouts)."""
    return " ".join(_NUMBER_RE.sub("N", _SOURCE_RE.sub(r"\1", message)).split())


def kernel_survived(data: bytes, out: FuzzRun) -> None:  # noqa: ARG001
    """Invariant: the kernel ran the program to ``LAB FUZZ done`` and exited 0."""
    tail = " | ".join(out.tail[-4:])
    if out.panic is not None:
        raise AssertionError(f"kernel panic: {panic_signature(out.panic)}")
    if out.outcome == "reset":
        raise AssertionError(f"triple fault (guest reset); serial: {tail}")
    if out.outcome == "timeout":
        raise AssertionError(f"hang: guest killed at the timeout; serial: {tail}")
    if out.hang:
        raise AssertionError(f"hang: user processes alive at the deadline; serial: {tail}")
    if not out.done:
        raise AssertionError(f"fuzz run did not finish: {out.outcome} exit value "
                             f"{out.exit_value}; serial: {tail}")
    if out.leaked_frames != 0:
        raise AssertionError(f"frame leak: frames in use changed by {out.leaked_frames} once "
                             "every process had exited")


class QemuFailed(RuntimeError):
    """QEMU itself failed (bad command line, missing file): not the guest's doing."""


class Runner:
    """Boots one program at a time against a built image (``art``: kernel.elf, disk.img).

    With ``feed`` (the ``kernel-host`` cffi module), the guest coverage each run printed goes
    into that module's libFuzzer counters (``khost_kcov_feed``), so libFuzzer keeps the
    programs that reach new kernel code."""

    def __init__(self, art: Path, timeout: float = BOOT_TIMEOUT, memory_mb: int = 128,
                 feed: Any = None) -> None:
        self.art = Path(art)
        self.timeout = timeout
        self.memory_mb = memory_mb  # e.g. 8 to reach the out-of-memory paths
        self.feed = feed
        self._dir = tempfile.TemporaryDirectory(prefix="lab-sysfuzz-")

    def __call__(self, data: bytes) -> FuzzRun:
        out = self.run(data)
        if self.feed is not None and out.kcov:
            self.feed.lib.khost_kcov_feed(out.kcov, len(out.kcov))
        return out

    def run(self, data: bytes, *, trace: bool = False, timeout: float | None = None,
            append: str | None = None) -> FuzzRun:
        """Boot with ``data`` as the program; ``append`` replaces the command line (e.g.
        ``mode=panic`` to check the detection). QEMU failing on its own (outcome ``crash``)
        raises :class:`QemuFailed`, a harness error: no input can cause it."""
        prog = Path(self._dir.name) / "prog.bin"
        prog.write_bytes(bytes(data))
        cmdline = append if append is not None else "mode=fuzz" + (" trace=1" if trace else "")
        config = QemuConfig(kernel=self.art / "kernel.elf", append=cmdline, initrd=prog,
                            disks=(self.art / "disk.img",), memory_mb=self.memory_mb,
                            timeout=self.timeout if timeout is None else timeout)
        result = boot(config, actions=ACTIONS)
        if result.outcome == "crash":
            raise QemuFailed(f"QEMU did not run the guest: {result.error or result.returncode}")
        return summarize(result)


def _screenshot(session: QemuSession, line: str) -> None:  # noqa: ARG001
    session.write_serial(b"\n")


ACTIONS: dict[str, Callable[[QemuSession, str], None]] = {"LAB SCREENSHOT": _screenshot}


def load(ctx: lab.LoadContext) -> Runner:
    """The function under test: builds ``kernel-image`` (in the fuzz flavor with guest
    coverage) and boots each input once, feeding the coverage to libFuzzer."""
    return Runner(ctx.build(RECIPE), feed=ctx.build(HOST))


def _dictionary() -> tuple[bytes, ...]:
    words = [scratch(0), scratch(0x1F00), string(0), string(1), string(4), 0x00100000,
             0xFFFFFFF0, 0xFFFFFFFF, 0x60000000, 0xC0000000]
    return tuple(struct.pack("<I", w) for w in words)


TARGET = lab.FuzzTarget(
    name="syscalls",
    description="programs of up to 128 system calls (nr, 5 arguments; pointers into a "
    "scratch buffer, known strings, or raw) run by /bin/sysfuzz inside our kernel under "
    "QEMU; the kernel must not panic, triple fault or hang",
    load=load, invariants=(kernel_survived,), dictionary=_dictionary(),
    max_len=MAX_RECORDS * RECORD_SIZE, timeout=60, recipe=RECIPE, native=False)

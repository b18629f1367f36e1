"""The Linux reference of the kernel system: Debian's kernel with a tiny initramfs.

The ``linux-initramfs`` recipe (:func:`build_linux`) compiles ``targets/kernel/linux``'s
``kbench.c`` (the benchmark program, statically linked with glibc) and ``true.c`` (a
libc-free ``/bin/true`` for the spawn loop), and packs them with ``busybox-static`` and a
shell ``/init`` into ``initramfs.cpio.gz`` (newc, written here: every entry owned by root,
timestamps 0, so the same inputs give the same bytes). It is booted with Debian's
``linux-image-amd64`` and the command line of :func:`linux_append` in the same QEMU as our
kernel (:mod:`lab.qemu`): either the bzImage itself (:func:`linux_kernel`) or, faster, the
same kernel decompressed at build time into ``vmlinux`` and entered through its PVH note
(:func:`linux_boot_kernel`; measured on a 2-core host: 1.3 s instead of 3.6 s to
``LAB READY`` under TCG, 0.75 G instead of 5.24 G guest TSC ticks under ``-icount
shift=0``, but no VGA text console).

In the guest, ``/init`` mounts ``/proc``, ``/sys`` and ``/dev`` (devtmpfs) and runs
``/kbench``, which reads ``lab.mode``, ``lab.bench`` and ``lab.iters`` from
``/proc/cmdline``, prints ``LAB READY`` and the ``KBENCH`` records on ttyS0 and ends the
machine through isa-debug-exit (value 0). Anything going wrong before that prints
``LAB PANIC <why>`` and powers off; a kernel panic reboots (``panic=-1``), which QEMU's
``-no-reboot`` turns into the ``reset`` outcome.
"""

from __future__ import annotations

import gzip
import lzma
import re
import shutil
import stat
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.errors import BuildError, LabError

KERNEL_GLOB = "vmlinuz-*"
BOOT_DIR = Path("/boot")
INSTALL_KERNEL = "apt-get install linux-image-amd64"
INSTALL_BUSYBOX = "apt-get install busybox-static"

MODES = ("bench", "boot")
"""``bench``: run the workloads of ``lab.bench``; ``boot``: reach ``LAB READY`` and stop."""

APPEND_BASE = (
    "console=ttyS0",  # records and kernel messages on the first serial port
    "quiet", "loglevel=3",  # errors only: every console byte is slow under TCG
    "panic=-1", "oops=panic",  # a panic reboots at once; QEMU -no-reboot ends with "reset"
    "nokaslr",  # same layout on every boot (determinism under -icount)
    "mitigations=off",  # no speculation workarounds: neither kernel under test has them
    "tsc=reliable", "no_timer_check",  # skip the TSC watchdog and the timer IRQ check
    "cryptomgr.notests",  # no crypto self-tests: halves the boot's guest instructions
    "rdinit=/init",
)
"""The fixed part of the kernel command line. Measured under ``-icount shift=0`` (guest
instructions plus idle virtual time to ``LAB READY``, 6.1.0-56, PVH boot): 0.75 G with all of
them; without ``cryptomgr.notests`` 1.63 G, without ``no_timer_check`` +12 M; ``quiet``,
``nokaslr``, ``tsc=reliable``, ``mitigations=off`` change it by less than 0.3% (they are
there for quiet consoles, the same layout on every TCG boot, a TSC clocksource that the
watchdog never replaces under TCG's jittery time, and no speculation workarounds, which
neither kernel under comparison should pay for). ``acpi=off`` costs +11%; ``pci=off``,
``noapic``, ``nosmp``, ``i8042.noaux``, ``random.trust_cpu=on``, ``audit=0``... change
nothing measurable."""

INIT_SCRIPT = """\
#!/bin/sh
# /init of the lab's Linux reference initramfs (plugins/kernel/linux_ref.py).
export PATH=/bin
panic() {
    echo "LAB PANIC $*"
    poweroff -f
    exit 1
}
mount -t proc proc /proc || panic "init: cannot mount /proc"
mount -t sysfs sysfs /sys || panic "init: cannot mount /sys"
mount -t devtmpfs devtmpfs /dev || panic "init: cannot mount /dev"
[ -x /kbench ] || panic "init: /kbench missing"
/kbench
panic "init: kbench returned with status $?"
"""

BUSYBOX_APPLETS = ("sh", "mount", "poweroff", "echo", "cat", "ls")


class LinuxMissingError(LabError):
    """No Debian kernel in /boot (the message names the package to install)."""


# ----------------------------------------------------------------------------------------
# Kernel and command line.
# ----------------------------------------------------------------------------------------


def _version_key(path: Path) -> tuple[Any, ...]:
    parts = re.split(r"(\d+)", path.name[len("vmlinuz-"):])
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts if p)


def linux_kernel(boot_dir: Path | None = None) -> Path:
    """The newest ``/boot/vmlinuz-*`` (by version), or :class:`LinuxMissingError` naming
    ``apt-get install linux-image-amd64``."""
    folder = BOOT_DIR if boot_dir is None else boot_dir
    found = sorted((p for p in folder.glob(KERNEL_GLOB) if p.is_file()), key=_version_key)
    if not found:
        raise LinuxMissingError(f"no Linux kernel in {folder} ({KERNEL_GLOB}); install one: "
                                f"{INSTALL_KERNEL}")
    return found[-1]


def linux_boot_kernel(artifact: Path | None = None, pvh: bool = True) -> Path:
    """The kernel file to pass to QEMU's ``-kernel``.

    With ``pvh`` and an artifact folder of :func:`build_linux` holding ``vmlinux`` (the same
    kernel, decompressed at build time, entered through its PVH note), that file: it skips
    the bzImage's XZ decompressor (4.5 G guest instructions, half the host time of a TCG
    boot) but gets no VGA text console (nothing in the screenshot). Otherwise the bzImage
    of :func:`linux_kernel`."""
    if pvh and artifact is not None and (Path(artifact) / "vmlinux").is_file():
        return Path(artifact) / "vmlinux"
    return linux_kernel()


def linux_append(mode: str, bench: str = "", iters: int = 1000) -> str:
    """The kernel command line asking ``kbench`` for ``mode`` (``bench`` or ``boot``), the
    comma-separated workloads ``bench`` (none: a boot to ``LAB READY`` only) and ``iters``
    iterations each. ValueError on an unknown mode or a malformed list."""
    if mode not in MODES:
        raise ValueError(f"Linux reference mode {mode!r} is not one of {', '.join(MODES)}")
    if bench and not re.fullmatch(r"[a-z]+(,[a-z]+)*", bench):
        raise ValueError(f"malformed workload list {bench!r}")
    words = [*APPEND_BASE, f"lab.mode={mode}"]
    if bench and mode == "bench":
        words += [f"lab.bench={bench}", f"lab.iters={max(1, int(iters))}"]
    return " ".join(words)


# ----------------------------------------------------------------------------------------
# The initramfs (cpio "newc", as the kernel's initramfs unpacker reads it).
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CpioEntry:
    """One archive member: ``name`` without a leading slash, ``mode`` with its file type
    bits; ``data`` is a regular file's content or a symlink's target; ``rdev`` a device's
    (major, minor)."""

    name: str
    mode: int
    data: bytes = b""
    rdev: tuple[int, int] = (0, 0)


def _pad4(n: int) -> bytes:
    return b"\0" * (-n % 4)


def write_cpio(entries: list[CpioEntry]) -> bytes:
    """The newc archive of ``entries`` in order (uid/gid 0, mtime 0), with its trailer."""
    out = bytearray()
    for ino, e in enumerate([*entries, CpioEntry("TRAILER!!!", 0)], start=1):
        name = e.name.encode() + b"\0"
        is_trailer = e.name == "TRAILER!!!"
        nlink = 2 if stat.S_ISDIR(e.mode) else 1
        fields = (0 if is_trailer else ino, e.mode, 0, 0, 0 if is_trailer else nlink, 0,
                  len(e.data), 0, 0, e.rdev[0], e.rdev[1], len(name), 0)
        header = b"070701" + b"".join(b"%08X" % f for f in fields)
        out += header + name + _pad4(len(header) + len(name))
        out += e.data + _pad4(len(e.data))
    return bytes(out)


def read_cpio(data: bytes) -> list[CpioEntry]:
    """The members of a newc archive (gzip-compressed or not), trailer excluded;
    ValueError when malformed."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    entries, pos = [], 0
    while True:
        if data[pos:pos + 6] != b"070701":
            raise ValueError(f"no newc header at offset {pos}")
        f = [int(data[pos + 6 + 8 * i: pos + 14 + 8 * i], 16) for i in range(13)]
        mode, size, rmaj, rmin, namesize = f[1], f[6], f[9], f[10], f[11]
        start = pos + 110
        name = data[start:start + namesize - 1].decode()
        pos = start + namesize
        pos += -pos % 4
        body = data[pos:pos + size]
        pos += size + (-size % 4)
        if name == "TRAILER!!!":
            return entries
        entries.append(CpioEntry(name, mode, body, (rmaj, rmin)))


def _is_static_elf(path: Path) -> bool:
    """True for an ELF64 executable without a program interpreter (PT_INTERP)."""
    head = path.read_bytes()[:65536]
    if head[:4] != b"\x7fELF" or head[4] != 2:
        return False
    phoff, = struct.unpack_from("<Q", head, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", head, 0x36)
    for i in range(phnum):
        off = phoff + i * phentsize
        if off + 4 > len(head):
            return False
        if struct.unpack_from("<I", head, off)[0] == 3:  # PT_INTERP
            return False
    return True


def _elf_notes(elf: bytes) -> list[tuple[bytes, int]]:
    """(name, type) of every note in an ELF64 file's PT_NOTE segments."""
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    notes = []
    for i in range(phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from("<IIQQQQ", elf,
                                                                 phoff + i * phentsize)
        if p_type != 4:  # PT_NOTE
            continue
        pos, end = p_offset, p_offset + p_filesz
        while pos + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", elf, pos)
            name = elf[pos + 12:pos + 12 + namesz].rstrip(b"\0")
            notes.append((name, ntype))
            pos += 12 + ((namesz + 3) & ~3) + ((descsz + 3) & ~3)
    return notes


XEN_ELFNOTE_PHYS32_ENTRY = 18


def extract_pvh_vmlinux(bzimage: Path) -> bytes | None:
    """The ELF ``vmlinux`` inside an XZ- or gzip-compressed bzImage when it has a PVH entry
    note (QEMU then boots it directly, without the decompressor); None otherwise."""
    data = bzimage.read_bytes()
    for magic, make in ((b"\xfd7zXZ\x00", lzma.LZMADecompressor),
                        (b"\x1f\x8b\x08\x00", lambda: zlib.decompressobj(31))):
        start = data.find(magic)
        if start < 0:
            continue
        try:
            elf = make().decompress(data[start:])
        except (lzma.LZMAError, zlib.error):
            continue
        if elf[:5] != b"\x7fELF\x02":
            continue
        try:
            if (b"Xen", XEN_ELFNOTE_PHYS32_ENTRY) in _elf_notes(elf):
                return elf
        except struct.error:
            continue
    return None


def find_busybox() -> Path:
    """The static busybox to put in the initramfs, or :class:`BuildError` saying which
    package gives one."""
    found = shutil.which("busybox")
    if found is None:
        raise BuildError(f"busybox not found on PATH; install it: {INSTALL_BUSYBOX}")
    path = Path(found).resolve()
    if not _is_static_elf(path):
        raise BuildError(f"{path} is not a statically linked x86-64 busybox; install "
                         f"{INSTALL_BUSYBOX}")
    return path


def initramfs_entries(kbench: bytes, true: bytes, busybox: bytes) -> list[CpioEntry]:
    """The initramfs's members: the folders, ``/dev/console`` (the kernel opens it for
    ``/init`` before devtmpfs is mounted), ``/init``, ``/kbench``, ``/bin/true``, busybox
    and its applet links."""
    d, x, f = stat.S_IFDIR | 0o755, stat.S_IFREG | 0o755, stat.S_IFLNK | 0o777
    entries = [CpioEntry(n, d) for n in ("bin", "dev", "proc", "sys", "tmp")]
    entries += [CpioEntry("dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1)),
                CpioEntry("init", x, INIT_SCRIPT.encode()),
                CpioEntry("kbench", x, kbench),
                CpioEntry("bin/true", x, true),
                CpioEntry("bin/busybox", x, busybox)]
    entries += [CpioEntry(f"bin/{a}", f, b"busybox") for a in BUSYBOX_APPLETS]
    return entries


def build_linux(ctx: Any) -> dict[str, Any]:
    """Build ``initramfs.cpio.gz`` (and ``kbench``, ``true``) into ``ctx.out``, with
    ``vmlinux`` (the newest ``/boot`` kernel decompressed, when it can boot through PVH: see
    :func:`linux_boot_kernel`); the facts for ``build.json``: the files, the kernel they are
    meant for, the archive's members.

    ``ctx`` is a :class:`lab.native.image_builder.ImageContext`; only ``targets`` (the
    system's ``targets/kernel``), ``out`` and ``run`` are used. Raises
    :class:`lab.errors.BuildError` with the compiler's diagnostics on failure."""
    src = Path(ctx.targets) / "linux"
    out = Path(ctx.out)
    out.mkdir(parents=True, exist_ok=True)
    busybox = find_busybox()
    kbench, true = out / "kbench", out / "true"
    warn = ("-Wall", "-Wextra")
    ctx.run(["gcc", "-std=c11", "-static", "-O2", *warn, "-s", "-o", kbench,
             src / "kbench.c"], "compile kbench.c")
    ctx.run(["gcc", "-static", "-nostdlib", "-O2", *warn, "-s", "-o", true, src / "true.c"],
            "compile true.c")
    entries = initramfs_entries(kbench.read_bytes(), true.read_bytes(), busybox.read_bytes())
    archive = write_cpio(entries)
    (out / "initramfs.cpio.gz").write_bytes(gzip.compress(archive, compresslevel=6, mtime=0))
    try:
        kernel: Path | None = linux_kernel()
    except LinuxMissingError:
        kernel = None  # booting says so; the initramfs itself does not depend on it
    vmlinux = extract_pvh_vmlinux(kernel) if kernel is not None else None
    if vmlinux is not None:
        (out / "vmlinux").write_bytes(vmlinux)
    return {"initramfs": "initramfs.cpio.gz", "kbench": kbench.name, "true": true.name,
            "vmlinuz": str(kernel) if kernel else None,
            "vmlinux": "vmlinux" if vmlinux is not None else None, "busybox": str(busybox),
            "members": [e.name for e in entries], "cpio_bytes": len(archive)}

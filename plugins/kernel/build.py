"""Build of our kernel image (recipe ``kernel-image``): the kernel ELF, its user programs and
the LABFS disk that holds them.

``build_ours(ctx)`` gets a :class:`lab.native.image_builder.ImageContext` and writes into
``ctx.out``:

- ``kernel.elf``: every ``.c``/``.S`` under ``arch dev lib mm proc sys fs ktest`` of
  ``targets/kernel`` plus ``main.c``, compiled with the lab's freestanding i386 flags and
  linked with ``kernel.ld`` (a Multiboot v1 ELF32 that ``qemu -kernel`` boots);
- one ELF32 executable per ``user/<prog>.c`` (every ``.c`` there except ``ulib.c``), linked
  with ``user/ulib.c``, the kernel library files in ``USER_SHARED`` and any ``user/*.S``
  through ``user.ld`` at ``K_USER_BASE``;
- ``disk.img``: a LABFS image (:func:`plugins.kernel.diskfs.build`) with ``/bin/<prog>`` for
  every program and the data files the in-guest tests read (``DATA_FILES``).

Facts returned: the artifact names, the program list and sizes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

KERNEL_DIRS = ("arch", "dev", "lib", "mm", "proc", "sys", "fs", "ktest")
USER_LIB = "ulib.c"
# The fuzz flavor traces every basic block of these folders for the syscalls target's guest
# coverage (lib/kcov.c); the rest (boot, drivers, the hook itself) stays untraced.
KCOV_DIRS = ("mm", "proc", "sys", "fs")
KCOV_FLAGS = ("-fsanitize-coverage=trace-pc",)
# The kernel's freestanding library files that programs link too (one copy of the code).
USER_SHARED = ("lib/string.c", "lib/div64.c", "lib/format.c", "lib/kvarg.c")
# Files the in-guest tests check byte for byte (ktest/test_disk.c, user/usertest.c).
MOTD = b"Welcome to the lab kernel.\nLABFS is read-only.\n"
DATA_FILES: dict[str, bytes] = {
    "/etc/motd": MOTD,
    "/etc/pattern": bytes((i * 7 + 3) & 0xFF for i in range(5000)),
}


def _sources(root: Path, dirs: tuple[str, ...]) -> list[Path]:
    out: list[Path] = []
    for d in dirs:
        folder = root / d
        if folder.is_dir():
            out += sorted(p for p in folder.rglob("*") if p.suffix in (".c", ".S") and p.is_file())
    return out


def _kernel(ctx: Any, objdir: Path) -> Path:
    root = Path(ctx.targets)
    sources = _sources(root, KERNEL_DIRS) + [root / "main.c"]
    if ctx.flavor != "fuzz":
        objects = ctx.compile(sources, objdir / "kernel")
    else:  # guest coverage of the system call paths for the syscalls fuzz target
        traced = [s for s in sources if s.relative_to(root).parts[0] in KCOV_DIRS
                  and s.suffix == ".c"]
        objects = ctx.compile([s for s in sources if s not in traced], objdir / "kernel",
                              ("-DK_KCOV",))
        objects += ctx.compile(traced, objdir / "kernel", ("-DK_KCOV", *KCOV_FLAGS))
    out = Path(ctx.out) / "kernel.elf"
    ctx.run([ctx.ld, *ctx.ldflags, "-T", root / "kernel.ld", "-o", out, *objects],
            "link kernel.elf")
    return out


def _programs(ctx: Any, objdir: Path) -> dict[str, bytes]:
    root = Path(ctx.targets)
    udir = root / "user"
    extra = ("-DK_USER", f"-I{udir}")
    lib_src = ([udir / USER_LIB] + [root / f for f in USER_SHARED]
               + sorted(udir.glob("*.S")))
    lib_objs = ctx.compile(lib_src, objdir / "user", extra)
    progs: dict[str, bytes] = {}
    for src in sorted(udir.glob("*.c")):
        if src.name == USER_LIB:
            continue
        (obj,) = ctx.compile([src], objdir / "user", extra)
        exe = objdir / "bin" / src.stem
        exe.parent.mkdir(parents=True, exist_ok=True)
        ctx.run([ctx.ld, *ctx.ldflags, "-s", "-T", root / "user.ld", "-o", exe, obj, *lib_objs],
                f"link /bin/{src.stem}")
        progs[src.stem] = exe.read_bytes()
    return progs


def build_ours(ctx: Any) -> Mapping[str, Any]:
    """Compile and link the kernel and its programs, write the LABFS disk; the facts."""
    from plugins.kernel import diskfs

    out = Path(ctx.out)
    objdir = out / "obj"
    kernel = _kernel(ctx, objdir)
    progs = _programs(ctx, objdir)
    files = {f"/bin/{name}": data for name, data in progs.items()}
    files.update(DATA_FILES)
    diskfs.build(out / "disk.img", files)
    return {
        "kernel": kernel.name,
        "disk": "disk.img",
        "programs": sorted(progs),
        "kernel_bytes": kernel.stat().st_size,
        "program_bytes": {name: len(data) for name, data in sorted(progs.items())},
        "disk_bytes": (out / "disk.img").stat().st_size,
    }

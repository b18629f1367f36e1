"""The ``image`` recipe kind: bare-metal images (kernels, disks, initramfs) for qemu-system.

The plugin's ``Image.build(ctx)`` does the work; this builder gives it an
:class:`ImageContext` (the output folder, the host compiler with the lab's freestanding flags
for the image's architecture, the linker, and runners that turn a failing command into a
:class:`BuildError` with its diagnostics) and makes the cache key from everything the image
depends on: the recipe's source globs, the outside inputs (``/boot/vmlinuz-*``), the flavor,
the flags, and the identity of the compiler, the linker and the declared tools. Kernels are
built with the host's gcc and binutils (Debian's packages), no cross toolchain: ``-m32``
with ``-ffreestanding -nostdinc`` and gcc's own freestanding headers.
"""

from __future__ import annotations

import glob
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from lab.errors import BuildError
from lab.model import Image, System
from lab.native.cache import Artifact, hash_files
from lab.native.cffi_builder import diagnostics
from lab.native.flavors import Flavor, compiler_identity

ARCH_FLAGS = {
    "i386": ("-m32", "-march=i686"),
    "x86_64": ("-m64", "-mcmodel=kernel", "-mno-red-zone"),
}
ARCH_LDFLAGS = {"i386": ("-m", "elf_i386"), "x86_64": ("-m", "elf_x86_64")}
FREESTANDING = ("-std=c11", "-Wall", "-Wextra", "-ffreestanding", "-fno-pic", "-fno-pie",
                "-fno-stack-protector", "-fno-builtin", "-fno-omit-frame-pointer",
                "-mno-sse", "-mno-mmx", "-mno-80387", "-nostdinc")
# Flavor -> optimization of a freestanding image; sanitizers and libc preloads do not apply.
OPT = {"release": ("-O2", "-g"), "debug": ("-O0", "-g", "-DK_DEBUG"),
       "profile": ("-O2", "-g")}
TIMEOUT = 600


@cache
def gcc_include(cc: str) -> str:
    """The compiler's own header folder (stddef.h, stdint.h... for freestanding code)."""
    try:
        out = subprocess.run([cc, "-print-file-name=include"], capture_output=True, text=True,
                             timeout=30, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        raise BuildError(f"cannot ask {cc} for its include folder: {exc}") from None
    return out.stdout.strip()


@dataclass
class ImageContext:
    """What an image recipe's ``build`` gets.

    ``cflags`` are complete compile flags for freestanding code of the recipe's ``arch``
    (language level, warnings, ``-nostdinc`` with the compiler's own headers, the flavor's
    optimization, ``-I targets/<system>``, then the recipe's own flags); ``ldflags`` select
    the architecture for ``ld``. Every command run through :meth:`run` is appended to
    ``build.log`` in the output folder; warnings found in compiler output are collected in
    ``warnings`` and end up in ``build.json``.
    """

    system: str
    targets: Path
    out: Path
    flavor: str
    arch: str
    cc: str
    cflags: tuple[str, ...]
    ld: str
    ldflags: tuple[str, ...]
    warnings: list[str] = field(default_factory=list)

    def run(self, cmd: Sequence[str | Path], what: str, timeout: float = TIMEOUT,
            cwd: Path | None = None, stdin: bytes | None = None) -> str:
        """Run ``cmd``; its combined output, or :class:`BuildError` naming ``what`` failed."""
        argv = [str(c) for c in cmd]
        try:
            proc = subprocess.run(argv, capture_output=True, timeout=timeout, cwd=cwd,
                                  input=stdin)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BuildError(f"{self.system} image: {what}: could not run {argv[0]}: "
                             f"{exc}") from None
        text = (proc.stdout + proc.stderr).decode(errors="replace")
        with open(self.out / "build.log", "a") as log:
            log.write(" ".join(argv) + "\n" + text)
        lines = diagnostics(text)
        self.warnings += [ln for ln in lines if "warning:" in ln]
        if proc.returncode != 0:
            shown = "\n".join(lines) or text.strip()[-4000:]
            raise BuildError(f"{self.system} image: {what} failed "
                             f"(exit {proc.returncode}):\n{shown}")
        return text

    def compile(self, sources: Sequence[Path], obj_dir: Path,
                extra: Sequence[str] = ()) -> list[Path]:
        """Compile each C or assembly source into ``obj_dir``; the object files, in order.

        Object names keep the source's path under ``targets`` (``arch/boot.S`` ->
        ``arch_boot.o``) so files with the same name in different folders do not collide.
        """
        obj_dir.mkdir(parents=True, exist_ok=True)
        objects = []
        for src in sources:
            rel = src.relative_to(self.targets) if src.is_relative_to(self.targets) else src
            obj = obj_dir / (str(rel.with_suffix("")).replace("/", "_") + ".o")
            self.run([self.cc, *self.cflags, *extra, "-c", src, "-o", obj], f"compile {rel}")
            objects.append(obj)
        return objects

    def link(self, objects: Sequence[Path], script: Path, out: Path,
             extra: Sequence[str] = ()) -> Path:
        """Link ``objects`` with the linker script ``script`` into ``out``."""
        self.run([self.ld, *self.ldflags, "-T", script, *extra, "-o", out, *objects],
                 f"link {out.name}")
        return out


def _tool_identity(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        return f"{tool}: not found"
    return compiler_identity(tool)


class ImageBuilder:
    """Builder for :class:`lab.model.Image` recipes."""

    kind = "image"

    @staticmethod
    def _cflags(system: System, recipe: Image, flavor: Flavor) -> tuple[str, ...]:
        if recipe.arch not in ARCH_FLAGS:
            raise BuildError(f"{system.name}/{recipe.name}: arch {recipe.arch!r} is not one of "
                             f"{', '.join(ARCH_FLAGS)}")
        return (*FREESTANDING, *ARCH_FLAGS[recipe.arch], "-isystem", gcc_include("gcc"),
                *OPT.get(flavor.name, OPT["release"]), f"-I{system.targets}", *recipe.cflags)

    @staticmethod
    def _inputs(system: System, recipe: Image) -> list[Path]:
        assert system.targets is not None
        files = {p for pattern in recipe.sources for p in system.targets.glob(pattern)
                 if p.is_file() and "__pycache__" not in p.parts}
        for pattern in recipe.inputs:
            files.update(Path(p) for p in glob.glob(pattern) if Path(p).is_file())
        return sorted(files)

    def key_parts(self, system: System, recipe: Image, flavor: Flavor) -> dict[str, Any]:
        build_src = None
        module = getattr(recipe.build, "__module__", None)
        path = getattr(sys.modules.get(module or ""), "__file__", None)
        if path:  # the build code and its sibling modules (e.g. a disk image writer)
            build_src = hash_files(sorted(Path(path).parent.glob("*.py")))
        return {"kind": self.kind, "name": recipe.name, "arch": recipe.arch, "flavor": flavor.name,
                "inputs": hash_files(self._inputs(system, recipe)), "build": build_src,
                "cflags": self._cflags(system, recipe, flavor),
                "tools": {t: _tool_identity(t) for t in ("gcc", "ld", *recipe.tools)}}

    def produce(self, system: System, recipe: Image, flavor: Flavor,
                out_dir: Path) -> dict[str, Any]:
        if recipe.build is None:
            raise BuildError(f"{system.name}/{recipe.name}: image recipe declares no build")
        assert system.targets is not None
        ctx = ImageContext(system=system.name, targets=system.targets, out=out_dir,
                           flavor=flavor.name, arch=recipe.arch, cc="gcc",
                           cflags=self._cflags(system, recipe, flavor), ld="ld",
                           ldflags=(*ARCH_LDFLAGS[recipe.arch], "-nostdlib"))
        facts = dict(recipe.build(ctx))
        facts.setdefault("warnings", ctx.warnings)
        return {"flavor": flavor.name, **facts}

    def load(self, system: System, recipe: Image, flavor: Flavor, artifact: Artifact) -> Path:
        """The artifact folder (the files ``build`` wrote; ``build.json`` names them)."""
        return artifact.path

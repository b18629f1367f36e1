"""Shared pieces of the kernel-host tests (the other test_host_* files import this one) and
the build checks: every host-buildable kernel file compiles without a warning both ways it
is built (freestanding -m32 for the kernel, -DKERNEL_HOST for the host with gcc and clang),
the cffi recipe loads and exposes every declared function, and the whole kernel-host suite
passes again on the ASan+UBSan ``debug`` build.

``kmod()`` is the ``kernel-host`` cffi module in the flavor named by ``$LAB_FLAVOR``
(``release`` by default), built through the lab's own cache like every other recipe.
"""

from __future__ import annotations

import subprocess
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import pytest

import lab
from labtest import FLAVOR, ROOT, assert_passes_under_sanitizers

SRC = ROOT / "targets" / "kernel"
HOST_FILES = ("mm/frame.c", "mm/heap.c", "proc/runq.c", "proc/elf.c", "fs/labfs.c",
              "sys/uaccess.c")
SANITIZED = FLAVOR == "debug"


@cache
def system() -> lab.System:
    """The kernel system as the plugin host registers it."""
    from lab.host import get_host

    found = get_host().systems().get("kernel")
    if found is not None:
        return found
    import plugins.kernel  # registration refused (see `lab doctor`): use the declaration as is

    return replace(plugins.kernel.SYSTEM, targets=SRC)


@cache
def kmod() -> Any:
    from lab import native

    return native.load(system(), "kernel-host", FLAVOR)


def ctx() -> lab.LoadContext:
    from lab import native

    return lab.LoadContext(system(), FLAVOR,
                           build=lambda recipe: native.load(system(), recipe, FLAVOR))


def test_recipe_loads_and_exposes_every_function() -> None:
    lib = kmod().lib
    for name in ("k_frames_init", "k_frames_check", "k_heap_init", "k_heap_check",
                 "k_runq_push", "k_runq_check", "k_elf_parse", "k_labfs_mount",
                 "k_labfs_crc32", "k_vmap_add", "k_uaccess_span", "khost_disk_read_fn",
                 "khost_heap_grow_fn"):
        assert callable(getattr(lib, name)), name
    assert (lib.K_FRAME_SIZE, lib.K_HEAP_ALIGN, lib.K_NPRIO, lib.K_ELF_MAX_SEGS) == (4096, 16, 4, 8)
    assert (lib.K_USER_BASE, lib.K_USER_TOP, lib.K_LABFS_SECTOR) == (0x40000000, 0xC0000000, 512)


FREESTANDING = ["-m32", "-ffreestanding", "-nostdinc", "-fno-builtin", "-fno-pie"]


def _isystem(cc: str) -> list[str]:
    inc = subprocess.run([cc, "-print-file-name=include"], capture_output=True, text=True,
                         check=True).stdout.strip()
    return ["-isystem", inc]


@pytest.mark.parametrize(("cc", "mode"), [("gcc", "kernel"), ("clang-14", "kernel"),
                                          ("gcc", "host"), ("clang-14", "host")])
def test_host_buildable_files_compile_without_warnings(cc: str, mode: str) -> None:
    files = [str(SRC / f) for f in HOST_FILES]
    if mode == "kernel":
        flags = [*FREESTANDING, *_isystem(cc)]
        if cc.startswith("clang"):
            flags.append("--target=i386-pc-none-elf")
    else:
        files.append(str(SRC / "host" / "host.c"))
        flags = ["-DKERNEL_HOST"]
    proc = subprocess.run([cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only",
                           "-I", str(SRC), *flags, *files], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_kernel_objects_need_no_64_bit_division_helpers(tmp_path: Path) -> None:
    """-m32 code must not call libgcc (__udivdi3 and friends): the kernel has no libgcc."""
    allowed = {"memset", "memcpy", "memmove", "memcmp", "strlen", "strnlen", "strcmp",
               "strncmp", "kpanic"}
    for f in HOST_FILES:
        obj = tmp_path / (Path(f).stem + ".o")
        subprocess.run(["gcc", "-std=c11", "-O2", *FREESTANDING, *_isystem("gcc"), "-I",
                        str(SRC), "-c", str(SRC / f), "-o", str(obj)], check=True, timeout=60)
        nm = subprocess.run(["nm", "-u", str(obj)], capture_output=True, text=True, check=True)
        undefined = {line.split()[-1] for line in nm.stdout.splitlines() if line.strip()}
        assert undefined <= allowed, (f, undefined - allowed)


@pytest.mark.skipif(SANITIZED, reason="already sanitized")
def test_kernel_host_suite_passes_under_asan_and_ubsan() -> None:
    here = Path(__file__).resolve().parent
    assert_passes_under_sanitizers(
        sorted(p for p in here.glob("test_host_*.py") if p.name != Path(__file__).name),
        timeout=600)

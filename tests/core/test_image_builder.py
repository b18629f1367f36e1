"""The ``image`` recipe kind: a plugin's build function gets the lab's freestanding
toolchain, the result is cached by content, and failures are the compiler's own messages."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

import lab
from lab.errors import BuildError

KERNEL_C = """\
#include <stdint.h>
static volatile uint16_t *const vga = (uint16_t *)0xb8000;
void start(void) { vga[0] = 0x0f00 | 'K'; for (;;) __asm__ volatile("hlt"); }
"""
LINKER = "ENTRY(start)\nSECTIONS { . = 0x100000; .text : { *(.text*) } }\n"


def _build(ctx: Any) -> dict[str, Any]:
    objs = ctx.compile(sorted(ctx.targets.glob("*.c")), ctx.out / "obj")
    elf = ctx.link(objs, ctx.targets / "k.ld", ctx.out / "k.elf")
    (ctx.out / "flags.txt").write_text(" ".join(ctx.cflags))
    return {"kernel": elf.name}


def _system(targets: Path, arch: str = "i386") -> lab.System:
    recipe = lab.Image("img", build=_build, sources=("*.c", "*.ld"), arch=arch)
    return lab.System(name="imgtoy", shape="image", description="toy image",
                      impls=(lab.Impl("a", "a", load=lambda ctx: None),), workloads=(),
                      baseline="a", recipes=(recipe,), targets=targets)


@pytest.fixture
def targets(tmp_path: Path, lab_env: dict, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LAB_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "targets"
    folder.mkdir()
    (folder / "k.c").write_text(KERNEL_C)
    (folder / "k.ld").write_text(LINKER)
    return folder


def test_builds_a_freestanding_i386_elf_with_the_labs_flags(targets: Path) -> None:
    from lab import native

    art = native.build(_system(targets), "img", "release")
    elf = art.path / art.info["kernel"]
    head = elf.read_bytes()[:20]
    assert head[:4] == b"\x7fELF" and head[4] == 1  # ELFCLASS32
    assert int.from_bytes(head[18:20], "little") == 3  # EM_386
    flags = (art.path / "flags.txt").read_text().split()
    for flag in ("-m32", "-ffreestanding", "-nostdinc", "-fno-pic", "-O2", "-Wall", "-Wextra"):
        assert flag in flags
    assert art.info["warnings"] == []
    out = subprocess.run(["nm", str(elf)], capture_output=True, text=True, check=True).stdout
    assert " T start" in out


def test_cached_until_a_source_changes_and_flavors_differ(targets: Path) -> None:
    from lab import native

    first = native.build(_system(targets), "img", "release")
    again = native.build(_system(targets), "img", "release")
    assert first.rebuilt and not again.rebuilt and again.path == first.path
    debug = native.build(_system(targets), "img", "debug")
    assert debug.rebuilt and debug.path != first.path
    assert "-O0" in (debug.path / "flags.txt").read_text().split()
    (targets / "k.ld").write_text(LINKER + "/* changed */\n")
    assert native.build(_system(targets), "img", "release").rebuilt


def test_compiler_errors_and_warnings_are_reported(targets: Path) -> None:
    from lab import native

    (targets / "k.c").write_text(KERNEL_C + "int unused(int x) { int y; return x; }\n")
    art = native.build(_system(targets), "img", "release")
    assert any("unused variable" in w for w in art.info["warnings"])
    (targets / "k.c").write_text(KERNEL_C + "int broken( { }\n")
    with pytest.raises(BuildError, match=r"(?s)compile k\.c failed.*k\.c:\d+"):
        native.build(_system(targets), "img", "release")


def test_unknown_arch_is_a_clear_error(targets: Path) -> None:
    from lab import native

    with pytest.raises(BuildError, match=r"arch 'arm' is not one of i386, x86_64"):
        native.build(_system(targets, arch="arm"), "img", "release")

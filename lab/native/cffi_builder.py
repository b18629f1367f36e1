"""The ``cffi`` recipe kind: C sources compiled with cffi (API mode) into an extension module.

The module's name carries the system, recipe and flavor (``_lab_compress_compress_debug``) so
that several flavors can be loaded side by side. Compiler output is captured at the file
descriptor level; a failed compile raises :class:`BuildError` holding the compiler's own
diagnostics, and warnings are kept in ``build.json``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cffi

from lab.errors import BuildError, LabError
from lab.model import CffiLib, Executable, System
from lab.native.cache import Artifact, hash_files
from lab.native.flavors import COMMON_CFLAGS, Flavor, compiler_identity, runtime_ready

CDEF_RE = re.compile(r"/\*\s*LAB-CDEF-BEGIN\s*\*/(.*?)/\*\s*LAB-CDEF-END\s*\*/", re.S)


def module_name(system: System, recipe: CffiLib, flavor: Flavor) -> str:
    return re.sub(r"\W", "_", f"_lab_{system.name}_{recipe.name}_{flavor.name}")


def source_files(system: System, recipe: CffiLib | Executable) -> list[Path]:
    """The recipe's C sources, sorted; a glob matching nothing is an error."""
    assert system.targets is not None
    files: set[Path] = set()
    for pattern in recipe.sources:
        matched = sorted(system.targets.glob(pattern))
        if not matched:
            raise BuildError(f"{system.name}/{recipe.name}: source pattern {pattern!r} matches "
                             f"no file in {system.targets}")
        files.update(matched)
    return sorted(files)


def header_files(system: System) -> list[Path]:
    assert system.targets is not None
    return sorted(system.targets.rglob("*.h"))


def cdef_text(system: System, recipe: CffiLib) -> str:
    """The declarations exposed to Python."""
    if recipe.cdef is not None:
        return recipe.cdef
    assert system.targets is not None
    header = system.targets / recipe.header
    if not header.exists():
        raise BuildError(f"{system.name}/{recipe.name}: header {header} not found")
    match = CDEF_RE.search(header.read_text())
    if not match:
        raise BuildError(f"{header}: no /* LAB-CDEF-BEGIN */ ... /* LAB-CDEF-END */ region; "
                         "add one around the public declarations or set cdef= in the recipe")
    return match.group(1)


class _ListHandler(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(record.getMessage() + "\n")


@contextmanager
def captured_output() -> Iterator[list[str]]:
    """Capture a build's output: fds 1 and 2 (the compiler's own messages) and the command
    lines distutils logs; everything ends up as one string appended to the yielded list."""
    sink: list[str] = []
    logged: list[str] = []
    handler = _ListHandler(logged)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 1)
        os.dup2(tmp.fileno(), 2)
        try:
            yield sink
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            root.removeHandler(handler)
            root.setLevel(old_level)
            tmp.seek(0)
            sink.append("".join(logged) + tmp.read().decode(errors="replace"))


def diagnostics(log: str) -> list[str]:
    """The compiler's diagnostic lines (file:line: error/warning/note and their context)."""
    keep = []
    for line in log.splitlines():
        if re.search(r"(error|warning|note|undefined reference|In function)", line) \
                or line.startswith(" "):
            keep.append(line.rstrip())
    return [k for k in keep if not k.startswith(("gcc ", "cc ", "clang ", "x86_64-"))]


class CffiBuilder:
    """Builder for :class:`lab.model.CffiLib` recipes."""

    kind = "cffi"

    def key_parts(self, system: System, recipe: CffiLib, flavor: Flavor) -> dict[str, Any]:
        files = source_files(system, recipe) + header_files(system)
        return {
            "kind": self.kind,
            "module": module_name(system, recipe, flavor),
            "sources": hash_files(files),
            "cdef": cdef_text(system, recipe),
            "cflags": [*COMMON_CFLAGS, *flavor.cflags, *recipe.cflags],
            "ldflags": [*flavor.ldflags, *recipe.ldflags],
            "libraries": list(recipe.libraries),
            "compiler": compiler_identity(flavor.cc()),
            "cffi": cffi.__version__,
            "python": sys.implementation.cache_tag,
        }

    def produce(self, system: System, recipe: CffiLib, flavor: Flavor,
                out_dir: Path) -> dict[str, Any]:
        assert system.targets is not None
        ffi = cffi.FFI()
        try:
            ffi.cdef(cdef_text(system, recipe))
        except cffi.CDefError as exc:
            raise BuildError(f"{system.name}/{recipe.name}: cffi cannot parse the declarations: "
                             f"{exc}") from None
        name = module_name(system, recipe, flavor)
        ffi.set_source(
            name, f'#include "{recipe.header}"' if recipe.header else "",
            sources=[str(p) for p in source_files(system, recipe)],
            include_dirs=[str(system.targets)],
            extra_compile_args=[*COMMON_CFLAGS, *flavor.cflags, *recipe.cflags],
            extra_link_args=[*flavor.ldflags, *recipe.ldflags],
            libraries=list(recipe.libraries),
        )
        old_cc = os.environ.get("CC")
        os.environ["CC"] = flavor.cc()
        try:
            with captured_output() as log:
                try:
                    so_path = ffi.compile(tmpdir=str(out_dir), verbose=True)
                    failed = None
                except Exception as exc:  # noqa: BLE001 - distutils raises several kinds
                    failed = exc
        finally:
            if old_cc is None:
                os.environ.pop("CC", None)
            else:
                os.environ["CC"] = old_cc
        text = log[0] if log else ""
        (out_dir / "build.log").write_text(text)
        lines = diagnostics(text)
        if failed is not None:
            shown = "\n".join(lines) or text.strip()[-4000:] or str(failed)
            raise BuildError(f"build of {system.name}/{recipe.name} ({flavor.name}) failed:\n"
                             f"{shown}")
        return {
            "module": name,
            "so": Path(so_path).name,
            "flavor": flavor.name,
            "warnings": [ln for ln in lines if "warning:" in ln],
        }

    def load(self, system: System, recipe: CffiLib, flavor: Flavor, artifact: Artifact) -> Any:
        if not runtime_ready(flavor):
            raise LabError(
                f"the {flavor.name} flavor of {system.name} needs its sanitizer runtime preloaded; "
                f"run the command under `lab exec --flavor {flavor.name} -- ...`")
        path = artifact.path / artifact.info["so"]
        spec = importlib.util.spec_from_file_location(artifact.info["module"], path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

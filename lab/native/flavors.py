"""Build flavors: how a native core is compiled and what a process needs to load it.

``release`` (-O2, asserts off), ``debug`` (-O0 -g with ASan and UBSan, asserts on) and
``profile`` (-O2 -g with frame pointers, for perf and py-spy) are built in; plugins add more
(``lab.fuzz`` adds ``fuzz`` and ``coverage``) through ``lab_register_flavors``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import cache

# Python's own build flags come first on the compiler line (e.g. -O3 -DNDEBUG -fwrapv); the
# flavor's flags follow and win: -fno-wrapv restores standard C overflow rules (so UBSan
# sees signed overflow) and debug flavors undefine NDEBUG so assertions run.
COMMON_CFLAGS = ("-std=c11", "-Wall", "-Wextra", "-fPIC", "-fno-wrapv")


@dataclass(frozen=True)
class Flavor:
    """A named set of compiler flags.

    ``compiler`` is None for ``$CC`` (else ``cc``). ``preload`` names runtime libraries (as
    understood by ``CC -print-file-name=``) that must be in ``LD_PRELOAD`` of any process
    loading an artifact of this flavor; ``env`` adds environment variables to such a process.
    """

    name: str
    description: str
    cflags: tuple[str, ...]
    ldflags: tuple[str, ...] = ()
    compiler: str | None = None
    preload: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)

    def cc(self) -> str:
        return self.compiler or os.environ.get("CC") or "cc"


SANITIZERS = ("-fsanitize=address,undefined", "-fno-sanitize-recover=undefined")

BUILTIN_FLAVORS = (
    Flavor("release", "optimized (-O2), assertions off", ("-O2", "-DNDEBUG")),
    Flavor(
        "debug",
        "-O0 -g with AddressSanitizer and UndefinedBehaviorSanitizer, assertions on",
        ("-O0", "-g", "-UNDEBUG", "-fno-omit-frame-pointer", *SANITIZERS),
        ldflags=SANITIZERS,
        preload=("libasan.so", "libubsan.so"),
        env={"ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1:allocator_may_return_null=1",
             "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"},
    ),
    Flavor("profile", "-O2 -g with frame pointers, for profilers",
           ("-O2", "-g", "-fno-omit-frame-pointer", "-DNDEBUG")),
)


@cache
def compiler_identity(cc: str) -> str:
    """The resolved path and first ``--version`` line of ``cc`` (part of every cache key)."""
    path = shutil.which(cc)
    if path is None:
        return f"{cc}: not found"
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
        first = out.stdout.splitlines()[0] if out.stdout else "unknown version"
    except (OSError, subprocess.TimeoutExpired):
        first = "unknown version"
    return f"{os.path.realpath(path)}: {first}"


def preload_paths(flavor: Flavor) -> list[str]:
    """Absolute paths of the flavor's runtime libraries, found through its compiler (an
    absolute name is taken as it is)."""
    out = []
    for lib in flavor.preload:
        if os.path.isabs(lib):
            out.append(lib)
            continue
        res = subprocess.run([flavor.cc(), f"-print-file-name={lib}"], capture_output=True,
                             text=True, timeout=30)
        path = res.stdout.strip()
        out.append(os.path.realpath(path) if os.path.isabs(path) else path)
    return out


def runtime_env(flavor: Flavor) -> dict[str, str]:
    """Environment variables a process needs to load artifacts of ``flavor`` (may be empty)."""
    env = dict(flavor.env)
    libs = preload_paths(flavor)
    if libs:
        env["LD_PRELOAD"] = " ".join(libs)
    return env


def runtime_ready(flavor: Flavor) -> bool:
    """True when this process already has the flavor's runtime libraries preloaded."""
    if not flavor.preload:
        return True
    have = os.environ.get("LD_PRELOAD", "")
    return all(os.path.basename(p) in have or p in have for p in preload_paths(flavor))

"""Allocation counts of a native core, per measured call, through an LD_PRELOAD library.

``lab/native/c/lab_alloc.c`` interposes glibc's allocator and counts, while enabled, every
allocation request in the process (``all_*``) and those whose immediate caller lies in the
code of a registered module (``core_*``). This module builds it, starts children with it,
and drives it from inside such a child.

Contract:

* :func:`build` compiles the library once per (source, compiler) into
  ``cache_dir()/core/lab_alloc-<hash>.so``, published atomically; later calls reuse it.
* :func:`preload_env` returns a child environment with the library first in ``LD_PRELOAD``;
  it raises :class:`AllocCountError` when that environment already preloads a sanitizer
  runtime that replaces malloc (ASan, TSan, LSan, HWASan, MSan), which cannot coexist.
* :class:`Counter` works only in a process started that way (``Counter.available()``);
  ``add_module(m)`` registers the executable mappings of ``m.__file__`` as core code and
  ``measure(fn)`` returns ``(fn(), AllocCounts)`` for exactly that call. Counting is off
  outside ``measure``.

What counts as "core": a call to an allocation function made directly from the module's
code (``__builtin_return_address(0)``). Allocations libc makes on the core's behalf
(``strdup``, ``fopen``) and those the Python wrapper makes around the call count only in
``all_*``, which covers every thread of the process while counting is on.
"""

from __future__ import annotations

import ctypes
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from lab.errors import LabError
from lab.native import shared_lib

SOURCE = Path(__file__).resolve().parent / "native" / "c" / "lab_alloc.c"
CC = "cc"
CFLAGS = ("-std=c11", "-O2", "-fPIC", "-shared", "-Wall", "-Wextra")
MAX_RANGES = 16
"""Address ranges the library holds (``LAB_ALLOC_MAX_RANGES`` in the C source)."""

_SANITIZER_RE = re.compile(r"lib(?:clang_rt\.)?(a|t|l|hwa|m)san\b")
_SANITIZER_NAMES = {"a": "AddressSanitizer", "t": "ThreadSanitizer", "l": "LeakSanitizer",
                    "hwa": "HWAddressSanitizer", "m": "MemorySanitizer"}

T = TypeVar("T")


class AllocCountError(LabError):
    """The allocation counter cannot be built, preloaded or used as asked."""


@dataclass(frozen=True)
class AllocCounts:
    """Counts over one measured call: requests from core code (``core_*``; ``core_frees``
    counts frees of non-NULL pointers) and from anywhere in the process (``all_*``).
    Bytes are bytes requested; a realloc is one allocation of its new size."""

    core_allocs: int
    core_bytes: int
    core_frees: int
    all_allocs: int
    all_bytes: int


class _Counts(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint64) for name in
                ("core_allocs", "core_bytes", "core_frees", "all_allocs", "all_bytes")]


def build() -> Path:
    """The compiled library, built when the source or the compiler changed.

    The name carries a hash of the source, the flags and the compiler identity; the file is
    compiled under a temporary name in the same folder and renamed into place, so
    concurrent builders never expose a partial file. Raises :class:`BuildError` with the
    compiler's diagnostics when compilation fails."""
    return shared_lib.build("lab_alloc", SOURCE, CC, CFLAGS, what="allocation counter")


def preload_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of ``env`` (default: ``os.environ``) with the counter first in ``LD_PRELOAD``
    (built if needed; not added twice).

    Raises :class:`AllocCountError` when ``LD_PRELOAD`` already names a sanitizer runtime
    that replaces malloc, or when the library path holds a space or colon (``LD_PRELOAD``
    separators)."""
    out = dict(os.environ if env is None else env)
    entries = out.get("LD_PRELOAD", "").replace(":", " ").split()
    for entry in entries:
        match = _SANITIZER_RE.search(os.path.basename(entry))
        if match:
            name = _SANITIZER_NAMES[match.group(1)]
            raise AllocCountError(
                f"cannot count allocations under {name}: LD_PRELOAD already loads {entry}, "
                "whose allocator the counter cannot wrap; use a build without sanitizers")
    lib = str(build())
    if " " in lib or ":" in lib:
        raise AllocCountError(f"cannot preload {lib}: LD_PRELOAD cannot hold a path with a "
                              "space or colon; point $LAB_CACHE elsewhere")
    out["LD_PRELOAD"] = " ".join([lib, *(e for e in entries if e != lib)])
    return out


def without_preload(env: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``env`` without the counter in ``LD_PRELOAD``: the environment for the
    processes a measured process starts (a server with an allocator of its own, such as
    redis-server's jemalloc, must not get the counter)."""
    out = dict(env)
    entries = [e for e in out.get("LD_PRELOAD", "").replace(":", " ").split()
               if not os.path.basename(e).startswith("lab_alloc-")]
    if entries:
        out["LD_PRELOAD"] = " ".join(entries)
    else:
        out.pop("LD_PRELOAD", None)
    return out


def executable_ranges(path: str | os.PathLike[str],
                      maps: str | None = None) -> list[tuple[int, int]]:
    """The ``[lo, hi)`` address ranges of executable mappings (``r-xp``) of the file
    ``path`` in ``maps`` (default: this process's ``/proc/self/maps``)."""
    want = os.path.realpath(path)
    if maps is None:
        maps = Path("/proc/self/maps").read_text()
    ranges = []
    for line in maps.splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) < 6 or fields[1] != "r-xp":
            continue
        mapped = fields[5].removesuffix(" (deleted)")
        if mapped == want:
            lo, hi = fields[0].split("-")
            ranges.append((int(lo, 16), int(hi, 16)))
    return ranges


class Counter:
    """The preloaded counter of this process; see the module docstring.

    Raises :class:`AllocCountError` on construction when the library is not preloaded."""

    @staticmethod
    def _lib() -> Any | None:
        lib = ctypes.CDLL(None)
        return lib if hasattr(lib, "lab_alloc_read") else None

    @classmethod
    def available(cls) -> bool:
        """Whether the counter library is loaded in this process."""
        return cls._lib() is not None

    def __init__(self) -> None:
        lib = self._lib()
        if lib is None:
            raise AllocCountError(
                "allocation counter not loaded in this process; start it with the "
                "environment from lab.alloccount.preload_env() (LD_PRELOAD of lab_alloc.so)")
        lib.lab_alloc_add_range.argtypes = [ctypes.c_size_t, ctypes.c_size_t]
        lib.lab_alloc_add_range.restype = ctypes.c_int
        lib.lab_alloc_enable.argtypes = [ctypes.c_int]
        lib.lab_alloc_enable.restype = None
        lib.lab_alloc_reset.restype = None
        lib.lab_alloc_clear_ranges.restype = None
        lib.lab_alloc_read.argtypes = [ctypes.POINTER(_Counts)]
        lib.lab_alloc_read.restype = None
        self._c = lib
        self.ranges: list[tuple[int, int]] = []

    def add_module(self, module: ModuleType) -> list[tuple[int, int]]:
        """Register the executable mappings of the loaded extension ``module`` as core code;
        returns the ranges added. Raises :class:`AllocCountError` when the module has no
        mapped file or the range table (:data:`MAX_RANGES`) is full."""
        file = getattr(module, "__file__", None)
        ranges = executable_ranges(file) if file else []
        if not ranges:
            raise AllocCountError(f"{module.__name__}: no executable mapping of "
                                  f"{file or 'a file'} in this process; is it a loaded "
                                  "extension module?")
        for lo, hi in ranges:
            if self._c.lab_alloc_add_range(lo, hi) != 0:
                raise AllocCountError(f"{module.__name__}: cannot register more than "
                                      f"{MAX_RANGES} address ranges")
            self.ranges.append((lo, hi))
        return ranges

    def clear(self) -> None:
        """Forget every registered range."""
        self._c.lab_alloc_clear_ranges()
        self.ranges.clear()

    def read(self) -> AllocCounts:
        """The counters as they stand (zero until the first measurement)."""
        raw = _Counts()
        self._c.lab_alloc_read(ctypes.byref(raw))
        return AllocCounts(*(getattr(raw, name) for name, _ in _Counts._fields_))

    def measure(self, fn: Callable[[], T]) -> tuple[T, AllocCounts]:
        """``(fn(), counts)`` with counting on for exactly the call (reset first, off after,
        also when ``fn`` raises). ``all_*`` includes the few allocations of the call
        machinery around ``fn``."""
        self._c.lab_alloc_reset()
        self._c.lab_alloc_enable(1)
        try:
            result = fn()
        finally:
            self._c.lab_alloc_enable(0)
        return result, self.read()

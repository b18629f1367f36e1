"""Callgrind client requests from Python: the lab's deterministic instruction channel.

A benchmark child process runs under :func:`valgrind_argv` (callgrind with instrumentation
and collection off at start). Around each measured call, :class:`Requests` switches
instrumentation on (once), zeroes the counters, turns collection on, calls the function,
turns collection off and dumps one profile labelled with the measurement's name. The
profiles are read back with :mod:`lab.profile.callgrind_format`.

The requests are the macros of ``<valgrind/callgrind.h>``, compiled with cffi (API mode)
from ``lab/native/c/lab_callgrind.c`` into ``<cache>/core/callgrind-<key>/``, where the key
hashes the C source, the Python version and cffi's version. Outside valgrind every request
is a no-op, exactly like the macros themselves; :meth:`Requests.running` tells the two apart.

Dump files (observed with valgrind 3.19): with ``--callgrind-out-file=DIR/callgrind.%p.out``
the dump made by the N-th client request of process PID is ``DIR/callgrind.PID.out.N``
(N = 1, 2, ...; ``part: N`` inside), and the dump at program termination is
``DIR/callgrind.PID.out`` (its ``part:`` is one more than the number of earlier dumps).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TypeVar

import cffi

from lab import paths
from lab.errors import BuildError, LabError
from lab.native.cache import locked
from lab.requirements import Command

T = TypeVar("T")

MODULE = "_labcore_callgrind"
C_SOURCE = Path(__file__).resolve().parent / "native" / "c" / "lab_callgrind.c"
CDEF = """
int lab_cg_running(void);
void lab_cg_start(void);
void lab_cg_stop(void);
void lab_cg_toggle(void);
void lab_cg_zero(void);
void lab_cg_dump(const char *reason);
"""
VALGRIND = Command("valgrind", apt="valgrind")
INSTALL = "apt-get install valgrind"

_loaded: dict[Path, ModuleType] = {}

# The environment of a process whose instructions are counted. Callgrind runs one thread at a
# time, and a thread pool's workers spin or sleep by how the scheduler interleaves them: a
# 256x256 OpenBLAS GEMM counted 0.96e9 instructions in one run and 1.71e9 in the next. One
# thread makes the count the work, the same in every run; ``LAB_THREADS`` asks the plugins'
# own pools for the same (0 or unset: their default). String hashing is seeded alike.
DETERMINISTIC_ENV = {"PYTHONHASHSEED": "0", "LAB_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                     "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class ValgrindMissingError(LabError):
    """valgrind (the program or its client-request headers) is not installed."""


def check_valgrind() -> str:
    """The path of the ``valgrind`` program on ``PATH``.

    Raises :class:`ValgrindMissingError` (a :class:`LabError`) when it is absent."""
    if VALGRIND.missing():
        raise ValgrindMissingError(f"valgrind not found on PATH (needed for the instruction "
                                   f"channel); install it: {INSTALL}")
    found = shutil.which(VALGRIND.name)
    assert found is not None
    return found


def valgrind_argv(out_dir: Path, *, cache_sim: bool = True) -> list[str]:
    """The command prefix running a program under callgrind for the instruction channel.

    Instrumentation and collection are off at start (the child turns them on around each
    measurement with :class:`Requests`); one file per process and dump goes to ``out_dir``
    (created here, made absolute), named ``callgrind.<pid>.out[.<n>]`` (see the module
    docstring). ``cache_sim`` adds the simulated I1/D1/LL cache events (I1mr, D1mr, ...)
    to ``Ir``; positions are source lines (``--dump-instr=no``). Everything else keeps
    valgrind's safe defaults (self-modifying-code checks, no child tracing). Raises
    ``ValueError`` when ``out_dir`` contains ``%`` (valgrind would expand it)."""
    out = Path(out_dir).resolve()
    if "%" in str(out):
        raise ValueError(f"callgrind output folder {out} must not contain '%'")
    out.mkdir(parents=True, exist_ok=True)
    return [
        "valgrind",
        "--tool=callgrind",
        "--quiet",
        "--instr-atstart=no",
        "--collect-atstart=no",
        f"--cache-sim={'yes' if cache_sim else 'no'}",
        "--dump-instr=no",
        f"--callgrind-out-file={out}/callgrind.%p.out",
    ]


def source_key() -> str:
    """The cache key of the client-request module: C source, Python and cffi versions."""
    blob = "\0".join([C_SOURCE.read_text(), CDEF, sys.implementation.cache_tag,
                      sys.version, cffi.__version__])
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def build_dir() -> Path:
    """Where the built module lives: ``<cache>/core/callgrind-<key>/``."""
    return paths.cache_dir() / "core" / f"callgrind-{source_key()}"


def _compile(out_dir: Path) -> Path:
    """Compile the module into ``out_dir``; return the shared object's path."""
    from lab.native.cffi_builder import captured_output, diagnostics

    ffi = cffi.FFI()
    ffi.cdef(CDEF)
    ffi.set_source(MODULE, C_SOURCE.read_text())
    with captured_output() as log:
        try:
            so_path = ffi.compile(tmpdir=str(out_dir), verbose=True)
            failed: Exception | None = None
        except Exception as exc:  # noqa: BLE001 - distutils raises several kinds
            failed = exc
    text = log[0] if log else ""
    if failed is None:
        return Path(so_path)
    if "callgrind.h" in text or "valgrind.h" in text:
        raise ValgrindMissingError(f"valgrind headers (valgrind/callgrind.h) not found; "
                                   f"install them: {INSTALL}")
    shown = "\n".join(diagnostics(text)) or text.strip()[-4000:] or str(failed)
    raise BuildError(f"build of {C_SOURCE.name} failed:\n{shown}")


def _so_in(folder: Path) -> Path | None:
    found = sorted(folder.glob(f"{MODULE}*.so")) if folder.is_dir() else []
    return found[0] if found else None


def build() -> Path:
    """The built module's shared object, compiling it first when the cache lacks it.

    Safe under concurrent processes: the build runs in a temporary folder under an
    exclusive lock and is published with an atomic rename."""
    final = build_dir()
    so = _so_in(final)
    if so is not None:
        return so
    with locked(final.parent / ".callgrind.lock"):
        so = _so_in(final)
        if so is not None:
            return so
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-callgrind-", dir=final.parent))
        try:
            built = _compile(tmp)
            shutil.rmtree(final, ignore_errors=True)
            os.rename(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return final / built.name


def load() -> ModuleType:
    """The compiled client-request module (``.lib`` holds the ``lab_cg_*`` functions).

    Built on first use, then imported from its file and cached in this process."""
    so = build()
    if so not in _loaded:
        spec = importlib.util.spec_from_file_location(MODULE, so)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _loaded[so] = module
    return _loaded[so]


def _label_bytes(label: str) -> bytes:
    if any(ch in label for ch in "\n\r\0"):
        raise ValueError(f"callgrind dump label {label!r} must be one line without NUL")
    return label.encode()


class Requests:
    """Callgrind client requests for one process.

    Every method is a no-op outside valgrind (``running()`` is then 0). The process must
    run with collection off at start (``--collect-atstart=no``, as :func:`valgrind_argv`
    sets), since collection is switched by toggling."""

    def __init__(self) -> None:
        self._lib = load().lib
        self._instrumented = False

    def running(self) -> int:
        """How many valgrind levels this process runs under: 0 natively, 1 under valgrind."""
        return int(self._lib.lab_cg_running())

    def start(self) -> None:
        """Switch instrumentation on if this object has not yet (valgrind flushes its
        translations, so this is costly; measurements keep it on afterwards)."""
        if not self._instrumented:
            self._lib.lab_cg_start()
            self._instrumented = True

    def stop(self) -> None:
        """Switch instrumentation off (unmeasured code then runs at full valgrind speed)."""
        if self._instrumented:
            self._lib.lab_cg_stop()
            self._instrumented = False

    def zero(self) -> None:
        """Reset the counters collected so far."""
        self._lib.lab_cg_zero()

    def toggle(self) -> None:
        """Flip collection on/off."""
        self._lib.lab_cg_toggle()

    def dump(self, label: str) -> None:
        """Write a profile now; its trigger reads ``Client Request: <label>``.

        Raises ``ValueError`` for a label with a line break or NUL."""
        self._lib.lab_cg_dump(_label_bytes(label))

    def measure(self, fn: Callable[[], T], label: str, *, warmup: bool = False) -> T:
        """Call ``fn()`` with collection on and dump its profile as ``label``; return its result.

        Instrumentation is switched on first (once). With ``warmup``, ``fn`` runs once
        before, instrumented, so the simulated caches are warm for the measured call; its
        costs are zeroed before the measured call. (The warm-up runs with collection on:
        callgrind 3.19 does not reset the call counts of calls made with collection off
        when the counters are zeroed, so a collection-off warm-up would double them.)
        If ``fn`` raises, collection is switched off, the counters are zeroed, nothing is
        dumped and the exception propagates. Raises ``ValueError`` for a label with a line
        break or NUL."""
        label_bytes = _label_bytes(label)
        self.start()
        if warmup:
            self._collected(fn)
        result = self._collected(fn)
        self._lib.lab_cg_dump(label_bytes)
        return result

    def _collected(self, fn: Callable[[], T]) -> T:
        """Zero the counters and call ``fn()`` with collection on; on an exception switch
        collection off, zero again and re-raise."""
        self.zero()
        self.toggle()
        try:
            result = fn()
        except BaseException:
            self.toggle()
            self.zero()
            raise
        self.toggle()
        return result

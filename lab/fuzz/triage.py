"""Triage of crash reports printed by libFuzzer, atheris and the sanitizers.

Pure text parsing: no subprocesses, no file system access. ``parse_report`` turns the output of a
fuzzing run (or of one reproduction) into a :class:`Finding`:

* It parses the FIRST error report in the text. Reports are recognised by their opening line:
  atheris' ``=== Uncaught Python exception: ===``, ``==PID==ERROR: <Tool>: ...`` (AddressSanitizer,
  LeakSanitizer, libFuzzer), UBSan's ``file:line:col: runtime error: ...``. Only when none of those
  is present, a bare Python ``Traceback (most recent call last):`` or a ``SUMMARY:`` line of a
  report whose head was cut off is used.
* ``kind`` is one of :data:`KINDS`; ``"crash"`` is the fallback, and text with no report at all
  gives ``"crash"`` with summary ``"unrecognized crash report"``.
* ``frames`` is the primary stack (top, i.e. the crash site, first): the first stack printed after
  the report's opening line and before its ``SUMMARY:`` line (for leaks and out-of-memory reports
  that is the allocation stack; for timeouts and deadly signals libFuzzer's own handler frames come
  first), or the Python traceback, innermost frame first.
* ``own_frames`` are the frames whose source file lies under one of ``project_roots`` but not under
  any of ``harness_paths`` (files or folders), and is not runtime code: sanitizer runtime and
  libFuzzer (compiler-rt), the CPython interpreter and the standard library, installed packages
  (``site-packages``), cffi and libffi, libc/libstdc++. Paths are compared textually after
  ``os.path.normpath`` (no symlink resolution); relative paths in a report only match relative
  roots.
* ``signature`` is ``"<kind>: f1 < f2 < f3"`` built from the function names of the top three own
  frames; without own frames from the top three frames that are not runtime code (by location or by
  well-known names such as ``fuzzer::*``, ``malloc``, ``_Py*``, ``main`` without a source file);
  without any such frame from the summary with numbers and addresses replaced by ``N``. It holds no
  addresses, line numbers or paths, so it is stable across rebuilds and inputs. For
  ``harness-error`` the exception class is part of the label: ``"harness-error[KeyError]: ..."``.
* ``parse_report`` never raises: any failure yields the unrecognized-crash finding.

``artifact_path`` returns the crash input libFuzzer saved (``Test unit written to <path>``).
``parse_frame_line`` (one native frame line) and ``ubsan_kind`` (UBSan message -> kind) are the
building blocks, public for reuse.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

KINDS: tuple[str, ...] = (
    # AddressSanitizer memory errors (ASan's own names, "heap-" dropped from use-after-free)
    "heap-buffer-overflow",
    "stack-buffer-overflow",
    "global-buffer-overflow",
    "dynamic-stack-buffer-overflow",
    "container-overflow",
    "use-after-free",
    "stack-use-after-return",
    "stack-use-after-scope",
    "double-free",
    "bad-free",
    "alloc-dealloc-mismatch",
    "stack-overflow",
    "negative-size-param",
    "memcpy-param-overlap",
    "allocation-size-too-big",
    "segv",
    # UndefinedBehaviorSanitizer checks
    "ubsan:signed-integer-overflow",
    "ubsan:shift",
    "ubsan:null",
    "ubsan:bounds",
    "ubsan:alignment",
    "ubsan:division-by-zero",
    "ubsan:invalid-value",
    "ubsan:pointer-overflow",
    "ubsan:other",
    # LeakSanitizer and libFuzzer
    "leak",
    "timeout",
    "oom",
    "assertion",  # C assert() failure or abort()
    "deadly-signal",
    # Python exceptions raised under atheris
    "mismatch",  # class named Mismatch: differential check failed
    "invariant",  # class named InvariantViolation
    "harness-error",  # any other exception class
    "crash",  # fallback: recognised but unclassified, or unrecognized text
)

UNRECOGNIZED = "unrecognized crash report"


@dataclass(frozen=True)
class Frame:
    """One stack frame. ``file``/``line`` as printed; ``module`` is the binary or shared object of a
    native frame printed as ``(/path/lib.so+0x123)``; ``python`` marks Python traceback frames."""

    function: str
    file: str | None
    line: int | None
    module: str | None
    python: bool


@dataclass(frozen=True)
class Finding:
    """A parsed crash report (see the module docstring for the meaning of each field)."""

    kind: str
    summary: str
    frames: tuple[Frame, ...]
    own_frames: tuple[Frame, ...]
    signature: str


# --------------------------------------------------------------------------------------------
# Line patterns
# --------------------------------------------------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_ERROR = re.compile(r"(?:^|==\d+==)\s*ERROR: (?P<tool>[A-Za-z]+): (?P<what>.*)$")
_PY_ANCHOR = re.compile(r"=== Uncaught Python exception: ===")
_TRACEBACK = re.compile(r"^Traceback \(most recent call last\):\s*$")
_RUNTIME_ERROR = re.compile(r"^(?P<loc>\S.*?): runtime error: (?P<msg>.*)$")
_SUMMARY = re.compile(r"^SUMMARY: (?P<tool>[A-Za-z]+): (?P<what>.*)$")
_ASSERTION = re.compile(r"Assertion [`'](?P<expr>.*)' failed\.?|Assertion failed: (?P<musl>.*)")
_ACCESS = re.compile(r"^(?P<op>READ|WRITE) of size (?P<size>\d+) at ")
_SEGV_ACCESS = re.compile(r"The signal is caused by a (?P<op>READ|WRITE|UNKNOWN) memory access")
_LEAK_LINE = re.compile(r"^(?P<what>(?:Direct|Indirect) leak of .*?) allocated from:\s*$")

_FRAME = re.compile(r"^\s*#(?P<num>\d+)\s+0x[0-9a-fA-F]+\b\s*(?:in\s+)?(?P<rest>.*)$")
_BUILD_ID = re.compile(r"\s*\(BuildId: [0-9a-fA-F]+\)\s*$")
_MODULE = re.compile(
    r"\s*\((?:(?P<mod>[^()]+?)\+0x[0-9a-fA-F]+|(?P<unknown><unknown module>))\)$"
)
_LOCATION = re.compile(r"^(?P<file>\S+?)(?::(?P<line>\d+))?(?::(?P<col>\d+))?$")
_OFFSET = re.compile(r"\+0x[0-9a-fA-F]+$")
_SOURCE_EXT = re.compile(r"\.(?:c|cc|cpp|cxx|h|hh|hpp|hxx|inc|S|s|m|mm|rs|py)$")

_PY_FRAME = re.compile(r'^\s*File "(?P<file>.*)", line (?P<line>\d+), in (?P<func>.+?)\s*$')
_PY_EXC = re.compile(r"^(?P<qual>[A-Za-z_][\w.]*)(?::\s?(?P<msg>.*))?$")

_NUMBERS = re.compile(r"\b0x[0-9a-fA-F]+\b|\b\d+\b")

# --------------------------------------------------------------------------------------------
# Runtime (non-project) code
# --------------------------------------------------------------------------------------------

_RUNTIME_PATH_PARTS = (
    "compiler-rt/",
    "/llvm-project/",
    "/site-packages/",
    "/dist-packages/",
    "/lib/python3",
    "/pybind11/",
    "/pip-install-",
    "/pip-build-env-",
    "/usr/include/c++/",
    "/lib/gcc/",
    "_cffi_backend",
    "libffi",
)
_RUNTIME_BASENAME = re.compile(
    r"^(?:Fuzzer\w*\.(?:cpp|h)|(?:asan|lsan|ubsan|sanitizer|interception)_\w+\.(?:cpp|cc|h|inc)"
    r"|ffi64\.c|ffi\.c|unix64\.S|_cffi_backend\.c)$"
)
_CPYTHON_SOURCE = re.compile(
    r"(?:^|/)(?:Python|Objects|Modules|Parser|Include|Programs)/\S*\.[ch]$"
)
_GLIBC_DIRS = frozenset(
    "csu nptl stdlib assert signal sysdeps string malloc libio stdio-common posix elf misc "
    "dlfcn setjmp".split()
)
_RUNTIME_MODULE = re.compile(
    r"(?:^|/)(?:libc[.-]|ld-linux|libstdc\+\+|libgcc_s|libpthread|libm[.-]|libdl[.-]|libffi"
    r"|_cffi_backend|libpython|python\d[\d.]*$|asan_with_fuzzer|libclang_rt|libasan|libubsan"
    r"|liblsan|<unknown module>)"
)
_RUNTIME_FUNC_PREFIXES = (
    "fuzzer::",
    "__sanitizer",
    "__asan",
    "__ubsan",
    "__lsan",
    "__interceptor",
    "___interceptor",
    "__interception::",
    "atheris::",
    "pybind11::",
    "std::",
    "__gnu_cxx::",
    "__libc_",
    "__GI_",
    "__pthread",
    "__assert_",
    "__cxa_",
    "_Py",
    "Py",
    "ffi_",
    "cffi",
    "cdata_",
    "_cffi_",
)
_RUNTIME_FUNCS = frozenset(
    "_start abort raise malloc calloc realloc free posix_memalign memalign aligned_alloc valloc "
    "pvalloc strdup strndup ??".split()
)


def _norm(path: str) -> str:
    return os.path.normpath(path)


def _under(path: str, roots: Sequence[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


def _runtime_by_location(frame: Frame) -> bool:
    """Runtime, interpreter, library or libc code, judged by the frame's file or module."""
    if frame.module and _RUNTIME_MODULE.search(frame.module):
        return True
    if frame.file is None:
        return False
    path = _norm(frame.file)
    if path.startswith("<") or any(part in path for part in _RUNTIME_PATH_PARTS):
        return True
    if _RUNTIME_BASENAME.match(os.path.basename(path)) or _CPYTHON_SOURCE.search(path):
        return True
    return not os.path.isabs(path) and path.split("/", 1)[0] in _GLIBC_DIRS


def _runtime_by_name(frame: Frame) -> bool:
    """Well-known runtime function names (libFuzzer, sanitizer interceptors, allocator, CPython)."""
    name = frame.function
    if frame.python:
        return False
    if name in _RUNTIME_FUNCS or name.startswith(_RUNTIME_FUNC_PREFIXES):
        return True
    return name.startswith("operator ") or (name == "main" and frame.file is None)


# --------------------------------------------------------------------------------------------
# Frames
# --------------------------------------------------------------------------------------------


def parse_frame_line(line: str) -> Frame | None:
    """A native sanitizer stack frame line (``    #3 0x7f.. in func file:line:col`` or
    ``#0 0x.. in func (/path/lib.so+0x12)``), or None."""
    match = _FRAME.match(line)
    if match is None:
        return None
    rest = _BUILD_ID.sub("", match["rest"]).strip()
    module = file = None
    line_no: int | None = None
    mod = _MODULE.search(rest)
    if mod is not None:
        module = mod["mod"] or mod["unknown"]
        rest = rest[: mod.start()].strip()
    else:
        head, _, last = rest.rpartition(" ")
        loc = _LOCATION.match(last)
        if head and loc and ("/" in loc["file"] or _SOURCE_EXT.search(loc["file"]) or loc["line"]):
            file = loc["file"]
            line_no = int(loc["line"]) if loc["line"] else None
            rest = head.strip()
    function = _OFFSET.sub("", rest) or "??"
    return Frame(function=function, file=file, line=line_no, module=module, python=False)


def _first_stack(lines: Sequence[str], start: int, stop: int) -> tuple[Frame, ...]:
    """The first run of consecutive frame lines in ``lines[start:stop]``."""
    frames: list[Frame] = []
    for index in range(start, min(stop, len(lines))):
        frame = parse_frame_line(lines[index])
        if frame is not None:
            frames.append(frame)
        elif frames:
            break
    return tuple(frames)


def _python_frames(block: Sequence[str]) -> tuple[tuple[Frame, ...], str | None]:
    """Frames (innermost first) and the exception line of one traceback block."""
    frames: list[Frame] = []
    for line in block:
        match = _PY_FRAME.match(line)
        if match:
            frames.append(
                Frame(match["func"], match["file"], int(match["line"]), None, python=True)
            )
        elif line.strip() and not line[:1].isspace():
            return tuple(reversed(frames)), line.strip()
    return tuple(reversed(frames)), None


# --------------------------------------------------------------------------------------------
# Report handlers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Raw:
    """What a handler extracts: the summary is ``text`` plus `` in <function>`` if ``where``."""

    kind: str
    text: str
    frames: tuple[Frame, ...]
    where: bool = True
    label: str | None = None


def _summary_index(lines: Sequence[str], start: int) -> int:
    for index in range(start, len(lines)):
        if lines[index].startswith("SUMMARY: "):
            return index
    return len(lines)


def _report_stack(lines: Sequence[str], index: int) -> tuple[Frame, ...]:
    return _first_stack(lines, index + 1, _summary_index(lines, index + 1))


def _find_after(
    pattern: re.Pattern[str], lines: Sequence[str], start: int, stop: int
) -> re.Match[str] | None:
    for index in range(start, min(stop, len(lines))):
        match = pattern.search(lines[index])
        if match:
            return match
    return None


_ASAN_KINDS = {
    "heap-use-after-free": "use-after-free",
    "use-after-free": "use-after-free",
    "SEGV": "segv",
    "ABRT": "assertion",
    "BUS": "deadly-signal",
    "FPE": "deadly-signal",
    "ILL": "deadly-signal",
    "TRAP": "deadly-signal",
}


def _asan_kind(what: str) -> str:
    word = what.split(" ", 1)[0]
    if word == "attempting":
        if "double-free" in what:
            return "double-free"
        return "bad-free" if "free on address" in what else "crash"
    if what.startswith("requested allocation size"):
        return "allocation-size-too-big"
    if what.startswith(("out of memory", "allocator is out of memory")):
        return "oom"
    if word in _ASAN_KINDS:
        return _ASAN_KINDS[word]
    return word if word in KINDS else "crash"


def _handle_asan(lines: Sequence[str], index: int, what: str) -> _Raw:
    kind = _asan_kind(what)
    stop = _summary_index(lines, index + 1)
    frames = _first_stack(lines, index + 1, stop)
    access = _find_after(_ACCESS, lines, index + 1, min(stop, index + 3))
    if access:
        return _Raw(kind, f"{kind} {access['op']} of size {access['size']}", frames)
    if kind == "segv":
        address = re.search(r"on unknown address (\S+)", what)
        op = _find_after(_SEGV_ACCESS, lines, index + 1, min(stop, index + 4))
        text = "segv" + (f" {op['op']}" if op else "")
        return _Raw(kind, text + (f" on unknown address {address[1]}" if address else ""), frames)
    if kind == "assertion":
        return _assertion_or_signal(lines, index, frames, "ABRT")
    text = kind if kind != "crash" else f"AddressSanitizer: {what.split(' on ', 1)[0]}"
    return _Raw(kind, text, frames)


def _assertion_or_signal(
    lines: Sequence[str], index: int, frames: tuple[Frame, ...], signal: str
) -> _Raw:
    for back in range(index - 1, max(-1, index - 12), -1):
        match = _ASSERTION.search(lines[back])
        if match:
            expr = match["expr"] if match["expr"] is not None else match["musl"]
            return _Raw("assertion", f"Assertion `{expr}' failed", frames)
    if signal == "ABRT":
        return _Raw("assertion", "abort", frames)
    return _Raw("deadly-signal", "deadly signal", frames)


def _handle_lsan(lines: Sequence[str], index: int, what: str) -> _Raw:
    stop = _summary_index(lines, index + 1)
    leak = _find_after(_LEAK_LINE, lines, index + 1, stop)
    text = leak["what"] if leak else "memory leak"
    return _Raw("leak", text, _first_stack(lines, index + 1, stop))


def _handle_libfuzzer(lines: Sequence[str], index: int, what: str) -> _Raw:
    frames = _report_stack(lines, index)
    if what.startswith("deadly signal"):
        return _assertion_or_signal(lines, index, frames, "deadly")
    if what.startswith("timeout"):
        return _Raw("timeout", what.strip(), frames)
    if what.startswith("out-of-memory"):
        return _Raw("oom", what.strip(), frames)
    return _Raw("crash", f"libFuzzer: {what.strip()}", frames)


def _handle_error(lines: Sequence[str], index: int, match: re.Match[str]) -> _Raw:
    tool, what = match["tool"], match["what"].strip()
    if tool == "AddressSanitizer":
        return _handle_asan(lines, index, what)
    if tool == "LeakSanitizer":
        return _handle_lsan(lines, index, what)
    if tool == "libFuzzer":
        return _handle_libfuzzer(lines, index, what)
    return _Raw("crash", f"{tool}: {what}", _report_stack(lines, index))


_UBSAN_CHECKS: tuple[tuple[str, str], ...] = (
    (
        r"signed integer overflow|^negation of|^division of .* cannot be represented",
        "ubsan:signed-integer-overflow",
    ),
    (r"shift exponent|shift of|shift base", "ubsan:shift"),
    (
        r"applying .*offset|pointer index expression|(?:addition|subtraction) of unsigned offset",
        "ubsan:pointer-overflow",
    ),
    (r"null pointer", "ubsan:null"),
    (r"index .* out of bounds", "ubsan:bounds"),
    (r"misaligned address", "ubsan:alignment"),
    (r"by zero", "ubsan:division-by-zero"),
    (r"load of value .* not a valid value", "ubsan:invalid-value"),
)


def ubsan_kind(message: str) -> str:
    """Map a UBSan ``runtime error:`` message to its ``ubsan:<check>`` kind."""
    for pattern, kind in _UBSAN_CHECKS:
        if re.search(pattern, message):
            return kind
    return "ubsan:other"


def _handle_ubsan(lines: Sequence[str], index: int, match: re.Match[str]) -> _Raw:
    message = match["msg"].strip()
    frames = _report_stack(lines, index)
    if frames:
        return _Raw(ubsan_kind(message), message, frames)
    location = os.path.basename(match["loc"])
    return _Raw(ubsan_kind(message), f"{message} at {location}", frames, where=False)


def _exception_kind(qualified: str) -> tuple[str, str]:
    name = qualified.rsplit(".", 1)[-1]
    if name == "Mismatch":
        return "mismatch", name
    if name == "InvariantViolation":
        return "invariant", name
    return "harness-error", name


def _handle_python(lines: Sequence[str], index: int, match: re.Match[str]) -> _Raw:
    start = index + 1 if _PY_ANCHOR.search(lines[index]) else index
    stop = len(lines)
    for pos in range(start, len(lines)):
        if _ERROR.search(lines[pos]) or lines[pos].startswith("SUMMARY: "):
            stop = pos
            break
    block = lines[start:stop]
    tracebacks = [pos for pos, line in enumerate(block) if _TRACEBACK.match(line)]
    frames: tuple[Frame, ...] = ()
    exception = None
    if tracebacks:
        frames, exception = _python_frames(block[tracebacks[-1] + 1 :])
    if exception is None:
        exception = next((line.strip() for line in block if line.strip()), "")
    parsed = _PY_EXC.match(exception)
    if not parsed:
        return _Raw("harness-error", exception or "Python exception", frames, where=False)
    kind, name = _exception_kind(parsed["qual"])
    label = f"harness-error[{name}]" if kind == "harness-error" else None
    return _Raw(kind, exception, frames, where=False, label=label)


def _handle_summary(lines: Sequence[str], index: int, match: re.Match[str]) -> _Raw:
    """A report whose opening was cut off: only its SUMMARY line (and earlier stacks) remain."""
    tool, what = match["tool"], match["what"].strip()
    frames = _first_stack(lines, 0, index)
    word = what.split(" ", 1)[0]
    if tool == "UndefinedBehaviorSanitizer":
        return _Raw("ubsan:other", f"UndefinedBehaviorSanitizer: {what}", frames)
    if tool == "AddressSanitizer":
        if re.match(r"\d+ byte\(s\) leaked", what):
            return _Raw("leak", what, frames)
        return _Raw(_asan_kind(word), f"AddressSanitizer: {word}", frames)
    if tool == "libFuzzer":
        return _handle_libfuzzer(lines, index, what)
    return _Raw("crash", f"{tool}: {what}", frames)


_Handler = Callable[[Sequence[str], int, re.Match[str]], _Raw]

_PRIMARY: tuple[tuple[re.Pattern[str], _Handler], ...] = (
    (_PY_ANCHOR, _handle_python),
    (_ERROR, _handle_error),
    (_RUNTIME_ERROR, _handle_ubsan),
)
_SECONDARY: tuple[tuple[re.Pattern[str], _Handler], ...] = (
    (_TRACEBACK, _handle_python),
    (_SUMMARY, _handle_summary),
)


def _first_anchor(
    lines: Sequence[str], table: tuple[tuple[re.Pattern[str], _Handler], ...]
) -> tuple[int, re.Match[str], _Handler] | None:
    for index, line in enumerate(lines):
        for pattern, handler in table:
            match = pattern.search(line)
            if match:
                return index, match, handler
    return None


# --------------------------------------------------------------------------------------------
# Findings
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scope:
    roots: tuple[str, ...]
    harness: tuple[str, ...]

    def own(self, frame: Frame) -> bool:
        if frame.file is None or _runtime_by_location(frame):
            return False
        path = _norm(frame.file)
        return _under(path, self.roots) and not _under(path, self.harness)


def strip_numbers(text: str) -> str:
    """``text`` with every decimal or hexadecimal number replaced by ``N``."""
    return _NUMBERS.sub("N", text)


def _finding(raw: _Raw, scope: _Scope) -> Finding:
    own = tuple(frame for frame in raw.frames if scope.own(frame))
    candidates = own or tuple(
        frame
        for frame in raw.frames
        if not _runtime_by_location(frame) and not _runtime_by_name(frame)
    )
    summary = raw.text.strip() or raw.kind
    if raw.where and candidates:
        summary = f"{summary} in {candidates[0].function}"
    label = raw.label or raw.kind
    if candidates:
        signature = f"{label}: " + " < ".join(frame.function for frame in candidates[:3])
    else:
        signature = f"{label}: {strip_numbers(summary)}"
    return Finding(raw.kind, summary, raw.frames, own, signature)


def _unrecognized() -> Finding:
    return Finding("crash", UNRECOGNIZED, (), (), f"crash: {UNRECOGNIZED}")


def parse_report(
    text: str,
    project_roots: Sequence[str | Path],
    harness_paths: Sequence[str | Path] = (),
) -> Finding:
    """Parse the first crash report in ``text``; never raises (see the module docstring)."""
    try:
        scope = _Scope(
            tuple(_norm(str(root)) for root in project_roots),
            tuple(_norm(str(path)) for path in harness_paths),
        )
        lines = _ANSI.sub("", text).splitlines()
        anchor = _first_anchor(lines, _PRIMARY) or _first_anchor(lines, _SECONDARY)
        if anchor is None:
            return _unrecognized()
        index, match, handler = anchor
        return _finding(handler(lines, index, match), scope)
    except Exception:  # the contract is "never raise": garbage in, "crash" out
        return _unrecognized()


_ARTIFACT = re.compile(r"Test unit written to (?P<path>\S+)")


def artifact_path(text: str) -> str | None:
    """The input libFuzzer saved for the first crash (``Test unit written to ./crash-...``),
    ignoring ``slow-unit-*`` files written for -report_slow_units; None if there is none."""
    try:
        for match in _ARTIFACT.finditer(text):
            if not os.path.basename(match["path"]).startswith("slow-unit-"):
                return match["path"]
    except Exception:  # never raise on garbage
        return None
    return None

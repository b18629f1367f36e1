"""The instruction channel's figures, read from the callgrind dumps of the measuring process.

The child (under ``valgrind --tool=callgrind``, see :mod:`lab.callgrind`) dumps one file per
measured call, labelled ``lab-item-<index>``; :class:`DumpReader` finds each label's file once
it is complete, :func:`instruction_figures` turns a dump into the channel's metrics and
:func:`callgrind_profile` into the per-function profile the store keeps for reports.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from lab.profile.callgrind_format import CallgrindDump, alloc_calls, parse_callgrind

EXT_SUFFIX = re.compile(r"\.cpython-[\w-]+\.so")
"""An extension module's platform tag, left out of function names in reports."""

NO_CORE = ("not counted: this implementation has no native core of the lab's (allocations "
           "are counted in those only)")


def complete(text: str) -> bool:
    """Whether a callgrind file is whole: callgrind writes its ``totals:`` line last."""
    return text.endswith("\n") and text.rstrip("\n").rsplit("\n", 1)[-1].startswith("totals:")


class DumpReader:
    """The client-request dumps (``callgrind.PID.out.N``) of one folder, by label.

    A file is parsed once, when complete: the measuring process goes on with its next item
    while the parent reads, so the newest file may still be being written."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._read: set[Path] = set()
        self._by_label: dict[str, CallgrindDump] = {}

    def take(self, label: str) -> CallgrindDump:
        """The dump labelled ``label`` (each is taken once); ValueError when there is none,
        OSError when a file cannot be read."""
        for path in sorted(self.folder.glob("callgrind.*.out.*")):
            if path in self._read:
                continue
            text = path.read_text(errors="replace")
            if not complete(text):
                continue
            self._read.add(path)
            dump = parse_callgrind(text)
            self._by_label[dump.label] = dump
        dump = self._by_label.pop(label, None)
        if dump is None:
            raise ValueError(f"no dump labelled so in {self.folder}")
        return dump


def core_objects(dump: CallgrindDump) -> set[str]:
    """The objects of a dump that are the lab's native cores (cffi modules named
    ``_lab_<system>_<recipe>_<flavor>``; the lab's own helpers are ``_labcore_*``)."""
    return {f.object for f in dump.functions.values()
            if f.object and f.object.startswith("_lab_")}


def instruction_figures(dump: CallgrindDump) -> tuple[dict[str, list[float]], dict[str, str]]:
    """(metric -> [value], metric -> why it has no value) of one counted call: instructions
    (Ir), first-level data misses (D1mr + D1mw), last-level misses (ILmr + DLmr + DLmw) and
    the native core's calls to the allocator."""
    t = dump.totals
    figures = {
        "vg_instructions": [float(t.get("Ir", 0))],
        "vg_d1_misses": [float(t.get("D1mr", 0) + t.get("D1mw", 0))],
        "vg_ll_misses": [float(t.get("ILmr", 0) + t.get("DLmr", 0) + t.get("DLmw", 0))],
    }
    cores = core_objects(dump)
    if not cores:
        return figures, {"vg_allocs": NO_CORE}
    figures["vg_allocs"] = [float(alloc_calls(dump, cores))]
    return figures, {}


ADDRESS = re.compile(r"^0x[0-9a-fA-F]+(?= |$)")
"""A function callgrind knows only by its address (no symbol): the address changes from run
to run with the memory layout, so such functions are merged per object."""


def function_name(key: str) -> str:
    """The name a profile keeps for a dump's function key: no platform tag, and code without
    a symbol as ``[no symbol] (object)``."""
    return ADDRESS.sub("[no symbol]", EXT_SUFFIX.sub(".so", key))


def callgrind_profile(dump: CallgrindDump, keep: int = 400) -> dict[str, Any]:
    """A store profile row (without impl, workload and params) from a dump: the ``keep``
    functions with the most instructions of their own, name -> [self, inclusive]
    (inclusive summed over merged functions without a symbol)."""
    merged: dict[str, list[int]] = {}
    for key, c in dump.functions.items():
        row = merged.setdefault(function_name(key), [0, 0])
        row[0] += c.self.get("Ir", 0)
        row[1] += c.inclusive.get("Ir", 0)
    kept = sorted(merged.items(), key=lambda kv: (-kv[1][0], kv[0]))[:keep]
    return {"source": "callgrind", "unit": "instructions",
            "total": float(dump.totals.get("Ir", 0)), "functions": dict(kept)}

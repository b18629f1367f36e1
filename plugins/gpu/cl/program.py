"""Building the OpenCL C programs of targets/gpu/cl with per-device options, cached.

``build(context, device, "reduce.cl", {"WG": 256})`` reads the file, builds it with
``-D WG=256`` (options sorted, so the same set always gives the same string) and caches the
program per (context, file, options) for the life of the context (``forget(context)`` drops
a context's programs). PyOpenCL also caches the binaries on disk, and PoCL its compiled
work-group functions, so a second process builds quickly. A failed build raises
``KernelBuildError`` carrying the build log.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path

import pyopencl as cl

KERNEL_DIR = Path(__file__).resolve().parents[3] / "targets" / "gpu" / "cl"

_cache: dict[tuple[int, str, str], tuple[cl.Context, cl.Program]] = {}


class KernelBuildError(RuntimeError):
    """An OpenCL program failed to build; the message holds the file, options and log."""


def options_string(defines: Mapping[str, int | str]) -> str:
    """``-D NAME=VALUE`` for each define, sorted by name."""
    return " ".join(f"-D {name}={defines[name]}" for name in sorted(defines))


def source(name: str) -> str:
    """The text of ``targets/gpu/cl/<name>``."""
    path = KERNEL_DIR / name
    if not path.is_file():
        raise KernelBuildError(f"kernel source {path} not found")
    return path.read_text()


def build(context: cl.Context, device: cl.Device, name: str,
          defines: Mapping[str, int | str]) -> cl.Program:
    """The program ``name`` built for ``device`` with ``defines`` (cached)."""
    options = options_string(defines)
    key = (context.int_ptr, name, options)
    hit = _cache.get(key)
    if hit is not None and hit[0] == context:
        return hit[1]
    program = cl.Program(context, source(name))
    try:
        with warnings.catch_warnings():
            # PyOpenCL warns when a successful build prints a log (PoCL often does)
            warnings.simplefilter("ignore", cl.CompilerWarning)
            program = program.build(options=options, devices=[device])
    except cl.Error as exc:
        try:
            log = program.get_build_info(device, cl.program_build_info.LOG)
        except cl.Error:
            log = ""
        raise KernelBuildError(f"building {name} with '{options}' for {device.name.strip()} "
                               f"failed: {exc}\n{log}") from None
    _cache[key] = (context, program)
    return program


def forget(context: cl.Context) -> None:
    """Drop the cached programs of ``context``."""
    for key in [k for k, (ctx, _) in _cache.items() if ctx == context]:
        del _cache[key]

"""What the gpu implementations need beyond packages: a working OpenCL platform with a device
(an ICD such as PoCL registered and loadable), and a CPU with AVX2 and FMA. Each answers
``missing()`` like the lab's own requirements, so a bench skips the rows it cannot run with
the command that fixes it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lab.requirements import Requirement


@cache
def opencl_problem() -> str | None:
    """None when PyOpenCL lists at least one device, else why not (one line)."""
    try:
        import pyopencl as cl
    except ImportError:
        return "Python module 'pyopencl' not installed"
    try:
        platforms = cl.get_platforms()
    except cl.Error as exc:  # no ICD registered: PLATFORM_NOT_FOUND_KHR
        return f"no OpenCL platform ({str(exc).splitlines()[0] if str(exc) else 'none found'})"
    devices = []
    for platform in platforms:
        try:
            devices += platform.get_devices()
        except cl.Error:
            continue
    return None if devices else "no OpenCL device on any platform"


@dataclass(frozen=True)
class OpenCLDevice(Requirement):
    """An OpenCL platform with a device (PoCL gives one on any CPU)."""

    def missing(self) -> str | None:
        return opencl_problem()


@cache
def cpu_flags() -> frozenset[str]:
    """The CPU feature flags of /proc/cpuinfo (empty where it cannot be read)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


@dataclass(frozen=True)
class CpuFeatures(Requirement):
    """CPU features, space-separated in ``name`` (e.g. ``"avx2 fma"``)."""

    def missing(self) -> str | None:
        lacking = [f for f in self.name.split() if f not in cpu_flags()]
        return f"this CPU lacks {', '.join(lacking)}" if lacking else None

    @property
    def install(self) -> str:
        return "run on an x86-64 CPU with " + " and ".join(self.name.upper().split())

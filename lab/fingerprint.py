"""The environment fingerprint recorded with every run.

Stable facts (CPU model, cores, memory, kernel, OS, compiler, Python, library versions, CPU
governor, plugin extras) are hashed; volatile ones (load at start) are recorded but not
hashed, so two runs on the same machine setup share a fingerprint hash.
"""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from lab.native.cache import digest
from lab.native.flavors import compiler_identity

LIBRARIES = ("cffi", "pluggy", "pytest-benchmark", "numpy", "scipy", "pandas")


def _read(path: str, default: str = "unknown") -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return default


def cpu_model() -> str:
    for line in _read("/proc/cpuinfo", "").splitlines():
        if line.startswith(("model name", "Hardware", "Processor")):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def os_name() -> str:
    for line in _read("/etc/os-release", "").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return platform.system()


def memory_bytes() -> int | None:
    for line in _read("/proc/meminfo", "").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return None


def library_versions() -> dict[str, str]:
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def stable_facts() -> dict[str, Any]:
    """The hashed part of the fingerprint."""
    return {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "memory_bytes": memory_bytes(),
        "machine": platform.machine(),
        "kernel": platform.release(),
        "os": os_name(),
        "compiler": compiler_identity(os.environ.get("CC") or "cc"),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "libraries": library_versions(),
        "governor": _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", "none"),
    }


def fingerprint(extra: dict[str, Any] | None = None) -> tuple[dict[str, Any], str]:
    """The whole fingerprint and the hash of its stable part (plus ``extra``)."""
    stable = stable_facts()
    stable["extra"] = extra or {}
    load1, load5, load15 = os.getloadavg()
    whole = dict(stable, volatile={"load_at_start": [load1, load5, load15],
                                   "executable": sys.executable})
    return whole, digest(stable)[:16]

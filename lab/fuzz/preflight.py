"""The fuzzing preflight (``lab doctor --fuzz`` and the start of every ``lab fuzz``).

Toolchain checks: clang 14 and its libFuzzer archive, atheris importable by this Python with
the merged libFuzzer+ASan runtime beside it, the LLVM tools for coverage and symbolization.
Target checks: a short run of each target must register native coverage counters and reach
new coverage in its first seconds. Each failed check says what is wrong and how to fix it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lab.errors import LabError
from lab.fuzz import process, toolchain
from lab.fuzz.progress import parse_loaded_counters, parse_status
from lab.model import FuzzTarget, System

CHECK_RUNS = 3000
OUTSIDE_RUNS = 20
"""Runs of the check for a target whose code runs in another process (each may boot a VM)."""


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


def _clang() -> Check:
    cc = toolchain.clang()
    path = toolchain.llvm_tool("clang") if not os.path.isabs(cc) else cc
    if not path or not Path(path).exists():
        return Check("clang", False, f"{cc} not found",
                     "apt-get install clang-14 libclang-rt-14-dev llvm-14 (or `make setup`)")
    res = subprocess.run([path, "-print-file-name=libclang_rt.fuzzer_no_main-x86_64.a"],
                         capture_output=True, text=True, timeout=30)
    archive = res.stdout.strip()
    if not os.path.isabs(archive) or not Path(archive).exists():
        return Check("libFuzzer runtime", False, f"{path} has no libFuzzer archive",
                     "apt-get install libclang-rt-14-dev")
    return Check("clang", True, f"{path} with {archive}")


def _atheris() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    site = toolchain.atheris_site()
    if site is None:
        return Check("atheris", False, f"not installed for Python {version}",
                     toolchain.INSTALL_HINT)
    runtime = toolchain.merged_runtime()
    if not runtime.exists():
        return Check("atheris runtime", False,
                     f"{runtime} is missing: atheris was installed from a binary wheel, which "
                     "does not ship libFuzzer merged into ASan (native code gets no coverage)",
                     toolchain.INSTALL_HINT)
    env = dict(os.environ, LD_PRELOAD=str(runtime), ASAN_OPTIONS="detect_leaks=0")
    res = subprocess.run([sys.executable, "-c", "import atheris"], env=env,
                         capture_output=True, text=True, timeout=60)
    if res.returncode != 0:
        last = (res.stderr.strip().splitlines() or ["no output"])[-1]
        return Check("atheris", False, f"cannot import under Python {version}: {last}",
                     toolchain.INSTALL_HINT)
    return Check("atheris", True, f"Python {version}, merged runtime {runtime}")


def _tool(name: str, purpose: str) -> Check:
    path = toolchain.llvm_tool(name)
    if path is None:
        return Check(name, False, f"not found ({purpose})", "apt-get install llvm-14",
                     required=False)
    return Check(name, True, path, required=False)


def toolchain_checks() -> list[Check]:
    return [_clang(), _atheris(), _tool("llvm-symbolizer", "symbolized crash reports"),
            _tool("llvm-profdata", "lab cover"), _tool("llvm-cov", "lab cover")]


def require_toolchain() -> None:
    """Raise a LabError naming the fix when a required toolchain check fails."""
    for check in toolchain_checks():
        if check.required and not check.ok:
            raise LabError(f"fuzzing preflight: {check.name}: {check.detail}; fix: {check.fix}")


def target_check(system: System, target: FuzzTarget) -> Check:
    """A short run of ``target``: native counters must register and coverage must grow."""
    from lab.fuzz.engine import prebuild

    name = f"{system.name}/{target.name}"
    try:
        prebuild(system, [target])
    except LabError as exc:
        return Check(name, False, f"fuzz build failed: {str(exc).splitlines()[0]}",
                     "see `lab build " + system.name + " --flavor fuzz`")
    with tempfile.TemporaryDirectory(prefix="lab-preflight-") as tmp:
        empty = Path(tmp) / "corpus"
        empty.mkdir()
        runs = CHECK_RUNS if target.native else OUTSIDE_RUNS
        argv = [str(process.launcher()), *process.base_flags(target), f"-runs={runs}",
                f"-artifact_prefix={tmp}/", str(empty)]
        env = process.environment(process.spec(system, target))
        try:
            res = subprocess.run(argv, env=env, capture_output=True, text=True,
                                 errors="replace", timeout=120, cwd=tmp)
        except subprocess.TimeoutExpired:
            return Check(name, False, f"{runs} runs took over 120 s",
                         "check the target's speed or timeout")
    return _judge(name, res.returncode, res.stdout + res.stderr, native=target.native)


def _judge(name: str, code: int, out: str, native: bool = True) -> Check:
    counters = [c for c in map(parse_loaded_counters, out.splitlines()) if c is not None]
    statuses = [s for s in map(parse_status, out.splitlines()) if s is not None]
    cov = max((s.cov or 0 for s in statuses), default=0)
    if "INFO: Seed:" not in out:  # libFuzzer never started: the harness failed to load
        last = [ln for ln in out.splitlines() if ln.strip()][-1:] or ["no output"]
        return Check(name, False, f"the harness failed to start: {last[0]}",
                     "fix the plugin's fuzz target")
    if not native:
        found = " (and it already crashes: see `lab fuzz`)" if code != 0 else ""
        return Check(name, True, f"runs outside this process: no native coverage, "
                     f"{OUTSIDE_RUNS} runs guided by its Python code{found}")
    if not counters or sum(counters) == 0:
        return Check(name, False, "no native coverage counters registered",
                     "build with the fuzz flavor and preload asan_with_fuzzer.so; "
                     + toolchain.INSTALL_HINT)
    if cov == 0:
        return Check(name, False, f"{sum(counters)} counters registered but no coverage "
                     f"after {CHECK_RUNS} runs", "make sure the target calls the native core")
    found = " (and it already crashes: see `lab fuzz`)" if code != 0 else ""
    return Check(name, True, f"{sum(counters)} counters, coverage {cov} after "
                 f"{CHECK_RUNS} runs{found}")

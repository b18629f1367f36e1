"""Sampling profilers the lab drives: py-spy for in-process work, perf for server processes.

- :class:`PySpy` attaches ``py-spy record --native`` to the measuring Python process, so the
  stacks hold Python frames and the native core's C frames together; it stops by itself when
  the process exits.
- :class:`Perf` runs ``perf record -a -g`` over the whole machine and keeps the samples of
  the server's processes (``perf script`` filtered by pid). It samples system-wide because
  attaching with ``-p`` gets no samples on some virtual machines (this lab's among them); as
  root that needs nothing more.

Both give :class:`lab.profile.stacks.Stacks`. A missing tool or a refused attach raises
:class:`ProfilerError` with what is missing and the install command.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from lab.errors import LabError
from lab.profile.stacks import Stacks, parse_perf_script, parse_pyspy_raw

PY_SPY_INSTALL = "pip install py-spy (make setup installs it)"
PERF_INSTALL = "apt-get install linux-perf"
PERF_FIELDS = "comm,pid,tid,cpu,time,period,event,ip,sym,dso"
"""``perf script`` fields: ``pid/tid`` in each header, so samples filter by process."""


def _stop(proc: subprocess.Popen, timeout: float, wait_first: bool) -> None:
    if proc.poll() is not None:
        return
    if wait_first:
        try:
            proc.wait(timeout=timeout)
            return
        except subprocess.TimeoutExpired:
            pass
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=timeout if not wait_first else 30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class ProfilerError(LabError):
    """A profiler is missing, not permitted, or failed."""


def _py_spy() -> str:
    here = Path(sys.executable).parent / "py-spy"
    found = str(here) if here.exists() else shutil.which("py-spy")
    if not found:
        raise ProfilerError(f"py-spy is not installed; install it with: {PY_SPY_INSTALL}")
    return found


def _perf() -> str:
    found = shutil.which("perf")
    if not found:
        raise ProfilerError(f"perf is not installed; install it with: {PERF_INSTALL}")
    return found


def check(kind: str) -> None:
    """Raise :class:`ProfilerError` when the profiler ``kind`` (py-spy, perf) is missing."""
    {"py-spy": _py_spy, "perf": _perf}[kind]()


class PySpy:
    """``py-spy record --native`` attached to one process, writing folded stacks."""

    source = "py-spy"

    def __init__(self, out: Path, rate: int) -> None:
        self.out, self.rate = out, rate
        self.log = out.with_suffix(".log")
        self.proc: subprocess.Popen | None = None

    def start(self, pid: int) -> None:
        argv = [_py_spy(), "record", "--pid", str(pid), "--native", "--nolineno",
                "--rate", str(self.rate), "--format", "raw", "--output", str(self.out)]
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        time.sleep(0.5)  # py-spy attaches and loads symbols before the work starts
        if self.proc.poll() is not None:
            raise ProfilerError(self._failure())

    def stop(self, timeout: float = 60) -> None:
        """Wait for py-spy to write its output (it ends when the process exits); SIGINT
        (it writes what it has) after ``timeout``, SIGKILL 30 s later."""
        assert self.proc is not None
        _stop(self.proc, timeout, wait_first=True)

    def stacks(self) -> Stacks:
        if not self.out.exists():
            raise ProfilerError(self._failure())
        return parse_pyspy_raw(self.out.read_text(errors="replace"))

    def _failure(self) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        if "ermission" in text or "ptrace" in text.lower():
            return ("py-spy may not attach (ptrace not permitted): run as root, or allow it "
                    "with `sysctl kernel.yama.ptrace_scope=0`; py-spy said: "
                    + " ".join(text.split())[:300])
        return "py-spy failed: " + (" ".join(text.split())[:300] or "no output")


class Perf:
    """``perf record -a -g`` while the work runs; samples filtered to the server's pids, or
    to processes whose command name is in ``names`` (processes started per measurement)."""

    source = "perf"

    def __init__(self, out: Path, rate: int, names: list[str] | None = None) -> None:
        self.out, self.rate = out, rate
        self.names = set(names or ())
        self.log = out.with_suffix(".log")
        self.proc: subprocess.Popen | None = None
        self.pids: set[int] = set()

    def start(self, pids: list[int]) -> None:
        self.pids = set(pids)
        argv = [_perf(), "record", "-a", "-g", "-F", str(self.rate), "-e", "cpu-clock",
                "-o", str(self.out)]
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        time.sleep(0.5)
        if self.proc.poll() is not None:
            raise ProfilerError(self._failure())

    def stop(self, timeout: float = 60) -> None:
        """SIGINT (perf writes its file), SIGKILL after ``timeout``; idempotent."""
        assert self.proc is not None
        _stop(self.proc, timeout, wait_first=False)

    def stacks(self) -> Stacks:
        if not self.out.exists():
            raise ProfilerError(self._failure())
        try:
            script = subprocess.run([_perf(), "script", "-i", str(self.out), "-F", PERF_FIELDS],
                                    capture_output=True, text=True, errors="replace",
                                    timeout=600)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ProfilerError(f"perf script failed: {exc}") from None
        if script.returncode != 0:
            raise ProfilerError("perf script failed: " + " ".join(script.stderr.split())[:300])
        self.out.unlink()  # system-wide call graphs are large; the folded stacks are kept
        stacks = parse_perf_script(script.stdout, self.pids or None)
        if self.pids or not self.names:
            return stacks
        # each stack's root frame is the sampled process's command name
        return Stacks({k: v for k, v in stacks.counts.items() if k[0] in self.names})

    def _failure(self) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        if "paranoid" in text or "ermission" in text:
            return ("perf may not sample the whole machine: run as root, or allow it with "
                    "`sysctl kernel.perf_event_paranoid=-1`; perf said: "
                    + " ".join(text.split())[:300])
        return "perf record failed: " + (" ".join(text.split())[:300] or "no output")

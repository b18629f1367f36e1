"""Network namespaces the lab makes for itself, and removes afterwards even when a run fails.

Contract: ``with Netns("tcpip") as nets:`` gives a :class:`Netns` whose namespaces
(``nets.add("peer")`` -> a kernel name like ``lab-tcpip-<pid>-1peer``), links
(``nets.tap``, ``nets.veth``) and addresses (``nets.up``) exist only inside the ``with``
block: on exit, normal or not, every process started through ``nets.popen`` is stopped
(SIGTERM, then SIGKILL after ``TERM_GRACE`` seconds), every process still running in one of
its namespaces is killed, and the namespaces are deleted (which removes their links with
them).  Nothing is changed in the host's own namespace.  Namespaces left behind by a lab
process that died before cleaning up (``lab-*-<pid>-*`` whose pid no longer runs) are reaped
by the next ``Netns`` made.

:func:`missing` says in one line what this machine lacks (root or CAP_NET_ADMIN, ``ip``,
/dev/net/tun, or any other command named), or returns None; tests and benchmarks
call it first and report that line instead of failing half-way.  Every command has a time
bound; a failing one raises :class:`NetnsError` with its stderr.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from lab.errors import LabError

NETNS_DIR = Path("/var/run/netns")
PREFIX = "lab-"
_NAME_RE = re.compile(r"^lab-[a-z0-9]+-(\d+)-[a-z0-9-]+$")
CMD_TIMEOUT = 20
TERM_GRACE = 3.0
"""Seconds the processes started in the namespaces get between SIGTERM and SIGKILL."""


class NetnsError(LabError):
    """A namespace, link or qdisc could not be set up (the message names the command)."""


def _has_net_admin() -> bool:
    if os.geteuid() == 0:
        return True
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return False
    for line in status.splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) & (1 << 12))   # CAP_NET_ADMIN
    return False


def missing(commands: Sequence[str] = ("ip",), tun: bool = False) -> str | None:
    """One line naming what is missing to make namespaces here, or None."""
    lacks = []
    if not _has_net_admin():
        lacks.append("root or CAP_NET_ADMIN")
    lacks += [f"`{c}`" for c in commands if shutil.which(c) is None]
    if tun and not os.access("/dev/net/tun", os.R_OK | os.W_OK):
        lacks.append("/dev/net/tun")
    if not lacks:
        return None
    return ("network namespaces need " + ", ".join(lacks) +
            " (iproute2 gives ip, dnsmasq and tshark come from Debian packages of "
            "those names)")


def _run(args: Sequence[str], timeout: float = CMD_TIMEOUT) -> str:
    try:
        proc = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise NetnsError(f"`{' '.join(args)}` took more than {timeout} s") from exc
    except OSError as exc:
        raise NetnsError(f"`{' '.join(args)}`: {exc}") from exc
    if proc.returncode != 0:
        raise NetnsError(f"`{' '.join(args)}` failed: {proc.stderr.strip()}")
    return proc.stdout


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_inside(ns: str) -> None:
    """SIGKILL every process whose network namespace is ``ns``."""
    try:
        pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True,
                              timeout=CMD_TIMEOUT).stdout.split()
    except (OSError, subprocess.TimeoutExpired):
        return
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, ValueError, PermissionError):
            os.kill(int(pid), signal.SIGKILL)


def _delete(ns: str) -> None:
    _kill_inside(ns)
    subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=CMD_TIMEOUT)


def reap_stale() -> list[str]:
    """Delete the lab's namespaces whose creating process is gone; returns their names."""
    reaped = []
    names = sorted(p.name for p in NETNS_DIR.iterdir()) if NETNS_DIR.is_dir() else []
    for name in names:
        m = _NAME_RE.match(name)
        if m and not _pid_alive(int(m.group(1))):
            _delete(name)
            reaped.append(name)
    return reaped


class Netns:
    """The namespaces of one test or benchmark (see the module docstring)."""

    def __init__(self, tag: str) -> None:
        if not re.fullmatch(r"[a-z0-9]{1,12}", tag):
            raise ValueError(f"namespace tag {tag!r}: use 1-12 lowercase letters or digits")
        self.tag = tag
        self.names: list[str] = []
        self.procs: list[subprocess.Popen] = []
        self._serial = 0

    def __enter__(self) -> Netns:
        why = missing()
        if why:
            raise NetnsError(why)
        reap_stale()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, role: str) -> str:
        """Make a namespace for ``role`` with loopback up; returns its name."""
        self._serial += 1
        name = f"{PREFIX}{self.tag}-{os.getpid()}-{self._serial}{role[:8]}"
        _run(["ip", "netns", "add", name])
        self.names.append(name)
        self.ip(name, "link", "set", "lo", "up")
        return name

    def ip(self, ns: str, *args: str) -> str:
        return _run(["ip", "-n", ns, *args])

    def exec(self, ns: str, *cmd: str, timeout: float = CMD_TIMEOUT) -> str:
        return _run(["ip", "netns", "exec", ns, *cmd], timeout=timeout)

    def popen(self, ns: str, cmd: Sequence[str], **kw: object) -> subprocess.Popen:
        """Start ``cmd`` inside ``ns``; it is killed when the block ends."""
        proc = subprocess.Popen(["ip", "netns", "exec", ns, *cmd], **kw)  # type: ignore[call-overload]
        self.procs.append(proc)
        return proc

    def tap(self, ns: str, dev: str, addr: str | None = None, mtu: int | None = None) -> None:
        """A TAP device ``dev`` in ``ns`` (up, with ``addr`` like ``10.0.0.1/24``); a process
        in ``ns`` attaches to it by name through /dev/net/tun."""
        self.ip(ns, "tuntap", "add", "dev", dev, "mode", "tap")
        self.up(ns, dev, addr, mtu)

    def veth(self, ns_a: str, dev_a: str, ns_b: str, dev_b: str, addr_a: str | None = None,
             addr_b: str | None = None, mtu: int | None = None) -> None:
        """A veth pair between two namespaces, both ends up."""
        self.ip(ns_a, "link", "add", dev_a, "type", "veth", "peer", "name", dev_b,
                "netns", ns_b)
        self.up(ns_a, dev_a, addr_a, mtu)
        self.up(ns_b, dev_b, addr_b, mtu)

    def up(self, ns: str, dev: str, addr: str | None = None, mtu: int | None = None) -> None:
        """Set ``dev``'s MTU and address (when given) and bring it up."""
        if mtu:
            self.ip(ns, "link", "set", dev, "mtu", str(mtu))
        if addr:
            self.ip(ns, "addr", "add", addr, "dev", dev)
        self.ip(ns, "link", "set", dev, "up")

    def close(self) -> None:
        running = [p for p in self.procs if p.poll() is None]
        for proc in running:                  # SIGTERM first: let them flush and exit
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
        end = time.monotonic() + TERM_GRACE
        for proc in running:
            try:
                proc.wait(timeout=max(0.05, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=5)
        self.procs.clear()
        for name in reversed(self.names):
            _delete(name)
        self.names.clear()


class Lines:
    """Every line a process writes to its stdout (text mode), read by a thread as it comes,
    so a caller can wait for one (``wait``) and still see all of them (``lines``)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        import threading

        assert proc.stdout is not None
        self.proc = proc
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._done = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._done = True
            self._cond.notify_all()

    def wait(self, prefix: str, timeout: float) -> str:
        """The first line starting with ``prefix``; raises NetnsError naming what the
        process printed when it exits or ``timeout`` passes first."""
        end = time.monotonic() + timeout
        with self._cond:
            while True:
                hit = next((ln for ln in self.lines if ln.startswith(prefix)), None)
                left = end - time.monotonic()
                if hit is not None:
                    return hit
                if self._done or left <= 0:
                    break
                self._cond.wait(min(left, 0.5))
            tail = " | ".join(self.lines[-5:]) or "nothing"
        raise NetnsError(f"no '{prefix}' line within {timeout} s (exit {self.proc.poll()}); "
                         f"it printed: {tail}")

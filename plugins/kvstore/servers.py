"""Starting and stopping the servers under test: ours (``kvstore-server``) and redis-server.

Each server gets a free loopback port, a temporary data directory and a log file, and is
configured alike (one database, no persistence in this increment). ``start`` returns once the server
answers PING, or raises with the tail of its log; ``close`` stops it with SIGTERM (SIGKILL
after a grace period) and keeps its log beside the run's other files when asked.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

READY_TIMEOUT = 15.0
STOP_GRACE = 10.0
SERVER_CPU = 0
"""The CPU the servers are pinned to (when the machine has more than one); load generators
run on the others, so server and client never compete for a core."""


def cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def server_cpus() -> set[int]:
    mine = cpus()
    return {mine[SERVER_CPU]} if len(mine) > 1 else set(mine)


def client_cpus() -> set[int]:
    mine = cpus()
    rest = set(mine) - server_cpus()
    return rest or set(mine)


def pinning() -> dict[str, list[int]]:
    """What the run records about CPU pinning."""
    return {"server_cpus": sorted(server_cpus()), "client_cpus": sorted(client_cpus())}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ping(port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class Server:
    """A running server process: ``port``, ``pid``, ``workdir`` (its data directory)."""

    name: str
    argv: list[str]
    port: int
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    populated: dict[str, int] = field(default_factory=dict)

    @property
    def log(self) -> Path:
        return self.workdir / "server.log"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> Server:
        pinned = server_cpus()
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env={**os.environ, **self.env},
                preexec_fn=lambda: os.sched_setaffinity(0, pinned))
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with status {self.proc.returncode} at "
                                   f"start: {self.log_tail()}")
            if ping(self.port):
                return self
            time.sleep(0.05)
        self.close()
        raise RuntimeError(f"{self.name} did not answer PING on port {self.port} within "
                           f"{READY_TIMEOUT:.0f} s: {self.log_tail()}")

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        return " | ".join(text[-lines:]) or "empty log"

    def rss_bytes(self) -> int:
        """Resident set size of the server process (VmRSS)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError(f"{self.name}: no VmRSS for pid {self.pid}")

    def close(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and remove its data directory; the log
        is kept in ``$LAB_SERVER_LOGS`` when that is set."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        keep = os.environ.get("LAB_SERVER_LOGS")
        if keep and self.log.exists():
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(self.log, Path(keep) / f"{self.name}-{self.port}.log")
        shutil.rmtree(self.workdir, ignore_errors=True)


def _workdir(name: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"lab-{name}-"))


def start_ours(exe: Path, env: dict[str, str] | None = None, extra: tuple[str, ...] = ()) -> Server:
    """Our kvstore-server on a free port, one I/O thread, no persistence."""
    port, workdir = free_port(), _workdir("kvstore")
    argv = [str(exe), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir), *extra]
    return Server("kvstore", argv, port, workdir, env or {}).start()


def start_redis(extra: tuple[str, ...] = ()) -> Server:
    """redis-server on a free port, configured like ours: no snapshots, no append-only log."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise RuntimeError("redis-server not found; install with: apt-get install redis-server")
    port, workdir = free_port(), _workdir("redis")
    argv = [exe, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir),
            "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "no",
            "--io-threads", "1", "--databases", "1", *extra]
    return Server("redis", argv, port, workdir).start()

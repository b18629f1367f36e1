"""Starting and stopping the servers under test: ours (``kvstore-server``) and redis-server.

Each server gets a free loopback port, its own data directory (under the run's folder,
``$LAB_RUN_DIR``, so that fsync reaches the same disk as the lab's files; a temporary folder
otherwise) and a log file, and is configured alike: one database, no snapshots, and one of
the persistence modes of `PERSISTENCE` (ours takes Redis's flag names, so both get the same
flags). ``start`` returns once the server answers PING, or raises with the tail of its log;
``stop`` sends SIGTERM (SIGKILL after a grace period) and keeps the data directory for a
restart; ``close`` also keeps the log with the run (``$LAB_SERVER_LOGS``, else
``$LAB_RUN_DIR/servers``) and removes the data.

A `Launcher` is what an implementation's ``load`` returns: it starts its server on demand in
the persistence mode a workload asks for, restarting it when the mode changes.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

READY_TIMEOUT = 120.0
"""Long enough to load a large log at start (both servers answer PING only once loaded)."""
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


PERSISTENCE = ("none", "no", "everysec", "always")
"""``none``: no append-only log; otherwise the log with that ``appendfsync`` policy."""


def persistence_args(mode: str) -> tuple[str, ...]:
    """Command-line flags of a persistence mode (the same for both servers)."""
    if mode not in PERSISTENCE:
        raise ValueError(f"unknown persistence mode {mode!r} (valid: {', '.join(PERSISTENCE)})")
    if mode == "none":
        return ("--appendonly", "no")
    return ("--appendonly", "yes", "--appendfsync", mode)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ping(port: int, timeout: float = 1.0, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class Server:
    """A running server process: ``port``, ``pid``, ``workdir`` (its data directory).

    ``host`` is the address it serves on; ``log_file`` where its output goes (default
    ``workdir/server.log``); ``prefix`` is put before ``argv`` when starting (e.g.
    ``ip netns exec NAME`` to run it in a network namespace)."""

    name: str
    argv: list[str]
    port: int
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    populated: dict[str, int] = field(default_factory=dict)
    host: str = "127.0.0.1"
    log_file: Path | None = None
    prefix: list[str] = field(default_factory=list)

    @property
    def log(self) -> Path:
        return self.log_file or self.workdir / "server.log"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, poll: float = 0.05, ready_timeout: float = READY_TIMEOUT) -> Server:
        """Start the process and return once it answers PING (polling every ``poll`` s, for
        at most ``ready_timeout`` s)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        pinned = server_cpus()
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [*self.prefix, *self.argv], cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env={**os.environ, **self.env},
                preexec_fn=lambda: os.sched_setaffinity(0, pinned))
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with status {self.proc.returncode} at "
                                   f"start: {self.log_tail()}")
            if ping(self.port, host=self.host):
                return self
            time.sleep(poll)
        self.stop()  # its data stays: the caller decides (a chaos restart must not lose it)
        raise RuntimeError(f"{self.name} did not answer PING on port {self.port} within "
                           f"{ready_timeout:.0f} s: {self.log_tail()}")

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

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far (all its threads)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> int | None:
        """SIGTERM (SIGKILL after a grace period); the data directory stays. Returns the
        exit status (None when it was not running)."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def close(self) -> None:
        """Stop the server, keep its log with the run and remove its data directory."""
        self.stop()
        keep = os.environ.get("LAB_SERVER_LOGS") or (
            os.environ.get("LAB_RUN_DIR") and str(Path(os.environ["LAB_RUN_DIR"]) / "servers"))
        if keep and self.log.exists():
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(self.log, Path(keep) / f"{self.name}-{self.port}.log")
        shutil.rmtree(self.workdir, ignore_errors=True)


def _workdir(name: str) -> Path:
    run_dir = os.environ.get("LAB_RUN_DIR")
    parent = Path(run_dir) / "data" if run_dir else None
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"lab-{name}-", dir=parent))


def data_filesystem() -> str:
    """Type of the filesystem the data directories live on (fsync means little on tmpfs)."""
    where = _workdir("probe")
    try:
        best, fstype = "", "unknown"
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            mount = parts[1]
            if str(where).startswith(mount.rstrip("/") + "/") and len(mount) > len(best):
                best, fstype = mount, parts[2]
        return fstype
    finally:
        shutil.rmtree(where, ignore_errors=True)


def ours(exe: Path, env: dict[str, str] | None = None,
         extra: tuple[str, ...] = ()) -> Server:
    """Our kvstore-server on a free port (not started), no persistence unless ``extra``
    says otherwise."""
    port, workdir = free_port(), _workdir("kvstore")
    argv = [str(exe), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir),
            "--save", "", "--appendonly", "no", *extra]
    return Server("kvstore", argv, port, workdir, env or {})


def redis(extra: tuple[str, ...] = ()) -> Server:
    """redis-server on a free port (not started), configured like ours: no snapshots, no
    append-only log unless ``extra`` says otherwise."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise RuntimeError("redis-server not found; install with: apt-get install redis-server")
    port, workdir = free_port(), _workdir("redis")
    argv = [exe, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir),
            "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "no",
            "--io-threads", "1", "--databases", "1", *extra]
    return Server("redis", argv, port, workdir)


def start_ours(exe: Path, env: dict[str, str] | None = None,
               extra: tuple[str, ...] = ()) -> Server:
    """`ours`, started."""
    return ours(exe, env, extra).start()


def start_redis(extra: tuple[str, ...] = ()) -> Server:
    """`redis`, started."""
    return redis(extra).start()


@dataclass
class Launcher:
    """One implementation's server, started on demand in the persistence mode asked for.

    ``make(extra)`` creates a (not yet started) `Server` with extra flags. `server` returns the
    running one when its mode matches and starts a new one otherwise (the old one is closed);
    `fresh` always starts a new one with an empty data directory (and optional extra flags).
    """

    name: str
    make: Callable[[tuple[str, ...]], Server]
    current: Server | None = None
    mode: str | None = None

    def server(self, persistence: str = "none") -> Server:
        if self.current is not None and self.mode == persistence and self.current.alive():
            return self.current
        return self.fresh(persistence)

    def fresh(self, persistence: str = "none", extra: tuple[str, ...] = ()) -> Server:
        self.close()
        server = self.make(persistence_args(persistence) + extra)
        self.current, self.mode = server.start(), persistence
        return server

    def pids(self) -> list[int]:
        """The running server's process, for counters and profilers (none when stopped)."""
        return [self.current.pid] if self.current is not None and self.current.alive() else []

    def close(self) -> None:
        if self.current is not None:
            self.current.close()
        self.current, self.mode = None, None

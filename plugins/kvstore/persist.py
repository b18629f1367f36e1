"""Measuring the append-only log of a server under test: recovery at start and log rewrite.

Both servers keep the log Redis 7's way (``appendonlydir/``: a base file, incremental files
and a manifest), so the same procedure measures both:

* `recovery`: a fresh server with ``appendonly yes`` (``appendfsync no``, the fastest to
  fill) gets ``keys`` keys, is stopped cleanly (SIGTERM flushes the log), and is started again
  on the same directory; the time from spawning the process to its first PONG (both servers
  refuse commands until the log is loaded: redis answers ``-LOADING``, ours listens only
  afterwards) is the recovery time, also given per GB of log on disk.
* `rewrite`: after filling the same way, BGREWRITEAOF, then INFO polled every few ms until no
  rewrite is in progress or scheduled; the wall time is the rewrite time as a client sees it
  (both servers notice the end of the rewriting child in their timer, at ``hz`` 10).
"""

from __future__ import annotations

import socket
import time

from plugins.kvstore.load import _resp, dbsize, populate
from plugins.kvstore.servers import Launcher, Server

POLL = 0.002
REWRITE_TIMEOUT = 300.0


def log_bytes(server: Server) -> int:
    """Bytes of append-only log on disk (every file of ``appendonlydir``)."""
    folder = server.workdir / "appendonlydir"
    if not folder.is_dir():
        raise RuntimeError(f"{server.name} wrote no appendonlydir in {server.workdir}")
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def info(server: Server, section: str) -> dict[str, str]:
    """INFO ``section`` as a dict of its ``field:value`` lines."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(_resp(b"INFO", section.encode()))
        data = b""
        while b"\r\n" not in data:
            data += s.recv(1 << 16)
        header, rest = data.split(b"\r\n", 1)
        if not header.startswith(b"$"):
            raise RuntimeError(f"{server.name}: INFO answered {header!r}")
        size = int(header[1:])
        while len(rest) < size + 2:
            chunk = s.recv(1 << 16)
            if not chunk:
                raise RuntimeError(f"{server.name} closed the connection during INFO")
            rest += chunk
    fields = {}
    for line in rest[:size].decode(errors="replace").splitlines():
        if ":" in line and not line.startswith("#"):
            name, value = line.split(":", 1)
            fields[name] = value
    return fields


NO_AUTO_REWRITE = ("--auto-aof-rewrite-percentage", "0")
"""Both servers keep the whole fill in incremental files, so both load the same kind of log."""


def _filled(launcher: Launcher, keys: int, size: int) -> Server:
    server = launcher.fresh("no", NO_AUTO_REWRITE)
    populate(server, keys, size)
    if dbsize(server) != keys:
        raise RuntimeError(f"{server.name} holds {dbsize(server)} keys after loading {keys}")
    return server


def recovery(launcher: Launcher, keys: int, size: int) -> dict[str, float]:
    """Seconds to start again from a log of ``keys`` keys, and seconds per GB of log."""
    server = _filled(launcher, keys, size)
    status = server.stop()
    if status != 0:
        raise RuntimeError(f"{server.name} exited with status {status} on SIGTERM: "
                           f"{server.log_tail()}")
    size_on_disk = log_bytes(server)
    started = time.monotonic()
    server.start(poll=POLL)
    seconds = time.monotonic() - started
    server.populated.clear()
    if dbsize(server) != keys:
        raise RuntimeError(f"{server.name} recovered {dbsize(server)} keys of {keys}")
    return {"recovery_s": seconds, "s_per_gb": seconds / (size_on_disk / 1e9),
            "log_mb": size_on_disk / 1e6}


def rewrite(launcher: Launcher, keys: int, size: int) -> dict[str, float]:
    """Seconds from BGREWRITEAOF to the end of the rewrite, over ``keys`` keys."""
    server = _filled(launcher, keys, size)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        started = time.monotonic()
        s.sendall(_resp(b"BGREWRITEAOF"))
        reply = s.recv(256)
    if not reply.startswith(b"+"):
        raise RuntimeError(f"{server.name}: BGREWRITEAOF answered {reply!r}")
    deadline = started + REWRITE_TIMEOUT
    while time.monotonic() < deadline:
        fields = info(server, "persistence")
        if fields.get("aof_rewrite_in_progress") == "0" and \
                fields.get("aof_rewrite_scheduled") == "0":
            seconds = time.monotonic() - started
            if fields.get("aof_last_bgrewrite_status") != "ok":
                raise RuntimeError(f"{server.name}: the rewrite failed: {server.log_tail()}")
            return {"rewrite_s": seconds, "log_mb": log_bytes(server) / 1e6}
        time.sleep(POLL)
    raise RuntimeError(f"{server.name}: the rewrite did not finish within {REWRITE_TIMEOUT:.0f}"
                       f" s: {server.log_tail()}")

"""kvstore under ``lab chaos``: our server and redis-server as one-node clusters, a RESP client
that never retries on its own, and the scenarios that compare how safe the two are.

Both servers get the same flags (`servers.PERSISTENCE`: the append-only log with
``appendfsync always`` or ``everysec``), their data in the directory the lab places them in
(on a small tmpfs for disk-full scenarios), their logs outside it (so a simulated crash never
eats the log the report shows). ``kvstore-nofsync`` is a test build of ours that
acknowledges writes without syncing the log (``-DKV_TEST_SKIP_FSYNC``): it exists to prove
that the durability checker catches a store that cheats, and is run only when named.

Operations (the lab's workloads, `lab.chaos.workload`): ``add`` of element ``e`` to set ``s``
is ``SET s:e 1``; a ``read`` of the set is ``KEYS s:*``; a register ``write`` is
``SET key value`` and its ``read`` is ``GET key``. Outcomes: a refused connection or an
error reply is ``fail`` (not applied), a timeout or a connection lost after sending is
``info`` (unknown), as in Jepsen.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.chaos.model import ChaosSuite, Placement, Scenario
from lab.chaos.nemesis import FaultContext, Nemesis, registry
from plugins.kvstore import servers

BUILTIN = registry()

NOFSYNC_RECIPE = "kvstore-server-nofsync"
IMPLS = ("kvstore", "redis")
READY_S = 20.0
"""Seconds a restarted server gets to answer PING (its log holds seconds of writes)."""
TEST_IMPLS = ("kvstore-nofsync",)


# ---- client ---------------------------------------------------------------------------

class RespError(Exception):
    """An error reply from the server."""


def _command(*args: Any) -> bytes:
    parts = [str(a).encode() if not isinstance(a, bytes) else a for a in args]
    return b"".join([b"*%d\r\n" % len(parts)] + [b"$%d\r\n%s\r\n" % (len(p), p)
                                                  for p in parts])


class _Reader:
    """RESP2 replies from a socket; ``deadline`` (monotonic) bounds the whole reply."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.buf = sock, b""
        self.deadline = float("inf")

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            self._more()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _more(self) -> None:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no complete reply in time")
        self.sock.settimeout(min(left, 3600.0))
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed by the server")
        self.buf += chunk

    def _exact(self, n: int) -> bytes:
        while len(self.buf) < n + 2:
            self._more()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self) -> Any:
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RespError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise ConnectionError(f"malformed reply {line[:40]!r}")


class Client:
    """One connection; see the module docstring for how operations map to commands."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.sock: socket.socket | None = None

    def _connect(self) -> None:
        self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        self.sock.settimeout(self.timeout)
        self.reader = _Reader(self.sock)

    def invoke(self, f: str, key: str | None, value: Any) -> tuple[str, Any]:
        try:
            if self.sock is None:
                self._connect()
        except OSError:
            return "fail", None
        assert self.sock is not None
        self.reader.deadline = time.monotonic() + self.timeout
        try:
            self.sock.settimeout(self.timeout)
            self.sock.sendall(_command(*_args(f, key, value)))
            reply = self.reader.reply()
        except RespError:
            return "fail", None
        except (OSError, ValueError):
            self.close()
            return ("fail" if f == "read" else "info"), None
        return "ok", _result(f, key, reply)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def _args(f: str, key: str | None, value: Any) -> tuple[Any, ...]:
    if f == "add":
        return ("SET", f"{key}:{value}", 1)
    if f == "read" and key == "s":
        return ("KEYS", f"{key}:*")
    if f == "write":
        return ("SET", key, value)
    if f == "read":
        return ("GET", key)
    raise ValueError(f"kvstore cannot run operation {f!r}")


def _number(raw: bytes) -> int | str:
    """An element or value as the integer the workload wrote, or, when the store returns
    something else (a corrupted key), the text itself: the checkers then report it as
    unexpected instead of the client failing."""
    try:
        return int(raw)
    except ValueError:
        return raw.decode(errors="replace")


def _result(f: str, key: str | None, reply: Any) -> Any:
    if f == "read" and key == "s":
        if not isinstance(reply, list):
            return repr(reply)
        found = [_number(k.split(b":", 1)[-1]) for k in reply if isinstance(k, bytes)]
        return sorted(found, key=lambda v: (isinstance(v, str), v))
    if f == "read":
        return reply if reply is None or not isinstance(reply, bytes) else _number(reply)
    return None


# ---- nodes ----------------------------------------------------------------------------

@dataclass
class Node:
    """One server process as a chaos node (the lab's `lab.chaos.model.Node`)."""

    name: str
    server: servers.Server
    env: dict[str, str] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        return self.server.workdir

    def start(self) -> None:
        self.server.env = dict(self.env)
        netns = self.env.get("LAB_CHAOS_NETNS")
        self.server.prefix = ["ip", "netns", "exec", netns] if netns else []
        self.server.start(poll=0.01, ready_timeout=READY_S)

    def kill(self) -> None:
        proc = self.server.proc
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop(self) -> None:
        self.server.stop()

    def alive(self) -> bool:
        return self.server.alive()

    def pids(self) -> list[int]:
        return [self.server.pid] if self.alive() else []

    def exit_status(self) -> int | None:
        proc = self.server.proc
        return None if proc is None else proc.poll()


@dataclass
class Cluster:
    """A one-node cluster of one implementation."""

    nodes: list[Node]
    host: str

    def client(self, process: int, timeout: float) -> Client:
        return Client(self.host, self.nodes[0].server.port, timeout)

    def close(self, logs_dir: Path) -> None:
        for node in self.nodes:
            node.server.stop()
            if node.server.log.exists():
                logs_dir.mkdir(parents=True, exist_ok=True)
                target = logs_dir / f"{node.name}-{node.server.name}.log"
                if node.server.log != target:
                    target.write_bytes(node.server.log.read_bytes())


def _server(impl: str, flavor: str, persistence: str, data: Path, placement: Placement
            ) -> servers.Server:
    from lab import native
    from lab.host import get_host

    flags = servers.persistence_args(persistence)
    if impl == "redis":
        server = servers.redis(flags)
    else:
        system = get_host().systems()["kvstore"]
        recipe = NOFSYNC_RECIPE if impl == "kvstore-nofsync" else "kvstore-server"
        exe = native.build(system, recipe, flavor).path / recipe
        server = servers.ours(exe, native.flavors_runtime_env(flavor), flags)
    os.rmdir(server.workdir)
    server.workdir = data
    server.argv[server.argv.index("--dir") + 1] = str(data)
    if placement.host != "127.0.0.1":
        server.argv[server.argv.index("--bind") + 1] = placement.host
        server.host = placement.host
    server.log_file = placement.logs_dir / f"{impl}.log"
    return server


def open_cluster(impl: str, settings: Mapping[str, Any], placement: Placement,
                 flavor: str) -> Cluster:
    """A one-node cluster of ``impl`` (not started) with ``settings['persistence']``."""
    if impl not in IMPLS + TEST_IMPLS:
        raise ValueError(f"unknown kvstore chaos implementation {impl!r} (valid: "
                         f"{', '.join(IMPLS + TEST_IMPLS)})")
    data = placement.data_root / f"{impl}-n1"
    data.mkdir(parents=True, exist_ok=True)
    server = _server(impl, flavor, str(settings.get("persistence", "always")), data, placement)
    env = dict(server.env)
    return Cluster([Node("n1", server, env)], placement.host)


# ---- kvstore's own nemeses --------------------------------------------------------------

SLOW_CLIENTS = 8
SLOW_REQUESTS = 400
SLOW_VALUE = 16384


def _ask(node: Node, *args: Any, timeout: float = 5.0) -> str:
    """Send one command to the node; its reply as text (an error reply too)."""
    client = Client(node.server.host, node.server.port, timeout)
    try:
        client._connect()
        assert client.sock is not None
        client.sock.sendall(_command(*args))
        return str(client.reader.reply())
    except RespError as e:
        return f"error: {e}"
    except OSError as e:
        return f"no reply ({e})"
    finally:
        client.close()


def _rewrite_on_full_disk(ctx: FaultContext) -> str:
    filled = ctx.disk.fill()
    return f"{filled}; BGREWRITEAOF: {_ask(ctx.node, 'BGREWRITEAOF')}"


def _free_disk(ctx: FaultContext) -> str:
    return BUILTIN["disk-full"].end(ctx)


def _slow_clients(ctx: FaultContext) -> str:
    """Connections that pipeline GETs of a large value and never read the replies."""
    node: Node = ctx.node
    _ask(node, "SET", "lab:slow", b"x" * SLOW_VALUE)
    socks = []
    burst = _command("GET", "lab:slow") * SLOW_REQUESTS
    for _ in range(SLOW_CLIENTS):
        try:
            sock = socket.create_connection((node.server.host, node.server.port), timeout=2)
            sock.setblocking(False)
            try:
                sock.send(burst)
            except BlockingIOError:
                pass
            socks.append(sock)
        except OSError:
            break
    ctx.args["_sockets"] = socks
    return (f"{len(socks)} clients pipelining {SLOW_REQUESTS} GETs of {SLOW_VALUE} B each "
            "without reading")


def _release_slow_clients(ctx: FaultContext) -> str:
    socks = ctx.args.pop("_sockets", [])
    for sock in socks:
        sock.close()
    return f"closed {len(socks)} slow clients"


NEMESES = (
    Nemesis("disk-full-rewrite", "fill the data disk, then ask for a log rewrite "
            "(BGREWRITEAOF) while it is full; free the disk when the window ends",
            _rewrite_on_full_disk, _free_disk, (0.5, 2.0), ("disk",)),
    Nemesis("slow-clients", "clients that pipeline large reads and never read the replies "
            "(the server's output buffers grow); closed when the window ends",
            _slow_clients, _release_slow_clients, (0.5, 2.0)),
)


# ---- scenarios ------------------------------------------------------------------------

ALWAYS = {"persistence": "always"}
EVERYSEC = {"persistence": "everysec"}

SCENARIOS = (
    Scenario("kill-always", "SIGKILL the server under write load, 50 times, with appendfsync "
             "always: no acknowledged write may be lost", "set", {"kill": 1}, ALWAYS,
             faults=50, time=20.0, quick_time=12.0, required={"lost": 0}),
    Scenario("kill-everysec", "the same 50 kills with appendfsync everysec: how many "
             "acknowledged writes are lost, over what window", "set", {"kill": 1}, EVERYSEC,
             faults=50, time=20.0, quick_time=12.0, tolerate=("set-full",)),
    Scenario("crash-always", "crashes that also lose every byte not yet fsynced "
             "(LazyFS-style), with pauses: appendfsync always must lose nothing", "set",
             {"crash": 3, "pause": 1}, ALWAYS, time=10.0, quick_time=6.0,
             required={"lost": 0}),
    Scenario("crash-everysec", "crashes losing unsynced data with appendfsync everysec, 1.5 "
             "to 3 s apart: up to about a second of acknowledged writes may go", "set",
             {"crash": 1}, EVERYSEC, time=12.0, quick_time=8.0, tolerate=("set-full",),
             quiet=(1.5, 3.0)),
    Scenario("torn-tail", "crashes that leave a torn last write in the log (a random part of "
             "the unsynced bytes survives): recovery must truncate cleanly, nothing "
             "acknowledged lost under always", "set", {"torn": 1}, ALWAYS, time=10.0,
             quick_time=6.0, required={"lost": 0}),
    Scenario("fsync-lie", "fsync that does nothing for a while, then a crash: what "
             "'always' promises when the disk lies", "set", {"fsync-lie": 1}, ALWAYS,
             time=10.0, quick_time=6.0, tolerate=("set-full",)),
    Scenario("disk-full", "the data disk (a 48 MiB tmpfs) fills up during writes and frees "
             "again: clear errors, no corruption, service once space returns", "set",
             {"disk-full": 1}, ALWAYS, time=10.0, quick_time=6.0, disk_mb=48,
             required={"lost": 0}),
    Scenario("disk-full-rewrite", "a log rewrite (BGREWRITEAOF) is asked for while the disk "
             "is full: a clear refusal, nothing acknowledged lost, service once space returns",
             "set", {"disk-full-rewrite": 1}, ALWAYS, time=10.0, quick_time=6.0, disk_mb=48,
             required={"lost": 0}),
    Scenario("pause", "SIGSTOP/SIGCONT the server, and clients that never read their "
             "replies: requests time out, reads stay linearizable", "register",
             {"pause": 1, "slow-clients": 1}, ALWAYS, time=10.0, quick_time=6.0),
    Scenario("kill-register", "kills under a read/write register workload: every history "
             "must be linearizable", "register", {"kill": 1}, ALWAYS, time=10.0,
             quick_time=6.0),
    Scenario("bitflip", "a bit flipped in the log at rest: the server must refuse the log "
             "or recover it, never serve silently changed data", "set", {"bitflip": 1},
             ALWAYS, faults=3, time=6.0, quick_time=4.0, tolerate=("set-full", "recovery")),
    Scenario("partition", "the clients are cut off from the server (both ways, or only "
             "its replies) and healed: requests time out, reads stay linearizable", "register",
             {"partition": 1, "partition-oneway": 1}, ALWAYS, time=8.0, quick_time=5.0),
    Scenario("clock", "the server's wall clock jumps and drifts (libfaketime)", "register",
             {"clock-jump": 1, "clock-drift": 1}, ALWAYS, time=6.0, quick_time=4.0),
)

SUITE = ChaosSuite(open=open_cluster, impls=IMPLS, scenarios=SCENARIOS, test_impls=TEST_IMPLS)

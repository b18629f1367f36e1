"""Driving a server under test: populating its keyspace, running redis-benchmark, reading its
memory use. The same client code drives ours and redis-server.

redis-benchmark (Debian ``redis-tools``) runs pinned to the client CPUs; its CSV output gives
requests per second and latency percentiles (ms). Keys follow its ``key:__rand_int__`` form
(``key:`` + 12 digits), so a GET benchmark over a populated keyspace reads existing values.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

from plugins.kvstore.servers import Server, client_cpus

BENCH_TIMEOUT = 300


def key(i: int) -> bytes:
    return b"key:%012d" % i


def _resp(*args: bytes) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def _mset_batches(keys: int, size: int, batch: int = 1000) -> Iterator[tuple[bytes, int]]:
    value = b"x" * size
    for start in range(0, keys, batch):
        n = min(batch, keys - start)
        args = [b"MSET"]
        for i in range(start, start + n):
            args += [key(i), value]
        yield _resp(*args), 1


def _read_replies(sock: socket.socket, count: int) -> None:
    """Read ``count`` simple-string replies (+OK), failing on an error reply."""
    buf = b""
    seen = 0
    while seen < count:
        chunk = sock.recv(1 << 16)
        if not chunk:
            raise RuntimeError("server closed the connection while populating")
        buf += chunk
        while b"\r\n" in buf:
            line, buf = buf.split(b"\r\n", 1)
            if line.startswith(b"-"):
                raise RuntimeError(f"server refused a write: {line.decode(errors='replace')}")
            seen += 1


def populate(server: Server, keys: int, size: int) -> None:
    """FLUSHALL, then ``keys`` keys of ``size``-byte values (pipelined MSETs), once per
    (keys, size) for this server process."""
    tag = f"{keys}x{size}"
    if server.populated.get("tag") == tag:
        return
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as s:
        s.sendall(_resp(b"FLUSHALL"))
        _read_replies(s, 1)
        pending = 0
        for request, replies in _mset_batches(keys, size):
            s.sendall(request)
            pending += replies
            if pending >= 16:
                _read_replies(s, pending)
                pending = 0
        _read_replies(s, pending)
    server.populated["tag"] = tag  # type: ignore[assignment]


def dbsize(server: Server) -> int:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(_resp(b"DBSIZE"))
        reply = s.recv(64)
    if not reply.startswith(b":"):
        raise RuntimeError(f"DBSIZE answered {reply!r}")
    return int(reply[1:].split(b"\r\n", 1)[0])


def requests_for(clients: int, pipeline: int) -> int:
    """A request count that keeps one redis-benchmark run around a second on this machine."""
    base = 30_000 if clients == 1 else 200_000
    return base * (5 if pipeline >= 16 else 1)


def redis_benchmark(server: Server, test: str, *, clients: int, pipeline: int, size: int,
                    keys: int, requests: int | None = None) -> dict[str, float]:
    """One redis-benchmark run of ``test`` (get or set): ops/s and latency percentiles (ms)."""
    exe = shutil.which("redis-benchmark")
    if exe is None:
        raise RuntimeError("redis-benchmark not found; install with: apt-get install redis-tools")
    n = requests or requests_for(clients, pipeline)
    argv = [exe, "-h", "127.0.0.1", "-p", str(server.port), "-t", test, "-n", str(n),
            "-c", str(clients), "-P", str(pipeline), "-d", str(size), "-r", str(keys), "--csv"]
    pinned = client_cpus()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=BENCH_TIMEOUT,
                          preexec_fn=lambda: os.sched_setaffinity(0, pinned))
    if proc.returncode != 0:
        raise RuntimeError(f"redis-benchmark failed ({proc.returncode}): "
                           f"{(proc.stderr or proc.stdout).strip()[-300:]}; server log: "
                           f"{server.log_tail()}")
    return parse_csv(proc.stdout, test)


def parse_csv(text: str, test: str) -> dict[str, float]:
    """The row of ``test`` in redis-benchmark's ``--csv`` output."""
    rows = list(csv.DictReader(io.StringIO(text)))
    for row in rows:
        if row.get("test", "").upper() == test.upper():
            return {"ops": float(row["rps"]), "p50": float(row["p50_latency_ms"]),
                    "p99": float(row["p99_latency_ms"])}
    raise RuntimeError(f"redis-benchmark printed no {test} row: {text.strip()[-300:]!r}")


def loadgen(exe: str, server: Server, *, get_ratio: float, clients: int, pipeline: int,
            size: int, keys: int, seconds: float = 2.0,
            rate: int | None = None) -> dict[str, float]:
    """One run of the lab's own load generator (``kvstore-loadgen``): a true GET/SET mix,
    latency percentiles from its histogram (ms); ``rate`` switches to fixed-rate mode with
    latency counted from intended send times (coordinated omission corrected).

    Also returns ``server_cpu`` and ``client_cpu``: the CPU time the server and the generator
    used during the run, in percent of one CPU (the server's CPU is capped at 100 per server
    CPU, the generator's at 100 per client CPU), which shows which side saturated."""
    import json
    import resource

    argv = [exe, "--port", str(server.port), "--connections", str(clients), "--pipeline",
            str(pipeline), "--get-ratio", str(get_ratio), "--value-size", str(size),
            "--keyspace", str(keys), "--duration", str(seconds)]
    if rate is not None:
        argv += ["--rate", str(rate)]
    pinned = client_cpus()
    server_before = server.cpu_seconds()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120,
                          preexec_fn=lambda: os.sched_setaffinity(0, pinned))
    wall = time.monotonic() - started
    server_cpu = server.cpu_seconds() - server_before
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu = (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
    if proc.returncode != 0:
        raise RuntimeError(f"kvstore-loadgen failed ({proc.returncode}): "
                           f"{proc.stderr.strip()[-300:]}; server log: {server.log_tail()}")
    doc = json.loads(proc.stdout)
    if doc["errors"]:
        raise RuntimeError(f"{server.name} answered {doc['errors']} requests with errors, "
                           f"first: {doc['first_error']}")
    lat = doc["latency_us"]
    return {"ops": float(doc["ops"]), "p50": lat["p50"] / 1000, "p99": lat["p99"] / 1000,
            "p999": lat["p999"] / 1000, "server_cpu": 100 * server_cpu / wall,
            "client_cpu": 100 * client_cpu / wall}

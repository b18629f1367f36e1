"""The kvstore server's native core (targets/kvstore/*.c), tested as a black box.

The tests compile the server themselves (gcc, ``-std=c11 -Wall -Wextra -Werror -O1 -g``, and
a second build adding ``-fsanitize=address,undefined -fno-sanitize-recover=undefined``), start
it on a free loopback port, wait for its ready line and talk to it with redis-py (RESP2) and
raw sockets. Every server-using test runs on both builds (the ``kv_flavor`` parameter). At
teardown every server still running gets SIGTERM and must exit 0 with no sanitizer report
(LeakSanitizer included), so every test is also a leak and undefined-behaviour check.

Replies are compared byte for byte with a real ``redis-server`` 7.0 (started here with
``--save '' --appendonly no --databases 1``: our server has one database).
"""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from labtest import ROOT

SRC = ROOT / "targets" / "kvstore"
CC = shutil.which("gcc") or "cc"
BASE_FLAGS = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-O1", "-g"]
SAN_FLAGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"]
FLAVORS = ["plain", "asan"]
SAN_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:quarantine_size_mb=16:malloc_context_size=10",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
}
SAN_REPORTS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 30.0
MiB = 1 << 20


# ---------------------------------------------------------------------------------------
# Building and running the server


@pytest.fixture(scope="session")
def kv_binaries(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Both builds, compiled once per session from every targets/kvstore/*.c."""
    out = tmp_path_factory.mktemp("kvstore-build")
    sources = sorted(str(p) for p in SRC.glob("*.c"))
    assert any(s.endswith("server.c") for s in sources)
    built = {}
    for flavor, extra in (("plain", []), ("asan", SAN_FLAGS)):
        exe = out / f"kvstore-server-{flavor}"
        proc = subprocess.run([CC, *BASE_FLAGS, *extra, "-o", str(exe), *sources, "-lpthread"],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"{flavor} build failed:\n{proc.stderr}"
        built[flavor] = exe
    return built


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_line(proc: subprocess.Popen, timeout: float) -> str | None:
    """The first stdout line of PROC, or None if it exits or stays silent."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        return None
    line = proc.stdout.readline()
    return line.decode(errors="replace").rstrip("\n") if line else None


class KvServer:
    """One kvstore-server process on a free port, its stderr kept in a file."""

    count = 0

    def __init__(self, exe: Path, args: list[str], workdir: Path, sanitized: bool,
                 preexec=None) -> None:  # noqa: ANN001 - a preexec_fn (resource limits)
        KvServer.count += 1
        self.exe, self.args, self.workdir, self.sanitized = exe, args, workdir, sanitized
        self.preexec = preexec
        self.stderr_path = workdir / f"server-{KvServer.count}.stderr"
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.returncode: int | None = None

    def start(self) -> KvServer:
        env = {**os.environ, **(SAN_ENV if self.sanitized else {})}
        for _attempt in range(5):
            port = free_port()
            with self.stderr_path.open("wb") as err:
                proc = subprocess.Popen(
                    [str(self.exe), "--port", str(port), "--dir", str(self.workdir), *self.args],
                    stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, env=env,
                    preexec_fn=self.preexec)
            line = read_line(proc, READY_TIMEOUT)
            if line == f"kvstore-server ready on 127.0.0.1:{port}":
                self.proc, self.port = proc, port
                return self
            proc.kill()
            proc.wait()
            if proc.stdout:
                proc.stdout.close()
            if "Address already in use" not in self.stderr():
                raise AssertionError(f"server did not start: {line!r} {self.stderr()[-2000:]}")
        raise AssertionError("no free port after 5 attempts")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def client(self, **kw) -> redis.Redis:
        return redis.Redis(port=self.port, protocol=2, socket_timeout=30, **kw)

    def raw(self, timeout: float = 30.0) -> RawConn:
        return RawConn(self.port, timeout)

    def rss(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Signal the server and wait for it; returns its exit status."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        self.returncode = self.proc.returncode
        self.proc = None
        return self.returncode

    def sanitizer_reports(self) -> list[str]:
        text = self.stderr()
        return [r for r in SAN_REPORTS if r in text]


@pytest.fixture(params=FLAVORS)
def kv_flavor(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def start_server(kv_binaries: dict[str, Path], kv_flavor: str, tmp_path: Path) -> Iterator:
    """Factory: start_server(*extra_args) -> KvServer.  Teardown stops every server with
    SIGTERM and checks the exit status (0) and the absence of sanitizer reports."""
    servers: list[KvServer] = []

    def start(*args: object) -> KvServer:
        server = KvServer(kv_binaries[kv_flavor], [str(a) for a in args], tmp_path,
                          kv_flavor == "asan")
        servers.append(server.start())
        return server

    yield start
    problems = []
    for server in servers:
        was_running = server.proc is not None
        rc = server.stop()
        if was_running and rc != 0:
            problems.append(f"exit status {rc}: {server.stderr()[-3000:]}")
        if server.sanitizer_reports():
            problems.append(f"sanitizer report: {server.stderr()[-6000:]}")
    assert not problems, "\n".join(problems)


@pytest.fixture
def server(start_server) -> KvServer:
    return start_server()


# ---------------------------------------------------------------------------------------
# RESP helpers


def resp(*args: object) -> bytes:
    """A request as a RESP2 array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


def reply_end(buf: bytes, pos: int) -> int | None:
    """End offset of the RESP2 reply starting at POS, or None if incomplete."""
    nl = buf.find(b"\r\n", pos)
    if nl < 0:
        return None
    kind = buf[pos:pos + 1]
    if kind in (b"+", b"-", b":"):
        return nl + 2
    n = int(buf[pos + 1:nl])
    if kind == b"$":
        end = nl + 2 if n < 0 else nl + 2 + n + 2
        return end if len(buf) >= end else None
    assert kind == b"*", f"bad reply type {buf[pos:pos + 40]!r}"
    p: int | None = nl + 2
    for _ in range(max(n, 0)):
        p = reply_end(buf, p)
        if p is None:
            return None
    return p


class RespError(Exception):
    """An error reply decoded by parse_reply."""


def parse_reply(data: bytes, pos: int = 0) -> tuple[object, int]:
    """Decodes one RESP2 reply: bytes, int, list, None or a RespError (not raised)."""
    nl = data.index(b"\r\n", pos)
    kind, line = data[pos:pos + 1], data[pos + 1:nl]
    if kind == b"+":
        return line, nl + 2
    if kind == b"-":
        return RespError(line.decode(errors="replace")), nl + 2
    if kind == b":":
        return int(line), nl + 2
    n = int(line)
    if kind == b"$":
        return (None, nl + 2) if n < 0 else (data[nl + 2:nl + 2 + n], nl + 4 + n)
    if n < 0:
        return None, nl + 2
    items, p = [], nl + 2
    for _ in range(n):
        item, p = parse_reply(data, p)
        items.append(item)
    return items, p


class RawConn:
    """A plain socket speaking RESP2, returning replies as raw bytes."""

    def __init__(self, port: int, timeout: float = 30.0, rcvbuf: int = 0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self, timeout: float = 60.0) -> bytes:
        deadline = time.monotonic() + timeout
        while True:
            end = reply_end(self.buf, 0) if self.buf else None
            if end is not None:
                out, self.buf = self.buf[:end], self.buf[end:]
                return out
            assert time.monotonic() < deadline and len(self.buf) < 256 * MiB, "no complete reply"
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise EOFError(f"connection closed; pending {self.buf[:200]!r}")
            self.buf += chunk

    def call(self, *args: object) -> bytes:
        self.send(resp(*args))
        return self.reply()

    def value(self, *args: object) -> object:
        """The decoded reply to ARGS (bypassing redis-py's reply callbacks)."""
        return parse_reply(self.call(*args))[0]

    def read_until_closed(self, timeout: float = 10.0, limit: int = 64 * MiB) -> tuple[bytes, bool]:
        """Everything the server sends until it closes (True) or TIMEOUT passes (False)."""
        deadline = time.monotonic() + timeout
        data = self.buf
        self.buf = b""
        while time.monotonic() < deadline and len(data) < limit:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(1 << 16)
            except TimeoutError:
                return data, False
            except ConnectionResetError:
                return data, True
            if not chunk:
                return data, True
            data += chunk
        return data, False

    def close(self) -> None:
        self.sock.close()


def exchange_closed(port: int, payload: bytes, timeout: float = 10.0) -> tuple[bytes, bool]:
    """Send PAYLOAD on a new connection without closing it; return what comes back until the
    server closes the connection (True) or 0.5 s of silence after TIMEOUT (False)."""
    conn = RawConn(port)
    try:
        conn.send(payload)
        return conn.read_until_closed(timeout)
    finally:
        conn.close()


def exchange_eof(port: int, payload: bytes) -> bytes:
    """Send PAYLOAD then half-close; everything the server answers until it closes."""
    conn = RawConn(port)
    try:
        conn.send(payload)
        conn.sock.shutdown(socket.SHUT_WR)
        data, closed = conn.read_until_closed(20.0)
        assert closed, f"server kept the connection open after EOF: {data[:200]!r}"
        return data
    finally:
        conn.close()


def wait_for(predicate, timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


# ---------------------------------------------------------------------------------------
# Command line


@pytest.mark.parametrize("args, named", [
    ([], "--port"),
    (["--port", "0"], "--port"),
    (["--port", "65536"], "--port"),
    (["--port", "http"], "--port"),
    (["--port"], "--port"),
    (["--port", "7000", "--threads", "0"], "--threads"),
    (["--port", "7000", "--threads", "many"], "--threads"),
    (["--port", "7000", "--maxclients", "-1"], "--maxclients"),
    (["--port", "7000", "--maxmemory", "lots"], "--maxmemory"),
    (["--port", "7000", "--maxmemory-policy", "volatile-lfu"], "--maxmemory-policy"),
    (["--port", "7000", "--proto-max-bulk-len", "0"], "--proto-max-bulk-len"),
    (["--port", "7000", "--client-output-limit", "-5"], "--client-output-limit"),
    (["--port", "7000", "--hz", "0"], "--hz"),
    (["--port", "7000", "--bind", "localhost:1"], "--bind"),
    (["--port", "7000", "--dir", "/nonexistent/kvstore"], "--dir"),
    (["--port", "7000", "--frobnicate", "1"], "--frobnicate"),
])
def test_bad_arguments_exit_2_with_one_line(kv_binaries, args, named) -> None:
    proc = subprocess.run([str(kv_binaries["plain"]), *args], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0], proc.stderr
    assert "valid" in lines[0], proc.stderr
    if named == "--maxmemory-policy":
        for policy in ("noeviction", "allkeys-random", "allkeys-lru", "volatile-ttl"):
            assert policy in lines[0]


def test_help_exits_0(kv_binaries) -> None:
    proc = subprocess.run([str(kv_binaries["plain"]), "--help"], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 0 and "--port" in proc.stdout


def test_units_and_all_options_accepted(start_server) -> None:
    s = start_server("--bind", "127.0.0.1", "--threads", "1", "--maxclients", "50",
                     "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru",
                     "--proto-max-bulk-len", "1mb", "--client-output-limit", "8mb",
                     "--hz", "20", "--logfile", "server.log")
    r = s.client()
    cfg = r.config_get("*")
    assert cfg["maxmemory"] == str(64 * MiB) and cfg["maxmemory-policy"] == "allkeys-lru"
    assert cfg["maxclients"] == "50" and cfg["hz"] == "20"
    assert cfg["proto-max-bulk-len"] == str(MiB) and cfg["save"] == "" and cfg["appendonly"] == "no"
    assert r.ping()
    r.close()
    assert s.stop() == 0
    log = (s.workdir / "server.log").read_text()
    assert "ready on 127.0.0.1" in log and "Shutting down" in log


# ---------------------------------------------------------------------------------------
# Lifecycle


def test_sigterm_after_work_exits_0_without_leaks(server) -> None:
    r = server.client()
    pipe = r.pipeline(transaction=False)
    for i in range(2000):
        pipe.set(f"k{i}", "v" * (i % 300), px=100000 if i % 3 else None)
    pipe.execute()
    r.set("big", b"x" * (3 * MiB))
    assert len(r.get("big")) == 3 * MiB
    # Connections left open at shutdown: an idle one, one in the middle of a request, one
    # with unread replies.
    idle = server.raw()
    partial = server.raw()
    partial.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\nabc")
    unread = server.raw()
    unread.send(resp("GET", "big") * 4)
    time.sleep(0.2)
    rc = server.stop(signal.SIGTERM)
    assert rc == 0, server.stderr()[-3000:]
    assert server.sanitizer_reports() == [], server.stderr()[-6000:]
    for c in (idle, partial, unread):
        c.close()
    r.close()


def test_sigint_exits_0(server) -> None:
    assert server.client().ping()
    assert server.stop(signal.SIGINT) == 0
    assert server.sanitizer_reports() == []


def test_shutdown_command_stops_server(server) -> None:
    conn = server.raw()
    conn.send(resp("SHUTDOWN", "NOSAVE"))
    data, closed = conn.read_until_closed(20)
    assert closed and data == b""
    assert server.proc is not None and server.proc.wait(timeout=20) == 0


# ---------------------------------------------------------------------------------------
# String commands


def test_get_set_and_options(server) -> None:
    r = server.client()
    assert r.get("nope") is None
    assert r.set("k", "v") is True and r.get("k") == b"v"
    assert r.set("k", "w", nx=True) is None and r.get("k") == b"v"
    assert r.set("k2", "w", xx=True) is None and r.exists("k2") == 0
    assert r.set("k", "w", xx=True) is True and r.get("k") == b"w"
    assert r.set("k", "x", get=True) == b"w" and r.get("k") == b"x"
    assert r.set("fresh", "1", get=True) is None and r.get("fresh") == b"1"
    assert r.set("fresh", "2", nx=True, get=True) == b"1" and r.get("fresh") == b"1"
    assert r.set("t", "v", ex=100) and 99 <= r.ttl("t") <= 100
    assert r.set("t", "v", px=5000) and 4000 < r.pttl("t") <= 5000
    assert r.set("t", "v2", keepttl=True) and 4000 < r.pttl("t") <= 5000
    assert r.set("t", "v3") and r.ttl("t") == -1
    now = int(time.time())
    assert r.set("t", "v", exat=now + 100) and 98 <= r.ttl("t") <= 100
    assert r.set("t", "v", pxat=now * 1000 + 100000) and 98 <= r.ttl("t") <= 100
    assert r.execute_command("SET", "t", "v", "EX", "10", "EX", "20") and r.ttl("t") == 20
    errors = {
        ("SET", "k", "v", "NX", "XX"): "syntax error",
        ("SET", "k", "v", "XX", "NX"): "syntax error",
        ("SET", "k", "v", "EX", "10", "PX", "100"): "syntax error",
        ("SET", "k", "v", "KEEPTTL", "EX", "10"): "syntax error",
        ("SET", "k", "v", "EX"): "syntax error",
        ("SET", "k", "v", "BOGUS"): "syntax error",
        ("SET", "k", "v", "EX", "0"): "invalid expire time in 'set' command",
        ("SET", "k", "v", "PX", "-1"): "invalid expire time in 'set' command",
        ("SET", "k", "v", "EX", "9223372036854775807"): "invalid expire time in 'set' command",
        ("SET", "k", "v", "EX", "ten"): "value is not an integer or out of range",
        ("SET", "k"): "wrong number of arguments for 'set' command",
        ("GET",): "wrong number of arguments for 'get' command",
        ("SETEX", "k", "0", "v"): "invalid expire time in 'setex' command",
        ("PSETEX", "k", "-3", "v"): "invalid expire time in 'psetex' command",
    }
    for args, text in errors.items():
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command(*args)
        assert str(e.value) == text, args


def test_binary_safe_keys_and_values(server) -> None:
    r = server.client()
    key, value = b"k\x00\r\n\xff", bytes(range(256)) * 10
    assert r.set(key, value) and r.get(key) == value
    assert r.set(b"", b"") and r.get(b"") == b"" and r.exists(b"") == 1
    assert r.keys("k*") == [key]
    big = os.urandom(5 * MiB)
    assert r.set("big", big) and r.get("big") == big
    assert r.strlen("big") == 5 * MiB


def test_counters(server) -> None:
    r = server.client()
    assert r.incr("c") == 1 and r.incr("c") == 2 and r.decr("c") == 1
    assert r.incrby("c", 100) == 101 and r.decrby("c", 1) == 100 and r.get("c") == b"100"
    assert r.incrby("c", -200) == -100
    r.set("c", "5", ex=100)
    assert r.incr("c") == 6 and r.ttl("c") > 90  # INCR keeps the TTL
    r.set("max", str(2**63 - 1))
    r.set("min", str(-(2**63)))
    for args, text in {
        ("INCR", "max"): "increment or decrement would overflow",
        ("DECR", "min"): "increment or decrement would overflow",
        ("INCRBY", "max", "1"): "increment or decrement would overflow",
        ("DECRBY", "c", "-9223372036854775808"): "decrement would overflow",
        ("INCRBY", "c", "1.5"): "value is not an integer or out of range",
        ("INCRBY", "c", "99999999999999999999"): "value is not an integer or out of range",
        ("INCRBY", "c", " 1"): "value is not an integer or out of range",
        ("INCRBY", "c", "+1"): "value is not an integer or out of range",
        ("INCRBY", "c", "01"): "value is not an integer or out of range",
    }.items():
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command(*args)
        assert str(e.value) == text, args
    for bad in ("abc", "1.5", " 1", "1 ", "", "0x10", "99999999999999999999"):
        r.set("s", bad)
        with pytest.raises(redis.ResponseError, match="^value is not an integer or out of range$"):
            r.incr("s")
    assert r.incrby("neg", -9223372036854775808) == -(2**63)


def test_multi_key_and_misc_string_commands(server) -> None:
    r = server.client()
    assert r.mset({"a": "1", "b": "2", "c": "3"}) is True
    assert r.mget("a", "b", "nope", "c") == [b"1", b"2", None, b"3"]
    r.expire("a", 100)
    assert r.mset({"a": "9"}) and r.ttl("a") == -1  # MSET drops the TTL
    for args in (("MSET", "a"), ("MSET", "a", "1", "b")):
        with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'mset'"):
            r.execute_command(*args)
    assert r.msetnx({"a": "x", "z": "1"}) is False and r.exists("z") == 0
    assert r.msetnx({"y": "x", "z": "1"}) is True and r.mget("y", "z") == [b"x", b"1"]
    assert r.append("s", "ab") == 2 and r.append("s", "cd") == 4 and r.get("s") == b"abcd"
    assert r.strlen("s") == 4 and r.strlen("nope") == 0
    assert r.getset("s", "new") == b"abcd" and r.get("s") == b"new"
    assert r.getdel("s") == b"new" and r.getdel("s") is None
    assert r.setnx("n", "1") is True and r.setnx("n", "2") is False and r.get("n") == b"1"
    assert r.execute_command("SETEX", "e", 100, "v") and 99 <= r.ttl("e") <= 100
    assert r.execute_command("PSETEX", "e", 5000, "v") and 4000 < r.pttl("e") <= 5000


# ---------------------------------------------------------------------------------------
# Keyspace commands


def test_keyspace_commands(server) -> None:
    r = server.client()
    r.mset({"one": 1, "two": 2, "three": 3, "four": 4})
    assert r.exists("one", "one", "nope", "two") == 3
    assert r.delete("one", "nope", "two") == 2 and r.exists("one") == 0
    assert r.unlink("three") == 1
    assert r.dbsize() == 1 and r.type("four") == b"string" and r.type("nope") == b"none"
    assert r.randomkey() == b"four"
    assert r.flushall() is True and r.dbsize() == 0 and r.randomkey() is None
    r.set("x", 1)
    assert r.execute_command("FLUSHDB", "ASYNC") and r.dbsize() == 0
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        r.execute_command("FLUSHALL", "NOW")
    assert r.ping() is True and server.raw().value("PING", "hi") == b"hi"
    assert r.echo(b"\x00bin") == b"\x00bin"
    assert r.execute_command("SELECT", 0) is True
    with pytest.raises(redis.ResponseError, match="^DB index is out of range$"):
        r.execute_command("SELECT", 1)
    with pytest.raises(redis.ResponseError, match="^value is not an integer or out of range$"):
        r.execute_command("SELECT", "one")


def test_keys_glob_patterns(server) -> None:
    r = server.client()
    names = ["hello", "hallo", "hxllo", "hllo", "heeeello", "h*llo", "h?llo", "h[a]llo",
             "x", "X", "a-b", "ab", "h\\llo"]
    r.mset({n: 1 for n in names})

    def keys(pattern: str) -> set[str]:
        return {k.decode() for k in r.keys(pattern)}

    assert keys("*") == set(names)
    assert keys("h?llo") == {"hello", "hallo", "hxllo", "h*llo", "h?llo", "h\\llo"}
    assert keys("h*llo") == {"hello", "hallo", "hxllo", "hllo", "heeeello", "h*llo",
                             "h?llo", "h\\llo", "h[a]llo"}
    assert keys("h[ae]llo") == {"hello", "hallo"}
    assert keys("h[^e]llo") == {"hallo", "hxllo", "h*llo", "h?llo", "h\\llo"}
    assert keys("h[a-b]llo") == {"hallo"}
    assert keys("h[b-a]llo") == {"hallo"}  # reversed ranges work, as in Redis
    assert keys("h\\*llo") == {"h*llo"}
    assert keys("h\\?llo") == {"h?llo"}
    assert keys("h\\[a]llo") == {"h[a]llo"}
    assert keys("h\\\\llo") == {"h\\llo"}
    assert keys("a[-]b") == {"a-b"}
    assert keys("x") == {"x"} and keys("nomatch*") == set()
    assert keys("*a*") == {"hallo", "h[a]llo", "a-b", "ab"}


def test_expire_family(server) -> None:
    r = server.client()
    r.set("k", "v")
    assert r.ttl("k") == -1 and r.pttl("k") == -1 and r.ttl("nope") == -2
    assert r.pttl("nope") == -2
    assert r.expire("nope", 10) is False
    assert r.expire("k", 100) is True and 99 <= r.ttl("k") <= 100
    assert r.pexpire("k", 50000) is True and 49000 < r.pttl("k") <= 50000
    assert r.expire("k", 10, nx=True) is False
    assert r.expire("k", 10, xx=True) is True and r.ttl("k") == 10
    assert r.expire("k", 5, gt=True) is False and r.expire("k", 20, gt=True) is True
    assert r.expire("k", 30, lt=True) is False and r.expire("k", 15, lt=True) is True
    assert r.persist("k") is True and r.persist("k") is False and r.ttl("k") == -1
    assert r.persist("nope") is False
    assert r.expire("k", 10, gt=True) is False  # no TTL counts as infinite
    assert r.expire("k", 10, lt=True) is True
    at = int(time.time()) + 100
    assert r.expireat("k", at) is True and 98 <= r.ttl("k") <= 100
    assert r.execute_command("EXPIRETIME", "k") == at
    assert r.pexpireat("k", at * 1000) is True
    assert r.execute_command("PEXPIRETIME", "k") == at * 1000
    assert r.expire("k", -1) is True and r.exists("k") == 0  # past expiry deletes
    r.set("k", "v")
    assert r.pexpireat("k", 1) is True and r.get("k") is None
    r.set("far", "v")
    assert r.pexpireat("far", 2**63 - 1) and r.execute_command("PEXPIRETIME", "far") == 2**63 - 1
    assert r.execute_command("EXPIRETIME", "far") == (2**63 - 1 + 500) // 1000
    assert r.ttl("far") > 10**15 and r.scan(0, count=2**63 - 1)[0] == 0
    for args, text in {
        ("EXPIRE", "k", "10", "NX", "XX"):
            "NX and XX, GT or LT options at the same time are not compatible",
        ("EXPIRE", "k", "10", "GT", "LT"): "GT and LT options at the same time are not compatible",
        ("EXPIRE", "k", "10", "SOON"): "Unsupported option SOON",
        ("EXPIRE", "k", "ten"): "value is not an integer or out of range",
        ("EXPIRE", "k", "9223372036854775807"): "invalid expire time in 'expire' command",
        ("PEXPIRE", "k", "9223372036854775807"): "invalid expire time in 'pexpire' command",
        ("TTL",): "wrong number of arguments for 'ttl' command",
    }.items():
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command(*args)
        assert str(e.value) == text, args


def test_px_expiry_timing(server) -> None:
    r = server.client()
    start = time.monotonic()
    assert r.set("soon", "v", px=50)
    assert r.get("soon") == b"v" or time.monotonic() - start >= 0.05
    assert wait_for(lambda: r.get("soon") is None, 2.0, 0.005)
    elapsed = time.monotonic() - start
    assert 0.045 <= elapsed <= 1.0, elapsed
    assert r.exists("soon") == 0 and r.ttl("soon") == -2


def test_active_expiry_without_access(server) -> None:
    r = server.client()
    pipe = r.pipeline(transaction=False)
    for i in range(300):
        pipe.set(f"v{i}", "x", px=100)
    for i in range(50):
        pipe.set(f"p{i}", "x")
    pipe.execute()
    assert r.dbsize() == 350
    assert wait_for(lambda: r.dbsize() == 50, 5.0, 0.05), r.dbsize()
    assert r.info("stats")["expired_keys"] == 300
    assert r.info("keyspace")["db0"] == {"keys": 50, "expires": 0, "avg_ttl": 0}


def test_scan_and_options(server) -> None:
    r = server.client()
    r.mset({f"user:{i}": i for i in range(300)} | {f"item:{i}": i for i in range(200)})
    seen: list[bytes] = []
    cursor, calls = 0, 0
    while True:
        cursor, keys = r.scan(cursor, match="user:*", count=50)
        seen += keys
        calls += 1
        assert calls < 1000
        if cursor == 0:
            break
    assert sorted(seen) == sorted(f"user:{i}".encode() for i in range(300))
    assert set(r.scan_iter(_type="string", count=1000)) == set(r.keys("*"))
    assert list(r.scan_iter(_type="hash")) == []
    for args, text in {
        ("SCAN", "x"): "invalid cursor",
        ("SCAN", " 0"): "invalid cursor",
        ("SCAN", "0", "COUNT", "0"): "syntax error",
        ("SCAN", "0", "COUNT", "x"): "value is not an integer or out of range",
        ("SCAN", "0", "MATCH"): "syntax error",
        ("SCAN", "0", "BOGUS", "1"): "syntax error",
    }.items():
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command(*args)
        assert str(e.value) == text, args


def test_100k_keys_scan_exactly_once_while_rehashing(server) -> None:
    r = server.client()
    total = 100_000
    for base in range(0, total, 10_000):
        pipe = r.pipeline(transaction=False)
        for i in range(base, base + 10_000):
            pipe.set(f"key:{i}", i)
        pipe.execute()
    assert r.dbsize() == total
    seen: Counter = Counter()
    cursor, calls, added = 0, 0, 0
    while True:
        cursor, keys = r.scan(cursor, count=500)
        seen.update(keys)
        calls += 1
        assert calls < 20_000
        # Writes between the calls grow the table past its next power of two (131072
        # slots), so the scan runs across an incremental rehash.
        pipe = r.pipeline(transaction=False)
        for _ in range(400):
            pipe.set(f"new:{added}", 1)
            added += 1
        pipe.execute()
        if cursor == 0:
            break
    originals = {f"key:{i}".encode() for i in range(total)}
    missing = originals - set(seen)
    assert not missing, f"{len(missing)} keys never returned"
    dups = [k for k in originals if seen[k] != 1]
    assert not dups, f"{len(dups)} keys returned more than once"
    assert all(v == 1 for v in seen.values())
    assert r.dbsize() == total + added and total + added > 131072


# ---------------------------------------------------------------------------------------
# Server and connection commands


def test_info_config_command_client_hello(server) -> None:
    r = server.client()
    r.set("a", 1, ex=100)
    r.set("b", 2)
    r.get("a")
    r.get("missing")
    raw = server.raw()
    text = raw.value("INFO").decode()
    for section in ("# Server", "# Clients", "# Memory", "# Stats", "# Keyspace"):
        assert section in text
    for field in ("used_memory:", "total_commands_processed:", "instantaneous_ops_per_sec:",
                  "keyspace_hits:", "keyspace_misses:", "expired_keys:", "evicted_keys:",
                  "connected_clients:", "tcp_port:"):
        assert field in text, field
    assert "db0:keys=2,expires=1,avg_ttl=0\r\n" in text
    assert text.endswith("\r\n") and "\r\n\r\n# Clients" in text
    stats = r.info("stats")
    assert stats["keyspace_hits"] >= 1 and stats["keyspace_misses"] >= 1
    assert r.info("memory")["used_memory"] > 0
    assert set(r.info("clients")) >= {"connected_clients", "maxclients"}
    assert raw.value("INFO", "nosuchsection") == b""
    assert r.config_get("maxmemory") == {"maxmemory": "0"}
    assert r.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    assert r.config_get("save") == {"save": ""}
    assert r.config_get("appendonly") == {"appendonly": "no"}
    assert r.config_set("maxmemory", "100mb")
    assert r.config_get("maxmemory")["maxmemory"] == str(100 * MiB)
    assert r.config_set("maxmemory-policy", "allkeys-lru")
    assert r.config_get("maxmemory*")["maxmemory-policy"] == "allkeys-lru"
    assert r.info("memory")["maxmemory_policy"] == "allkeys-lru"
    with pytest.raises(redis.ResponseError, match="must be one of the following: noeviction"):
        r.config_set("maxmemory-policy", "sometimes")
    with pytest.raises(redis.ResponseError, match="argument must be a memory value"):
        r.config_set("maxmemory", "lots")
    with pytest.raises(redis.ResponseError,
                       match="Unknown option or number of arguments for CONFIG SET - 'nosuch'"):
        r.config_set("nosuch", "1")
    assert r.config_set("maxmemory", 0)
    count = raw.value("COMMAND", "COUNT")
    assert isinstance(count, int) and count > 20
    assert raw.value("COMMAND", "DOCS") == []
    info_get = raw.value("COMMAND", "INFO", "get", "nosuch")
    assert info_get[0][:6] == [b"get", 2, [b"readonly", b"fast"], 1, 1, 1] and info_get[1] is None
    assert len(raw.value("COMMAND")) == count and b"set" in raw.value("COMMAND", "LIST")
    assert isinstance(r.client_id(), int)
    assert r.client_getname() is None
    assert r.client_setname("worker-1") and r.client_getname() == "worker-1"
    assert any(c["name"] == "worker-1" for c in r.client_list())
    assert b"name=worker-1" not in raw.value("CLIENT", "INFO")
    with pytest.raises(redis.ResponseError, match="Client names cannot contain spaces"):
        r.client_setname("a b")
    with pytest.raises(redis.ResponseError,
                       match="^unknown subcommand 'SETINFO'. Try CLIENT HELP.$"):
        r.execute_command("CLIENT", "SETINFO", "LIB-NAME", "x")
    hello = raw.value("HELLO", "2", "SETNAME", "raw")
    fields = dict(zip(hello[::2], hello[1::2], strict=True))
    assert fields[b"proto"] == 2 and fields[b"server"] == b"redis"
    assert fields[b"id"] == raw.value("CLIENT", "ID") and raw.value("CLIENT", "GETNAME") == b"raw"
    assert raw.call("HELLO", "3") == b"-NOPROTO unsupported protocol version\r\n"
    with pytest.raises(redis.ResponseError,
                       match="^unknown command 'NOSUCH', with args beginning with: 'a' 'b' $"):
        r.execute_command("NOSUCH", "a", "b")
    assert abs(r.time()[0] - time.time()) < 5


def test_redis_py_client_handshake_with_name(server) -> None:
    # redis-py sends CLIENT SETNAME and CLIENT SETINFO (ignored errors) on connect.
    r = server.client(client_name="named")
    assert r.ping() and r.client_getname() == "named"


def test_quit_closes_after_reply(server) -> None:
    conn = server.raw()
    conn.send(b"PING\r\nQUIT\r\nPING\r\n")
    data, closed = conn.read_until_closed(10)
    assert data == b"+PONG\r\n+OK\r\n" and closed


# ---------------------------------------------------------------------------------------
# Protocol


def test_pipelining_1000_commands_in_one_write(server) -> None:
    conn = server.raw()
    payload, expected = [], []
    for i in range(1000):
        kind = i % 4
        if kind == 0:
            payload.append(resp("SET", f"p{i}", f"value-{i}"))
            expected.append(b"+OK\r\n")
        elif kind == 1:
            payload.append(resp("GET", f"p{i - 1}"))
            v = f"value-{i - 1}".encode()
            expected.append(b"$%d\r\n%s\r\n" % (len(v), v))
        elif kind == 2:
            payload.append(resp("INCR", "counter"))
            expected.append(b":%d\r\n" % (i // 4 + 1))
        else:
            payload.append(b"PING\r\n")  # inline commands mix with multibulk ones
            expected.append(b"+PONG\r\n")
    conn.send(b"".join(payload))
    got = b"".join(conn.reply() for _ in range(1000))
    assert got == b"".join(expected)
    r = server.client()
    pipe = r.pipeline(transaction=False)
    for _ in range(1000):
        pipe.incr("pipe")
    assert pipe.execute() == list(range(1, 1001))


def test_requests_split_across_reads(server) -> None:
    conn = server.raw()
    payload = resp("SET", "split", "x" * 1000) + resp("GET", "split") + b"ECHO hi\r\n"
    for i in range(0, len(payload), 7):
        conn.send(payload[i:i + 7])
        time.sleep(0.0005)
    assert conn.reply() == b"+OK\r\n"
    assert conn.reply() == b"$1000\r\n" + b"x" * 1000 + b"\r\n"
    assert conn.reply() == b"$2\r\nhi\r\n"


def test_inline_commands(server) -> None:
    conn = server.raw()
    conn.send(b"SET greeting \"hello world\\n\" \r\nGET greeting\r\n"
              b"SET q 'it\\'s'\nGET q\n\r\n   \r\nECHO \"\\x41\\x42\"\r\n")
    assert conn.reply() == b"+OK\r\n"
    assert conn.reply() == b"$12\r\nhello world\n\r\n"
    assert conn.reply() == b"+OK\r\n"
    assert conn.reply() == b"$4\r\nit's\r\n"
    assert conn.reply() == b"$2\r\nAB\r\n"


MALFORMED = [
    (b"*1\r\nx\r\n", b"-ERR Protocol error: expected '$', got 'x'\r\n"),
    (b"*x\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*2147483648\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*1\r\n$-1\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$abc\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"PING \"unbalanced\r\n", b"-ERR Protocol error: unbalanced quotes in request\r\n"),
    (b"x" * 70_000, b"-ERR Protocol error: too big inline request\r\n"),
    (b"*1\r\n$" + b"1" * 70_000, b"-ERR Protocol error: too big bulk count string\r\n"),
    (b"*" + b"1" * 70_000, b"-ERR Protocol error: too big mbulk count string\r\n"),
    (b"SET a b\r\nGET a\r\n*1\r\nx\r\nGET a\r\n",
     b"+OK\r\n$1\r\nb\r\n-ERR Protocol error: expected '$', got 'x'\r\n"),
]


@pytest.mark.parametrize("payload, expected", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_request_gets_error_and_close(server, payload, expected) -> None:
    other = server.client()
    other.set("survivor", "yes")
    data, closed = exchange_closed(server.port, payload, timeout=10)
    assert data == expected and closed
    assert other.get("survivor") == b"yes" and other.ping()


def test_oversized_bulk_rejected(start_server) -> None:
    s = start_server("--proto-max-bulk-len", "1024")
    r = s.client()
    assert r.set("fits", b"x" * 1024) and r.strlen("fits") == 1024
    data, closed = exchange_closed(s.port, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1025\r\n")
    assert data == b"-ERR Protocol error: invalid bulk length\r\n" and closed
    with pytest.raises(redis.ResponseError, match="string exceeds maximum allowed size"):
        r.append("fits", "y")
    assert r.config_set("proto-max-bulk-len", 2048)
    assert r.set("fits", b"x" * 2000)
    assert r.ping()


def test_announced_bulk_length_is_not_preallocated(server) -> None:
    r = server.client()
    conns = [server.raw() for _ in range(4)]
    for c in conns:  # 4 x 500 MB announced, a few bytes sent
        c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$500000000\r\n" + b"x" * 100_000)
    time.sleep(0.3)
    assert r.info("memory")["used_memory"] < 32 * MiB
    conns[0].send(b"y" * (3 * MiB))
    assert wait_for(lambda: r.info("memory")["used_memory"] > 3 * MiB, 10)
    for c in conns:
        c.close()
    assert wait_for(lambda: r.info("clients")["connected_clients"] == 1, 10)
    assert r.exists("k") == 0


FRAGMENTS = [b"*", b"$", b"\r\n", b"\n", b"\r", b"-1", b"0", b"1", b"2", b"3", b"10",
             b"99999999999999999999", b"SET", b"GET", b"PING", b"\"", b"'", b"\\x4", b" ",
             b"\x00", b"k", b"v" * 40, b"EXPIRE", b"SCAN", b"KEYS", b"[", b"*?", b"CONFIG"]
COMMAND_NAMES = ["GET", "SET", "DEL", "EXISTS", "INCR", "DECR", "INCRBY", "DECRBY", "MGET",
                 "MSET", "MSETNX", "EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT", "TTL", "PTTL",
                 "EXPIRETIME", "PERSIST", "KEYS", "SCAN", "DBSIZE", "TYPE", "RANDOMKEY", "APPEND",
                 "STRLEN", "GETSET", "GETDEL", "SETNX", "SETEX", "PSETEX", "PING", "ECHO",
                 "SELECT", "CLIENT", "CONFIG", "COMMAND", "HELLO", "AUTH", "INFO", "TIME"]
ARGS = ["k", "k2", "", "0", "-1", "1", "100", "9223372036854775807", "-9223372036854775808",
        "NX", "XX", "GT", "LT", "EX", "PX", "EXAT", "PXAT", "KEEPTTL", "GET", "MATCH", "COUNT",
        "TYPE", "*", "k*", "[a-", "\\", "GETNAME", "SETNAME", "ID", "LIST", "INFO", "DOCS",
        "maxmemory", "hz", "save", "2", "3", "x" * 300]


def test_random_input_never_crashes(server) -> None:
    import random

    rng = random.Random(1234)
    for _ in range(150):
        payload = b"".join(rng.choice(FRAGMENTS) for _ in range(rng.randrange(1, 30)))
        exchange_eof(server.port, payload)
    conn = server.raw()
    for _ in range(3000):
        name = rng.choice(COMMAND_NAMES)
        if name in ("CONFIG",) and rng.random() < 0.7:
            args = ["GET", rng.choice(["*", "max*", "save"])]
        else:
            args = [rng.choice(ARGS) for _ in range(rng.randrange(0, 6))]
        if name == "INFO" or (name == "CONFIG" and args[:1] == ["SET"]):
            args = args[:1]
        reply = conn.call(name, *args)
        assert reply[:1] in b"+-:$*"
    conn.close()
    assert server.client().ping()


def test_http_request_is_dropped(server) -> None:
    data, closed = exchange_closed(server.port, b"POST / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert data == b"" and closed


# ---------------------------------------------------------------------------------------
# Limits


def test_client_output_limit_disconnects_non_reader(start_server) -> None:
    s = start_server("--client-output-limit", "1mb", "--logfile", "limit.log")
    r = s.client()
    value = os.urandom(256 * 1024)
    r.set("big", value)
    rss_before = s.rss()
    peak = rss_before
    # 20000 GETs would queue 5 GB of replies if nothing stopped them.
    slow = RawConn(s.port, timeout=5.0, rcvbuf=4096)
    request = resp("GET", "big") * 100
    sent_batches, closed_early = 0, False
    deadline = time.monotonic() + 30
    try:
        while sent_batches < 200 and time.monotonic() < deadline:
            slow.send(request)
            sent_batches += 1
            peak = max(peak, s.rss())
    except OSError:
        closed_early = True
    _, closed = slow.read_until_closed(timeout=15, limit=256 * MiB)
    slow.close()
    assert closed_early or closed, "the non-reading client was not disconnected"
    peak = max(peak, s.rss())
    assert peak - rss_before < 128 * MiB, (peak, rss_before)
    assert r.get("big") == value and r.ping()
    assert wait_for(lambda: r.info("clients")["connected_clients"] == 1, 10)
    assert "output buffer limits" in (s.workdir / "limit.log").read_text()


def test_reading_client_gets_large_pipelined_replies(start_server) -> None:
    s = start_server()
    r = s.client()
    r.set("big", b"z" * 100_000)
    pipe = r.pipeline(transaction=False)
    for _ in range(300):  # 30 MB of replies to a client that reads them
        pipe.get("big")
    assert all(len(v) == 100_000 for v in pipe.execute())


def test_maxclients(start_server) -> None:
    s = start_server("--maxclients", "3")
    clients = [s.client() for _ in range(3)]
    assert all(c.ping() for c in clients)
    data, closed = exchange_closed(s.port, b"")
    assert data == b"-ERR max number of clients reached\r\n" and closed
    clients[0].close()
    assert wait_for(lambda: _pings(s.port), 10, 0.1)
    assert clients[1].info("stats")["rejected_connections"] >= 1


def test_maxmemory_noeviction(start_server) -> None:
    s = start_server("--maxmemory", "2mb", "--maxmemory-policy", "noeviction")
    r = s.client()
    value = b"v" * 10_000
    stored = 0
    with pytest.raises(redis.ResponseError) as e:
        for i in range(2000):
            r.set(f"k{i}", value)
            stored += 1
    assert str(e.value) == "command not allowed when used memory > 'maxmemory'."
    assert 10 < stored < 2000 and r.dbsize() == stored
    with pytest.raises(redis.exceptions.OutOfMemoryError):
        r.incr("counter")
    assert r.get("k0") == value and r.delete("k0", "k1") == 2  # reads and DEL still work
    assert r.flushall() and r.set("after", "flush")
    assert r.config_set("maxmemory", 0) and r.set("unlimited", value)


@pytest.mark.parametrize("policy", ["allkeys-random", "allkeys-lru"])
def test_maxmemory_allkeys_eviction(start_server, policy) -> None:
    s = start_server("--maxmemory", "2mb", "--maxmemory-policy", policy)
    r = s.client()
    value = b"v" * 10_000
    for i in range(150):
        assert r.set(f"k{i}", value)
    hot = [f"k{i}" for i in range(140, 150)]
    for i in range(150, 400):
        for k in hot:  # keep ten keys recently used
            r.get(k)
        assert r.set(f"k{i}", value)  # writes keep succeeding
    n = r.dbsize()
    assert 50 < n < 400
    evicted = r.info("stats")["evicted_keys"]
    assert evicted > 0 and evicted + n == 400
    assert r.info("memory")["used_memory"] <= 2 * MiB + 64 * 1024
    if policy == "allkeys-lru":
        assert sum(r.exists(k) for k in hot) >= 8


def test_maxmemory_volatile_ttl(start_server) -> None:
    s = start_server("--maxmemory", "2mb", "--maxmemory-policy", "volatile-ttl")
    r = s.client()
    value = b"v" * 10_000
    for i in range(40):
        r.set(f"keep{i}", value)
    for i in range(200):
        assert r.set(f"vol{i}", value, ex=1000 + i)
    assert all(r.exists(f"keep{i}") for i in range(40))
    assert r.info("stats")["evicted_keys"] > 0
    gone = [i for i in range(200) if not r.exists(f"vol{i}")]
    kept = [i for i in range(200) if r.exists(f"vol{i}")]
    assert gone and kept and r.exists("vol199")
    assert sum(gone) / len(gone) < sum(kept) / len(kept)  # nearest expiries go first
    with pytest.raises(redis.exceptions.OutOfMemoryError):
        for i in range(1000):  # only non-volatile keys left to add: eventually OOM
            r.set(f"more{i}", value)


# ---------------------------------------------------------------------------------------
# Threads and load


@pytest.mark.parametrize("threads", [2, 4])
def test_io_threads_are_consistent(start_server, threads) -> None:
    s = start_server("--threads", threads)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            r = s.client()
            for i in range(300):
                r.incr("shared")
                r.set(f"w{n}:{i}", i)
            want = [str(i).encode() for i in range(300)]
            assert r.mget([f"w{n}:{i}" for i in range(300)]) == want
            r.close()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=120)
    assert not errors, errors
    r = s.client()
    assert r.get("shared") == b"1800" and r.dbsize() == 1 + 6 * 300
    assert r.config_get("io-threads") == {"io-threads": str(threads)}
    assert b"io_threads:%d" % threads in s.raw().value("INFO", "server")


def _benchmark(port: int, *extra: str) -> dict[str, float]:
    proc = subprocess.run(["redis-benchmark", "-p", str(port), "-t", "set,get", "-n", "20000",
                           "-q", *extra], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    rates = {}
    for line in re.split(r"[\r\n]", proc.stdout):
        m = re.match(r"^(SET|GET): ([\d.]+) requests per second", line.strip())
        if m:
            rates[m.group(1)] = float(m.group(2))
    return rates


@pytest.mark.skipif(shutil.which("redis-benchmark") is None, reason="redis-benchmark missing")
@pytest.mark.parametrize("threads", [1, 2])
def test_redis_benchmark_completes(start_server, threads) -> None:
    s = start_server("--threads", threads)
    rates = _benchmark(s.port)
    assert set(rates) == {"SET", "GET"} and all(v > 0 for v in rates.values()), rates
    pipelined = _benchmark(s.port, "-P", "16", "-c", "20")
    assert all(v > 0 for v in pipelined.values()), pipelined
    assert s.client().dbsize() == 1  # key:__rand_int__


# ---------------------------------------------------------------------------------------
# Byte-for-byte comparison with redis-server 7.0


@pytest.fixture(scope="module")
def real_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server not installed")
    workdir = tmp_path_factory.mktemp("redis")
    for _attempt in range(5):
        port = free_port()
        proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                 "--appendonly", "no", "--databases", "1", "--dir", str(workdir),
                                 "--daemonize", "no", "--protected-mode", "no"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        def up(proc: subprocess.Popen = proc, port: int = port) -> bool:
            return proc.poll() is not None or _pings(port)

        if wait_for(up, 10, 0.05) and proc.poll() is None:
            break
        proc.kill()
        proc.wait()
    else:
        pytest.fail("redis-server did not start")
    try:
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _pings(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(7) == b"+PONG\r\n"
    except OSError:
        return False


COMPARED: list[tuple] = [
    ("FLUSHALL",), ("PING",), ("PING", "hello"), ("PING", "a", "b"), ("ECHO",), ("ECHO", "x"),
    ("pInG",), ("GET",), ("GET", "k"), ("SET", "k"), ("SET", "k", "v"), ("GET", "k"),
    ("SET", "k", "v", "NX", "XX"), ("SET", "k", "v", "EX", "0"), ("SET", "k", "v", "EX", "-5"),
    ("SET", "k", "v", "EX", "abc"), ("SET", "k", "v", "PX", "9223372036854775807"),
    ("SET", "k", "v", "EX", "9223372036854775"), ("SET", "k", "v", "KEEPTTL", "EX", "10"),
    ("SET", "k", "v", "EX"), ("SET", "k", "v", "BADOPT"), ("SET", "k", "w", "GET"),
    ("SET", "k2", "v", "NX", "GET"), ("SET", "k2", "z", "NX", "GET"), ("SET", "k3", "v", "XX"),
    ("SET", "k", "v", "XX", "KEEPTTL"), ("FOO",), ("FOO", "a", "b"), ("foo", "x" * 200, "y"),
    ("FOO", "a\r\nb"), (b"fo\x00o", "arg"), ("",), ("INCR", "k"),
    ("SET", "n", "9223372036854775807"),
    ("INCR", "n"), ("INCRBY", "n", "1"), ("DECRBY", "n", "-9223372036854775808"),
    ("INCRBY", "n", "abc"), ("INCRBY", "n", "1.5"), ("INCRBY", "n", "-0"), ("INCRBY", "n", "007"),
    ("DECR", "cnt"), ("INCRBY", "cnt", "10"), ("DECRBY", "cnt", "-4"), ("INCR", "cnt", "extra"),
    ("SET", "f", "1.5"), ("INCR", "f"), ("SET", "sp", " 1"), ("DECR", "sp"),
    ("MSET", "a", "1", "b", "2"), ("MSET", "a"), ("MSET", "a", "1", "b"),
    ("MGET", "a", "b", "nope"),
    ("MGET",), ("MSETNX", "a", "9", "zz", "1"), ("MSETNX", "zz", "1", "yy", "2"),
    ("DEL", "a", "b", "nope"), ("DEL",), ("EXISTS", "k", "k", "nope"), ("UNLINK", "zz", "yy"),
    ("SELECT", "0"), ("SELECT", "1"), ("SELECT", "-1"), ("SELECT", "x"), ("SELECT",),
    ("TTL", "missing"), ("PTTL", "missing"), ("TTL", "k"), ("PTTL", "k"), ("EXPIRE", "k", "100"),
    ("TTL", "k"), ("EXPIRE", "k", "100", "NX", "XX"), ("EXPIRE", "k", "100", "GT", "LT"),
    ("EXPIRE", "k", "100", "BOGUS"), ("EXPIRE", "k", "abc"), ("EXPIRE", "k"),
    ("EXPIRE", "missing", "10"), ("EXPIRE", "k", "50", "GT"), ("EXPIRE", "k", "200", "GT"),
    ("TTL", "k"), ("EXPIRE", "k", "9223372036854775807"), ("PEXPIRE", "k", "9223372036854775807"),
    ("PERSIST", "k"), ("PERSIST", "k"), ("PERSIST", "missing"), ("EXPIRETIME", "k"),
    ("EXPIRETIME", "missing"), ("EXPIRE", "k", "-1"), ("GET", "k"), ("EXISTS", "k"),
    ("SET", "abc", "1"), ("KEYS", "a?c"), ("KEYS", "nomatch*"), ("KEYS", "[a]b[^x]"), ("KEYS",),
    ("DBSIZE",), ("DBSIZE", "x"), ("FLUSHALL", "BOGUS"), ("FLUSHALL", "ASYNC", "SYNC"),
    ("SCAN", "x"), ("SCAN", "0", "COUNT", "0"), ("SCAN", "0", "MATCH"), ("SCAN", "0", "COUNT", "x"),
    ("SCAN", "-"), ("SCAN", "0", "TYPE"), ("CLIENT",), ("CLIENT", "FOO"), ("CLIENT", "SETNAME"),
    ("CLIENT", "SETINFO", "LIB-NAME", "redis-py"), ("CLIENT", "setinfo", "LIB-VER", "1"),
    ("CLIENT", "SETNAME", "a b"), ("CLIENT", "GETNAME"), ("CLIENT", "SETNAME", "me"),
    ("CLIENT", "GETNAME"), ("CLIENT", "SETNAME", ""), ("CLIENT", "GETNAME"), ("CONFIG",),
    ("CONFIG", "GET"), ("CONFIG", "GET", "save"), ("CONFIG", "GET", "appendonly"),
    ("CONFIG", "GET", "maxmemory"), ("CONFIG", "GET", "maxmemory-policy"),
    ("CONFIG", "SET", "nosuch", "1"), ("CONFIG", "SET", "maxmemory", "abc"),
    ("CONFIG", "SET", "maxmemory"), ("CONFIG", "SET", "maxmemory", "1", "maxmemory-policy"),
    ("CONFIG", "NOPE"), ("COMMAND", "NOPE"), ("HELLO", "4"), ("HELLO", "1"), ("HELLO", "x"),
    ("AUTH",), ("AUTH", "x"), ("AUTH", "a", "b", "c"), ("AUTH", "default", "anything"),
    ("AUTH", "someone", "pw"), ("APPEND", "s", "ab"), ("APPEND", "s", "cd"), ("STRLEN", "s"),
    ("STRLEN", "nope"), ("GETSET", "s", "x"), ("GETDEL", "s"), ("GETDEL", "s"), ("SETNX", "s", "1"),
    ("SETNX", "s", "2"), ("SETEX", "s", "0", "v"), ("SETEX", "s", "10", "v"), ("TTL", "s"),
    ("PSETEX", "s", "-1", "v"), ("TYPE", "s"), ("TYPE", "nope"), ("SET", "", ""), ("GET", ""),
    ("EXISTS", ""), ("SET", b"bin\x00key", b"\r\n\x00\xff"), ("GET", b"bin\x00key"),
    ("FLUSHDB",), ("RANDOMKEY",), ("SET", "only", "1"), ("RANDOMKEY",), ("DBSIZE",),
]

PROTOCOL_COMPARED = [
    b"PING\r\n", b"PING\n", b"ping \"a\\x41\" 'b'\r\n", b"echo \"a\\x41\\n\" \r\n",
    b"echo 'it\\'s'\r\n", b"ping \"abc\r\n", b"ping \"a\"b\r\n", b"\r\n", b"\x00\r\n",
    b"*0\r\nPING\r\n", b"*-1\r\nPING\r\n", b"*1\r\n$4\r\nPINGxx*1\r\n$4\r\nPING\r\n",
    b"*x\r\n", b"*1\r\nx\r\n", b"*1\r\n$-1\r\n", b"*1\r\n$abc\r\n", b"*01\r\n$4\r\nPING\r\n",
    b"*+1\r\n$4\r\nPING\r\n", b"*1\r\n$04\r\nPING\r\n", b"*2\r\n$4\r\nPING\r\n$-0\r\n\r\n",
    b"x" * 70_000, b"*1\r\n$" + b"1" * 70_000, b"*" + b"1" * 70_000,
    b"SET a b\r\nGET a\r\n*1\r\nx\r\nGET a\r\n", b"*3\r\n$3\r\nfoo\r\n$3\r\na\r\nb\r\n$1\r\nc\r\n",
    b"*1\r\n$0\r\n\r\n", b"*2\r\n$4\r\necho\r\n$0\r\n\r\n", b"quit extra\r\nPING\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"*-5\r\n", b"*1\r\n$3\r\nGET", b"*2\r\n$3\r\nGET\r\n",
]


def test_replies_match_redis_byte_for_byte(server, real_redis) -> None:
    ours, theirs = server.raw(), RawConn(real_redis)
    mismatches = []
    for args in COMPARED:
        a, b = ours.call(*args), theirs.call(*args)
        if a != b:
            mismatches.append(f"{args!r}: ours {a!r} redis {b!r}")
    ours.close()
    theirs.close()
    assert not mismatches, "\n".join(mismatches)


def test_protocol_edge_cases_match_redis(server, real_redis) -> None:
    mismatches = []
    for payload in PROTOCOL_COMPARED:
        a, b = exchange_eof(server.port, payload), exchange_eof(real_redis, payload)
        if a != b:
            mismatches.append(f"{payload[:60]!r}: ours {a!r} redis {b!r}")
    assert not mismatches, "\n".join(mismatches)


# ---------------------------------------------------------------------------------------
# redis-cli, interactively


def test_redis_cli_works_interactively(server: KvServer) -> None:
    """redis-cli on a terminal (a pty): its start-up requests (COMMAND DOCS for hints)
    succeed, and typed commands get their answers printed the way redis-cli prints them."""
    import fcntl
    import pty
    import struct
    import termios

    cli = shutil.which("redis-cli")
    assert cli, "redis-cli not found: apt-get install redis-tools (make setup does)"
    pid, fd = pty.fork()
    if pid == 0:  # the child: redis-cli on the pty
        os.execv(cli, [cli, "-p", str(server.port)])
    transcript = b""
    try:
        # a terminal of 80 columns; linenoise asks for the cursor position when it
        # cannot get the size, and that question is answered below too
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        prompt = f"127.0.0.1:{server.port}> ".encode()

        def read_until(expect: bytes, start: int) -> None:
            nonlocal transcript
            deadline = time.monotonic() + 10
            while expect not in transcript[start:] and time.monotonic() < deadline:
                ready, _, _ = select.select([fd], [], [], 0.5)
                if ready:
                    chunk = os.read(fd, 4096)
                    if b"\x1b[6n" in chunk:
                        os.write(fd, b"\x1b[1;1R")
                    transcript += chunk
            assert expect in transcript[start:], transcript.decode(errors="replace")

        for line, expect in ((b"SET greeting hello", b"OK"), (b"GET greeting", b'"hello"'),
                             (b"INCR greeting", b"(error) ERR value is not an integer"),
                             (b"DBSIZE", b"(integer) 1"), (b"NOSUCH", b"(error) ERR unknown")):
            read_until(prompt, max(0, len(transcript) - len(prompt)))  # typed before it is lost
            start = len(transcript)
            os.write(fd, line + b"\r")
            read_until(expect, start)
        read_until(prompt, max(0, len(transcript) - len(prompt)))
        os.write(fd, b"QUIT\r")
    finally:
        deadline = time.monotonic() + 5  # QUIT ends redis-cli; SIGKILL if it did not
        while os.waitpid(pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                break
            time.sleep(0.05)
        os.close(fd)
    assert b"Could not connect" not in transcript

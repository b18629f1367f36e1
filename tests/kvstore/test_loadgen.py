"""kvstore-loadgen, the native RESP2 load generator (targets/kvstore/loadgen/*.c).

It is compiled here with gcc twice, as the lab builds it: a release build (-O2) and an
ASan+UBSan build (-O0), both required to be warning-free. It runs against a real
redis-server (one per module, on a free loopback port, no persistence, killed at teardown)
and against small scripted servers in this file for what redis never does: error replies
cut into pieces, protocol violations, a connection closed mid-run.

What the coordinated-omission test shows. The server is frozen (SIGSTOP) for 300 ms in the
middle of a run over 10 connections with one request in flight each:

* at a fixed rate (--rate 5000), every request has an intended send time; the ~1500
  requests intended during the freeze wait for the server and are charged from their
  intended time, so the requests intended in the first 50 ms of the freeze (~250, i.e. 2.5%
  of the ~10000 measured) show latencies of 250 ms or more: p999 (and max) >= 250 ms;
* in the closed loop, the same freeze only delays the 10 requests then in flight (one per
  connection): the generator simply stops sending, so the histogram holds at most
  connections x pipeline = 10 slow samples, where rate x pause = 1500 requests should have
  been issued and delayed. Its p99 stays far below 250 ms although the server stalled for
  300 ms: the stall is omitted from the statistics, which is what --rate corrects.

Every wait in this file is bounded (subprocess timeouts, deadlines, retry counts).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from labtest import ROOT

redis = pytest.importorskip("redis")

SRC = ROOT / "targets" / "kvstore" / "loadgen"
INCLUDE = ROOT / "targets" / "kvstore"
COMMON = ["-std=c11", "-Wall", "-Wextra", "-fPIC", "-fno-wrapv"]
FLAVORS = {
    "release": ["-O2"],
    "sanitized": ["-O0", "-g", "-fsanitize=address,undefined",
                  "-fno-sanitize-recover=undefined"],
}
SANITIZER_ENV = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0",
                 "UBSAN_OPTIONS": "print_stacktrace=1"}
RUN_TIMEOUT = 60
GET_REQUEST = re.compile(rb"\*2\r\n\$3\r\nGET\r\n\$16\r\nkey:\d{12}\r\n")
GET_SIZE = 36  # the length of every GET request: keys are always "key:" + 12 digits

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None or shutil.which("gcc") is None,
    reason="needs redis-server and gcc")


# ---- building ----------------------------------------------------------------------------

@dataclass
class Build:
    path: Path
    warnings: str


def _compile(compiler: str, flags: list[str], out: Path) -> Build:
    sources = sorted(str(p) for p in SRC.glob("*.c"))
    cmd = [compiler, *COMMON, *flags, "-I", str(INCLUDE), *sources, "-o", str(out),
           "-lpthread", "-lm"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return Build(out, proc.stderr)


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Build]:
    tmp = tmp_path_factory.mktemp("loadgen")
    return {name: _compile("gcc", flags, tmp / f"kvstore-loadgen-{name}")
            for name, flags in FLAVORS.items()}


@pytest.fixture(scope="module")
def loadgen(builds: dict[str, Build]) -> Path:
    return builds["release"].path


# ---- the redis-server under load ---------------------------------------------------------

@dataclass
class RedisServer:
    proc: subprocess.Popen
    port: int
    client: redis.Redis

    def commands_processed(self) -> int:
        return int(self.client.info("stats")["total_commands_processed"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGCONT)  # in case a test left it frozen
        proc.kill()
    proc.wait(timeout=10)


def _await_ready(proc: subprocess.Popen, port: int) -> redis.Redis | None:
    """A client once *this* process answers on port (not another one that holds it)."""
    client = redis.Redis(port=port, socket_timeout=5)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if client.info("server")["process_id"] == proc.pid:
                return client
        except redis.ConnectionError:
            pass
        time.sleep(0.05)
    client.close()
    return None


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    tmp = tmp_path_factory.mktemp("redis")
    for _attempt in range(5):  # another process may take the port between probe and bind
        port = _free_port()
        proc = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(tmp), "--logfile", str(tmp / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = _await_ready(proc, port)
        if client is not None:
            break
        _stop(proc)
    else:
        pytest.fail("redis-server did not start on a free port in 5 attempts")
    try:
        yield RedisServer(proc, port, client)
    finally:
        client.close()
        _stop(proc)


@pytest.fixture
def server(redis_server: RedisServer) -> Iterator[RedisServer]:
    """The module's redis-server, emptied; thawed again whatever the test did."""
    redis_server.client.flushall()
    yield redis_server
    redis_server.proc.send_signal(signal.SIGCONT)


# ---- running the generator ---------------------------------------------------------------

def _run(binary: Path, *args: str, timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run([str(binary), *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **SANITIZER_ENV})


def _report(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr
    assert "runtime error" not in proc.stderr and "Sanitizer" not in proc.stderr, proc.stderr
    assert proc.stdout.count("\n") == 1, "one JSON object on one line"
    return json.loads(proc.stdout)


def _measure(binary: Path, port: int, *args: str) -> dict:
    return _report(_run(binary, "--port", str(port), *args))


def _slow(doc: dict, threshold_us: int) -> int:
    """How many recorded requests took threshold_us or more (by histogram bucket)."""
    return sum(count for upper, count in doc["histogram"] if upper >= threshold_us)


def _check_consistent(doc: dict) -> None:
    lat = doc["latency_us"]
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p999"] <= lat["max"], lat
    assert 0 < lat["mean"] <= lat["max"]
    bounds = [upper for upper, _ in doc["histogram"]]
    assert bounds == sorted(set(bounds)) and all(c > 0 for _, c in doc["histogram"])
    assert sum(c for _, c in doc["histogram"]) == doc["gets"] + doc["sets"]
    assert doc["histogram"][-1][0] >= lat["max"]  # the last bucket holds the maximum
    total, seen = sum(c for _, c in doc["histogram"]), 0
    expected = {}
    for upper, count in doc["histogram"]:  # percentiles come from the bucket counts
        seen += count
        for name, pct in (("p50", 50), ("p90", 90), ("p99", 99), ("p999", 99.9)):
            if name not in expected and seen >= math.ceil(pct / 100 * total):
                expected[name] = min(upper, lat["max"])
    assert expected == {name: lat[name] for name in expected} and len(expected) == 4


# ---- tests against redis-server -----------------------------------------------------------

def test_builds_are_warning_free(builds: dict[str, Build], tmp_path: Path) -> None:
    for name, build in builds.items():
        assert build.warnings == "", f"gcc {name}:\n{build.warnings}"
    clang = shutil.which("clang-14") or shutil.which("clang")
    if clang:
        for name, flags in FLAVORS.items():
            build = _compile(clang, flags, tmp_path / f"clang-{name}")
            assert build.warnings == "", f"clang {name}:\n{build.warnings}"


@pytest.mark.parametrize("flavor", ["release", "sanitized"])
def test_closed_loop_run_reports_throughput_and_ordered_percentiles(
        builds: dict[str, Build], server: RedisServer, flavor: str) -> None:
    doc = _measure(builds[flavor].path, server.port, "--duration", "1", "--warmup", "0.2",
                   "--connections", "20", "--pipeline", "4", "--threads", "2")
    assert doc["ops"] > 1000, doc["ops"]
    assert doc["errors"] == 0 and doc["first_error"] is None
    assert (doc["connections"], doc["pipeline"], doc["threads"]) == (20, 4, 2)
    assert doc["rate"] is None and doc["achieved_rate"] is None
    assert doc["duration_s"] == pytest.approx(1.0)
    assert doc["ops"] == pytest.approx((doc["gets"] + doc["sets"]) / doc["duration_s"], rel=1e-3)
    _check_consistent(doc)


@pytest.mark.parametrize(("ratio", "warmup"), [(0.9, "0"), (0.5, "0.3")])
def test_get_ratio_and_server_command_count(loadgen: Path, server: RedisServer,
                                            ratio: float, warmup: str) -> None:
    before = server.commands_processed()
    doc = _measure(loadgen, server.port, "--duration", "1", "--warmup", warmup,
                   "--get-ratio", str(ratio), "--connections", "10", "--pipeline", "2")
    after = server.commands_processed()
    recorded = doc["gets"] + doc["sets"]
    assert doc["gets"] / recorded == pytest.approx(ratio, abs=0.02)
    extra = after - before - 1 - recorded  # - 1: the first INFO counts itself afterwards
    if warmup == "0":
        assert extra == 0, (after - before, recorded)  # every request sent was recorded
    else:
        # the warmup's requests reach the server but are not recorded; the warmup's own rate
        # varies with start-up and machine load (a loaded run here warmed up at 1.6 times the
        # measured rate), so only the upper bound uses the measured rate, with room for that;
        # recorded requests counted as extra would add 1/0.3 = 3.3 times the warm-up
        warmup_requests = doc["ops"] * float(warmup)
        assert 0 < extra <= 2.5 * warmup_requests + 20, extra


def test_populate_sets_every_key(loadgen: Path, server: RedisServer) -> None:
    keys = 20000
    doc = _measure(loadgen, server.port, "--populate", "--keyspace", str(keys),
                   "--value-size", "32", "--duration", "0.3", "--warmup", "0")
    assert doc["gets"] + doc["sets"] > 0
    assert server.client.dbsize() == keys
    assert len(server.client.get(b"key:%012d" % (keys - 1))) == 32
    assert server.client.get(b"key:%012d" % keys) is None


def test_fixed_rate_is_achieved(loadgen: Path, server: RedisServer) -> None:
    doc = _measure(loadgen, server.port, "--rate", "5000", "--connections", "10",
                   "--duration", "2", "--warmup", "0.2")
    assert doc["rate"] == 5000
    assert doc["achieved_rate"] == pytest.approx(5000, rel=0.10)
    assert doc["ops"] == pytest.approx(5000, rel=0.10)
    _check_consistent(doc)


def test_unsustainable_rate_is_reported(loadgen: Path, server: RedisServer) -> None:
    proc = _run(loadgen, "--port", str(server.port), "--rate", "10000000", "--connections",
                "2", "--duration", "0.5", "--warmup", "0")
    doc = _report(proc)
    assert 0 < doc["achieved_rate"] < 0.5 * doc["rate"]
    assert "never sent" in proc.stderr  # the requests it could not send are not hidden
    assert doc["latency_us"]["p50"] > 10_000  # they queued behind their intended times


def _run_with_pause(binary: Path, server: RedisServer, *args: str, pause_at: float = 1.0,
                    pause: float = 0.3) -> dict:
    """Runs the generator and freezes the server for `pause` s at `pause_at` s into it."""
    proc = subprocess.Popen([str(binary), "--port", str(server.port), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(pause_at)
        server.proc.send_signal(signal.SIGSTOP)
        try:
            time.sleep(pause)
        finally:
            server.proc.send_signal(signal.SIGCONT)
        out, err = proc.communicate(timeout=RUN_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    return _report(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))


def test_fixed_rate_counts_a_server_stall_from_intended_times(
        loadgen: Path, server: RedisServer) -> None:
    rate, conns = 5000, 10
    common = ("--connections", str(conns), "--pipeline", "1", "--duration", "2",
              "--warmup", "0.2")
    fixed = _run_with_pause(loadgen, server, "--rate", str(rate), *common)
    assert fixed["latency_us"]["p999"] >= 250_000, fixed["latency_us"]
    assert fixed["latency_us"]["max"] >= 250_000
    # the requests intended in the first 50 ms of the 300 ms freeze waited >= 250 ms
    assert _slow(fixed, 250_000) >= 0.5 * rate * 0.05, _slow(fixed, 250_000)

    closed = _run_with_pause(loadgen, server, *common)
    # only the requests in flight when the server froze saw the freeze ...
    assert closed["latency_us"]["max"] >= 250_000
    assert _slow(closed, 250_000) <= conns * 1  # connections x pipeline, << rate x pause
    # ... so the closed loop's percentiles hide it
    assert closed["latency_us"]["p99"] < 250_000, closed["latency_us"]


@pytest.mark.parametrize(("args", "named"), [
    ([], "--port"),
    (["--port", "0"], "--port"),
    (["--port", "http"], "--port"),
    (["--port"], "--port"),
    (["--connections", "0"], "--connections"),
    (["--pipeline", "-3"], "--pipeline"),
    (["--get-ratio", "1.5"], "--get-ratio"),
    (["--get-ratio", "nan"], "--get-ratio"),
    (["--value-size", "1x"], "--value-size"),
    (["--keyspace", "0"], "--keyspace"),
    (["--duration", "0"], "--duration"),
    (["--warmup", "-1"], "--warmup"),
    (["--rate", "0"], "--rate"),
    (["--threads", "4", "--connections", "2"], "--threads"),
    (["--seed", "-1"], "--seed"),
    (["--populate=yes"], "--populate"),
    (["--bogus"], "--bogus"),
    (["surplus"], "surplus"),
])
def test_bad_arguments_exit_2_with_one_line(loadgen: Path, args: list[str], named: str) -> None:
    full = args if named == "--port" else ["--port", "6379", *args]
    proc = _run(loadgen, *full, timeout=10)
    assert proc.returncode == 2, proc
    assert proc.stdout == ""
    line = proc.stderr.strip()
    assert "\n" not in line and named in line, line
    assert "expected" in line or "valid:" in line, line  # says what would be accepted


def test_connection_refused_exits_1(loadgen: Path) -> None:
    proc = _run(loadgen, "--port", str(_free_port()), "--duration", "0.2", timeout=20)
    assert proc.returncode == 1, proc
    assert proc.stdout == ""
    line = proc.stderr.strip()
    assert "\n" not in line and "refused" in line.lower(), line


def test_pipelining_raises_throughput(loadgen: Path, server: RedisServer) -> None:
    ops = {}
    for depth in (1, 16):
        doc = _measure(loadgen, server.port, "--connections", "50", "--pipeline", str(depth),
                       "--duration", "1", "--warmup", "0.2")
        assert doc["pipeline"] == depth and doc["errors"] == 0
        _check_consistent(doc)
        ops[depth] = doc["ops"]
    assert ops[16] > 1.5 * ops[1], ops


# ---- scripted servers: what redis never sends --------------------------------------------

class ScriptedServer:
    """Answers every GET (the generator sends only GETs with --get-ratio 1, 36 bytes each)
    with the next reply of `replies`, cyclically, cut into `chunk`-byte pieces sent apart;
    a reply of None closes the connection. Checks each request's encoding."""

    def __init__(self, replies: list[bytes | None], chunk: int = 3) -> None:
        self.replies, self.chunk = replies, chunk
        self.bad_requests = 0
        self.requests = 0
        self._stop = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self._threads = [threading.Thread(target=self._accept, daemon=True)]

    def __enter__(self) -> ScriptedServer:
        self._threads[0].start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in list(self._threads):
            t.join(timeout=5)
        self._sock.close()

    def _accept(self) -> None:
        deadline = time.monotonic() + RUN_TIMEOUT
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(t)
            t.start()

    def _answer(self, requests: bytes, index: int) -> bytes | None:
        out = []
        for i in range(0, len(requests), GET_SIZE):
            self.requests += 1
            self.bad_requests += not GET_REQUEST.fullmatch(requests[i:i + GET_SIZE])
            reply = self.replies[(index + i // GET_SIZE) % len(self.replies)]
            if reply is None:
                return None
            out.append(reply)
        return b"".join(out)

    def _serve(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.settimeout(0.1)
        pending, index = b"", 0
        deadline = time.monotonic() + RUN_TIMEOUT
        with conn:
            while not self._stop.is_set() and time.monotonic() < deadline:
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                pending += data
                whole = len(pending) - len(pending) % GET_SIZE
                out = self._answer(pending[:whole], index)
                if out is None:
                    return  # closes the connection
                pending, index = pending[whole:], index + whole // GET_SIZE
                try:
                    for i in range(0, len(out), self.chunk):
                        conn.sendall(out[i:i + self.chunk])
                except OSError:
                    return


SCRIPTED_ARGS = ("--get-ratio", "1", "--connections", "2", "--pipeline", "3",
                 "--duration", "0.5", "--warmup", "0.1")


@pytest.mark.parametrize("flavor", ["release", "sanitized"])
def test_replies_in_pieces_and_error_replies(builds: dict[str, Build], flavor: str) -> None:
    script = [b"$5\r\nhello\r\n", b"-ERR boom \"quoted\"\r\n", b"$-1\r\n",
              b"$0\r\n\r\n", b"$12\r\nwith\r\ncrlf!!\r\n"]
    with ScriptedServer(script) as srv:
        doc = _measure(builds[flavor].path, srv.port, *SCRIPTED_ARGS)
    assert srv.requests > 0 and srv.bad_requests == 0
    assert doc["gets"] > 10 and doc["sets"] == 0
    assert doc["errors"] == pytest.approx(doc["gets"] / len(script), abs=4)
    assert doc["first_error"] == 'ERR boom "quoted"'


@pytest.mark.parametrize("flavor", ["release", "sanitized"])
@pytest.mark.parametrize(("reply", "message"), [
    (b"?what\r\n", "protocol error"),
    (b":42\r\n", "protocol error"),        # an integer is no answer to GET
    (b"$abc\r\n", "protocol error"),
    (b"$3\r\nabcde\r\n", "protocol error"),  # the bulk string overruns its length
    (b"+OK\rX\n", "protocol error"),
    # a whole nested array, received in pieces, then rejected as no answer to GET
    (b"*3\r\n$1\r\na\r\n*2\r\n:1\r\n$-1\r\n*-1\r\n", "GET answered with an array"),
    (None, "closed by the server"),
])
def test_protocol_violation_aborts_with_one_line(builds: dict[str, Build], flavor: str,
                                                  reply: bytes | None, message: str) -> None:
    with ScriptedServer([b"$1\r\nx\r\n", reply]) as srv:
        proc = _run(builds[flavor].path, "--port", str(srv.port), *SCRIPTED_ARGS)
    assert proc.returncode == 1, proc
    assert proc.stdout == ""
    line = proc.stderr.strip()
    assert "\n" not in line and message in line, line

"""Persistence of the kvstore server (targets/kvstore: aof*.c, snap.c, persist*.c) and its
in-process library (kvlib.h), tested as a black box.

The compiler flags, the server-process helpers and the sanitizer checks come from
test_server_c.py: every test that starts servers through ``pstart`` runs on the plain and the
ASan+UBSan build unless it is marked ``PLAIN`` (the slow ones), and at teardown every server
still running gets SIGTERM and must exit 0 without sanitizer reports.  Servers killed with
SIGKILL on purpose are not checked.

What is covered: the append-only log under the three ``appendfsync`` policies (every
acknowledged write survives SIGKILL with ``always``; clean SHUTDOWN/SIGTERM keeps everything
with ``everysec`` and ``no``), log rewrites under load, snapshots (BGSAVE, SAVE, save rules,
SHUTDOWN), expiries kept as absolute times, refusal of corrupt files with the right offset,
``--aof-truncate-corrupt``, ``--check-aof``, write errors (-MISCONF / exit), INFO and CONFIG,
and the library through cffi (ABI mode) plus a C driver under ASan+UBSan.
"""

from __future__ import annotations

import os
import random
import re
import resource
import signal
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cffi
import pytest
import redis
from test_server_c import (
    BASE_FLAGS,
    CC,
    FLAVORS,
    SAN_ENV,
    SAN_FLAGS,
    SRC,
    KvServer,
    RawConn,
    free_port,
    parse_reply,
    real_redis,  # noqa: F401  (a fixture, requested by name below)
    resp,
    wait_for,
)

PLAIN = pytest.mark.parametrize("pflavor", ["plain"])
AOF_DIR = "appendonlydir"
INCR1 = f"{AOF_DIR}/appendonly.aof.1.incr.aof"
MANIFEST = f"{AOF_DIR}/appendonly.aof.manifest"
LIB_EXCLUDED = {"server.c", "net.c", "event.c"}


# ---------------------------------------------------------------------------------------
# Servers on a data directory


class PServer(KvServer):
    """A KvServer restarted on the same directory by starting a new one."""

    def pinfo(self) -> dict:
        return self.client().info("persistence")


@pytest.fixture(scope="session")
def pbinaries(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Both builds of every targets/kvstore/*.c, with test_server_c's flags, compiled in
    parallel."""
    out = tmp_path_factory.mktemp("kvstore-persist-build")
    sources = sorted(str(p) for p in SRC.glob("*.c"))
    procs = {}
    for flavor, extra in (("plain", []), ("asan", SAN_FLAGS)):
        exe = out / f"kvstore-server-{flavor}"
        procs[flavor] = (exe, subprocess.Popen([CC, *BASE_FLAGS, *extra, "-o", str(exe),
                                                *sources, "-lpthread"],
                                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                               text=True))
    for flavor, (_exe, proc) in procs.items():
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"{flavor} build failed:\n{err}"
    return {flavor: exe for flavor, (exe, _proc) in procs.items()}


@pytest.fixture(params=FLAVORS)
def pflavor(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def pstart(pbinaries: dict[str, Path], pflavor: str, tmp_path: Path) -> Iterator:
    """Factory: pstart(*args, preexec=None) -> a started PServer on tmp_path (the data
    directory).  Teardown: SIGTERM, exit status 0, no sanitizer report."""
    servers: list[PServer] = []

    def start(*args: object, preexec=None) -> PServer:
        server = PServer(pbinaries[pflavor], [str(a) for a in args], tmp_path,
                         pflavor == "asan", preexec)
        servers.append(server)
        return server.start()

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
def exe(pbinaries: dict[str, Path], pflavor: str) -> Path:
    return pbinaries[pflavor]


def refused_start(exe: Path, workdir: Path, *args: str, sanitized: bool) -> tuple[int, str]:
    """Runs a server expected to refuse to start; returns (exit status, stderr)."""
    env = {**os.environ, **(SAN_ENV if sanitized else {})}
    proc = subprocess.Popen([str(exe), "--port", str(free_port()), "--dir", str(workdir), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=env)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"the server started instead of refusing: {out!r}") from None
    assert b"ready on" not in out, out
    return proc.returncode, err.decode(errors="replace")


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{stderr}"
    return lines[0]


def shutdown(server: PServer, *args: str) -> int:
    conn = server.raw()
    conn.send(resp("SHUTDOWN", *args))
    data, closed = conn.read_until_closed(30)
    conn.close()
    assert closed and data == b"", data
    assert server.proc is not None
    return server.stop()


def command_offsets(data: bytes) -> list[int]:
    """Start offset of every command of a well-formed log."""
    offsets, pos = [], 0
    while pos < len(data):
        offsets.append(pos)
        nl = data.index(b"\r\n", pos)
        count, pos = int(data[pos + 1:nl]), nl + 2
        for _ in range(count):
            nl = data.index(b"\r\n", pos)
            pos = nl + 2 + int(data[pos + 1:nl]) + 2
    return offsets


def keyspace(server: PServer) -> dict[bytes, tuple[bytes, int]]:
    """Every key -> (value, absolute expiry in ms or -1)."""
    conn = server.raw()
    keys = conn.value("KEYS", "*")
    state = {}
    for key in keys:
        state[key] = (conn.value("GET", key), conn.value("PEXPIRETIME", key))
    conn.close()
    return state


def check_acked(server: PServer, acked: dict[str, str], context: str) -> None:
    """Every acknowledged key holds its value (MGET in chunks)."""
    conn = server.raw()
    items = list(acked.items())
    for i in range(0, len(items), 1000):
        chunk = items[i:i + 1000]
        got = conn.value("MGET", *[k for k, _ in chunk])
        missing = [(k, v, g) for (k, v), g in zip(chunk, got, strict=True)
                   if g != v.encode()]
        assert not missing, f"{context}: {len(missing)} acknowledged writes lost, e.g. " \
                            f"{missing[:3]}"
    conn.close()


class Writer(threading.Thread):
    """Sends SETs of unique keys (pipelined WINDOW at a time) until stopped, the server
    goes away or DEADLINE passes; records every acknowledged key -> value."""

    def __init__(self, port: int, prefix: str, acked: dict[str, str], seconds: float,
                 window: int = 8) -> None:
        super().__init__(daemon=True)
        self.port, self.prefix, self.acked, self.window = port, prefix, acked, window
        self.deadline = time.monotonic() + seconds
        self.stop_event = threading.Event()
        self.errors: list[str] = []
        self.count = 0

    def run(self) -> None:
        try:
            conn = RawConn(self.port, timeout=10)
        except OSError:
            return
        i = 0
        try:
            while not self.stop_event.is_set() and time.monotonic() < self.deadline:
                batch = [(f"{self.prefix}:{i + j}", f"v{i + j}-" + "x" * ((i + j) % 40))
                         for j in range(self.window)]
                conn.send(b"".join(resp("SET", k, v) for k, v in batch))
                for k, v in batch:
                    reply = conn.reply(timeout=10)
                    if reply != b"+OK\r\n":
                        self.errors.append(f"SET {k}: {reply!r}")
                        return
                    self.acked[k] = v
                    self.count += 1
                i += self.window
        except (TimeoutError, AssertionError) as exc:  # a server that stopped answering
            self.errors.append(f"no reply: {exc!r}")
        except (EOFError, OSError):  # the server went away (killed)
            pass
        finally:
            conn.close()

    def finish(self) -> None:
        self.stop_event.set()
        self.join(20)
        assert not self.is_alive(), "writer did not stop"
        assert not self.errors, self.errors


# ---------------------------------------------------------------------------------------
# Command line, CONFIG, INFO


@pytest.mark.parametrize("args, named", [
    (["--appendonly", "maybe"], "--appendonly"),
    (["--appendfsync", "sometimes"], "--appendfsync"),
    (["--appenddirname", "a/b"], "--appenddirname"),
    (["--appendfilename", ""], "--appendfilename"),
    (["--dbfilename", "../dump"], "--dbfilename"),
    (["--save", "100"], "--save"),
    (["--save", "x 1"], "--save"),
    (["--aof-truncate-corrupt", "1"], "--aof-truncate-corrupt"),
    (["--auto-aof-rewrite-percentage", "-1"], "--auto-aof-rewrite-percentage"),
    (["--auto-aof-rewrite-min-size", "lots"], "--auto-aof-rewrite-min-size"),
])
def test_bad_persistence_arguments_exit_2(pbinaries, args, named) -> None:
    proc = subprocess.run([str(pbinaries["plain"]), "--port", "7000", *args],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    line = one_line(proc.stderr)
    assert named in line and "valid" in line


def test_help_lists_persistence_flags(pbinaries) -> None:
    out = subprocess.run([str(pbinaries["plain"]), "--help"], capture_output=True, text=True,
                         timeout=30).stdout
    for flag in ("--appendonly", "--appendfsync", "--appenddirname", "--appendfilename",
                 "--dbfilename", "--save", "--aof-truncate-corrupt",
                 "--auto-aof-rewrite-percentage", "--auto-aof-rewrite-min-size", "--check-aof"):
        assert flag in out, flag


def test_config_defaults_and_info_without_persistence(pstart, tmp_path) -> None:
    s = pstart()
    r = s.client()
    cfg = r.config_get("*")
    assert cfg["appendonly"] == "no" and cfg["appendfsync"] == "everysec"
    assert cfg["appenddirname"] == "appendonlydir" and cfg["appendfilename"] == "appendonly.aof"
    assert cfg["dbfilename"] == "dump.kvs" and cfg["save"] == ""
    assert cfg["aof-truncate-corrupt"] == "no"
    assert cfg["auto-aof-rewrite-percentage"] == "100"
    assert cfg["auto-aof-rewrite-min-size"] == str(64 << 20)
    info = s.pinfo()
    assert info["aof_enabled"] == 0 and info["loading"] == 0 and info["async_loading"] == 0
    assert info["rdb_last_bgsave_status"] == "ok" and info["aof_last_write_status"] == "ok"
    assert info["rdb_bgsave_in_progress"] == 0 and info["aof_rewrite_in_progress"] == 0
    assert abs(info["rdb_last_save_time"] - time.time()) < 60
    r.set("a", 1)
    r.incr("a")
    assert s.pinfo()["rdb_changes_since_last_save"] == 2
    text = s.raw().value("INFO").decode()
    assert "\r\n\r\n# Persistence\r\n" in text and "\r\n\r\n# Stats\r\n" in text
    assert not (tmp_path / AOF_DIR).exists() and not (tmp_path / "dump.kvs").exists()


def test_flags_reflected_in_config_and_info(pstart, tmp_path) -> None:
    s = pstart("--appendonly", "yes", "--appendfsync", "always", "--save", "3600 1 300 100",
               "--dbfilename", "data.kvs", "--appendfilename", "log.aof",
               "--appenddirname", "logs", "--auto-aof-rewrite-percentage", "50",
               "--auto-aof-rewrite-min-size", "1mb", "--aof-truncate-corrupt", "yes")
    r = s.client()
    assert r.config_get("appendonly") == {"appendonly": "yes"}
    assert r.config_get("appendfsync") == {"appendfsync": "always"}
    cfg = r.config_get("*")
    assert cfg["save"] == "3600 1 300 100" and cfg["dbfilename"] == "data.kvs"
    assert cfg["appendfilename"] == "log.aof" and cfg["appenddirname"] == "logs"
    assert cfg["auto-aof-rewrite-percentage"] == "50"
    assert cfg["auto-aof-rewrite-min-size"] == str(1 << 20)
    assert cfg["aof-truncate-corrupt"] == "yes"
    assert sorted(p.name for p in (tmp_path / "logs").iterdir()) == [
        "log.aof.1.base.kvs", "log.aof.1.incr.aof", "log.aof.manifest"]
    info = s.pinfo()
    assert info["aof_enabled"] == 1 and info["aof_last_write_status"] == "ok"
    base = info["aof_base_size"]
    assert base == info["aof_current_size"] == (tmp_path / "logs/log.aof.1.base.kvs").stat().st_size
    r.set("k", "v" * 100)
    info = s.pinfo()
    assert info["aof_current_size"] > base + 100 and info["aof_buffer_length"] == 0
    assert r.config_set("appendfsync", "everysec")
    assert r.config_get("appendfsync") == {"appendfsync": "everysec"}
    assert r.config_set("save", "")
    assert r.config_get("save") == {"save": ""}
    with pytest.raises(redis.ResponseError, match="Invalid save parameters"):
        r.config_set("save", "10")
    with pytest.raises(redis.ResponseError, match="can't set immutable config"):
        r.config_set("appenddirname", "x")


CONFIG_COMPARED = [
    ("BGSAVE", "x"), ("BGSAVE", "SCHEDULE", "x"), ("LASTSAVE", "x"), ("SAVE", "x"),
    ("BGREWRITEAOF", "x"), ("CONFIG", "SET", "appendfsync", "sometimes"),
    ("CONFIG", "SET", "save", "1"), ("CONFIG", "SET", "save", "x"),
    ("CONFIG", "SET", "appendonly", "maybe"), ("CONFIG", "GET", "appendfsync"),
    ("CONFIG", "SET", "auto-aof-rewrite-percentage", "-1"),
    ("CONFIG", "SET", "auto-aof-rewrite-percentage", "x"),
    ("CONFIG", "SET", "auto-aof-rewrite-min-size", "lots"), ("CONFIG", "SET", "dbfilename", "x"),
    ("CONFIG", "SET", "appendfilename", "x"), ("CONFIG", "SET", "appenddirname", "x"),
    ("CONFIG", "GET", "auto-aof-rewrite-percentage"),
    ("CONFIG", "GET", "auto-aof-rewrite-min-size"),
    ("CONFIG", "GET", "appendonly"), ("SHUTDOWN", "NOSAVE", "SAVE"), ("SHUTDOWN", "bogus"),
    ("CONFIG", "SET", "save", "100 1"), ("CONFIG", "GET", "save"), ("CONFIG", "SET", "save", ""),
]


@PLAIN
def test_persistence_replies_match_redis(pstart, request) -> None:
    ours, theirs = pstart().raw(), RawConn(request.getfixturevalue("real_redis"))
    mismatches = []
    for args in CONFIG_COMPARED:
        a, b = ours.call(*args), theirs.call(*args)
        if a != b:
            mismatches.append(f"{args!r}: ours {a!r} redis {b!r}")
    assert not mismatches, "\n".join(mismatches)


# ---------------------------------------------------------------------------------------
# The log: durability and restarts


@PLAIN
def test_always_acknowledged_writes_survive_sigkill(pstart) -> None:
    seed = int(os.environ.get("KV_DURABILITY_SEED") or random.randrange(1 << 30))
    rng = random.Random(seed)
    acked: dict[str, str] = {}
    deadline = time.monotonic() + 60
    for cycle in range(20):
        assert time.monotonic() < deadline, f"seed {seed}: too slow (cycle {cycle})"
        s = pstart("--appendonly", "yes", "--appendfsync", "always")
        check_acked(s, acked, f"seed {seed}, after restart {cycle}")
        writer = Writer(s.port, f"c{cycle}", acked, seconds=5)
        writer.start()
        time.sleep(rng.uniform(0.05, 0.3))
        s.stop(signal.SIGKILL)
        writer.finish()
    s = pstart("--appendonly", "yes", "--appendfsync", "always")
    check_acked(s, acked, f"seed {seed}, final restart")
    assert len(acked) > 200, f"seed {seed}: only {len(acked)} writes acknowledged"
    assert s.client().dbsize() >= len(acked)
    assert s.pinfo()["loading_loaded_bytes"] > 0


def test_always_group_commit_across_io_threads(pstart) -> None:
    """Several clients on several I/O threads share fsyncs; none may see its write
    acknowledged before it is in the log."""
    acked: dict[str, str] = {}
    for cycle in range(3):
        s = pstart("--appendonly", "yes", "--appendfsync", "always", "--threads", "3")
        check_acked(s, acked, f"after restart {cycle}")
        writers = [Writer(s.port, f"t{cycle}.{i}", acked, seconds=5, window=1 + i)
                   for i in range(4)]
        for w in writers:
            w.start()
        assert wait_for(lambda ws=writers: all(w.count > 20 for w in ws), 10)
        s.stop(signal.SIGKILL)
        for w in writers:
            w.finish()
    s = pstart("--appendonly", "yes", "--appendfsync", "always", "--threads", "3")
    check_acked(s, acked, "final restart")


def exercise(r: redis.Redis) -> None:
    """Write commands of every kind, including deletions by expiry."""
    r.set("pre", "x")
    r.set("pre2", "y", ex=100)
    r.flushall()
    r.set("plain", "v1")
    r.set("bin\x00key", b"\r\n\x00\xff")
    r.set("ex", "1", ex=1000)
    r.set("px", "2", px=900_000)
    r.execute_command("SETEX", "setex", 800, "3")
    r.psetex("psetex", 700_000, "4")
    r.set("keep", "5", ex=600)
    r.set("keep", "6", keepttl=True)
    r.set("exat", "7", exat=int(time.time()) + 500)
    r.set("nx", "8", nx=True)
    r.set("nx", "9", nx=True)
    r.set("getset", "a")
    r.getset("getset", "b")
    r.set("getdel", "x")
    r.getdel("getdel")
    r.incr("counter")
    r.incrby("counter", 41)
    r.decr("counter")
    r.append("app", "abc")
    r.append("app", "def")
    r.mset({"m1": "1", "m2": "2", "m3": "3"})
    r.msetnx({"m4": "4", "m5": "5"})
    r.delete("m1", "nosuch")
    r.unlink("m2")
    r.set("persist", "p", ex=100)
    r.persist("persist")
    r.set("exp", "e")
    r.expire("exp", 300)
    r.pexpire("exp", 400_000)
    r.set("expat", "e")
    r.expireat("expat", int(time.time()) + 350)
    r.pexpireat("expat", int(time.time() * 1000) + 360_000)
    r.set("gone", "g")
    r.expire("gone", -1)
    r.mset({f"k{i}": "v" * i for i in range(50)})
    r.set("small", "1")
    r.expire("small", 1000, gt=True)  # no-op: not logged
    r.expire("small", 1000, nx=True)
    r.set("lazy", "l", px=30)
    time.sleep(0.06)
    assert r.get("lazy") is None  # expired: logged as DEL


@pytest.mark.parametrize("policy", ["everysec", "no"])
@pytest.mark.parametrize("how", ["shutdown", "sigterm"])
def test_clean_stop_keeps_every_write(pstart, policy, how) -> None:
    s = pstart("--appendonly", "yes", "--appendfsync", policy)
    exercise(s.client())
    before = keyspace(s)
    assert len(before) > 60
    assert (shutdown(s) if how == "shutdown" else s.stop(signal.SIGTERM)) == 0
    s2 = pstart("--appendonly", "yes", "--appendfsync", policy)
    assert keyspace(s2) == before
    info = s2.pinfo()
    assert info["loading_time_ms"] >= 0 and info["loading_loaded_bytes"] > 0
    assert info["rdb_last_load_keys_loaded"] == len(before)


def test_log_records_are_deterministic(pstart, tmp_path) -> None:
    s = pstart("--appendonly", "yes", "--appendfsync", "always")
    r = s.client()
    r.set("a", "1", ex=100)
    r.execute_command("SETEX", "b", 100, "2")
    r.expire("a", 200)
    r.set("c", "3")
    r.expire("c", -5)
    r.set("d", "4", px=20)
    time.sleep(0.05)
    assert r.get("d") is None
    log = (tmp_path / INCR1).read_bytes()
    assert b"PXAT" in log and b"PEXPIREAT" in log
    for relative in (b"$2\r\nEX\r\n", b"$5\r\nSETEX\r\n", b"$6\r\nEXPIRE\r\n"):
        assert relative not in log.upper(), relative
    assert log.count(b"*2\r\n$3\r\nDEL\r\n") == 2  # c (EXPIRE -5) and d (expired)


@pytest.mark.parametrize("policy", ["always", "everysec"])
def test_expiries_survive_as_absolute_times(pstart, policy) -> None:
    s = pstart("--appendonly", "yes", "--appendfsync", policy)
    r = s.client()
    r.set("short", "1", px=200)
    r.set("long", "2", ex=1000)
    r.execute_command("SETEX", "mid", 500, "3")
    r.set("plain", "4")
    expected = {k: r.pexpiretime(k) for k in ("long", "mid")}
    time.sleep(0.3)
    assert s.stop(signal.SIGTERM) == 0
    s2 = pstart("--appendonly", "yes", "--appendfsync", policy)
    r2 = s2.client()
    assert r2.exists("short") == 0
    assert {k: r2.pexpiretime(k) for k in ("long", "mid")} == expected
    assert 990_000 < r2.pttl("long") <= 1_000_000
    assert r2.ttl("plain") == -1


def test_replay_keeps_keys_whose_expiry_passed_while_loading(pstart) -> None:
    """SET k 5, PEXPIRE k, INCR k, restart after the expiry: Redis replays the PEXPIREAT
    without deleting k (keys do not expire while loading), INCR makes it 6 with its expiry
    kept, and the key is gone once loaded. Deleting at the PEXPIREAT made INCR recreate k
    as 1 with no expiry: a write resurrected by recovery."""
    s = pstart("--appendonly", "yes", "--appendfsync", "always")
    r = s.client()
    r.set("k", 5)
    r.pexpire("k", 300)
    assert r.incr("k") == 6
    assert s.stop(signal.SIGTERM) == 0
    time.sleep(0.4)
    r2 = pstart("--appendonly", "yes", "--appendfsync", "always").client()
    assert r2.get("k") is None and r2.ttl("k") == -2


@PLAIN
def test_bgrewriteaof_while_writing(pstart, tmp_path) -> None:
    s = pstart("--appendonly", "yes", "--appendfsync", "always", "--hz", "50")
    raw = s.raw()
    value = "h" * 200
    for i in range(0, 5000, 500):
        raw.send(b"".join(resp("SET", f"hot{j % 10}", f"{value}{i + j}") for j in range(500)))
        for _ in range(500):
            assert raw.reply() == b"+OK\r\n"
    raw.call("MSET", *[x for i in range(2000) for x in (f"cold{i}", str(i))])
    before = s.pinfo()["aof_current_size"]
    assert before > 5000 * 200
    acked: dict[str, str] = {}
    writer = Writer(s.port, "w", acked, seconds=20)
    writer.start()
    assert wait_for(lambda: writer.count > 50, 10)
    raw.send(resp("BGREWRITEAOF") + resp("BGREWRITEAOF") + resp("BGSAVE") +
             resp("BGSAVE", "SCHEDULE"))
    assert raw.reply() == b"+Background append only file rewriting started\r\n"
    assert raw.reply() == b"-ERR Background append only file rewriting already in progress\r\n"
    assert raw.reply().startswith(b"-ERR Another child process is active (AOF?)")
    assert raw.reply() == b"+Background saving scheduled\r\n"
    assert wait_for(lambda: s.pinfo()["aof_rewrites"] == 1, 20)
    count = writer.count
    assert wait_for(lambda: writer.count > count + 50, 10)  # writes go on after the rewrite
    writer.finish()
    assert wait_for(lambda: (tmp_path / "dump.kvs").exists() and
                    s.pinfo()["rdb_bgsave_in_progress"] == 0, 20)
    info = s.pinfo()
    assert info["aof_last_bgrewrite_status"] == "ok" and info["aof_rewrite_in_progress"] == 0
    assert info["aof_last_rewrite_time_ms"] >= 0 and info["aof_current_size"] < before // 4
    manifest = (tmp_path / MANIFEST).read_text()
    assert manifest == ("file appendonly.aof.2.base.kvs seq 2 type b\n"
                        "file appendonly.aof.2.incr.aof seq 2 type i\n")
    files = sorted(p.name for p in (tmp_path / AOF_DIR).iterdir())
    assert files == ["appendonly.aof.2.base.kvs", "appendonly.aof.2.incr.aof",
                     "appendonly.aof.manifest"]
    total = sum((tmp_path / AOF_DIR / f).stat().st_size for f in files[:2])
    assert total == info["aof_current_size"]
    s.stop(signal.SIGKILL)
    s2 = pstart("--appendonly", "yes", "--appendfsync", "always")
    check_acked(s2, acked, "after rewrite and SIGKILL")
    r2 = s2.client()
    assert r2.get("hot9") == f"{value}4999".encode() and r2.get("cold1999") == b"1999"


@PLAIN
def test_automatic_rewrite(pstart, tmp_path) -> None:
    s = pstart("--appendonly", "yes", "--auto-aof-rewrite-min-size", "64kb",
               "--auto-aof-rewrite-percentage", "100", "--hz", "50")
    raw = s.raw()
    raw.send(b"".join(resp("SET", f"k{i % 5}", "x" * 100) for i in range(3000)))
    for _ in range(3000):
        raw.reply()
    assert wait_for(lambda: s.pinfo()["aof_rewrites"] >= 1, 20)
    assert wait_for(lambda: s.pinfo()["aof_current_size"] < 64 * 1024, 20)
    assert "Starting automatic rewriting of AOF" in s.stderr()


def test_config_set_appendonly_at_runtime(pstart, tmp_path) -> None:
    s = pstart()
    r = s.client()
    r.set("x", "1")
    assert r.config_set("appendonly", "yes")
    assert s.pinfo()["aof_enabled"] == 1 and (tmp_path / MANIFEST).exists()
    r.set("y", "2")
    assert r.config_set("appendonly", "no")
    assert s.pinfo()["aof_enabled"] == 0
    r.set("z", "3")  # not logged
    assert s.stop(signal.SIGTERM) == 0
    s2 = pstart("--appendonly", "yes")
    assert s2.client().mget("x", "y", "z") == [b"1", b"2", None]


def test_appendonly_start_from_dump_file(pstart, tmp_path) -> None:
    s = pstart()
    r = s.client()
    r.mset({"a": "1", "b": "2"})
    r.set("t", "3", ex=1000)
    exp = r.pexpiretime("t")
    assert r.save()
    assert s.stop() == 0
    s2 = pstart("--appendonly", "yes")
    r2 = s2.client()
    assert r2.mget("a", "b", "t") == [b"1", b"2", b"3"] and r2.pexpiretime("t") == exp
    assert (tmp_path / MANIFEST).read_text().startswith("file appendonly.aof.1.base.kvs seq 1")
    r2.set("c", "4")
    assert s2.stop() == 0
    (tmp_path / "dump.kvs").unlink()
    s3 = pstart("--appendonly", "yes")
    assert s3.client().mget("a", "b", "c", "t") == [b"1", b"2", b"4", b"3"]


# ---------------------------------------------------------------------------------------
# Snapshots


def test_bgsave_save_lastsave_and_dump_load(pstart, tmp_path) -> None:
    s = pstart()
    r = s.client()
    r.mset({f"k{i}": f"v{i}" for i in range(100)})
    r.set("ttl", "t", ex=1000)
    r.set("bin\r\n", b"\x00\xff")
    exp = r.pexpiretime("ttl")
    raw = s.raw()
    assert raw.call("BGSAVE") == b"+Background saving started\r\n"
    assert wait_for(lambda: s.pinfo()["rdb_bgsave_in_progress"] == 0, 20)
    info = s.pinfo()
    assert info["rdb_last_bgsave_status"] == "ok" and info["rdb_changes_since_last_save"] == 0
    assert info["rdb_saves"] == 1 and info["rdb_last_bgsave_time_sec"] >= 0
    assert (tmp_path / "dump.kvs").read_bytes()[:6] == b"KVSNAP"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("temp-")]
    r.set("later", "not saved")
    assert s.pinfo()["rdb_changes_since_last_save"] == 1
    s.stop(signal.SIGKILL)
    s2 = pstart()
    r2 = s2.client()
    assert r2.dbsize() == 102 and r2.get("later") is None and r2.get("k42") == b"v42"
    assert r2.pexpiretime("ttl") == exp and r2.get("bin\r\n") == b"\x00\xff"
    info = s2.pinfo()
    assert info["loading_loaded_bytes"] == (tmp_path / "dump.kvs").stat().st_size
    assert info["rdb_last_load_keys_loaded"] == 102
    last = r2.lastsave()
    r2.set("more", "1")
    time.sleep(1.1)
    assert s2.raw().call("SAVE") == b"+OK\r\n"
    assert r2.lastsave() > last
    assert isinstance(s2.raw().value("LASTSAVE"), int)


def test_save_rules_and_shutdown(pstart, tmp_path) -> None:
    dump = tmp_path / "dump.kvs"
    s = pstart("--save", "1 1", "--hz", "50")
    r = s.client()
    assert r.config_get("save") == {"save": "1 1"}
    r.set("a", "1")
    assert wait_for(dump.exists, 10), "the save rule did not fire"
    assert "1 changes in 1 seconds. Saving..." in s.stderr()
    r.set("b", "2")
    assert shutdown(s) == 0  # save rules: saved at shutdown
    s2 = pstart("--save", "3600 1000")
    r2 = s2.client()
    assert r2.mget("a", "b") == [b"1", b"2"]
    r2.set("c", "3")
    assert shutdown(s2, "NOSAVE") == 0
    s3 = pstart("--save", "3600 1000")
    r3 = s3.client()
    assert r3.get("c") is None
    r3.set("d", "4")
    assert s3.stop(signal.SIGTERM) == 0  # SIGTERM saves too
    s4 = pstart()
    r4 = s4.client()
    assert r4.mget("a", "b", "c", "d") == [b"1", b"2", None, b"4"]
    r4.set("e", "5")
    assert shutdown(s4, "SAVE") == 0  # no rules, but SAVE asked
    assert pstart().client().get("e") == b"5"


# ---------------------------------------------------------------------------------------
# Corrupt files


def make_log(pstart, tmp_path: Path) -> tuple[Path, bytes, list[int]]:
    """A log of 40 known commands (k0..k39 = v0..v39), server stopped."""
    s = pstart("--appendonly", "yes", "--appendfsync", "always")
    raw = s.raw()
    for i in range(40):
        assert raw.call("SET", f"k{i}", f"v{i}") == b"+OK\r\n"
    assert s.stop() == 0
    path = tmp_path / INCR1
    data = path.read_bytes()
    offsets = command_offsets(data)
    assert len(offsets) == 40
    return path, data, offsets


def corrupt(kind: str, data: bytes, offsets: list[int]) -> tuple[bytes, int, str]:
    """(corrupted log, offset of the first bad command, expected text)."""
    if kind == "garbage":
        return data + b"xyz\r\n", len(data), \
            f"bad RESP at offset {len(data)} (expected '*', got 'x')"
    if kind == "flipped":
        at = offsets[25] + 4  # the '$' of the command's first bulk
        assert data[at:at + 1] == b"$"
        return data[:at] + b"%" + data[at + 1:], offsets[25], \
            f"bad RESP at offset {offsets[25]} (expected '$' at byte {at}, got '%')"
    assert kind == "truncated"
    return data[:offsets[-1] + 7], offsets[-1], f"truncated command at offset {offsets[-1]}"


@pytest.mark.parametrize("kind", ["garbage", "flipped", "truncated"])
def test_corrupt_log_refused_then_truncated(pstart, exe, pflavor, tmp_path, kind) -> None:
    path, data, offsets = make_log(pstart, tmp_path)
    bad, offset, text = corrupt(kind, data, offsets)
    path.write_bytes(bad)
    # a log cut inside its last command is what a crash leaves; Redis loads its prefix by
    # default (aof-load-truncated yes), which the truncated case turns off to see the refusal
    strict = ("--aof-load-truncated", "no") if kind == "truncated" else ()
    rc, err = refused_start(exe, tmp_path, "--appendonly", "yes", *strict,
                            sanitized=pflavor == "asan")
    assert rc == 1, err
    line = one_line(err)
    assert line.startswith(f"kvstore-server: {INCR1}: {text}"), line
    assert line.endswith("; start with --aof-truncate-corrupt yes to drop the tail from there")
    assert path.read_bytes() == bad  # nothing changed without the flag
    s = pstart("--appendonly", "yes", "--aof-truncate-corrupt", "yes")
    good = sum(1 for o in offsets if o < offset)
    assert s.client().dbsize() == good
    assert s.client().get(f"k{good - 1}") == f"v{good - 1}".encode()
    assert path.stat().st_size == offset
    assert f"truncated the file at offset {offset}, dropping {len(bad) - offset} bytes" \
        in s.stderr()
    s.client().set("new", "1")
    assert s.stop() == 0
    assert pstart("--appendonly", "yes").client().dbsize() == good + 1


def test_log_cut_inside_its_last_command_loads_its_prefix(pstart, tmp_path) -> None:
    """What SIGKILL during a write() leaves: the default (Redis's aof-load-truncated yes)
    drops the partial command, with a warning, and starts; garbage is still refused."""
    path, data, offsets = make_log(pstart, tmp_path)
    bad, offset, _ = corrupt("truncated", data, offsets)
    path.write_bytes(bad)
    s = pstart("--appendonly", "yes")
    assert s.client().dbsize() == len(offsets) - 1
    assert path.stat().st_size == offset
    assert "--aof-load-truncated yes (the last write before a crash was cut short): " \
        f"truncated the file at offset {offset}" in s.stderr()
    assert s.client().config_get("aof-load-truncated") == {"aof-load-truncated": "yes"}


@pytest.mark.parametrize("kind", ["unknown", "read-only", "failing"])
def test_log_with_foreign_commands_refused(pstart, exe, pflavor, tmp_path, kind) -> None:
    path, data, offsets = make_log(pstart, tmp_path)
    extra = {"unknown": resp("XSET", "a", "b"), "read-only": resp("GET", "k1"),
             "failing": resp("SET", "k1", "v", "EX", "0")}[kind]
    path.write_bytes(data + extra + resp("SET", "z", "1"))
    rc, err = refused_start(exe, tmp_path, "--appendonly", "yes",
                            sanitized=pflavor == "asan")
    line = one_line(err)
    assert rc == 1 and f"at offset {len(data)}" in line, line
    assert {"unknown": "unknown command 'XSET'", "read-only": "is not a write command",
            "failing": "failed: ERR invalid expire time"}[kind] in line


def test_corrupt_base_and_missing_files_refused(pstart, exe, pflavor, tmp_path) -> None:
    sanitized = pflavor == "asan"
    s = pstart("--appendonly", "yes")
    r = s.client()
    r.mset({f"k{i}": f"v{i}" for i in range(50)})
    assert r.bgrewriteaof()
    assert wait_for(lambda: s.pinfo()["aof_rewrites"] == 1, 20)
    assert s.stop() == 0
    base = tmp_path / AOF_DIR / "appendonly.aof.2.base.kvs"
    good = base.read_bytes()
    at = good.index(b"v25")
    variants = {
        "checksum mismatch": good[:at] + b"w" + good[at + 1:],
        "truncated": good[:len(good) // 2],
        'no "KVSNAP" magic at offset 0': b"XXSNAP" + good[6:],
    }
    for what, image in variants.items():
        base.write_bytes(image)
        rc, err = refused_start(exe, tmp_path, "--appendonly", "yes", "--aof-truncate-corrupt",
                                "yes", sanitized=sanitized)
        line = one_line(err)
        assert rc == 1 and line.startswith(f"kvstore-server: {AOF_DIR}/appendonly.aof.2.base.kvs:")
        assert what in line and "offset" in line, line
    base.write_bytes(good)
    incr = tmp_path / AOF_DIR / "appendonly.aof.2.incr.aof"
    incr.rename(tmp_path / "moved")
    rc, err = refused_start(exe, tmp_path, "--appendonly", "yes", sanitized=sanitized)
    assert rc == 1 and one_line(err) == (f"kvstore-server: {AOF_DIR}/appendonly.aof.2.incr.aof: "
                                         f"listed in {MANIFEST} but missing")
    (tmp_path / "moved").rename(incr)
    manifest = tmp_path / MANIFEST
    manifest.write_text(manifest.read_text() + "file ../../etc/passwd seq 9 type i\n")
    rc, err = refused_start(exe, tmp_path, "--appendonly", "yes", sanitized=sanitized)
    assert rc == 1 and one_line(err).startswith(f"kvstore-server: {MANIFEST}: line 3:")
    (tmp_path / "dump.kvs").write_bytes(b"KVSNAP\x01\x00\xff" + b"\x00" * 8)
    rc, err = refused_start(exe, tmp_path, sanitized=sanitized)
    assert rc == 1 and "dump.kvs: bad snapshot: checksum mismatch" in one_line(err)


@PLAIN
def test_check_aof(pstart, exe, tmp_path) -> None:
    path, data, offsets = make_log(pstart, tmp_path)

    def check(*args: str) -> tuple[int, list[str]]:
        proc = subprocess.run([str(exe), "--check-aof", *args], capture_output=True, text=True,
                              timeout=30, cwd=tmp_path)
        assert proc.stderr == ""
        return proc.returncode, proc.stdout.splitlines()

    assert check(MANIFEST) == (0, ["OK: 40 commands"])
    assert check(INCR1) == (0, ["OK: 40 commands"])
    assert check(str(tmp_path / MANIFEST)) == (0, ["OK: 40 commands"])
    base = f"{AOF_DIR}/appendonly.aof.1.base.kvs"
    assert check(base) == (0, ["OK: 0 keys"])
    bad, offset, text = corrupt("flipped", data, offsets)
    path.write_bytes(bad)
    rc, out = check(MANIFEST)
    assert rc == 1 and out == [f"{AOF_DIR}/appendonly.aof.1.incr.aof: {text}"]
    rc, out = check(MANIFEST, "--fix")
    assert rc == 0 and out == [f"{AOF_DIR}/appendonly.aof.1.incr.aof: {text}",
                               f"Truncating {INCR1} at offset {offset}: dropping "
                               f"{len(bad) - offset} bytes",
                               "OK: 25 commands"]
    assert path.read_bytes() == data[:offset]
    assert check(MANIFEST) == (0, ["OK: 25 commands"])
    s = pstart("--appendonly", "yes")
    assert s.client().dbsize() == 25
    assert s.stop() == 0
    (tmp_path / "x.kvs").write_bytes(b"KVSNAP\x01\x00\xff" + b"\x00" * 8)
    rc, out = check("x.kvs", "--fix")
    assert rc == 1 and len(out) == 1 and "checksum mismatch" in out[0]
    proc = subprocess.run([str(exe), "--check-aof"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "usage" in proc.stderr


# ---------------------------------------------------------------------------------------
# Write errors


def fsize_limit(limit: int):
    """preexec_fn: writes beyond LIMIT bytes fail with EFBIG (SIGXFSZ ignored)."""
    hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))

    return apply


@PLAIN
def test_write_error_gives_misconf_until_solved(pstart) -> None:
    s = pstart("--appendonly", "yes", "--appendfsync", "everysec", preexec=fsize_limit(20_000))
    raw = s.raw()
    acked = {}
    for i in range(200):
        reply = raw.call("SET", f"k{i}", "x" * 500)
        if reply != b"+OK\r\n":
            break
        acked[f"k{i}"] = "x" * 500
    assert reply == b"-MISCONF Errors writing to the AOF file: File too large\r\n", reply
    info = s.pinfo()
    assert info["aof_last_write_status"] == "err" and info["aof_buffer_length"] > 0
    assert raw.call("GET", "k0") == b"$500\r\n" + b"x" * 500 + b"\r\n"  # reads still work
    assert raw.call("PING").startswith(b"-MISCONF")  # as in Redis
    hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
    resource.prlimit(s.pid, resource.RLIMIT_FSIZE, (hard, hard))
    assert raw.call("GET", "nothing") == b"$-1\r\n"  # the batch end retries the write
    assert raw.call("SET", "after", "1") == b"+OK\r\n"
    assert s.pinfo()["aof_last_write_status"] == "ok"
    assert "AOF write error looks solved" in s.stderr()
    assert s.stop() == 0
    s2 = pstart("--appendonly", "yes")
    check_acked(s2, {**acked, "after": "1"}, "after the write error")


@PLAIN
def test_write_error_with_always_exits_without_acknowledging(pstart) -> None:
    s = pstart("--appendonly", "yes", "--appendfsync", "always", preexec=fsize_limit(20_000))
    raw = s.raw()
    acked = {}
    with pytest.raises((EOFError, OSError)):
        for i in range(200):
            assert raw.call("SET", f"k{i}", "y" * 500) == b"+OK\r\n"
            acked[f"k{i}"] = "y" * 500
    assert 0 < len(acked) < 200
    assert s.proc is not None and s.proc.wait(timeout=20) == 1
    assert "Can't recover from AOF write error" in s.stderr()
    s.stop()
    s2 = pstart("--appendonly", "yes")
    check_acked(s2, acked, "after the fatal write error")


# ---------------------------------------------------------------------------------------
# The in-process library


def lib_sources() -> list[Path]:
    """The kvlib sources, from the plugin's recipe globs."""
    from plugins.kvstore import KVLIB_SOURCES

    files: set[Path] = set()
    for pattern in KVLIB_SOURCES:
        files.update(SRC.glob(pattern))
    return sorted(files)


@pytest.fixture(scope="module")
def kvlib_so(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("kvlib") / "kvlib.so"
    proc = subprocess.run([CC, *BASE_FLAGS, "-shared", "-fPIC", "-Wl,--no-undefined", "-o",
                           str(out), *map(str, lib_sources()), "-lpthread"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def kv(kvlib_so: Path):
    ffi = cffi.FFI()
    header = (SRC / "kvlib.h").read_text()
    ffi.cdef("\n".join(line for line in header.splitlines()
                       if not line.lstrip().startswith("#")))
    lib = ffi.dlopen(str(kvlib_so))
    yield ffi, lib
    lib.kv_lib_fini()


class Lib:
    """Small Python wrappers over the cffi handle."""

    def __init__(self, handle) -> None:
        self.ffi, self.lib = handle
        self.out = self.ffi.new("const char **")
        self.outlen = self.ffi.new("size_t *")
        self.bad = self.ffi.new("size_t *")
        self.err = self.ffi.new("char[512]")

    def exec(self, data: bytes) -> tuple[int, bytes]:
        n = self.lib.kv_lib_exec(data, len(data), self.out, self.outlen)
        return n, bytes(self.ffi.buffer(self.out[0], self.outlen[0]))

    def call(self, *args: object) -> object:
        n, out = self.exec(resp(*args))
        assert n == 1
        return parse_reply(out)[0]

    def parse(self, data: bytes, max_bulk: int = 0) -> tuple[int, str]:
        n = self.lib.kv_lib_parse(data, len(data), max_bulk, self.err, 512)
        return n, self.ffi.string(self.err).decode() if n < 0 else ""

    def load(self, kind: int, data: bytes) -> tuple[int, int, str]:
        rc = self.lib.kv_lib_load(kind, data, len(data), self.bad, self.err, 512)
        return rc, self.bad[0], self.ffi.string(self.err).decode()

    def snapshot(self) -> bytes:
        assert self.lib.kv_lib_snapshot(self.out, self.outlen) == 0
        return bytes(self.ffi.buffer(self.out[0], self.outlen[0]))


def packed(keys: list[bytes]) -> bytes:
    return b"".join(struct.pack("<I", len(k)) + k for k in keys)


def test_kvlib_source_list_is_everything_but_the_network_layer() -> None:
    assert {p.name for p in lib_sources()} == \
        {p.name for p in SRC.glob("*.c")} - LIB_EXCLUDED


def test_kvlib_exec_and_parse(kv) -> None:
    k = Lib(kv)
    assert k.lib.kv_lib_init(1) == 0
    n, out = k.exec(resp("SET", "a", "1") + b"GET a\r\nINCR a\r\n" + resp("MGET", "a", "b") +
                    resp("SET", "t", "v", "PX", "100000") + resp("DBSIZE") + resp("NOSUCH"))
    assert n == 7
    assert out == (b"+OK\r\n$1\r\n1\r\n:2\r\n*2\r\n$1\r\n2\r\n$-1\r\n+OK\r\n:2\r\n"
                   b"-ERR unknown command 'NOSUCH', with args beginning with: \r\n")
    assert k.lib.kv_lib_dbsize() == 2
    n, out = k.exec(b"PING\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\n*1\r\n$x\r\nPING\r\n")
    assert n == -1 and out == b"+PONG\r\n$1\r\n2\r\n-ERR Protocol error: invalid bulk length\r\n"
    assert k.exec(b"PING\r\nQUIT\r\nPING\r\n") == (2, b"+PONG\r\n+OK\r\n")
    assert k.exec(b"PING\r\n*2\r\n$3\r\nGET") == (1, b"+PONG\r\n")  # the partial tail is dropped
    assert k.exec(b"") == (0, b"")
    for name in ("BGSAVE", "SAVE", "BGREWRITEAOF"):
        assert "persistence is not available in the in-process library" in str(k.call(name))
    assert b"appendonly" in k.exec(resp("CONFIG", "SET", "appendonly", "yes"))[1]
    assert k.call("CONFIG", "GET", "appendonly") == [b"appendonly", b"no"]
    assert k.parse(resp("SET", "a", "b") * 3 + b"PING\r\n*1\r\n") == (4, "")
    assert k.parse(b"*1\r\n$-3\r\n") == (-1, "Protocol error: invalid bulk length")
    assert k.parse(b"*1\r\n$10\r\n", max_bulk=5) == (-1, "Protocol error: invalid bulk length")
    assert k.parse(b"*1\r\n$10\r\n", max_bulk=10) == (0, "")
    assert k.parse(b'PING "abc\r\n') == (-1, "Protocol error: unbalanced quotes in request")
    k.lib.kv_lib_reset()
    assert k.lib.kv_lib_dbsize() == 0


def test_kvlib_snapshot_round_trip_and_corrupt_images(kv) -> None:
    k = Lib(kv)
    k.lib.kv_lib_init(2)
    k.exec(b"".join(resp("SET", f"k{i}", "v" * i) for i in range(300)) +
           resp("SET", b"bin\x00\r\n", b"\xff" * 1000, "EX", "1000") +
           resp("SET", "gone", "x", "PX", "1"))
    time.sleep(0.01)
    exp = k.call("PEXPIRETIME", b"bin\x00\r\n")
    image = k.snapshot()
    assert image[:8] == b"KVSNAP\x01\x00"
    k.lib.kv_lib_init(3)  # another seed: another table layout, same content
    assert k.load(1, image) == (0, len(image), "")
    assert k.lib.kv_lib_dbsize() == 301
    assert k.call("GET", "k299") == b"v" * 299 and k.call("PEXPIRETIME", b"bin\x00\r\n") == exp
    assert k.call("EXISTS", "gone") == 0
    flipped = bytearray(image)
    flipped[len(image) // 2] ^= 0x40
    rc, off, err = k.load(1, bytes(flipped))
    assert rc == -1 and f"at offset {off}" in err and k.lib.kv_lib_dbsize() == 0
    rc, off, err = k.load(1, image[:-3])
    assert (rc, off) == (-1, len(image) - 8) and "truncated checksum" in err
    rc, off, err = k.load(1, image + b"!")
    assert (rc, off) == (-1, len(image)) and "unexpected bytes after the checksum" in err
    assert k.load(1, b"")[:2] == (-1, 0)
    assert k.load(7, b"")[0] == -1
    rng = random.Random(5)
    for _ in range(300):  # no crash, no hang on damaged images
        data = bytearray(image[:rng.randrange(len(image) + 1)])
        for _ in range(rng.randrange(4)):
            if data:
                data[rng.randrange(len(data))] = rng.randrange(256)
        assert k.load(1, bytes(data))[0] in (0, -1)


def test_kvlib_log_load(kv) -> None:
    k = Lib(kv)
    k.lib.kv_lib_init(4)
    log = (resp("SET", "a", "1") + resp("SET", "b", "2", "PXAT", str(int(time.time() * 1000) +
                                                                       100_000))
           + resp("INCR", "a") + resp("SET", "old", "x", "PXAT", "1") + resp("DEL", "nosuch"))
    assert k.load(0, log) == (0, len(log), "")
    assert k.lib.kv_lib_dbsize() == 2 and k.call("GET", "a") == b"2"
    assert k.load(0, log + b"xyz") == (-1, len(log),
                                      f"bad RESP at offset {len(log)} (expected '*', got 'x')")
    assert k.lib.kv_lib_dbsize() == 2  # the valid prefix stays applied
    cut = len(resp("SET", "a", "1")) + 5
    rc, off, err = k.load(0, log[:cut])
    assert (rc, off) == (-1, len(resp("SET", "a", "1"))) and err.startswith("truncated command")
    rc, off, err = k.load(0, resp("SET", "a", "1") + resp("CONFIG", "SET", "hz", "100"))
    assert (rc, off) == (-1, len(resp("SET", "a", "1"))) and "not a write command" in err
    assert k.load(0, b"") == (0, 0, "")
    rng = random.Random(6)
    for _ in range(300):
        data = bytearray(log[:rng.randrange(len(log) + 1)])
        for _ in range(rng.randrange(3)):
            if data:
                data[rng.randrange(len(data))] = rng.choice(b"*$\r\n0123456789-x")
        rc, off, _ = k.load(0, bytes(data))
        assert rc in (0, -1) and 0 <= off <= len(data)


def test_kvlib_table(kv) -> None:
    k = Lib(kv)
    k.lib.kv_lib_init(5)
    keys = [b"key:%d" % i for i in range(5000)] + [b"", b"\x00\xff"]
    data = packed(keys)
    assert k.lib.kv_lib_table_fill(data, len(data), len(keys)) == len(keys)
    assert k.lib.kv_lib_table_fill(data, len(data), len(keys)) == 0  # all present
    assert k.lib.kv_lib_table_size() == len(keys)
    assert k.lib.kv_lib_table_lookup(data, len(data), len(keys)) == len(keys)
    other = packed([b"nope:%d" % i for i in range(100)] + keys[:10])
    assert k.lib.kv_lib_table_lookup(other, len(other), 110) == 10
    assert k.lib.kv_lib_table_fill(data, len(data) - 1, len(keys)) == -1
    assert k.lib.kv_lib_table_lookup(data, 3, 1) == -1
    k.lib.kv_lib_table_clear()
    assert k.lib.kv_lib_table_size() == 0 and k.lib.kv_lib_dbsize() == 0


@PLAIN
def test_kvlib_reads_what_the_server_writes(pstart, kv, tmp_path) -> None:
    s = pstart("--appendonly", "yes")
    exercise(s.client())
    state = keyspace(s)
    assert s.client().save()
    assert s.stop() == 0
    k = Lib(kv)
    k.lib.kv_lib_init(6)
    for kind, path in ((1, tmp_path / "dump.kvs"), (0, tmp_path / INCR1)):
        data = path.read_bytes()
        assert k.load(kind, data) == (0, len(data), "")
        assert k.lib.kv_lib_dbsize() == len(state)
        for key, (value, exp) in state.items():
            assert k.call("GET", key) == value and k.call("PEXPIRETIME", key) == exp


DRIVER = r"""
#include "kvlib.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long long rng = 88172645463325252ULL;
static unsigned next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)rng;
}

int main(void)
{
    const char *out;
    size_t n, bad;
    char err[256], img[65536], logbuf[4096];
    static const char req[] = "SET a 1\r\nSET b hello EX 100\r\nMSET c 1 d 2\r\nAPPEND c x\r\n"
                              "INCR d\r\nDEL a\r\nCONFIG SET hz 20\r\nINFO\r\n"
                              "COMMAND\r\nCLIENT LIST\r\nSCAN 0\r\nSHUTDOWN\r\nPING\r\n";
    kv_lib_init(7);
    if (kv_lib_exec(req, sizeof req - 1, &out, &n) != 12) return 1;
    for (int i = 0; i < 200; i++) {
        char k[32]; int kl = snprintf(k, sizeof k, "SET key%d %d\r\n", i, i * 7);
        kv_lib_exec(k, (size_t)kl, &out, &n);
    }
    kv_lib_snapshot(&out, &n);
    if (n > sizeof img) return 2;
    memcpy(img, out, n);
    size_t ilen = n;
    if (kv_lib_load(1, img, ilen, &bad, err, sizeof err) != 0) return 3;
    for (int i = 0; i < 3000; i++) {
        char tmp[65536];
        size_t len = next() % (ilen + 1);
        memcpy(tmp, img, len);
        for (int j = next() % 4; j > 0 && len; j--) tmp[next() % len] = (char)next();
        kv_lib_load(1, tmp, len, &bad, err, sizeof err);
    }
    size_t ll = 0;
    for (int i = 0; i < 40; i++)
        ll += (size_t)snprintf(logbuf + ll, sizeof logbuf - ll,
                               "*3\r\n$3\r\nSET\r\n$2\r\nk%d\r\n$1\r\n%d\r\n", i % 10, i % 10);
    if (kv_lib_load(0, logbuf, ll, &bad, err, sizeof err) != 0) return 4;
    for (int i = 0; i < 3000; i++) {
        char tmp[4096];
        size_t len = next() % (ll + 1);
        memcpy(tmp, logbuf, len);
        for (int j = next() % 3; j > 0 && len; j--) tmp[next() % len] = "*$\r\n019-x"[next() % 9];
        kv_lib_load(0, tmp, len, &bad, err, sizeof err);
        kv_lib_exec(tmp, len, &out, &n);
        kv_lib_parse(tmp, len, 16, err, sizeof err);
    }
    char packed[64];
    unsigned kl = 3;
    memcpy(packed, &kl, 4);
    memcpy(packed + 4, "abc", 3);
    if (kv_lib_table_fill(packed, 7, 1) != 1 || kv_lib_table_lookup(packed, 7, 1) != 1) return 5;
    if (kv_lib_table_fill(packed, 6, 1) != -1) return 6;
    kv_lib_reset();
    kv_lib_init(8);
    kv_lib_fini();
    puts("driver ok");
    return 0;
}
"""


def test_kvlib_under_asan_and_ubsan(tmp_path) -> None:
    driver = tmp_path / "driver.c"
    driver.write_text(DRIVER)
    exe_path = tmp_path / "driver"
    proc = subprocess.run([CC, *BASE_FLAGS, *SAN_FLAGS, f"-I{SRC}", "-o", str(exe_path),
                           str(driver), *map(str, lib_sources()), "-lpthread"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    run = subprocess.run([str(exe_path)], capture_output=True, text=True, timeout=120,
                         env={**os.environ, **SAN_ENV})
    assert run.returncode == 0 and run.stdout == "driver ok\n", (run.returncode, run.stderr[-4000:])
    assert not re.search(r"ERROR: (Address|Leak)Sanitizer|runtime error:", run.stderr)

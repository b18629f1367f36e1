"""The kvstore fuzz targets (plugins/kvstore/fuzzing/) without a fuzzer, plus one short real
fuzz run: every committed seed passes its target, oracle and invariants; the references agree
with Redis 7.0's rules and with redis-server itself (a setup without redis-server fails these
tests: the project's setup installs it); a planted wrong reply, count or keyspace is caught;
the fixed deviations of the C core from Redis 7.0 stay fixed (regression tests)."""

from __future__ import annotations

import dataclasses
import importlib.util
import random
import shutil
import socket
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import lab
from lab.fuzz.harness import InvariantViolation, Mismatch, input_function
from labtest import FLAVOR, ROOT, assert_fuzz_runs_clean
from plugins.kvstore import fuzzing
from plugins.kvstore.fuzzing import targets
from plugins.kvstore.fuzzing.formats import (
    ImageError,
    crc64,
    read_snapshot,
    replay_log,
    write_snapshot,
)
from plugins.kvstore.fuzzing.kvlib import Lib
from plugins.kvstore.fuzzing.model import Model
from plugins.kvstore.fuzzing.resp_ref import REDIS_7_0, parse_requests, split_args
from plugins.kvstore.fuzzing.scripts import Script, model_transcript, normalize
from plugins.kvstore.fuzzing.targets import LoadOutcome, RespOutcome
from plugins.kvstore.fuzzing.wire import (
    ReplyError,
    array_items,
    encode_inline,
    encode_multibulk,
    error,
    integer,
    split_replies,
)

CORPORA = ROOT / "corpora" / "kvstore"
TARGETS = {t.name: t for t in fuzzing.FUZZ_TARGETS}


def _seeds(target: str) -> list[Path]:
    return sorted(p for p in (CORPORA / target).iterdir() if p.name != "README.md")


@pytest.fixture(scope="module")
def system() -> lab.System:
    from lab.host import get_host

    return get_host().systems()["kvstore"]


@pytest.fixture(scope="module")
def ctx(system: lab.System) -> lab.LoadContext:
    from lab import native

    return lab.LoadContext(system, FLAVOR, build=lambda r: native.load(system, r, FLAVOR))


@pytest.fixture(scope="module")
def kv(ctx: lab.LoadContext) -> Lib:
    return Lib(ctx)


def _one(system: lab.System, target: lab.FuzzTarget) -> Callable[[bytes], None]:
    return input_function(system, target, FLAVOR)


def _provider(data: bytes) -> Any:
    import atheris

    return atheris.FuzzedDataProvider(data)


# ----------------------------------------------------------------------- declarations


def test_targets_are_declared_and_valid(system: lab.System) -> None:
    from lab.model import validate_system

    assert [t.name for t in system.fuzz_targets] == ["resp", "aof_load", "commands"]
    assert "fuzz" in system.offers and validate_system(system) == []
    assert system.recipe("kvlib").kind == "cffi"
    total = 0
    for t in fuzzing.FUZZ_TARGETS:
        assert t.recipe == "kvlib" and t.oracle is not None
        assert (CORPORA / t.name / "README.md").is_file() and len(_seeds(t.name)) >= 8
        readme = (CORPORA / t.name / "README.md").read_text()
        assert all(f"`{p.name}`" in readme for p in _seeds(t.name))
        total += sum(p.stat().st_size for p in (CORPORA / t.name).iterdir())
    assert total < 200_000
    assert TARGETS["commands"].structured


def test_seed_script_reproduces_the_seeds(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("kv_make_seeds", CORPORA / "make_seeds.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write(tmp_path)
    for target in TARGETS:
        made = sorted(p.name for p in (tmp_path / target).iterdir())
        assert made == sorted(p.name for p in (CORPORA / target).iterdir())
        for name in made:
            assert (tmp_path / target / name).read_bytes() == \
                (CORPORA / target / name).read_bytes(), f"{target}/{name} is stale"


# ----------------------------------------------------------------------- seeds


@pytest.mark.parametrize("target", list(TARGETS))
def test_every_seed_passes_its_target(system: lab.System, target: str) -> None:
    """Target, oracle and invariants agree on every committed seed (no finding)."""
    one = _one(system, TARGETS[target])
    for seed in _seeds(target):
        one(seed.read_bytes())


RESP_EXPECTED = {  # seed -> (count with the default bulk limit, protocol error or None)
    "ping_inline.bin": (1, None),
    "pipeline_mixed.bin": (4, None),
    "inline_quoting.bin": (3, None),
    "inline_unbalanced.bin": (-1, b"Protocol error: unbalanced quotes in request"),
    "bulk_17.bin": (1, None),
    "expected_dollar.bin": (-1, b"Protocol error: expected '$', got ':'"),
    "unchecked_crlf.bin": (2, None),
    "incomplete_tail.bin": (1, None),
}


def test_resp_seeds_give_the_expected_counts(ctx: lab.LoadContext) -> None:
    resp = TARGETS["resp"].load(ctx)
    for name, expected in RESP_EXPECTED.items():
        out = resp((CORPORA / "resp" / name).read_bytes())
        assert out.default == expected, name
    small = resp((CORPORA / "resp" / "bulk_17.bin").read_bytes()).small
    assert small == (-1, b"Protocol error: invalid bulk length")


AOF_REJECTED = {"log_truncated.bin", "log_read_command.bin", "log_failing_command.bin",
                "log_inline.bin", "log_bad_crlf.bin", "snap_bad_crc.bin", "snap_truncated.bin",
                "snap_trailing_byte.bin", "snap_repeated_key.bin", "snap_bad_version.bin",
                "snap_unknown_tag.bin"}


def test_aof_load_seeds_get_the_expected_verdicts(ctx: lab.LoadContext) -> None:
    load = TARGETS["aof_load"].load(ctx)
    outcomes = {p.name: load(p.read_bytes()) for p in _seeds("aof_load")}
    for name, out in outcomes.items():
        assert out.accepted == (name not in AOF_REJECTED), (name, out)
    assert len(outcomes["snap_kvlib.bin"].keyspace) == 24
    assert outcomes["snap_expired_key.bin"].keyspace == {b"new": (b"y", None)}
    log = (CORPORA / "aof_load" / "log_server.bin").read_bytes()[1:]
    assert outcomes["log_truncated.bin"].offset == log.rindex(b"*")  # the last command
    server = outcomes["log_server.bin"].keyspace
    assert server[b"counter"] == (b"40", None) and server[b"timed"] == (b"kept", 4102444800000)
    assert b"gone" not in server and b"m2" not in server and server[b"m1"] == (b"1", None)


def test_commands_seeds_cover_the_command_set() -> None:
    names = set()
    for seed in _seeds("commands"):
        script = Script.build(_provider(seed.read_bytes()))
        names |= {a[0].lower() for a in script.commands()}
    assert {b"set", b"get", b"incrby", b"decrby", b"expire", b"pexpire", b"mset", b"mget",
            b"keys", b"ttl", b"persist", b"flushall", b"getdel", b"getset", b"setnx",
            b"append", b"strlen", b"dbsize", b"exists", b"del"} <= names


# ----------------------------------------------------------------------- planted faults


def _with_oracle(target: lab.FuzzTarget, oracle: Callable[[Any], Any]) -> lab.FuzzTarget:
    return dataclasses.replace(target, oracle=lambda ctx: oracle)


def test_a_wrong_model_reply_is_reported(system: lab.System) -> None:
    """The same seed passes with the real model and is a mismatch once INCR answers one more."""
    class OffByOne(Model):
        def incr(self, a: list[bytes]) -> bytes:
            reply = super().incr(a)
            return integer(int(reply[1:-2]) + 1) if reply[:1] == b":" else reply

    def broken(fdp: Any) -> tuple[bytes, ...]:
        model = OffByOne()
        script = Script.build(fdp)
        return tuple(normalize(a, model.execute(a)) for a in script.commands())

    seed = next(p.read_bytes() for p in _seeds("commands")
                if b"incr" in {a[0].lower() for a in
                               Script.build(_provider(p.read_bytes())).commands()})
    _one(system, TARGETS["commands"])(seed)
    with pytest.raises(Mismatch, match="outputs differ"):
        _one(system, _with_oracle(TARGETS["commands"], broken))(seed)


def test_a_wrong_request_count_is_reported(system: lab.System) -> None:
    def one_more(data: bytes) -> RespOutcome:
        ref = targets._reference_counts(data)
        return dataclasses.replace(ref, default=(ref.default[0] + 1, ref.default[1]))

    with pytest.raises(Mismatch):
        _one(system, _with_oracle(TARGETS["resp"], one_more))(b"PING\r\nPING\r\n")


def test_a_wrong_keyspace_or_offset_is_reported(system: lab.System) -> None:
    reference = targets._oracle_aof(None)  # type: ignore[arg-type]

    def lossy(data: bytes) -> LoadOutcome:
        out = reference(data)
        if out.accepted and out.keyspace:
            return dataclasses.replace(out, keyspace=dict(list(out.keyspace.items())[1:]))
        return dataclasses.replace(out, offset=(out.offset or 0) + 1)

    broken = _with_oracle(TARGETS["aof_load"], lossy)
    for seed in ("log_server.bin", "snap_kvlib.bin", "log_truncated.bin"):
        with pytest.raises(Mismatch):
            _one(system, broken)((CORPORA / "aof_load" / seed).read_bytes())


def test_invariants_fire_on_broken_outcomes() -> None:
    ks = {b"k": (b"v", None)}
    with pytest.raises(AssertionError):
        targets.offset_within_input(b"", LoadOutcome(0, False, offset=11, size=10))
    with pytest.raises(AssertionError):
        targets.snapshot_reloads(b"", LoadOutcome(1, True, ks, reloaded={}))
    with pytest.raises(AssertionError):
        targets.snapshot_reloads(b"", LoadOutcome(1, True, ks, snapshot_error="bad magic"))
    data = b"PING\r\nPING\r\n"
    good = RespOutcome((2, None), (2, None), 2, b"+PONG\r\n+PONG\r\n")
    targets.exec_replies_framed(data, good)
    for bad in (dataclasses.replace(good, exec_out=b"+PONG\r\n"),
                dataclasses.replace(good, exec_out=b"+PONG\r\n$5\r\nPONG\r\n"),
                dataclasses.replace(good, exec_rc=1),
                dataclasses.replace(good, exec_rc=-1)):
        with pytest.raises(AssertionError):
            targets.exec_replies_framed(data, bad)


def test_invariant_violation_surfaces_through_the_harness(system: lab.System) -> None:
    def never(data: bytes, out: Any) -> None:
        raise AssertionError("planted")

    target = dataclasses.replace(TARGETS["aof_load"], invariants=(never,))
    with pytest.raises(InvariantViolation, match="never: planted"):
        _one(system, target)((CORPORA / "aof_load" / "snap_empty.bin").read_bytes())


# ----------------------------------------------------------------------- references


PARSER_CASES = {  # input -> (commands, error) under Redis 7.0's rules (checked on 7.0.15)
    b"*2147483648\r\n": (0, b"Protocol error: invalid multibulk length"),
    b"*1048577\r\n": (0, None),
    b"*1\r\n$4\r\nPING\r\n*1\x00\r\n": (1, None),
    b"PING\x00x\nPING\n": (0, None),
    b"*1\r\n$4\r\nPING\rX*0\r\n*-5\r\nPING\r\n": (2, None),
    b"*+1\r\n$4\r\nPING\r\n": (0, b"Protocol error: invalid multibulk length"),
    b"*-0\r\n": (0, b"Protocol error: invalid multibulk length"),
    b"*1\r\n$04\r\nPING\r\n": (0, b"Protocol error: invalid bulk length"),
    b"*1\r\n$4\r\nPINGxx": (1, None),
    b"\r\n\r\n  \nPING\n": (1, None),
    b'PING "a"b\n': (0, b"Protocol error: unbalanced quotes in request"),
    b"*" + b"1" * 70000: (0, b"Protocol error: too big mbulk count string"),
    b"*1\r\n$" + b"1" * 70000: (0, b"Protocol error: too big bulk count string"),
    # fixed in kvlib (it used to cap counts at 1M and find line ends past a NUL):
    b"*2147483647\r\n": (0, None),
    b"*1\r\n$4\x00\r\nPING\r\n": (0, None),
    b"PING\r\nPING\x00\r\n": (1, None),
    b"PING\x00" + b"a" * 70000 + b"\n": (0, b"Protocol error: too big inline request"),
    b"*1\x00" + b"1" * 70000 + b"\r\n": (0, b"Protocol error: too big mbulk count string"),
    b"*1\r\n$1\x00" + b"1" * 70000 + b"\r\n": (0, b"Protocol error: too big bulk count string"),
}


@pytest.mark.parametrize("data", list(PARSER_CASES), ids=lambda d: repr(d[:24]))
def test_reference_parser_follows_redis_7_0(data: bytes) -> None:
    parsed = parse_requests(data, REDIS_7_0)
    assert (len(parsed.commands), parsed.error) == PARSER_CASES[data]


def test_split_args_follows_sdssplitargs() -> None:
    split = split_args
    assert split(b'ECHO "\\x41\\x4g"') == [b"ECHO", b"Ax4g"]
    assert split(b"ECHO 'a\\'b' ") == [b"ECHO", b"a'b"]
    assert split(b'a"b c"d') is None and split(b'a"b c" d') == [b"ab c", b"d"]
    assert split(b'"unterminated') is None and split(b"   ") == []
    assert split(b"a\x00b c") == [b"a"]  # a C string
    rng = random.Random(5)
    for _ in range(200):
        args = [rng.randbytes(rng.randrange(0, 6)) for _ in range(rng.randrange(1, 5))]
        assert split(encode_inline(args)[:-2]) == args


def test_snapshot_reader_and_writer_round_trip() -> None:
    entries = [(b"a", b"1", None), (b"", b"\x00" * 200, 4102444800000), (b"k" * 130, b"", None)]
    image = write_snapshot(entries)
    assert read_snapshot(image) == {k: (v, e) for k, v, e in entries}
    assert crc64(b"123456789") == 0x995DC9BBDF1939FA
    for cut in range(len(image)):
        with pytest.raises(ImageError):
            read_snapshot(image[:cut])


def test_log_replay_reference() -> None:
    log = (encode_multibulk([b"SET", b"k", b"5"]) + encode_multibulk([b"INCRBY", b"k", b"2"])
           + encode_multibulk([b"SET", b"t", b"x", b"PXAT", b"4102444800000"]))
    keyspace, count = replay_log(log)
    assert count == 3 and keyspace == {b"k": (b"7", None), b"t": (b"x", 4102444800000)}
    bad = log + encode_multibulk([b"INCR", b"t"])
    with pytest.raises(ImageError) as err:
        replay_log(bad)
    assert err.value.offset == len(log)


# ----------------------------------------------------------------------- fixed deviations
# Regression tests: the C core used to differ from Redis 7.0 in each of these (the oracles
# tolerated it); now it follows Redis and the oracles hold it to that.  The same cases are
# checked against redis-server itself further down.


@pytest.mark.parametrize("data", list(PARSER_CASES), ids=lambda d: repr(d[:24]))
def test_kvlib_parser_follows_redis_7_0(kv: Lib, data: bytes) -> None:
    """Multibulk counts up to INT_MAX; a NUL before a line end hides it (``strchr``), in count,
    bulk-length and inline lines alike; and the rest of :data:`PARSER_CASES`."""
    count, err = PARSER_CASES[data]
    assert kv.parse(data, 0) == ((-1, err) if err is not None else (count, None))


def test_kvlib_executes_what_redis_7_0_parses(kv: Lib) -> None:
    kv.lib.kv_lib_reset()
    assert kv.exec(b"*1048577\r\n") == (0, b"")
    assert kv.exec(b"PING\r\nPING\x00\r\n") == (1, b"+PONG\r\n")
    assert kv.exec(b"*1\r\n$4\r\nPING\r\n*1\x00\r\n") == (1, b"+PONG\r\n")
    assert kv.exec(b"PING\x00x\nPING\n") == (0, b"")


FIXED_REPLIES: dict[str, tuple[tuple[tuple[bytes, ...], bytes], ...]] = {
    # name -> ((command, Redis 7.0's reply), ...) from an empty keyspace
    "error text trimmed": (
        ((b"SET", b"k", b"v"), b"+OK\r\n"),
        ((b"EXPIRE", b"k", b"100000", b"\r\n"), b"-ERR Unsupported option \r\n"),
        ((b"EXPIRE", b"k", b"100000", b"NX\n"), b"-ERR Unsupported option NX\r\n"),
        ((b"EXPIRE", b"k", b"100000", b"a\r\nb\r"), b"-ERR Unsupported option a  b\r\n"),
        ((b"NOSUCH", b"a\r\n"),
         b"-ERR unknown command 'NOSUCH', with args beginning with: 'a  ' \r\n"),
    ),
    "SET options as C strings": (
        ((b"SET", b"k", b"v", b"PX\x00T", b"100000"), b"+OK\r\n"),
        ((b"TTL", b"k"), b":100\r\n"),
        ((b"SET", b"k", b"w", b"nx\x00"), b"$-1\r\n"),
        ((b"SET", b"k", b"w", b"XX\x00zz", b"GET\x00", b"KEEPTTL\x00"), b"$1\r\nv\r\n"),
        ((b"TTL", b"k"), b":100\r\n"),
        ((b"SET", b"n", b"1", b"EX", b"100\x00"),
         b"-ERR value is not an integer or out of range\r\n"),
        ((b"SET", b"n", b"1", b"PXAT\x00", b"4102444800000"), b"+OK\r\n"),
        ((b"SET", b"n", b"1", b"P\x00X", b"1"), b"-ERR syntax error\r\n"),
    ),
    "EXPIRE and FLUSHALL options as C strings": (
        ((b"SET", b"k", b"v"), b"+OK\r\n"),
        ((b"EXPIRE", b"k", b"100", b"NX\x00junk"), b":1\r\n"),
        ((b"EXPIRE", b"k", b"200", b"xx\x00"), b":1\r\n"),
        ((b"EXPIRE", b"k", b"300", b"GT\x00"), b":1\r\n"),
        ((b"EXPIRE", b"k", b"100", b"lt\x00", b"XX\x00"), b":1\r\n"),
        ((b"TTL", b"k"), b":100\r\n"),
        ((b"EXPIRE", b"k", b"100", b"N\x00X"), b"-ERR Unsupported option N\r\n"),
        ((b"FLUSHALL", b"SYNC\x00x"), b"+OK\r\n"),
        ((b"FLUSHALL", b"async\x00"), b"+OK\r\n"),
        ((b"FLUSHALL", b"SYNCx"), b"-ERR syntax error\r\n"),
    ),
}


@pytest.mark.parametrize("case", list(FIXED_REPLIES))
def test_kvlib_and_model_reply_like_redis_7_0(kv: Lib, case: str) -> None:
    commands = [list(c) for c, _ in FIXED_REPLIES[case]]
    expected = [r for _, r in FIXED_REPLIES[case]]
    model = Model()
    assert [model.execute(c) for c in commands] == expected
    kv.lib.kv_lib_reset()
    rc, out = kv.exec(b"".join(encode_multibulk(c) for c in commands))
    assert rc == len(commands) and split_replies(out) == expected


Y2100 = 4102444800000
FIXED_LOG = b"".join(encode_multibulk(c) for c in (
    [b"SET", b"k", b"5"], [b"PEXPIREAT", b"k", b"1000"], [b"INCR", b"k"], [b"PERSIST", b"k"],
    [b"SET", b"gone", b"x"], [b"EXPIRE", b"gone", b"-1"], [b"APPEND", b"gone", b"y"],
    [b"SET", b"keep", b"1", b"PXAT\x00junk", b"%d" % Y2100]))
FIXED_KEYSPACE = {b"k": (b"6", None), b"keep": (b"1", Y2100)}
"""Redis 7.0 replaying ``FIXED_LOG``: while loading, an expiry in the past is stored and the
key stays (INCR gives 6, PERSIST keeps it; ``gone`` is dropped after the load), and option
words compare as C strings."""


def test_kvlib_replays_a_past_expiry_like_redis_7_0(kv: Lib) -> None:
    assert replay_log(FIXED_LOG) == (FIXED_KEYSPACE, 8)
    assert kv.load(0, FIXED_LOG)[0]
    assert read_snapshot(kv.snapshot()) == FIXED_KEYSPACE
    seed = (CORPORA / "aof_load" / "log_loading_expiry.bin").read_bytes()[1:]
    assert replay_log(seed)[0] == {b"keep": (b"1", Y2100)}
    assert kv.load(0, seed)[0]
    assert read_snapshot(kv.snapshot()) == {b"keep": (b"1", Y2100)}


def test_line_limits_agree_with_the_reference(kv: Lib) -> None:
    """The 64 KiB limits, out of the fuzzer's reach (its seeds stay small)."""
    for data in (b"PING " + b"a" * (64 << 10), b"PING " + b"a" * ((64 << 10) - 6),
                 b"*" + b"1" * 70000, b"*1\r\n$" + b"1" * 70000,
                 b"ECHO " + b"b" * 65530 + b"\r\n"):
        assert targets._reference_counts(data).default == kv.parse(data, 0), len(data)


# ----------------------------------------------------------------------- against redis-server


def _require_redis_server() -> None:
    """redis-server is part of the project's setup: its absence is a broken setup, which
    these tests report as a failure rather than skip."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed, but the project's setup installs it and "
                    "the references are checked against it: install it (apt-get install "
                    "redis-server) or rerun the setup", pytrace=False)


@pytest.fixture(scope="module")
def redis_port() -> Iterator[int]:
    from plugins.kvstore import servers

    _require_redis_server()
    server = servers.start_redis()
    try:
        yield server.port
    finally:
        server.close()


def _exchange(port: int, data: bytes, wait: float = 0.3) -> tuple[bytes, bool]:
    """Send ``data`` on a fresh connection; (every reply byte, whether the server closed)."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(data)
        s.settimeout(wait)
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except TimeoutError:
            return out, False
    return out, True


def _replies(s: socket.socket, commands: list[bytes]) -> list[bytes]:
    """Send the encoded ``commands`` on ``s`` and read one reply for each."""
    s.sendall(b"".join(commands))
    buf, replies = b"", []
    while len(replies) < len(commands):
        chunk = s.recv(65536)
        assert chunk, "redis-server closed the connection"
        buf += chunk
        try:
            replies = split_replies(buf)
        except ReplyError:
            replies = []
    return replies


def test_reference_parser_agrees_with_redis_server(redis_port: int) -> None:
    for data, (count, err) in PARSER_CASES.items():
        out, closed = _exchange(redis_port, data)
        replies = split_replies(out)
        assert len(replies) == count + (err is not None) and closed == (err is not None), data
        if err is not None:
            assert replies[-1] == error(err)


def test_model_agrees_with_redis_server(redis_port: int) -> None:
    """Random scripts (the fuzz target's own generator on seeded bytes) replayed on
    redis-server give the model's replies byte for byte (KEYS sorted)."""
    rng = random.Random(70)
    with socket.create_connection(("127.0.0.1", redis_port), timeout=10) as s:
        for _ in range(60):
            script = Script.build(_provider(rng.randbytes(rng.randrange(100, 800))))
            commands = [encode_multibulk([b"FLUSHALL"])] + [
                encode_multibulk(a) for a in script.commands()]
            replies = _replies(s, commands)
            got = tuple(normalize(a, r) for a, r in zip(script.commands(), replies[1:],
                                                        strict=True))
            assert got == model_transcript(script)


def test_fixed_replies_are_redis_servers(redis_port: int) -> None:
    """The expected replies of :data:`FIXED_REPLIES` are redis-server's own."""
    with socket.create_connection(("127.0.0.1", redis_port), timeout=10) as s:
        for case, steps in FIXED_REPLIES.items():
            commands = [encode_multibulk([b"FLUSHALL"])] + [encode_multibulk(c) for c, _ in steps]
            assert _replies(s, commands)[1:] == [r for _, r in steps], case


def test_fixed_log_replays_on_redis_server_as_on_kvlib() -> None:
    """redis-server started on :data:`FIXED_LOG` (as an old-style ``appendonly.aof``, which
    7.0 migrates and loads) holds :data:`FIXED_KEYSPACE` (``PEXPIRETIME``: absolute ms)."""
    from plugins.kvstore import servers

    _require_redis_server()
    server = servers.redis(("--appendonly", "yes"))
    (server.workdir / "appendonly.aof").write_bytes(FIXED_LOG)
    server.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            [keys] = _replies(s, [encode_multibulk([b"KEYS", b"*"])])
            names = [item[item.index(b"\r\n") + 2:-2] for item in array_items(keys)]
            got = {}
            for key in names:
                value, when = _replies(s, [encode_multibulk([b"GET", key]),
                                           encode_multibulk([b"PEXPIRETIME", key])])
                expiry = int(when[1:-2])
                got[key] = (value[value.index(b"\r\n") + 2:-2], None if expiry == -1 else expiry)
    finally:
        server.close()
    assert got == FIXED_KEYSPACE


# ----------------------------------------------------------------------- the real fuzzer


def test_lab_fuzz_runs_every_target_cleanly(run_lab, lab_env) -> None:  # noqa: ANN001
    assert_fuzz_runs_clean(run_lab, "kvstore", set(TARGETS), timeout=300)


def test_explain_names_the_first_differing_command(ctx: lab.LoadContext,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    seed = _seeds("commands")[0].read_bytes()
    assert targets.explain(seed, ctx) == "no difference"
    monkeypatch.setattr(Model, "strlen", lambda self, a: b"-ERR planted\r\n")
    text = targets.explain(seed, ctx)
    assert text.startswith("command ") and "B'STRLEN'" in text.upper(), text
    assert "model: b'-ERR planted" in text, text


def test_aof_input_kind_byte_and_crc_fix_up() -> None:
    image = write_snapshot([(b"a", b"b", None)])
    assert targets.aof_input(b"\x00abc") == (0, b"abc")
    assert targets.aof_input(b"\x01" + image) == (1, image)
    assert targets.aof_input(b"\x03" + image[:-8] + bytes(8)) == (1, image)
    assert targets.aof_input(b"\x02" + image[:-8] + bytes(8))[1].endswith(bytes(8))  # logs as is
    with pytest.raises(lab.Reject):
        targets.aof_input(b"")
    assert struct.unpack("<Q", image[-8:])[0] == crc64(image[:-8])

"""Compatibility by differential test: the same random command sequences go through redis-py
to our server and to redis-server, and every reply must be identical, errors included; TTLs
are compared within a time tolerance, KEYS as a set."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
import redis  # installed by `make setup` (the kvstore plugin declares it)

SEQUENCES = 30
COMMANDS = 150
KEYS = [b"k%d" % i for i in range(8)]
INTS = [0, 1, -1, 41, 2**63 - 2, 2**63 - 1, -(2**63), 10**19, "x", "1.5", " 1"]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    import os

    from lab import native
    from lab.host import get_host, reset_host
    from plugins.kvstore import servers as srv

    os.environ.setdefault("LAB_CACHE", str(tmp_path_factory.mktemp("cache")))
    reset_host()
    system = get_host().systems()["kvstore"]
    ours = srv.start_ours(native.build(system, "kvstore-server", "release").path
                          / "kvstore-server")
    theirs = srv.start_redis()
    try:
        yield ours, theirs
    finally:
        ours.close()
        theirs.close()


def _value(rng: random.Random) -> Any:
    return rng.choice([b"v", b"hello", b"", b"12", b"-7", b"x" * 100, rng.choice(INTS)])


def _set(rng: random.Random) -> list[Any]:
    args: list[Any] = ["SET", rng.choice(KEYS), _value(rng)]
    for _ in range(rng.randrange(3)):
        opt = rng.choice(["EX", "PX", "NX", "XX", "KEEPTTL", "GET", "EX-bad"])
        if opt == "EX":
            args += ["EX", rng.choice([1, 100, 0, -5])]
        elif opt == "PX":
            args += ["PX", rng.choice([5000, 100000, 0])]
        elif opt == "EX-bad":
            args += ["EX", "soon"]
        else:
            args.append(opt)
    return args


def _command(rng: random.Random) -> list[Any]:
    k = rng.choice(KEYS)
    choices = [
        lambda: _set(rng),
        lambda: ["GET", k],
        lambda: ["DEL", *rng.sample(KEYS, rng.randrange(1, 4))],
        lambda: ["EXISTS", *rng.choices(KEYS, k=rng.randrange(1, 4))],
        lambda: [rng.choice(["INCR", "DECR"]), k],
        lambda: [rng.choice(["INCRBY", "DECRBY"]), k, rng.choice(INTS)],
        lambda: ["MGET", *rng.sample(KEYS, 3)],
        lambda: ["MSET", *[x for key in rng.sample(KEYS, 2) for x in (key, _value(rng))]],
        lambda: [rng.choice(["EXPIRE", "PEXPIRE"]), k, rng.choice([100, 100000, 0, -1, "x"])],
        lambda: [rng.choice(["TTL", "PTTL"]), k],
        lambda: ["PERSIST", k],
        lambda: ["DBSIZE"],
        lambda: ["KEYS", rng.choice(["*", "k[0-3]", "k?", "nomatch*", "k\\*"])],
        lambda: ["ECHO", _value(rng)],
        lambda: ["PING"],
        lambda: ["GET"],                      # wrong arity
        lambda: ["SET", k],                   # wrong arity
        lambda: ["NOSUCHCOMMAND", k, "a"],    # unknown command
        lambda: ["SELECT", rng.choice([0, 1, "x"])],  # both run with one database
    ]
    return rng.choice(choices)()


def _reply(client: Any, args: list[Any]) -> Any:
    try:
        out = client.execute_command(*args)
    except redis.ResponseError as exc:
        return ("error", str(exc))
    if args[0] == "KEYS":
        return ("keys", sorted(out))
    return out


def _same(cmd: str, ours: Any, theirs: Any) -> bool:
    if cmd in ("TTL", "PTTL") and isinstance(ours, int) and isinstance(theirs, int):
        if ours < 0 or theirs < 0:
            return ours == theirs
        return abs(ours - theirs) <= (1 if cmd == "TTL" else 200)
    return ours == theirs


@pytest.mark.parametrize("seed", range(SEQUENCES))
def test_random_sequences_get_identical_replies(servers: tuple[Any, Any], seed: int) -> None:
    ours, theirs = servers
    a = redis.Redis(port=ours.port, protocol=2, socket_timeout=10)
    b = redis.Redis(port=theirs.port, protocol=2, socket_timeout=10)
    a.flushall()
    b.flushall()
    rng = random.Random(seed)
    for i in range(COMMANDS):
        args = _command(rng)
        got, want = _reply(a, args), _reply(b, args)
        assert _same(str(args[0]), got, want), (f"command {i} of sequence {seed}: {args!r}: "
                                                f"ours {got!r}, redis {want!r}")
    assert sorted(a.keys("*")) == sorted(b.keys("*"))
    a.close()
    b.close()


def test_expiry_matches_within_tolerance(servers: tuple[Any, Any]) -> None:
    import time

    ours, theirs = servers
    clients = [redis.Redis(port=s.port, protocol=2, socket_timeout=10) for s in servers]
    for c in clients:
        c.flushall()
        c.set("short", "v", px=150)
        c.set("long", "v", ex=100)
        c.set("plain", "v")
    time.sleep(0.4)
    for c in clients:
        assert c.get("short") is None and c.exists("short") == 0
        assert 98 <= c.ttl("long") <= 100 and c.ttl("plain") == -1 and c.ttl("short") == -2
        for i in range(200):
            c.set(f"e{i}", "v", px=100)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(c.dbsize() > 2 for c in clients):
        time.sleep(0.1)  # active expiry removes keys nobody touches
    assert [c.dbsize() for c in clients] == [2, 2]

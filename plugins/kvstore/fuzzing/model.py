"""The command model: Redis 7.0's string and keyspace commands over a Python dict.

Contract: :class:`Model` ``.execute(args)`` runs one command (``args[0]`` its name, any case)
and returns the exact RESP2 reply bytes redis-server 7.0 sends for it, error texts included
(unknown commands and wrong arities as ``processCommand`` rejects them, option words compared
as C strings, formatted errors trimmed like ``addReplyErrorFormat``).  ``Model(loading=True)``
is a server replaying its log: keys never expire and an EXPIRE-family time in the past is
stored rather than deleting the key (``checkAlreadyExpired`` is false while loading).
:data:`COMMANDS` lists the commands covered with their Redis arities, :data:`WRITE_COMMANDS`
those flagged ``write`` in Redis's command table.  Pure Python, independent of
``targets/kvstore``; the only outside input is the clock (``clock``, Unix ms).
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Callable, Sequence

from plugins.kvstore.fuzzing.wire import (
    LLONG_MAX,
    LLONG_MIN,
    NULL,
    OK,
    array,
    bulk,
    cstr,
    error,
    error_format,
    integer,
    simple,
    string2ll,
)

__all__ = ["COMMANDS", "WRITE_COMMANDS", "Model", "now_ms"]


def _glob(pattern: bytes, key: bytes) -> bool:
    """KEYS patterns the scripts use: ``*``, ``?`` and ``[..]`` sets without negation or
    escapes (where fnmatch and Redis's stringmatchlen agree)."""
    return fnmatch.fnmatchcase(key.decode("latin-1"), pattern.decode("latin-1"))


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Model:
    """Redis 7.0's string and keyspace commands over a dict, replying exact RESP2 bytes.

    ``execute(args)`` runs one command (``args[0]`` is its name, any case) and returns its
    reply.  Expiries are absolute Unix milliseconds taken from the wall clock like the server
    does; ``loading`` reproduces a server replaying its log (keys never expire, an expiry in
    the past is stored rather than deleting the key).  Covered: GET SET SETNX SETEX PSETEX
    GETSET GETDEL MGET MSET MSETNX INCR DECR INCRBY DECRBY APPEND STRLEN DEL UNLINK EXISTS
    EXPIRE PEXPIRE EXPIREAT PEXPIREAT TTL PTTL PERSIST KEYS DBSIZE FLUSHALL FLUSHDB PING ECHO;
    any other name is an unknown command.
    """

    def __init__(self, loading: bool = False, clock: Callable[[], int] = now_ms) -> None:
        self.data: dict[bytes, bytes] = {}
        self.expires: dict[bytes, int] = {}
        self.loading = loading
        self.clock = clock
        self.now = clock()

    # ---------------------------------------------------------------- keyspace helpers

    def _alive(self, key: bytes) -> bool:
        """Lazy expiry: drop ``key`` when its time has passed (never while loading)."""
        if key not in self.data:
            return False
        when = self.expires.get(key)
        if when is not None and not self.loading and when < self.now:
            self._delete(key)
            return False
        return True

    def _get(self, key: bytes) -> bytes | None:
        return self.data[key] if self._alive(key) else None

    def _delete(self, key: bytes) -> bool:
        self.expires.pop(key, None)
        return self.data.pop(key, None) is not None

    def _store(self, key: bytes, value: bytes, keepttl: bool = False) -> None:
        self.data[key] = value
        if not keepttl:
            self.expires.pop(key, None)

    def keyspace(self) -> dict[bytes, tuple[bytes, int | None]]:
        """Live keys: key -> (value, expiry or None); keys expired now are left out."""
        now = self.clock()
        return {k: (v, self.expires.get(k)) for k, v in self.data.items()
                if self.expires.get(k) is None or self.expires[k] >= now}

    # ---------------------------------------------------------------- dispatcher

    def execute(self, args: Sequence[bytes]) -> bytes:
        self.now = self.clock()
        name = args[0].lower()
        entry = COMMANDS.get(name)
        if entry is None:
            shown = b""
            for a in args[1:]:
                if len(shown) >= 128:
                    break
                shown += b"'" + cstr(a)[:128 - len(shown)] + b"' "
            return error(b"unknown command '" + cstr(args[0])[:128] +
                         b"', with args beginning with: " + shown)
        arity, method = entry
        if (arity > 0 and len(args) != arity) or len(args) < -arity:
            return self.arity_error(name)
        return getattr(self, method)(list(args))

    @staticmethod
    def _option(arg: bytes) -> bytes:
        """An option word as Redis compares it (``strcasecmp``, ``opt[2] == '\\0'``: as a C
        string, up to its first NUL), lower-cased."""
        return cstr(arg).lower()

    @staticmethod
    def arity_error(name: bytes) -> bytes:
        return error(b"wrong number of arguments for '" + name + b"' command")

    @staticmethod
    def expire_error(name: bytes) -> bytes:
        return error_format(b"invalid expire time in '" + name + b"' command")

    # ---------------------------------------------------------------- strings

    def get(self, a: list[bytes]) -> bytes:
        return bulk(self._get(a[1]))

    def set(self, a: list[bytes]) -> bytes:
        flags: set[str] = set()
        expire: tuple[str, bytes] | None = None
        j = 3
        while j < len(a):
            opt, has_next = self._option(a[j]), j + 1 < len(a)
            timed = {"ex", "px", "exat", "pxat"} & flags
            if opt == b"nx" and "xx" not in flags:
                flags.add("nx")
            elif opt == b"xx" and "nx" not in flags:
                flags.add("xx")
            elif opt == b"get":
                flags.add("get")
            elif opt == b"keepttl" and not timed:
                flags.add("keepttl")
            elif opt in (b"ex", b"px", b"exat", b"pxat") and has_next and "keepttl" not in flags \
                    and not (timed - {opt.decode()}):
                flags.add(opt.decode())
                expire = (opt.decode(), a[j + 1])
                j += 1
            else:
                return error(b"syntax error")
            j += 1
        return self._set_generic(a[0].lower(), a[1], a[2], flags, expire, None, None)

    def _expire_ms(self, name: bytes, unit: str, raw: bytes) -> int | bytes:
        """``getExpireMillisecondsOrReply``: the absolute expiry, or the error reply."""
        ms = string2ll(raw)
        if ms is None:
            return error(b"value is not an integer or out of range")
        seconds = unit in ("ex", "exat")
        if ms <= 0 or (seconds and ms > LLONG_MAX // 1000):
            return self.expire_error(name)
        if seconds:
            ms *= 1000
        if unit in ("ex", "px"):
            ms += self.now
            if ms > LLONG_MAX:  # wraps negative in C
                return self.expire_error(name)
        return ms

    def _set_generic(self, name: bytes, key: bytes, value: bytes, flags: set[str],
                     expire: tuple[str, bytes] | None, ok: bytes | None,
                     abort: bytes | None) -> bytes:
        when = None
        if expire is not None:
            when = self._expire_ms(name, *expire)
            if isinstance(when, bytes):
                return when
        reply = b""
        if "get" in flags:
            reply = bulk(self._get(key))
        found = self._alive(key)
        if ("nx" in flags and found) or ("xx" in flags and not found):
            return reply if "get" in flags else (abort or NULL)
        self._store(key, value, keepttl="keepttl" in flags)
        if when is not None:
            self.expires[key] = when
        return reply if "get" in flags else (ok or OK)

    def setnx(self, a: list[bytes]) -> bytes:
        return self._set_generic(b"setnx", a[1], a[2], {"nx"}, None, integer(1), integer(0))

    def setex(self, a: list[bytes]) -> bytes:
        return self._set_generic(b"setex", a[1], a[3], set(), ("ex", a[2]), None, None)

    def psetex(self, a: list[bytes]) -> bytes:
        return self._set_generic(b"psetex", a[1], a[3], set(), ("px", a[2]), None, None)

    def getset(self, a: list[bytes]) -> bytes:
        old = self._get(a[1])
        self._store(a[1], a[2])
        return bulk(old)

    def getdel(self, a: list[bytes]) -> bytes:
        old = self._get(a[1])
        if old is not None:
            self._delete(a[1])
        return bulk(old)

    def mget(self, a: list[bytes]) -> bytes:
        return array([bulk(self._get(k)) for k in a[1:]])

    def mset(self, a: list[bytes]) -> bytes:
        if len(a) % 2 == 0:
            return self.arity_error(a[0].lower())
        for k, v in zip(a[1::2], a[2::2], strict=True):
            self._store(k, v)
        return OK

    def msetnx(self, a: list[bytes]) -> bytes:
        if len(a) % 2 == 0:
            return self.arity_error(a[0].lower())
        if any(self._alive(k) for k in a[1::2]):
            return integer(0)
        for k, v in zip(a[1::2], a[2::2], strict=True):
            self._store(k, v)
        return integer(1)

    def _incr(self, key: bytes, by: int) -> bytes:
        old = self._get(key)
        value = 0 if old is None else string2ll(old)
        if value is None:
            return error(b"value is not an integer or out of range")
        if (by < 0 and value < 0 and by < LLONG_MIN - value) or \
                (by > 0 and value > 0 and by > LLONG_MAX - value):
            return error(b"increment or decrement would overflow")
        self._store(key, b"%d" % (value + by), keepttl=True)
        return integer(value + by)

    def incr(self, a: list[bytes]) -> bytes:
        return self._incr(a[1], 1)

    def decr(self, a: list[bytes]) -> bytes:
        return self._incr(a[1], -1)

    def incrby(self, a: list[bytes]) -> bytes:
        by = string2ll(a[2])
        return error(b"value is not an integer or out of range") if by is None \
            else self._incr(a[1], by)

    def decrby(self, a: list[bytes]) -> bytes:
        by = string2ll(a[2])
        if by is None:
            return error(b"value is not an integer or out of range")
        if by == LLONG_MIN:
            return error(b"decrement would overflow")
        return self._incr(a[1], -by)

    def append(self, a: list[bytes]) -> bytes:
        old = self._get(a[1])
        self._store(a[1], (old or b"") + a[2], keepttl=old is not None)
        return integer(len(self.data[a[1]]))

    def strlen(self, a: list[bytes]) -> bytes:
        return integer(len(self._get(a[1]) or b""))

    # ---------------------------------------------------------------- keyspace

    def delete(self, a: list[bytes]) -> bytes:
        return integer(sum(self._alive(k) and self._delete(k) for k in a[1:]))

    def exists(self, a: list[bytes]) -> bytes:
        return integer(sum(self._alive(k) for k in a[1:]))

    def _expire(self, a: list[bytes], basetime: int, seconds: bool) -> bytes:
        name, flags = a[0].lower(), set()
        for opt in a[3:]:
            word = self._option(opt)
            if word not in (b"nx", b"xx", b"gt", b"lt"):
                return error_format(b"Unsupported option " + cstr(opt))
            flags.add(word.decode())
        if "nx" in flags and flags & {"xx", "gt", "lt"}:
            return error(b"NX and XX, GT or LT options at the same time are not compatible")
        if {"gt", "lt"} <= flags:
            return error(b"GT and LT options at the same time are not compatible")
        when = string2ll(a[2])
        if when is None:
            return error(b"value is not an integer or out of range")
        if seconds:
            if when > LLONG_MAX // 1000 or when < -(-LLONG_MIN // 1000):
                return self.expire_error(name)
            when *= 1000
        if when > LLONG_MAX - basetime:
            return self.expire_error(name)
        when += basetime
        key = a[1]
        if not self._alive(key):
            return integer(0)
        current = self.expires.get(key, -1)
        if ("nx" in flags and current != -1) or ("xx" in flags and current == -1) or \
                ("gt" in flags and (when <= current or current == -1)) or \
                ("lt" in flags and current != -1 and when >= current):
            return integer(0)
        if when <= self.now and not self.loading:  # checkAlreadyExpired: never while loading
            self._delete(key)
        else:
            self.expires[key] = when
        return integer(1)

    def expire(self, a: list[bytes]) -> bytes:
        return self._expire(a, self.now, True)

    def pexpire(self, a: list[bytes]) -> bytes:
        return self._expire(a, self.now, False)

    def expireat(self, a: list[bytes]) -> bytes:
        return self._expire(a, 0, True)

    def pexpireat(self, a: list[bytes]) -> bytes:
        return self._expire(a, 0, False)

    def _ttl(self, key: bytes, seconds: bool) -> bytes:
        if not self._alive(key):
            return integer(-2)
        when = self.expires.get(key)
        if when is None:
            return integer(-1)
        left = max(when - self.now, 0)
        return integer((left + 500) // 1000 if seconds else left)

    def ttl(self, a: list[bytes]) -> bytes:
        return self._ttl(a[1], True)

    def pttl(self, a: list[bytes]) -> bytes:
        return self._ttl(a[1], False)

    def persist(self, a: list[bytes]) -> bytes:
        if self._alive(a[1]) and a[1] in self.expires:
            del self.expires[a[1]]
            return integer(1)
        return integer(0)

    def keys(self, a: list[bytes]) -> bytes:
        return array(sorted(bulk(k) for k in list(self.data) if self._alive(k) and _glob(a[1], k)))

    def dbsize(self, a: list[bytes]) -> bytes:
        return integer(len(self.data))

    def flushall(self, a: list[bytes]) -> bytes:
        if len(a) > 2 or (len(a) == 2 and self._option(a[1]) not in (b"sync", b"async")):
            return error(b"syntax error")
        self.data.clear()
        self.expires.clear()
        return OK

    def ping(self, a: list[bytes]) -> bytes:
        if len(a) > 2:
            return self.arity_error(b"ping")
        return simple(b"PONG") if len(a) == 1 else bulk(a[1])

    def echo(self, a: list[bytes]) -> bytes:
        return bulk(a[1])


COMMANDS: dict[bytes, tuple[int, str]] = {
    b"get": (2, "get"), b"set": (-3, "set"), b"setnx": (3, "setnx"),
    b"setex": (4, "setex"), b"psetex": (4, "psetex"), b"getset": (3, "getset"),
    b"getdel": (2, "getdel"), b"mget": (-2, "mget"), b"mset": (-3, "mset"),
    b"msetnx": (-3, "msetnx"), b"incr": (2, "incr"), b"decr": (2, "decr"),
    b"incrby": (3, "incrby"), b"decrby": (3, "decrby"), b"append": (3, "append"),
    b"strlen": (2, "strlen"), b"del": (-2, "delete"), b"unlink": (-2, "delete"),
    b"exists": (-2, "exists"), b"expire": (-3, "expire"),
    b"pexpire": (-3, "pexpire"), b"expireat": (-3, "expireat"),
    b"pexpireat": (-3, "pexpireat"), b"ttl": (2, "ttl"), b"pttl": (2, "pttl"),
    b"persist": (2, "persist"), b"keys": (2, "keys"), b"dbsize": (1, "dbsize"),
    b"flushall": (-1, "flushall"), b"flushdb": (-1, "flushall"),
    b"ping": (-1, "ping"), b"echo": (2, "echo"),
}
"""Lower-case name -> (Redis arity: exact when positive, minimum when negative, the
:class:`Model` method that runs it)."""

WRITE_COMMANDS = frozenset({
    b"set", b"setnx", b"setex", b"psetex", b"getset", b"getdel", b"mset", b"msetnx", b"incr",
    b"decr", b"incrby", b"decrby", b"append", b"del", b"unlink", b"expire", b"pexpire",
    b"expireat", b"pexpireat", b"persist", b"flushall", b"flushdb"})
"""The commands of ``COMMANDS`` flagged ``write`` in Redis 7.0's command table."""


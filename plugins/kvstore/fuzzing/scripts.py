"""The ``commands`` target's input: command scripts decoded from a FuzzedDataProvider.

Contract: :meth:`Script.build` consumes a provider (atheris' ``FuzzedDataProvider`` or
anything with ``ConsumeIntInRange``/``ConsumeBytes``) and returns a deterministic
:class:`Script` -- batches of commands over a few keys, each with its encoding (multibulk or
quoted inline) -- chosen so that replies never depend on the clock (TTLs long enough, or
invalid whatever the clock says).  :meth:`Script.wire` gives a batch's request bytes;
:func:`normalize` puts a reply in the form compared (KEYS arrays sorted: hash order is no
contract); :func:`model_transcript` gives the command model's normalized replies to a script.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from plugins.kvstore.fuzzing.model import Model
from plugins.kvstore.fuzzing.wire import array_items, cstr, encode_inline, encode_multibulk

__all__ = ["MAX_COMMANDS", "Picker", "Script", "model_transcript", "normalize",
           "sorted_array"]

KEYS = (b"a", b"b", b"k1", b"k2", b"", b"\x00", b"key with space", b"*")
VALUES = (b"", b"0", b"1", b"-1", b"42", b"9223372036854775806", b"9223372036854775807",
          b"-9223372036854775807", b"-9223372036854775808", b"9223372036854775808", b"01",
          b"-0", b" 7", b"+7", b"abc", b"3.5", b"\x00\xff", b"\r\n", b"x" * 100)
INTS = (b"1", b"-1", b"0", b"100", b"-100", b"9223372036854775807", b"-9223372036854775808",
        b"9223372036854775806", b"-9223372036854775807", b"x", b"1.5", b" 1", b"01", b"")
EX_SECONDS = (b"100000", b"86400000", b"0", b"-5", b"abc", b"9223372036854775",
              b"9223372036854776")
PX_MILLIS = (b"100000000", b"86400000000", b"0", b"-1", b"1.5", b"9223372036854775807")
"""TTLs either long enough that a script never sees them run out (and TTL's rounding to
seconds cannot flip within 500 ms), or invalid whatever the clock says."""
EXPIRE_SECONDS = (b"100000", b"200000", b"0", b"-1", b"x", b"9223372036854775",
                  b"9223372036854776", b"-9223372036854776")
EXPIRE_MILLIS = (b"100000000", b"200000000", b"0", b"-1", b"x", b"9223372036854775807")
EXPIRE_OPTIONS = ((b"NX",), (b"XX",), (b"LT",), (b"bogus",), (b"GT", b"LT"), (b"nx", b"GT"),
                  (b"xx", b"lt"))
"""GT alone is left out: with two equal relative TTLs its answer depends on whether the
clock ticked between the two commands (:func:`_clock_dependent` keeps the arity tweak from
making it up)."""
PATTERNS = (b"*", b"k*", b"?", b"[ab]", b"*1", b"nomatch")
UNKNOWN = (b"NOSUCH", b"GETT", b"SET\r", b"x y")
MAX_COMMANDS = 40


class Picker:
    """Choices drawn from an atheris FuzzedDataProvider (integers from the end of the input,
    raw bytes from the front; an exhausted provider answers the lowest choice)."""

    def __init__(self, fdp: Any) -> None:
        self.fdp = fdp

    def int(self, lo: int, hi: int) -> int:
        return self.fdp.ConsumeIntInRange(lo, hi)

    def one(self, options: Sequence[Any]) -> Any:
        return options[self.int(0, len(options) - 1)]

    def key(self) -> bytes:
        return self.one(KEYS)

    def keys(self, most: int = 3) -> list[bytes]:
        return [self.key() for _ in range(self.int(1, most))]

    def value(self) -> bytes:
        i = self.int(0, len(VALUES))
        return VALUES[i] if i < len(VALUES) else self.fdp.ConsumeBytes(self.int(0, 24))


def _set_args(p: Picker) -> list[bytes]:
    args = [b"SET", p.key(), p.value()]
    for _ in range(p.int(0, 3)):
        opt = p.int(0, 8)
        if opt < 4:
            args.append((b"NX", b"XX", b"GET", b"KEEPTTL")[opt])
        elif opt == 4:
            args += [b"EX", p.one(EX_SECONDS)]
        elif opt == 5:
            args += [b"PX", p.one(PX_MILLIS)]
        elif opt == 6:
            args += [p.one((b"EXAT", b"PXAT")), p.one((b"0", b"-1", b"x"))]
        else:
            args.append(p.one((b"bogus", b"EX", b"get")))
    return args


def _expire_args(p: Picker) -> list[bytes]:
    millis = p.int(0, 1) == 1
    args = [b"PEXPIRE" if millis else b"EXPIRE", p.key(),
            p.one(EXPIRE_MILLIS if millis else EXPIRE_SECONDS)]
    if p.int(0, 2) == 0:
        args += p.one(EXPIRE_OPTIONS)
    return args


_BUILDERS: tuple[Callable[[Picker], list[bytes]], ...] = (
    _set_args,
    lambda p: [b"GET", p.key()],
    lambda p: [b"DEL", *p.keys()],
    lambda p: [b"EXISTS", *p.keys()],
    lambda p: [p.one((b"INCR", b"DECR")), p.key()],
    lambda p: [p.one((b"INCRBY", b"DECRBY")), p.key(), p.one(INTS)],
    lambda p: [b"APPEND", p.key(), p.value()],
    lambda p: [b"STRLEN", p.key()],
    lambda p: [b"MSET", *[x for _ in range(p.int(1, 3)) for x in (p.key(), p.value())]],
    lambda p: [b"MGET", *p.keys()],
    lambda p: [b"GETSET", p.key(), p.value()],
    lambda p: [b"GETDEL", p.key()],
    lambda p: [b"SETNX", p.key(), p.value()],
    lambda p: [b"DBSIZE"],
    lambda p: [b"KEYS", p.one(PATTERNS)],
    lambda p: [b"TTL", p.key()],
    lambda p: [b"PERSIST", p.key()],
    _expire_args,
    lambda p: [b"FLUSHALL", *[p.one((b"SYNC", b"async", b"bogus"))][:p.int(0, 1)]],
    lambda p: [b"PING", *[p.value()][:p.int(0, 1)]],
    lambda p: [b"ECHO", p.value()],
    lambda p: [b"SETEX", p.key(), p.one(EX_SECONDS), p.value()],
    lambda p: [b"MSETNX", *[x for _ in range(p.int(1, 2)) for x in (p.key(), p.value())]],
    lambda p: [p.one(UNKNOWN), *p.keys()],
)


def _clock_dependent(args: Sequence[bytes]) -> bool:
    """An EXPIRE/PEXPIRE whose options reach the GT comparison (GT, maybe XX, nothing that
    is an error or excludes it): its answer may depend on the clock (see ``EXPIRE_OPTIONS``)."""
    if args[0] not in (b"EXPIRE", b"PEXPIRE"):
        return False
    words = {cstr(a).lower() for a in args[3:]}
    return b"gt" in words and words <= {b"gt", b"xx"}


def _recase(name: bytes, mask: int) -> bytes:
    return bytes(c ^ 0x20 if mask >> i & 1 and chr(c).isalpha() else c
                 for i, c in enumerate(name))


@dataclass
class Script:
    """A command script: batches of (args, inline) sent through one ``kv_lib_exec`` each."""

    batches: list[list[tuple[list[bytes], bool]]]

    @classmethod
    def build(cls, fdp: Any) -> Script:
        """Consumed per command, in order: the command kind, its arguments (keys, values,
        options: each a choice from the tables above, values sometimes raw input bytes), an
        arity tweak (1 in 16 drops the last argument, 1 in 16 adds one; undone where it would
        leave an EXPIRE whose answer depends on the clock), a case mask for the name, the
        encoding (1 in 4 inline) and whether a new batch starts after it (1 in 4)."""
        p = Picker(fdp)
        batches: list[list[tuple[list[bytes], bool]]] = [[]]
        for _ in range(p.int(0, MAX_COMMANDS)):
            args = p.one(_BUILDERS)(p)
            tweak = p.int(0, 15)
            if tweak == 0 and len(args) > 1:
                dropped = args.pop()
                if _clock_dependent(args):
                    args.append(dropped)
            elif tweak == 1:
                args.append(p.value())
                if _clock_dependent(args):
                    args.pop()
            args[0] = _recase(args[0], p.int(0, 255))
            batches[-1].append((args, p.int(0, 3) == 0))
            if p.int(0, 3) == 0:
                batches.append([])
        return cls([b for b in batches if b])

    def commands(self) -> list[list[bytes]]:
        return [args for batch in self.batches for args, _ in batch]

    @staticmethod
    def wire(batch: Sequence[tuple[list[bytes], bool]]) -> bytes:
        return b"".join(encode_inline(a) if inline else encode_multibulk(a)
                        for a, inline in batch)


def sorted_array(reply: bytes) -> bytes:
    """An array reply with its elements in byte order (KEYS order is the table's)."""
    items = array_items(reply)
    return b"*%d\r\n" % len(items) + b"".join(sorted(items))


def normalize(args: Sequence[bytes], reply: bytes) -> bytes:
    return sorted_array(reply) if args[0].lower() == b"keys" and reply[:1] == b"*" else reply


def model_transcript(script: Script) -> tuple[bytes, ...]:
    """The replies :class:`Model` gives to the script's commands, in order."""
    model = Model()
    return tuple(normalize(a, model.execute(a)) for a in script.commands())


"""Operation histories in the Jepsen style, with JSON-lines persistence and a live recorder.

A history is the sequence of events that clients observed while talking to a system under test
(Kingsbury's Jepsen model, as consumed by Knossos and Porcupine). Every client operation is an
``invoke`` event followed, later, by exactly one completion event of the same process:

* ``ok``: the operation took effect; its ``value`` is the result (for a read, the value seen);
* ``fail``: the operation certainly did not take effect;
* ``info``: unknown (timed out, connection lost, client crashed): it may or may not have taken
  effect, at any time after its invocation.

An invocation that never completes (the history ends first) is treated like ``info``.

The ORDER of events in a history is the real-time order checkers rely on: an operation whose
completion comes before another's invocation happened before it. ``time`` (monotonic seconds) is
informational. A process runs one operation at a time: invoking again before completing is an
error, and so is completing an operation that is not pending.

Persistence is one JSON object per event and per line (``write_jsonl`` / ``read_jsonl``).
:class:`Recorder` appends each event to such a file as it happens, from several threads, flushing
every line, so a crash of the lab keeps the history up to the crash.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import threading
import time as _time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

INVOKE = "invoke"
OK = "ok"
FAIL = "fail"
INFO = "info"
TYPES = (INVOKE, OK, FAIL, INFO)
COMPLETIONS = (OK, FAIL, INFO)

JSONL_FORMAT = (
    "each line must be a JSON object with process (integer), type (one of invoke, ok, fail, "
    "info), f (string), key (string or null), time (number) and optionally value (any JSON) "
    "and index (integer, ignored)"
)


@dataclass(frozen=True, slots=True)
class Op:
    """One event of a history.

    ``process`` is the client; ``type`` one of :data:`TYPES`; ``f`` the function (``"read"``,
    ``"write"``, ``"cas"``, ``"add"``, ...); ``key`` the key it addresses (``None`` when none);
    ``value`` the argument (invoke) or the result (completion); ``time`` monotonic seconds;
    ``index`` the position of the event in its history (assigned by :meth:`History.append`).
    """

    process: int
    type: str
    f: str
    key: str | None
    value: Any = None
    time: float = 0.0
    index: int = -1

    def to_dict(self) -> dict[str, Any]:
        """The event as a JSON-ready dict (the JSON-lines record)."""
        return {
            "index": self.index,
            "process": self.process,
            "type": self.type,
            "f": self.f,
            "key": self.key,
            "value": self.value,
            "time": self.time,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Op:
        """Parse a record written by :meth:`to_dict`; raises ``ValueError`` (never ``KeyError``
        or ``TypeError``) saying which field is wrong."""
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, got {type(data).__name__}")
        missing = [name for name in ("process", "type", "f", "key", "time") if name not in data]
        if missing:
            raise ValueError(f"missing field(s) {', '.join(missing)}")
        _expect(data, "process", isinstance(data["process"], int)
                and not isinstance(data["process"], bool), "an integer")
        _expect(data, "type", data["type"] in TYPES, "one of " + ", ".join(TYPES))
        _expect(data, "f", isinstance(data["f"], str) and data["f"] != "", "a non-empty string")
        _expect(data, "key", data["key"] is None or isinstance(data["key"], str),
                "a string or null")
        _expect(data, "time", isinstance(data["time"], int | float)
                and not isinstance(data["time"], bool), "a number")
        return cls(process=data["process"], type=data["type"], f=data["f"], key=data["key"],
                   value=data.get("value"), time=float(data["time"]))


def _expect(data: dict[str, Any], name: str, ok: bool, what: str) -> None:
    if not ok:
        raise ValueError(f"field {name} must be {what}, got {data[name]!r}")


def operation_dict(invoke: Op, completion: Op | None) -> dict[str, Any]:
    """One operation (an invocation with its completion, or ``None`` when it never completed) as
    a dict for reports: process, f, key, value (the argument), type (the completion's type, or
    ``"pending"``), result (the completion's value), invoke_index and complete_index."""
    return {
        "process": invoke.process,
        "f": invoke.f,
        "key": invoke.key,
        "value": invoke.value,
        "type": completion.type if completion is not None else "pending",
        "result": completion.value if completion is not None else None,
        "invoke_index": invoke.index,
        "complete_index": completion.index if completion is not None else None,
    }


class History:
    """An append-only, validated sequence of :class:`Op` events.

    Invariants: ``ops[i].index == i``; each process has at most one pending invocation; every
    completion has the process, ``f`` and ``key`` of that process's pending invocation. Methods
    that would break them raise ``ValueError`` with a one-line message and change nothing.
    """

    def __init__(self, ops: Iterable[Op] = ()) -> None:
        self.ops: list[Op] = []
        self._pending: dict[int, Op] = {}
        for op in ops:
            self.append(op)

    def __len__(self) -> int:
        return len(self.ops)

    def __iter__(self) -> Iterator[Op]:
        return iter(self.ops)

    def __getitem__(self, index: int) -> Op:
        return self.ops[index]

    def validate(self, op: Op) -> None:
        """Raise ``ValueError`` if appending ``op`` would break the invariants."""
        if op.type not in TYPES:
            raise ValueError(f"event type must be one of {', '.join(TYPES)}, got {op.type!r}")
        pending = self._pending.get(op.process)
        if op.type == INVOKE:
            if pending is not None:
                raise ValueError(
                    f"process {op.process} invoked {op.f} while its {pending.f} "
                    f"(event {pending.index}) is still pending")
            return
        if pending is None:
            raise ValueError(f"process {op.process} completed {op.f} ({op.type}) "
                             "without a pending invocation")
        if (op.f, op.key) != (pending.f, pending.key):
            raise ValueError(
                f"process {op.process} completed {op.f} on key {op.key!r} but its pending "
                f"invocation (event {pending.index}) is {pending.f} on key {pending.key!r}")

    def append(self, op: Op) -> Op:
        """Validate and append ``op``; returns the stored event, whose ``index`` is its
        position (any index passed in is replaced)."""
        self.validate(op)
        stored = dataclasses.replace(op, index=len(self.ops))
        self.ops.append(stored)
        if stored.type == INVOKE:
            self._pending[stored.process] = stored
        else:
            del self._pending[stored.process]
        return stored

    def invoke(self, process: int, f: str, key: str | None, value: Any = None,
               time: float | None = None) -> Op:
        """Append the invocation of ``f`` on ``key`` by ``process``; ``time`` defaults to
        ``time.monotonic()``."""
        return self.append(Op(process, INVOKE, f, key, value, _now(time)))

    def complete(self, invoke_op: Op, type: str, value: Any = None,
                 time: float | None = None) -> Op:
        """Append the completion (``ok``, ``fail`` or ``info``) of ``invoke_op``, which must be
        its process's pending invocation. ``value`` is the result (a read's observed value);
        checkers take written values from the invocation."""
        self._check_completion(invoke_op, type)
        return self.append(Op(invoke_op.process, type, invoke_op.f, invoke_op.key, value,
                              _now(time)))

    def _check_completion(self, invoke_op: Op, type: str) -> None:
        if type not in COMPLETIONS:
            raise ValueError(f"completion type must be one of {', '.join(COMPLETIONS)}, "
                             f"got {type!r}")
        pending = self._pending.get(invoke_op.process)
        if pending is None or pending.index != invoke_op.index:
            raise ValueError(f"event {invoke_op.index} ({invoke_op.f} by process "
                             f"{invoke_op.process}) is not a pending invocation of this history")

    def pending(self) -> list[Op]:
        """The invocations that have not completed (yet), in history order."""
        return sorted(self._pending.values(), key=lambda op: op.index)

    def pairs(self) -> list[tuple[Op, Op | None]]:
        """Each invocation with its completion, in invocation order; the completion is ``None``
        when the history ended first (checkers treat that like ``info``)."""
        result: list[tuple[Op, Op | None]] = []
        slot: dict[int, int] = {}
        for op in self.ops:
            if op.type == INVOKE:
                slot[op.process] = len(result)
                result.append((op, None))
            else:
                position = slot.pop(op.process)
                result[position] = (result[position][0], op)
        return result

    def by_key(self) -> dict[str | None, list[Op]]:
        """The events grouped by key, each group in history order (the events keep their
        history-wide ``index``)."""
        groups: dict[str | None, list[Op]] = {}
        for op in self.ops:
            groups.setdefault(op.key, []).append(op)
        return groups

    def write_jsonl(self, path: str | os.PathLike[str], append: bool = False) -> None:
        """Write every event as one JSON line to ``path`` (replacing the file, or appending to it
        when ``append``). Values must be JSON-serialisable (``TypeError`` otherwise)."""
        with open(path, "a" if append else "w", encoding="utf-8") as out:
            for op in self.ops:
                out.write(_line(op))


def _now(time: float | None) -> float:
    return _time.monotonic() if time is None else float(time)


def _line(op: Op) -> str:
    return json.dumps(op.to_dict(), separators=(",", ":")) + "\n"


def read_jsonl(path: str | os.PathLike[str], allow_truncated_tail: bool = False) -> History:
    """Read a history written by :meth:`History.write_jsonl` or :class:`Recorder`.

    Blank lines are skipped; events are renumbered in file order. A malformed line, or an event
    that breaks the history's invariants, raises ``ValueError`` naming the file, the line number
    and what a valid line is. With ``allow_truncated_tail`` an unparsable LAST line without a
    trailing newline (a write cut short by a crash) is dropped instead. A path ending in
    ``.gz`` is read through gzip (finished cases keep their history compressed).
    """
    opener = gzip.open if os.fspath(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as src:
        return parse_jsonl(src, name=str(path), allow_truncated_tail=allow_truncated_tail)


def compress(path: str | os.PathLike[str]) -> str:
    """Replace the JSON-lines file ``path`` by ``path + ".gz"`` (written completely, then
    the original removed); returns the new path."""
    target = os.fspath(path) + ".gz"
    tmp = target + ".tmp"
    with open(path, "rb") as src, gzip.open(tmp, "wb", compresslevel=6) as out:
        while chunk := src.read(1 << 20):
            out.write(chunk)
    os.replace(tmp, target)
    os.unlink(path)
    return target


def parse_jsonl(src: Iterable[str], name: str = "<history>",
                allow_truncated_tail: bool = False) -> History:
    """:func:`read_jsonl` on an iterable of lines; ``name`` is used in error messages."""
    history = History()
    lines = list(src)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        truncated_tail = number == len(lines) and not line.endswith("\n")
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if allow_truncated_tail and truncated_tail:
                break
            raise ValueError(f"{name}:{number}: not valid JSON ({exc.msg}); "
                             f"{JSONL_FORMAT}") from None
        try:
            history.append(Op.from_dict(record))
        except ValueError as exc:
            if allow_truncated_tail and truncated_tail:
                break
            raise ValueError(f"{name}:{number}: {exc}; {JSONL_FORMAT}") from None
    return history


class Recorder:
    """Records a history live: each event is validated, appended to :attr:`history` and written
    as one JSON line to ``path`` (created or truncated), flushed before the call returns.

    Safe to use from several threads: events are serialised by a lock, and their ``time`` is
    taken under it, so file order, history order and time order agree. Use as a context manager
    or call :meth:`close`.
    """

    def __init__(self, path: str | os.PathLike[str], fsync: bool = False) -> None:
        self.path = os.fspath(path)
        self.history = History()
        self._fsync = fsync
        self._lock = threading.Lock()
        self._out = open(self.path, "w", encoding="utf-8")

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Flush and close the file (idempotent); recording afterwards raises ``ValueError``."""
        with self._lock:
            if not self._out.closed:
                self._out.close()

    def append(self, op: Op) -> Op:
        """Record ``op`` (its ``time`` is kept as given); returns the stored event."""
        with self._lock:
            return self._record(op)

    def invoke(self, process: int, f: str, key: str | None, value: Any = None) -> Op:
        """Record the invocation of ``f`` on ``key`` by ``process`` at ``time.monotonic()``."""
        with self._lock:
            return self._record(Op(process, INVOKE, f, key, value, _time.monotonic()))

    def complete(self, invoke_op: Op, type: str, value: Any = None) -> Op:
        """Record the completion of ``invoke_op`` (see :meth:`History.complete`)."""
        with self._lock:
            self.history._check_completion(invoke_op, type)
            return self._record(Op(invoke_op.process, type, invoke_op.f, invoke_op.key, value,
                                   _time.monotonic()))

    def _record(self, op: Op) -> Op:
        if self._out.closed:
            raise ValueError(f"recorder for {self.path} is closed")
        self.history.validate(op)
        line = _line(dataclasses.replace(op, index=len(self.history)))
        self._out.write(line)
        self._out.flush()
        if self._fsync:
            os.fsync(self._out.fileno())
        return self.history.append(op)

"""Durability of acknowledged writes: a set checker in the manner of Jepsen's ``set-full``.

Clients ``add`` elements to a set (the invocation's ``value`` is the element; ``ok`` means the
server acknowledged it) and ``read`` the whole set (an ``ok`` read's ``value`` is the collection
of elements present). Each key is an independent set that starts empty; events with another
``f`` (a nemesis' ``kill``, ...) are ignored.

Method (after Kingsbury's ``jepsen.checker/set-full``): the history's event ORDER is real time,
so a read "began after" an add completed when its invocation comes after the add's ``ok``. For
every element, the successful reads that began after its first acknowledgement are lined up in
order and the element is classified by whether each contains it:

* ``stable``: every such read (at least one) contains it;
* ``lost``: acknowledged, and the final run of those reads (to the last one) lacks it: the
  write was acknowledged and then disappeared for good (what a crash under ``appendfsync
  everysec`` does to the last second of writes);
* ``stale``: some of those reads lack it but the last one has it (flapping or stale reads);
  its latency is from the acknowledgement to the first read of the final run that contains it;
* ``never-read``: no successful read began after the acknowledgement;
* an element whose adds all ended ``info`` or ``fail`` (or never completed) is ``recovered``
  when some read shows it and ``unacknowledged`` otherwise; neither is an error.

An element that a read returns but no client ever added to that key is ``unexpected``.

The verdict is invalid when an element is lost or unexpected; ``stale`` elements are reported
as anomalies of kind ``"stale"`` but keep the verdict valid. It is unknown (``None``) when no
acknowledged element was read afterwards (nothing to judge) or a read returned something that
is not a collection. Times in explanations and stats are seconds since the history's first
event. :func:`lost_window` summarises how many acknowledged writes were lost and over what
window, relative to the crash when its time is known, otherwise to the first read missing them.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

from lab.chaos.checkers import Verdict
from lab.chaos.history import INVOKE, OK, History, Op, operation_dict

NAME = "set-full"
ADD = "add"
READ = "read"
OUTCOMES = ("stable", "lost", "stale", "never-read", "recovered", "unacknowledged")


@dataclass(frozen=True)
class Read:
    """One successful read: its invocation, its ``ok`` completion and the elements it saw."""

    invoke: Op
    done: Op
    elements: frozenset[Hashable]


@dataclass
class _Element:
    """Every add of one element to one key, and its first acknowledgement (if any)."""

    key: str | None
    value: Any
    adds: list[tuple[Op, Op | None]] = field(default_factory=list)
    ack: Op | None = None
    ack_invoke: Op | None = None


_Elements = dict[tuple[str | None, Hashable], _Element]
_Reads = dict[str | None, list[Read]]


@dataclass(frozen=True)
class ElementOutcome:
    """The classification of one element (one of :data:`OUTCOMES`) with the evidence.

    ``add`` is the invocation of the acknowledged add (or of the first add when none was);
    ``ack`` its ``ok`` completion (``None`` when unacknowledged). ``after`` are the reads that
    began after ``ack``, ``absent`` how many of them lack the element, ``run`` the final run of
    those reads that all lack it (``lost``) or all contain it (``stale``), ``last_seen`` the
    latest-finishing read of the whole history that contains it, and ``failed`` whether every
    add of it ended ``fail``.
    """

    key: str | None
    element: Any
    outcome: str
    add: Op
    ack: Op | None
    after: tuple[Read, ...] = ()
    absent: int = 0
    run: tuple[Read, ...] = ()
    last_seen: Read | None = None
    failed: bool = False


@dataclass(frozen=True)
class LostWindow:
    """How many acknowledged writes were lost and over which window (seconds since the
    history's first event).

    ``first_ack``/``last_ack`` bound the acknowledgements of the lost elements; ``reference``
    names the moment they are measured against (``"crash"`` or ``"first absent read"``) and
    ``reference_time`` is when it was; ``window_s`` = ``reference_time - first_ack``: how far
    back before the crash acknowledged writes were lost.
    """

    count: int
    first_ack: float
    last_ack: float
    first_absent: float
    reference: str
    reference_time: float
    window_s: float

    @property
    def span_s(self) -> float:
        """Time between the first and the last acknowledgement of a lost element."""
        return self.last_ack - self.first_ack

    def summary(self) -> str:
        """One line, e.g. ``"3 acknowledged writes lost, acknowledged within 0.92 s before the
        crash (over 0.85 s)"``."""
        writes = "write" if self.count == 1 else "writes"
        return (
            f"{self.count} acknowledged {writes} lost, acknowledged within {self.window_s:.2f} s "
            f"before the {self.reference} (over {self.span_s:.2f} s)"
        )


class MalformedRead(ValueError):
    """A successful read whose value is not a collection of elements."""


# --------------------------------------------------------------------------- history parsing


def _freeze(value: Any) -> Hashable:
    """A hashable stand-in for a JSON value (lists become tuples, dicts sorted item tuples)."""
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    if isinstance(value, set | frozenset):
        return frozenset(_freeze(v) for v in value)
    return value


def _read_elements(invoke: Op, done: Op) -> frozenset[Hashable]:
    """The elements an ``ok`` read saw; ``None`` is the empty set. Raises ``MalformedRead``."""
    value = done.value
    if value is None:
        return frozenset()
    if isinstance(value, str | bytes | dict) or not isinstance(value, Iterable):
        raise MalformedRead(
            f"read by process {invoke.process} (event {done.index}) returned {value!r}, "
            "not a collection of elements")
    return frozenset(_freeze(v) for v in value)


def _collect(history: History) -> tuple[_Elements, _Reads]:
    """The adds grouped by (key, element) in order of first invocation, and each key's
    successful reads in invocation order."""
    elements: dict[tuple[str | None, Hashable], _Element] = {}
    reads: dict[str | None, list[Read]] = {}
    for invoke, done in history.pairs():
        if invoke.f == ADD:
            _note_add(elements, invoke, done)
        elif invoke.f == READ and done is not None and done.type == OK:
            reads.setdefault(invoke.key, []).append(
                Read(invoke, done, _read_elements(invoke, done)))
    return elements, reads


def _note_add(elements: _Elements, invoke: Op, done: Op | None) -> None:
    """Record one add; the earliest ``ok`` completion is the element's acknowledgement."""
    entry = elements.setdefault((invoke.key, _freeze(invoke.value)),
                                _Element(invoke.key, invoke.value))
    entry.adds.append((invoke, done))
    if done is not None and done.type == OK and (entry.ack is None or done.index < entry.ack.index):
        entry.ack, entry.ack_invoke = done, invoke


# --------------------------------------------------------------------------- classification


def _final_run(after: list[Read], member: Hashable, present: bool) -> tuple[Read, ...]:
    """The longest suffix of ``after`` whose reads all do (``present``) or do not contain
    ``member``."""
    start = len(after)
    while start > 0 and (member in after[start - 1].elements) == present:
        start -= 1
    return tuple(after[start:])


def _classify_one(entry: _Element, reads: list[Read]) -> ElementOutcome:
    """Classify one element against its key's reads (see the module docstring)."""
    member = _freeze(entry.value)
    seen = [r for r in reads if member in r.elements]
    last_seen = max(seen, key=lambda r: r.done.index) if seen else None
    if entry.ack is None:
        failed = all(done is not None and done.type == "fail" for _, done in entry.adds)
        outcome = "recovered" if seen else "unacknowledged"
        return ElementOutcome(entry.key, entry.value, outcome, entry.adds[0][0], None,
                              last_seen=last_seen, failed=failed)
    assert entry.ack_invoke is not None
    after = [r for r in reads if r.invoke.index > entry.ack.index]
    absent = sum(member not in r.elements for r in after)
    if not after:
        outcome, run = "never-read", ()
    elif absent == 0:
        outcome, run = "stable", tuple(after)
    elif member not in after[-1].elements:
        outcome, run = "lost", _final_run(after, member, present=False)
    else:
        outcome, run = "stale", _final_run(after, member, present=True)
    return ElementOutcome(entry.key, entry.value, outcome, entry.ack_invoke, entry.ack,
                          tuple(after), absent, run, last_seen)


def _classify_all(elements: _Elements, reads: _Reads) -> list[ElementOutcome]:
    """Each collected element with its outcome, in order of its first add."""
    return [_classify_one(entry, reads.get(entry.key, [])) for entry in elements.values()]


def _unexpected(elements: _Elements, reads: _Reads) -> list[tuple[Read, list[Any]]]:
    """Each read that first showed elements never added to its key, with those elements."""
    added = set(elements)
    reported: set[tuple[str | None, Hashable]] = set()
    found: list[tuple[Read, list[Any]]] = []
    for key, key_reads in reads.items():
        for read in key_reads:
            fresh = [m for m in read.elements
                     if (key, m) not in added and (key, m) not in reported]
            if fresh:
                reported.update((key, m) for m in fresh)
                found.append((read, sorted(fresh, key=repr)))
    return sorted(found, key=lambda item: item[0].invoke.index)


def classify(history: History) -> list[ElementOutcome]:
    """Every element added in ``history`` with its outcome, in order of its first add.

    Raises :class:`MalformedRead` when a successful read's value is not a collection.
    """
    return _classify_all(*_collect(history))


def unexpected_elements(history: History) -> list[tuple[Read, list[Any]]]:
    """Reads that returned elements nobody added to that key: each read that was the first to
    show some such elements, with those elements (in history order). Raises
    :class:`MalformedRead` like :func:`classify`."""
    return _unexpected(*_collect(history))


# --------------------------------------------------------------------------- anomalies


def _clock(history: History) -> float:
    """The time of the history's first event, which explanations count from."""
    return history.ops[0].time if len(history) else 0.0


def _read_dict(read: Read, member: Hashable | None) -> dict[str, Any]:
    """A read as an operation dict, its (possibly huge) result replaced by its size and by
    whether it contains ``member``."""
    data = operation_dict(read.invoke, read.done)
    data["result"] = None
    data["result_size"] = len(read.elements)
    if member is not None:
        data["contains"] = member in read.elements
    return data


def _naming(outcome: ElementOutcome) -> str:
    """``"element 17"``, with the key when the add had one."""
    key = "" if outcome.key is None else f" of key {outcome.key!r}"
    return f"element {outcome.element!r}{key}"


def _seen_clause(outcome: ElementOutcome, t0: float) -> str:
    """When the element was last seen, as a clause."""
    if outcome.last_seen is None:
        return "no read ever saw it"
    read = outcome.last_seen
    return (f"it was last seen at {read.done.time - t0:.2f} s "
            f"(read by process {read.invoke.process})")


def _lost_anomaly(outcome: ElementOutcome, t0: float) -> dict[str, Any]:
    """The anomaly for a lost element: the add, the last read showing it, the absent run."""
    assert outcome.ack is not None
    ack = outcome.ack.time - t0
    first, last = outcome.run[0], outcome.run[-1]
    n, m = len(outcome.run), len(outcome.after)
    reads = "read" if n == 1 else "reads"
    which = (f"the {n} {reads} after it" if n == m
             else f"the last {n} of the {m} reads after it, from {first.invoke.time - t0:.2f} s")
    explanation = (
        f"{_naming(outcome)} was acknowledged at {ack:.2f} s (add by process "
        f"{outcome.add.process}) and is absent from {which}, the last at "
        f"{last.done.time - t0:.2f} s; {_seen_clause(outcome, t0)}")
    member = _freeze(outcome.element)
    ops = [operation_dict(outcome.add, outcome.ack)]
    ops += [_read_dict(r, member) for r in _evidence_reads(outcome)]
    return {"kind": "lost", "explanation": explanation, "ops": ops, "key": outcome.key,
            "element": outcome.element, "ack_time": ack,
            "last_seen": None if outcome.last_seen is None
            else outcome.last_seen.done.time - t0,
            "first_absent": first.invoke.time - t0, "absent_reads": n,
            "window_s": first.invoke.time - outcome.ack.time}


def _evidence_reads(outcome: ElementOutcome) -> list[Read]:
    """The last read that saw the element (if any), then the first and last of its final run."""
    picked = [outcome.last_seen] if outcome.last_seen is not None else []
    for read in (outcome.run[0], outcome.run[-1]):
        if read not in picked:
            picked.append(read)
    return picked


def _stale_anomaly(outcome: ElementOutcome, t0: float) -> dict[str, Any]:
    """The anomaly for a stale element: the add, its last absent read, its first stable one."""
    assert outcome.ack is not None
    member = _freeze(outcome.element)
    missing = [r for r in outcome.after if member not in r.elements]
    stable_from = outcome.run[0]
    latency = stable_from.invoke.time - outcome.ack.time
    ack = outcome.ack.time - t0
    explanation = (
        f"{_naming(outcome)} was acknowledged at {ack:.2f} s (add by process "
        f"{outcome.add.process}) but is absent from {len(missing)} of the "
        f"{len(outcome.after)} reads after it, the last at {missing[-1].done.time - t0:.2f} s; "
        f"every read from {stable_from.invoke.time - t0:.2f} s on has it "
        f"(latency {latency:.2f} s)")
    ops = [operation_dict(outcome.add, outcome.ack),
           _read_dict(missing[-1], member), _read_dict(stable_from, member)]
    return {"kind": "stale", "explanation": explanation, "ops": ops, "key": outcome.key,
            "element": outcome.element, "ack_time": ack, "stale_reads": len(missing),
            "latency_s": latency}


def _unexpected_anomaly(read: Read, members: list[Any], t0: float) -> dict[str, Any]:
    """The anomaly for a read that returned elements never added."""
    shown = ", ".join(repr(m) for m in members[:10]) + (", ..." if len(members) > 10 else "")
    key = "" if read.invoke.key is None else f" of key {read.invoke.key!r}"
    explanation = (
        f"read{key} by process {read.invoke.process} at {read.done.time - t0:.2f} s returned "
        f"{len(members)} element(s) that no client added: {shown}")
    return {"kind": "unexpected", "explanation": explanation, "ops": [_read_dict(read, None)],
            "key": read.invoke.key, "elements": members}


# --------------------------------------------------------------------------- verdict


def _counts(outcomes: list[ElementOutcome]) -> dict[str, int]:
    """How many elements fell in each outcome (keys with ``_`` instead of ``-``)."""
    counts = {name.replace("-", "_"): 0 for name in OUTCOMES}
    for outcome in outcomes:
        counts[outcome.outcome.replace("-", "_")] += 1
    return counts


def _window_stats(lost: list[ElementOutcome], t0: float,
                  crash_time: float | None) -> dict[str, Any] | None:
    """The lost-write window as a JSON-ready dict (see :class:`LostWindow`), or None."""
    if not lost:
        return None
    acks = [o.ack.time - t0 for o in lost if o.ack is not None]
    first_absent = min(o.run[0].invoke.time for o in lost) - t0
    reference, when = ("crash", crash_time - t0) if crash_time is not None \
        else ("first absent read", first_absent)
    return {"count": len(lost), "first_ack": min(acks), "last_ack": max(acks),
            "first_absent": first_absent, "reference": reference, "reference_time": when,
            "window_s": when - min(acks)}


def _stats(history: History, outcomes: list[ElementOutcome], anomalies: list[dict[str, Any]],
           t0: float, crash_time: float | None) -> dict[str, Any]:
    """Counts per outcome, stale totals, the lost elements and the lost-write window."""
    lost = [o for o in outcomes if o.outcome == "lost"]
    stale = [a for a in anomalies if a["kind"] == "stale"]
    stats: dict[str, Any] = _counts(outcomes)
    stats.update(
        elements=len(outcomes),
        acknowledged=sum(o.ack is not None for o in outcomes),
        failed_present=sum(o.failed and o.outcome == "recovered" for o in outcomes),
        unexpected=sum(len(a["elements"]) for a in anomalies if a["kind"] == "unexpected"),
        adds=sum(1 for op in history if op.type == INVOKE and op.f == ADD),
        reads=sum(1 for op in history if op.type == INVOKE and op.f == READ),
        stale_reads=sum(a["stale_reads"] for a in stale),
        stale_latency_max_s=max((a["latency_s"] for a in stale), default=None),
        lost_elements=[o.element for o in lost],
        lost_window=_window_stats(lost, t0, crash_time),
    )
    return stats


def _summary(valid: bool | None, stats: dict[str, Any]) -> str:
    """One line such as ``"invalid: 3 of 120 acknowledged elements lost, ..."``."""
    status = {True: "valid", False: "invalid", None: "unknown"}[valid]
    parts = [f"{stats['lost']} of {stats['acknowledged']} acknowledged elements lost"]
    if stats["lost_window"] is not None:
        window = LostWindow(**stats["lost_window"])
        parts[0] += f" (within {window.window_s:.2f} s before the {window.reference})"
    parts += [f"{stats['stale']} stale", f"{stats['stable']} stable",
              f"{stats['never_read']} never read", f"{stats['recovered']} recovered"]
    if stats["unexpected"]:
        parts.append(f"{stats['unexpected']} unexpected")
    return f"{status}: " + ", ".join(parts)


def _anomalies(outcomes: list[ElementOutcome], unexpected: list[tuple[Read, list[Any]]],
               t0: float) -> list[dict[str, Any]]:
    """The lost anomalies, then the stale ones, then the unexpected ones."""
    anomalies = [_lost_anomaly(o, t0) for o in outcomes if o.outcome == "lost"]
    anomalies += [_stale_anomaly(o, t0) for o in outcomes if o.outcome == "stale"]
    anomalies += [_unexpected_anomaly(read, members, t0) for read, members in unexpected]
    return anomalies


def _malformed(exc: MalformedRead) -> Verdict:
    """The unknown verdict for a history whose reads cannot be interpreted."""
    return Verdict(NAME, None, f"unknown: {exc}",
                   anomalies=[{"kind": "malformed-read", "explanation": str(exc), "ops": []}])


def check(history: History, *, crash_time: float | None = None) -> Verdict:
    """Check that every acknowledged add survives in later reads (see the module docstring).

    ``crash_time`` (in the history's clock) is when the server was crashed, if known; the lost
    window is then measured back from it. ``valid`` is False when an acknowledged element is
    lost or a read shows an element never added, None when no acknowledged element was read
    after its acknowledgement or a read is malformed, True otherwise. ``anomalies`` hold one
    ``lost`` or ``stale`` entry per such element and one ``unexpected`` entry per read that
    first showed elements never added; ``stats`` hold the counts per outcome and
    ``lost_window`` (see :func:`lost_window`).
    """
    try:
        elements, reads = _collect(history)
    except MalformedRead as exc:
        return _malformed(exc)
    outcomes = _classify_all(elements, reads)
    t0 = _clock(history)
    anomalies = _anomalies(outcomes, _unexpected(elements, reads), t0)
    stats = _stats(history, outcomes, anomalies, t0, crash_time)
    valid = _validity(stats)
    return Verdict(NAME, valid, _summary(valid, stats), anomalies, stats)


def _validity(stats: dict[str, Any]) -> bool | None:
    """False on loss or unexpected elements; None when nothing acknowledged was read back."""
    if stats["lost"] or stats["unexpected"]:
        return False
    if stats["stable"] + stats["stale"] == 0:
        return None
    return True


def lost_window(verdict: Verdict) -> LostWindow | None:
    """How many acknowledged writes a set-full verdict lost and over what window, or None when
    none was lost (or the verdict is not a set-full one)."""
    data = verdict.stats.get("lost_window")
    return None if data is None else LostWindow(**data)

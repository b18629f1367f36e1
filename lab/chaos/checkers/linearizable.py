"""Linearizability checker for per-key read/write/cas register histories.

Method: the Wing & Gong tree search with Lowe's improvements ("Testing for linearizability",
G. Lowe, Concurrency and Computation 2017), the algorithm behind Knossos' ``wgl`` checker and
Porcupine:

* P-compositionality (Herlihy & Wing): a history of independent keys is linearizable iff each
  key's sub-history is, so every key is searched on its own.
* A key's sub-history becomes a doubly linked list of call and return events in history order.
  A depth-first search repeatedly picks a call that precedes the first remaining return, applies
  the operation to the register, and unlinks the call and its return; when the first remaining
  entry is a return (that operation cannot be linearized any later) it backtracks.
* Memoization: a configuration is the set of linearized operations (bitsets) plus the
  register's value; a configuration seen before is never searched again.
* A reduction for the register model: a read that is legal when a configuration is entered is
  the only move tried there (if any linearization exists, one starts with that read).
* Operations that completed ``info`` or never completed have no return event (their return is
  at +infinity): they may be linearized at any point after their invocation, or never (they did
  not take effect). ``fail`` operations are dropped, and so are reads without an ``ok``, and
  unknown-outcome writes whose value no read returned and no cas expected (leaving them out
  changes no verdict, see :func:`_drop_unobservable`).

The tree search can be slow to REFUTE a long history: before answering no, it must exhaust
every alternative order of the operations before the violation. The "just-in-time
linearization" pass of Knossos' ``linear`` checker is not: it reads the events in order,
keeping every (minimal) configuration consistent with them, and stops at the first return event
no configuration can honour. As in Knossos' ``competition`` checker, both get to run: a key
whose search exceeds a step budget gets a turn of that pass, and the two alternate with growing
budgets until one answers. The pass also explains violations: the operation at that return ends the
shortest failing prefix, and altering its result shows exactly which register values it could
have observed.

The register of each key starts absent (``None``). ``read`` is ok when its result equals the
register; ``write`` sets the invocation's value; ``cas`` with value ``[expected, new]`` is ok
when the register equals ``expected`` and then holds ``new``. Values are compared as JSON values
(``true`` differs from ``1``; lists and tuples are the same). Verdicts are never guessed:
running out of ``time_limit`` gives ``valid=None`` unless a violation was already proven.

Cost: linear in the number of operations when few operations on a key overlap (the 100,000
operations over 1,000 keys of the acceptance test take about half a second on two cores),
exponential in the worst case in the number of concurrent operations on one key, as for every
exact checker (the problem is NP-complete, Gibbons & Korach 1997). Spreading a workload over
many keys keeps the per-key concurrency low.
"""

from __future__ import annotations

import bisect
import heapq
import json
import time
from dataclasses import dataclass, field
from typing import Any

from lab.chaos.checkers import Verdict
from lab.chaos.history import FAIL, INFO, INVOKE, OK, History, Op, operation_dict

NAME = "linearizable"
READ, WRITE, CAS = 0, 1, 2
FUNCTIONS = {"read": READ, "write": WRITE, "cas": CAS}
INITIAL: Any = None
CHECK_EVERY = 1024  # search steps between two looks at the clock
FIRST_BUDGET = 50  # search steps per event before the just-in-time pass gets a turn
MAX_DIAGNOSED = 10  # keys whose violation gets a full explanation
MAX_LISTED_OPS = 20  # operations listed in an explanation-less anomaly


class _OutOfTime(Exception):
    pass


@dataclass(frozen=True, slots=True)
class _Bool:
    """A JSON boolean, kept apart from the numbers 0 and 1 it equals in Python."""

    value: bool


@dataclass
class _KeyHistory:
    """One key's operations, prepared for the search.

    ``kinds[o]`` and ``args[o]`` describe operation ``o`` (``args``: a read's observed value, a
    write's value, a cas' ``(expected, new)``, all frozen); ``pairs[o]`` is its invocation and
    completion; ``events`` lists ``o << 1`` (call) and ``o << 1 | 1`` (return) in history order.
    ``problem`` says why the key cannot be checked (an operation the register does not know).
    ``completed`` holds the operations with a return event; ``invoked`` the history index of
    every invocation on the key that did not fail; ``unobservable`` the unknown-outcome
    operations left out of ``events`` by :func:`_drop_unobservable`.
    """

    key: str | None
    kinds: list[int] = field(default_factory=list)
    args: list[Any] = field(default_factory=list)
    pairs: list[tuple[Op, Op | None]] = field(default_factory=list)
    events: list[int] = field(default_factory=list)
    originals: dict[Any, Any] = field(default_factory=dict)
    problem: str | None = None
    completed: set[int] = field(default_factory=set)
    invoked: list[int] = field(default_factory=list)
    unobservable: set[int] = field(default_factory=set)


@dataclass
class _Diagnosis:
    """The first operation whose return no configuration can honour, and the register values
    wherever it could take effect (``None`` when time ran out computing them)."""

    culprit: int
    states: set[Any] | None


@dataclass
class _Sweep:
    """The state of a just-in-time pass (see :func:`_sweep`): the configurations, as
    (completed-operation bits, unknown-operation bits, register value); the pending operations
    and their bits; the bits free for reuse (a heap) and the next never used bit."""

    configs: list[tuple[int, int, Any]]
    pending: dict[int, int] = field(default_factory=dict)
    unknown: set[int] = field(default_factory=set)
    free: list[int] = field(default_factory=list)
    next_bit: int = 0

    def copy(self) -> _Sweep:
        return _Sweep(list(self.configs), dict(self.pending), set(self.unknown), list(self.free),
                      self.next_bit)

    def retire(self) -> None:
        """Forget the unknown-outcome operations linearized in every configuration: nothing
        about them is left to decide, and each would slow every later step."""
        common = -1
        for _, unknown, _ in self.configs:
            common &= unknown
        if common <= 0:
            return
        for oid in [oid for oid in self.unknown if common >> self.pending[oid] & 1]:
            self.unknown.discard(oid)
            heapq.heappush(self.free, self.pending.pop(oid))
        self.configs = list({(core, unknown & ~common, state)
                             for core, unknown, state in self.configs})

    def invoke(self, oid: int, unknown: bool) -> None:
        """Give the invoked operation a bit (its outcome ``unknown``: it never returns)."""
        self.pending[oid] = heapq.heappop(self.free) if self.free else self.next_bit
        if self.pending[oid] == self.next_bit:
            self.next_bit += 1
        if unknown:
            self.unknown.add(oid)


class _Antichain:
    """Configurations kept minimal: among those with the same completed-operation bits and
    register value, one whose unknown-operation bits include another's is dominated (it can do
    nothing the other cannot, as unknown operations may be left out) and is not kept."""

    def __init__(self) -> None:
        self.masks: dict[tuple[int, Any], list[int]] = {}

    def add(self, core: int, unknown: int, state: Any) -> bool:
        """Keep the configuration unless dominated; returns whether it was kept."""
        return _novel(self.masks, (core, state), unknown)

    def configs(self) -> list[tuple[int, int, Any]]:
        return [(core, mask, state) for (core, state), masks in self.masks.items()
                for mask in masks]

    def states(self) -> set[Any]:
        return {state for _, state in self.masks}


def check(history: History, time_limit: float = 10.0) -> Verdict:
    """Check that ``history`` is linearizable, key by key, as a read/write/cas register.

    Returns ``valid=True`` when every key has a linearization, ``False`` when at least one key
    provably has none (one anomaly per such key, naming the key, the operation that cannot be
    linearized and the operations involved), and ``None`` when ``time_limit`` seconds ran out
    before an answer, or when a key holds operations other than read/write/cas (and no violation
    was found elsewhere).
    """
    started = time.perf_counter()
    deadline = started + time_limit
    keys = _prepare(history)
    invalid: list[tuple[_KeyHistory, int | None]] = []
    unchecked: list[_KeyHistory] = []
    steps = 0
    for position, kh in enumerate(keys.values()):
        if kh.problem is not None:
            unchecked.append(kh)
            continue
        try:
            found, used, culprit = _check_key(kh, deadline)
        except _OutOfTime:
            unchecked.extend(list(keys.values())[position:])
            break
        steps += used
        if not found:
            invalid.append((kh, culprit))
    anomalies = [_anomaly(kh, culprit, deadline) if n < MAX_DIAGNOSED else _plain_anomaly(kh)
                 for n, (kh, culprit) in enumerate(invalid)]
    stats = _stats(history, keys, len(invalid), unchecked, steps, time.perf_counter() - started)
    return _verdict(keys, len(invalid), unchecked, anomalies, stats, time_limit)


# --------------------------------------------------------------------------- preparation


def _prepare(history: History) -> dict[str | None, _KeyHistory]:
    """Split ``history`` into per-key sub-histories of the operations the search needs."""
    completion = {invoke.index: done for invoke, done in history.pairs()}
    keys: dict[str | None, _KeyHistory] = {}
    returns: dict[int, int] = {}  # completion index -> operation number within its key
    for op in history.ops:
        if op.type != INVOKE:
            oid = returns.pop(op.index, None)
            if oid is not None:
                keys[op.key].events.append(oid << 1 | 1)
            continue
        kh = keys.get(op.key)
        if kh is None:
            kh = keys[op.key] = _KeyHistory(op.key)
        done = completion[op.index]
        if done is None or done.type != FAIL:
            kh.invoked.append(op.index)
        oid = _add_operation(kh, op, done)
        if oid is not None and done is not None and done.type == OK:
            returns[done.index] = oid
            kh.completed.add(oid)
    for kh in keys.values():
        _drop_unobservable(kh)
    return keys


def _drop_unobservable(kh: _KeyHistory) -> None:
    """Leave out the unknown-outcome writes and cas whose new value no read returned and no cas
    expects. Sound: in any linearization, such an operation can be removed, since until the
    next write nothing observes the value it wrote. It spares the search from choosing, for
    every one of them, whether and where it took effect."""
    observed = set()
    for oid, kind in enumerate(kh.kinds):
        if kind == READ:
            observed.add(kh.args[oid])
        elif kind == CAS:
            observed.add(kh.args[oid][0])
    dropped = set()
    for oid, kind in enumerate(kh.kinds):
        if oid not in kh.completed and kind != READ:
            written = kh.args[oid] if kind == WRITE else kh.args[oid][1]
            if written not in observed:
                dropped.add(oid)
    if dropped:
        kh.events = [event for event in kh.events if event >> 1 not in dropped]
        kh.unobservable = dropped


def _add_operation(kh: _KeyHistory, invoke: Op, done: Op | None) -> int | None:
    """Append one operation's call event to ``kh``; returns its number, or ``None`` when the
    operation is dropped (failed, an unconfirmed read, or unusable)."""
    outcome = done.type if done is not None else INFO
    kind = FUNCTIONS.get(invoke.f)
    if outcome == FAIL or kh.problem is not None:
        return None
    if kind is None:
        kh.problem = f"{invoke.f} (event {invoke.index}) is not a register operation"
        return None
    if kind == READ:
        if outcome != OK:
            return None
        assert done is not None  # an ok completion
        arg: Any = _freeze(done.value, kh.originals)
    elif kind == WRITE:
        arg = _freeze(invoke.value, kh.originals)
    else:
        if not isinstance(invoke.value, list | tuple) or len(invoke.value) != 2:
            kh.problem = (f"cas (event {invoke.index}) needs value [expected, new], "
                          f"got {invoke.value!r}")
            return None
        arg = (_freeze(invoke.value[0], kh.originals), _freeze(invoke.value[1], kh.originals))
    oid = len(kh.kinds)
    kh.kinds.append(kind)
    kh.args.append(arg)
    kh.pairs.append((invoke, done))
    kh.events.append(oid << 1)
    return oid


def _freeze(value: Any, originals: dict[Any, Any]) -> Any:
    """A hashable stand-in for a JSON value, equal exactly when the JSON values are equal;
    ``originals`` maps it back."""
    if isinstance(value, bool):
        frozen: Any = _Bool(value)
    elif isinstance(value, list | tuple):
        frozen = tuple(_freeze(item, originals) for item in value)
    elif isinstance(value, dict):
        frozen = frozenset((k, _freeze(v, originals)) for k, v in value.items())
    else:
        frozen = value
    originals.setdefault(frozen, value)
    return frozen


# --------------------------------------------------------------------------- search


def _check_key(kh: _KeyHistory, deadline: float) -> tuple[bool, int, int | None]:
    """Decide one key: (linearizable?, search steps, the operation ending the shortest failing
    prefix when the just-in-time pass found it). The tree search and the pass alternate until
    one answers, the search's step budget growing fourfold each round and the pass getting
    twice the search's last time, or four times its own last turn if longer. Raises
    :class:`_OutOfTime` after ``deadline``."""
    budget = FIRST_BUDGET * len(kh.events) + CHECK_EVERY
    spent, turn_length = 0, 0.0
    while True:
        started = time.perf_counter()
        found, steps = _search(kh, deadline, budget)
        spent += steps
        if found is not None:
            return found, spent, None
        now = time.perf_counter()
        turn_length = max(2 * (now - started), 4 * turn_length, 0.001)
        turn = min(deadline, now + turn_length)
        try:
            _, failed = _sweep(kh, _Sweep([(0, 0, INITIAL)]), 0, len(kh.events), kh.args, turn)
        except _OutOfTime:
            if time.perf_counter() > deadline:
                raise
            budget *= 4
            continue
        return failed is None, spent, None if failed is None else kh.events[failed] >> 1


def _step(kind: int, arg: Any, state: Any) -> tuple[bool, Any]:
    """Apply one operation to the register: (whether it is legal, the new value)."""
    if kind == READ:
        return state == arg, state
    if kind == WRITE:
        return True, arg
    return state == arg[0], arg[1]


def _search(kh: _KeyHistory, deadline: float, budget: int) -> tuple[bool | None, int]:
    """Wing & Gong / Lowe search of one key: (whether a linearization exists, or ``None`` when
    ``budget`` steps did not tell; steps taken). Raises :class:`_OutOfTime` after ``deadline``
    (``time.perf_counter`` seconds).

    The set of linearized operations is kept in three small ints rather than one bitset over
    all operations, so that a step costs O(1) even on a key with 100,000 operations: the
    completed operations, numbered in call order, as ``base`` (all below it are linearized)
    plus ``window`` (bit ``i``: operation ``base + i``); the unknown ones as ``unknown``.

    Reads that are legal when a configuration is entered are taken first and alone: if the
    configuration has a linearization at all, it has one that starts with such a read (moving
    a read earlier changes no value, and every operation it must follow is linearized already),
    so no other choice is tried there.
    """
    if time.perf_counter() > deadline:
        raise _OutOfTime
    events = kh.events
    if not events:
        return True, 0
    nxt, prv, match, rank = _links(events)
    head = len(events)
    kinds, args = kh.kinds, kh.args
    open_returns = sum(event & 1 for event in events)
    stack: list[tuple[int, Any, int, int, int, bool]] = []
    seen: set[tuple[int, int, int, Any]] = set()
    state, base, window, unknown, steps = INITIAL, 0, 0, 0, 0
    entry, fresh, forced = nxt[head], True, False
    while open_returns:
        steps += 1
        if not steps % CHECK_EVERY:
            if time.perf_counter() > deadline:
                raise _OutOfTime
            if steps >= budget:
                return None, steps
        if fresh:
            read = _legal_read(nxt[head], events, nxt, kinds, args, state)
            entry, fresh, forced = (read, False, True) if read >= 0 else (nxt[head], False, False)
        event = events[entry]
        if not event & 1:
            oid = event >> 1
            kind = kinds[oid]
            if kind == READ:
                legal, new_state = state == args[oid], state
            elif kind == WRITE:
                legal, new_state = True, args[oid]
            else:
                legal, new_state = state == args[oid][0], args[oid][1]
            if legal:
                if match[entry] >= 0:
                    new_window = window | 1 << (rank[entry] - base)
                    shift = (~new_window & (new_window + 1)).bit_length() - 1
                    config = (base + shift, new_window >> shift, unknown, new_state)
                else:
                    config = (base, window, unknown | 1 << rank[entry], new_state)
                if config not in seen:
                    seen.add(config)
                    stack.append((entry, state, base, window, unknown, forced))
                    base, window, unknown, state = config
                    _lift(entry, match[entry], nxt, prv)
                    if match[entry] >= 0:
                        open_returns -= 1
                    fresh = True
                    continue
            if not forced:
                entry = nxt[entry]
                continue
        # A return comes first, or the forced read leads to a configuration that failed:
        # this configuration fails; undo moves up to the last one that was a free choice.
        while True:
            if not stack:
                return False, steps
            entry, state, base, window, unknown, forced = stack.pop()
            _unlift(entry, match[entry], nxt, prv)
            if match[entry] >= 0:
                open_returns += 1
            if not forced:
                break
        entry = nxt[entry]
    return True, steps


def _legal_read(entry: int, events: list[int], nxt: list[int], kinds: list[int],
                args: list[Any], state: Any) -> int:
    """The first call entry from ``entry`` on, before the first return, of a read that
    ``state`` makes legal; ``-1`` when there is none."""
    while entry >= 0:
        event = events[entry]
        if event & 1:
            return -1
        if kinds[event >> 1] == READ and args[event >> 1] == state:
            return entry
        entry = nxt[entry]
    return -1


def _novel(seen: dict[Any, list[int]], config: Any, unknown: int) -> bool:
    """Record ``config`` with the unknown-outcome operations ``unknown`` (a bitset) in ``seen``
    unless it is dominated: seen before with a subset of those operations. (Used by the
    just-in-time pass; in the tree search the check costs more than it saves.)"""
    masks = seen.get(config)
    if masks is None:
        seen[config] = [unknown]
        return True
    for mask in masks:
        if not mask & ~unknown:
            return False
    masks[:] = [mask for mask in masks if unknown & ~mask]
    masks.append(unknown)
    return True


def _links(events: list[int]) -> tuple[list[int], list[int], list[int], list[int]]:
    """The doubly linked event list of :func:`_search`: ``nxt`` and ``prv`` (the head sentinel
    is entry ``len(events)``, ``-1`` ends the list); for a call entry, ``match`` is its return
    entry (``-1``: none, an unknown outcome) and ``rank`` its number among the calls with (or
    without) a return, in call order."""
    size = len(events)
    nxt = list(range(1, size + 1)) + [0]
    nxt[size - 1] = -1
    prv = list(range(-1, size))
    prv[0] = size
    match = [-1] * size
    rank = [-1] * size
    calls: dict[int, int] = {}
    for pos, event in enumerate(events):
        if event & 1:
            match[calls[event >> 1]] = pos
        else:
            calls[event >> 1] = pos
    counts = [0, 0]
    for pos, event in enumerate(events):
        if not event & 1:
            completed = match[pos] >= 0
            rank[pos] = counts[completed]
            counts[completed] += 1
    return nxt, prv, match, rank


def _lift(call: int, ret: int, nxt: list[int], prv: list[int]) -> None:
    """Unlink a call event and its return event (``ret < 0``: none)."""
    before, after = prv[call], nxt[call]
    nxt[before] = after
    if after >= 0:
        prv[after] = before
    if ret >= 0:
        before, after = prv[ret], nxt[ret]
        nxt[before] = after
        if after >= 0:
            prv[after] = before


def _unlift(call: int, ret: int, nxt: list[int], prv: list[int]) -> None:
    """Undo :func:`_lift` (dancing links: valid when undone in reverse order)."""
    if ret >= 0:
        nxt[prv[ret]] = ret
        if nxt[ret] >= 0:
            prv[nxt[ret]] = ret
    nxt[prv[call]] = call
    if nxt[call] >= 0:
        prv[nxt[call]] = call


# --------------------------------------------------------------------------- diagnosis


def _diagnose(kh: _KeyHistory, culprit: int | None, deadline: float) -> _Diagnosis | None:
    """The operation whose return ends the shortest failing prefix of ``kh`` (found by a
    just-in-time pass unless ``culprit`` is given; ``None`` when there is none) and, time
    permitting, the exact register values at which it could have taken effect. Raises
    :class:`_OutOfTime` when even the first part runs out."""
    if culprit is None:
        _, failed = _sweep(kh, _Sweep([(0, 0, INITIAL)]), 0, len(kh.events), kh.args, deadline)
        if failed is None:
            return None
        culprit = kh.events[failed] >> 1
    try:
        states = _possible_states(kh, culprit, deadline)
    except _OutOfTime:
        states = None
    return _Diagnosis(culprit, states)


def _possible_states(kh: _KeyHistory, culprit: int, deadline: float) -> set[Any] | None:
    """The values ``s`` such that the events up to ``culprit``'s return become linearizable
    when the read ``culprit`` returns ``s`` (a cas: expects ``s``): exactly the values the
    register can hold where the operation takes effect, leaving aside the unobservable
    operations. Candidates are the values met by a pass over the operation's interval; each is
    confirmed by a pass with the operation so altered."""
    if kh.kinds[culprit] == WRITE:
        return None
    call, stop = kh.events.index(culprit << 1), kh.events.index(culprit << 1 | 1) + 1
    start, _ = _sweep(kh, _Sweep([(0, 0, INITIAL)]), 0, call, kh.args, deadline)
    candidates: set[Any] = set()
    _sweep(kh, start.copy(), call, stop, kh.args, deadline, candidates)
    possible = set()
    for value in candidates:
        args = list(kh.args)
        args[culprit] = value if kh.kinds[culprit] == READ else (value, kh.args[culprit][1])
        _, bad = _sweep(kh, start.copy(), call, stop, args, deadline)
        if bad is None:
            possible.add(value)
    return possible


def _sweep(kh: _KeyHistory, sweep: _Sweep, start: int, stop: int, args: list[Any],
           deadline: float, watch: set[Any] | None = None) -> tuple[_Sweep, int | None]:
    """Knossos-style just-in-time pass over ``kh.events[start:stop]``, updating ``sweep`` so
    that it holds every configuration consistent with the events so far (pending operations are
    linearized only when some return requires it). Returns ``sweep`` and the position of the
    first return event no configuration can honour (then stops), or ``None``. ``watch``
    collects every register value met. Raises :class:`_OutOfTime` after ``deadline``."""
    for position in range(start, stop):
        event = kh.events[position]
        oid = event >> 1
        if not event & 1:
            sweep.invoke(oid, oid not in kh.completed)
            if watch is not None:
                watch.update(state for _, _, state in sweep.configs)
            continue
        if time.perf_counter() > deadline:
            raise _OutOfTime
        bit = sweep.pending.pop(oid)
        sweep.configs = _advance(kh, sweep, oid, bit, args, deadline, watch)
        heapq.heappush(sweep.free, bit)
        if not sweep.configs:
            return sweep, position
        sweep.retire()
    return sweep, None


def _advance(kh: _KeyHistory, sweep: _Sweep, oid: int, bit: int, args: list[Any],
             deadline: float, watch: set[Any] | None) -> list[tuple[int, int, Any]]:
    """The configurations after operation ``oid`` (bit ``bit``) returns: each old one in which
    it was linearized, or that can linearize it after some pending operations. Only minimal
    configurations are kept (see :class:`_Antichain`; a pending read legal now is taken at
    once, which dominates leaving it for later), so the set decides the same as the full one
    and meets the same register values."""
    mask = 1 << bit
    kinds = kh.kinds
    others = [(other, other_bit, other in sweep.unknown)
              for other, other_bit in sweep.pending.items()]
    after, seen = _Antichain(), _Antichain()
    nodes = 0
    for core, unknown, state in sweep.configs:
        if core & mask:
            after.add(core & ~mask, unknown, state)
            continue
        todo = [(core, unknown, state)]
        while todo:
            core, unknown, state = todo.pop()
            if not seen.add(core, unknown, state):
                continue
            nodes += 1
            if not nodes % CHECK_EVERY and time.perf_counter() > deadline:
                raise _OutOfTime
            legal, new_state = _step(kinds[oid], args[oid], state)
            if legal:
                after.add(core, unknown, new_state)
            done = core | unknown
            read = _pending_read(kinds, args, others, done, state)
            if read >= 0:  # it dominates every other choice, as in the tree search
                todo.append((core | 1 << read, unknown, state))
                continue
            for other, other_bit, is_unknown in others:
                if not done >> other_bit & 1:
                    legal, new_state = _step(kinds[other], args[other], state)
                    if legal and is_unknown:
                        todo.append((core, unknown | 1 << other_bit, new_state))
                    elif legal:
                        todo.append((core | 1 << other_bit, unknown, new_state))
    if watch is not None:
        watch.update(seen.states())
        watch.update(after.states())
    return after.configs()


def _pending_read(kinds: list[int], args: list[Any], others: list[tuple[int, int, bool]],
                  done: int, state: Any) -> int:
    """The bit of a pending, not yet linearized read that ``state`` makes legal, or ``-1``."""
    for other, other_bit, _ in others:
        if kinds[other] == READ and not done >> other_bit & 1 and args[other] == state:
            return other_bit
    return -1


# --------------------------------------------------------------------------- reporting


def _anomaly(kh: _KeyHistory, culprit: int | None, deadline: float) -> dict[str, Any]:
    """The anomaly of a key without linearization, explained as far as :func:`_diagnose` gets
    before ``deadline``."""
    try:
        diagnosis = _diagnose(kh, culprit, deadline)
    except _OutOfTime:
        diagnosis = None
    if diagnosis is None:
        return _plain_anomaly(kh)
    return _explained_anomaly(kh, diagnosis)


def _plain_anomaly(kh: _KeyHistory) -> dict[str, Any]:
    """Nothing known beyond the search's answer: list the key's operations."""
    count = len(kh.pairs)
    return {
        "kind": "not-linearizable",
        "key": kh.key,
        "explanation": (f"no order of the {count} operations on key {kh.key!r} is consistent "
                        "with a register and with their real-time order (the shortest failing "
                        "prefix was not computed)"),
        "short": f"key {kh.key!r}: no linearization of its {count} operations",
        "ops": [operation_dict(*pair) for pair in kh.pairs[:MAX_LISTED_OPS]],
        "ops_omitted": max(0, count - MAX_LISTED_OPS),
    }


def _explained_anomaly(kh: _KeyHistory, diagnosis: _Diagnosis) -> dict[str, Any]:
    """Explain the operation whose return ends the shortest failing prefix of ``kh``."""
    oid = diagnosis.culprit
    invoke, done = kh.pairs[oid]
    assert done is not None  # only operations with a return event can fail to linearize
    prefix = [other for other, (call, _) in enumerate(kh.pairs) if call.index < done.index]
    operations = bisect.bisect_left(kh.invoked, done.index)
    others = operations - 1
    who = f"by process {invoke.process} (events {invoke.index}-{done.index})"
    wanted = kh.args[oid] if kh.kinds[oid] == READ else kh.args[oid][0]
    if kh.kinds[oid] == READ:
        action = f"read of key {kh.key!r} {who} returned {_text(kh, wanted)}"
        short = f"read by process {invoke.process} returned {_text(kh, wanted)}"
    elif kh.kinds[oid] == CAS:
        action = (f"cas of key {kh.key!r} {who} from {_text(kh, wanted)} to "
                  f"{_text(kh, kh.args[oid][1])} succeeded")
        short = f"cas by process {invoke.process} found {_text(kh, wanted)}"
    else:
        action = f"{_phrase(kh, oid)} on key {kh.key!r}"
        short = f"write by process {invoke.process}"
    involved = [oid]
    prefix = [other for other in prefix if other != oid]
    sources = _sources(kh, prefix, [wanted] if kh.kinds[oid] != WRITE else [], involved)
    base = {"kind": "not-linearizable", "key": kh.key, "prefix_operations": operations}
    if diagnosis.states is None:
        explanation = (f"{action}, and no order of the {others} other operations on key "
                       f"{kh.key!r} invoked before it returned is consistent with it, with their "
                       "real-time order and with a register (time ran out before the values the "
                       "register could hold there were computed)")
        return {**base, "explanation": _join(explanation, sources),
                "short": f"key {kh.key!r}: {short}, which no order of the operations allows",
                "ops": [operation_dict(*kh.pairs[o]) for o in involved]}
    states = _ordered(diagnosis.states)
    held = _values_text(kh, diagnosis.states)
    sources += _sources(kh, prefix, states[:3], involved)
    unseen = sum(1 for other in prefix if other in kh.unobservable)
    aside = ""
    if unseen:
        writers = ("an operation" if unseen == 1 else f"one of {unseen} operations")
        aside = f" (or the unobserved value written by {writers} of unknown outcome)"
    explanation = (f"{action}, but in every order of the {others} other operations on key "
                   f"{kh.key!r} invoked before it returned that respects their real-time order "
                   f"and the register's semantics, the register held {held}{aside} wherever the "
                   f"{invoke.f} could take effect")
    return {**base, "explanation": _join(explanation, sources),
            "short": f"key {kh.key!r}: {short} but the register could only hold {held}",
            "ops": [operation_dict(*kh.pairs[o]) for o in involved],
            "possible_values": [kh.originals.get(v, v) for v in states[:10]]}


def _sources(kh: _KeyHistory, prefix: list[int], values: list[Any],
             involved: list[int]) -> list[str]:
    """For each value, which operation of ``prefix`` last wrote it (adding it to
    ``involved``), or that none did."""
    notes = []
    for value in values:
        writer = _last_writer(kh, prefix, value)
        if writer is not None:
            notes.append(f"{_text(kh, value)} was written by the {_phrase(kh, writer)}")
            if writer not in involved:
                involved.append(writer)
        elif value is not INITIAL:
            notes.append(f"no operation on key {kh.key!r} invoked before it returned wrote "
                         f"{_text(kh, value)}")
    return notes


def _join(sentence: str, notes: list[str]) -> str:
    return "; ".join([sentence, *notes])


def _last_writer(kh: _KeyHistory, prefix: list[int], value: Any) -> int | None:
    """The last operation of ``prefix`` (by invocation) that writes ``value``, if any."""
    for oid in reversed(prefix):
        kind = kh.kinds[oid]
        if (kind == WRITE and kh.args[oid] == value) or (kind == CAS and kh.args[oid][1] == value):
            return oid
    return None


def _phrase(kh: _KeyHistory, oid: int) -> str:
    """E.g. ``write of 2 by process 1 at events 4-7``."""
    invoke, done = kh.pairs[oid]
    if done is not None and done.type == OK:
        span = f"at events {invoke.index}-{done.index}"
    else:
        span = f"invoked at event {invoke.index} (outcome unknown)"
    if kh.kinds[oid] == WRITE:
        what = f"write of {_text(kh, kh.args[oid])}"
    else:
        what = f"cas from {_text(kh, kh.args[oid][0])} to {_text(kh, kh.args[oid][1])}"
    return f"{what} by process {invoke.process} {span}"


def _text(kh: _KeyHistory, frozen: Any) -> str:
    """A register value for people: JSON, or ``nothing (key absent)``."""
    if frozen is INITIAL:
        return "nothing (key absent)"
    return json.dumps(kh.originals.get(frozen, frozen), default=repr)


def _ordered(values: set[Any]) -> list[Any]:
    return sorted(values, key=repr)


def _values_text(kh: _KeyHistory, values: set[Any]) -> str:
    """``2``, ``1 or 2``, ``one of 1, 2, 3`` or ``one of 1, 2, 3, 4, 5 (and 3 more)``."""
    texts = [_text(kh, value) for value in _ordered(values)]
    if len(texts) == 1:
        return texts[0]
    if len(texts) == 2:
        return " or ".join(texts)
    more = f" (and {len(texts) - 5} more)" if len(texts) > 5 else ""
    return "one of " + ", ".join(texts[:5]) + more


def _stats(history: History, keys: dict[str | None, _KeyHistory], invalid: int,
           unchecked: list[_KeyHistory], steps: int, seconds: float) -> dict[str, Any]:
    return {
        "events": len(history),
        "operations": sum(1 for op in history.ops if op.type == INVOKE),
        "searched_operations": sum(len(kh.events) - len(kh.completed) for kh in keys.values()),
        "unobservable_operations": sum(len(kh.unobservable) for kh in keys.values()),
        "keys": len(keys),
        "invalid_keys": invalid,
        "unchecked_keys": len(unchecked),
        "search_steps": steps,
        "seconds": round(seconds, 6),
    }


def _verdict(keys: dict[str | None, _KeyHistory], invalid: int,
             unchecked: list[_KeyHistory], anomalies: list[dict[str, Any]],
             stats: dict[str, Any], time_limit: float) -> Verdict:
    timed_out = any(kh.problem is None for kh in unchecked)
    problems = [kh for kh in unchecked if kh.problem is not None]
    gaps = []
    if timed_out:
        gaps.append(f"time limit of {time_limit:g} s reached with "
                    f"{len(unchecked) - len(problems)} of {len(keys)} keys unchecked")
    if problems:
        gaps.append(f"{len(problems)} key(s) hold operations a register cannot check, e.g. key "
                    f"{problems[0].key!r}: {problems[0].problem}")
    if invalid:
        summary = (f"not linearizable: {invalid} of {len(keys)} keys have no "
                   f"linearization; first: {anomalies[0]['short']}")
        if gaps:
            summary += " (" + "; ".join(gaps) + ")"
        return Verdict(NAME, False, summary, anomalies, stats)
    if gaps:
        return Verdict(NAME, None, "unknown: " + "; ".join(gaps), [], stats)
    summary = (f"linearizable: {stats['operations']} operations on {len(keys)} keys "
               f"({stats['searched_operations']} searched)")
    return Verdict(NAME, True, summary, [], stats)

"""Delta debugging: shrink a failing fault schedule (and operation list) to a 1-minimal one.

Method: Zeller & Hildebrandt's ``ddmin`` ("Simplifying and Isolating Failure-Inducing Input",
IEEE TSE 2002). The current failing configuration is split into ``n`` chunks (``n`` = 2 at
first). If some chunk alone still fails, it becomes the configuration and ``n`` goes back to 2
("reduce to subset"); otherwise if some complement (the configuration minus one chunk) fails,
it becomes the configuration and ``n`` drops by one ("reduce to complement"); otherwise ``n``
doubles, up to one item per chunk. When no single item can be removed at that finest
granularity the result is 1-minimal: removing any one item makes the failure go away.

The predicate is expensive (each call replays a fault schedule against a real server), so:

* results are cached by the tuple of original indices tested, and only uncached calls count;
* ``max_tests`` bounds the number of predicate calls and ``deadline`` (a ``time.monotonic``
  value) the wall time; when either runs out the smallest failing configuration found so far
  is returned with ``complete=False`` (it still fails, but may not be 1-minimal).

``ddmin`` assumes ``fails(items)`` is true and does not spend a call to check it unless asked
(``verify=True``). Order is preserved: the result is a subsequence of ``items``.

``shrink_pair`` applies ``ddmin`` twice, as the chaos runner needs: first to the fault schedule
with the operation list fixed, then to the operation list with the shrunk schedule fixed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
FaultT = TypeVar("FaultT")
OpT = TypeVar("OpT")

Indices = tuple[int, ...]


@dataclass(frozen=True)
class ShrinkResult(Generic[T]):
    """Outcome of one ``ddmin`` run.

    ``items`` is the smallest failing subsequence found, ``original`` the length of the input,
    ``tests`` the number of predicate calls made (cache hits excluded), and ``complete`` is true
    when ``items`` is 1-minimal (false when the budget or deadline stopped the search first).
    """

    items: list[T]
    original: int
    tests: int
    complete: bool

    def summary(self, noun: str = "faults") -> str:
        """One line such as ``"37 faults -> 2 (23 replays)"``; ``, incomplete`` when cut off."""
        replays = f"{self.tests} replay{'' if self.tests == 1 else 's'}"
        if not self.complete:
            replays += ", incomplete"
        return f"{self.original} {noun} -> {len(self.items)} ({replays})"


@dataclass(frozen=True)
class PairShrinkResult(Generic[FaultT, OpT]):
    """Outcome of ``shrink_pair``: the fault schedule's shrink, then the operation list's."""

    faults: ShrinkResult[FaultT]
    ops: ShrinkResult[OpT]

    @property
    def tests(self) -> int:
        """Predicate calls made by both phases together."""
        return self.faults.tests + self.ops.tests

    @property
    def complete(self) -> bool:
        """True when both phases reached a 1-minimal result."""
        return self.faults.complete and self.ops.complete

    def summary(self) -> str:
        """One line such as ``"37 faults -> 2, 500 ops -> 12 (60 replays)"``."""
        replays = f"{self.tests} replay{'' if self.tests == 1 else 's'}"
        if not self.complete:
            replays += ", incomplete"
        return (
            f"{self.faults.original} faults -> {len(self.faults.items)}, "
            f"{self.ops.original} ops -> {len(self.ops.items)} ({replays})"
        )


class _OutOfBudget(Exception):
    """Raised inside the search when ``max_tests`` or the deadline is exhausted."""


@dataclass
class _Oracle(Generic[T]):
    """The predicate over index tuples, with a cache, a call budget and a deadline."""

    items: Sequence[T]
    fails: Callable[[list[T]], bool]
    max_tests: int
    deadline: float | None
    clock: Callable[[], float]
    tests: int = 0
    cache: dict[Indices, bool] = field(default_factory=dict)

    def __call__(self, indices: Indices) -> bool:
        """Whether the items at ``indices`` still fail; raises ``_OutOfBudget`` when spent."""
        if indices in self.cache:
            return self.cache[indices]
        if self.tests >= self.max_tests:
            raise _OutOfBudget
        if self.deadline is not None and self.clock() >= self.deadline:
            raise _OutOfBudget
        self.tests += 1
        result = bool(self.fails([self.items[i] for i in indices]))
        self.cache[indices] = result
        return result


def split(indices: Indices, n: int) -> list[Indices]:
    """``indices`` cut into ``n`` contiguous chunks whose lengths differ by at most one."""
    size, extra = divmod(len(indices), n)
    chunks: list[Indices] = []
    start = 0
    for k in range(n):
        end = start + size + (1 if k < extra else 0)
        chunks.append(indices[start:end])
        start = end
    return chunks


def _complement(chunks: list[Indices], skip: int) -> Indices:
    """All chunks but the one at ``skip``, concatenated in order."""
    return tuple(i for k, chunk in enumerate(chunks) if k != skip for i in chunk)


def _reduce_once(current: Indices, n: int, oracle: _Oracle[T]) -> tuple[Indices, int] | None:
    """One ddmin step at granularity ``n``: the smaller failing configuration and its next
    granularity, or None when neither a chunk nor a complement fails."""
    chunks = split(current, n)
    for chunk in chunks:
        if oracle(chunk):
            return chunk, 2
    if n > 2:  # with two chunks each complement is the other chunk, already tried
        for k in range(n):
            candidate = _complement(chunks, k)
            if oracle(candidate):
                return candidate, max(n - 1, 2)
    return None


def _ddmin_indices(current: Indices, oracle: _Oracle[T], best: list[Indices]) -> None:
    """Run ddmin from ``current``, keeping ``best[0]`` the smallest failing configuration.

    Returns when 1-minimal; raises ``_OutOfBudget`` (with ``best[0]`` still valid) otherwise.
    """
    n = 2
    while len(current) >= 2:
        step = _reduce_once(current, n, oracle)
        if step is not None:
            current, n = step
            best[0] = current
        elif n < len(current):
            n = min(2 * n, len(current))
        else:
            return


def ddmin(
    items: Sequence[T],
    fails: Callable[[list[T]], bool],
    *,
    max_tests: int = 200,
    deadline: float | None = None,
    verify: bool = False,
    clock: Callable[[], float] = time.monotonic,
) -> ShrinkResult[T]:
    """Shrink ``items`` to a 1-minimal subsequence on which ``fails`` is still true.

    ``fails(items)`` must be true (checked with one call when ``verify``; ``ValueError`` if
    not). At most ``max_tests`` distinct subsequences are tested, and none is started once
    ``clock()`` has reached ``deadline``; if either limit stops the search the smallest failing
    subsequence found so far comes back with ``complete=False``. ``fails`` always receives a
    fresh list in the original order and is never called twice with the same subsequence.
    """
    oracle = _Oracle(items, fails, max_tests, deadline, clock)
    everything = tuple(range(len(items)))
    best = [everything]
    complete = True
    try:
        if verify and not oracle(everything):
            raise ValueError("ddmin: the predicate does not fail on the full input")
        _ddmin_indices(everything, oracle, best)
    except _OutOfBudget:
        complete = False
    return ShrinkResult([items[i] for i in best[0]], len(items), oracle.tests, complete)


def shrink_pair(
    faults: Sequence[FaultT],
    ops: Sequence[OpT],
    fails: Callable[[list[FaultT], list[OpT]], bool],
    *,
    max_tests: int = 200,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> PairShrinkResult[FaultT, OpT]:
    """Shrink the fault schedule with ``ops`` fixed, then ``ops`` with the shrunk schedule fixed.

    ``fails(faults, ops)`` must be true for the inputs. ``max_tests`` and ``deadline`` bound
    both phases together: the operation phase gets the calls the fault phase left over (so a
    schedule that needs the whole budget leaves ``ops`` unshrunk, flagged incomplete).
    """
    op_list = list(ops)
    fault_result = ddmin(
        faults,
        lambda fs: fails(fs, op_list),
        max_tests=max_tests,
        deadline=deadline,
        clock=clock,
    )
    kept = list(fault_result.items)
    op_result = ddmin(
        op_list,
        lambda os_: fails(kept, os_),
        max_tests=max_tests - fault_result.tests,
        deadline=deadline,
        clock=clock,
    )
    return PairShrinkResult(fault_result, op_result)

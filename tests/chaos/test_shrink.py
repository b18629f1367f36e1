"""Tests for ``lab.chaos.shrink``: ddmin reduction, its budget, deadline and cache, and
``shrink_pair``."""

from __future__ import annotations

from collections import Counter

import pytest

from lab.chaos.shrink import ShrinkResult, ddmin, shrink_pair, split


class Recorder:
    """A predicate that fails when all of ``needed`` are present, counting every call."""

    def __init__(self, needed: set[int]) -> None:
        self.needed = needed
        self.calls: list[tuple[int, ...]] = []

    def __call__(self, items: list[int]) -> bool:
        self.calls.append(tuple(items))
        return self.needed <= set(items)


def test_split_is_even_and_ordered() -> None:
    assert split(tuple(range(7)), 3) == [(0, 1, 2), (3, 4), (5, 6)]
    assert split((4, 9), 2) == [(4,), (9,)]


def test_ddmin_finds_the_two_needed_items_of_forty() -> None:
    fails = Recorder({3, 17})
    result = ddmin(list(range(40)), fails)
    assert result.items == [3, 17]
    assert result.original == 40
    assert result.complete is True
    assert result.tests == len(fails.calls)
    assert 0 < result.tests < 200
    assert result.summary() == f"40 faults -> 2 ({result.tests} replays)"
    assert result.summary("ops").startswith("40 ops -> 2 (")


def test_ddmin_is_one_minimal_and_keeps_order() -> None:
    def fails(items: list[str]) -> bool:
        return {"a", "c"} <= set(items)

    result = ddmin(["a", "b", "c", "d", "e"], fails)
    assert result.items == ["a", "c"]
    # 1-minimal: dropping either survivor makes the failure disappear
    assert not fails(["a"]) and not fails(["c"])


def test_ddmin_single_cause() -> None:
    result = ddmin(list(range(16)), lambda xs: 11 in xs)
    assert result.items == [11]
    assert result.complete


def test_ddmin_never_repeats_a_subsequence() -> None:
    fails = Recorder({3, 17})
    result = ddmin(list(range(40)), fails)
    counts = Counter(fails.calls)
    assert max(counts.values()) == 1
    assert result.tests == len(counts)


def test_ddmin_cache_counts_only_distinct_calls_with_duplicates() -> None:
    # identical values at different positions are different subsequences to ddmin, but the
    # predicate is consulted at most once per tuple of indices
    calls: list[list[int]] = []

    def fails(items: list[int]) -> bool:
        calls.append(items)
        return items.count(7) >= 2

    result = ddmin([7, 1, 7, 1, 7, 1, 7, 1], fails)
    assert result.items == [7, 7]
    assert result.tests == len(calls)


def test_ddmin_respects_max_tests() -> None:
    fails = Recorder({3, 17})
    result = ddmin(list(range(40)), fails, max_tests=5)
    assert result.tests == 5 == len(fails.calls)
    assert result.complete is False
    assert {3, 17} <= set(result.items)  # the best-so-far still fails
    assert len(result.items) < 40
    assert result.summary().endswith("(5 replays, incomplete)")


def test_ddmin_zero_budget_returns_the_input() -> None:
    result = ddmin(list(range(10)), lambda xs: 3 in xs, max_tests=0)
    assert result == ShrinkResult(list(range(10)), 10, 0, False)


def test_ddmin_respects_deadline() -> None:
    now = [0.0]
    fails = Recorder({3, 17})

    def slow_fails(items: list[int]) -> bool:
        now[0] += 1.0  # each replay takes one (fake) second
        return fails(items)

    result = ddmin(list(range(40)), slow_fails, deadline=4.0, clock=lambda: now[0])
    assert result.tests == 4
    assert result.complete is False
    assert {3, 17} <= set(result.items)


def test_ddmin_deadline_already_past_makes_no_call() -> None:
    import time

    fails = Recorder({3})
    result = ddmin(list(range(8)), fails, deadline=time.monotonic() - 1.0)
    assert fails.calls == []
    assert result.items == list(range(8))
    assert result.complete is False


def test_ddmin_verify_rejects_a_passing_input() -> None:
    with pytest.raises(ValueError, match="does not fail"):
        ddmin([1, 2, 3], lambda xs: False, verify=True)


def test_ddmin_trivial_inputs() -> None:
    assert ddmin([], lambda xs: True) == ShrinkResult([], 0, 0, True)
    assert ddmin(["x"], lambda xs: True) == ShrinkResult(["x"], 1, 0, True)


def test_shrink_pair_shrinks_faults_then_ops() -> None:
    faults = [f"fault{i}" for i in range(12)]
    ops = list(range(30))
    def fails(fs: list[str], os_: list[int]) -> bool:
        return {"fault2", "fault9"} <= set(fs) and {4, 20, 21} <= set(os_)

    result = shrink_pair(faults, ops, fails)
    assert result.faults.items == ["fault2", "fault9"]
    assert result.ops.items == [4, 20, 21]
    assert result.complete
    assert result.tests == result.faults.tests + result.ops.tests
    assert result.summary() == f"12 faults -> 2, 30 ops -> 3 ({result.tests} replays)"


def test_shrink_pair_shares_the_budget() -> None:
    calls = [0]

    def fails(fs: list[int], os_: list[int]) -> bool:
        calls[0] += 1
        return 5 in fs and 7 in os_

    result = shrink_pair(list(range(20)), list(range(20)), fails, max_tests=10)
    assert calls[0] == result.tests <= 10
    assert not result.complete
    assert 5 in result.faults.items and 7 in result.ops.items

"""Tests for ``lab.chaos.checkers.setfull``: lost, stable, stale, never-read and recovered
elements, unexpected elements, the lost-write window and malformed reads."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lab.chaos.checkers import Verdict
from lab.chaos.checkers.setfull import LostWindow, check, classify, lost_window
from lab.chaos.history import History, Op

KEY = "s"


def add(h: History, process: int, element: Any, start: float, end: float | None = None,
        result: str = "ok", key: str | None = KEY) -> None:
    """An add of ``element`` invoked at ``start`` and completed (``result``) at ``end``."""
    invoke = h.invoke(process, "add", key, element, time=start)
    h.complete(invoke, result, time=start + 0.01 if end is None else end)


def read(h: History, process: int, elements: list[Any], start: float,
         end: float | None = None, key: str | None = KEY) -> None:
    """A successful read, invoked at ``start``, that saw ``elements``."""
    invoke = h.invoke(process, "read", key, time=start)
    h.complete(invoke, "ok", elements, time=start + 0.01 if end is None else end)


def outcomes(h: History) -> dict[Any, str]:
    return {o.element: o.outcome for o in classify(h)}


def crash_history() -> History:
    """Elements 0-9 are durable; 10-14 are acknowledged in the second before a crash at 1.6 s
    and are missing from the three reads after the restart."""
    h = History()
    for i in range(10):
        add(h, 0, i, 0.1 * i)
    read(h, 1, list(range(10)), 1.0)
    for i in range(10, 13):
        add(h, 0, i, 1.1 + 0.1 * (i - 10))  # acknowledged at 1.11, 1.21, 1.31
    read(h, 1, list(range(13)), 1.35)  # 10, 11, 12 visible before the crash
    add(h, 0, 13, 1.4)
    add(h, 0, 14, 1.5)  # acknowledged at 1.51, never seen
    h.append(Op(9, "invoke", "kill", None, None, 1.6))  # the nemesis, ignored by the checker
    h.append(Op(9, "info", "kill", None, None, 1.6))
    for start in (2.0, 2.5, 3.0):
        read(h, 1, list(range(10)), start)
    return h


def test_acknowledged_adds_lost_in_a_crash() -> None:
    verdict = check(crash_history())
    assert isinstance(verdict, Verdict)
    assert verdict.checker == "set-full"
    assert verdict.valid is False
    assert verdict.stats["lost"] == 5
    assert verdict.stats["lost_elements"] == [10, 11, 12, 13, 14]
    assert verdict.stats["stable"] == 10
    assert verdict.stats["acknowledged"] == 15
    assert verdict.summary.startswith("invalid: 5 of 15 acknowledged elements lost")
    lost = [a for a in verdict.anomalies if a["kind"] == "lost"]
    assert [a["element"] for a in lost] == [10, 11, 12, 13, 14]
    assert lost[0]["explanation"] == (
        "element 10 of key 's' was acknowledged at 1.11 s (add by process 0) and is absent "
        "from the last 3 of the 4 reads after it, from 2.00 s, the last at 3.01 s; it was last "
        "seen at 1.36 s (read by process 1)")
    assert lost[4]["explanation"] == (
        "element 14 of key 's' was acknowledged at 1.51 s (add by process 0) and is absent "
        "from the 3 reads after it, the last at 3.01 s; no read ever saw it")
    assert lost[0]["window_s"] == pytest.approx(2.0 - 1.11)
    # the add, the last read that saw it, and the first and last reads of the absent run
    assert lost[0]["ops"][0]["f"] == "add" and lost[0]["ops"][0]["value"] == 10
    assert [op.get("contains") for op in lost[0]["ops"][1:]] == [True, False, False]
    assert [op["f"] for op in lost[4]["ops"]] == ["add", "read", "read"]
    assert lost[0]["ops"][1]["result"] is None and lost[0]["ops"][1]["result_size"] == 13


def test_lost_window_from_the_first_absent_read_and_from_the_crash() -> None:
    window = lost_window(check(crash_history()))
    assert isinstance(window, LostWindow)
    assert window.count == 5
    assert window.first_ack == pytest.approx(1.11)
    assert window.last_ack == pytest.approx(1.51)
    assert window.span_s == pytest.approx(0.4)
    assert window.first_absent == pytest.approx(2.0)
    assert window.reference == "first absent read"
    assert window.window_s == pytest.approx(0.89)

    at_crash = lost_window(check(crash_history(), crash_time=1.6))
    assert at_crash is not None
    assert at_crash.reference == "crash"
    assert at_crash.window_s == pytest.approx(0.49)
    assert at_crash.summary() == (
        "5 acknowledged writes lost, acknowledged within 0.49 s before the crash (over 0.40 s)")


def test_verdict_survives_json_and_lost_window_reads_it_back() -> None:
    verdict = check(crash_history(), crash_time=1.6)
    again = Verdict.from_dict(json.loads(verdict.to_json()))
    assert lost_window(again) == lost_window(verdict)


def test_stable_elements_make_a_valid_verdict() -> None:
    h = History()
    add(h, 0, "a", 0.0)
    add(h, 1, "b", 0.1)
    read(h, 2, ["a", "b"], 0.2)
    read(h, 2, ["b", "a"], 0.3)
    verdict = check(h)
    assert verdict.valid is True
    assert verdict.anomalies == []
    assert verdict.stats["stable"] == 2 and verdict.stats["lost"] == 0
    assert lost_window(verdict) is None
    assert verdict.summary.startswith("valid: 0 of 2 acknowledged elements lost")


def test_flapping_element_is_stale_but_valid() -> None:
    h = History()
    add(h, 0, 5, 0.0)  # acknowledged at 0.01
    read(h, 1, [], 0.5)
    read(h, 2, [], 1.0)
    read(h, 1, [5], 1.5)
    read(h, 2, [5], 2.0)
    verdict = check(h)
    assert outcomes(h) == {5: "stale"}
    assert verdict.valid is True
    [anomaly] = verdict.anomalies
    assert anomaly["kind"] == "stale"
    assert anomaly["stale_reads"] == 2
    assert anomaly["latency_s"] == pytest.approx(1.49)
    assert "absent from 2 of the 4 reads after it, the last at 1.01 s" in anomaly["explanation"]
    assert verdict.stats["stale"] == 1 and verdict.stats["stale_reads"] == 2
    assert verdict.stats["stale_latency_max_s"] == pytest.approx(1.49)


def test_present_then_gone_for_good_is_lost() -> None:
    h = History()
    add(h, 0, 7, 0.0)
    read(h, 1, [7], 0.5)
    read(h, 1, [], 1.0)
    read(h, 1, [7], 1.5)
    read(h, 1, [], 2.0)
    read(h, 1, [], 2.5)
    verdict = check(h)
    assert outcomes(h) == {7: "lost"}
    [anomaly] = verdict.anomalies
    assert "absent from the last 2 of the 5 reads after it, from 2.00 s" in anomaly["explanation"]
    assert "last seen at 1.51 s" in anomaly["explanation"]
    assert anomaly["absent_reads"] == 2


def test_never_read_elements() -> None:
    h = History()
    add(h, 0, 1, 0.0)
    read(h, 1, [1], 0.5)
    add(h, 0, 2, 1.0)  # no read after this one
    verdict = check(h)
    assert outcomes(h) == {1: "stable", 2: "never-read"}
    assert verdict.valid is True
    assert verdict.stats["never_read"] == 1


def test_only_never_read_elements_give_an_unknown_verdict() -> None:
    h = History()
    add(h, 0, 1, 0.0)
    verdict = check(h)
    assert verdict.valid is None
    assert verdict.status == "unknown"
    assert check(History()).valid is None


def test_a_read_concurrent_with_the_add_does_not_count() -> None:
    h = History()
    add_invoke = h.invoke(0, "add", KEY, 3, time=0.0)
    read_invoke = h.invoke(1, "read", KEY, time=0.1)
    h.complete(add_invoke, "ok", time=0.2)
    h.complete(read_invoke, "ok", [], time=0.3)  # began before the acknowledgement
    assert outcomes(h) == {3: "never-read"}
    read(h, 1, [3], 0.4)
    assert outcomes(h) == {3: "stable"}


def test_unacknowledged_adds_are_recovered_or_absent_and_both_fine() -> None:
    h = History()
    add(h, 0, 20, 0.0, result="info")  # timed out, yet applied
    add(h, 1, 21, 0.1, result="info")  # timed out, not applied
    add(h, 2, 22, 0.2, result="fail")  # certainly not applied
    add(h, 3, 23, 0.3)
    h.invoke(4, "add", KEY, 24, time=0.35)  # never completes
    read(h, 5, [20, 23], 0.5)
    verdict = check(h)
    assert outcomes(h) == {20: "recovered", 21: "unacknowledged", 22: "unacknowledged",
                           23: "stable", 24: "unacknowledged"}
    assert verdict.valid is True
    assert verdict.stats["recovered"] == 1
    assert verdict.stats["unacknowledged"] == 3
    assert verdict.stats["failed_present"] == 0


def test_a_failed_add_that_shows_up_is_counted() -> None:
    h = History()
    add(h, 0, 1, 0.0, result="fail")
    add(h, 0, 2, 0.1)
    read(h, 1, [1, 2], 0.5)
    verdict = check(h)
    assert outcomes(h)[1] == "recovered"
    assert verdict.stats["failed_present"] == 1
    assert verdict.valid is True


def test_an_element_nobody_added_is_unexpected() -> None:
    h = History()
    add(h, 0, 1, 0.0)
    read(h, 1, [1, 99], 0.5)
    read(h, 1, [1, 99], 1.0)
    verdict = check(h)
    assert verdict.valid is False
    [anomaly] = verdict.anomalies
    assert anomaly["kind"] == "unexpected"
    assert anomaly["elements"] == [99]
    assert "returned 1 element(s) that no client added: 99" in anomaly["explanation"]
    assert verdict.stats["unexpected"] == 1


def test_keys_are_independent_sets() -> None:
    h = History()
    add(h, 0, 1, 0.0, key="a")
    add(h, 0, 1, 0.1, key="b")
    read(h, 1, [1], 0.5, key="a")
    read(h, 1, [], 0.6, key="b")
    verdict = check(h)
    assert {(o.key, o.outcome) for o in classify(h)} == {("a", "stable"), ("b", "lost")}
    assert verdict.anomalies[0]["key"] == "b"
    assert "element 1 of key 'b'" in verdict.anomalies[0]["explanation"]


def test_repeated_adds_are_judged_from_the_first_acknowledgement() -> None:
    h = History()
    add(h, 0, "x", 0.0, result="info")
    add(h, 0, "x", 0.1)  # acknowledged at 0.11
    read(h, 1, ["x"], 0.5)
    [outcome] = classify(h)
    assert outcome.outcome == "stable"
    assert outcome.ack is not None and outcome.ack.time == pytest.approx(0.11)


def test_a_read_that_is_not_a_collection_gives_unknown() -> None:
    h = History()
    add(h, 0, 1, 0.0)
    read(h, 1, "garbage", 0.5)  # type: ignore[arg-type]
    verdict = check(h)
    assert verdict.valid is None
    assert verdict.anomalies[0]["kind"] == "malformed-read"
    assert "not a collection" in verdict.summary

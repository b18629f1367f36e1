"""The runner's decisions, without servers: which cases run, when a case fails, how a recorded
schedule is anchored for a replay and re-anchored when operations are dropped, convergence and
recovery verdicts, and the validation of a system's chaos declaration."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.chaos.case import CaseSpec, convergence, recovery
from lab.chaos.checkers import Verdict
from lab.chaos.model import ChaosSuite, Scenario, validate_suite
from lab.chaos.results import AppliedFault, Case
from lab.chaos.runner import (
    ChaosOptions,
    _replay_spec,
    anchored,
    case_time,
    choose,
    failures,
    required_verdict,
)
from lab.errors import UsageError

A = Scenario("a", "first", "set", {"kill": 1}, time=10.0, quick_time=3.0,
             required={"lost": 0})
B = Scenario("b", "second", "register", {"pause": 1}, impls=("ours",), tolerate=("recovery",))
SUITE = ChaosSuite(open=lambda *a: None, impls=("ours", "ref"), scenarios=(A, B),
                   test_impls=("broken",))


def _case(verdicts: list[Verdict], **stats) -> Case:
    return Case("sys", "ours", "a", "", 1, 10.0, 0.0, "/nowhere", verdicts=verdicts,
                stats=dict(stats))


def test_choose_runs_every_scenario_on_the_compared_implementations() -> None:
    pairs = [(s.name, i) for s, i in choose(SUITE, ChaosOptions())]
    assert pairs == [("a", "ours"), ("a", "ref"), ("b", "ours")]
    named = choose(SUITE, ChaosOptions(scenarios=["b"], impls=["broken", "ours"]))
    assert [(s.name, i) for s, i in named] == [("b", "ours")]
    assert [i for _, i in choose(SUITE, ChaosOptions(scenarios=["a"], impls=["broken"]))] == [
        "broken"]


@pytest.mark.parametrize("options, words", [
    (ChaosOptions(scenarios=["zzz"]), "unknown chaos scenario 'zzz'; valid: a, b"),
    (ChaosOptions(impls=["zzz"]), "unknown chaos implementation 'zzz'; valid: ours, ref, broken"),
])
def test_choose_names_what_is_valid(options: ChaosOptions, words: str) -> None:
    with pytest.raises(UsageError, match=words):
        choose(SUITE, options)


def test_case_time_prefers_the_command_line_then_quick() -> None:
    assert case_time(A, ChaosOptions()) == 10.0
    assert case_time(A, ChaosOptions(quick=True)) == 3.0
    assert case_time(B, ChaosOptions(quick=True)) == B.time
    assert case_time(A, ChaosOptions(time=7.5, quick=True)) == 7.5


def test_required_figures_and_tolerated_checkers() -> None:
    ok = _case([Verdict("set-full", True, "fine")], lost=0)
    assert required_verdict(A, ok).valid is True
    bad = _case([Verdict("set-full", False, "lost 3")], lost=3)
    req = required_verdict(A, bad)
    assert req.valid is False and req.summary == "lost = 3, required 0"
    bad.verdicts.append(req)
    assert failures(A, bad) == ["set-full", "required"]
    assert required_verdict(B, bad) is None
    tolerated = _case([Verdict("linearizable", True, ""), Verdict("recovery", False, "down")])
    assert failures(B, tolerated) == []
    unknown = _case([Verdict("linearizable", None, "out of time")])
    assert failures(B, unknown) == [] and unknown.valid is None


def test_anchored_schedule_keeps_draws_windows_and_operation_anchors(tmp_path: Path) -> None:
    case = _case([])
    case.faults = [AppliedFault("kill", "n1", 1.0, 1.31, after_ops=40, duration=0.25),
                   AppliedFault("disk-full", "n1", 2.0, 2.0, skipped="needs root"),
                   AppliedFault("pause", "n1", 3.0, None, after_ops=90, args={"x": 1})]
    faults = anchored(case)
    # the planned window, not the one stretched by the restart; skipped faults are dropped
    assert [(f.nemesis, f.after_ops, f.duration) for f in faults] == [("kill", 40, 0.25),
                                                                       ("pause", 90, 0.0)]
    # each keeps its position in the original schedule: the same random draws in a replay
    assert [f.args for f in faults] == [{"draw": 0}, {"draw": 2, "x": 1}]
    spec = CaseSpec("sys", SUITE, A, "ours", 1, 4.0, [], tmp_path)
    kept = list(range(0, 100, 2))  # every other operation
    replay = _replay_spec(spec, faults, kept, tmp_path / "r")
    # anchors are operation indices: they stay where they were among the kept operations
    assert [f.after_ops for f in replay.schedule] == [40, 90]
    assert replay.indices == kept and replay.time >= spec.time


def test_convergence_compares_each_key_on_its_own() -> None:
    same = [("r0", "ok", 3), ("r1", "ok", 5), ("r0", "ok", 3), ("r1", "ok", 5)]
    assert convergence(same).valid is True
    split = [("s", "ok", [1, 2]), ("s", "ok", [2, 1]), ("s", "ok", [1])]
    verdict = convergence(split)
    assert verdict.valid is False and "'s'" in verdict.anomalies[0]["explanation"]
    assert convergence([("s", "fail", None)]).valid is None


def test_recovery_needs_every_final_read_to_succeed() -> None:
    assert recovery([("s", "ok", [])], []).valid is True
    down = recovery([("s", "ok", []), ("s", "fail", None)], ["n1 was down at the end"])
    assert down.valid is False and "n1 was down" in down.anomalies[0]["explanation"]
    assert recovery([], []).valid is None


def test_suite_validation_names_each_problem() -> None:
    bad = ChaosSuite(open=lambda *a: None, impls=("x", "x"), scenarios=(
        Scenario("s", "", "queue", {"kill": 0}, time=0, impls=("y",)),
        Scenario("s", "", "set", {"nope": 1})), test_impls=())
    problems = validate_suite(bad, {"kill"})
    assert "duplicate chaos implementation 'x'" in problems
    assert "duplicate chaos scenario 's'" in problems
    assert any("workload 'queue' is not one of set, register" in p for p in problems)
    assert any("nemesis weights must be positive" in p for p in problems)
    assert any("unknown nemesis 'nope'" in p for p in problems)
    assert any("implementation 'y' is not in the suite" in p for p in problems)
    assert validate_suite("suite") == ["chaos must be a lab.ChaosSuite, got str"]
    assert validate_suite(SUITE) == []


def test_loss_windows_attribute_each_lost_write_to_the_fault_that_lost_it() -> None:
    from lab.chaos.case import loss_windows
    from lab.chaos.history import History, Op

    t0 = 100.0
    acks = {1: 0.2, 2: 0.7, 3: 1.05, 4: 1.6, 5: 2.9}  # element -> ack time since t0
    h = History()
    for element, t in sorted(acks.items(), key=lambda kv: kv[1]):
        h.append(Op(0, "invoke", "add", "s", element, t0 + t - 0.01))
        h.append(Op(0, "ok", "add", "s", element, t0 + t))
    faults = [AppliedFault("crash", "n1", 1.0, 1.2), AppliedFault("pause", "n1", 1.4, 1.5,
                                                                   skipped="no"),
              AppliedFault("crash", "n1", 2.0, 2.3)]
    windows = loss_windows(h, [1, 2, 3, 4, 5], faults, t0)
    # 1 and 2 before the first crash, 3 acknowledged during it (its reply left before the
    # kill), 4 before the second crash, 5 after every fault
    assert [(w["fault"], w["count"]) for w in windows] == [(0, 3), (2, 1), (None, 1)]
    assert windows[0]["window_s"] == round(1.05 - 0.2, 4)  # first to last lost ack
    assert windows[0]["before_fault_s"] == round(1.0 - 0.2, 4)
    assert windows[1]["window_s"] == 0.0 and windows[1]["before_fault_s"] == round(2.0 - 1.6, 4)
    assert windows[2]["before_fault_s"] == 0.0
    assert loss_windows(h, [], faults, t0) == []

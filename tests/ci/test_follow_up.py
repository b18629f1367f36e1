"""Unclear verdicts and follow-up rounds (`lab.ci.compare.Row.unclear`, `lab.ci.run._follow_up`):
which rows are unclear, and that follow-ups run only for their systems, stop once every row is
clear, and never pass the round cap or the time left."""

from __future__ import annotations

import json

import pytest

from lab.ci import compare as cmp
from lab.ci import run
from lab.ci.measure import Key, Selection


def _row(system: str, lo: float, hi: float, verdict: str = "no change",
         kind: str = "statistical") -> cmp.Row:
    key = Key(system, "w", "i", "{}", "rate")
    return cmp.Row(key, "op/s", "higher", "wall", kind, 1.0, 1.0, 1.0, ci_low=lo, ci_high=hi,
                   band=0.03, verdict=verdict)


@pytest.mark.parametrize(("lo", "hi", "verdict", "kind", "unclear"), [
    (0.98, 1.02, "no change", "statistical", False),   # wholly inside the band: ruled out
    (0.95, 1.01, "no change", "statistical", True),    # reaches past -3%
    (0.99, 1.08, "no change", "statistical", True),    # reaches past +3%
    (0.90, 0.96, "regression", "statistical", False),  # a verdict is clear
    (0.90, 1.10, "no change", "exact", False),         # exact figures need no rounds
])
def test_unclear_means_neither_shown_nor_ruled_out(lo: float, hi: float, verdict: str,
                                                   kind: str, unclear: bool) -> None:
    row = _row("s", lo, hi, verdict, kind)
    assert row.unclear is unclear and row.to_json()["unclear"] is unclear


class _Script:
    """Stands in for measuring: each call to interleave records the systems and rounds asked
    for; each call to _compare returns the next list of rows."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, rows: list[list[cmp.Row]]) -> None:
        self.rows, self.calls, self.clock = list(rows), [], 0.0
        monkeypatch.setattr(run, "interleave", self.interleave)
        monkeypatch.setattr(run, "_compare", lambda *a: self.rows.pop(0))

    def interleave(self, sides, systems, selection, *, rounds, seed, start, on_step):  # noqa: ANN001, ANN201, ARG002
        self.calls.append((list(systems), rounds, start))
        self.clock += 5.0 * len(systems) * rounds  # a round costs 5 s a system
        return rounds


def _result(rows: list[cmp.Row], rounds: int) -> run.CiResult:
    result = run.CiResult("t", ["a", "b"], None, None, "given")  # type: ignore[arg-type]
    result.rows, result.rounds = rows, rounds
    return result


def _follow(script: _Script, result: run.CiResult, max_rounds: int,
            seconds: float = 1e6) -> None:
    options = run.CiOptions(rounds=5, max_rounds=max_rounds, selection=Selection())
    run._follow_up(result, options, (None, None), (None, None), ["a", "b"],  # type: ignore[arg-type]
                   seconds, per_round=10.0, on_step=lambda s: None, now=lambda: script.clock)


def test_follow_ups_measure_only_unclear_systems_until_clear(monkeypatch) -> None:  # noqa: ANN001
    clear_a, unclear_b = _row("a", 0.99, 1.01), _row("b", 0.95, 1.01)
    script = _Script(monkeypatch, [[clear_a, unclear_b], [clear_a, _row("b", 0.98, 1.02)]])
    result = _result([clear_a, unclear_b], 5)
    _follow(script, result, max_rounds=15)
    assert script.calls == [(["b"], 2, 5), (["b"], 2, 7)]
    assert result.rounds == 9 and not any(r.unclear for r in result.rows)
    assert result.notes[0] == "2 follow-up round(s) after round 5: unclear in b"


def test_follow_ups_stop_at_the_round_cap_and_the_deadline(monkeypatch) -> None:  # noqa: ANN001
    unclear = [_row("a", 0.9, 1.1), _row("b", 0.9, 1.1)]
    script = _Script(monkeypatch, [unclear] * 10)
    result = _result(unclear, 5)
    _follow(script, result, max_rounds=8)
    assert [c[1:] for c in script.calls] == [(2, 5), (1, 7)] and result.rounds == 8
    script.calls.clear()
    result = _result(unclear, 5)
    _follow(script, result, max_rounds=15, seconds=35.0)  # a round of both costs 10 s
    assert [c[1:] for c in script.calls] == [(2, 5), (1, 7)] and result.rounds == 8
    script.calls.clear()
    _follow(script, _result(unclear, 5), max_rounds=15, seconds=5.0)
    assert script.calls == []


def test_the_summary_lists_what_stayed_unclear(tmp_path) -> None:  # noqa: ANN001
    from lab.ci import ci_report, trees

    tree = trees.Tree("current", tmp_path, "0123456789abcdef", False, tmp_path)
    result = run.CiResult("t", ["a", "b"], tree, tree, "given", rounds=15)
    result.rows = [_row("a", 0.99, 1.01), _row("b", 0.80, 1.30)]
    text = ci_report.summary_md(result)
    assert "No significant change in 2 benchmark figures." in text
    unclear = text.split("## Unclear", 1)[1]
    assert "1 figure(s) show no change but cannot rule one out" in unclear
    assert "after 15 round(s)" in unclear and "| b w i rate | wall | no change |" in unclear
    assert "| a w" not in unclear
    result.rows = [_row("a", 0.99, 1.01)]
    assert "## Unclear" not in ci_report.summary_md(result)


def test_calibration_lists_what_each_a_a_run_left_unclear(tmp_path) -> None:  # noqa: ANN001
    """A/A runs take no follow-ups, so the calibration report names, per run, the benchmarks a
    real check would have followed up."""
    from lab.ci import ci_report, trees
    from lab.ci.calibrate import Calibration

    tree = trees.Tree("A", tmp_path, "0" * 40, False, tmp_path)
    cal = Calibration("stamp", ["s"], tree, 2, rounds=[3, 3],
                      false_alarms=[[], []], unclear=[[], ["s w i rate"]])
    text = ci_report.calibration_md(cal)
    assert "- A/A run 2: 1 unclear (a check would follow up): s w i rate" in text
    assert "A/A run 1:" not in text
    ci_report.write_calibration(cal, tmp_path / "out")
    doc = json.loads((tmp_path / "out" / "calibration.json").read_text())
    assert doc["unclear"] == [[], ["s w i rate"]]

"""Fault schedules: deterministic from the seed, never overlapping, within the time, exact
counts spread over the time, and JSON lines that round-trip or fail with the line number."""

from __future__ import annotations

import json

import pytest

from lab.chaos.schedule import QUIET, Fault, generate, read_jsonl, write_jsonl

DURATIONS = {"kill": (0.05, 0.3), "pause": (0.2, 1.5)}


def test_same_seed_same_schedule_other_seed_differs() -> None:
    a = generate(3, {"kill": 1, "pause": 2}, DURATIONS, ["n1", "n2"], 20.0)
    b = generate(3, {"kill": 1, "pause": 2}, DURATIONS, ["n1", "n2"], 20.0)
    c = generate(4, {"kill": 1, "pause": 2}, DURATIONS, ["n1", "n2"], 20.0)
    assert a == b
    assert a != c


def test_faults_do_not_overlap_and_end_within_the_time() -> None:
    faults = generate(11, {"kill": 1, "pause": 1}, DURATIONS, ["n1"], 15.0)
    assert len(faults) >= 5
    for before, after in zip(faults, faults[1:], strict=False):
        assert before.at + before.duration <= after.at + 1e-9
        assert after.at - (before.at + before.duration) >= QUIET[0] - 1e-3
    assert faults[-1].at + faults[-1].duration <= 15.0
    for f in faults:
        lo, hi = DURATIONS[f.nemesis]
        assert lo - 1e-4 <= f.duration <= hi + 1e-4


def test_weights_shape_the_mix() -> None:
    faults = generate(1, {"kill": 9, "pause": 1}, DURATIONS, ["n1"], 400.0)
    kills = sum(f.nemesis == "kill" for f in faults)
    assert kills > 0.75 * len(faults)


def test_count_gives_exactly_that_many_spread_over_the_time() -> None:
    faults = generate(5, {"kill": 1}, DURATIONS, ["n1"], 20.0, count=50)
    assert len(faults) == 50
    end = faults[-1].at + faults[-1].duration
    assert 19.0 <= end <= 20.0 + 1e-6
    assert all(b.at >= a.at + a.duration - 1e-6 for a, b in zip(faults, faults[1:],
                                                                strict=False))


def test_no_nemeses_no_faults() -> None:
    assert generate(1, {}, {}, ["n1"], 10.0) == []


def test_jsonl_round_trip(tmp_path) -> None:
    faults = generate(2, {"kill": 1}, DURATIONS, ["n1"], 5.0)
    faults.append(Fault("bitflip", "n1", 4.0, 0.0, {"bits": 3}, after_ops=120))
    path = tmp_path / "faults.jsonl"
    write_jsonl(faults, path)
    assert read_jsonl(path) == faults


@pytest.mark.parametrize("record, message", [
    ("[1, 2]", "must be a JSON object"),
    ('{"nemesis": "kill", "target": "n1", "at": 1}', "missing duration"),
    ('{"nemesis": "kill", "target": "n1", "at": "soon", "duration": 1}', "must be numbers"),
    ('{"nemesis": "kill", "target": "n1", "at": -1, "duration": 1}', ">= 0"),
    ('{"nemesis": "kill", "target": "n1", "at": 1, "duration": 1, "after_ops": -3}',
     "non-negative integer"),
    ("{not json", "bad fault record"),
])
def test_bad_records_name_the_line(tmp_path, record: str, message: str) -> None:
    path = tmp_path / "faults.jsonl"
    good = json.dumps(Fault("kill", "n1", 0.5, 0.1).to_dict())
    path.write_text(good + "\n" + record + "\n")
    with pytest.raises(ValueError) as info:
        read_jsonl(path)
    assert f"{path}:2:" in str(info.value)
    assert message in str(info.value)
    assert "\n" not in str(info.value)

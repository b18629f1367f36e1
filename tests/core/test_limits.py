"""``lab.Limit``: a workload measured as a fraction of a ceiling workload (a reduction's GB/s
over a copy's on the same device): declaration checks, the derived samples, the summary rows,
the plan that always measures the ceiling, and the channel the fraction belongs to."""

from __future__ import annotations

import pytest

import lab
from lab.bench.channels import declared_for, metrics_of
from lab.bench.plan import make_plan
from lab.bench.summary import derive_limits, summarize
from lab.model import validate_system
from lab.store.base import Sample

GBS = lab.TimedMetric(lab.Metric("bandwidth", "GB/s"), lambda s, p: p["size"] / s / 1e9)


def _workload(name: str, params: dict, limit: lab.Limit | None = None,
              metrics: tuple = (GBS,)) -> lab.Workload:
    return lab.Workload(name=name, description=name, params=params, prepare=lambda p: None,
                        timed=lambda o, s, p: lambda: None, metrics=metrics, limit=limit)


def _system(*workloads: lab.Workload) -> lab.System:
    return lab.System(name="limits", shape="lib", description="limits",
                      impls=(lab.Impl("a", "a", load=lambda ctx: None),
                             lab.Impl("b", "b", load=lambda ctx: None)),
                      workloads=workloads, baseline="a")


COPY = _workload("copy", {"size": (1, 2)})
REDUCE = _workload("reduce", {"size": (1, 2), "op": ("sum", "max")},
                   limit=lab.Limit("copy", "bandwidth"))
SYSTEM = _system(COPY, REDUCE)


def _s(impl: str, workload: str, params: dict, rep: int, value: float,
       metric: str = "bandwidth") -> Sample:
    return Sample(impl, workload, params, metric, rep, value)


def test_a_valid_limit_passes_and_names_its_fraction() -> None:
    assert validate_system(SYSTEM) == []
    assert REDUCE.limit.derived == lab.Metric("bandwidth_of_copy", "fraction", "higher")
    assert "bandwidth_of_copy" in {m.name for m in REDUCE.all_metrics()}


@pytest.mark.parametrize(("limit", "problem"), [
    (lab.Limit("nope", "bandwidth"), "names 'nope', which is not another workload of "
                                     "'limits' (copy)"),
    (lab.Limit("reduce", "bandwidth"), "names 'reduce', which is not another workload"),
    (lab.Limit("copy", "speed"), "reduce has no metric 'speed'"),
])
def test_bad_limits_are_refused_in_one_sentence(limit: lab.Limit, problem: str) -> None:
    bad = _workload("reduce", {"size": (1,)}, limit=limit)
    problems = validate_system(_system(COPY, bad))
    assert any(problem in p for p in problems), problems


def test_limits_do_not_chain() -> None:
    middle = _workload("middle", {"size": (1,)}, limit=lab.Limit("copy", "bandwidth"))
    top = _workload("top", {"size": (1,)}, limit=lab.Limit("middle", "bandwidth"))
    problems = validate_system(_system(COPY, middle, top))
    assert problems == ["workload 'top': limit: 'middle' has a limit of its own; limits "
                        "don't chain"]


def test_fractions_pair_repetitions_and_shared_parameters() -> None:
    """Rep 0 of reduce[size=2] over rep 0 of copy[size=2], medians of each repetition; a
    repetition the copy lacks, another implementation's copy or another size never pair."""
    samples = [
        _s("a", "copy", {"size": 2}, 0, 10.0), _s("a", "copy", {"size": 2}, 0, 30.0),
        _s("a", "copy", {"size": 2}, 1, 40.0), _s("a", "copy", {"size": 1}, 0, 1000.0),
        _s("b", "copy", {"size": 2}, 0, 1.0),
        _s("a", "reduce", {"size": 2, "op": "sum"}, 0, 5.0),
        _s("a", "reduce", {"size": 2, "op": "sum"}, 0, 15.0),
        _s("a", "reduce", {"size": 2, "op": "max"}, 1, 30.0),
        _s("a", "reduce", {"size": 2, "op": "max"}, 2, 30.0),  # no copy in rep 2
        _s("a", "reduce", {"size": 2, "op": "sum"}, 0, 1.0, metric="other"),
    ]
    got = {(d.params["op"], d.rep): d.value for d in derive_limits(SYSTEM, samples)}
    assert got == {("sum", 0): pytest.approx(10.0 / 20.0), ("max", 1): pytest.approx(0.75)}
    assert all(d.metric == "bandwidth_of_copy" and d.impl == "a" and d.workload == "reduce"
               for d in derive_limits(SYSTEM, samples))


def test_summary_rows_carry_the_fraction_with_an_interval() -> None:
    samples = []
    for rep in range(3):
        samples += [_s(impl, "copy", {"size": 2}, rep, 20.0 + rep) for impl in "ab"]
        samples += [_s(impl, "reduce", {"size": 2, "op": "sum"}, rep, 10.0 + rep / 2)
                    for impl in "ab"]
    results, comparisons = summarize(SYSTEM, samples, [])
    fractions = [r for r in results if r["metric"] == "bandwidth_of_copy"]
    assert {r["impl"] for r in fractions} == {"a", "b"}
    for r in fractions:
        assert r["unit"] == "fraction" and r["channel"] == "wall" and r["n"] == 3
        assert r["median"] == pytest.approx(0.5) and r["ci_low"] <= 0.5 <= r["ci_high"]
    assert any(c["metric"] == "bandwidth_of_copy" for c in comparisons)


def test_the_plan_always_measures_the_ceiling() -> None:
    plan = make_plan(SYSTEM, [], ["reduce"], mode="default")
    assert plan.workloads == ["reduce", "copy"]
    assert {i.workload for i in plan.items} == {"reduce", "copy"}


def test_the_fraction_is_a_wall_channel_metric_of_its_workload() -> None:
    assert metrics_of(SYSTEM, "reduce")["bandwidth_of_copy"][1] == "wall"
    names = [m.name for m in declared_for(SYSTEM, "reduce", ("wall", "measured"))]
    assert names == ["bandwidth", "bandwidth_of_copy"]
    assert "bandwidth_of_copy" not in metrics_of(SYSTEM, "copy")

"""From raw samples to the figures a user reads: one result row per (impl, workload, params,
metric) with median and 95% interval, and one comparison row per non-baseline result.
"""

from __future__ import annotations

import json
import zlib
from collections import defaultdict
from typing import Any

import numpy as np

from lab import stats
from lab.bench.channels import declared_for, metrics_of
from lab.model import Metric, System
from lab.store.base import Sample

INSTRUCTION_NOISE = 0.001
"""The noise band of instruction-channel verdicts: callgrind counts repeat within 0.1%."""


def params_key(params: dict[str, Any]) -> str:
    """``a=1,b=x`` with names sorted: the stable display form of a parameter set."""
    return ",".join(f"{k}={params[k]}" for k in sorted(params))


def params_order(params: dict[str, Any]) -> tuple:
    """Sort key for parameter sets: numbers numerically (1 KiB before 64 KiB), text as text."""
    def typed(v: Any) -> tuple:
        return (0, v, "") if isinstance(v, int | float) else (1, 0, str(v))

    return tuple((k, typed(params[k])) for k in sorted(params))


def _seed(*parts: str) -> int:
    return zlib.crc32("|".join(parts).encode())


def _shared_match(params: dict[str, Any], limit_params: dict[str, Any]) -> bool:
    return all(params[k] == v for k, v in limit_params.items() if k in params)


def derive_limits(system: System, samples: list[Sample]) -> list[Sample]:
    """Samples of each workload's ``Limit`` fraction: per implementation, parameter set and
    repetition, the median of the workload's metric in that repetition over the median of the
    limit workload's metric in the same repetition, at the parameter values the two share
    (see ``lab.Limit``). Repetitions or parameter sets the limit lacks get no fraction."""
    reps: dict[tuple, list[float]] = defaultdict(list)
    params_of: dict[str, dict[str, Any]] = {}
    for s in samples:
        pk = json.dumps(s.params, sort_keys=True)
        params_of[pk] = s.params
        reps[(s.impl, s.workload, pk, s.metric, s.rep)].append(s.value)
    out: list[Sample] = []
    for w in system.workloads:
        if w.limit is None:
            continue
        ceilings = {(impl, pk, rep): float(np.median(v))
                    for (impl, wl, pk, metric, rep), v in reps.items()
                    if wl == w.limit.workload and metric == w.limit.metric}
        for (impl, wl, pk, metric, rep), values in reps.items():
            if wl != w.name or metric != w.limit.metric:
                continue
            ceiling = next((c for (ci, cpk, crep), c in ceilings.items()
                            if ci == impl and crep == rep
                            and _shared_match(params_of[pk], params_of[cpk])), None)
            if ceiling:
                out.append(Sample(impl, wl, params_of[pk], w.limit.derived.name, rep,
                                  float(np.median(values)) / ceiling))
    return out


def summarize(system: System, samples: list[Sample], notes: list[dict[str, Any]],
              noise: float = stats.NOISE, channels: tuple[str, ...] = ("wall", "measured"),
              ) -> tuple[list[dict], list[dict]]:
    """Result rows (ok ones from ``samples`` and the ``Limit`` fractions derived from them,
    plus skipped/failed ``notes``) and comparisons.

    ``notes`` are dicts with impl, workload, params, status and note; they become rows for
    every metric the run's ``channels`` give their workload unless the same row was
    measured; a note with a ``metric`` key stands for that metric only (an event the machine
    does not support). Every row carries its metric's channel; comparisons pair rows of one
    metric, so they never mix channels.
    """
    groups: dict[tuple, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    params_of: dict[str, dict[str, Any]] = {}
    for s in [*samples, *derive_limits(system, samples)]:
        pk = json.dumps(s.params, sort_keys=True)
        params_of[pk] = s.params
        groups[(s.impl, s.workload, pk, s.metric)][s.rep].append(s.value)
    results: list[dict] = []
    summaries: dict[tuple, stats.Summary] = {}
    flats: dict[tuple, np.ndarray] = {}
    for key, by_rep in groups.items():
        impl, workload, pk, metric = key
        found = metrics_of(system, workload).get(metric)
        if found is None:  # a metric the plugin no longer declares: ignore, don't guess
            continue
        arrays = [np.asarray(v) for _, v in sorted(by_rep.items())]
        summ = stats.summarize(arrays, seed=_seed(*key))
        summaries[key] = summ
        flats[key] = np.concatenate(arrays)
        results.append(_row(impl, workload, params_of[pk], *found, "ok", None, summ))
    measured = {(r["impl"], r["workload"], json.dumps(r["params"], sort_keys=True))
                for r in results}
    measured_metrics = {(*key[:3], key[3]) for key in
                        ((r["impl"], r["workload"], json.dumps(r["params"], sort_keys=True),
                          r["metric"]) for r in results)}
    for note in notes:
        pk = json.dumps(note["params"], sort_keys=True)
        if "metric" in note:
            if (note["impl"], note["workload"], pk, note["metric"]) in measured_metrics:
                continue  # measured in another repetition: the figure stands
            metric, channel = metrics_of(system, note["workload"])[note["metric"]]
            results.append(_row(note["impl"], note["workload"], note["params"], metric,
                                channel, note["status"], note["note"], None))
            continue
        if (note["impl"], note["workload"], pk) in measured:
            continue
        by_name = metrics_of(system, note["workload"])
        for metric in declared_for(system, note["workload"], channels):
            results.append(_row(note["impl"], note["workload"], note["params"], metric,
                                by_name[metric.name][1], note["status"], note["note"], None))
    comparisons = _compare_all(system, results, summaries, flats, noise)
    results.sort(key=lambda r: (r["workload"], params_order(r["params"]), r["metric"],
                                r["impl"]))
    return results, comparisons


def _row(impl: str, workload: str, params: dict, metric: Metric, channel: str, status: str,
         note: str | None, summ: stats.Summary | None) -> dict:
    nan = float("nan")
    return {
        "impl": impl, "workload": workload, "params": params, "params_key": params_key(params),
        "metric": metric.name, "unit": metric.unit, "better": metric.better, "channel": channel,
        "median": summ.median if summ else nan, "ci_low": summ.ci_low if summ else nan,
        "ci_high": summ.ci_high if summ else nan, "n": summ.n if summ else 0,
        "status": status, "note": note,
    }


def _compare_all(system: System, results: list[dict], summaries: dict[tuple, stats.Summary],
                 flats: dict[tuple, np.ndarray], noise: float) -> list[dict]:
    out = []
    for r in results:
        base = system.baseline_of(r["workload"])
        if r["status"] != "ok" or r["impl"] == base:
            continue
        pk = json.dumps(r["params"], sort_keys=True)
        key = (r["impl"], r["workload"], pk, r["metric"])
        bkey = (base, r["workload"], pk, r["metric"])
        if bkey not in summaries:
            continue
        band = min(noise, INSTRUCTION_NOISE) if r["channel"] == "instructions" else noise
        c = stats.compare(summaries[key], summaries[bkey], flats[key], flats[bkey], r["better"],
                          band)
        out.append({
            "impl": r["impl"], "baseline": base, "workload": r["workload"],
            "params": r["params"], "params_key": r["params_key"], "metric": r["metric"],
            "ratio": c.ratio, "ci_low": c.ci_low, "ci_high": c.ci_high,
            "p_value": c.p_value, "verdict": c.verdict, "channel": r["channel"],
        })
    out.sort(key=lambda c: (c["workload"], params_order(c["params"]), c["metric"], c["impl"]))
    return out

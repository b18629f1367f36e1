"""Input model of the report generator and the derived, display-ready tables.

`ReportInput` is the contract between the benchmark runner and the report writer.  The helpers
below normalise its data frames (missing columns, NaN, odd types) so that the renderers never
have to care, and build the display tables (strings only) shared by the HTML and Markdown
renderers.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from lab.bench.summary import params_key

if TYPE_CHECKING:
    from lab.report.fuzz import FuzzSection

RESULT_COLUMNS: tuple[str, ...] = (
    "impl", "workload", "params", "params_key", "metric", "unit", "better",
    "median", "ci_low", "ci_high", "n", "status", "note", "channel",
)
COMPARISON_COLUMNS: tuple[str, ...] = (
    "impl", "baseline", "workload", "params_key", "metric",
    "ratio", "ci_low", "ci_high", "p_value", "verdict", "channel",
)
_FLOAT_COLUMNS = ("median", "ci_low", "ci_high", "ratio", "p_value")
_STR_COLUMNS = (
    "impl", "baseline", "workload", "params_key", "metric", "unit", "better",
    "status", "note", "verdict", "channel",
)
LAB_CHANNELS = ("counters", "instructions", "memory")
"""Channels whose metric names carry the channel in report tables (wall and measured
figures are the workload's own)."""
VERDICTS = ("better", "worse", "same")
DASH = "—"


@dataclass
class WorkloadMeta:
    """Static description of a workload.

    `size_param` names the parameter that is the input size in bytes (or None); `params` maps
    each parameter name to its declared values, in the order they should be displayed;
    `scaling` names further parameters to draw throughput scaling charts over; `percentiles`
    maps latency metrics to their percentile (for latency-by-percentile charts); `baseline`
    is the implementation this workload is compared with when it is not the run's baseline.
    """

    name: str
    description: str
    size_param: str | None
    params: dict[str, list]
    scaling: list[str] = field(default_factory=list)
    percentiles: dict[str, float] = field(default_factory=dict)
    baseline: str | None = None


@dataclass
class ReportInput:
    """Everything the report shows about one benchmark run.

    `results` has one row per (impl, workload, params, metric) with the columns listed in
    `RESULT_COLUMNS`; `comparisons` has one row per (impl, workload, params_key, metric) with
    the columns in `COMPARISON_COLUMNS` (ratio = impl / baseline).  Missing columns are
    tolerated and treated as empty.  `fuzz` is the optional fuzzing section of the system
    (see `lab.report.fuzz`), shown after the workloads; `profiles_html` and
    `profiles_markdown` the optional "Profiles" section (see `lab.profile.report`);
    `attachments_html` and `attachments_markdown` the optional "Attachments" section (see
    `lab.report.attachments`).
    """

    system: str
    run_id: int
    status: str
    started: str
    finished: str | None
    command: str
    git_commit: str | None
    git_dirty: bool
    fingerprint: dict
    fingerprint_hash: str
    baseline: str
    results: pd.DataFrame
    comparisons: pd.DataFrame
    workloads: dict[str, WorkloadMeta]
    fuzz: FuzzSection | None = None
    profiles_html: str = ""
    profiles_markdown: list[str] = field(default_factory=list)
    attachments_html: str = ""
    attachments_markdown: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- normalisation


def parse_params_key(key: str) -> dict[str, Any]:
    """Parse "a=1,b=text" into {"a": 1, "b": "text"} (numbers become int/float)."""
    out: dict[str, Any] = {}
    for part in str(key).split(","):
        if "=" in part:
            name, value = part.split("=", 1)
            out[name.strip()] = _auto_number(value.strip())
    return out


def _auto_number(value: Any) -> Any:
    if isinstance(value, str):
        for cast in (int, float):
            try:
                return cast(value)
            except ValueError:
                pass
    return value


def normalize_frame(df: pd.DataFrame | None, columns: tuple[str, ...]) -> pd.DataFrame:
    """Return a copy of `df` with every column in `columns` present and typed.

    Float columns are numeric (NaN when absent/invalid), string columns are str ("" for
    missing), `n` is int (0 for missing), `params` is a dict (parsed from `params_key` when
    absent) and `params_key` is filled from `params` when absent.
    """
    df = pd.DataFrame() if df is None else df.copy()
    df = df.reset_index(drop=True)
    n_rows = len(df)
    for col in columns:
        if col not in df.columns:
            df[col] = [None] * n_rows
    for col in _FLOAT_COLUMNS:
        if col in columns:
            df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    if "n" in columns:
        df["n"] = pd.to_numeric(df["n"], errors="coerce").fillna(0).astype(int)
    if "params" in columns:
        df["params"] = [
            dict(p) if isinstance(p, dict) else parse_params_key(k if isinstance(k, str) else "")
            for p, k in zip(df["params"], df["params_key"], strict=True)
        ]
        df["params_key"] = [
            k if isinstance(k, str) and k else params_key(p)
            for p, k in zip(df["params"], df["params_key"], strict=True)
        ]
    for col in _STR_COLUMNS:
        if col in columns:
            df[col] = [_clean_str(v) for v in df[col]]
    if "status" in columns:
        df["status"] = [s or "ok" for s in df["status"]]
    return df


def _clean_str(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def results_frame(data: ReportInput) -> pd.DataFrame:
    """The normalised results table of `data`."""
    return normalize_frame(data.results, RESULT_COLUMNS)


def comparisons_frame(data: ReportInput) -> pd.DataFrame:
    """The normalised comparisons table of `data`."""
    df = normalize_frame(data.comparisons, COMPARISON_COLUMNS)
    df["baseline"] = [b or data.baseline for b in df["baseline"]]
    return df


# --------------------------------------------------------------------------- ordering


def workload_order(data: ReportInput, results: pd.DataFrame) -> list[str]:
    """Declared workloads first (declaration order), then any others seen in the results."""
    names = list(data.workloads)
    for name in list(results["workload"]):
        if name not in names:
            names.append(name)
    return names


def impl_order(baseline: str, impls: list[str]) -> list[str]:
    """Baseline first, then the other implementations sorted by name."""
    unique = sorted(set(impls) - {baseline})
    return ([baseline] if baseline in impls else []) + unique


def value_sort_key(value: Any, declared: list | None = None) -> tuple:
    """Sort key for a parameter value: declared order first, then numbers, then strings."""
    if declared is not None and value in declared:
        return (0, declared.index(value), "")
    number = _auto_number(value)
    if isinstance(number, (int, float)) and not isinstance(number, bool):
        return (1, float(number), "")
    return (2, 0.0, str(value))


def param_names(meta: WorkloadMeta | None, params_list: list[dict[str, Any]]) -> list[str]:
    """Parameter names in display order: declared order, then any undeclared ones sorted."""
    names = list(meta.params) if meta else []
    extra = sorted({k for p in params_list for k in p} - set(names))
    return [n for n in names if any(n in p for p in params_list)] + extra


def params_sort_key(params: dict[str, Any], names: list[str],
                    meta: WorkloadMeta | None) -> tuple:
    """Sort key for a parameter combination (by `names`, using declared value order)."""
    declared = meta.params if meta else {}
    return tuple(value_sort_key(params.get(n), declared.get(n)) for n in names)


# --------------------------------------------------------------------------- formatting


def fmt_num(x: float) -> str:
    """Human-friendly number with ~4 significant digits; a dash for NaN/None."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return DASH
    x = float(x)
    if x == 0:
        return "0"
    mag = abs(x)
    if mag >= 1e7 or mag < 1e-3:
        return f"{x:.3e}"
    decimals = max(0, 3 - int(math.floor(math.log10(mag))))
    return f"{x:,.{decimals}f}"


def fmt_p(p: float) -> str:
    """p-value display: dash for NaN (deterministic metric), "<0.001" for tiny values."""
    if p is None or math.isnan(p):
        return DASH
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def fmt_ci(lo: float, hi: float, suffix: str = "") -> str:
    """"[lo, hi]" or a dash when either bound is NaN."""
    if any(v is None or math.isnan(v) for v in (lo, hi)):
        return DASH
    return f"[{fmt_num(lo)}{suffix}, {fmt_num(hi)}{suffix}]"


def format_bytes(n: float) -> str:
    """1024 -> "1 KiB", 1536 -> "1.5 KiB", 65536 -> "64 KiB", 100 -> "100 B"."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            text = f"{value:.1f}".rstrip("0").rstrip(".")
            return f"{text} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def fmt_param_value(name: str, value: Any, meta: WorkloadMeta | None) -> str:
    """Parameter value for display; the size parameter is shown in KiB/MiB."""
    if meta is not None and name == meta.size_param:
        number = _auto_number(value)
        if isinstance(number, (int, float)) and not isinstance(number, bool):
            return format_bytes(number)
    return str(value)


def fmt_ratio(ratio: float) -> str:
    """Ratio with 3 decimals and a "×" sign ("1.600×"); a dash for NaN."""
    if ratio is None or math.isnan(ratio):
        return DASH
    return f"{ratio:,.3f}×" if abs(ratio) < 100 else f"{ratio:,.1f}×"


def fmt_params(params_key: str, meta: WorkloadMeta | None) -> str:
    """Readable parameter combination in declared order: "size=64 KiB, level=6"."""
    params = parse_params_key(params_key)
    if not params:
        return params_key or DASH
    names = param_names(meta, [params])
    return ", ".join(f"{n}={fmt_param_value(n, params[n], meta)}" for n in names)


def status_warning(status: str) -> str | None:
    """Headline warning for a run that did not finish cleanly; None for status "ok"."""
    if status == "ok":
        return None
    return {"failed": "This run FAILED", "interrupted": "This run was INTERRUPTED"}.get(
        status, f"This run has status {status or 'unknown'!r}")


def parse_time(text: str | None) -> datetime | None:
    """Parse an ISO-8601 timestamp (a trailing "Z" is accepted); None when invalid."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def fmt_duration(started: str, finished: str | None) -> str:
    """Wall-clock duration "1h 02m 03s" between two ISO timestamps, or a dash."""
    a, b = parse_time(started), parse_time(finished)
    if a is None or b is None or (a.tzinfo is None) != (b.tzinfo is None):
        return DASH
    seconds = int(round((b - a).total_seconds()))
    h, rest = divmod(abs(seconds), 3600)
    m, s = divmod(rest, 60)
    return (f"{h}h {m:02d}m {s:02d}s" if h else f"{m}m {s:02d}s" if m else f"{s}s")


def flatten_fingerprint(fp: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Flatten a nested dict into ("a.b.c", "value") rows; lists are shown as JSON."""
    if isinstance(fp, dict):
        rows: list[tuple[str, str]] = []
        for key, value in fp.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            rows.extend(flatten_fingerprint(value, name))
        return rows
    if isinstance(fp, (list, tuple)):
        return [(prefix, json.dumps(fp, default=str))]
    return [(prefix, "" if fp is None else str(fp))]


def fingerprint_json(fp: dict) -> str:
    """Pretty JSON of the fingerprint (non-JSON values are stringified)."""
    return json.dumps(fp, indent=2, sort_keys=False, default=str)


# --------------------------------------------------------------------------- display tables


def metric_arrow(better: str) -> str:
    """↑ for higher-is-better, ↓ for lower-is-better, nothing otherwise."""
    return {"higher": " ↑", "lower": " ↓"}.get(better, "")


def metric_label(metric: str, channel: str, better: str) -> str:
    """"task_clock ↓ [counters]": the metric, its better direction and, for the lab's own
    channels, where the figure came from."""
    suffix = f" [{channel}]" if channel in LAB_CHANNELS else ""
    return metric + metric_arrow(better) + suffix


def comparison_table(comparisons: pd.DataFrame, results: pd.DataFrame, workload: str,
                     meta: WorkloadMeta | None, impls: list[str]) -> pd.DataFrame:
    """Display rows (strings) of the comparisons of one workload, plus a `_verdict` column.

    Sorted by params, metric, impl.  The Metric column carries ↑/↓ for the better direction.
    """
    cmp = comparisons[comparisons["workload"] == workload]
    better = _better_by_metric(results)
    metrics = _metric_order(results, cmp, workload)
    rows = []
    for r in cmp.itertuples(index=False):
        verdict = r.verdict if r.verdict in VERDICTS else ""
        rows.append({
            "Params": fmt_params(r.params_key, meta),
            "Metric": metric_label(r.metric, r.channel,
                                   better.get((workload, r.metric), "")),
            "Impl": r.impl,
            "Baseline": r.baseline,
            "Ratio": fmt_ratio(r.ratio),
            "95% CI": (DASH if math.isnan(r.ci_low) or math.isnan(r.ci_high)
                       else f"[{fmt_ratio(r.ci_low)}, {fmt_ratio(r.ci_high)}]"),
            "p-value": fmt_p(r.p_value),
            "Verdict": verdict or (r.verdict or DASH),
            "_verdict": verdict,
            "_sort": _row_sort_key(r.params_key, r.metric, r.impl, meta, impls, metrics),
        })
    return _finish(rows, ["Params", "Metric", "Impl", "Baseline", "Ratio", "95% CI",
                          "p-value", "Verdict", "_verdict"])


def results_table(results: pd.DataFrame, workload: str, meta: WorkloadMeta | None,
                  impls: list[str]) -> pd.DataFrame:
    """Display rows (strings) of the results of one workload, plus a `_status` column."""
    res = results[results["workload"] == workload]
    metrics = _metric_order(res, res, workload)
    rows = []
    for r in res.itertuples(index=False):
        unit = f" {r.unit}" if r.unit else ""
        median = DASH if math.isnan(r.median) else f"{fmt_num(r.median)}{unit}"
        rows.append({
            "Params": fmt_params(r.params_key, meta),
            "Metric": metric_label(r.metric, r.channel, r.better),
            "Impl": r.impl,
            "Median": median,
            "95% CI": fmt_ci(r.ci_low, r.ci_high),
            "n": str(r.n),
            "Status": r.status,
            "Note": r.note,
            "_status": r.status,
            "_sort": _row_sort_key(r.params_key, r.metric, r.impl, meta, impls, metrics),
        })
    return _finish(rows, ["Params", "Metric", "Impl", "Median", "95% CI", "n", "Status",
                          "Note", "_status"])


def summary_table(comparisons: pd.DataFrame, impls: list[str],
                  workloads: list[str]) -> pd.DataFrame:
    """Per (impl, workload, metric): counts of better/worse/same and the geometric-mean ratio.

    Ordered by implementation (`impls` order), then workload (`workloads` order).
    """
    rows = []
    for (impl, workload, metric), grp in comparisons.groupby(
            ["impl", "workload", "metric"], sort=False):
        ratios = [r for r in grp["ratio"] if not math.isnan(r) and r > 0]
        geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios)) if ratios else math.nan
        counts = grp["verdict"].value_counts()
        rows.append({
            "Impl": impl,
            "Baseline": grp["baseline"].iloc[0],
            "Workload": workload,
            "Metric": metric,
            "Better": str(int(counts.get("better", 0))),
            "Worse": str(int(counts.get("worse", 0))),
            "Same": str(int(counts.get("same", 0))),
            "Geo-mean ratio": fmt_ratio(geo),
            "Range": f"{fmt_ratio(min(ratios))} – {fmt_ratio(max(ratios))}" if ratios else DASH,
            "_sort": (_index(impls, impl), _index(workloads, workload)),
        })
    return _finish(rows, ["Impl", "Baseline", "Workload", "Metric", "Better", "Worse", "Same",
                          "Geo-mean ratio", "Range"])


def skipped_notes(results: pd.DataFrame, workload: str) -> list[tuple[str, str]]:
    """Unique (impl, "status: note") of non-ok rows of one workload, in first-seen order.

    The status is not repeated when the note already starts with it ("skipped: ...").
    """
    res = results[(results["workload"] == workload) & (results["status"] != "ok")]
    seen: dict[tuple[str, str], None] = {}
    for r in res.itertuples(index=False):
        note = r.note.strip()
        if not note.lower().startswith(r.status.lower()):
            note = f"{r.status}: {note}" if note else r.status
        seen[(r.impl, note)] = None
    return list(seen)


def _better_by_metric(results: pd.DataFrame) -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    for r in results[["workload", "metric", "better"]].itertuples(index=False):
        out.setdefault((r.workload, r.metric), r.better)
    return out


def _index(items: list[str], item: str) -> int:
    return items.index(item) if item in items else len(items)


def _metric_order(results: pd.DataFrame, comparisons: pd.DataFrame, workload: str) -> list[str]:
    seen = list(results.loc[results["workload"] == workload, "metric"])
    seen += list(comparisons.loc[comparisons["workload"] == workload, "metric"])
    return list(dict.fromkeys(seen))


def _row_sort_key(params_key: str, metric: str, impl: str, meta: WorkloadMeta | None,
                  impls: list[str], metrics: list[str]) -> tuple:
    """Rows are grouped by metric (first-seen order), then params, then implementation."""
    params = parse_params_key(params_key)
    names = param_names(meta, [params])
    return (_index(metrics, metric), params_sort_key(params, names, meta),
            _index(impls, impl), impl)


def _finish(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    rows.sort(key=lambda r: r["_sort"])
    return pd.DataFrame(rows, columns=columns)

"""Matplotlib charts of a run: grouped bar charts, scaling charts and latency percentiles.

Charts are planned first (`plan_charts`: pure data, cheap, used by tests to know how many
charts a data set implies) and rendered second (`render_chart`: PNG bytes).  Figures are
created with `matplotlib.figure.Figure` and rendered by the Agg canvas, so pyplot's global
state and the process-wide backend are never touched and no figure outlives its rendering.

Rules (the contract the tests check):
* one bar chart per (workload, metric) with at least one "ok" row with a finite median; when it
  would have more than `MAX_BAR_GROUPS` parameter combinations it is split into several
  figures, faceted greedily by the parameter(s) that best reduce the group count, and chunked
  as a last resort;
* one scaling chart per (workload with a `size_param`, throughput metric) — a metric whose
  `better` is "higher" and whose unit ends in "/s" — when its ok rows with a positive median
  cover at least 2 distinct sizes; its other varying parameters become subplots, at most
  `MAX_SUBPLOTS` per figure (more figures otherwise);
* likewise one scaling chart per (workload, parameter in the workload's `scaling`, throughput
  metric) when its ok rows cover at least 2 distinct positive values of that parameter;
  a `lab.Limit` fraction (unit "fraction") gets scaling charts like a throughput metric;
* one latency-by-percentile chart per workload with `percentiles` when at least 2 of those
  metrics have ok rows with a positive median: one subplot per parameter set, one line per
  implementation, x the percentile on a log scale of 1/(1 - q), at most `MAX_SUBPLOTS`
  subplots per figure.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator

from lab.report.model import (
    WorkloadMeta,
    fmt_param_value,
    format_bytes,
    impl_order,
    param_names,
    params_sort_key,
)

MAX_BAR_GROUPS = 12
MAX_SUBPLOTS = 9
DPI = 100
_PALETTE = (
    "#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3",
    "#937860", "#da8bc3", "#8c8c8c", "#ccb974", "#64b5cd",
)


@dataclass
class Point:
    """One measured value of one implementation (CI bounds may be NaN)."""

    median: float
    ci_low: float
    ci_high: float


@dataclass
class ChartSpec:
    """What one figure shows.

    kind "bar": `groups` is a list of (label, {impl: Point | status string}).
    kind "scaling": `facets` is a list of (label, {impl: [(x, Point), ...]}) where x is a value
    of `x_param` (the input size unless `x_bytes` is false).
    kind "percentile": `facets` as for scaling, x being the percentile (50, 99, 99.9...).
    """

    kind: str
    workload: str
    metric: str
    unit: str
    title: str
    slug: str
    impls: list[str]
    groups: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    facets: list[tuple[str, dict[str, list[tuple[float, Point]]]]] = field(default_factory=list)
    ncols: int = 1
    x_param: str = ""
    x_bytes: bool = True
    baseline: str = ""


@dataclass
class Chart:
    """A rendered chart: PNG bytes plus what is needed to label and embed it."""

    spec: ChartSpec
    png: bytes
    width: int
    height: int

    @property
    def kind(self) -> str:
        """ "bar", "scaling" or "percentile"."""
        return self.spec.kind

    @property
    def filename(self) -> str:
        """File name (no directory) under which the PNG is saved."""
        return f"{self.spec.slug}.png"


def is_throughput(unit: str, better: str) -> bool:
    """A throughput metric is higher-is-better with a per-second unit (MB/s, ops/s...)."""
    return better == "higher" and unit.strip().lower().endswith("/s")


def impl_colors(impls: list[str]) -> dict[str, str]:
    """Stable colour per implementation (list order, baseline first)."""
    return {impl: _PALETTE[i % len(_PALETTE)] for i, impl in enumerate(impls)}


def slugify(text: str) -> str:
    """File-name-safe slug: [A-Za-z0-9._-] only, never empty."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "x"


# --------------------------------------------------------------------------- planning


def balanced_chunks(items: list, limit: int) -> list[list]:
    """Split `items` into the fewest chunks of at most `limit`, sizes differing by <= 1."""
    if not items:
        return []
    n_parts = math.ceil(len(items) / limit)
    base, extra = divmod(len(items), n_parts)
    chunks, start = [], 0
    for i in range(n_parts):
        size = base + (1 if i < extra else 0)
        chunks.append(items[start:start + size])
        start += size
    return chunks


def plan_charts(results: pd.DataFrame, workloads: dict[str, WorkloadMeta], baseline: str,
                workload_names: list[str]) -> list[ChartSpec]:
    """Plan every chart of the report, in display order (per workload: bars, scaling over the
    input size, scaling over the other scaling parameters, latency percentiles).

    `results` must be normalised (see `model.normalize_frame`).  Slugs are unique.
    """
    impls = impl_order(baseline, list(results["impl"]))
    specs: list[ChartSpec] = []
    for workload in workload_names:
        rows = results[results["workload"] == workload]
        if rows.empty:
            continue
        meta = workloads.get(workload)
        metrics = list(dict.fromkeys(rows["metric"]))
        for metric in metrics:
            specs.extend(_plan_bars(rows[rows["metric"] == metric], workload, metric, meta,
                                    impls))
        axes = ([meta.size_param] if meta is not None and meta.size_param else []) + (
            [p for p in meta.scaling if p != meta.size_param] if meta is not None else [])
        for param in axes:
            for metric in metrics:
                mrows = rows[rows["metric"] == metric]
                first = mrows.iloc[0]
                if is_throughput(first.unit, first.better) or first.unit == "fraction":
                    specs.extend(_plan_scaling(mrows, workload, metric, meta, impls, param))
        if meta is not None and meta.percentiles:
            specs.extend(_plan_percentiles(rows, workload, meta, impls))
    seen: dict[str, int] = {}
    for spec in specs:
        meta = workloads.get(spec.workload)
        spec.baseline = meta.baseline if meta is not None and meta.baseline else baseline
        count = seen.get(spec.slug, 0)
        seen[spec.slug] = count + 1
        if count:
            spec.slug = f"{spec.slug}-{count}"
    return specs


def _ok(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[(rows["status"] == "ok") & rows["median"].notna()]


def _point(row: Any) -> Point:
    return Point(float(row.median), float(row.ci_low), float(row.ci_high))


def _plan_bars(rows: pd.DataFrame, workload: str, metric: str, meta: WorkloadMeta | None,
               impls: list[str]) -> list[ChartSpec]:
    ok = _ok(rows)
    if ok.empty:
        return []
    combos: dict[str, dict[str, Any]] = {}
    for r in ok.itertuples(index=False):
        combos.setdefault(r.params_key, r.params)
    names = param_names(meta, list(combos.values()))
    keys = sorted(combos, key=lambda k: params_sort_key(combos[k], names, meta))
    varying = [n for n in names if len({str(combos[k].get(n)) for k in keys}) > 1]
    facet_names = _choose_facets(keys, combos, varying)
    facets: dict[tuple, list[str]] = {}
    for k in keys:
        facets.setdefault(tuple(str(combos[k].get(n)) for n in facet_names), []).append(k)
    present = [i for i in impls if i in set(rows["impl"])]
    unit = ok.iloc[0].unit
    by_key = {(r.params_key, r.impl): r for r in rows.itertuples(index=False)}
    specs = []
    for facet_keys in facets.values():
        chunks = balanced_chunks(facet_keys, MAX_BAR_GROUPS)
        for part, chunk in enumerate(chunks, 1):
            label_names = [n for n in varying if n not in facet_names]
            groups = []
            for k in chunk:
                label = "\n".join(f"{n}={fmt_param_value(n, combos[k].get(n), meta)}"
                                  for n in label_names)
                cell: dict[str, Any] = {}
                for impl in present:
                    r = by_key.get((k, impl))
                    if r is not None:
                        ok_row = r.status == "ok" and not math.isnan(r.median)
                        cell[impl] = _point(r) if ok_row else (r.status or "missing")
                groups.append((label or "all", cell))
            fixed = [n for n in names if n not in label_names]
            context = ", ".join(f"{n}={fmt_param_value(n, combos[chunk[0]].get(n), meta)}"
                                for n in fixed)
            suffix = f" ({part}/{len(chunks)})" if len(chunks) > 1 else ""
            title = f"{workload} — {metric}" + (f" — {context}" if context else "") + suffix
            slug = slugify(f"{workload}-{metric}-bar" + (f"-{context}" if context else "")
                           + (f"-{part}" if suffix else ""))
            specs.append(ChartSpec("bar", workload, metric, unit, title, slug, present,
                                   groups=groups))
    return specs


def _choose_facets(keys: list[str], combos: dict[str, dict[str, Any]],
                   varying: list[str]) -> list[str]:
    """Greedily pick facet parameters until no facet has more than MAX_BAR_GROUPS groups."""
    chosen: list[str] = []

    def largest(names: list[str]) -> int:
        counts: dict[tuple, int] = {}
        for k in keys:
            t = tuple(str(combos[k].get(n)) for n in names)
            counts[t] = counts.get(t, 0) + 1
        return max(counts.values())

    # Keep at least one varying parameter for the x axis.
    while largest(chosen) > MAX_BAR_GROUPS and len(chosen) < len(varying) - 1:
        candidates = [n for n in varying if n not in chosen]
        best = min(candidates, key=lambda n: (largest(chosen + [n]), candidates.index(n)))
        chosen.append(best)
    return chosen


def _plan_scaling(rows: pd.DataFrame, workload: str, metric: str, meta: WorkloadMeta,
                  impls: list[str], size_param: str) -> list[ChartSpec]:
    ok = _ok(rows)
    ok = ok[ok["median"] > 0]
    points: list[tuple[dict[str, Any], str, float, Point]] = []
    for r in ok.itertuples(index=False):
        size = _as_float(r.params.get(size_param))
        if size is not None and size > 0:
            points.append((r.params, r.impl, size, _point(r)))
    if len({p[2] for p in points}) < 2:
        return []
    names = [n for n in param_names(meta, [p[0] for p in points]) if n != size_param]
    varying = [n for n in names if len({str(p[0].get(n)) for p in points}) > 1]
    facet_params: dict[tuple, dict[str, Any]] = {}
    cells: dict[tuple, dict[str, list[tuple[float, Point]]]] = {}
    for params, impl, size, pt in points:
        fk = tuple(str(params.get(n)) for n in varying)
        facet_params.setdefault(fk, params)
        cells.setdefault(fk, {}).setdefault(impl, []).append((size, pt))
    order = sorted(cells, key=lambda fk: params_sort_key(facet_params[fk], varying, meta))
    facets = []
    for fk in order:
        label = ", ".join(f"{n}={fmt_param_value(n, facet_params[fk].get(n), meta)}"
                          for n in varying)
        series = {i: sorted(cells[fk][i], key=lambda sp: sp[0]) for i in impls if i in cells[fk]}
        facets.append((label or "all", series))
    fixed = [n for n in names if n not in varying]
    context = ", ".join(f"{n}={fmt_param_value(n, points[0][0].get(n), meta)}" for n in fixed)
    present = [i for i in impls if any(i in s for _, s in facets)]
    unit = ok.iloc[0].unit
    ncols = _grid_columns(varying, [facet_params[fk] for fk in order])
    rows = [facets[i:i + ncols] for i in range(0, len(facets), ncols)]
    chunks = [[f for row in rows_chunk for f in row]
              for rows_chunk in balanced_chunks(rows, max(1, MAX_SUBPLOTS // ncols))]
    specs = []
    is_size = size_param == meta.size_param
    for part, chunk in enumerate(chunks, 1):
        suffix = f" ({part}/{len(chunks)})" if len(chunks) > 1 else ""
        title = (f"{workload} — {metric} vs {size_param}"
                 + (f" — {context}" if context else "") + suffix)
        kind = "scaling" if is_size else f"by-{size_param}"
        slug = slugify(f"{workload}-{metric}-{kind}" + (f"-{part}" if suffix else ""))
        specs.append(ChartSpec("scaling", workload, metric, unit, title, slug, present,
                               facets=chunk, ncols=min(ncols, len(chunk)), x_param=size_param,
                               x_bytes=is_size))
    return specs


def _plan_percentiles(rows: pd.DataFrame, workload: str, meta: WorkloadMeta,
                      impls: list[str]) -> list[ChartSpec]:
    ok = _ok(rows)
    ok = ok[ok["metric"].isin(list(meta.percentiles)) & (ok["median"] > 0)]
    if ok["metric"].nunique() < 2:
        return []
    combos: dict[str, dict[str, Any]] = {}
    cells: dict[str, dict[str, list[tuple[float, Point]]]] = {}
    for r in ok.itertuples(index=False):
        combos.setdefault(r.params_key, r.params)
        q = float(meta.percentiles[r.metric])
        cells.setdefault(r.params_key, {}).setdefault(r.impl, []).append((q, _point(r)))
    names = param_names(meta, list(combos.values()))
    keys = sorted(combos, key=lambda k: params_sort_key(combos[k], names, meta))
    varying = [n for n in names if len({str(combos[k].get(n)) for k in keys}) > 1]
    facets = []
    for k in keys:
        label = ", ".join(f"{n}={fmt_param_value(n, combos[k].get(n), meta)}" for n in varying)
        series = {i: sorted(cells[k][i], key=lambda qp: qp[0]) for i in impls if i in cells[k]}
        facets.append((label or "all", series))
    fixed = [n for n in names if n not in varying]
    context = ", ".join(f"{n}={fmt_param_value(n, combos[keys[0]].get(n), meta)}"
                        for n in fixed)
    present = [i for i in impls if any(i in s for _, s in facets)]
    unit = ok.iloc[0].unit
    chunks = balanced_chunks(facets, MAX_SUBPLOTS)
    specs = []
    for part, chunk in enumerate(chunks, 1):
        suffix = f" ({part}/{len(chunks)})" if len(chunks) > 1 else ""
        title = (f"{workload} — latency by percentile" + (f" — {context}" if context else "")
                 + suffix)
        slug = slugify(f"{workload}-latency-percentiles" + (f"-{part}" if suffix else ""))
        specs.append(ChartSpec("percentile", workload, "latency", unit, title, slug, present,
                               facets=chunk, ncols=min(3, len(chunk)), x_param="percentile",
                               x_bytes=False))
    return specs


def _grid_columns(varying: list[str], facet_params: list[dict[str, Any]]) -> int:
    """Subplot columns: the values of the last facet parameter when the facets form a full
    grid with at most 4 columns (so each row is one value of the other parameters), else 3."""
    n = len(facet_params)
    if len(varying) >= 2:
        counts = [len({str(p.get(v)) for p in facet_params}) for v in varying]
        if math.prod(counts) == n and counts[-1] <= 4:
            return counts[-1]
    return max(1, min(3, n))


def _as_float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


# --------------------------------------------------------------------------- rendering


def render_chart(spec: ChartSpec, colors: dict[str, str], baseline: str) -> Chart:
    """Render one planned chart to PNG (Agg canvas, no pyplot); the figure is discarded."""
    baseline = spec.baseline or baseline
    if spec.kind == "bar":
        fig = _bar_figure(spec, colors, baseline)
    elif spec.kind == "percentile":
        fig = _percentile_figure(spec, colors, baseline)
    else:
        fig = _scaling_figure(spec, colors, baseline)
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    width, height = (int(round(v * DPI)) for v in fig.get_size_inches())
    fig.clear()
    return Chart(spec, buf.getvalue(), width, height)


def render_charts(specs: list[ChartSpec], baseline: str, impls: list[str]) -> list[Chart]:
    """Render all planned charts with one consistent colour per implementation."""
    colors = impl_colors(impls)
    return [render_chart(s, colors, baseline) for s in specs]


def _legend_label(impl: str, baseline: str) -> str:
    return f"{impl} (baseline)" if impl == baseline else impl


def _bar_figure(spec: ChartSpec, colors: dict[str, str], baseline: str) -> Figure:
    n_groups, n_impls = len(spec.groups), max(1, len(spec.impls))
    width = min(15.0, max(7.0, 1.5 + n_groups * (0.28 * n_impls + 0.45)))
    fig = Figure(figsize=(width, 4.6), layout="constrained")
    ax = fig.add_subplot()
    bar_w = 0.8 / n_impls
    top = max((p.ci_high if math.isfinite(p.ci_high) else p.median
               for _, cell in spec.groups for p in cell.values() if isinstance(p, Point)),
              default=1.0)
    for i, impl in enumerate(spec.impls):
        offset = (i - (n_impls - 1) / 2) * bar_w
        xs, med, err_lo, err_hi = [], [], [], []
        for g, (_, cell) in enumerate(spec.groups):
            value = cell.get(impl)
            if isinstance(value, Point):
                xs.append(g + offset)
                med.append(value.median)
                err_lo.append(_err(value.median - value.ci_low))
                err_hi.append(_err(value.ci_high - value.median))
            elif isinstance(value, str):
                ax.text(g + offset, 0, f" {value}", rotation=90, ha="center", va="bottom",
                        fontsize=7, color="#777777")
        if xs:
            ax.bar(xs, med, bar_w * 0.92, yerr=[err_lo, err_hi], capsize=3,
                   color=colors.get(impl, "#888888"), label=_legend_label(impl, baseline),
                   error_kw={"elinewidth": 1, "ecolor": "#333333"})
    ax.set_xticks(range(n_groups))
    ax.set_xticklabels([label for label, _ in spec.groups], fontsize=8)
    ax.set_xlim(-0.6, n_groups - 0.4)
    if math.isfinite(top) and top > 0:
        ax.set_ylim(0, top * 1.08)
    ax.set_ylabel(f"{spec.metric} ({spec.unit})" if spec.unit else spec.metric)
    ax.set_title(spec.title, fontsize=11, loc="left")
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    handles = [Patch(color=colors.get(i, "#888888"), label=_legend_label(i, baseline))
               for i in spec.impls]
    ax.legend(handles=handles, fontsize=8, frameon=False, loc="upper left",
              bbox_to_anchor=(1.0, 1.0))
    return fig


def _err(value: float) -> float:
    return value if math.isfinite(value) and value > 0 else 0.0


def _facet_grid(spec: ChartSpec) -> tuple[Figure, Any, int, int]:
    """A figure with one subplot per facet: (figure, axes, columns, rows)."""
    n = len(spec.facets)
    ncols = max(1, min(spec.ncols, n))
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(max(7.0, 4.6 * ncols), 0.9 + 3.3 * nrows), layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=False), ncols, nrows


def _plot_series(ax: Any, xs: list[float], pts: list[Point], color: str) -> None:
    """One implementation's medians as a line with its 95% interval as a band."""
    ax.plot(xs, [p.median for p in pts], marker="o", ms=4, lw=1.6, color=color)
    lo = [p.ci_low if math.isfinite(p.ci_low) and p.ci_low > 0 else p.median for p in pts]
    hi = [p.ci_high if math.isfinite(p.ci_high) else p.median for p in pts]
    ax.fill_between(xs, lo, hi, color=color, alpha=0.2, lw=0)


def _finish_grid(fig: Figure, spec: ChartSpec, colors: dict[str, str], baseline: str) -> None:
    handles = [Line2D([], [], color=colors.get(i, "#888888"), marker="o",
                      label=_legend_label(i, baseline)) for i in spec.impls]
    fig.suptitle(spec.title, fontsize=11, x=0.01, ha="left")
    fig.legend(handles=handles, loc="outside lower center", ncol=min(6, len(handles)),
               fontsize=8, frameon=False)


def _scaling_figure(spec: ChartSpec, colors: dict[str, str], baseline: str) -> Figure:
    n = len(spec.facets)
    fig, axes, ncols, nrows = _facet_grid(spec)
    for idx, ax in enumerate(axes.flat):
        if idx >= n:
            ax.set_visible(False)
            continue
        label, series = spec.facets[idx]
        sizes: set[float] = set()
        for impl, pts in series.items():
            xs = [s for s, _ in pts]
            sizes.update(xs)
            _plot_series(ax, xs, [p for _, p in pts], colors.get(impl, "#888888"))
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ticks = sorted(sizes)
        if len(ticks) > 8:
            step = math.ceil(len(ticks) / 8)
            ticks = ticks[::step]
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(FuncFormatter(
            (lambda v, _pos: format_bytes(v)) if spec.x_bytes else (lambda v, _pos: f"{v:g}")))
        ax.yaxis.set_major_locator(FixedLocator(_log_ticks(*ax.get_ylim())))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_major_formatter(FuncFormatter(_value_label))
        ax.tick_params(axis="x", labelsize=8, labelrotation=30)
        ax.tick_params(axis="y", labelsize=8)
        ax.set_title(label, fontsize=9)
        ax.grid(True, which="major", alpha=0.3)
        if idx % ncols == 0:
            ax.set_ylabel(f"{spec.metric} ({spec.unit})" if spec.unit else spec.metric,
                          fontsize=9)
        if idx // ncols == nrows - 1 or idx + ncols >= n:
            ax.set_xlabel("input size" if spec.x_bytes else spec.x_param, fontsize=9)
    _finish_grid(fig, spec, colors, baseline)
    return fig


def _value_label(value: float, _pos: object = None) -> str:
    """Axis label of a value: 4 significant digits, thousands separated, never exponents."""
    if abs(value) >= 1e4:
        return f"{value:,.0f}"
    return f"{value:,.4g}"


def _nines(q: float) -> float:
    """Percentile q (0 < q < 100) on the "number of nines" axis: 50 -> 0.3, 99 -> 2, 99.9 -> 3."""
    return math.log10(100.0 / (100.0 - q))


def _percentile_figure(spec: ChartSpec, colors: dict[str, str], baseline: str) -> Figure:
    n = len(spec.facets)
    fig, axes, ncols, _ = _facet_grid(spec)
    for idx, ax in enumerate(axes.flat):
        if idx >= n:
            ax.set_visible(False)
            continue
        label, series = spec.facets[idx]
        qs: set[float] = set()
        for impl, pts in series.items():
            qs.update(q for q, _ in pts)
            _plot_series(ax, [_nines(q) for q, _ in pts], [p for _, p in pts],
                         colors.get(impl, "#888888"))
        ax.set_yscale("log")
        ticks = sorted(qs)
        ax.xaxis.set_major_locator(FixedLocator([_nines(q) for q in ticks]))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([f"p{q:g}" for q in ticks])
        ax.yaxis.set_major_locator(FixedLocator(_log_ticks(*ax.get_ylim())))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_major_formatter(FuncFormatter(_value_label))
        ax.tick_params(labelsize=8)
        ax.set_title(label, fontsize=9)
        ax.grid(True, which="major", alpha=0.3)
        if idx % ncols == 0:
            ax.set_ylabel(f"latency ({spec.unit})" if spec.unit else "latency", fontsize=9)
    _finish_grid(fig, spec, colors, baseline)
    return fig


def _log_ticks(lo: float, hi: float) -> list[float]:
    """3 to ~9 "nice" tick values (1-2-5 style, finer when the range is narrow) in [lo, hi]."""
    if not (lo > 0 and hi > lo):
        return []
    ticks: list[float] = []
    for subs in ((1.0,), (1.0, 2.0, 5.0), (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0),
                 tuple(1.0 + i / 10 for i in range(90))):
        ticks = [m * 10.0 ** e for e in range(math.floor(math.log10(lo)) - 1,
                                                math.ceil(math.log10(hi)) + 1)
                 for m in subs if lo <= m * 10.0 ** e <= hi]
        if len(ticks) >= 3:
            break
    if len(ticks) < 2:
        ticks = [lo, math.sqrt(lo * hi), hi]
    if len(ticks) > 9:
        ticks = ticks[::math.ceil(len(ticks) / 9)]
    return ticks

"""The fuzzing section of a report: its model, display tables and coverage-over-time charts.

:func:`make_section` turns what the store and the corpus folders hold about a system's fuzz
targets (gathered by ``lab.builtins.reporting``) into a :class:`FuzzSection`, or None when
there is no fuzz data at all (no statistics, crash or coverage measurement). The HTML and
Markdown renderers (``lab.report.html``, ``lab.report.markdown``) show its tables and charts;
a section is rendered once, for a report written into ``report_dir`` (links to llvm-cov's HTML
are relative to it).

Contracts:
* targets: declared targets first (declaration order), then any other target named in the data;
* latest statistics of a target: the last row (largest elapsed) of its latest fuzz run;
* one chart per target with at least one libFuzzer ``cov`` value: ``cov`` against elapsed
  seconds, one line per fuzz run (the latest :data:`MAX_RUNS`), saved as
  ``charts/<slug>.png`` by :func:`write_charts`;
* crash reliability is stored as a share (0.0-1.0) and shown as a percentage;
* coverage: the latest ``lab cover`` measurement of each target.
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from lab.report.charts import _PALETTE, DPI, slugify
from lab.report.model import DASH, fmt_num, format_bytes

CHART_DIR = "charts"
MAX_RUNS = 10


@dataclass(frozen=True)
class TargetInfo:
    """A declared fuzz target and the size of its committed seeds and grown corpus."""

    name: str
    description: str = ""
    seeds: int = 0
    corpus_files: int = 0
    corpus_bytes: int = 0


@dataclass
class FuzzChart:
    """A rendered coverage-over-time chart of one target."""

    target: str
    title: str
    filename: str
    png: bytes
    width: int
    height: int


@dataclass
class FuzzTargetSection:
    """Everything shown about one target."""

    info: TargetInfo
    latest: dict[str, Any] | None = None
    runs: int = 0
    crashes: list[dict[str, Any]] = field(default_factory=list)
    coverage: dict[str, Any] | None = None
    coverage_link: str | None = None
    chart: FuzzChart | None = None


@dataclass
class FuzzSection:
    """The fuzzing section of one system's report."""

    system: str
    targets: list[FuzzTargetSection]
    generated: str = ""

    @property
    def charts(self) -> list[FuzzChart]:
        return [t.chart for t in self.targets if t.chart is not None]

    @property
    def crashes(self) -> list[dict[str, Any]]:
        return [c for t in self.targets for c in t.crashes]


# --------------------------------------------------------------------------- model


def make_section(system: str, targets: list[TargetInfo], stats: list[dict[str, Any]],
                 crashes: list[dict[str, Any]], coverage: list[dict[str, Any]],
                 report_dir: Path) -> FuzzSection | None:
    """The section for ``system`` (see the module docstring); None without fuzz data."""
    if not (stats or crashes or coverage):
        return None
    infos = {t.name: t for t in targets}
    for row in [*stats, *crashes, *coverage]:
        infos.setdefault(row["target"], TargetInfo(row["target"]))
    out = []
    for name, info in infos.items():
        mine = [r for r in stats if r["target"] == name]
        cover = _latest_coverage([r for r in coverage if r["target"] == name])
        out.append(FuzzTargetSection(
            info=info, latest=latest_stats(mine), runs=len({r["run_id"] for r in mine}),
            crashes=[c for c in crashes if c["target"] == name], coverage=cover,
            coverage_link=_link(cover, report_dir), chart=coverage_chart(system, name, mine)))
    return FuzzSection(system, out, _when(datetime.now(UTC).isoformat(timespec="seconds")))


def latest_stats(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The last row (largest elapsed) of the latest run among ``rows``."""
    if not rows:
        return None
    last_run = max(r["run_id"] for r in rows)
    return max((r for r in rows if r["run_id"] == last_run), key=lambda r: r["elapsed"] or 0)


def _latest_coverage(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    return max(rows, key=lambda r: r["run_id"]) if rows else None


def _link(cover: dict[str, Any] | None, report_dir: Path) -> str | None:
    """Relative link from the report folder to the llvm-cov HTML, when it still exists."""
    html = (cover or {}).get("html")
    if not html or not Path(html).is_file():
        return None
    return Path(os.path.relpath(Path(html).resolve(), Path(report_dir).resolve())).as_posix()


# --------------------------------------------------------------------------- tables


def _int(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return DASH
    return f"{int(value):,}"


def fmt_pct(covered: Any, total: Any) -> str:
    """"85.2% (1,234/1,448)", or a dash when there is nothing to cover."""
    if not total:
        return DASH
    return f"{100.0 * (covered or 0) / total:.1f}% ({_int(covered)}/{_int(total)})"


def fmt_reliability(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return DASH
    return f"{100.0 * float(value):.0f}%"


def _when(stamp: Any) -> str:
    return str(stamp).replace("T", " ").replace("+00:00", " UTC") if stamp else DASH


def overview_table(section: FuzzSection) -> pd.DataFrame:
    """One row per target: corpus, seeds and the latest libFuzzer statistics."""
    rows = []
    for t in section.targets:
        s = t.latest or {}
        rows.append({
            "Target": t.info.name,
            "Corpus files": _int(t.info.corpus_files),
            "Corpus size": format_bytes(t.info.corpus_bytes),
            "Seeds": _int(t.info.seeds),
            "Fuzz runs": _int(t.runs),
            "Execs": _int(s.get("execs")),
            "Exec/s": fmt_num(s.get("exec_per_s")) if s.get("exec_per_s") is not None else DASH,
            "cov": _int(s.get("cov")),
            "ft": _int(s.get("ft")),
            "Last fuzzed": _when(s.get("started")),
        })
    return pd.DataFrame(rows, columns=["Target", "Corpus files", "Corpus size", "Seeds",
                                       "Fuzz runs", "Execs", "Exec/s", "cov", "ft",
                                       "Last fuzzed"])


def coverage_table(section: FuzzSection) -> pd.DataFrame:
    """One row per measured target: the latest ``lab cover`` totals; ``_link`` is the
    relative link to its llvm-cov HTML (or None)."""
    rows = []
    for t in section.targets:
        c = t.coverage
        if c is None:
            continue
        rows.append({
            "Target": t.info.name,
            "Lines": fmt_pct(c.get("lines_covered"), c.get("lines_total")),
            "Branches": fmt_pct(c.get("branches_covered"), c.get("branches_total")),
            "Functions": fmt_pct(c.get("functions_covered"), c.get("functions_total")),
            "Regions": fmt_pct(c.get("regions_covered"), c.get("regions_total")),
            "Inputs": _int(c.get("corpus_units")),
            "Measured": _when(c.get("started")),
            "HTML": "llvm-cov report" if t.coverage_link else DASH,
            "_link": t.coverage_link,
        })
    return pd.DataFrame(rows, columns=["Target", "Lines", "Branches", "Functions", "Regions",
                                       "Inputs", "Measured", "HTML", "_link"])


def crashes_table(section: FuzzSection) -> pd.DataFrame:
    """Every crash of the system's targets (target order, then id); ``_status`` for styling."""
    rows = []
    for c in section.crashes:
        rows.append({
            "ID": f"#{c.get('id')}",
            "Target": str(c.get("target", "")),
            "Kind": str(c.get("kind", "")),
            "Signature": str(c.get("signature", "")),
            "First seen": _when(c.get("first_seen")),
            "Last seen": _when(c.get("last_seen")),
            "Count": _int(c.get("count")),
            "Reliability": fmt_reliability(c.get("reliability")),
            "Status": str(c.get("status", "")),
            "_status": str(c.get("status", "")),
        })
    return pd.DataFrame(rows, columns=["ID", "Target", "Kind", "Signature", "First seen",
                                       "Last seen", "Count", "Reliability", "Status", "_status"])


# --------------------------------------------------------------------------- charts


def coverage_chart(system: str, target: str, rows: list[dict[str, Any]]) -> FuzzChart | None:
    """libFuzzer ``cov`` against elapsed seconds, one line per fuzz run (latest MAX_RUNS)."""
    series: dict[int, list[tuple[float, float]]] = {}
    started: dict[int, str] = {}
    for r in rows:
        if r.get("cov") is None or r.get("elapsed") is None:
            continue
        series.setdefault(r["run_id"], []).append((float(r["elapsed"]), float(r["cov"])))
        started.setdefault(r["run_id"], str(r.get("started") or ""))
    if not series:
        return None
    runs = sorted(series)[-MAX_RUNS:]
    title = f"{system}/{target} — coverage (libFuzzer cov) over time"
    if len(series) > MAX_RUNS:
        title += f" (latest {MAX_RUNS} of {len(series)} runs)"
    fig = Figure(figsize=(8.0, 3.8), layout="constrained")
    ax = fig.add_subplot()
    for i, run in enumerate(runs):
        points = sorted(series[run])
        label = f"run #{run}" + (f" · {started[run][:16].replace('T', ' ')}"
                                 if started[run] else "")
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", ms=3, lw=1.6,
                color=_PALETTE[i % len(_PALETTE)], label=label)
    ax.set_xlabel("elapsed (s)")
    ax.set_ylabel("cov (edges)")
    ax.set_title(title, fontsize=11, loc="left")
    ax.set_ylim(bottom=0)
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    width, height = (int(round(v * DPI)) for v in fig.get_size_inches())
    fig.clear()
    return FuzzChart(target, title, f"{slugify(f'fuzz-{target}-coverage')}.png",
                     buf.getvalue(), width, height)


def write_charts(section: FuzzSection | None, out_dir: Path) -> list[Path]:
    """Save the section's charts under ``out_dir/charts/``; return the files written."""
    if section is None or not section.charts:
        return []
    folder = Path(out_dir) / CHART_DIR
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for chart in section.charts:
        path = folder / chart.filename
        path.write_bytes(chart.png)
        written.append(path)
    return written


def write_fuzz_report(section: FuzzSection, out_dir: Path) -> Path:
    """Write a fuzzing-only report (no bench run): index.html, report.md and the charts under
    ``out_dir``; return the index.html path."""
    from lab.report.html import render_fuzz_html
    from lab.report.markdown import render_fuzz_markdown

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_charts(section, out_dir)
    (out_dir / "report.md").write_text(render_fuzz_markdown(section, CHART_DIR),
                                       encoding="utf-8")
    index = out_dir / "index.html"
    index.write_text(render_fuzz_html(section), encoding="utf-8")
    return index

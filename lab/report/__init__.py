"""Report generator: turns a `ReportInput` into index.html (self-contained) and report.md."""

from __future__ import annotations

import pathlib

from lab.report.charts import plan_charts, render_charts
from lab.report.html import render_html
from lab.report.markdown import render_markdown
from lab.report.model import (
    ReportInput,
    WorkloadMeta,
    comparisons_frame,
    impl_order,
    results_frame,
    workload_order,
)

__all__ = ["ReportInput", "WorkloadMeta", "write_report"]

CHART_DIR = "charts"


def write_report(data: ReportInput, out_dir: pathlib.Path) -> pathlib.Path:
    """Write the report of one run into `out_dir` and return the index.html path.

    Writes `out_dir/index.html` (self-contained: charts embedded as base64 PNG, inline CSS, no
    external URL, no JavaScript), `out_dir/report.md` and the PNG charts it links to under
    `out_dir/charts/`.  Creates `out_dir` if needed and overwrites only the files it writes
    (stale charts of an earlier report are left alone).  Never fails on empty or degenerate
    data: the report then says there is nothing to show.
    """
    out_dir = pathlib.Path(out_dir)
    results = results_frame(data)
    comparisons = comparisons_frame(data)
    workloads = workload_order(data, results)
    impls = impl_order(data.baseline, list(results["impl"]) + list(comparisons["impl"]))
    specs = plan_charts(results, data.workloads, data.baseline, workloads)
    charts = render_charts(specs, data.baseline, impls)

    out_dir.mkdir(parents=True, exist_ok=True)
    if charts:
        chart_dir = out_dir / CHART_DIR
        chart_dir.mkdir(exist_ok=True)
        for chart in charts:
            (chart_dir / chart.filename).write_bytes(chart.png)
    markdown = render_markdown(data, results, comparisons, workloads, impls, charts, CHART_DIR)
    (out_dir / "report.md").write_text(markdown, encoding="utf-8")
    index = out_dir / "index.html"
    index.write_text(render_html(data, results, comparisons, workloads, impls, charts),
                     encoding="utf-8")
    return index

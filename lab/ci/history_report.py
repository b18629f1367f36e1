"""The ``lab history`` report: one chart per benchmark with its change points marked.

Written to ``reports/<system>/history/``: ``index.html`` (self-contained, charts embedded),
``index.md`` (charts linked) and one PNG per charted benchmark. Benchmarks with a change point
come first; at most :data:`MAX_CHARTS` are drawn (the others are listed). A chart shows each
run's median with its interval over the runs in order (labelled by commit), the mean of each
segment between change points, and each change point as a vertical line (red for a
regression, green for an improvement).
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from lab.ci.history import History, Series
from lab.report.charts import slugify

MAX_CHARTS = 60
COLORS = {"regression": "#c0392b", "improvement": "#27ae60"}


def chart(series: Series) -> bytes:
    """PNG of one benchmark's history."""
    fig = Figure(figsize=(9, 3.6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    xs = list(range(len(series.points)))
    ys = [p.median for p in series.points]
    low = [p.median - p.ci_low if p.ci_low is not None else 0.0 for p in series.points]
    high = [p.ci_high - p.median if p.ci_high is not None else 0.0 for p in series.points]
    ax.errorbar(xs, ys, yerr=[low, high], fmt="o-", color="#34495e", markersize=4,
                linewidth=1, capsize=2, label="median (95% interval)")
    bounds = [0] + [c.index for c in series.changes] + [len(xs)]
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        segment = ys[lo:hi]
        ax.hlines(sum(segment) / len(segment), lo - 0.3, hi - 0.7, colors="#7f8c8d",
                  linestyles="solid", linewidth=2, alpha=0.6)
    for c in series.changes:
        kind = series.verdict(c)
        ax.axvline(c.index - 0.5, color=COLORS[kind], linestyle="--", linewidth=1.5,
                   label=f"{kind} {c.change:+.1%} (p={c.pvalue:.1e})")
    ax.set_xticks(xs)
    ax.set_xticklabels([p.label for p in series.points], rotation=60, fontsize=7)
    ax.set_ylabel(f"{series.metric} ({series.unit})" if series.unit else series.metric)
    ax.set_title(series.name, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()


def _ordered(history: History) -> list[Series]:
    return sorted(history.series, key=lambda s: (not s.changes, s.name))


def _change_lines(series: Series) -> list[str]:
    return [f"{series.verdict(c)} at {series.points[c.index].label} (run "
            f"{series.points[c.index].run_id}): {c.before:.4g} -> {c.after:.4g} "
            f"{series.unit} ({c.change:+.1%}, p={c.pvalue:.1e})" for c in series.changes]


def write(history: History, out_dir: Path) -> Path:
    """Write the report; returns ``index.html``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.png"):
        old.unlink()
    ordered = _ordered(history)
    drawn = [s for s in ordered if len(s.points) >= 2][:MAX_CHARTS]
    names: dict[int, str] = {}
    for s in drawn:
        name = f"{slugify(s.name)[:80]}.png"
        while name in names.values():
            name = name[:-4] + "-x.png"
        names[id(s)] = name
        (out_dir / name).write_bytes(chart(s))
    where = (f"runs with fingerprint {history.fingerprint[:16]}" if history.fingerprint
             else "all runs (forced across fingerprints)")
    left = (f"; {history.left_out} runs on another fingerprint left out (--force includes "
            "them)" if history.left_out else "")
    head = f"{history.runs} runs, {len(history.series)} benchmarks, {where}{left}."
    md = [f"# {history.system}: history", "", head, ""]
    body = [f"<h1>{html.escape(history.system)}: history</h1>", f"<p>{html.escape(head)}</p>"]
    for s in ordered:
        lines = _change_lines(s) or ["no change point"]
        md += [f"## {s.name}", "", f"{len(s.points)} runs"]
        md += [f"- {line}" for line in lines]
        body.append(f"<h2>{html.escape(s.name)}</h2><p>{len(s.points)} runs</p><ul>"
                    + "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ul>")
        if id(s) in names:
            md += ["", f"![{s.name}]({names[id(s)]})"]
            data = base64.b64encode((out_dir / names[id(s)]).read_bytes()).decode()
            body.append(f'<img alt="{html.escape(s.name)}" src="data:image/png;base64,{data}">')
        md.append("")
    (out_dir / "index.md").write_text("\n".join(md) + "\n")
    page = out_dir / "index.html"
    page.write_text("<!doctype html><html><head><meta charset='utf-8'><title>"
                    f"{html.escape(history.system)} history</title><style>body{{font-family:"
                    "sans-serif;max-width:70em;margin:auto}}img{{max-width:100%}}</style>"
                    "</head><body>" + "\n".join(body) + "</body></html>\n")
    return page

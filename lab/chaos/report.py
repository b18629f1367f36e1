"""The report of a ``lab chaos`` run: ``index.html`` (self-contained) and ``index.md``.

The page opens with a comparison table (scenarios × implementations: verdict, acknowledged and
lost writes, faults applied and skipped), then one section per case: its settings, the command
that replays it, a timeline, the faults as applied, every checker's verdict with the anomalies
of the failed ones, the shrink result and the case's figures.

A timeline (:func:`timeline`) is two stacked plots over seconds since the case started:
throughput of completed operations per bucket (one line per outcome, ``ok`` split by function
when there are several) and the latency of every completed operation at its completion time.
Each fault window is shaded on both, one colour per nemesis; a skipped fault is a dashed line.
The pure helpers (:func:`fault_spans`, :func:`skipped_marks`, :func:`throughput_series`,
:func:`latency_points`, :func:`bucket_size`, :func:`plot_end`) are what the drawing uses.

Figures are made with :class:`matplotlib.figure.Figure` and the Agg canvas, never pyplot.
"""

from __future__ import annotations

import base64
import io
import json
import math
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from lab.chaos.history import COMPLETIONS, FAIL, INFO, OK, History, read_jsonl
from lab.chaos.results import AppliedFault, Case
from lab.report.charts import slugify
from lab.report.markdown import md_escape

MISSING = "–"
MAX_ANOMALIES = 10
MIN_BUCKET = 0.05
BUCKETS = 100
DPI = 100
FIGSIZE = (11.0, 6.5)
MAX_CELL = 160

OUTCOME_COLORS = {OK: "#2e8b57", FAIL: "#c44e52", INFO: "#dd8452"}
_OK_SPLIT_COLORS = ("#2e8b57", "#4c72b0", "#55a868", "#1f5f8b", "#6a9f3a", "#3b7dd8")
_NEMESIS_COLORS = ("#8172b3", "#937860", "#da8bc3", "#ccb974", "#64b5cd", "#8c8c8c",
                   "#b07aa1", "#9c755f", "#edc948", "#76b7b2")
SKIPPED_COLOR = "#555555"

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1300px;padding:0 1em;"
    "color:#1f2328;line-height:1.45}"
    "h1{margin-bottom:.2em}h2{border-bottom:1px solid #d1d9e0;padding-bottom:.2em;"
    "margin-top:2em}h4{margin:.8em 0 .3em}"
    "table{border-collapse:collapse;margin:.4em 0 1em;font-size:13px}"
    "td,th{padding:3px 8px;border:1px solid #d1d9e0;text-align:left;vertical-align:top}"
    "th{background:#f6f8fa}"
    "pre{background:#f6f8fa;border:1px solid #d1d9e0;border-radius:4px;padding:8px;"
    "white-space:pre-wrap;word-break:break-all}"
    ".muted{color:#59636e}.note{background:#fff8c5;padding:4px 8px;border-radius:4px}"
    ".v-valid{color:#1a7f37;font-weight:600}.v-invalid{color:#cf222e;font-weight:700}"
    ".v-unknown,.v-error,.v-interrupted{color:#9a6700;font-weight:600}"
    "img{max-width:100%;height:auto;border:1px solid #d1d9e0}"
    "dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px}"
    "dl.meta dt{color:#59636e}dl.meta dd{margin:0}"
)

HOW_TO_READ = (
    "Each case is one scenario run against one implementation. The comparison table gives, "
    "per case, the verdict (valid: every checker passed; INVALID: a checker proved an anomaly; "
    "unknown: a checker could not judge; error: the case could not run), the acknowledged "
    "writes, how many of them were lost and over which window, and how many faults were "
    "applied and skipped. In each timeline the top plot is the throughput of completed "
    "operations (ops/s) and the bottom one the latency of every completed operation, both over "
    "seconds since the case started; shaded bands are fault windows (one colour per nemesis) "
    "and dashed lines faults that were skipped. A case's replay command re-applies its "
    "schedule."
)

FAULT_HEAD = ["nemesis", "target", "start", "end", "after_ops", "effect", "skipped"]
OP_HEAD = ["process", "f", "key", "value", "type", "result"]


# --------------------------------------------------------------------------- pure helpers


def bucket_size(duration: float) -> float:
    """The throughput bucket of a case lasting ``duration`` seconds: a hundredth of it, at
    least :data:`MIN_BUCKET`."""
    return max(float(duration) / BUCKETS, MIN_BUCKET) if duration > 0 else MIN_BUCKET


def plot_end(case: Case, history: History | None) -> float:
    """The right edge of the timeline: the case's duration, the last event or the last fault
    bound, whichever is latest (seconds since ``case.t0``)."""
    end = max(float(case.duration), 0.0)
    if history is not None and len(history):
        end = max(end, max(op.time for op in history) - case.t0)
    for fault in case.faults:
        end = max(end, fault.start, fault.end if fault.end is not None else fault.start)
    return end


def fault_spans(case: Case, end: float) -> list[tuple[float, float, str]]:
    """The shaded windows of a case's timeline: ``(start, end, nemesis)`` per applied (not
    skipped) fault, in schedule order; a fault that never healed extends to ``end``."""
    spans = []
    for fault in case.faults:
        if fault.skipped is not None:
            continue
        stop = fault.end if fault.end is not None else end
        spans.append((fault.start, max(stop, fault.start), fault.nemesis))
    return spans


def skipped_marks(case: Case) -> list[tuple[float, str, str]]:
    """The skipped faults, drawn as dashed lines: ``(start, nemesis, reason)``."""
    return [(f.start, f.nemesis, str(f.skipped)) for f in case.faults if f.skipped is not None]


def nemesis_colors(case: Case) -> dict[str, str]:
    """One colour per nemesis kind, in order of first appearance in the schedule."""
    names = list(dict.fromkeys(f.nemesis for f in case.faults))
    return {name: _NEMESIS_COLORS[i % len(_NEMESIS_COLORS)] for i, name in enumerate(names)}


def _series_label(outcome: str, f: str, split: bool) -> str:
    return f"{outcome} {f}" if split and outcome == OK else outcome


def throughput_series(history: History, t0: float,
                      bucket: float) -> dict[str, list[tuple[float, float]]]:
    """Completed operations per bucket, as ops/s, by series.

    Series: ``"ok"`` (or ``"ok <f>"`` per function when the ``ok`` completions have several),
    ``"fail"`` and ``"info"``, each present only when it has a completion, in that order. Each
    is a list of ``(bucket centre, count / bucket)`` covering every bucket from the earlier of 0
    and the first completion to the last completion (empty buckets are 0, so outages show).
    Bucket ``i`` holds completions with ``i * bucket <= time - t0 < (i + 1) * bucket``.
    """
    if bucket <= 0:
        raise ValueError(f"bucket must be positive, got {bucket!r}")
    done = [op for op in history if op.type in COMPLETIONS]
    if not done:
        return {}
    split = len({op.f for op in done if op.type == OK}) > 1
    index = {id(op): math.floor((op.time - t0) / bucket) for op in done}
    first, last = min(0, min(index.values())), max(index.values())
    labels: list[str] = []
    for outcome in COMPLETIONS:
        fs = sorted({op.f for op in done if op.type == outcome})
        if fs:
            labels += ([_series_label(outcome, f, split) for f in fs]
                       if outcome == OK and split else [outcome])
    counts = {label: [0] * (last - first + 1) for label in labels}
    for op in done:
        counts[_series_label(op.type, op.f, split)][index[id(op)] - first] += 1
    return {label: [((first + i + 0.5) * bucket, n / bucket) for i, n in enumerate(row)]
            for label, row in counts.items()}


def latency_points(history: History, t0: float) -> list[tuple[float, float, str]]:
    """Each completed operation as ``(completion time - t0, latency s, outcome)``, in
    invocation order; operations that never completed are left out."""
    return [(done.time - t0, done.time - inv.time, done.type)
            for inv, done in history.pairs() if done is not None]


# --------------------------------------------------------------------------- timeline


def _render(case: Case, history: History) -> tuple[bytes, int, int]:
    end = plot_end(case, history)
    bucket = bucket_size(case.duration if case.duration > 0 else end)
    fig = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(1, 1))
    colors = nemesis_colors(case)
    for ax in (top, bottom):
        for start, stop, nemesis in fault_spans(case, end):
            ax.axvspan(start, stop, color=colors[nemesis], alpha=0.2, linewidth=0)
        for start, _nemesis, _reason in skipped_marks(case):
            ax.axvline(start, color=SKIPPED_COLOR, linestyle="--", linewidth=0.8)
    series = throughput_series(history, case.t0, bucket)
    handles: list[Any] = []
    ok_colors = iter(_OK_SPLIT_COLORS)
    for label, points in series.items():
        outcome = label.split(" ", 1)[0]
        color = next(ok_colors) if outcome == OK and label != OK else OUTCOME_COLORS[outcome]
        (line,) = top.plot([p[0] for p in points], [p[1] for p in points], color=color,
                           linewidth=1.2, drawstyle="steps-mid", label=label)
        handles.append(line)
    top.set_ylabel(f"ops/s ({bucket:g} s buckets)")
    top.set_ylim(bottom=0)
    top.set_title(f"{case.scenario} · {case.impl}", fontsize=11)
    if not series:
        top.text(0.5, 0.5, "no completed operations", transform=top.transAxes,
                 ha="center", va="center", color="#59636e")
    for start, _nemesis, _reason in skipped_marks(case):
        top.text(start, 0.98, " skipped", transform=top.get_xaxis_transform(), rotation=90,
                 va="top", ha="left", fontsize=8, color=SKIPPED_COLOR)
    handles += [Patch(color=color, alpha=0.35, label=name) for name, color in colors.items()
                if any(n == name for _s, _e, n in fault_spans(case, end))]
    if skipped_marks(case):
        handles.append(Line2D([], [], color=SKIPPED_COLOR, linestyle="--", linewidth=0.8,
                              label="skipped"))
    if handles:
        top.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8,
                   frameon=False)
    points = latency_points(history, case.t0)
    outcome_handles = []
    for outcome in COMPLETIONS:
        chosen = [(t, max(lat, 1e-6)) for t, lat, o in points if o == outcome]
        if chosen:
            (pts,) = bottom.plot([p[0] for p in chosen], [p[1] for p in chosen], linestyle="none",
                                 marker="o", markersize=2, alpha=0.6,
                                 color=OUTCOME_COLORS[outcome], label=outcome)
            outcome_handles.append(pts)
    bottom.set_yscale("log")
    if not outcome_handles:
        bottom.set_ylim(1e-4, 1.0)
    else:
        bottom.legend(handles=outcome_handles, loc="upper left", bbox_to_anchor=(1.0, 1.0),
                      fontsize=8, frameon=False, markerscale=3)
    bottom.set_ylabel("latency (s)")
    bottom.set_xlabel("seconds since case start")
    first = min([0.0] + [op.time - case.t0 for op in history])
    bottom.set_xlim(first, max(end, first + bucket))
    for ax in (top, bottom):
        ax.grid(True, alpha=0.3, linewidth=0.5)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    width, height = (round(v) for v in fig.get_size_inches() * DPI)
    return buf.getvalue(), width, height


def timeline(case: Case, history: History) -> bytes:
    """The case's timeline as PNG bytes (see the module docstring)."""
    return _render(case, history)[0]


# --------------------------------------------------------------------------- formatting


def _fmt(value: Any) -> str:
    """A value as table text: None is "–", floats rounded, containers as JSON (truncated)."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    if isinstance(value, dict | list | tuple | set | frozenset):
        if isinstance(value, set | frozenset):
            value = sorted(value, key=repr)
        text = json.dumps(value, default=repr, separators=(", ", ": "))
    else:
        text = str(value)
    return text if len(text) <= MAX_CELL else text[:MAX_CELL - 1] + "…"


def _secs(value: Any) -> str:
    if value is None:
        return MISSING
    try:
        return f"{float(value):.2f}"
    except (TypeError, ValueError):
        return _fmt(value)


def verdict_label(case: Case) -> str:
    """``valid``, ``INVALID``, ``unknown`` or ``error`` (``interrupted`` when the case was cut
    short and no checker proved an anomaly). When every invalid checker is one the scenario
    tolerates (its failure is the documented outcome, e.g. losses under ``everysec``) the
    label is ``expected: <checkers> invalid``."""
    if case.status == "error":
        return "error"
    invalid = [v.checker for v in case.verdicts if v.valid is False]
    if invalid and all(c in case.tolerated for c in invalid):
        return f"expected: {', '.join(invalid)} invalid"
    if invalid:
        return "INVALID"
    if case.status == "interrupted":
        return "interrupted"
    valid = case.valid
    return "valid" if valid else "unknown"


def _stat(case: Case, key: str, seconds: bool = False) -> str:
    if key not in case.stats:
        return MISSING
    value = case.stats[key]
    if seconds:
        return MISSING if value is None else f"{_secs(value)} s"
    return _fmt(value)


def _fault_counts(case: Case) -> tuple[int, int]:
    skipped = sum(1 for f in case.faults if f.skipped is not None)
    return len(case.faults) - skipped, skipped


def comparison_cells(case: Case) -> list[str]:
    """The lines of a case's comparison-table cell (plain text): verdict, acked/lost, lost
    window, faults."""
    applied, skipped = _fault_counts(case)
    return [verdict_label(case),
            f"acked {_stat(case, 'acked')} · lost {_stat(case, 'lost')}",
            f"lost window {_stat(case, 'lost_window', seconds=True)}",
            f"faults {applied} applied / {skipped} skipped"]


def _fault_row(fault: AppliedFault | dict[str, Any]) -> list[str]:
    data = fault.to_dict() if isinstance(fault, AppliedFault) else dict(fault)
    skipped = data.get("skipped")
    return [_fmt(data.get("nemesis")), _fmt(data.get("target")), _secs(data.get("start")),
            "never healed" if "start" in data and data.get("end") is None
            else _secs(data.get("end")),
            _fmt(data.get("after_ops")), _fmt(data.get("effect") or None),
            "" if skipped is None else _fmt(skipped)]


def _op_row(op: Any) -> list[str]:
    if not isinstance(op, dict):
        return [_fmt(op)] + [""] * (len(OP_HEAD) - 1)
    result = op.get("result")
    if result is None and "result_size" in op:
        shown = f"{_fmt(op['result_size'])} elements"
        if "contains" in op:
            shown += "; contains it" if op["contains"] else "; lacks it"
    else:
        shown = _fmt(result)
    return [_fmt(op.get("process")), _fmt(op.get("f")), _fmt(op.get("key")),
            _fmt(op.get("value")), _fmt(op.get("type")), shown]


def _anomalies(verdict: Any) -> list[dict[str, Any]]:
    return [a if isinstance(a, dict) else {"explanation": str(a)}
            for a in (verdict.anomalies or [])]


def _total(verdict: Any, anomalies: list[dict[str, Any]]) -> int:
    """Every anomaly the checker found, including those a saved record left out."""
    return len(anomalies) + int(getattr(verdict, "omitted", 0) or 0)


@dataclass
class _Section:
    """One case with what the pages need: its history (or why not), its timeline."""

    case: Case
    anchor: str
    note: str | None = None
    png: bytes | None = None
    width: int = 0
    height: int = 0
    filename: str = ""


def _load(case: Case) -> tuple[History | None, str | None]:
    path = Path(case.folder) / "history.jsonl.gz"
    if not path.exists():  # a case still running, or an older one, has it uncompressed
        path = Path(case.folder) / "history.jsonl"
    if not path.exists():
        return None, f"No history recorded ({path} is missing); no timeline."
    try:
        return read_jsonl(path, allow_truncated_tail=True), None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return None, f"History unreadable ({first}); no timeline."


def _prepare(cases: list[Case], out_dir: Path) -> list[_Section]:
    sections, used = [], set()
    for number, case in enumerate(cases, start=1):
        section = _Section(case, f"case-{number}")
        history, section.note = _load(case)
        if history is not None:
            name = slugify(f"{case.impl}-{case.scenario}")
            filename, n = f"{name}.png", 1
            while filename in used:
                n += 1
                filename = f"{name}-{n}.png"
            used.add(filename)
            try:
                section.png, section.width, section.height = _render(case, history)
            except Exception as exc:  # a report must not die on one odd history
                section.note = f"Timeline could not be drawn ({type(exc).__name__}: {exc})."
            else:
                section.filename = filename
                (out_dir / filename).write_bytes(section.png)
        sections.append(section)
    return sections


def _grid(cases: list[Case]) -> tuple[list[str], list[str], dict[tuple[str, str], list[int]]]:
    scenarios = list(dict.fromkeys(c.scenario for c in cases))
    impls = list(dict.fromkeys(c.impl for c in cases))
    cells: dict[tuple[str, str], list[int]] = {}
    for i, case in enumerate(cases):
        cells.setdefault((case.scenario, case.impl), []).append(i)
    return scenarios, impls, cells


def _settings_text(case: Case) -> str:
    return ", ".join(f"{k}={_fmt(v)}" for k, v in case.settings.items()) or MISSING


# --------------------------------------------------------------------------- HTML


def _h_table(head: list[str], rows: list[list[str]], cls: str = "") -> str:
    """An HTML table; every cell is escaped."""
    attr = f' class="{escape(cls)}"' if cls else ""
    out = [f"<table{attr}><tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>"]
    out += ["<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows]
    return "".join(out) + "</table>"


def _h_verdict(label: str) -> str:
    return f'<span class="v-{escape(label.lower())}">{escape(label)}</span>'


def _html_comparison(cases: list[Case], sections: list[_Section]) -> str:
    scenarios, impls, cells = _grid(cases)
    out = ['<table class="comparison" id="comparison"><tr><th>scenario</th>'
           + "".join(f"<th>{escape(i)}</th>" for i in impls) + "</tr>"]
    for scenario in scenarios:
        row = [f"<th>{escape(scenario)}</th>"]
        for impl in impls:
            parts = []
            for i in cells.get((scenario, impl), []):
                lines = comparison_cells(cases[i])
                parts.append(f'<a href="#{sections[i].anchor}">{_h_verdict(lines[0])}</a><br>'
                             + "<br>".join(escape(line) for line in lines[1:]))
            row.append("<td>" + ("<hr>".join(parts) or MISSING) + "</td>")
        out.append("<tr>" + "".join(row) + "</tr>")
    return "".join(out) + "</table>"


def _html_case(section: _Section) -> str:
    case = section.case
    label = verdict_label(case)
    out = [f'<section class="case" id="{section.anchor}">'
           f"<h2>{escape(case.scenario)} · {escape(case.impl)} {_h_verdict(label)}</h2>"]
    if case.description:
        out.append(f'<p class="muted">{escape(case.description)}</p>')
    status = case.status + (f": {case.error}" if case.error else "")
    meta = [("system", case.system), ("status", status), ("seed", str(case.seed)),
            ("duration", f"{_secs(case.duration)} s"), ("settings", _settings_text(case)),
            ("folder", case.folder)]
    out.append('<dl class="meta">' + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>"
                                             for k, v in meta) + "</dl>")
    out.append("<h3>Replay</h3>")
    out.append(f'<pre class="replay"><code>{escape(case.replay)}</code></pre>' if case.replay
               else '<p class="muted">No replay command recorded.</p>')
    out.append("<h3>Timeline</h3>")
    if section.png is not None:
        b64 = base64.b64encode(section.png).decode("ascii")
        out.append(f'<img src="data:image/png;base64,{b64}" width="{section.width}" '
                   f'height="{section.height}" alt="timeline of {escape(case.scenario)} on '
                   f'{escape(case.impl)}">')
    else:
        out.append(f'<p class="note history-note">{escape(section.note or "")}</p>')
    out.append("<h3>Faults</h3>")
    out.append(_h_table(FAULT_HEAD, [_fault_row(f) for f in case.faults], "faults")
               if case.faults else '<p class="muted">No faults in the schedule.</p>')
    out.append("<h3>Checkers</h3>")
    if case.verdicts:
        out.append(_h_table(["checker", "status", "summary"],
                            [[v.checker, v.status, v.summary] for v in case.verdicts],
                            "verdicts"))
    else:
        out.append('<p class="muted">No checker verdicts.</p>')
    for verdict in case.verdicts:
        if verdict.valid is not False:
            continue
        anomalies = _anomalies(verdict)
        shown = anomalies[:MAX_ANOMALIES]
        out.append(f"<h4>Anomalies of {escape(verdict.checker)} ({len(shown)} of "
                   f"{_total(verdict, anomalies)} shown)</h4>")
        for a in shown:
            out.append(f"<p><b>{escape(_fmt(a.get('kind', 'anomaly')))}</b>: "
                       f"{escape(str(a.get('explanation', '')))}</p>")
            ops = a.get("ops") or []
            if isinstance(ops, list) and ops:
                out.append(_h_table(OP_HEAD, [_op_row(op) for op in ops], "ops"))
    if case.shrink is not None:
        out.append("<h3>Shrink</h3>")
        shrink = case.shrink if isinstance(case.shrink, dict) else {"faults": str(case.shrink)}
        for key in ("faults", "ops"):
            if shrink.get(key):
                out.append(f"<p>{escape(key)}: {escape(str(shrink[key]))}</p>")
        schedule = shrink.get("schedule") or []
        if isinstance(schedule, list) and schedule:
            out.append("<p>Shrunk schedule:</p>")
            out.append(_h_table(FAULT_HEAD, [_fault_row(f) if isinstance(f, dict | AppliedFault)
                                             else [_fmt(f)] + [""] * 6 for f in schedule],
                                "shrunk"))
    out.append("<h3>Figures</h3>")
    out.append(_h_table(["stat", "value"], [[str(k), _fmt(v)] for k, v in case.stats.items()],
                        "stats") if case.stats else '<p class="muted">No figures.</p>')
    out.append("</section>")
    return "\n".join(out)


def render_html(cases: list[Case], sections: list[_Section], title: str, run_id: int | None,
                command: str) -> str:
    body = [f"<h1>{escape(title)}</h1>"]
    facts = []
    if run_id is not None:
        facts.append(f"run #{run_id}")
    facts.append(f"{len(cases)} case{'s' if len(cases) != 1 else ''}")
    body.append(f'<p class="muted">{escape(" · ".join(facts))}</p>')
    if command:
        body.append(f'<pre class="command"><code>{escape(command)}</code></pre>')
    body.append(f'<p class="how">{escape(HOW_TO_READ)}</p>')
    body.append("<h2>Comparison</h2>")
    body.append(_html_comparison(cases, sections) if cases
                else '<p class="muted">No cases in this run.</p>')
    body += [_html_case(s) for s in sections]
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{_STYLE}</style></head>\n<body>\n"
            + "\n".join(body) + "\n</body></html>\n")


# --------------------------------------------------------------------------- Markdown


def _m_table(head: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table; every cell is escaped (pipes, markup, newlines)."""
    return (["| " + " | ".join(md_escape(h) for h in head) + " |",
             "| " + " | ".join("---" for _ in head) + " |"]
            + ["| " + " | ".join(md_escape(c) or " " for c in row) + " |" for row in rows])


def _m_code(text: str, lang: str = "") -> list[str]:
    fence = "```"
    while fence in text:
        fence += "`"
    return [f"{fence}{lang}", text, fence]


def _markdown_comparison(cases: list[Case]) -> list[str]:
    scenarios, impls, cells = _grid(cases)
    rows = []
    for scenario in scenarios:
        row = [scenario]
        for impl in impls:
            parts = [" · ".join(comparison_cells(cases[i]))
                     for i in cells.get((scenario, impl), [])]
            row.append(" / ".join(parts) or MISSING)
        rows.append(row)
    return _m_table(["scenario", *impls], rows)


def _markdown_case(section: _Section) -> list[str]:
    case = section.case
    out = [f"## {md_escape(case.scenario)} · {md_escape(case.impl)}: "
           f"**{verdict_label(case)}**", ""]
    if case.description:
        out += [md_escape(case.description), ""]
    status = case.status + (f": {case.error}" if case.error else "")
    out += _m_table(["field", "value"],
                    [["system", case.system], ["status", status], ["seed", str(case.seed)],
                     ["duration", f"{_secs(case.duration)} s"],
                     ["settings", _settings_text(case)], ["folder", case.folder]])
    out += ["", "### Replay", ""]
    out += (_m_code(case.replay, "sh") if case.replay else ["No replay command recorded."])
    out += ["", "### Timeline", ""]
    if section.png is not None:
        out.append(f"![timeline of {md_escape(case.scenario)} on {md_escape(case.impl)}]"
                   f"({section.filename})")
    else:
        out.append(md_escape(section.note or ""))
    out += ["", "### Faults", ""]
    out += (_m_table(FAULT_HEAD, [_fault_row(f) for f in case.faults]) if case.faults
            else ["No faults in the schedule."])
    out += ["", "### Checkers", ""]
    out += (_m_table(["checker", "status", "summary"],
                     [[v.checker, v.status, v.summary] for v in case.verdicts])
            if case.verdicts else ["No checker verdicts."])
    for verdict in case.verdicts:
        if verdict.valid is not False:
            continue
        anomalies = _anomalies(verdict)
        shown = anomalies[:MAX_ANOMALIES]
        out += ["", f"#### Anomalies of {md_escape(verdict.checker)} ({len(shown)} of "
                f"{_total(verdict, anomalies)} shown)"]
        for a in shown:
            out += ["", f"- **{md_escape(_fmt(a.get('kind', 'anomaly')))}**: "
                    f"{md_escape(str(a.get('explanation', '')))}"]
            ops = a.get("ops") or []
            if isinstance(ops, list) and ops:
                out += [""] + _m_table(OP_HEAD, [_op_row(op) for op in ops])
    if case.shrink is not None:
        out += ["", "### Shrink", ""]
        shrink = case.shrink if isinstance(case.shrink, dict) else {"faults": str(case.shrink)}
        for key in ("faults", "ops"):
            if shrink.get(key):
                out += [f"- {key}: {md_escape(str(shrink[key]))}"]
        schedule = shrink.get("schedule") or []
        if isinstance(schedule, list) and schedule:
            out += ["", "Shrunk schedule:", ""]
            out += _m_table(FAULT_HEAD, [_fault_row(f) if isinstance(f, dict | AppliedFault)
                                         else [_fmt(f)] + [""] * 6 for f in schedule])
    out += ["", "### Figures", ""]
    out += (_m_table(["stat", "value"], [[str(k), _fmt(v)] for k, v in case.stats.items()])
            if case.stats else ["No figures."])
    return out + [""]


def render_markdown(cases: list[Case], sections: list[_Section], title: str,
                    run_id: int | None, command: str) -> str:
    out = [f"# {md_escape(title)}", ""]
    facts = ([f"run #{run_id}"] if run_id is not None else []) + [
        f"{len(cases)} case{'s' if len(cases) != 1 else ''}"]
    out += [" · ".join(facts), ""]
    if command:
        out += _m_code(command, "sh") + [""]
    out += [HOW_TO_READ, "", "## Comparison", ""]
    out += (_markdown_comparison(cases) if cases else ["No cases in this run."]) + [""]
    for section in sections:
        out += _markdown_case(section)
    return "\n".join(out)


# --------------------------------------------------------------------------- entry point


def write_report(cases: list[Case], out_dir: Path, *, title: str, run_id: int | None = None,
                 command: str = "") -> Path:
    """Write ``index.html`` (self-contained), ``index.md`` and one ``<impl>-<scenario>.png``
    timeline per case with a readable history into ``out_dir``; returns the HTML path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sections = _prepare(cases, out_dir)
    html_path = out_dir / "index.html"
    html_path.write_text(render_html(cases, sections, title, run_id, command), encoding="utf-8")
    (out_dir / "index.md").write_text(render_markdown(cases, sections, title, run_id, command),
                                      encoding="utf-8")
    return html_path

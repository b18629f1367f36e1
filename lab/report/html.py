"""Self-contained HTML rendering of a report (index.html).

The page has no external resource of any kind: CSS is inline, charts are base64 PNG data URIs
and no JavaScript is used.  Every piece of text coming from the data is escaped.
"""

from __future__ import annotations

import base64
from html import escape

import pandas as pd

from lab.report.charts import Chart
from lab.report.fuzz import (
    FuzzChart,
    FuzzSection,
    coverage_table,
    crashes_table,
    overview_table,
)
from lab.report.model import (
    DASH,
    ReportInput,
    WorkloadMeta,
    comparison_table,
    fingerprint_json,
    flatten_fingerprint,
    fmt_duration,
    fmt_param_value,
    results_table,
    skipped_notes,
    status_warning,
    summary_table,
)

_CSS = """
:root { --fg:#1f2328; --muted:#59636e; --line:#d1d9e0; --bg2:#f6f8fa;
  --good:#1a7f37; --good-bg:#dafbe1; --bad:#cf222e; --bad-bg:#ffebe9;
  --same:#59636e; --same-bg:#eef1f4; --warn-bg:#fff8c5; --warn:#9a6700; }
* { box-sizing: border-box; }
body { font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
  color: var(--fg); margin: 0; background: #fff; }
main { max-width: 1280px; margin: 0 auto; padding: 24px 32px 64px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 36px 0 10px; padding-bottom: 6px;
  border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; margin: 22px 0 8px; }
p.desc, .muted { color: var(--muted); }
code, pre { font: 12.5px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { background: var(--bg2); border: 1px solid var(--line); border-radius: 6px; padding: 12px;
  overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 999px; font-weight: 600;
  font-size: 12px; vertical-align: middle; }
.status-ok { background: var(--good-bg); color: var(--good); }
.status-failed { background: var(--bad-bg); color: var(--bad); }
.status-interrupted, .status-other { background: var(--warn-bg); color: var(--warn); }
.dirty { background: var(--warn-bg); color: var(--warn); }
.banner { border-radius: 6px; padding: 12px 16px; margin: 14px 0; font-weight: 600; }
.banner.status-failed { border: 1px solid var(--bad); }
.banner.status-interrupted, .banner.status-other { border: 1px solid var(--warn); }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; margin: 14px 0; }
dl.meta dt { color: var(--muted); } dl.meta dd { margin: 0; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: var(--bg2); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:nth-child(even) td { background: #fbfcfd; }
tr.verdict-better td.verdict { background: var(--good-bg); color: var(--good); font-weight: 600; }
tr.verdict-worse td.verdict { background: var(--bad-bg); color: var(--bad); font-weight: 600; }
tr.verdict-same td.verdict { background: var(--same-bg); color: var(--same); }
tr.verdict-better td.ratio { color: var(--good); font-weight: 600; }
tr.verdict-worse td.ratio { color: var(--bad); font-weight: 600; }
tr.row-skipped td, tr.row-failed td { color: var(--muted); }
tr.row-failed td.status { color: var(--bad); font-weight: 600; }
tr.row-skipped td.status { color: var(--warn); font-weight: 600; }
td.good { color: var(--good); font-weight: 600; } td.bad { color: var(--bad); font-weight: 600; }
ul.notes { background: var(--warn-bg); border-radius: 6px; padding: 8px 12px 8px 30px; }
figure.chart { margin: 14px 0 22px; }
figure.chart img { max-width: 100%; height: auto; border: 1px solid var(--line);
  border-radius: 4px; }
figure.chart figcaption { color: var(--muted); font-size: 12px; }
details > summary { cursor: pointer; color: var(--muted); margin: 6px 0; }
nav.toc { background: var(--bg2); border-radius: 6px; padding: 8px 16px; margin: 14px 0; }
nav.toc a { margin-right: 14px; }
.empty { padding: 18px; background: var(--bg2); border-radius: 6px; color: var(--muted); }
tr.crash-open td.status { color: var(--bad); font-weight: 600; }
tr.crash-fixed td.status { color: var(--good); font-weight: 600; }
"""

_CAPTIONS = {
    "bar": "Bars: median per implementation; whiskers: 95% confidence interval.",
    "scaling": "Lines: median vs the parameter (log–log); shaded band: 95% confidence interval.",
    "percentile": "Lines: median latency at each percentile (log scale); shaded band: 95% "
                  "confidence interval.",
}
_NUMERIC_COLUMNS = {"Ratio", "95% CI", "p-value", "Median", "n", "Better", "Worse", "Same",
                    "Geo-mean ratio", "Range",
                    # fuzzing tables
                    "Corpus files", "Corpus size", "Seeds", "Fuzz runs", "Execs", "Exec/s",
                    "cov", "ft", "Lines", "Branches", "Functions", "Regions", "Inputs", "Count",
                    "Reliability"}


def _cell_class(column: str, value: str) -> str:
    """CSS class of a table cell, from its column (and value for the summary counts)."""
    if column == "Verdict":
        return "verdict"
    if column == "Ratio":
        return "ratio num"
    if column == "Status":
        return "status"
    if column in ("Better", "Worse") and value not in ("0", ""):
        return ("good" if column == "Better" else "bad") + " num"
    return "num" if column in _NUMERIC_COLUMNS else ""


def _table(df: pd.DataFrame, css_class: str, row_class_col: str | None = None,
           row_class_prefix: str = "", links: tuple[str, str] | None = None) -> str:
    """HTML table of string cells; columns starting with "_" are hidden helpers.

    Row `i` gets class `row_class_prefix + df[row_class_col][i]` when that value is non-empty.
    With `links=(column, href_column)`, a cell of `column` links to the row's `href_column`
    value when it is non-empty.
    """
    cols = [c for c in df.columns if not c.startswith("_")]
    head = "".join(f"<th>{escape(c)}</th>" for c in cols)
    body = []
    for row in df.to_dict("records"):
        cls = ""
        if row_class_col and row[row_class_col]:
            cls = f' class="{escape(row_class_prefix + str(row[row_class_col]))}"'
        cells = "".join(f'<td class="{_cell_class(c, str(row[c]))}">{_cell(row, c, links)}</td>'
                        for c in cols)
        body.append(f"<tr{cls}>{cells}</tr>")
    return (f'<table class="{escape(css_class)}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


def _cell(row: dict, column: str, links: tuple[str, str] | None) -> str:
    text = escape(str(row[column]))
    if links and column == links[0] and row.get(links[1]):
        return f'<a href="{escape(str(row[links[1]]))}">{text}</a>'
    return text


def _header(data: ReportInput) -> str:
    status = data.status or "unknown"
    status_cls = f"status-{status}" if status in ("ok", "failed", "interrupted") else "status-other"
    out = [f"<h1>Benchmark report: {escape(data.system)} "
           f"<span class=\"muted\">run #{escape(str(data.run_id))}</span></h1>"]
    what = status_warning(status)
    if what:
        out.append(f'<div class="banner {status_cls}" role="alert" id="status-banner">'
                   f"⚠ {escape(what)} — the results below are incomplete and may be "
                   "unreliable.</div>")
    commit = escape(data.git_commit) if data.git_commit else "unknown"
    dirty = ' <span class="badge dirty">dirty</span>' if data.git_dirty else ""
    rows = [
        ("Status", f'<span class="badge {status_cls}" id="run-status">{escape(status)}</span>'),
        ("Started", escape(data.started or DASH)),
        ("Finished", escape(data.finished or DASH)),
        ("Duration", escape(fmt_duration(data.started, data.finished))),
        ("Git commit", f"<code>{commit}</code>{dirty}"),
        ("Baseline", f"<code>{escape(data.baseline)}</code>"),
        ("Fingerprint", f"<code>{escape(data.fingerprint_hash or DASH)}</code>"),
    ]
    out.append('<dl class="meta">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
               + "</dl>")
    return "\n".join(out)


def _chart_html(chart: Chart) -> str:
    b64 = base64.b64encode(chart.png).decode("ascii")
    title = escape(chart.spec.title)
    return (f'<figure class="chart chart-{escape(chart.kind)}">'
            f'<img src="data:image/png;base64,{b64}" alt="{title}" decoding="sync" '
            f'width="{chart.width}" height="{chart.height}">'
            f"<figcaption>{escape(_CAPTIONS.get(chart.kind, ''))}</figcaption></figure>")


def _params_line(meta: WorkloadMeta | None) -> str:
    if meta is None or not meta.params:
        return ""
    parts = []
    for name, values in meta.params.items():
        shown = ", ".join(fmt_param_value(name, v, meta) for v in values)
        size = " <span class=\"muted\">(input size)</span>" if name == meta.size_param else ""
        parts.append(f"<li><code>{escape(name)}</code>{size}: {escape(shown)}</li>")
    return f"<ul class=\"params\">{''.join(parts)}</ul>"


def _workload_section(data: ReportInput, name: str, meta: WorkloadMeta | None,
                      results: pd.DataFrame, comparisons: pd.DataFrame, impls: list[str],
                      charts: list[Chart]) -> str:
    anchor = escape(f"wl-{name}")
    out = [f'<section class="workload" id="{anchor}"><h2>Workload <code>{escape(name)}</code></h2>']
    if meta is not None and meta.description:
        out.append(f'<p class="desc">{escape(meta.description)}</p>')
    out.append(_params_line(meta))
    if results[results["workload"] == name].empty:
        out.append('<p class="empty">No results for this workload.</p></section>')
        return "\n".join(out)
    notes = skipped_notes(results, name)
    if notes:
        items = "".join(f"<li><b>{escape(impl)}</b> — {escape(note)}</li>"
                        for impl, note in notes)
        out.append(f'<ul class="notes">{items}</ul>')
    baseline = meta.baseline if meta is not None and meta.baseline else data.baseline
    out.append(f"<h3>Comparison against <code>{escape(baseline)}</code></h3>")
    cmp = comparison_table(comparisons, results, name, meta, impls)
    if cmp.empty:
        out.append('<p class="empty">No comparisons for this workload.</p>')
    else:
        out.append('<p class="muted">Ratio = implementation ÷ baseline, with its 95% '
                   "confidence interval. ↑ higher is better, ↓ lower is better.</p>")
        out.append(_table(cmp, "comparisons", "_verdict", "verdict-"))
    wl_charts = [c for c in charts if c.spec.workload == name]
    if wl_charts:
        out.append("<h3>Charts</h3>")
        out.extend(_chart_html(c) for c in wl_charts)
    res = results_table(results, name, meta, impls)
    out.append(f"<details open><summary>All results ({len(res)} rows)</summary>"
               f"{_table(res, 'results', '_status', 'row-')}</details>")
    out.append("</section>")
    return "\n".join(out)


def render_html(data: ReportInput, results: pd.DataFrame, comparisons: pd.DataFrame,
                workload_names: list[str], impls: list[str], charts: list[Chart]) -> str:
    """Return the full index.html text (UTF-8, self-contained)."""
    title = f"{data.system} run #{data.run_id} — benchmark report"
    body = [_header(data)]
    if workload_names:
        links = "".join(f'<a href="#{escape(f"wl-{n}")}">{escape(n)}</a>'
                        for n in workload_names)
        fuzz = ' <a href="#fuzzing">fuzzing</a>' if data.fuzz is not None else ""
        fuzz += ' <a href="#profiles">profiles</a>' if data.profiles_html else ""
        fuzz += ' <a href="#attachments">attachments</a>' if data.attachments_html else ""
        body.append(f'<nav class="toc">Workloads: {links}{fuzz} '
                    '<a href="#environment">environment</a>'
                    f' <a href="#reproduce">reproduce</a></nav>')
    body.append('<h2 id="summary">Summary</h2>')
    if results.empty:
        body.append('<p class="empty" id="no-results">Nothing to report: this run recorded no '
                    "results.</p>")
    elif (results["status"] != "ok").all():
        body.append('<p class="empty" id="no-results">Nothing was measured: every result of '
                    "this run was skipped or failed (see the notes below).</p>")
    summary = summary_table(comparisons, impls, workload_names)
    if not summary.empty:
        body.append(f'<p class="muted">Comparisons against <code>{escape(data.baseline)}'
                    "</code> per implementation, workload and metric.</p>")
        body.append(_table(summary, "summary"))
    elif (results["status"] == "ok").any():
        body.append('<p class="empty">No comparisons against the baseline are available.</p>')
    for name in workload_names:
        body.append(_workload_section(data, name, data.workloads.get(name), results,
                                      comparisons, impls, charts))
    if data.fuzz is not None:
        body.append(_fuzz_section(data.fuzz))
    if data.profiles_html:
        body.append(data.profiles_html)
    if data.attachments_html:
        body.append(data.attachments_html)
    body.append('<h2 id="environment">Environment</h2>')
    body.append(f"<p>Fingerprint hash: <code>{escape(data.fingerprint_hash or DASH)}</code></p>")
    fp_rows = flatten_fingerprint(data.fingerprint or {})
    if fp_rows:
        fp = pd.DataFrame(fp_rows, columns=["Key", "Value"])
        body.append(_table(fp, "fingerprint"))
        body.append("<details><summary>Raw fingerprint JSON</summary>"
                    f"<pre>{escape(fingerprint_json(data.fingerprint))}</pre></details>")
    else:
        body.append('<p class="empty">No fingerprint recorded.</p>')
    body.append('<h2 id="reproduce">Reproduce</h2>')
    body.append(f'<pre id="reproduce-command"><code>{escape(data.command)}</code></pre>')
    return _page(title, body)


def _page(title: str, body: list[str]) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>\n"
        f"<body><main>\n{chr(10).join(body)}\n</main></body></html>\n"
    )


# --------------------------------------------------------------------------- fuzzing


def _fuzz_chart_html(chart: FuzzChart) -> str:
    b64 = base64.b64encode(chart.png).decode("ascii")
    title = escape(chart.title)
    return (f'<figure class="chart chart-fuzz" id="{escape(f"fuzz-chart-{chart.target}")}">'
            f'<img src="data:image/png;base64,{b64}" alt="{title}" decoding="sync" '
            f'width="{chart.width}" height="{chart.height}">'
            "<figcaption>libFuzzer's <code>cov</code> (covered edges) against elapsed "
            "seconds, one line per fuzz run.</figcaption></figure>")


def _fuzz_section(section: FuzzSection) -> str:
    """The fuzzing section: targets, coverage, crashes and coverage-over-time charts."""
    out = ['<section class="fuzzing" id="fuzzing"><h2>Fuzzing</h2>',
           '<p class="muted">Corpus: the inputs grown by <code>lab fuzz</code>; seeds: the '
           "committed ones. Statistics are the last libFuzzer status of each target's latest "
           "fuzz run (<code>cov</code>: covered edges, <code>ft</code>: features).</p>",
           '<h3 id="fuzz-targets">Targets</h3>', _table(overview_table(section), "fuzz-targets")]
    out.append('<h3 id="fuzz-coverage">Source coverage (<code>lab cover</code>)</h3>')
    cover = coverage_table(section)
    if cover.empty:
        out.append('<p class="empty">No coverage measured yet; run <code>lab cover '
                   f"{escape(section.system)}</code>.</p>")
    else:
        out.append('<p class="muted">Latest measurement per target, over the system\'s own C '
                   "sources, replaying seeds, regressions and the grown corpus.</p>")
        out.append(_table(cover, "fuzz-coverage", links=("HTML", "_link")))
    out.append('<h3 id="fuzz-crashes">Crashes</h3>')
    crashes = crashes_table(section)
    if crashes.empty:
        out.append('<p class="empty" id="no-crashes">No crashes recorded.</p>')
    else:
        out.append('<p class="muted">Deduplicated by signature; reliability is the share of '
                   "re-runs that reproduced the crash.</p>")
        out.append(_table(crashes, "fuzz-crashes", "_status", "crash-"))
    out.append('<h3 id="fuzz-charts">Coverage over time</h3>')
    if section.charts:
        out.extend(_fuzz_chart_html(c) for c in section.charts)
    else:
        out.append('<p class="empty">No fuzzing statistics recorded yet.</p>')
    out.append("</section>")
    return "\n".join(out)


def render_fuzz_html(section: FuzzSection) -> str:
    """A fuzzing-only index.html (a system with fuzz data but no bench run)."""
    rows = [("Generated", escape(section.generated or DASH)),
            ("Targets", escape(", ".join(t.info.name for t in section.targets) or DASH))]
    body = [f"<h1>Fuzzing report: {escape(section.system)}</h1>",
            '<p class="muted">No bench run of this system is recorded; this report shows its '
            "fuzzing only.</p>",
            '<dl class="meta">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
            + "</dl>",
            _fuzz_section(section)]
    return _page(f"{section.system} — fuzzing report", body)

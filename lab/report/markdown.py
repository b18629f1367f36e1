"""Markdown rendering of a report (report.md); charts are linked as relative PNG paths."""

from __future__ import annotations

import re

import pandas as pd

from lab.report.charts import Chart
from lab.report.fuzz import FuzzSection, coverage_table, crashes_table, overview_table
from lab.report.model import (
    DASH,
    ReportInput,
    comparison_table,
    fingerprint_json,
    fmt_duration,
    fmt_param_value,
    results_table,
    skipped_notes,
    status_warning,
    summary_table,
)

_VERDICT_MARK = {"better": "✅ better", "worse": "❌ worse", "same": "➖ same"}


def md_escape(text: str) -> str:
    """Escape text for a Markdown table cell / inline context (pipes, newlines, markup)."""
    out = str(text).replace("\\", "\\\\").replace("|", "\\|")
    for ch in "*`":
        out = out.replace(ch, "\\" + ch)
    out = re.sub(r"<(?=[A-Za-z/!?])", r"\\<", out)  # would start an HTML tag
    out = re.sub(r"\](?=\()", r"\\]", out)  # would close a link text
    out = re.sub(r"&(?=#?\w+;)", r"\\&", out)  # would start an entity
    return " ".join(out.splitlines())


def md_table(df: pd.DataFrame, raw: tuple[str, ...] = ()) -> str:
    """GitHub-flavoured Markdown table of `df` (columns starting with "_" are omitted).

    Cells of the `raw` columns are already Markdown and are not escaped.
    """
    cols = [c for c in df.columns if not c.startswith("_")]
    lines = ["| " + " | ".join(md_escape(c) for c in cols) + " |",
             "| " + " | ".join("---" for _ in cols) + " |"]
    for row in df.to_dict("records"):
        lines.append("| " + " | ".join((str(row[c]) if c in raw else md_escape(row[c])) or " "
                                       for c in cols) + " |")
    return "\n".join(lines)


def _pipe(text: str) -> str:
    return text.replace("|", "\\|")


def _code_block(text: str, lang: str = "") -> str:
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}{lang}\n{text}\n{fence}"


def render_markdown(data: ReportInput, results: pd.DataFrame, comparisons: pd.DataFrame,
                    workload_names: list[str], impls: list[str], charts: list[Chart],
                    chart_dir: str) -> str:
    """Return report.md text; chart images are referenced as `chart_dir/<file>.png`."""
    out = [f"# Benchmark report: {md_escape(data.system)} — run #{data.run_id}", ""]
    warning = status_warning(data.status)
    if warning:
        out += [f"> ⚠️ **{md_escape(warning)}** — the results below are incomplete and may be "
                "unreliable.", ""]
    commit = f"`{data.git_commit}`" if data.git_commit else "unknown"
    meta = pd.DataFrame([
        ("Status", f"**{data.status}**"),
        ("Started", data.started or DASH),
        ("Finished", data.finished or DASH),
        ("Duration", fmt_duration(data.started, data.finished)),
        ("Git commit", commit + (" (dirty)" if data.git_dirty else "")),
        ("Baseline", data.baseline),
        ("Fingerprint hash", data.fingerprint_hash or DASH),
    ], columns=["Field", "Value"])
    out += ["| Field | Value |", "| --- | --- |"]
    out += [f"| {k} | {_pipe(v)} |" for k, v in meta.itertuples(index=False)]
    out += ["", "## Summary", ""]
    if results.empty:
        out += ["Nothing to report: this run recorded no results.", ""]
    elif (results["status"] != "ok").all():
        out += ["Nothing was measured: every result of this run was skipped or failed.", ""]
    summary = summary_table(comparisons, impls, workload_names)
    if not summary.empty:
        out += [md_table(summary), ""]
    elif (results["status"] == "ok").any():
        out += ["No comparisons against the baseline are available.", ""]
    for name in workload_names:
        out += _workload(data, name, results, comparisons, impls, charts, chart_dir)
    if data.fuzz is not None:
        out += fuzz_markdown(data.fuzz, chart_dir)
    out += data.profiles_markdown
    out += data.attachments_markdown
    out += ["## Environment", "", f"Fingerprint hash: `{data.fingerprint_hash or DASH}`", "",
            _code_block(fingerprint_json(data.fingerprint or {}), "json"), ""]
    out += ["## Reproduce", "", _code_block(data.command, "sh"), ""]
    return "\n".join(out)


def _workload(data: ReportInput, name: str, results: pd.DataFrame, comparisons: pd.DataFrame,
              impls: list[str], charts: list[Chart], chart_dir: str) -> list[str]:
    meta = data.workloads.get(name)
    out = [f"## Workload `{name}`", ""]
    if meta is not None and meta.description:
        out += [md_escape(meta.description), ""]
    if meta is not None and meta.params:
        for pname, values in meta.params.items():
            shown = ", ".join(fmt_param_value(pname, v, meta) for v in values)
            size = " (input size)" if pname == meta.size_param else ""
            out.append(f"- `{pname}`{size}: {md_escape(shown)}")
        out.append("")
    if results[results["workload"] == name].empty:
        return out + ["No results for this workload.", ""]
    notes = skipped_notes(results, name)
    if notes:
        out += [f"> **{md_escape(impl)}** — {md_escape(note)}  " for impl, note in notes]
        out.append("")
    baseline = meta.baseline if meta is not None and meta.baseline else data.baseline
    out += [f"### Comparison against `{baseline}`", ""]
    cmp = comparison_table(comparisons, results, name, meta, impls)
    if cmp.empty:
        out += ["No comparisons for this workload.", ""]
    else:
        cmp = cmp.assign(Verdict=[_VERDICT_MARK.get(v, v) for v in cmp["Verdict"]])
        out += ["Ratio = implementation ÷ baseline (95% CI). ↑ higher is better, "
                "↓ lower is better.", "", md_table(cmp), ""]
    wl_charts = [c for c in charts if c.spec.workload == name]
    if wl_charts:
        out += ["### Charts", ""]
        for c in wl_charts:
            alt = c.spec.title.replace("[", "(").replace("]", ")")
            out += [f"![{alt}]({chart_dir}/{c.filename})", ""]
    out += ["### Results", "", md_table(results_table(results, name, meta, impls)), ""]
    return out


# --------------------------------------------------------------------------- fuzzing


def _destination(href: str) -> str:
    """A link destination; <...> when it holds spaces or parentheses."""
    return f"<{href}>" if re.search(r"[\s()<>]", href) else href


def _links(df: pd.DataFrame, column: str, href_column: str) -> pd.DataFrame:
    """`column` as Markdown links to `href_column` where set (text escaped here)."""
    cells = [f"[{md_escape(text)}]({_destination(href)})" if href else md_escape(text)
             for text, href in zip(df[column], df[href_column], strict=True)]
    return df.assign(**{column: cells})


def fuzz_markdown(section: FuzzSection, chart_dir: str) -> list[str]:
    """The fuzzing section as Markdown lines; charts are linked as `chart_dir/<file>.png`."""
    out = ["## Fuzzing", "",
           "Corpus: the inputs grown by `lab fuzz`; seeds: the committed ones. Statistics are "
           "the last libFuzzer status of each target's latest fuzz run (cov: covered edges, "
           "ft: features).", "", md_table(overview_table(section)), "",
           "### Source coverage (`lab cover`)", ""]
    cover = coverage_table(section)
    if cover.empty:
        out += [f"No coverage measured yet; run `lab cover {section.system}`.", ""]
    else:
        out += [md_table(_links(cover, "HTML", "_link"), raw=("HTML",)), ""]
    out += ["### Crashes", ""]
    crashes = crashes_table(section)
    if crashes.empty:
        out += ["No crashes recorded.", ""]
    else:
        out += ["Deduplicated by signature; reliability is the share of re-runs that "
                "reproduced the crash.", "", md_table(crashes), ""]
    out += ["### Coverage over time", ""]
    if not section.charts:
        out += ["No fuzzing statistics recorded yet.", ""]
    for chart in section.charts:
        alt = chart.title.replace("[", "(").replace("]", ")")
        out += [f"![{alt}]({chart_dir}/{chart.filename})", ""]
    return out


def render_fuzz_markdown(section: FuzzSection, chart_dir: str) -> str:
    """A fuzzing-only report.md (a system with fuzz data but no bench run)."""
    out = [f"# Fuzzing report: {md_escape(section.system)}", "",
           "No bench run of this system is recorded; this report shows its fuzzing only.", "",
           f"Generated: {section.generated or DASH}", ""]
    return "\n".join(out + fuzz_markdown(section, chart_dir))

"""``reports/ci/<stamp>/``: the report of one ``lab ci`` run (or calibration).

Three files: ``summary.md`` (fit for a CI job summary or a pull-request comment: the verdict,
the two commits, and only the significant changes, each with its effect, interval, p, q, the
smallest change that benchmark can detect and the profile diff of the two builds), ``index.html``
(every benchmark compared, the fuzzing, the notes) and ``ci.json`` (the same data, for tools).

Contract. ``write(result, folder)`` and ``write_calibration(cal, folder)`` create ``folder``
and return ``{"html", "summary", "json"}`` paths as strings.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from lab.ci.compare import Row


def _pct(x: float | None, sign: bool = True) -> str:
    if x is None:
        return "–"
    return f"{x * 100:+.2f}%" if sign else f"{x * 100:.2f}%"


def _p(x: float | None) -> str:
    return "–" if x is None else f"{x:.2g}"


def verdict_line(result: Any) -> str:
    """The one-line verdict the summary starts with."""
    if result.status == 2:
        return "baseline does not build: nothing compared"
    parts = []
    if result.regressions:
        parts.append(f"{len(result.regressions)} regression(s)")
    if result.new_crashes:
        parts.append(f"{len(result.new_crashes)} new crash(es)")
    if result.problems:
        parts.append("the current tree failed")
    return "FAILED: " + ", ".join(parts) if parts else "ok: no confirmed regression or new crash"


def _interval(r: Row) -> str:
    if r.ci_low is None or r.ci_high is None:
        return "–"
    return f"[{_pct(r.ci_low - 1)}, {_pct(r.ci_high - 1)}]"


def _band(r: Row) -> str:
    if r.band is None:
        return "exact" if r.kind == "exact" else "–"
    return f"±{_pct(r.band, False)}" + ("" if r.calibrated else " (default)")


ROW_HEAD = ("benchmark", "channel", "verdict", "baseline", "current", "change", "95% interval",
            "p", "q", "noise band", "min detectable")


def _cells(r: Row) -> list[str]:
    return [r.key.label, r.channel, r.verdict, f"{r.baseline:.6g} {r.unit}".strip(),
            f"{r.current:.6g} {r.unit}".strip(), _pct(r.change), _interval(r), _p(r.pvalue),
            _p(r.qvalue), _band(r), _pct(r.min_detectable, False)]


def _md_table(head: tuple[str, ...] | list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return out


def _sides(result: Any) -> str:
    cur = result.current
    text = f"current `{cur.short}`"
    if cur.dirty:
        text += " (**dirty**: uncommitted changes are measured)"
    if result.baseline is not None:
        text += f" vs baseline `{result.baseline.short}` ({result.baseline_source})"
    else:
        text += f" · baseline: {result.baseline_source}"
    return text


def _profile_md(diff: dict) -> list[str]:
    out = [f"<details><summary>profile diff: {diff['label']} ({diff['unit']}, self)</summary>",
           ""]
    out += _md_table(("function", "baseline", "current", "change"),
                     [[f"`{r['name']}`", f"{r['before']:.0f}", f"{r['after']:.0f}",
                       f"{r['delta']:+.0f}"] for r in diff["rows"]])
    return out + ["", "</details>", ""]


def summary_md(result: Any) -> str:
    """The markdown summary (see the module doc)."""
    lines = [f"# lab ci: {verdict_line(result)}", "",
             f"{_sides(result)} · systems: {', '.join(result.systems) or 'none'} · "
             f"{result.rounds} round(s) · {result.seconds / 60:.1f} min", ""]
    for title, items in (("Baseline problems", result.baseline_problems),
                         ("Current tree problems", result.problems)):
        if items:
            lines += [f"## {title}", ""] + [f"- {p}" for p in items] + [""]
    significant = [r for r in result.rows if r.significant]
    if significant:
        lines += ["## Significant changes", ""]
        lines += _md_table(ROW_HEAD, [_cells(r) for r in significant]) + [""]
        lines += [line for d in result.profile_diffs for line in _profile_md(d)]
    elif result.rows:
        lines += [f"No significant change in {len(result.rows)} benchmark figures.", ""]
    unclear = [r for r in result.rows if r.unclear]
    if unclear:
        lines += ["## Unclear", "",
                  f"{len(unclear)} figure(s) show no change but cannot rule one out: their "
                  f"interval still reaches past the noise band after {result.rounds} round(s) "
                  "(the machine was too noisy for them).", ""]
        lines += _md_table(ROW_HEAD, [_cells(r) for r in unclear]) + [""]
    crashes = [(t, c) for t in result.fuzz for c in t.crashes]
    if result.fuzz:
        lines += ["## Fuzzing", "",
                  f"{len(result.fuzz)} target(s), {result.fuzz[0].seconds:.1f} s each; "
                  f"{len(result.new_crashes)} new crash(es), "
                  f"{len(crashes) - len(result.new_crashes)} reproducing on the baseline.", ""]
        if crashes:
            lines += _md_table(("target", "crash", "kind", "signature", "verdict"),
                               [[f"{t.system}/{t.target}", f"#{c.id}", c.kind,
                                 f"`{c.signature}`", c.verdict + (f" ({c.note})" if c.note else "")]
                                for t, c in crashes]) + [""]
    if result.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in result.notes] + [""]
    return "\n".join(lines)


def _html_table(head: tuple[str, ...] | list[str], rows: list[list[str]],
                classes: list[str] | None = None) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if classes and classes[i] else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>")
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


STYLE = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:90em}"
         "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
         "padding:.25em .5em;text-align:left}tr.regression{background:#fdd}"
         "tr.improvement{background:#dfd}pre{background:#f6f6f6;padding:1em}")


def index_html(result: Any, summary: str) -> str:
    parts = [f"<!doctype html><meta charset=utf-8><title>lab ci {result.started}</title>",
             f"<style>{STYLE}</style><h1>lab ci · {html.escape(verdict_line(result))}</h1>",
             f"<p>{html.escape(_sides(result))}</p>"]
    if result.rows:
        parts.append("<h2>Every benchmark</h2>")
        parts.append(_html_table(ROW_HEAD, [_cells(r) for r in result.rows],
                                 [r.verdict if r.significant else "" for r in result.rows]))
    parts.append("<h2>Summary (summary.md)</h2>")
    parts.append(f"<pre>{html.escape(summary)}</pre>")
    return "\n".join(parts)


def to_json(result: Any) -> dict:
    return {"status": result.status, "verdict": verdict_line(result),
            "started": result.started, "run_id": result.run_id, "systems": result.systems,
            "current": {"commit": result.current.commit, "dirty": result.current.dirty},
            "baseline": ({"commit": result.baseline.commit, "source": result.baseline_source}
                         if result.baseline else {"commit": None,
                                                  "source": result.baseline_source}),
            "rounds": result.rounds, "seconds": result.seconds,
            "rows": [r.to_json() for r in result.rows],
            "regressions": [r.key.label for r in result.regressions],
            "fuzz": [t.to_json() for t in result.fuzz],
            "new_crashes": len(result.new_crashes), "problems": result.problems,
            "baseline_problems": result.baseline_problems, "notes": result.notes,
            "profile_diffs": result.profile_diffs}


def _write_files(folder: Path, summary: str, page: str, doc: dict,
                 json_name: str) -> dict[str, str]:
    """Write summary.md, index.html and the JSON document (which names the other two)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {"html": folder / "index.html", "summary": folder / "summary.md",
             "json": folder / json_name}
    files["summary"].write_text(summary)
    files["html"].write_text(page)
    doc = dict(doc, report=str(files["html"]), summary=str(files["summary"]))
    files["json"].write_text(json.dumps(doc, indent=2, default=str))
    return {k: str(v) for k, v in files.items()}


def write(result: Any, folder: Path) -> dict[str, str]:
    summary = summary_md(result)
    return _write_files(folder, summary, index_html(result, summary), to_json(result),
                        "ci.json")


def calibration_md(cal: Any) -> str:
    alarms = cal.runs_with_false_alarms
    lines = [f"# lab ci --calibrate: {cal.runs} A/A runs, {alarms} with a false alarm", "",
             f"working tree `{cal.tree.short}` against itself · systems: "
             f"{', '.join(cal.systems)} · rounds per run: "
             f"{', '.join(str(r) for r in cal.rounds)} · {cal.seconds / 60:.1f} min", "",
             "Noise band: ratios within 1 ± half-width are noise. Min detectable: the smallest "
             "change one check detects with 80% power.", ""]
    lines += _md_table(("benchmark", "noise band", "min detectable", "A/A ratios"),
                       [[b.key.label, f"±{_pct(b.half_width, False)}",
                         _pct(b.min_detectable, False),
                         " ".join(f"{r:.4f}" for r in b.aa_ratios)] for b in cal.bands])
    lines.append("")
    for i, run_alarms in enumerate(cal.false_alarms):
        for a in run_alarms:
            lines.append(f"- A/A run {i + 1}: false alarm on {a['label']} "
                         f"({_pct(a['change'])}, q {_p(a['qvalue'])})")
    for c in cal.exact_changes:
        lines.append(f"- A/A run {c['aa_run']}: a deterministic figure changed: {c['label']} "
                     f"({_pct(c['change'])})")
    for i, labels in enumerate(cal.unclear):
        if labels:
            lines.append(f"- A/A run {i + 1}: {len(labels)} unclear (a check would follow up): "
                         + ", ".join(labels))
    lines += [f"- problem: {p}" for p in cal.problems]
    return "\n".join(lines) + "\n"


def write_calibration(cal: Any, folder: Path) -> dict[str, str]:
    text = calibration_md(cal)
    page = (f"<!doctype html><meta charset=utf-8><title>lab ci calibration</title>"
            f"<style>{STYLE}</style><pre>{html.escape(text)}</pre>")
    doc = {"runs": cal.runs, "runs_with_false_alarms": cal.runs_with_false_alarms,
           "false_alarms": cal.false_alarms, "exact_changes": cal.exact_changes,
           "rounds": cal.rounds, "bands": [b.to_json() for b in cal.bands],
           "problems": cal.problems, "seconds": cal.seconds, "systems": cal.systems,
           "unclear": cal.unclear}
    return _write_files(folder, text, page, doc, "calibration.json")

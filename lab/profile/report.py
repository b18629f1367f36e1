"""Files of a profile: flame graph, speedscope document, folded stacks, HTML and Markdown pages.

:func:`write_profile` writes one profile run's folder; :func:`write_diff` writes the folder of
a profile diff (a sorted table and, for sampled profiles, a differential flame graph);
:func:`profiles_section_html` / :func:`profiles_section_markdown` give the "Profiles" section
of a system's bench report, linking the latest profile of each (implementation, workload).
"""

from __future__ import annotations

import base64
import json
import os
from html import escape
from pathlib import Path
from typing import Any

from lab.profile.flame import flame_svg, speedscope_json
from lab.profile.stacks import DiffRow, FunctionCost, Stacks, to_folded

_STYLE = ("body{font-family:system-ui,sans-serif;margin:1.5em;max-width:1300px}"
          "table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #ddd;"
          "text-align:right}td:first-child,th:first-child{text-align:left;font-family:monospace}"
          ".muted{color:#666}.note{background:#fff3cd;padding:4px 8px}img{max-width:100%}")


def _pct(part: float, total: float) -> str:
    return f"{100 * part / total:.1f}%" if total else "-"


def top_rows(costs: list[FunctionCost], total: float) -> list[list[str]]:
    """Display rows of a top-functions table: name, self, self %, total %."""
    return [[c.name, f"{c.self_weight:,.0f}", _pct(c.self_weight, total),
             _pct(c.total_weight, total)] for c in costs]


def _html_table(head: list[str], rows: list[list[str]], table_id: str) -> str:
    out = [f'<table id="{table_id}"><tr>' + "".join(f"<th>{escape(h)}</th>" for h in head)
           + "</tr>"]
    out += ["<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows]
    return "\n".join(out) + "</table>"


def _md_table(head: list[str], rows: list[list[str]]) -> list[str]:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    return (["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            + ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows])


def write_profile(result: Any, n_top: int = 20) -> dict[str, str]:
    """Write the files of a :class:`lab.profile.runner.ProfileResult`; name -> path."""
    out = result.out_dir
    out.mkdir(parents=True, exist_ok=True)
    title = f"{result.system} · {result.workload} · {result.impl} ({result.source})"
    files = {"svg": out / "flame.svg", "speedscope": out / "profile.speedscope.json",
             "folded": out / "stacks.folded", "html": out / "index.html",
             "markdown": out / "index.md"}
    files["svg"].write_text(flame_svg(result.stacks, title))
    files["speedscope"].write_text(json.dumps(speedscope_json(result.stacks, title)))
    files["folded"].write_text(to_folded(result.stacks))
    rows = top_rows(result.top(n_top), result.stacks.total)
    head = ["function", "self samples", "self", "total"]
    params = ", ".join(f"{k}={v}" for k, v in sorted(result.params.items()))
    facts = (f"run {result.run_id}; {result.stacks.total:g} samples by {result.source} over "
             f"{result.calls} calls in {result.seconds:.1f} s; parameters: {params}")
    note = f'<p class="note">{escape(result.note)}</p>' if result.note else ""
    files["html"].write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>"
        f'<p class="muted">{escape(facts)}</p>{note}'
        '<p><a href="flame.svg">flame graph (SVG)</a> · <a href="profile.speedscope.json">'
        'speedscope</a> (open at speedscope.app) · <a href="stacks.folded">folded stacks</a>'
        '</p><img src="flame.svg" alt="flame graph">'
        f"<h2>Top functions by self time</h2>{_html_table(head, rows, 'top-functions')}"
        "</body></html>\n")
    md = [f"# {title}", "", facts, ""] + ([f"> {result.note}", ""] if result.note else [])
    md += ["![flame graph](flame.svg)", "", "## Top functions by self time", ""]
    files["markdown"].write_text("\n".join(md + _md_table(head, rows)) + "\n")
    return {k: str(v) for k, v in files.items()}


# ------------------------------------------------------------------------------- diffs

def diff_rows(rows: list[DiffRow], unit: str, limit: int) -> list[list[str]]:
    """Display rows: function, before, after, change (absolute for instructions), share."""
    out = []
    for r in rows[:limit]:
        change = f"{r.delta:+,.0f}" if unit == "instructions" else f"{r.delta:+g}"
        out.append([r.name, f"{r.before:,.0f}", f"{r.after:,.0f}", change,
                    f"{100 * r.before_share:.1f}% → {100 * r.after_share:.1f}%",
                    f"{100 * r.share_delta:+.1f} pt"])
    return out


DIFF_HEAD = ["function", "before", "after", "change", "share", "share change"]


def write_diff(out: Path, title: str, rows: list[DiffRow], unit: str, limit: int,
               before: Stacks | None, after: Stacks | None) -> dict[str, str]:
    """Write a diff's table (HTML, Markdown) and, with both stacks, a differential flame
    graph (the "after" profile coloured red where a frame's share grew, blue where it
    shrank)."""
    out.mkdir(parents=True, exist_ok=True)
    files = {"html": out / "index.html", "markdown": out / "index.md"}
    table = diff_rows(rows, unit, limit)
    graph = ""
    if before is not None and after is not None:
        files["svg"] = out / "diff.svg"
        files["svg"].write_text(flame_svg(after, title, diff_base=before, unit=unit))
        graph = '<img src="diff.svg" alt="differential flame graph">'
    files["html"].write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>{graph}"
        f"<h2>Functions that changed most ({escape(unit)})</h2>"
        f"{_html_table(DIFF_HEAD, table, 'diff')}</body></html>\n")
    md = [f"# {title}", ""] + (["![differential flame graph](diff.svg)", ""] if graph else [])
    files["markdown"].write_text("\n".join(md + _md_table(DIFF_HEAD, table)) + "\n")
    return {k: str(v) for k, v in files.items()}


# --------------------------------------------------------------------- report section

def latest_profiles(store: Any, system: str, limit_runs: int = 200) -> list[dict]:
    """The newest successful profile of each (impl, workload, source) of ``system``."""
    seen: dict[tuple, dict] = {}
    for run in store.runs(system, limit_runs):
        if run.kind != "profile" or run.status != "ok":
            continue
        for p in store.profiles(run.id):
            key = (p["impl"], p["workload"], p["source"])
            if key not in seen and Path(p["artifacts"].get("svg", "")).exists():
                seen[key] = dict(p, run_id=run.id)
    return list(seen.values())


def _top_of(profile: dict, n: int) -> list[FunctionCost]:
    costs = [FunctionCost(name, float(v[0]), float(v[1]))
             for name, v in profile["functions"].items()]
    return sorted(costs, key=lambda c: (-c.self_weight, c.name))[:n]


def _heading(p: dict) -> str:
    what = "samples" if p["unit"] == "samples" else "instructions"
    return (f"{p['workload']} · {p['impl']} (run {p['run_id']}, {p['source']}, "
            f"{p['total']:,.0f} {what})")


def profiles_section_html(profiles: list[dict], report_dir: Path, n_top: int = 10) -> str:
    """The bench report's "Profiles" section: each profile's top functions by self cost
    and, for sampled profiles, its flame graph (embedded, so the report stays one file)."""
    if not profiles:
        return ""
    out = ['<section class="profiles" id="profiles"><h2>Profiles</h2>',
           '<p class="muted">Per-function costs: instructions counted by callgrind in this run '
           "(<code>--metric instructions</code>), and the latest <code>lab profile</code> of "
           "each implementation and workload (sampled stacks, Python and C frames together)."
           "</p>"]
    for p in profiles:
        out.append(f"<h3>{escape(_heading(p))}</h3>")
        svg = p["artifacts"].get("svg")
        if svg and Path(svg).exists():
            page = os.path.relpath(p["artifacts"]["html"], report_dir)
            data = base64.b64encode(Path(svg).read_bytes()).decode()
            out.append(f'<p><a href="{escape(page)}">profile page</a> (SVG, speedscope)</p>'
                       f'<img class="flame" src="data:image/svg+xml;base64,{data}" '
                       'alt="flame graph" style="max-width:100%">')
        head = ["function", f"self {p['unit']}", "self", "total"]
        out.append(_html_table(head, top_rows(_top_of(p, n_top), p["total"]),
                               f"profile-top-{p['run_id']}-{p['impl']}-{p['workload']}"))
    return "\n".join(out) + "</section>"


def profiles_section_markdown(profiles: list[dict], report_dir: Path,
                              n_top: int = 10) -> list[str]:
    """The "Profiles" section as Markdown lines (flame graphs linked, not embedded)."""
    if not profiles:
        return []
    out = ["## Profiles", ""]
    for p in profiles:
        out += [f"### {_heading(p)}", ""]
        svg = p["artifacts"].get("svg")
        if svg and Path(svg).exists():
            out += [f"![flame graph]({os.path.relpath(svg, report_dir)})", ""]
        out += _md_table(["function", f"self {p['unit']}", "self", "total"],
                         top_rows(_top_of(p, n_top), p["total"])) + [""]
    return out


def stacks_of(profile: dict) -> Stacks | None:
    """The folded stacks kept with a stored profile (None for callgrind profiles)."""
    from lab.profile.stacks import parse_folded

    return parse_folded(profile["stacks"]) if profile.get("stacks") else None


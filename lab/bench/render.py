"""Terminal and JSON renderings of a bench run.

The terminal shows one table per (workload, metric): a row per parameter set, a column per
implementation with its median and, for non-baseline implementations, the ratio to the
baseline coloured by verdict. Skipped and failed implementations are listed under the tables
with the reason and the install command.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from rich.console import Console
from rich.table import Table

from lab.bench.engine import RunSummary
from lab.bench.summary import INSTRUCTION_NOISE

STYLE = {"better": "green", "worse": "red", "same": "dim"}


def _fmt(value: float) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    mag = abs(value)
    if mag >= 1000:
        return f"{value:,.0f}"
    if mag >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def to_json(summary: RunSummary) -> dict[str, Any]:
    """The documented ``--json`` document."""
    def clean(v: Any) -> Any:
        return None if isinstance(v, float) and not math.isfinite(v) else v

    results = [{k: clean(r.get(k)) for k in ("impl", "workload", "params", "metric", "unit",
                                              "better", "channel", "median", "ci_low",
                                              "ci_high", "n", "status", "note")}
               for r in summary.results]
    comparisons = [{k: clean(c.get(k)) for k in ("impl", "baseline", "workload", "params",
                                                  "metric", "channel", "ratio", "ci_low",
                                                  "ci_high", "p_value", "verdict")}
                   for c in summary.comparisons]
    run = summary.run
    return {
        "run_id": run.id, "system": run.system, "status": run.status,
        "fingerprint": {"hash": run.fingerprint_hash, "data": run.fingerprint},
        "results": results, "comparisons": comparisons,
        "report": str(summary.report) if summary.report else None,
    }


def _human(name: str, value: Any, size_param: str | None) -> str:
    if name == size_param and isinstance(value, int):
        for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
            if value >= scale and value % scale == 0:
                return f"{value // scale} {unit}"
    return str(value)


def _label(params: dict[str, Any], names: list[str], size_param: str | None) -> str:
    return ", ".join(f"{n}={_human(n, params[n], size_param)}" for n in names) or "-"


def first_channel(rows: dict[str, dict[str, dict]]) -> str:
    """The channel of a table's figures (one metric: one channel)."""
    for row in rows.values():
        for r in row.values():
            return r.get("channel") or "wall"
    return "wall"


def print_tables(summary: RunSummary, console: Console) -> None:
    """Comparison tables, then notes on skipped/failed implementations.

    Parameters that are the same on every row go into the heading; the rows show the rest.
    """
    base = summary.system.baseline
    ratio = {(c["impl"], c["workload"], c["params_key"], c["metric"]): c
             for c in summary.comparisons}
    tables: dict[tuple[str, str, str], dict[str, dict[str, dict]]] = defaultdict(
        lambda: defaultdict(dict))
    impls = [base] + [i.name for i in summary.system.impls if i.name != base]
    for r in summary.results:
        if r["status"] != "ok":
            continue
        tables[(r["workload"], r["metric"], r["unit"])][r["params_key"]][r["impl"]] = r
    for (workload, metric, unit), rows in tables.items():
        size_param = summary.system.workload(workload).size_param
        base = summary.system.baseline_of(workload)
        first = [next(iter(row.values())) for row in rows.values()]
        names = sorted(first[0]["params"])
        varying = [n for n in names if len({str(f["params"][n]) for f in first}) > 1]
        fixed = _label(first[0]["params"], [n for n in names if n not in varying], size_param)
        channel = first_channel(rows)
        console.print(f"[bold]{summary.system.name} · {workload} · {metric}[/bold] ({unit}, "
                      f"{channel} channel, "
                      f"{first[0]['better']} is better; ×ratio vs {base})"
                      + (f" · {fixed}" if fixed != "-" else ""), highlight=False)
        table = Table()
        table.add_column("params")
        cols = [i for i in impls if any(i in row for row in rows.values())]
        for impl in cols:
            table.add_column(impl, justify="right")
        for (pk, row), head in zip(rows.items(), first, strict=True):
            cells = []
            for impl in cols:
                r = row.get(impl)
                if r is None:
                    cells.append("")
                    continue
                c = ratio.get((impl, workload, pk, metric))
                text = _fmt(r["median"])
                if c is not None:
                    style = STYLE[c["verdict"]]
                    text += f" [{style}]×{c['ratio']:.2f}[/{style}]"
                cells.append(text)
            table.add_row(_label(head["params"], varying, size_param), *cells)
        console.print(table)
    _print_notes(summary, console)


def _print_notes(summary: RunSummary, console: Console) -> None:
    seen: dict[str, set[str]] = defaultdict(set)
    for r in summary.results:
        if r["status"] != "ok" and r["note"]:
            seen[r["note"]].add(r["impl"])
    for note, impls in seen.items():
        console.print(f"[yellow]{', '.join(sorted(impls))}[/yellow]: {note}", highlight=False)
    if summary.comparisons:
        counts: dict[str, int] = defaultdict(int)
        for c in summary.comparisons:
            counts[c["verdict"]] += 1
        noise = summary.run.options.get("noise", 0.0)
        band = f"1 ± {noise:.0%}"
        if summary.run.options.get("metric") == "instructions":
            band = f"1 ± {min(noise, INSTRUCTION_NOISE):.1%}"
        console.print(f"verdicts (95% CI of the ratio beyond {band}): " + ", ".join(
            f"{counts[v]} {v}" for v in ("better", "worse", "same")))
    run = summary.run
    console.print(f"run {run.id}: {run.status}"
                  + (f"; report: {summary.report}" if summary.report else ""))

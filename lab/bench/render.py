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

    results = [{k: clean(r[k]) for k in ("impl", "workload", "params", "metric", "unit", "better",
                                          "median", "ci_low", "ci_high", "n", "status", "note")}
               for r in summary.results]
    comparisons = [{k: clean(c[k]) for k in ("impl", "baseline", "workload", "params", "metric",
                                              "ratio", "ci_low", "ci_high", "p_value", "verdict")}
                   for c in summary.comparisons]
    run = summary.run
    return {
        "run_id": run.id, "system": run.system, "status": run.status,
        "fingerprint": {"hash": run.fingerprint_hash, "data": run.fingerprint},
        "results": results, "comparisons": comparisons,
        "report": str(summary.report) if summary.report else None,
    }


def print_tables(summary: RunSummary, console: Console) -> None:
    """Comparison tables, then notes on skipped/failed implementations."""
    base = summary.system.baseline
    ratio = {(c["impl"], c["workload"], c["params_key"], c["metric"]): c
             for c in summary.comparisons}
    tables: dict[tuple[str, str, str], dict[str, dict[str, dict]]] = defaultdict(
        lambda: defaultdict(dict))
    impls: list[str] = [base]
    for r in summary.results:
        if r["status"] != "ok":
            continue
        if r["impl"] not in impls:
            impls.append(r["impl"])
        tables[(r["workload"], r["metric"], r["unit"])][r["params_key"]][r["impl"]] = r
    for (workload, metric, unit), rows in tables.items():
        better = next(iter(next(iter(rows.values())).values()))["better"]
        console.print(f"[bold]{summary.system.name} · {workload} · {metric}[/bold] ({unit}, "
                      f"{better} is better; ×ratio vs {base})", highlight=False)
        table = Table()
        table.add_column("params", overflow="fold")
        cols = [i for i in impls if any(i in row for row in rows.values())]
        for impl in cols:
            table.add_column(impl, justify="right")
        for pk, row in rows.items():
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
            table.add_row(pk, *cells)
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
        console.print("verdicts (95% CI of the ratio excludes 1): " + ", ".join(
            f"{counts[v]} {v}" for v in ("better", "worse", "same")))
    run = summary.run
    console.print(f"run {run.id}: {run.status}"
                  + (f"; report: {summary.report}" if summary.report else ""))

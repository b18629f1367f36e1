"""The ``lab history`` command: each benchmark's figures across runs and commits, and the
change points in them."""

from __future__ import annotations

import json

import click

import lab
from lab.builtins.common import system_named


@click.command("history")
@click.argument("system")
@click.option("--workload", "-w", help="Only this workload.")
@click.option("--impl", "-i", help="Only this implementation.")
@click.option("--metric", "-m", help="Only this metric.")
@click.option("--force", is_flag=True,
              help="Include runs on other machines or environments (other fingerprints).")
@click.option("--max-p", "max_p", type=click.FloatRange(0, 1, min_open=True), default=0.001,
              show_default=True, help="Largest t-test p-value of a change point.")
@click.option("--min-change", type=click.FloatRange(0, 10), default=0.02, show_default=True,
              help="Smallest relative change of a change point (0.02 = 2%).")
@click.option("--all", "show_all", is_flag=True, help="List benchmarks without change points.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
def history_cmd(system: str, workload: str | None, impl: str | None, metric: str | None,
                force: bool, max_p: float, min_change: float, show_all: bool,
                as_json: bool) -> None:
    """Show each benchmark's history over the recorded bench runs of SYSTEM (same
    fingerprint as the latest run unless --force), with change points found by E-divisive
    means and a t-test, and chart them under reports/SYSTEM/history/."""
    from lab import paths
    from lab.ci import history as hist
    from lab.ci import history_report
    from lab.errors import UsageError
    from lab.store import open_store

    s = system_named(system)
    if workload is not None and workload not in [w.name for w in s.workloads]:
        raise UsageError(f"unknown workload {workload!r}; valid: "
                         f"{', '.join(w.name for w in s.workloads)}")
    store = open_store()
    try:
        history = hist.load(store, s.name, workload, force=force, impl=impl, metric=metric)
    finally:
        store.close()
    if not history.series:
        raise UsageError(f"no finished bench run of {s.name} matches; run `lab bench "
                         f"{s.name}` first")
    hist.analyze(history, max_pvalue=max_p, min_magnitude=min_change)
    page = history_report.write(history, paths.reports_dir() / s.name / "history")
    if as_json:
        click.echo(json.dumps(dict(hist.to_dict(history), report=str(page)), indent=2))
        return
    _print(history, show_all)
    click.echo(f"report: {page}")


def _print(history, show_all: bool) -> None:  # noqa: ANN001 - lab.ci.history.History
    where = (f"fingerprint {history.fingerprint[:16]}" if history.fingerprint
             else "every fingerprint (forced)")
    left = f", {history.left_out} runs of other fingerprints left out" if history.left_out else ""
    changed = [s for s in history.series if s.changes]
    click.echo(f"{history.system}: {history.runs} runs ({where}{left}), "
               f"{len(history.series)} benchmarks, {len(changed)} with change points")
    for s in history.series:
        if not s.changes and not show_all:
            continue
        last = s.points[-1]
        click.echo(f"  {s.name}: {len(s.points)} runs, latest {last.median:.4g} {s.unit} "
                   f"({last.label})")
        for c in s.changes:
            at = s.points[c.index]
            click.echo(f"    {s.verdict(c)} at {at.label} (run {at.run_id}): {c.before:.4g} -> "
                       f"{c.after:.4g} ({c.change:+.1%}, p={c.pvalue:.1e})")


@lab.hookimpl
def lab_register_commands() -> list[click.Command]:
    return [history_cmd]

"""``lab profile``: flame graphs of one workload, and diffs of two profiled runs."""

from __future__ import annotations

import json
import sys

import click

import lab
from lab.builtins.common import system_named


def _print_top(result) -> None:  # noqa: ANN001 - ProfileResult
    total = result.stacks.total
    click.echo(f"profile run {result.run_id}: {result.system} · {result.workload} · "
               f"{result.impl} — {total:g} samples ({result.source}), {result.calls} calls in "
               f"{result.seconds:.1f} s")
    if result.note:
        click.echo(f"note: {result.note}")
    click.echo(f"{'self':>7} {'total':>7}  function")
    for c in result.top(20):
        click.echo(f"{100 * c.self_weight / total:6.1f}% {100 * c.total_weight / total:6.1f}%  "
                   f"{c.name}")
    click.echo(f"flame graph: {result.artifacts['svg']}")
    click.echo(f"speedscope:  {result.artifacts['speedscope']}")
    click.echo(f"report:      {result.artifacts['html']}")


def _print_diff(d) -> None:  # noqa: ANN001 - ProfileDiff
    from lab.profile.report import DIFF_HEAD, diff_rows

    click.echo(f"{d.impl} · {d.workload}: run {d.run_a} → run {d.run_b} ({d.unit})")
    rows = diff_rows(d.rows, d.unit, 15)
    widths = [max(len(r[i]) for r in [DIFF_HEAD, *rows]) for i in range(len(DIFF_HEAD))]
    for row in [DIFF_HEAD, *rows]:
        click.echo("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                             for i, (c, w) in enumerate(zip(row, widths, strict=True))))
    click.echo(f"report: {d.files['html']}")


def _diff(runs: tuple[int, int], by: str, as_json: bool) -> None:
    from lab import paths
    from lab.profile.compare import profile_diff
    from lab.store import open_store

    store = open_store()
    try:
        system = store.run(runs[0]).system
        diffs = profile_diff(store, runs[0], runs[1],
                             paths.reports_dir() / system / "profile-diff", by)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps([{
            "run_a": d.run_a, "run_b": d.run_b, "impl": d.impl, "workload": d.workload,
            "params": d.params, "unit": d.unit, "files": d.files,
            "rows": [vars(r) for r in d.rows[:50]]} for d in diffs], indent=2))
        return
    for d in diffs:
        _print_diff(d)


@click.command("profile")
@click.argument("system", required=False)
@click.option("--workload", "-w", help="Workload to profile (default: the system's first).")
@click.option("--impl", "-i", help="Implementation (default: the system's own core).")
@click.option("--param", "-p", "params", multiple=True,
              help="Parameter: NAME=VALUE (default: the first quick parameter set).")
@click.option("--duration", type=click.FloatRange(0.5, 600), default=5.0, show_default=True,
              help="Seconds of work to sample.")
@click.option("--rate", type=click.IntRange(10, 5000), default=250, show_default=True,
              help="Samples per second.")
@click.option("--flavor", default="profile", show_default=True,
              help="Build flavor of the native core (profile: -O2 -g, frame pointers).")
@click.option("--diff", "diff_runs", type=int, nargs=2, metavar="RUN_A RUN_B",
              help="Instead of profiling: compare the profiles of two recorded runs.")
@click.option("--by", type=click.Choice(["self", "total"]), default="self", show_default=True,
              help="With --diff: compare functions' own cost or their inclusive cost.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
def profile_cmd(system: str | None, workload: str | None, impl: str | None,
                params: tuple[str, ...], duration: float, rate: int, flavor: str,
                diff_runs: tuple[int, int] | None, by: str, as_json: bool) -> None:
    """Profile one workload of SYSTEM: a flame graph with the native core's C frames (py-spy
    for in-process work, perf for server processes), the top functions by self time, a
    speedscope file; or, with --diff, what changed between two profiled runs."""
    from lab.errors import UsageError
    from lab.profile.runner import ProfileOptions, run_profile

    if diff_runs:
        _diff(diff_runs, by, as_json)
        return
    if system is None:
        raise UsageError("name a system to profile (see `lab list`), or use --diff RUN_A RUN_B")
    s = system_named(system)
    options = ProfileOptions(impl=impl, workload=workload, params=list(params),
                             duration=duration, rate=rate, flavor=flavor)
    result = run_profile(s, options, ["lab", "profile", *sys.argv[2:]])
    if as_json:
        click.echo(json.dumps({
            "run_id": result.run_id, "system": result.system, "impl": result.impl,
            "workload": result.workload, "params": result.params, "source": result.source,
            "samples": result.stacks.total, "calls": result.calls, "note": result.note,
            "files": result.artifacts,
            "top": [vars(c) for c in result.top(20)]}, indent=2))
        return
    _print_top(result)


@lab.hookimpl
def lab_register_commands() -> list[click.Command]:
    return [profile_cmd]

"""``lab bench`` and ``lab runs``: measure a system against its references, list past runs."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

import lab
from lab.builtins.common import system_named

if TYPE_CHECKING:  # rich is imported when something is shown, not with every command
    from rich.console import Console


def _progress_display(console: Console):  # noqa: ANN202 - returns (rich Progress, callbacks)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from lab.bench.engine import Progress as Callbacks

    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), console=console, transient=True)
    task = bar.add_task("planning", total=None)

    def item(it) -> None:  # noqa: ANN001
        bar.update(task, description=f"rep {it.rep + 1} · {it.workload} "
                                     f"{','.join(f'{k}={v}' for k, v in sorted(it.params.items()))}"
                                     f" · {it.impl}")

    def warn(message: str) -> None:
        bar.console.print(f"[yellow]lab: warning:[/yellow] {message}", highlight=False)

    return bar, Callbacks(start=lambda total: bar.update(task, total=total),
                          item=item, advance=lambda: bar.advance(task), warn=warn)


def reproduce_argv(system: str, options) -> list[str]:  # noqa: ANN001 - BenchOptions
    """The canonical command line that repeats a run with the same selection and timing."""
    argv = ["lab", "bench", system]
    if options.mode != "default":
        argv.append(f"--{options.mode}")
    for flag, values in (("--workload", options.workloads), ("--impl", options.impls),
                         ("--param", options.params)):
        for value in values:
            argv += [flag, value]
    if options.reps is not None:
        argv += ["--reps", str(options.reps)]
    if options.flavor != "release":
        argv += ["--flavor", options.flavor]
    if options.seed:
        argv += ["--seed", str(options.seed)]
    if options.noise != 0.01:
        argv += ["--noise", str(options.noise)]
    if options.metric != "time":
        argv += ["--metric", options.metric]
    argv += [flag for flag, on in (("--counters", options.counters),
                                   ("--memory", options.memory)) if on]
    return argv


@click.command("bench")
@click.argument("system")
@click.option("--workload", "-w", "workloads", multiple=True,
              help="Only this workload; repeatable.")
@click.option("--impl", "-i", "impls", multiple=True,
              help="Only this implementation (the baseline is always included); repeatable.")
@click.option("--param", "-p", "params", multiple=True,
              help="Restrict a parameter: NAME=VALUE[,VALUE...] (declared values only).")
@click.option("--quick", is_flag=True, help="Small parameter subset and short timing (< 1 min).")
@click.option("--full", is_flag=True, help="Every declared parameter value, longer timing.")
@click.option("--reps", type=click.IntRange(1, 100), help="Repetitions (default by mode).")
@click.option("--flavor", default="release", show_default=True, help="Build flavor of the cores.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the run order.")
@click.option("--item-timeout", type=float, default=600.0, show_default=True,
              help="Seconds an item may run before it is recorded as failed.")
@click.option("--noise", type=click.FloatRange(0, 1), default=0.01, show_default=True,
              help="Relative band around 1 within which a timed ratio is called 'same'.")
@click.option("--metric", type=click.Choice(["time", "instructions"]), default="time",
              show_default=True,
              help="time: wall clock (plus --counters/--memory); instructions: each "
                   "in-process workload counted under valgrind (callgrind), deterministic.")
@click.option("--counters", is_flag=True,
              help="Add perf event counters (task clock, context switches, page faults, CPU "
                   "migrations; cycles, instructions, cache and branch misses where supported).")
@click.option("--memory", is_flag=True,
              help="Add peak RSS of every process and the native core's allocations per call.")
@click.option("--no-report", is_flag=True, help="Do not write the HTML/Markdown report.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
def bench_cmd(system: str, workloads: tuple[str, ...], impls: tuple[str, ...],
              params: tuple[str, ...], quick: bool, full: bool, reps: int | None, flavor: str,
              seed: int, item_timeout: float, noise: float, metric: str, counters: bool,
              memory: bool, no_report: bool, as_json: bool) -> None:
    """Benchmark SYSTEM's implementations side by side on its workloads.

    Every figure is marked with its channel (wall, measured, counters, instructions,
    memory); comparisons are made within one channel only.
    """
    from lab.bench.engine import BenchOptions, run_bench
    from lab.bench.render import print_tables, to_json
    from lab.errors import UsageError

    if quick and full:
        raise UsageError("--quick and --full exclude each other; pick one")
    s = system_named(system)
    options = BenchOptions(mode="quick" if quick else "full" if full else "default",
                           impls=list(impls), workloads=list(workloads), params=list(params),
                           flavor=flavor, reps=reps, seed=seed, item_timeout=item_timeout,
                           noise=noise, report=not no_report, counters=counters,
                           memory=memory, metric=metric)
    from rich.console import Console

    err = Console(stderr=True)
    bar, callbacks = _progress_display(err)
    with bar:
        summary = run_bench(s, options, reproduce_argv(s.name, options), callbacks)
    if as_json:
        click.echo(json.dumps(to_json(summary), indent=2))
    else:
        # a log or pipe gets wide lines rather than wrapped cells
        print_tables(summary, Console(width=None if sys.stdout.isatty() else 200))
    if summary.run.status == "interrupted":
        sys.exit(130)


@click.command("runs")
@click.argument("system", required=False)
@click.option("--limit", type=click.IntRange(1, 10000), default=20, show_default=True)
def runs_cmd(system: str | None, limit: int) -> None:
    """List recorded runs, newest first."""
    from lab.store import open_store

    store = open_store()
    for r in store.runs(system, limit):
        commit = (r.git_commit or "no-commit")[:10] + ("+dirty" if r.git_dirty else "")
        click.echo(f"{r.id:>5}  {r.system:<10} {r.kind:<6} {r.status:<11} {r.started}  "
                   f"{commit}  fp {r.fingerprint_hash}  {' '.join(r.command)}")
    store.close()


@lab.hookimpl
def lab_register_commands() -> list[click.Command]:
    return [bench_cmd, runs_cmd]

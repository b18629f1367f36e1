"""Reports: the built-in HTML + Markdown reporter and ``lab report``."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

import lab
from lab.builtins.common import system_named


def report_input(summary):  # noqa: ANN001, ANN201 - RunSummary -> lab.report.ReportInput
    """Adapt a run summary to the report generator's input."""
    import pandas as pd

    from lab.report import ReportInput, WorkloadMeta

    run, system = summary.run, summary.system
    results = pd.DataFrame(summary.results)  # the report fills params_key from params
    comparisons = pd.DataFrame(summary.comparisons)
    workloads = {w.name: WorkloadMeta(w.name, w.description, w.size_param,
                                      {k: list(v) for k, v in w.params.items()})
                 for w in system.workloads}
    return ReportInput(
        system=system.name, run_id=run.id, status=run.status, started=run.started,
        finished=run.finished, command=shlex.join(run.command), git_commit=run.git_commit,
        git_dirty=run.git_dirty, fingerprint=run.fingerprint,
        fingerprint_hash=run.fingerprint_hash, baseline=system.baseline, results=results,
        comparisons=comparisons, workloads=workloads)


@lab.hookimpl
def lab_report_write(summary, out_dir: Path) -> Path:  # noqa: ANN001 - RunSummary
    from lab.report import write_report

    return write_report(report_input(summary), out_dir)


@click.command("report")
@click.argument("system")
@click.option("--run", "run_id", type=int, help="Run id (default: the latest bench run).")
def report_cmd(system: str, run_id: int | None) -> None:
    """Write the report of a recorded bench run under reports/SYSTEM/RUN/."""
    from lab.bench.engine import RunSummary, write_reports
    from lab.errors import UsageError
    from lab.store import open_store

    s = system_named(system)
    store = open_store()
    run = store.run(run_id) if run_id is not None else store.latest_run(s.name)
    if run is None:
        raise UsageError(f"no bench run of {s.name} recorded yet; run `lab bench {s.name}` first")
    if run.system != s.name:
        raise UsageError(f"run {run.id} is a run of {run.system}, not {s.name}")
    path = write_reports(RunSummary(run, s, store.results(run.id), store.comparisons(run.id)))
    store.close()
    click.echo(f"report: {path}")


@lab.hookimpl
def lab_register_commands() -> list[click.Command]:
    return [report_cmd]

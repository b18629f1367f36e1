"""Reports: the built-in HTML + Markdown reporter and ``lab report``.

A bench report of a system with fuzz targets and fuzz data in the store (fuzz statistics,
crashes or ``lab cover`` measurements) also carries the fuzzing section
(:mod:`lab.report.fuzz`). ``lab report SYSTEM`` without any bench run writes a fuzzing-only
report under ``reports/SYSTEM/fuzz/`` when there is fuzz data, and is a usage error otherwise.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import click

import lab
from lab.builtins.common import system_named
from lab.model import System

FUZZ_REPORT_DIR = "fuzz"


def gather_fuzz(system: System, store: Any, report_dir: Path):  # noqa: ANN201 - FuzzSection
    """The fuzzing section of ``system`` for a report written into ``report_dir``, or None
    (no fuzz targets, no fuzz data, or a store without fuzzing tables)."""
    from lab.fuzz.layout import corpus_size, layout
    from lab.report.fuzz import TargetInfo, make_section

    if not system.fuzz_targets or not all(hasattr(store, m) for m in
                                          ("fuzz_stats", "crashes", "coverage")):
        return None
    targets = []
    for t in system.fuzz_targets:
        lay = layout(system, t)
        files, size = corpus_size(lay.corpus)
        targets.append(TargetInfo(t.name, t.description, seeds=corpus_size(lay.seeds)[0],
                                  corpus_files=files, corpus_bytes=size))
    return make_section(system.name, targets, store.fuzz_stats(system.name),
                        store.crashes(system.name), store.coverage(system.name), report_dir)


def _fuzz_for(system: System, report_dir: Path):  # noqa: ANN202 - FuzzSection | None
    from lab.store import open_store

    if not system.fuzz_targets:
        return None
    store = open_store()
    try:
        return gather_fuzz(system, store, report_dir)
    finally:
        close = getattr(store, "close", None)
        if close is not None:
            close()


def gather_profiles(summary, out_dir: Path) -> tuple[str, list[str]]:  # noqa: ANN001
    """The "Profiles" section of a run's report: the run's own callgrind profiles and the
    latest ``lab profile`` of each implementation and workload of its system."""
    from lab.profile.report import latest_profiles, profiles_section_html, profiles_section_markdown
    from lab.store import open_store

    store = open_store()
    try:
        if not hasattr(store, "profiles"):
            return "", []
        own = [dict(p, run_id=summary.run.id) for p in store.profiles(summary.run.id)]
        profiles = own + latest_profiles(store, summary.system.name)
    finally:
        store.close()
    return (profiles_section_html(profiles, out_dir),
            profiles_section_markdown(profiles, out_dir))


def gather_attachments(summary, out_dir: Path) -> tuple[str, list[str]]:  # noqa: ANN001
    """The "Attachments" section: what the run's implementations left in
    ``$LAB_RUN_DIR/attachments`` (screenshots, logs), copied next to the report."""
    from lab import paths
    from lab.report import attachments

    files = attachments.run_attachments(paths.run_dir(summary.run.id))
    copies = attachments.copy_attachments(files, out_dir) if files else []
    return (attachments.section_html(copies, out_dir),
            attachments.section_markdown(copies, out_dir))


def report_input(summary, fuzz=None):  # noqa: ANN001, ANN201 - RunSummary -> ReportInput
    """Adapt a run summary (and an optional fuzzing section) to the report generator's input."""
    import pandas as pd

    from lab.report import ReportInput, WorkloadMeta

    run, system = summary.run, summary.system
    results = pd.DataFrame(summary.results)  # the report fills params_key from params
    comparisons = pd.DataFrame(summary.comparisons)
    workloads = {w.name: WorkloadMeta(w.name, w.description, w.size_param,
                                      {k: list(v) for k, v in w.params.items()},
                                      list(w.scaling), dict(w.percentiles), w.baseline)
                 for w in system.workloads}
    return ReportInput(
        system=system.name, run_id=run.id, status=run.status, started=run.started,
        finished=run.finished, command=shlex.join(run.command), git_commit=run.git_commit,
        git_dirty=run.git_dirty, fingerprint=run.fingerprint,
        fingerprint_hash=run.fingerprint_hash, baseline=system.baseline, results=results,
        comparisons=comparisons, workloads=workloads, fuzz=fuzz)


@lab.hookimpl
def lab_report_write(summary, out_dir: Path) -> Path:  # noqa: ANN001 - RunSummary
    from lab.report import write_report
    from lab.report.fuzz import write_charts

    fuzz = _fuzz_for(summary.system, out_dir)
    data = report_input(summary, fuzz)
    data.profiles_html, data.profiles_markdown = gather_profiles(summary, out_dir)
    data.attachments_html, data.attachments_markdown = gather_attachments(summary, out_dir)
    index = write_report(data, out_dir)
    write_charts(fuzz, out_dir)
    return index


def write_fuzz_only(system: System, store: Any) -> Path | None:
    """Write the fuzzing-only report of ``system``; None when it has no fuzz data."""
    from lab import paths
    from lab.report.fuzz import write_fuzz_report

    out_dir = paths.reports_dir() / system.name / FUZZ_REPORT_DIR
    section = gather_fuzz(system, store, out_dir)
    return write_fuzz_report(section, out_dir) if section is not None else None


@click.command("report")
@click.argument("system")
@click.option("--run", "run_id", type=int, help="Run id (default: the latest bench run).")
def report_cmd(system: str, run_id: int | None) -> None:
    """Write the report of a recorded bench run under reports/SYSTEM/RUN/, with a fuzzing
    section when SYSTEM has fuzz data; with fuzz data but no bench run, a fuzzing-only report
    under reports/SYSTEM/fuzz/. A chaos run's report is written again from its cases, under
    reports/SYSTEM/chaos/RUN/."""
    from lab.bench.engine import RunSummary, write_reports
    from lab.errors import UsageError
    from lab.store import open_store

    s = system_named(system)
    store = open_store()
    try:
        run = store.run(run_id) if run_id is not None else store.latest_run(s.name)
        if run is None:
            path = write_fuzz_only(s, store)
            if path is None:
                raise UsageError(f"no bench run of {s.name} recorded yet; run "
                                 f"`lab bench {s.name}` first")
        else:
            if run.system != s.name:
                raise UsageError(f"run {run.id} is a run of {run.system}, not {s.name}")
            if run.kind == "chaos":
                from lab.chaos.runner import rewrite_report

                path = rewrite_report(s, store, run)
            else:
                path = write_reports(RunSummary(run, s, store.results(run.id),
                                                store.comparisons(run.id)))
    finally:
        store.close()
    click.echo(f"report: {path}")


@lab.hookimpl
def lab_register_commands() -> list[click.Command]:
    return [report_cmd]

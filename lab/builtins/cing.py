"""The ``lab ci`` command: the regression check of the working tree against a baseline commit
(and ``--calibrate``, its A/A calibration)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

import lab


def _env_pairs(values: tuple[str, ...], flag: str) -> dict[str, str]:
    from lab.errors import UsageError

    out = {}
    for value in values:
        name, sep, text = value.partition("=")
        if not sep or not name or not name.replace("_", "a").isalnum():
            raise UsageError(f"{flag} {value!r} is not NAME=VALUE (a variable name, '=', a value)")
        out[name] = text
    return out


def _split(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(v for value in values for v in value.split(",") if v)


@click.command("ci")
@click.option("--systems", "-s", "systems", multiple=True,
              help="Systems to check (comma-separated or repeated; default: all that bench).")
@click.option("--baseline", "-b", metavar="REF",
              help="Commit to compare with (HEAD~1, main, a tag; '.' = the working tree "
                   "itself). Default: the commit of the previous lab ci run in the store.")
@click.option("--budget", type=click.FloatRange(0.5, 24 * 60), default=30.0, show_default=True,
              help="Minutes the whole check may take, roughly (benchmark rounds adapt; fuzz "
                   "targets share the rest).")
@click.option("--rounds", type=click.IntRange(2, 50), default=5, show_default=True,
              help="Paired benchmark rounds before any follow-up (fewer when the budget runs "
                   "short, at least 3 unless fewer are asked for).")
@click.option("--max-rounds", type=click.IntRange(2, 200), default=15, show_default=True,
              help="Rounds at most with follow-ups: a system with an unclear benchmark (no "
                   "change shown, none ruled out) gets more rounds, within the budget.")
@click.option("--reps", type=click.IntRange(1, 20), default=3, show_default=True,
              help="Repetitions within each bench process (values per round and side).")
@click.option("--workload", "-w", "workloads", multiple=True, help="Only this workload.")
@click.option("--impl", "-i", "impls", multiple=True, help="Only this implementation.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the run order.")
@click.option("--no-fuzz", is_flag=True, help="Skip fuzzing.")
@click.option("--channel", "channels", multiple=True, type=click.Choice(["wall", "instructions"]),
              help="Measure only this channel (repeatable; default both): wall = timed "
                   "rounds, instructions = one callgrind run a side.")
@click.option("--baseline-env", multiple=True, metavar="NAME=VALUE",
              help="Set a variable for the baseline's processes only (repeatable).")
@click.option("--current-env", multiple=True, metavar="NAME=VALUE",
              help="Set a variable for the current tree's processes only (repeatable), e.g. "
                   "CZ_TEST_SLOWDOWN=0.05 to measure the detector.")
@click.option("--calibrate", "calibrate_runs", type=click.IntRange(2, 100), default=None,
              metavar="RUNS",
              help="Instead of a check: RUNS A/A comparisons of the working tree with itself; "
                   "stores each benchmark's noise band and smallest detectable change.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
def ci_cmd(systems: tuple[str, ...], baseline: str | None, budget: float, rounds: int,
           max_rounds: int, reps: int, workloads: tuple[str, ...], impls: tuple[str, ...],
           seed: int,
           no_fuzz: bool, channels: tuple[str, ...], baseline_env: tuple[str, ...],
           current_env: tuple[str, ...], calibrate_runs: int | None, as_json: bool) -> None:
    """Compare the working tree with a baseline commit: quick benchmarks paired and
    interleaved (wall time against a calibrated noise band, instruction counts exactly),
    fuzzing with crashes replayed on the baseline. Writes reports/ci/<stamp>/.

    Exit status: 0 no confirmed regression or new crash; 1 a regression, a new crash or a
    current tree that fails; 2 a baseline that does not build (or a bad command line).
    """
    from lab.ci.measure import Selection
    from lab.ci.run import CiOptions, run_ci
    from lab.errors import UsageError

    options = CiOptions(systems=_split(systems), baseline=baseline, budget_min=budget,
                        rounds=rounds, max_rounds=max(rounds, max_rounds), seed=seed,
                        selection=Selection(_split(workloads), _split(impls), reps),
                        fuzz=not no_fuzz, wall=not channels or "wall" in channels,
                        instructions=not channels or "instructions" in channels,
                        baseline_env=_env_pairs(baseline_env, "--baseline-env"),
                        current_env=_env_pairs(current_env, "--current-env"),
                        command=["lab", "ci", *sys.argv[2:]])
    from rich.console import Console

    err = Console(stderr=True)
    step = (lambda s: None) if as_json and not err.is_terminal else \
        (lambda s: err.print(f"[dim]lab ci: {s}[/dim]", highlight=False))
    if calibrate_runs is not None:
        if baseline or baseline_env or current_env:
            raise UsageError("--calibrate compares the working tree with itself; it takes no "
                             "--baseline, --baseline-env or --current-env")
        _calibrate(options, calibrate_runs, step, as_json)
        return
    result = run_ci(options, step)
    if as_json:
        click.echo(Path(result.report["json"]).read_text().rstrip())
    else:
        click.echo(Path(result.report["summary"]).read_text().rstrip())
        click.echo(f"\nreport: {result.report['html']}")
    sys.exit(result.status)


def _calibrate(options, runs: int, step, as_json: bool) -> None:  # noqa: ANN001
    from lab.ci.calibrate import run_calibration

    cal = run_calibration(options, runs, step)
    if as_json:
        click.echo(Path(cal.report["json"]).read_text().rstrip())
    else:
        click.echo(Path(cal.report["summary"]).read_text().rstrip())
        click.echo(f"\nreport: {cal.report['html']}")


@click.command("bisect")
@click.argument("system")
@click.option("--workload", "-w", required=True, help="The workload whose figure changed.")
@click.option("--good", required=True, metavar="REF", help="A commit without the change.")
@click.option("--bad", required=True, metavar="REF", help="A later commit with it.")
@click.option("--impl", "-i", help="The implementation (default: every one measured; the "
                                   "largest change is followed).")
@click.option("--metric", "-m", help="The metric (default: the wall-clock one; vg_instructions "
                                     "for the instruction channel).")
@click.option("--rounds", type=click.IntRange(2, 50), default=4, show_default=True,
              help="Paired rounds per step.")
@click.option("--max-rounds", type=click.IntRange(2, 200), default=12, show_default=True,
              help="Rounds a step may add before calling the commit unclear.")
@click.option("--reps", type=click.IntRange(1, 20), default=3, show_default=True,
              help="Repetitions within each bench process.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
def bisect_cmd(system: str, workload: str, good: str, bad: str, impl: str | None,
               metric: str | None, rounds: int, max_rounds: int, reps: int,
               as_json: bool) -> None:
    """Find the commit between GOOD and BAD that changed WORKLOAD's figure, re-running each
    step until its verdict is clear, and confirm it against its parent.

    Exit status: 0 culprit found and confirmed; 1 otherwise (the reason is printed).
    """
    from lab.builtins.common import system_named
    from lab.ci.bisect import BisectOptions, bisect

    s = system_named(system)
    if workload not in {w.name for w in s.workloads}:
        from lab.errors import UsageError

        raise UsageError(f"{s.name} has no workload {workload!r}; valid: "
                         f"{', '.join(w.name for w in s.workloads)}")
    opts = BisectOptions(s.name, workload, good, bad, impl, metric, rounds,
                         max(rounds, max_rounds), reps)
    from rich.console import Console

    err = Console(stderr=True)
    result = bisect(opts, lambda m: None if as_json else
                    err.print(f"[dim]lab bisect: {m}[/dim]", highlight=False))
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        click.echo(f"{result.benchmark or workload}: good {result.good[:10]} → bad "
                   f"{result.bad[:10]}, {result.candidates} candidate commit(s)")
        for step in result.steps:
            ratios = " ".join(f"{name} {value:.4f}" for name, value in
                              (("vs good", step.vs_good), ("vs bad", step.vs_bad))
                              if value is not None)
            click.echo(f"  {step.commit[:10]} {step.verdict:<7} ({step.rounds} rounds; "
                       f"{ratios}) {step.subject}")
        if result.culprit:
            conf = result.confirmation or {}
            click.echo(f"culprit: {result.culprit[:10]} {result.culprit_subject} "
                       f"(confirmed against its parent: {conf.get('change', 0) * 100:+.2f}%)")
        else:
            click.echo(f"no culprit: {result.reason}")
    sys.exit(0 if result.culprit else 1)


@lab.hookimpl
def lab_register_commands() -> list[click.Command]:
    return [ci_cmd, bisect_cmd]

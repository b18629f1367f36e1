"""The ``lab chaos`` command: seeded fault injection with recorded histories and checkers."""

from __future__ import annotations

import signal
import sys

import click

import lab
from lab.builtins.common import system_named


def _list(system: str | None) -> None:
    from lab.chaos.nemesis import registered
    from lab.chaos.runner import suite_of

    if system is not None:
        suite = suite_of(system_named(system))
        click.echo(f"{system}: implementations {', '.join(suite.impls)}"
                   + (f" (test builds: {', '.join(suite.test_impls)})" if suite.test_impls
                      else ""))
        for s in suite.scenarios:
            click.echo(f"  {s.name:<18} {s.workload:<9} {s.time:>5g} s  {s.description}")
    click.echo("nemeses:")
    for n in registered().values():
        needs = f" [needs {', '.join(n.needs)}]" if n.needs else ""
        click.echo(f"  {n.name:<17} {n.description}{needs}")


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@click.command("chaos")
@click.argument("system", required=False)
@click.option("--scenario", "-s", "scenarios", multiple=True,
              help="Scenario to run (repeatable; default: all of the system's).")
@click.option("--impl", "-i", "impls", multiple=True,
              help="Implementation (repeatable; default: ours and the references).")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1),
              help="Seed of the fault schedules and operations (default: drawn, printed).")
@click.option("--time", "seconds", type=click.FloatRange(0.5, 3600),
              help="Seconds of load per case (default: the scenario's).")
@click.option("--quick", is_flag=True, help="The scenarios' short times.")
@click.option("--replay", "replay_run", type=int, metavar="RUN",
              help="Re-apply the schedules recorded by chaos run RUN (shrunk ones when shrunk).")
@click.option("--no-shrink", is_flag=True, help="Do not shrink the schedule of a failing case.")
@click.option("--shrink-replays", type=click.IntRange(1, 200), default=12, show_default=True,
              help="Most replays spent shrinking one failing case.")
@click.option("--flavor", default="release", show_default=True,
              help="Build flavor of the native core (e.g. asan to run it under sanitizers).")
@click.option("--list", "list_only", is_flag=True, help="List scenarios and nemeses.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
def chaos_cmd(system: str | None, scenarios: tuple[str, ...], impls: tuple[str, ...],
              seed: int | None, seconds: float | None, quick: bool, replay_run: int | None,
              no_shrink: bool, shrink_replays: int, flavor: str, list_only: bool,
              as_json: bool) -> None:
    """Inject faults into SYSTEM's implementations under load (kill, pause, crash with
    unsynced-data loss, torn writes, failing fsync, disk full, clock jumps, partitions),
    record every operation, check durability, linearizability and recovery, shrink failing
    schedules, and write a report comparing the implementations. Exit status 1 when a case
    fails its checks."""
    from lab.chaos.runner import ChaosOptions, replay, run_chaos, to_json
    from lab.errors import UsageError

    if list_only:
        _list(system)
        return
    options = ChaosOptions(scenarios=list(scenarios) or None, impls=list(impls) or None,
                           seed=seed, time=seconds, quick=quick, shrink=not no_shrink,
                           shrink_replays=shrink_replays, flavor=flavor)
    say = (lambda line: click.echo(line, err=True)) if as_json else click.echo
    signal.signal(signal.SIGTERM, _terminate)
    argv = ["lab", "chaos", *sys.argv[2:]]
    if replay_run is not None:
        run = replay(system, replay_run, options, argv, say)
    elif system is None:
        raise UsageError("name a system (see `lab chaos --list`), or --replay RUN")
    else:
        run = run_chaos(system_named(system), options, argv, say)
    if as_json:
        click.echo(to_json(run))
    else:
        click.echo(f"run {run.run_id}, seed {run.seed}: {len(run.cases)} cases, "
                   f"{len(run.failed)} failed{': ' + ', '.join(run.failed) if run.failed else ''}")
        if run.report is not None:
            click.echo(f"report: {run.report}")
    sys.exit(1 if run.failed else 0)


@lab.hookimpl
def lab_register_commands() -> list[click.Command]:
    return [chaos_cmd]

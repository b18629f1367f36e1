"""Fuzzing: the ``fuzz`` and ``coverage`` flavors and the ``lab fuzz``, ``lab crashes`` and
``lab repro`` commands (the work itself is in :mod:`lab.fuzz`)."""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

import click

import lab
from lab.builtins.common import system_named
from lab.errors import UsageError
from lab.fuzz.toolchain import coverage_flavor, fuzz_flavor
from lab.model import System
from lab.native.flavors import Flavor


@lab.hookimpl
def lab_register_flavors() -> list[Flavor]:
    return [fuzz_flavor(), coverage_flavor()]


# -- lab doctor --fuzz ----------------------------------------------------------------------


def doctor_fuzz(systems: list[System]) -> int:
    """Print the fuzzing preflight for ``systems``; the exit status (1 when a check fails)."""
    from lab.fuzz.preflight import target_check, toolchain_checks

    checks = toolchain_checks()
    if all(c.ok for c in checks if c.required):
        checks += [target_check(s, t) for s in systems for t in s.fuzz_targets]
    for c in checks:
        mark = "ok  " if c.ok else ("FAIL" if c.required else "warn")
        click.echo(f"{mark} {c.name}: {c.detail}" + (f"\n     fix: {c.fix}" if not c.ok else ""))
    return 0 if all(c.ok for c in checks if c.required) else 1


# -- lab fuzz -------------------------------------------------------------------------------


def _si(n: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return f"{n:.0f}"


class StatusLine:
    """The live status: one rewritten line on a terminal, a line every 10 s otherwise."""

    def __init__(self, system: str, quiet: bool) -> None:
        self.system, self.quiet = system, quiet
        self.announced: set[int] = set()
        self.tty = sys.stderr.isatty()
        self.last_print = 0.0

    def __call__(self, event: dict[str, Any]) -> None:
        if self.quiet:
            return
        if event["event"] == "crash":
            if event["id"] in self.announced:
                return
            self.announced.add(event["id"])
            state = "new" if event["new"] else "known"
            rel = event["reliability"]
            rel_s = f", reproduces {rel:.0%}" if rel is not None else ""
            self._emit(f"crash #{event['id']} ({state}{rel_s}): {event['signature']}", True)
            return
        budget = f"/{event['seconds']:.0f}s" if event.get("seconds") else ""
        line = (f"{self.system}/{event['target']}  {event['elapsed']:.0f}s{budget}  "
                f"execs {_si(event['execs'])}  exec/s {_si(event['exec_per_s'])}  "
                f"cov {event['cov'] or 0}  ft {event['ft'] or 0}  "
                f"corpus {event['corpus_units']} ({_si(event['corpus_bytes'])}B)  "
                f"crashes {event['crashes']}")
        self._emit(line, False)

    def _emit(self, line: str, always: bool) -> None:
        if self.tty:
            sys.stderr.write("\r\033[K" + line + ("\n" if always else ""))
            sys.stderr.flush()
        elif always or time.monotonic() - self.last_print >= 10:
            self.last_print = time.monotonic()
            click.echo(line, err=True)

    def close(self) -> None:
        if self.tty and not self.quiet:
            sys.stderr.write("\n")


def _print_results(results: list[Any]) -> None:
    for r in results:
        click.echo(f"{r.system}/{r.target}: {r.execs} execs in {r.seconds:.0f} s "
                   f"({r.exec_per_s:.0f}/s), cov {r.cov or 0}, ft {r.ft or 0}, corpus "
                   f"{r.corpus_units} inputs ({r.corpus_bytes} B; {r.seed_units} seeds), "
                   f"{len(r.crashes)} crash(es), {len({c.id for c in r.crashes})} unique")
        by_id: dict[int, list[Any]] = {}
        for c in r.crashes:
            by_id.setdefault(c.id, []).append(c)
        for notes in by_id.values():
            c = next((n for n in notes if n.new), notes[0])
            seen = f", seen {len(notes)} times" if len(notes) > 1 else ""
            rel = f"{c.reliability:.0%}" if c.reliability is not None else "-"
            size = (f"{c.input_size} -> {c.minimized_size} B" if c.minimized_size is not None
                    else f"{c.input_size} B")
            click.echo(f"  #{c.id} {'new  ' if c.new else 'known'} {c.signature} "
                       f"(reproduces {rel}, {size}{seen})")
        if r.error:
            click.echo(f"  note: {r.error}")


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


@click.command("fuzz")
@click.argument("system")
@click.option("--target", "targets", multiple=True, help="Fuzz target (repeatable).")
@click.option("--all", "all_targets", is_flag=True, help="Every target (the default).")
@click.option("--time", "seconds", type=click.FloatRange(min=1), default=None,
              help="Time budget in seconds, shared among the targets [default: 60].")
@click.option("--runs", type=click.IntRange(min=1), help="Executions per target.")
@click.option("--jobs", type=click.IntRange(min=1, max=64), default=1, show_default=True,
              help="Parallel workers per target.")
@click.option("--seed", type=int, help="libFuzzer seed (workers use SEED+1, SEED+2...).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option("--merge", is_flag=True, help="Minimize the grown corpus (libFuzzer -merge=1).")
@click.option("--promote", type=click.IntRange(min=1), default=None,
              help="With --merge: copy up to N inputs adding coverage over the seeds into "
                   "corpora/.")
@click.option("--export-regression", "export_id", type=int,
              help="Write crash ID's minimized input to corpora/SYSTEM/TARGET/regressions/.")
@click.option("--vs-raw", is_flag=True,
              help="Run the target's plain libFuzzer C harness side by side for the same time.")
@click.option("--minimize-time", type=click.IntRange(min=0), default=10, show_default=True,
              help="Seconds to minimize each new crash (0: keep it as found).")
@click.option("--reliability-runs", type=click.IntRange(min=1, max=100), default=5,
              show_default=True, help="Re-runs of each new crash to measure reproducibility.")
def fuzz_cmd(system: str, targets: tuple[str, ...], all_targets: bool, seconds: float | None,
             runs: int | None, jobs: int, seed: int | None, as_json: bool, merge: bool,
             promote: int | None, export_id: int | None, vs_raw: bool, minimize_time: int,
             reliability_runs: int) -> None:
    """Fuzz a system's native core with atheris + libFuzzer + ASan/UBSan.

    Crashes are triaged (signature, reliability, minimized input) and deduplicated in the
    result store; the grown corpus is kept under results/fuzz/SYSTEM/TARGET/corpus.
    """
    from lab.fuzz.crashes import TriageOptions
    from lab.fuzz.engine import FuzzOptions, fuzz_system, resolve_targets

    s = system_named(system)
    if all_targets and targets:
        raise UsageError("--all and --target exclude each other")
    chosen = resolve_targets(s, list(targets))
    if export_id is not None:
        from lab.fuzz.corpus_ops import export_regression

        click.echo(f"wrote {export_regression(s, export_id)}")
        return
    if merge:
        from lab.fuzz.corpus_ops import merge_corpus

        for t in chosen:
            click.echo(merge_corpus(s, t, promote))
        return
    if promote is not None:
        raise UsageError("--promote needs --merge")
    if vs_raw:
        from lab.fuzz.vs_raw import compare_with_raw

        if len(chosen) != 1:
            raise UsageError("--vs-raw compares one target; name it with --target")
        report = compare_with_raw(s, chosen[0], seconds or 60.0, seed)
        click.echo(json.dumps(report, indent=2) if as_json else report["text"])
        return
    if seconds is None and runs is None:
        seconds = 60.0
    options = FuzzOptions(seconds=seconds, runs=runs, jobs=jobs, seed=seed,
                          triage=TriageOptions(reliability_runs, minimize_time))
    status = StatusLine(s.name, quiet=as_json)
    argv = ["lab", *sys.argv[1:]]
    signal.signal(signal.SIGTERM, _terminate)  # stop the workers as on Ctrl-C
    try:
        results = fuzz_system(s, chosen, options, argv, progress=status)
    except KeyboardInterrupt:
        status.close()
        click.echo("interrupted: workers stopped; corpus, statistics and crashes kept",
                   err=True)
        sys.exit(130)
    status.close()
    if as_json:
        click.echo(json.dumps([r.to_json() for r in results], indent=2))
    else:
        _print_results(results)


# -- lab crashes, lab repro -----------------------------------------------------------------


@click.command("crashes")
@click.argument("system", required=False)
@click.option("--json", "as_json", is_flag=True)
def crashes_cmd(system: str | None, as_json: bool) -> None:
    """List triaged crashes: signature, first and last seen, count, reliability, status."""
    from lab.store import open_store

    name = system_named(system).name if system else None
    store = open_store()
    rows = store.crashes(name)
    store.close()
    if as_json:
        keep = ("id", "system", "target", "kind", "signature", "summary", "first_seen",
                "last_seen", "count", "reliability", "status")
        out = [{k: r[k] for k in keep} | {"input_size": len(r["input"]),
               "minimized_size": len(r["minimized"]) if r["minimized"] else None} for r in rows]
        click.echo(json.dumps(out, indent=2))
        return
    if not rows:
        click.echo("no crashes recorded" + (f" for {name}" if name else ""))
        return
    from tabulate import tabulate

    table = [(r["id"], f"{r['system']}/{r['target']}", r["signature"], r["first_seen"][:19],
              r["last_seen"][:19], r["count"],
              f"{r['reliability']:.0%}" if r["reliability"] is not None else "-", r["status"])
             for r in rows]
    click.echo(tabulate(table, headers=("id", "target", "signature", "first seen", "last seen",
                                        "count", "reliability", "status")))


def _target_from_path(path: Path) -> tuple[str, str] | None:
    """(system, target) for a file under results/fuzz/S/T/ or corpora/S/T/."""
    from lab import paths

    for root in (paths.fuzz_dir(), paths.corpora_dir("x").parent):
        try:
            parts = path.resolve().relative_to(root.resolve()).parts
        except ValueError:
            continue
        if len(parts) >= 3:
            return parts[0], parts[1]
    return None


@click.command("repro")
@click.argument("crash")
@click.option("--target", "target_spec", metavar="SYSTEM/TARGET",
              help="The target of a FILE outside results/fuzz and corpora.")
@click.option("--flavor", type=click.Choice(["fuzz", "debug"]), default="fuzz",
              show_default=True, help="fuzz: clang build under libFuzzer, as found; debug: the "
                                      "gcc ASan+UBSan build, replayed without libFuzzer.")
@click.option("--original", is_flag=True, help="Run the input as found, not the minimized one.")
def repro_cmd(crash: str, target_spec: str | None, flavor: str, original: bool) -> None:
    """Reproduce crash ID (from `lab crashes`) or an input FILE, printing the report.

    Exit status 1 when it crashes, 0 when it runs cleanly (so it works with `git bisect run`);
    for a stored crash, the status is updated (open/fixed).
    """
    from lab.fuzz.repro import reproduce_file, reproduce_stored

    if crash.isdigit():
        if target_spec:
            raise UsageError("--target is for FILE arguments; a crash ID knows its target")
        outcome = reproduce_stored(int(crash), flavor, original)
    else:
        path = Path(crash)
        if not path.is_file():
            raise UsageError(f"{crash!r} is neither a crash id (see `lab crashes`) nor a file")
        where = tuple(target_spec.split("/", 1)) if target_spec else _target_from_path(path)
        if not where or len(where) != 2:
            raise UsageError("cannot tell the target of this file; give --target SYSTEM/TARGET")
        outcome = reproduce_file(where[0], where[1], path, flavor)
    click.echo(outcome.report.rstrip())
    click.echo(outcome.verdict)
    sys.exit(1 if outcome.crashed else 0)


@lab.hookimpl
def lab_register_commands() -> list[click.Command]:
    return [fuzz_cmd, crashes_cmd, repro_cmd]


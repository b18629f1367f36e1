"""Catalog commands: ``lab list``, ``lab info``, ``lab doctor`` and ``lab exec``."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

import lab
from lab.builtins.common import system_named
from lab.host import get_host
from lab.model import System
from lab.requirements import Command, PythonModule, Requirement

CORE_REQUIREMENTS: tuple[Requirement, ...] = (
    Command("cc", apt="gcc"),
    Command("git", apt="git"),
    Command("chromium", apt="chromium"),
    PythonModule("playwright", pip="playwright"),
)


def _check(reqs: tuple[Requirement, ...]) -> list[dict[str, str]]:
    out = []
    for req in reqs:
        why = req.missing()
        if why:
            out.append({"what": why, "install": req.install, "apt": req.apt or "",
                        "pip": req.pip or ""})
    return out


def describe(system: System) -> dict[str, Any]:
    """The facts ``lab list --json`` gives for one system."""
    return {
        "name": system.name,
        "shape": system.shape,
        "description": system.description,
        "source": system.source,
        "offers": list(system.offers),
        "toolchain": {"ok": not _check(system.requires), "missing": _check(system.requires)},
        "baseline": system.baseline,
        "implementations": [
            {"name": i.name, "ok": not _check(i.requires), "missing": _check(i.requires)}
            for i in system.impls
        ],
        "workloads": [w.name for w in system.workloads],
    }


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
def list_cmd(as_json: bool) -> None:
    """List every system, where it came from, its shape and what it offers."""
    host = get_host()
    systems = [describe(s) for s in host.systems().values()]
    problems = [{"plugin": p.plugin, "source": p.source, "reason": p.reason}
                for p in host.problems]
    if as_json:
        click.echo(json.dumps({"systems": systems, "problems": problems}, indent=2))
        return
    for s in systems:
        refs = [i for i in s["implementations"] if i["ok"]]
        tool = "ok" if s["toolchain"]["ok"] else "MISSING " + "; ".join(
            m["what"] for m in s["toolchain"]["missing"])
        click.echo(f"{s['name']:<12} {s['shape']:<8} {','.join(s['offers']):<24} "
                   f"impls {len(refs)}/{len(s['implementations'])} present  toolchain {tool}")
        click.echo(f"{'':<12} {s['description']}  [{s['source']}]")
    for p in problems:
        click.echo(f"plugin {p['plugin']}: {p['reason']}  [{p['source']}]", err=True)


@click.command("info")
@click.argument("system")
def info_cmd(system: str) -> None:
    """Show a system's implementations, workloads and their parameters."""
    s = system_named(system)
    click.echo(f"{s.name} ({s.shape}): {s.description}\nsource: {s.source}\n"
               f"baseline: {s.baseline}\nimplementations:")
    for i in s.impls:
        missing = _check(i.requires)
        state = "present" if not missing else f"missing: {missing[0]['what']}"
        click.echo(f"  {i.name:<12} {i.description}  [{state}]")
    click.echo("workloads:")
    for w in s.workloads:
        click.echo(f"  {w.name}: {w.description}")
        for name, values in w.params.items():
            marks = []
            if name in w.default:
                marks.append(f"default {list(w.default[name])}")
            if name in w.quick:
                marks.append(f"quick {list(w.quick[name])}")
            extra = f"  ({'; '.join(marks)})" if marks else ""
            click.echo(f"    {name}: {list(values)}{extra}")
        metrics = ", ".join(f"{m.name} [{m.unit}, {m.better} is better]"
                            for m in w.all_metrics())
        click.echo(f"    metrics: {metrics}")
        if w.baseline:
            click.echo(f"    compared with: {w.baseline} (this workload's baseline)")


def _all_requirements(systems: list[System]) -> list[tuple[str, Requirement]]:
    reqs: list[tuple[str, Requirement]] = [("lab", r) for r in CORE_REQUIREMENTS]
    for s in systems:
        reqs += [(f"{s.name} toolchain", r) for r in s.requires]
        reqs += [(f"{s.name}/{i.name}", r) for i in s.impls for r in i.requires]
    return reqs


@click.command("doctor")
@click.argument("system", required=False)
@click.option("--print-missing", type=click.Choice(["apt", "pip"]),
              help="Print only the missing package names of that kind, one per line.")
@click.option("--fuzz", is_flag=True,
              help="Check the fuzzing toolchain and that each fuzz target gets native coverage.")
def doctor_cmd(system: str | None, print_missing: str | None, fuzz: bool) -> None:
    """Name every missing tool or package with the command that installs it."""
    host = get_host()
    systems = [system_named(system)] if system else list(host.systems().values())
    if fuzz:
        from lab.builtins.fuzzing import doctor_fuzz

        sys.exit(doctor_fuzz(systems))
    missing = [(who, r, r.missing()) for who, r in _all_requirements(systems)]
    missing = [(who, r, why) for who, r, why in missing if why]
    if print_missing:
        names = {getattr(r, print_missing) for _, r, _ in missing if getattr(r, print_missing)}
        for name in sorted(names):
            click.echo(name)
        return
    for who, req, why in missing:
        click.echo(f"{who}: {why}; install with: {req.install}")
    for p in host.problems:
        click.echo(f"plugin {p.plugin}: {p.reason} [{p.source}]")
    if missing or host.problems:
        sys.exit(1)
    click.echo(f"all requirements present ({len(systems)} systems checked)")


@click.command("exec", context_settings={"ignore_unknown_options": True})
@click.option("--flavor", default="debug", show_default=True,
              help="Build flavor whose runtime (e.g. sanitizers) the command needs.")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def exec_cmd(flavor: str, command: tuple[str, ...]) -> None:
    """Run COMMAND with the runtime a flavor needs (LD_PRELOAD of ASan/UBSan for debug)."""
    from lab import native

    env = dict(os.environ, LAB_FLAVOR=flavor, **native.flavors_runtime_env(flavor))
    os.execvpe(command[0], list(command), env)


@lab.hookimpl
def lab_register_commands() -> list[click.Command]:
    return [list_cmd, info_cmd, doctor_cmd, exec_cmd]

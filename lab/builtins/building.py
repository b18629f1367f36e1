"""Native builds: the built-in flavors, the cffi builder and ``lab build``."""

from __future__ import annotations

import click

import lab
from lab.builtins.common import system_named
from lab.native.cffi_builder import CffiBuilder
from lab.native.exe_builder import ExeBuilder
from lab.native.flavors import BUILTIN_FLAVORS, Flavor
from lab.native.image_builder import ImageBuilder


@lab.hookimpl
def lab_register_flavors() -> list[Flavor]:
    return list(BUILTIN_FLAVORS)


@lab.hookimpl
def lab_register_builders() -> list[CffiBuilder | ExeBuilder | ImageBuilder]:
    return [CffiBuilder(), ExeBuilder(), ImageBuilder()]


@click.command("build")
@click.argument("system")
@click.option("--flavor", "flavors", multiple=True, default=["release"], show_default=True,
              help="release, debug, profile, or a plugin's flavor; repeatable.")
@click.option("--recipe", help="Build only this recipe (default: all of the system's).")
def build_cmd(system: str, flavors: tuple[str, ...], recipe: str | None) -> None:
    """Build a system's native core into the build cache (nothing rebuilds when unchanged)."""
    from lab import native

    s = system_named(system)
    names = [recipe] if recipe else [r.name for r in s.recipes]
    if not names:
        click.echo(f"{s.name} has no native recipe")
        return
    for flavor in flavors:
        for name in names:
            art = native.build(s, name, flavor)
            state = f"built in {art.info.get('seconds', 0):.1f} s" if art.rebuilt else "up to date"
            click.echo(f"{s.name}/{name} [{flavor}]: {state} -> {art.path}")
            for warning in art.info.get("warnings", []):
                click.echo(f"  {warning}")


@lab.hookimpl
def lab_register_commands() -> list[click.Command]:
    return [build_cmd]

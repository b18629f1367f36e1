"""Every extension point of the lab, grouped by phase.

Hook names are ``lab_<phase>_<verb>``. The lab's own features (catalog commands, the cffi
builder, the SQLite store, the bench engine, the HTML/Markdown reporter) implement these hooks
exactly as third-party plugins do; see ``lab/builtins/``. Unless a spec says "first result",
the lab calls every implementation and uses all non-None results.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lab import hookspec

if TYPE_CHECKING:
    from pathlib import Path

    import click

    from lab.bench.engine import RunSummary
    from lab.model import System
    from lab.native.cache import Builder
    from lab.native.flavors import Flavor
    from lab.store.base import Store

# ----------------------------------------------------------------------------------------
# Registration: called once when the plugin host starts.
# ----------------------------------------------------------------------------------------


@hookspec
def lab_register_systems() -> list[System]:
    """Return the systems this plugin contributes (a list of :class:`lab.System`).

    Called once per plugin; an exception or an invalid declaration is reported against the
    plugin by ``lab list`` and ``lab doctor`` and the other plugins keep working.
    """


@hookspec
def lab_register_flavors() -> list[Flavor]:
    """Return build flavors (name, compiler, flags, runtime preloads) this plugin adds.

    Flavor names are unique across plugins; ``release``, ``debug`` and ``profile`` are built in.
    """


@hookspec
def lab_register_builders() -> list[Builder]:
    """Return builders, each turning one recipe kind (``Builder.kind``) into an artifact."""


@hookspec
def lab_register_commands() -> list[click.Command]:
    """Return click commands to add to the ``lab`` command line."""


@hookspec
def lab_register_nemeses() -> list[Any]:
    """Return chaos faults (:class:`lab.chaos.nemesis.Nemesis`) this plugin adds to
    ``lab chaos``; one with a built-in's name replaces the built-in."""


# ----------------------------------------------------------------------------------------
# Environment and storage.
# ----------------------------------------------------------------------------------------


@hookspec
def lab_fingerprint_extra(system: System | None) -> dict[str, Any] | None:
    """Return extra facts for the environment fingerprint (library versions, corpus digests).

    Results are merged under the fingerprint's ``extra`` key and are part of its hash.
    """


@hookspec(firstresult=True)
def lab_open_store(url: str) -> Store | None:
    """Open the result store named by ``url`` (a path or ``scheme://...``); first result wins.

    Return None when the URL is not for this plugin's kind of store.
    """


# ----------------------------------------------------------------------------------------
# Benchmark runs.
# ----------------------------------------------------------------------------------------


@hookspec
def lab_bench_start(run_id: int, system: System, options: dict[str, Any]) -> None:
    """Called after a bench run is recorded in the store and before anything is measured."""


@hookspec
def lab_bench_finish(summary: RunSummary) -> None:
    """Called when a bench run ends (ok, failed or interrupted) with its summarized results."""


# ----------------------------------------------------------------------------------------
# Reports.
# ----------------------------------------------------------------------------------------


@hookspec
def lab_report_write(summary: RunSummary, out_dir: Path) -> Path | None:
    """Write a report of ``summary`` under ``out_dir``; return the main file written, or None."""

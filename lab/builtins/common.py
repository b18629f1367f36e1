"""Helpers shared by the built-in commands."""

from __future__ import annotations

from lab.errors import UsageError
from lab.host import get_host
from lab.model import System


def system_named(name: str) -> System:
    """The system called ``name``, or a usage error listing the valid names."""
    host = get_host()
    systems = host.systems()
    if name not in systems:
        broken = [p for p in host.problems if p.plugin == name]
        if broken:  # the plugin exists but could not load: say why, on the same line
            raise UsageError(f"system {name!r} could not be loaded: {broken[0].reason}")
        valid = ", ".join(systems) or "none (see `lab list` for plugin problems)"
        raise UsageError(f"unknown system {name!r}; valid: {valid}")
    return systems[name]

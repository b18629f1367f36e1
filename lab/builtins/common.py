"""Helpers shared by the built-in commands."""

from __future__ import annotations

from lab.errors import UsageError
from lab.host import get_host
from lab.model import System


def system_named(name: str) -> System:
    """The system called ``name``, or a usage error listing the valid names."""
    systems = get_host().systems()
    if name not in systems:
        valid = ", ".join(systems) or "none (see `lab list` for plugin problems)"
        raise UsageError(f"unknown system {name!r}; valid: {valid}")
    return systems[name]

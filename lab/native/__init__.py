"""Native builds: flavors, builders and the build cache, behind two calls.

``build(system, recipe, flavor)`` returns an :class:`Artifact` (building only when the cache
has no up-to-date copy); ``load(system, recipe, flavor)`` also loads it into this process,
once per process.
"""

from __future__ import annotations

from typing import Any

from lab import paths
from lab.errors import UsageError
from lab.model import System
from lab.native.cache import Artifact, BuildCache, Builder, digest
from lab.native.flavors import Flavor

_LOADED: dict[tuple[str, str, str], Any] = {}


def _host():  # noqa: ANN202 - avoid importing host at module import (cycle)
    from lab.host import get_host

    return get_host()


def flavors() -> dict[str, Flavor]:
    """Every registered flavor by name."""
    out: dict[str, Flavor] = {}
    for flavor in _host().collect("lab_register_flavors"):
        out.setdefault(flavor.name, flavor)
    return out


def builders() -> dict[str, Builder]:
    out: dict[str, Builder] = {}
    for builder in _host().collect("lab_register_builders"):
        out.setdefault(builder.kind, builder)
    return out


def flavor(name: str) -> Flavor:
    known = flavors()
    if name not in known:
        raise UsageError(f"unknown flavor {name!r}; valid: {', '.join(sorted(known))}")
    return known[name]


def cache() -> BuildCache:
    return BuildCache(paths.cache_dir() / "build")


def _parts(system: System, recipe_name: str | None, flavor_name: str):  # noqa: ANN202
    if not system.recipes:
        raise UsageError(f"system {system.name!r} declares no build recipe")
    names = [r.name for r in system.recipes]
    recipe_name = recipe_name or names[0]
    if recipe_name not in names:
        raise UsageError(f"unknown recipe {recipe_name!r} for {system.name}; valid: "
                         f"{', '.join(names)}")
    recipe = system.recipe(recipe_name)
    fl = flavor(flavor_name)
    kinds = builders()
    if recipe.kind not in kinds:
        raise UsageError(f"no builder for recipe kind {recipe.kind!r}; known kinds: "
                         f"{', '.join(sorted(kinds))}")
    return recipe, fl, kinds[recipe.kind]


def build(system: System, recipe_name: str | None = None, flavor_name: str = "release") -> Artifact:
    """Build (or find in the cache) one recipe of ``system`` in one flavor."""
    recipe, fl, builder = _parts(system, recipe_name, flavor_name)
    key = digest(builder.key_parts(system, recipe, fl))
    return cache().get(system.name, recipe.name, fl.name, key,
                       lambda out: builder.produce(system, recipe, fl, out))


def load(system: System, recipe_name: str | None = None, flavor_name: str = "release") -> Any:
    """Build if needed, then load the artifact into this process (memoized)."""
    recipe, fl, builder = _parts(system, recipe_name, flavor_name)
    memo = (system.name, recipe.name, fl.name)
    if memo not in _LOADED:
        artifact = build(system, recipe.name, fl.name)
        _LOADED[memo] = builder.load(system, recipe, fl, artifact)
    return _LOADED[memo]


__all__ = ["Artifact", "BuildCache", "Builder", "Flavor", "build", "builders", "flavors", "load"]


def flavors_runtime_env(name: str) -> dict[str, str]:
    """Environment a process needs to load artifacts of flavor ``name`` (LD_PRELOAD...)."""
    from lab.native.flavors import runtime_env

    return runtime_env(flavor(name))

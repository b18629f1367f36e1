"""The plugin host: one pluggy manager holding the lab's built-in features and all plugins.

Discovery order: the built-in feature modules (``lab.builtins.*``), then every package in
the project's ``plugins/`` folder and in the folders of ``$LAB_PLUGIN_PATH`` (colon-separated),
then the ``lab.plugins`` entry-point group of installed distributions. A plugin that fails to
import, or whose hooks raise, or that declares an invalid system, becomes a
:class:`PluginProblem`; the rest of the lab keeps working.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import sys
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from lab import hookspecs, paths
from lab.model import System, validate_system

BUILTINS = (
    "lab.builtins.catalog",
    "lab.builtins.building",
    "lab.builtins.sqlite_store",
    "lab.builtins.benching",
    "lab.builtins.reporting",
    "lab.builtins.exporting",
    "lab.builtins.fuzzing",
    "lab.builtins.covering",
    "lab.builtins.profiling",
    "lab.builtins.chaosing",
    "lab.builtins.historying",
    "lab.builtins.cing",
)


@dataclass(frozen=True)
class PluginProblem:
    """A plugin that could not be used, and why (one line)."""

    plugin: str
    source: str
    reason: str


@dataclass
class Host:
    """The plugin manager plus what discovery found."""

    pm: pluggy.PluginManager
    sources: dict[str, str] = field(default_factory=dict)
    problems: list[PluginProblem] = field(default_factory=list)
    _systems: dict[str, System] | None = None

    @property
    def hook(self):  # noqa: ANN201 - pluggy's relay type is dynamic
        return self.pm.hook

    def systems(self) -> dict[str, System]:
        """All valid systems by name (computed once)."""
        if self._systems is None:
            self._systems = self._collect_systems()
        return self._systems

    def collect(self, hook: str, **kwargs: Any) -> list[Any]:
        """Call every implementation of a registration hook on its own, flattening list
        results; an implementation that raises becomes a problem of its plugin, once."""
        out: list[Any] = []
        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            try:
                result = impl.function(**kwargs)
            except Exception as exc:  # noqa: BLE001 - a plugin bug must not stop the lab
                problem = PluginProblem(impl.plugin_name,
                                        self.sources.get(impl.plugin_name, impl.plugin_name),
                                        f"{hook}: {_one_line(exc)}")
                if problem not in self.problems:
                    self.problems.append(problem)
                continue
            if isinstance(result, list | tuple):
                out.extend(result)
            elif result is not None:
                out.append(result)
        return out

    def _collect_systems(self) -> dict[str, System]:
        found: dict[str, System] = {}
        for impl in self.pm.hook.lab_register_systems.get_hookimpls():
            name = impl.plugin_name
            source = self.sources.get(name, name)
            try:
                declared = impl.function() or []
            except Exception as exc:  # noqa: BLE001 - any plugin bug is reported, not raised
                self.problems.append(PluginProblem(name, source, _one_line(exc)))
                continue
            for system in declared:
                problems = validate_system(system)
                if not problems and system.name in found:
                    problems = [f"system {system.name!r} is already declared by "
                                f"{found[system.name].source}"]
                if problems:
                    label = getattr(system, "name", "?")
                    self.problems.append(PluginProblem(
                        name, source, f"system {label!r}: " + "; ".join(problems)))
                    continue
                targets = system.targets or paths.root() / "targets" / system.name
                found[system.name] = replace(system, source=source, targets=targets)
        return dict(sorted(found.items()))


def _one_line(exc: BaseException) -> str:
    """``Type: message (file:line)`` for the innermost frame, on one line."""
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" ({Path(tb[-1].filename).name}:{tb[-1].lineno})" if tb else ""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}{where}"


def _plugin_dirs() -> list[tuple[Path, str | None]]:
    """Folders holding plugin packages, with the package prefix used to import them."""
    dirs: list[tuple[Path, str | None]] = []
    local = paths.plugins_dir()
    if local.is_dir():
        dirs.append((local, "plugins"))
    for extra in filter(None, os.environ.get("LAB_PLUGIN_PATH", "").split(os.pathsep)):
        dirs.append((Path(extra), None))
    return dirs


def _import_local(path: Path, prefix: str | None) -> ModuleType:
    """Import the plugin package at ``path`` (a folder with ``__init__.py``, or a ``.py``)."""
    name = path.stem
    if prefix:
        root = str(path.parent.parent)
        if root not in sys.path:
            sys.path.insert(0, root)
        return importlib.import_module(f"{prefix}.{name}")
    modname = f"lab_plugin_{name}"
    if path.is_dir():
        spec = importlib.util.spec_from_file_location(
            modname, path / "__init__.py", submodule_search_locations=[str(path)])
    else:
        spec = importlib.util.spec_from_file_location(modname, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(modname, None)
        raise
    return module


def _candidates(folder: Path) -> list[Path]:
    out = []
    for p in sorted(folder.iterdir()):
        if p.name.startswith(("_", ".")):
            continue
        if (p.is_dir() and (p / "__init__.py").exists()) or (p.is_file() and p.suffix == ".py"):
            out.append(p)
    return out


def _register(host: Host, module: object, name: str, source: str) -> None:
    if host.pm.is_registered(module) or host.pm.has_plugin(name):
        return
    try:
        host.pm.register(module, name=name)
    except Exception as exc:  # noqa: BLE001 - pluggy validation errors name the bad hook
        host.problems.append(PluginProblem(name, source, _one_line(exc)))
        return
    host.sources[name] = source


def _load_local(host: Host) -> None:
    for folder, prefix in _plugin_dirs():
        if not folder.is_dir():
            host.problems.append(PluginProblem(str(folder), str(folder), "plugin folder not found"))
            continue
        for path in _candidates(folder):
            source = f"local: {path}"
            try:
                module = _import_local(path, prefix)
            except BaseException as exc:  # noqa: BLE001 - SystemExit in a plugin too
                host.problems.append(PluginProblem(path.stem, source, _one_line(exc)))
                continue
            _register(host, module, path.stem, source)


def _load_entry_points(host: Host) -> None:
    for ep in importlib.metadata.entry_points(group="lab.plugins"):
        dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist else "unknown distribution"
        source = f"entry point: {ep.name} = {ep.value} ({dist})"
        try:
            module = ep.load()
        except BaseException as exc:  # noqa: BLE001
            host.problems.append(PluginProblem(ep.name, source, _one_line(exc)))
            continue
        _register(host, module, ep.name, source)


def load_host() -> Host:
    """A fresh host with every plugin discovered and registered."""
    pm = pluggy.PluginManager("lab")
    pm.add_hookspecs(hookspecs)
    host = Host(pm)
    for modname in BUILTINS:
        _register(host, importlib.import_module(modname), modname, "builtin")
    _load_local(host)
    _load_entry_points(host)
    return host


_HOST: Host | None = None


def get_host() -> Host:
    """The process-wide host, created on first use."""
    global _HOST
    if _HOST is None:
        _HOST = load_host()
    return _HOST


def reset_host() -> None:
    """Forget the process-wide host (tests use this after changing plugin paths)."""
    global _HOST
    _HOST = None

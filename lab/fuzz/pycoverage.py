"""Python coverage for fuzz targets whose code under test is Python (a driver layer over a
runtime libFuzzer cannot see into, such as PyOpenCL on an OpenCL device): the functions of the
modules a target names are instrumented in place by atheris (``instrument_func`` rewrites each
code object, nested functions included), so libFuzzer is guided by the branches of that code.

Contract. ``instrument_modules(prefixes)`` instruments every function and method defined in an
already imported module whose name is one of ``prefixes`` or starts with ``prefix + "."``, once
per function (a second call changes nothing), and returns how many it instrumented. Only code
defined in those modules is touched: names they import from elsewhere are left alone.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterator
from types import FunctionType, ModuleType

_DONE: set[int] = set()


def _matches(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _functions(module: ModuleType) -> Iterator[FunctionType]:
    """Functions defined in ``module``: top level, and methods of its classes (static, class
    and property accessors included)."""
    for value in list(vars(module).values()):
        if isinstance(value, FunctionType) and value.__module__ == module.__name__:
            yield value
        elif inspect.isclass(value) and value.__module__ == module.__name__:
            for member in vars(value).values():
                if isinstance(member, staticmethod | classmethod):
                    member = member.__func__
                if isinstance(member, property):
                    yield from (f for f in (member.fget, member.fset, member.fdel)
                                if isinstance(f, FunctionType))
                elif isinstance(member, FunctionType):
                    yield member


def instrument_modules(prefixes: tuple[str, ...]) -> int:
    """Instrument the functions of the loaded modules under ``prefixes`` (see module doc)."""
    import atheris

    count = 0
    for name, module in sorted(sys.modules.items()):
        if module is None or not _matches(name, prefixes):
            continue
        for func in _functions(module):
            if id(func) in _DONE:
                continue
            atheris.instrument_func(func)
            _DONE.add(id(func))
            count += 1
    return count

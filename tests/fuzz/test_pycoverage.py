"""Python coverage for fuzz targets whose code under test is Python: atheris instruments the
functions and methods defined in the named modules, once, and nothing imported into them."""

from __future__ import annotations

import sys
import types

import pytest

from lab.fuzz.pycoverage import instrument_modules

SOURCE = '''
from os.path import join

def top(x):
    def inner(y):
        return y + 1
    return inner(x) if x else 0

class Thing:
    def method(self):
        return 1
    @staticmethod
    def static():
        return 2
    @classmethod
    def klass(cls):
        return 3
    @property
    def prop(self):
        return 4
'''


@pytest.fixture()
def modules():  # noqa: ANN201 - the two fake modules, removed afterwards
    made = {}
    for name in ("labpycov_pkg", "labpycov_pkg.sub", "labpycov_other"):
        module = types.ModuleType(name)
        exec(compile(SOURCE, f"<{name}>", "exec"), module.__dict__)  # noqa: S102
        sys.modules[name] = made[name] = module
    yield made
    for name in made:
        sys.modules.pop(name, None)


def test_functions_and_methods_of_the_named_modules_are_instrumented_once(modules) -> None:
    pkg = modules["labpycov_pkg"]
    before = pkg.top.__code__
    other_before = modules["labpycov_other"].top.__code__
    join_before = pkg.join.__code__
    assert instrument_modules(("labpycov_pkg",)) == 2 * 5  # pkg and pkg.sub: 5 functions each
    assert pkg.top.__code__ is not before and pkg.top(1) == 2 and pkg.top(0) == 0
    thing = pkg.Thing()
    assert (thing.method(), pkg.Thing.static(), pkg.Thing.klass(), thing.prop) == (1, 2, 3, 4)
    assert modules["labpycov_other"].top.__code__ is other_before  # not named: untouched
    assert instrument_modules(("labpycov_pkg",)) == 0  # already done
    assert pkg.join.__code__ is join_before  # an imported function is not its code

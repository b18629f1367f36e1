"""The in-process side of a fuzz target: from a declared :class:`lab.FuzzTarget` to the one
function libFuzzer calls with each input.

``input_function(system, target, flavor)`` loads the target (and its oracle) against the native
core built in ``flavor`` and returns ``one(data: bytes) -> None`` that runs the target, checks
the oracle and the invariants, and raises :class:`Mismatch` or :class:`InvariantViolation` on a
disagreement. Any other exception escaping ``one`` comes from the plugin's Python code and is
triaged as a harness error; native faults never return (the sanitizer reports them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lab import native
from lab.model import FuzzTarget, LoadContext, Reject, System

REJECTED = object()
"""Marker for an input its implementation refused with :class:`lab.Reject`."""


class Mismatch(AssertionError):  # noqa: N818 - the name is what triage reads in reports
    """The target and its oracle disagreed on one input. The message starts with a short
    category (``target rejected, oracle accepted``...) that becomes part of the signature."""


class InvariantViolation(AssertionError):  # noqa: N818
    """An invariant failed after an accepted input; the message starts with its name."""


def context(system: System, flavor: str) -> LoadContext:
    return LoadContext(system, flavor, build=lambda recipe: native.load(system, recipe, flavor))


def _provider(structured: bool) -> Callable[[bytes], Any]:
    if not structured:
        return lambda data: data
    import atheris  # only structured targets need it; imported after the runtime preload

    return atheris.FuzzedDataProvider


def _call(fn: Callable[[Any], Any], arg: Any) -> Any:
    try:
        return fn(arg)
    except Reject:
        return REJECTED


def _preview(value: Any) -> str:
    if value is REJECTED:
        return "rejected"
    if isinstance(value, bytes | bytearray):
        return f"{len(value)} bytes {bytes(value[:16]).hex()}{'...' if len(value) > 16 else ''}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def compare(out: Any, ref: Any, equal: Callable[[Any, Any], bool] | None) -> str | None:
    """The mismatch category of a target/oracle pair of outcomes, or None when they agree."""
    if out is REJECTED and ref is REJECTED:
        return None
    if out is REJECTED:
        return "target rejected, oracle accepted"
    if ref is REJECTED:
        return "target accepted, oracle rejected"
    same = equal(out, ref) if equal is not None else out == ref
    return None if same else "outputs differ"


def input_function(system: System, target: FuzzTarget, flavor: str) -> Callable[[bytes], None]:
    """The function to call with each input (see the module docstring)."""
    ctx = context(system, flavor)
    under_test = target.load(ctx)
    oracle = target.oracle(ctx) if target.oracle is not None else None
    wrap = _provider(target.structured)

    def one(data: bytes) -> None:
        out = _call(under_test, wrap(data))
        if oracle is not None:
            ref = _call(oracle, wrap(data))
            category = compare(out, ref, target.equal)
            if category is not None:
                raise Mismatch(f"{category}: target {_preview(out)}; oracle {_preview(ref)}")
        if out is REJECTED:
            return
        for check in target.invariants:
            try:
                check(data, out)
            except AssertionError as exc:
                name = getattr(check, "__name__", "invariant")
                raise InvariantViolation(f"{name}: {exc}") from None

    return one

"""Which measurements a bench run makes, and in what order.

Each (workload, parameter set) is measured once per implementation in every repetition, the
implementations in a fresh seeded random order each time (A B C, C A B, ...), so that drift of
the machine during the run spreads over all implementations instead of biasing one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from lab.errors import UsageError
from lab.model import System, Workload
from lab.requirements import first_missing

MODES = ("quick", "default", "full")


@dataclass(frozen=True)
class Item:
    """One measurement: pytest-benchmark times ``impl`` on ``workload`` with ``params``."""

    index: int
    impl: str
    workload: str
    params: dict[str, Any]
    rep: int
    measure: bool


@dataclass(frozen=True)
class Skip:
    """Rows not measured: ``params`` None means every parameter set of the workload."""

    impl: str
    workload: str
    params: dict[str, Any] | None
    note: str


@dataclass
class Plan:
    impls: list[str]
    workloads: list[str]
    combos: dict[str, list[dict[str, Any]]]
    reps: int
    items: list[Item] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)


def _choose(kind: str, wanted: list[str], known: list[str]) -> list[str]:
    for name in wanted:
        if name not in known:
            raise UsageError(f"unknown {kind} {name!r}; valid: {', '.join(known)}")
    return [k for k in known if k in wanted] if wanted else list(known)


def parse_overrides(workloads: list[Workload], pairs: list[str]) -> dict[str, dict[str, tuple]]:
    """``name=v1,v2`` strings -> per-workload overrides; values must be declared ones."""
    out: dict[str, dict[str, tuple]] = {w.name: {} for w in workloads}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not raw:
            raise UsageError(f"bad --param {pair!r}; expected NAME=VALUE[,VALUE...]")
        holders = [w for w in workloads if name in w.params]
        if not holders:
            known = sorted({p for w in workloads for p in w.params})
            raise UsageError(f"unknown parameter {name!r}; valid: {', '.join(known)}")
        for w in holders:
            declared = {str(v): v for v in w.params[name]}
            picked = []
            for text in raw.split(","):
                if text not in declared:
                    raise UsageError(f"value {text!r} is not declared for parameter {name!r} of "
                                     f"workload {w.name!r}; valid: {', '.join(declared)}")
                picked.append(declared[text])
            out[w.name][name] = tuple(picked)
    return out


def make_plan(system: System, impls: list[str], workloads: list[str], mode: str = "default",
              params: list[str] | None = None, reps: int = 3, seed: int = 0) -> Plan:
    """Validate the selection and order the measurements."""
    if mode not in MODES:
        raise UsageError(f"unknown mode {mode!r}; valid: {', '.join(MODES)}")
    impl_names = _choose("implementation", impls, [i.name for i in system.impls])
    if system.baseline not in impl_names:
        impl_names.insert(0, system.baseline)
    wl_names = _choose("workload", workloads, [w.name for w in system.workloads])
    for name in list(wl_names):  # a limit is measured with the workloads it bounds
        limit = system.workload(name).limit
        if limit is not None and limit.workload not in wl_names:
            wl_names.append(limit.workload)
    chosen = [system.workload(n) for n in wl_names]
    for w in chosen:
        if w.baseline is not None and w.baseline not in impl_names:
            impl_names.append(w.baseline)
    overrides = parse_overrides(chosen, params or [])
    plan = Plan(impl_names, wl_names, {w.name: w.combos(mode, overrides[w.name]) for w in chosen},
                reps)
    runnable = _runnable_impls(system, impl_names, wl_names, plan.skips)
    rng = random.Random(seed)
    for rep in range(reps):
        for w in chosen:
            for combo in plan.combos[w.name]:
                order = [i for i in runnable if _supported(w, i, combo, plan.skips, rep)]
                rng.shuffle(order)
                for impl in order:
                    plan.items.append(Item(len(plan.items), impl, w.name, combo, rep,
                                           rep == 0 or w.measure_every_rep))
    return plan


def _runnable_impls(system: System, impl_names: list[str], workloads: list[str],
                    skips: list[Skip]) -> list[str]:
    runnable = []
    for name in impl_names:
        impl = system.impl(name)
        needs = impl.requires + (system.requires if impl.recipes else ())
        missing = first_missing(needs)
        if missing is None:
            runnable.append(name)
            continue
        req, why = missing
        skips.extend(Skip(name, w, None, f"skipped: {why}; install with {req.install}")
                     for w in workloads)
    return runnable


def _supported(w: Workload, impl: str, combo: dict[str, Any], skips: list[Skip],
               rep: int) -> bool:
    reason = w.supports(impl, combo) if w.supports else None
    if reason and rep == 0:
        skips.append(Skip(impl, w.name, combo, f"skipped: {reason}"))
    return not reason

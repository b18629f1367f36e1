"""The declarations a system plugin hands to the lab.

A plugin's ``lab_register_systems`` hook returns :class:`System` objects. A system reads like
a table of contents: its shape, its native build recipes, the implementations it compares
(its own core first, then the references a user would pick instead) and its parameterized
workloads. Everything here is plain data plus callables; the lab validates it on discovery
(see :func:`validate_system`) and reports a bad declaration instead of crashing.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.requirements import Requirement

SHAPES = ("lib", "server", "preload", "image", "opencl", "cluster", "program")
"""Plugin shapes from the systems catalog: cffi library, server process, LD_PRELOAD library,
bare-metal image under QEMU, OpenCL kernels, processes in network namespaces, CLI program."""

NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


@dataclass(frozen=True)
class Metric:
    """A measured quantity: ``better`` is ``"higher"`` or ``"lower"``."""

    name: str
    unit: str
    better: str = "higher"


@dataclass(frozen=True)
class TimedMetric:
    """A metric derived from one timed call: ``convert(seconds, params)`` gives its value."""

    metric: Metric
    convert: Callable[[float, Mapping[str, Any]], float]


def throughput(size_param: str, name: str = "throughput") -> TimedMetric:
    """MB/s (10^6 bytes per second) of ``params[size_param]`` bytes handled per call."""
    return TimedMetric(
        Metric(name, "MB/s", "higher"),
        lambda seconds, params: params[size_param] / seconds / 1e6,
    )


@dataclass(frozen=True)
class Limit:
    """A ceiling a workload is measured against: its ``metric`` as a fraction of the same
    implementation's ``metric`` on the ``workload`` named here (e.g. a reduction's GB/s over
    a copy's GB/s on the same device), at the same values of the parameters the two share,
    repetition by repetition. The derived metric is named ``<metric>_of_<workload>``."""

    workload: str
    metric: str = "throughput"

    @property
    def derived(self) -> Metric:
        return Metric(f"{self.metric}_of_{self.workload}", "fraction", "higher")


def latency(name: str = "time") -> TimedMetric:
    """Seconds per call."""
    return TimedMetric(Metric(name, "s", "lower"), lambda seconds, params: seconds)


# ----------------------------------------------------------------------------------------
# Build recipes. The kind selects the builder (see the lab_register_builders hook); later
# shapes add kinds (executables, bare-metal images) without changing the cache.
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipe:
    """A native artifact built from ``targets/<system>/``; ``name`` is unique in its system."""

    name: str

    kind = "abstract"


@dataclass(frozen=True)
class CffiLib(Recipe):
    """A C library compiled through cffi into an extension module.

    ``sources`` are globs relative to ``targets/<system>/``; ``header`` is the public header,
    included by the generated module. The C declarations handed to cffi are ``cdef`` when
    given, else the header text between ``/* LAB-CDEF-BEGIN */`` and ``/* LAB-CDEF-END */``.
    """

    sources: tuple[str, ...] = ("*.c",)
    header: str = ""
    cdef: str | None = None
    cflags: tuple[str, ...] = ()
    ldflags: tuple[str, ...] = ()
    libraries: tuple[str, ...] = ()

    kind = "cffi"


@dataclass(frozen=True)
class Executable(Recipe):
    """A C program (a server, a load generator) compiled in one compiler call.

    ``sources`` are globs relative to ``targets/<system>/``; the artifact is the executable
    ``name``. Loading it (``ctx.build(name)``) gives its path; the process that runs it needs
    the flavor's runtime environment (``lab.native.flavors_runtime_env``) for sanitizer options.
    """

    sources: tuple[str, ...] = ("*.c",)
    cflags: tuple[str, ...] = ()
    ldflags: tuple[str, ...] = ()
    libraries: tuple[str, ...] = ()

    kind = "exe"


@dataclass(frozen=True)
class Image(Recipe):
    """A bare-metal image (a kernel, its disk, an initramfs) for qemu-system, made by the
    plugin's ``build(ctx)`` from ``targets/<system>/``.

    ``build`` receives a :class:`lab.native.image_builder.ImageContext`: the output folder,
    the host compiler with the lab's freestanding flags for ``arch`` (``i386`` or ``x86_64``)
    and the flavor's optimization, the linker, and helpers that run and compile with
    diagnostics; it returns facts for ``build.json`` (which files it wrote). ``sources`` are
    the globs (relative to ``targets/<system>/``) whose content the image depends on; with
    ``inputs`` (absolute paths outside the repository, e.g. ``/boot/vmlinuz-*``) and
    ``tools`` (commands whose ``--version`` matters) they make the cache key, so an unchanged
    image is never rebuilt. Loading it (``ctx.build(name)``) gives the artifact folder.
    """

    build: Callable[[Any], Mapping[str, Any]] | None = None
    sources: tuple[str, ...] = ("**/*",)
    arch: str = "i386"
    cflags: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()

    kind = "image"


# ----------------------------------------------------------------------------------------
# Implementations and workloads.
# ----------------------------------------------------------------------------------------


@dataclass
class LoadContext:
    """What an implementation's ``load`` receives: the system, build flavor and a builder.

    ``build(recipe_name)`` returns the loaded artifact (for cffi: the module with ``ffi`` and
    ``lib``), building it first when the cache has no up-to-date copy.
    """

    system: System
    flavor: str
    build: Callable[[str], Any]


@dataclass(frozen=True)
class Impl:
    """One implementation under comparison.

    ``load(ctx)`` returns the object the workloads drive (e.g. a codec, or a client of a
    server it started); it runs in the benchmark process, and when the object has a
    ``close()`` method the lab calls it once the measurements are over. ``$LAB_RUN_DIR`` names
    the run's own folder in that process: what the object leaves there (server logs) is kept
    with the run. ``requires`` lists
    what must be installed; when something is missing its rows are reported as skipped with
    the install command. ``version()`` feeds the environment fingerprint. ``recipes`` names
    the system's build recipes it loads; the lab builds them before measuring (and skips the
    impl when the system's toolchain is missing). ``device`` names where the implementation's
    work runs when that is not the measuring process's own CPU code (``"OpenCL device"``):
    the instruction channel, which counts that code under callgrind, skips such an
    implementation and says why.
    """

    name: str
    description: str
    load: Callable[[LoadContext], Any]
    requires: tuple[Requirement, ...] = ()
    version: Callable[[], str] | None = None
    recipes: tuple[str, ...] = ()
    device: str | None = None


@dataclass(frozen=True)
class Workload:
    """A parameterized piece of work run against every implementation.

    ``params`` maps each parameter to its declared values (the cartesian product is the full
    set); ``default`` and ``quick`` restrict some parameters for the default and ``--quick``
    runs. ``prepare(params)`` builds the input once per parameter set. A timed workload gives
    ``timed(obj, state, params)`` returning a zero-argument callable that pytest-benchmark
    times; ``metrics`` convert its seconds. ``measure(obj, state, params)`` returns extra
    deterministic metrics (e.g. a compression ratio) declared in ``measured``.
    ``supports(impl_name, params)`` returns a reason to skip a combination, or None.
    ``size_param`` names the parameter holding the input size in bytes (for scaling charts).
    ``scaling`` names further numeric parameters the report draws throughput scaling charts
    over (e.g. connections, pipeline depth). ``percentiles`` maps latency metrics to the
    percentile each one is (``{"p50": 50, "p99": 99, "p999": 99.9}``): the report draws them
    as one latency-by-percentile chart per parameter set.
    ``baseline`` names the implementation this workload's results are compared with when it
    is not the system's baseline (e.g. an in-process workload the system's baseline cannot
    run).
    ``measure_every_rep`` makes ``measure`` a sampled measurement (e.g. ops/s reported by an
    external load generator): it is called in every repetition and its values get intervals
    and verdicts like timed metrics, instead of being taken once as exact figures.
    ``limit`` (a ``Limit``) names another workload of the system whose figure is this one's
    ceiling: every result also gets that fraction (the bench runs the limit workload too).
    ``in_process`` says whether the work happens in the measuring process (the default for a
    timed workload) or in other processes, such as a server the implementation started
    (the default for a measure-only workload): the instruction channel and ``lab profile``
    with py-spy apply to in-process work; other work is profiled in the processes the
    implementation object lists with a ``pids()`` method.
    """

    name: str
    description: str
    params: Mapping[str, tuple]
    prepare: Callable[[Mapping[str, Any]], Any]
    timed: Callable[[Any, Any, Mapping[str, Any]], Callable[[], object]] | None = None
    metrics: tuple[TimedMetric, ...] = ()
    measure: Callable[[Any, Any, Mapping[str, Any]], Mapping[str, float]] | None = None
    measured: tuple[Metric, ...] = ()
    default: Mapping[str, tuple] = field(default_factory=dict)
    quick: Mapping[str, tuple] = field(default_factory=dict)
    size_param: str | None = None
    supports: Callable[[str, Mapping[str, Any]], str | None] | None = None
    measure_every_rep: bool = False
    scaling: tuple[str, ...] = ()
    percentiles: Mapping[str, float] = field(default_factory=dict)
    baseline: str | None = None
    in_process: bool | None = None
    limit: Limit | None = None

    def all_metrics(self) -> tuple[Metric, ...]:
        derived = (self.limit.derived,) if self.limit is not None else ()
        return tuple(t.metric for t in self.metrics) + tuple(self.measured) + derived

    def combos(self, mode: str = "default",
               overrides: Mapping[str, tuple] | None = None) -> list[dict[str, Any]]:
        """Parameter sets for ``mode`` (``full``, ``default`` or ``quick``), with overrides."""
        chosen: dict[str, tuple] = dict(self.params)
        if mode in ("default", "quick"):
            chosen.update(self.default)
        if mode == "quick":
            chosen.update(self.quick)
        chosen.update(overrides or {})
        names = sorted(chosen)
        product = itertools.product(*(chosen[n] for n in names))
        return [dict(zip(names, values, strict=True)) for values in product]


class Reject(Exception):  # noqa: N818 - a verdict on the input, not an error of the lab
    """Raised by a fuzz target (or its oracle) when the input is invalid and was refused
    cleanly; a target and its oracle agree when both reject the same input."""


@dataclass(frozen=True)
class FuzzTarget:
    """One fuzz target: a function under test, fed bytes by the fuzzer.

    ``load(ctx)`` returns the function under test; ``ctx.flavor`` is ``fuzz`` while fuzzing
    (``coverage`` or ``debug`` when replaying), and ``ctx.build(recipe)`` loads the native core
    in that flavor. The function takes ``bytes`` or, when ``structured``, an
    ``atheris.FuzzedDataProvider``; it returns the output to compare and raises :class:`Reject`
    for invalid input. Anything else it raises is a harness error, apart from target crashes.

    ``oracle(ctx)`` optionally returns a reference function run on the same input: both must
    reject it, or their outputs must be equal (``equal``, default ``==``). ``invariants`` are
    called as ``check(data, output)`` after each accepted input and fail by raising
    ``AssertionError``. ``dictionary`` holds tokens for the mutator; ``max_len`` bounds input
    size; ``timeout`` is seconds per input. ``raw_harness`` names a C file under the system's
    ``targets`` defining ``LLVMFuzzerTestOneInput`` for the same target, built with the recipe's
    sources into a plain libFuzzer binary (the engine's speed limit, ``lab fuzz --vs-raw``),
    linked with ``raw_libraries`` (e.g. ``("z",)`` for a harness that compares against zlib).
    ``native`` is False for a target whose code under test runs outside the fuzzing process
    (a kernel booted under QEMU): it has no native coverage counters to check, and libFuzzer
    is guided by the target's Python code only. ``python_coverage`` names Python modules
    (and their submodules) whose functions atheris instruments for coverage while fuzzing:
    for a target whose code under test is Python, such as a driver layer over a runtime
    libFuzzer cannot see into.
    """

    name: str
    description: str
    load: Callable[[LoadContext], Callable[[Any], Any]]
    structured: bool = False
    oracle: Callable[[LoadContext], Callable[[Any], Any]] | None = None
    equal: Callable[[Any, Any], bool] | None = None
    invariants: tuple[Callable[[bytes, Any], None], ...] = ()
    dictionary: tuple[bytes, ...] = ()
    max_len: int = 4096
    timeout: int = 10
    recipe: str | None = None
    raw_harness: str | None = None
    raw_libraries: tuple[str, ...] = ()
    native: bool = True
    python_coverage: tuple[str, ...] = ()


@dataclass(frozen=True)
class System:
    """A system under test: its native core, implementations and workloads.

    ``baseline`` names the implementation every other one is compared with (the reference a
    user would otherwise pick). ``requires`` is the toolchain the native core needs.
    ``apt``/``pip`` list extra packages ``make setup`` installs for this system.
    ``chaos`` is its :class:`lab.chaos.model.ChaosSuite` when it offers ``chaos``.
    """

    name: str
    shape: str
    description: str
    impls: tuple[Impl, ...]
    workloads: tuple[Workload, ...]
    baseline: str
    recipes: tuple[Recipe, ...] = ()
    requires: tuple[Requirement, ...] = ()
    offers: tuple[str, ...] = ("bench",)
    source: str = ""
    targets: Path | None = None
    fuzz_targets: tuple[FuzzTarget, ...] = ()
    chaos: Any = None

    def impl(self, name: str) -> Impl:
        return next(i for i in self.impls if i.name == name)

    def workload(self, name: str) -> Workload:
        return next(w for w in self.workloads if w.name == name)

    def baseline_of(self, workload: str) -> str:
        """The implementation ``workload``'s results are compared with."""
        return self.workload(workload).baseline or self.baseline

    def recipe(self, name: str) -> Recipe:
        return next(r for r in self.recipes if r.name == name)

    def fuzz_target(self, name: str) -> FuzzTarget:
        return next(t for t in self.fuzz_targets if t.name == name)


OFFERS = ("bench", "fuzz", "profile", "chaos")


def _check_names(kind: str, names: list[str]) -> list[str]:
    problems = [f"{kind} name {n!r} is invalid (use a-z, 0-9, '-' or '_')"
                for n in names if not NAME_RE.match(n)]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        problems.append(f"duplicate {kind} names: {', '.join(dupes)}")
    return problems


def _check_workload(w: Workload) -> list[str]:
    problems: list[str] = []
    where = f"workload {w.name!r}"
    for pname, values in w.params.items():
        if not isinstance(values, tuple | list) or not values:
            problems.append(f"{where}: parameter {pname!r} needs a non-empty tuple of values")
    for subset_name, subset in (("default", w.default), ("quick", w.quick)):
        for pname, values in subset.items():
            declared = w.params.get(pname)
            if declared is None:
                problems.append(f"{where}: {subset_name} names unknown parameter {pname!r}")
            elif not values or any(v not in declared for v in values):
                problems.append(f"{where}: {subset_name} values for {pname!r} must be a "
                                f"non-empty subset of {list(declared)}")
    if w.size_param is not None and w.size_param not in w.params:
        problems.append(f"{where}: size_param {w.size_param!r} is not one of its parameters")
    for pname in w.scaling:
        if pname not in w.params:
            problems.append(f"{where}: scaling parameter {pname!r} is not one of its parameters")
    names = {m.name for m in w.all_metrics()}
    for mname, pct in w.percentiles.items():
        if mname not in names:
            problems.append(f"{where}: percentile metric {mname!r} is not one of its metrics")
        if not isinstance(pct, int | float) or not 0 < pct < 100:
            problems.append(f"{where}: percentile of {mname!r} must be a number in (0, 100), "
                            f"got {pct!r}")
    if w.timed is None and w.measure is None:
        problems.append(f"{where}: needs a timed callable or a measure function")
    if w.timed is not None and not w.metrics:
        problems.append(f"{where}: a timed workload needs at least one metric")
    for m in w.all_metrics():
        if m.name in _reserved_metrics():
            problems.append(f"{where}: metric name {m.name!r} is reserved for the lab's "
                            f"{_reserved_metrics()[m.name]} channel; pick another name")
        if m.better not in ("higher", "lower"):
            problems.append(f"{where}: metric {m.name!r} has better={m.better!r} "
                            "(valid: 'higher', 'lower')")
    if not callable(w.prepare):
        problems.append(f"{where}: prepare must be callable")
    return problems


def _reserved_metrics() -> dict[str, str]:
    from lab.bench.channels import RESERVED

    return RESERVED


def validate_system(s: Any) -> list[str]:
    """Every problem with a declared system, as sentences; empty when it is valid."""
    if not isinstance(s, System):
        return [f"expected lab.System, got {type(s).__name__}"]
    problems = _check_names("system", [s.name])
    if s.shape not in SHAPES:
        problems.append(f"shape {s.shape!r} is not one of {', '.join(SHAPES)}")
    problems += [f"offers {o!r} is not one of {', '.join(OFFERS)}" for o in s.offers
                 if o not in OFFERS]
    if not s.impls:
        problems.append("declares no implementations")
    problems += _check_names("implementation", [i.name for i in s.impls])
    problems += _check_names("workload", [w.name for w in s.workloads])
    problems += _check_names("recipe", [r.name for r in s.recipes])
    for w in s.workloads:
        if w.baseline is not None and w.baseline not in [i.name for i in s.impls]:
            problems.append(f"workload {w.name!r}: baseline {w.baseline!r} is not one of its "
                            f"system's implementations")
    if s.impls and s.baseline not in [i.name for i in s.impls]:
        problems.append(f"baseline {s.baseline!r} is not one of its implementations "
                        f"({', '.join(i.name for i in s.impls)})")
    recipe_names = {r.name for r in s.recipes}
    for i in s.impls:
        problems += [f"implementation {i.name!r} needs unknown recipe {r!r}"
                     for r in i.recipes if r not in recipe_names]
    for w in s.workloads:
        problems += _check_workload(w)
        problems += _check_limit(s, w)
    if s.chaos is not None or "chaos" in s.offers:
        from lab.chaos.model import validate_suite

        problems += (validate_suite(s.chaos) if s.chaos is not None
                     else ["offers 'chaos' but declares no chaos suite"])
    problems += _check_names("fuzz target", [t.name for t in s.fuzz_targets])
    for t in s.fuzz_targets:
        problems += _check_fuzz_target(t, recipe_names)
    return problems


def _check_limit(s: System, w: Workload) -> list[str]:
    if w.limit is None:
        return []
    where = f"workload {w.name!r}: limit"
    if not isinstance(w.limit, Limit):
        return [f"{where} must be lab.Limit, got {type(w.limit).__name__}"]
    target = next((x for x in s.workloads if x.name == w.limit.workload), None)
    if target is None or target is w:
        return [f"{where} names {w.limit.workload!r}, which is not another workload of "
                f"{s.name!r} ({', '.join(x.name for x in s.workloads if x is not w)})"]
    problems = [f"{where}: {name} has no metric {w.limit.metric!r}"
                for name, x in ((w.name, w), (target.name, target))
                if w.limit.metric not in {m.name for m in x.all_metrics()}]
    if target.limit is not None:
        problems.append(f"{where}: {target.name!r} has a limit of its own; limits don't chain")
    return problems


def _check_fuzz_target(t: Any, recipe_names: set[str]) -> list[str]:
    if not isinstance(t, FuzzTarget):
        return [f"fuzz targets must be lab.FuzzTarget, got {type(t).__name__}"]
    where = f"fuzz target {t.name!r}"
    problems = [f"{where}: {attr} must be callable" for attr in ("load", "oracle", "equal")
                if getattr(t, attr) is not None and not callable(getattr(t, attr))]
    if t.recipe is not None and t.recipe not in recipe_names:
        problems.append(f"{where}: unknown recipe {t.recipe!r}")
    if not 1 <= t.max_len <= 1 << 24:
        problems.append(f"{where}: max_len {t.max_len} is outside 1..16777216")
    if t.timeout < 1:
        problems.append(f"{where}: timeout must be at least 1 second")
    problems += [f"{where}: dictionary entries must be non-empty bytes"
                 for tok in t.dictionary if not isinstance(tok, bytes) or not tok][:1]
    return problems

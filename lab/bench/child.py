"""The measuring process: ``python -m lab.bench.child SPEC.json EVENTS.jsonl``.

It loads the system's implementations, then runs the planned items as one generated pytest
session whose single test is parametrized by item, timed by the ``benchmark`` fixture of
pytest-benchmark (calibration, warm-up, rounds). After each item it appends one JSON line to
the events file (``start``, then ``done`` with the per-round samples, or ``error``), flushed,
so the parent sees progress live and keeps every finished item if this process dies.

The run's channels (:mod:`lab.bench.channels`) add figures to ``done``: ``extra`` (metric ->
samples: perf counters, memory) and ``missing`` (metric -> why the machine gave no value).
On the instruction channel the process runs under callgrind and does no timing: each item
is one counted call, and ``done`` names the callgrind dump the parent reads.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import traceback
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

TEST_MODULE = '''\
import pytest
from lab.bench import child

@pytest.mark.parametrize("index", child.STATE.indices, ids=child.STATE.ids)
def test_lab_item(benchmark, index):
    child.run_item(benchmark, index)
'''


@dataclass
class State:
    spec: dict[str, Any]
    events: Any
    indices: list[int] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    objects: dict[str, Any] = field(default_factory=dict)
    load_errors: dict[str, str] = field(default_factory=dict)
    system: Any = None
    allocs: Any = None  # a lab.alloccount.Counter when the run measures memory
    tracked: set[str] = field(default_factory=set)
    cores: dict[str, list[Any]] = field(default_factory=dict)  # impl -> its cffi modules
    alloc_errors: dict[str, str] = field(default_factory=dict)


STATE: State


def emit(event: dict[str, Any]) -> None:
    STATE.events.write(json.dumps(event) + "\n")
    STATE.events.flush()


def one_line(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" ({Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}{where}"


def impl_object(name: str) -> Any:
    """The loaded implementation, loading it on first use; raises with the load error."""
    from lab import native
    from lab.model import LoadContext

    if name in STATE.load_errors:
        raise RuntimeError(f"implementation {name!r} failed to load: {STATE.load_errors[name]}")
    if name not in STATE.objects:
        system = STATE.system
        flavor = STATE.spec["flavor"]
        def build(recipe: str) -> Any:
            loaded = native.load(system, recipe, flavor)
            if hasattr(loaded, "ffi"):  # a cffi module: a native core of the lab's
                STATE.cores.setdefault(name, []).append(loaded)
            return loaded

        ctx = LoadContext(system, flavor, build)
        try:
            STATE.objects[name] = system.impl(name).load(ctx)
            _track_allocations(name)
        except Exception as exc:
            STATE.load_errors[name] = one_line(exc)
            raise
    return STATE.objects[name]


def _track_allocations(impl: str) -> None:
    """With the allocation counter preloaded, register the native cores ``impl`` loaded; a
    failure to register costs the allocation figures only (see :func:`_alloc_problem`)."""
    if "memory" not in STATE.spec.get("channels", ()):
        return
    from lab import alloccount
    from lab.errors import LabError

    if STATE.allocs is None:
        if not alloccount.Counter.available():
            return
        STATE.allocs = alloccount.Counter()
    try:
        for module in STATE.cores.get(impl, []):
            if module.__name__ not in STATE.tracked:
                STATE.allocs.add_module(module)
                STATE.tracked.add(module.__name__)
    except LabError as exc:
        STATE.alloc_errors[impl] = str(exc)


def _alloc_problem(impl: str) -> str | None:
    """Why the allocations of ``impl`` cannot be counted, or None."""
    if STATE.allocs is None:
        return "not counted: the allocation counter is not loaded (a sanitizer flavor)"
    if impl in STATE.alloc_errors:
        return f"not counted: {STATE.alloc_errors[impl]}"
    if not STATE.cores.get(impl):
        from lab.bench.instructions import NO_CORE

        return NO_CORE
    return None


@lru_cache(maxsize=4)
def prepared(workload: str, params_json: str) -> Any:
    """The workload's input for one parameter set (kept for the next few items)."""
    return STATE.system.workload(workload).prepare(json.loads(params_json))


def run_item(benchmark: Any, index: int) -> None:
    """Measure one planned item and report it; failures become ``error`` events, not test
    errors. Which figures it takes depends on the run's channels (``spec["channels"]``)."""
    item = STATE.spec["items"][str(index)]
    emit({"event": "start", "index": index})
    try:
        workload = STATE.system.workload(item["workload"])
        params = item["params"]
        obj = impl_object(item["impl"])
        state = prepared(item["workload"], json.dumps(params, sort_keys=True))
        channels = STATE.spec.get("channels", ["wall", "measured"])
        if "instructions" in channels:
            emit(dict(_instructions(index, workload, obj, state, params), event="done",
                      index=index))
            return
        emit(dict(_timed_and_measured(benchmark, item, workload, obj, state, params, channels),
                  event="done", index=index))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which records it
        emit({"event": "error", "index": index, "error": one_line(exc)})


def _timed_and_measured(benchmark: Any, item: dict, workload: Any, obj: Any, state: Any,
                        params: dict, channels: list[str]) -> dict[str, Any]:
    from lab.bench import extra

    samples: dict[str, list[float]] = {}
    seconds: list[float] = []
    more = extra.Counted()
    pids = extra.implementation_pids(obj)
    watch = extra.MemoryWatch(pids) if "memory" in channels else None
    children: list[float] = []
    if workload.timed is not None:
        call = workload.timed(obj, state, params)
        with extra.reaped_children() as children:
            benchmark(call)
        seconds = list(benchmark.stats.stats.data)
        for tm in workload.metrics:
            samples[tm.metric.name] = [tm.convert(s, params) for s in seconds]
        if "counters" in channels:
            _merge(more, extra.count_calls(call, seconds))
        if "memory" in channels:
            _merge(more, _allocations(item["impl"], call))
    measured: dict[str, float] = {}
    if item["measure"] and workload.measure is not None:
        def run() -> dict:
            with extra.reaped_children() as reaped:
                out = workload.measure(obj, state, params)
            children.extend(reaped)
            return out

        values = _counted_measure(run, item["impl"], workload, pids, channels, more)
        measured = {k: float(v) for k, v in values.items()}
    if watch is not None:
        _merge(more, watch.finish(children, extra.implementation_pids(obj)))
    return {"samples": samples, "seconds": seconds, "measured": measured,
            "extra": more.samples, "missing": more.missing}


def _allocations(impl: str, call: Any) -> Any:
    """The native core's allocations in one ``call`` (or why they are not counted)."""
    from lab.bench import extra

    problem = _alloc_problem(impl)
    if problem is not None:
        return extra.Counted(missing={"allocs": problem, "alloc_bytes": problem})
    return extra.count_allocations(call, STATE.allocs)


def _counted_measure(run: Any, impl: str, workload: Any, pids: list[int],
                     channels: list[str], more: Any) -> dict:
    """``run()`` (the workload's measure) with the run's channels around it: counters of
    this process for in-process work, of the server processes otherwise; allocations for
    in-process work without a timed call."""
    from lab.bench import extra
    from lab.bench.channels import SERVER_COUNTER_METRICS, in_process

    local = in_process(workload) and workload.timed is None
    result: dict = {}

    def measured() -> None:
        if "memory" in channels and local:
            _merge(more, _allocations(impl, lambda: result.update(run())))
        else:
            result.update(run())

    if "counters" not in channels or workload.timed is not None:
        measured()
    elif local:
        _merge(more, extra.count_calls(measured, []))
    elif pids:
        _merge(more, extra.count_servers(pids, measured)[1])
    else:
        measured()
        why = "not counted: no server process was running when the measurement started"
        more.missing.update({m.name: why for m in SERVER_COUNTER_METRICS})
    return result


def _merge(into: Any, more: Any) -> None:
    for name, values in more.samples.items():
        into.samples.setdefault(name, []).extend(values)
    into.missing.update(more.missing)


def _instructions(index: int, workload: Any, obj: Any, state: Any,
                  params: dict) -> dict[str, Any]:
    """One call counted by callgrind (after one uncounted warm-up call); the parent reads
    the dump labelled ``lab-item-<index>``. Instrumentation is switched off again after
    the call: otherwise everything after the first item (preparing the next inputs,
    checking results against a reference) runs instrumented, with the cache simulation,
    tens of times slower (minutes for the gpu plugin's quick suite)."""
    from lab.callgrind import Requests

    if workload.timed is not None:
        call = workload.timed(obj, state, params)
    else:
        def call() -> object:
            return workload.measure(obj, state, params)
    call()
    requests = Requests()
    try:
        requests.measure(call, f"lab-item-{index}", warmup=True)
    finally:
        requests.stop()
    return {"samples": {}, "seconds": [], "measured": {}, "dump": f"lab-item-{index}"}


def close_objects() -> None:
    """Release what implementations hold (servers started by ``load``, temporary folders):
    every loaded object with a ``close()`` method gets it called once, in reverse order."""
    for name, obj in reversed(list(STATE.objects.items())):
        close = getattr(obj, "close", None)
        if callable(close):
            try:
                close()
            except Exception as exc:  # noqa: BLE001 - one bad close must not hide others
                print(f"lab: closing implementation {name!r} failed: {one_line(exc)}",
                      file=sys.stderr)


def pytest_args(test_file: Path, options: dict[str, Any]) -> list[str]:
    return [
        str(test_file), "-q", "-p", "no:cacheprovider", "-c", str(test_file.parent / "pytest.ini"),
        "--rootdir", str(test_file.parent), "--benchmark-quiet",
        f"--benchmark-min-rounds={options['min_rounds']}",
        f"--benchmark-max-time={options['max_time']}",
        f"--benchmark-min-time={options['min_time']}",
        "--benchmark-warmup=on", f"--benchmark-warmup-iterations={options['warmup_iterations']}",
        "--benchmark-disable-gc", "--benchmark-sort=name",
    ]


def main(argv: list[str]) -> int:
    global STATE
    import pytest

    from lab.host import get_host

    spec = json.loads(Path(argv[0]).read_text())
    if "memory" in spec.get("channels", ()):
        from lab.alloccount import without_preload

        # the counter is loaded in this process; the processes it starts must not inherit it
        preloads = without_preload(os.environ)
        os.environ.pop("LD_PRELOAD", None)
        os.environ.update(preloads)
    with open(argv[1], "a") as events:
        STATE = State(spec, events)
        STATE.system = get_host().systems()[spec["system"]]
        STATE.indices = [int(i) for i in spec["order"]]
        STATE.ids = [f"{i}-{spec['items'][str(i)]['impl']}" for i in STATE.indices]
        if "instructions" in spec.get("channels", ()):
            # under valgrind: no timing, so no pytest session (it would only cost start-up)
            try:
                for index in STATE.indices:
                    run_item(None, index)
            finally:
                close_objects()
            return 0
        with tempfile.TemporaryDirectory(prefix="lab-bench-") as tmp:
            test_file = Path(tmp) / "test_lab_generated.py"
            test_file.write_text(TEST_MODULE)
            (Path(tmp) / "pytest.ini").write_text("[pytest]\n")
            try:
                code = pytest.main(pytest_args(test_file, spec["options"]))
            finally:
                close_objects()
    if code in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        return 0
    return int(code)


if __name__ == "__main__":
    # Run through the package module, not __main__, so the generated test sees STATE.
    from lab.bench import child as _child

    sys.exit(_child.main(sys.argv[1:]))

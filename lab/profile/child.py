"""The profiled process: ``python -m lab.profile.child SPEC.json EVENTS.jsonl``.

It loads one implementation, prepares one workload's input, reports ``ready`` (its own pid, the
implementation's server pids from ``obj.pids()`` and the command names of the processes its
measurements start, from ``obj.process_names()``) and blocks on stdin until the parent
has its profiler attached and writes a line. Then it repeats the work for the spec's
``duration`` seconds (the timed call of an in-process workload, or ``measure`` of a server
workload) and reports ``done`` (calls, seconds). While it waits it is idle, so a sampling
profiler that skips idle threads records only the work.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def _emit(events: Any, event: dict[str, Any]) -> None:
    events.write(json.dumps(event) + "\n")
    events.flush()


def _work(system: Any, spec: dict[str, Any], obj: Any) -> Any:
    """The call to repeat, on its prepared input."""
    workload = system.workload(spec["workload"])
    params = spec["params"]
    state = workload.prepare(params)
    if workload.timed is not None:
        return workload.timed(obj, state, params)
    return lambda: workload.measure(obj, state, params)


def _pids(obj: Any) -> list[int]:
    from lab.bench.extra import implementation_pids

    return implementation_pids(obj)


def run(spec: dict[str, Any], events: Any) -> int:
    from lab import native
    from lab.host import get_host
    from lab.model import LoadContext

    system = get_host().systems()[spec["system"]]
    flavor = spec["flavor"]
    ctx = LoadContext(system, flavor, lambda recipe: native.load(system, recipe, flavor))
    obj = system.impl(spec["impl"]).load(ctx)
    try:
        call = _work(system, spec, obj)
        call()  # warm-up, and a failure here is reported before profiling starts
        names = getattr(obj, "process_names", None)
        _emit(events, {"event": "ready", "pid": os.getpid(), "pids": _pids(obj),
                       "names": list(names()) if callable(names) else []})
        sys.stdin.readline()
        calls, start = 0, time.perf_counter()
        deadline = start + float(spec["duration"])
        while time.perf_counter() < deadline:
            call()
            calls += 1
        _emit(events, {"event": "done", "calls": calls,
                       "seconds": time.perf_counter() - start, "pids": _pids(obj)})
    finally:
        close = getattr(obj, "close", None)
        if callable(close):
            close()
    return 0


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
    with open(argv[1], "a") as events:
        try:
            return run(spec, events)
        except Exception as exc:  # noqa: BLE001 - reported to the parent as one line
            from lab.bench.child import one_line

            _emit(events, {"event": "error", "error": one_line(exc)})
            return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Measurement channels: where each figure of a bench run comes from.

Every sample, result and comparison in the store carries its channel, and comparisons are made
between figures of one metric, hence of one channel, only:

- ``wall``: the timed call, by pytest-benchmark's timer (noisy on shared machines);
- ``measured``: figures the workload reports itself (a compression ratio, ops/s of a load
  generator);
- ``counters``: kernel event counters around the call (``lab bench --counters``, perf_event_open);
- ``instructions``: instructions and simulated cache misses of the call under valgrind's
  callgrind (``lab bench --metric instructions``), deterministic to a fraction of a percent;
- ``memory``: peak resident memory of the processes the workload uses and the native core's
  allocations (``lab bench --memory``).

The lab's own channel metrics have reserved names (a workload may not declare them).
"""

from __future__ import annotations

from lab.model import Metric, System, Workload
from lab.perfevents import EVENTS

CHANNELS: dict[str, str] = {
    "wall": "wall-clock time of the call (pytest-benchmark)",
    "measured": "reported by the workload itself",
    "counters": "perf_event_open counters around the call",
    "instructions": "valgrind (callgrind): instructions and simulated cache misses",
    "memory": "peak RSS (VmHWM, wait4) and the native core's allocations",
}

_COUNTER_UNITS = {"ns": "ns/call", "count": "/call"}
COUNTER_METRICS: tuple[Metric, ...] = tuple(
    Metric(name, _COUNTER_UNITS[unit], "lower") for name, (_, _, unit) in EVENTS.items())
"""One metric per perf event, per call (task_clock in ns, the others as counts)."""

SERVER_COUNTER_METRICS: tuple[Metric, ...] = tuple(
    Metric(f"server_{m.name}", m.unit.replace("/call", "/run"), "lower")
    for m in COUNTER_METRICS)
"""The same events counted on the processes of a server workload during one measure call."""

INSTRUCTION_METRICS: tuple[Metric, ...] = (
    Metric("vg_instructions", "instr/call", "lower"),
    Metric("vg_d1_misses", "/call", "lower"),
    Metric("vg_ll_misses", "/call", "lower"),
    Metric("vg_allocs", "/call", "lower"),
)
"""Callgrind figures of one call: instructions (Ir), simulated first-level data cache misses
(D1mr + D1mw), last-level misses (ILmr + DLmr + DLmw) and calls to malloc and its kin made by
the native core's own code."""

MEMORY_METRICS: tuple[Metric, ...] = (
    Metric("peak_rss", "B", "lower"),
    Metric("server_peak_rss", "B", "lower"),
    Metric("child_peak_rss", "B", "lower"),
    Metric("allocs", "/call", "lower"),
    Metric("alloc_bytes", "B/call", "lower"),
)
"""Peak RSS of the measuring process during the item (an absolute peak: the interpreter and
the implementations loaded so far are in it), of the server processes an implementation
declares (``pids()``), and of the largest process the workload started and reaped through
``wait``/``communicate`` (wait4); allocations and bytes requested by the native core per
call (per measure call for a measure-only workload)."""

_BY_CHANNEL: dict[str, tuple[Metric, ...]] = {
    "counters": COUNTER_METRICS + SERVER_COUNTER_METRICS,
    "instructions": INSTRUCTION_METRICS,
    "memory": MEMORY_METRICS,
}
RESERVED: dict[str, str] = {m.name: ch for ch, ms in _BY_CHANNEL.items() for m in ms}
"""Metric name -> channel, for the lab's own channel metrics."""


def in_process(workload: Workload) -> bool:
    """Whether the workload's work runs in the measuring process (see Workload.in_process)."""
    if workload.in_process is not None:
        return workload.in_process
    return workload.timed is not None


def metrics_of(system: System, workload: str) -> dict[str, tuple[Metric, str]]:
    """Every metric a result of ``workload`` may have -> (metric, channel)."""
    w = system.workload(workload)
    out = {m.name: (m, ch) for ch, ms in _BY_CHANNEL.items() for m in ms}
    out.update({t.metric.name: (t.metric, "wall") for t in w.metrics})
    out.update({m.name: (m, "measured") for m in w.measured})
    if w.limit is not None:  # derived from timed figures: the wall channel's
        out[w.limit.derived.name] = (w.limit.derived, "wall")
    return out


def channel_of(system: System, workload: str, metric: str) -> str:
    """The channel of ``metric`` in ``workload`` ("" when the metric is unknown)."""
    found = metrics_of(system, workload).get(metric)
    return found[1] if found else ""


def run_channels(options: dict) -> tuple[str, ...]:
    """The channels a bench run with ``options`` (BenchOptions as a dict) produces."""
    if options.get("metric") == "instructions":
        return ("instructions",)
    out = ["wall", "measured"]
    if options.get("counters"):
        out.append("counters")
    if options.get("memory"):
        out.append("memory")
    return tuple(out)


def declared_for(system: System, workload: str, channels: tuple[str, ...]) -> list[Metric]:
    """The metrics a skipped or failed row of ``workload`` stands for in a run of
    ``channels``: the workload's own metrics and, for the lab's channels, the ones that
    apply to this workload's kind (per call for in-process work, server figures otherwise)."""
    w = system.workload(workload)
    out: list[Metric] = []
    if "wall" in channels:
        out += [t.metric for t in w.metrics]
        out += [w.limit.derived] if w.limit is not None else []
    if "measured" in channels:
        out += list(w.measured)
    local = in_process(w)
    if "counters" in channels:
        out += list(COUNTER_METRICS if local else SERVER_COUNTER_METRICS)
    if "instructions" in channels:  # rows of skipped workloads say why they were skipped
        out += list(INSTRUCTION_METRICS)
    if "memory" in channels:
        out += [MEMORY_METRICS[0]]
        out += list(MEMORY_METRICS[3:]) if local else [MEMORY_METRICS[1]]
    return out

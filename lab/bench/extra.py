"""The measuring process's extra channels: perf counters and memory around one item.

Used by :mod:`lab.bench.child`; see :mod:`lab.bench.channels` for what each metric means.

- :func:`count_calls` counts perf events over a few batches of calls of an in-process
  workload (a batch lasts about ``BATCH_S`` so the ioctl cost of a counter read is noise);
- :func:`count_servers` counts the same events on the processes of a server workload (the
  implementation object's ``pids()``) during one measure call;
- :class:`MemoryWatch` resets and reads peak RSS (``/proc/PID/clear_refs`` and ``VmHWM``) of
  this process and the server processes, and the peak RSS of every child process reaped in
  between (``wait4``), and counts the native core's allocations when ``lab.alloccount`` is
  preloaded.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.perfevents import HARDWARE, SOFTWARE, Counters

BATCHES = 5
BATCH_S = 0.02  # longer than the kernel's multiplexing interval (4 ms by default)
EVENTS = SOFTWARE + HARDWARE


@dataclass
class Counted:
    """Per-metric sample lists and, per event that gave no value, the reason."""

    samples: dict[str, list[float]] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)


def _calls_per_batch(seconds: list[float]) -> int:
    if not seconds:
        return 1
    per_call = sorted(seconds)[len(seconds) // 2]
    return max(1, min(100_000, math.ceil(BATCH_S / max(per_call, 1e-9))))


def count_calls(call: Callable[[], object], seconds: list[float]) -> Counted:
    """Count :data:`EVENTS` over :data:`BATCHES` batches of ``call``; values per call. With
    no timings (``seconds`` empty) each batch is one call, and one batch is made."""
    out = Counted()
    n = _calls_per_batch(seconds)
    batches = BATCHES if seconds else 1
    counters = Counters(EVENTS)
    try:
        for _ in range(batches):
            with counters:
                for _ in range(n):
                    call()
            _collect(out, counters.read(), n, "")
    finally:
        counters.close()
    return out


def count_servers(pids: list[int], fn: Callable[[], Any]) -> tuple[Any, Counted]:
    """Run ``fn()`` while counting :data:`EVENTS` on each of ``pids`` (summed); metrics are
    named ``server_<event>`` and hold totals for the call."""
    out = Counted()
    group = [Counters(EVENTS, pid=t) for t in _threads(pids)]
    try:
        for c in group:
            c.start()
        result = fn()
        for c in group:
            c.stop()
        readings = [c.read() for c in group]
    finally:
        for c in group:
            c.close()
    summed: dict[str, Any] = {}
    for reading in readings:
        for name, r in reading.items():
            prev = summed.get(name)
            if prev is None or prev.value is None:
                summed[name] = r
            elif r.value is not None:
                summed[name] = type(r)(name, prev.value + r.value, "ok", r.unit,
                                       prev.multiplexed or r.multiplexed)
    _collect(out, summed, 1, "server_")
    return result, out


def _threads(pids: list[int]) -> list[int]:
    """Every thread of ``pids`` (a counter opened for a pid counts its main thread only)."""
    out = []
    for pid in pids:
        try:
            out += sorted(int(t.name) for t in Path(f"/proc/{pid}/task").iterdir())
        except OSError:
            out.append(pid)
    return out


def _collect(out: Counted, readings: dict, per: int, prefix: str) -> None:
    for name, r in readings.items():
        if r.value is None:
            if prefix + name not in out.samples:  # counted in another batch: keep that
                out.missing[prefix + name] = f"{r.status} on this machine"
        else:
            out.samples.setdefault(prefix + name, []).append(r.value / per)


def implementation_pids(obj: Any) -> list[int]:
    """The processes an implementation object does its work in (``obj.pids()``), if any."""
    pids = getattr(obj, "pids", None)
    if not callable(pids):
        return []
    return [int(p) for p in pids()]


# -------------------------------------------------------------------------------- memory

def reset_peak(pid: int | str = "self") -> bool:
    """Reset the peak RSS (VmHWM) of ``pid``; False when the kernel refused."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss(pid: int | str = "self") -> float | None:
    """VmHWM of ``pid`` in bytes, or None when the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(int(line.split()[1]) * 1024)
    except OSError:
        return None
    return None


@contextmanager
def reaped_children() -> Iterator[list[float]]:
    """Within the block, every child process reaped through ``os.waitpid`` (as
    ``Popen.wait``, ``communicate`` and ``subprocess.run`` do) is reaped with ``os.wait4``
    instead; the list yielded collects each one's peak RSS in bytes (ru_maxrss). A child
    reaped by ``Popen.poll`` is missed: poll binds ``os.waitpid`` when subprocess is
    imported."""
    peaks: list[float] = []
    original = os.waitpid

    def waitpid(pid: int, options: int) -> tuple[int, int]:
        got, status, usage = os.wait4(pid, options)
        if got:
            peaks.append(float(usage.ru_maxrss * 1024))
        return got, status

    os.waitpid = waitpid  # type: ignore[assignment]
    try:
        yield peaks
    finally:
        os.waitpid = original  # type: ignore[assignment]


class MemoryWatch:
    """Peak RSS figures of one item: start it before the work, ``finish()`` after."""

    def __init__(self, server_pids: list[int]) -> None:
        self.server_pids = server_pids
        self.local = reset_peak()
        self.servers = all([reset_peak(p) for p in server_pids])

    def finish(self, children: list[float], server_pids: list[int]) -> Counted:
        """The figures, given the reaped children's peaks and the server processes now."""
        out = Counted()
        if self.local and (value := peak_rss()) is not None:
            out.samples["peak_rss"] = [value]
        else:
            out.missing["peak_rss"] = "not permitted (/proc/self/clear_refs)"
        if server_pids:
            # a server started during the item has its whole life as its peak
            peaks = [peak_rss(p) for p in server_pids]
            if (self.servers or set(server_pids) != set(self.server_pids)) and all(
                    p is not None for p in peaks):
                out.samples["server_peak_rss"] = [float(sum(peaks))]  # type: ignore[arg-type]
            else:
                out.missing["server_peak_rss"] = "not permitted or the server exited"
        if children:
            out.samples["child_peak_rss"] = [max(children)]
        return out


def count_allocations(call: Callable[[], object], counter: Any) -> Counted:
    """Allocations and bytes the native core requested in one ``call`` (``counter`` is a
    :class:`lab.alloccount.Counter` with the core's modules registered)."""
    _, counts = counter.measure(call)
    return Counted({"allocs": [float(counts.core_allocs)],
                    "alloc_bytes": [float(counts.core_bytes)]})



"""Several in-order, profiling command queues on one context, and a timeline of their events.

Commands go to a queue chosen by index; ``wait_for`` takes events from any queue of the
context, which is how a command on one queue waits for work on another (cross-queue
dependencies; within one queue the in-order semantics already order commands). Every command
enqueued through ``Queues`` is recorded under a name; ``timeline()`` waits for all queues and
returns each command's profiled times (ns, the device's clock) in enqueue order, and
``profile()`` sums device time (end - start) per name. At most ``max_entries`` entries are
kept (the oldest are dropped); resolved entries keep no reference to their event.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pyopencl as cl

from plugins.gpu.api import GpuError


@dataclass(frozen=True)
class TimelineEntry:
    """One profiled command: device timestamps in ns (queued <= submit <= start <= end on a
    conforming device)."""

    name: str
    queue: int
    queued: int
    submit: int
    start: int
    end: int

    @property
    def duration_ns(self) -> int:
        return self.end - self.start


class ProfileStat(NamedTuple):
    """Commands recorded under one name and their summed device time."""

    count: int
    total_ns: int


class _Slot:
    """A timeline entry: pending (``event`` set) until its times are read into ``entry``."""

    __slots__ = ("name", "queue", "event", "entry")

    def __init__(self, name: str, queue: int, event: cl.Event) -> None:
        self.name, self.queue, self.event = name, queue, event
        self.entry: TimelineEntry | None = None

    def resolve(self) -> None:
        if self.entry is None:
            self.event.wait()
            prof = self.event.profile
            self.entry = TimelineEntry(self.name, self.queue, int(prof.queued),
                                       int(prof.submit), int(prof.start), int(prof.end))
            self.event = None


class Queues:
    """``count`` in-order queues with profiling on ``context``/``device``."""

    RESOLVE_EVERY = 256  # resolve finished entries once this many are pending

    def __init__(self, context: cl.Context, device: cl.Device, count: int = 2,
                 max_entries: int = 100_000) -> None:
        if not isinstance(count, int) or count < 1:
            raise GpuError(f"queues={count!r}: expected an integer >= 1")
        self.context = context
        self.device = device
        props = cl.command_queue_properties.PROFILING_ENABLE
        self._queues = [cl.CommandQueue(context, device, properties=props) for _ in range(count)]
        self._entries: collections.deque[_Slot] = collections.deque(maxlen=max_entries)
        self._pending: list[_Slot] = []
        self.recorded = 0  # commands ever recorded (not capped)

    @property
    def count(self) -> int:
        return len(self._queues)

    def index(self, queue: int | None) -> int:
        """``queue`` checked (None means 0); GpuError naming the valid range otherwise."""
        if queue is None:
            return 0
        if not isinstance(queue, int | np.integer) or isinstance(queue, bool) \
                or not 0 <= queue < self.count:
            raise GpuError(f"queue={queue!r}: expected an index 0..{self.count - 1}")
        return int(queue)

    def __getitem__(self, queue: int) -> cl.CommandQueue:
        return self._queues[self.index(queue)]

    # -- enqueueing -------------------------------------------------------------------------

    def launch(self, name: str, queue: int, kernel: cl.Kernel, global_size: Sequence[int],
               local_size: Sequence[int] | None, args: Sequence[Any],
               wait_for: Sequence[cl.Event] = ()) -> cl.Event:
        """Enqueue ``kernel(*args)`` on queue ``queue`` after ``wait_for``; recorded as
        ``name``."""
        kernel.set_args(*args)
        event = cl.enqueue_nd_range_kernel(self[queue], kernel, tuple(global_size),
                                           None if local_size is None else tuple(local_size),
                                           wait_for=list(wait_for) or None)
        self.record(name, queue, event)
        return event

    def copy(self, name: str, queue: int, dest: cl.Buffer, src: cl.Buffer, *,
             wait_for: Sequence[cl.Event] = (), **kwargs: Any) -> cl.Event:
        """Device-to-device ``clEnqueueCopyBuffer`` (``byte_count``, ``src_offset``,
        ``dst_offset`` in ``kwargs``) on queue ``queue``; recorded as ``name``."""
        event = cl.enqueue_copy(self[queue], dest, src, wait_for=list(wait_for) or None, **kwargs)
        self.record(name, queue, event)
        return event

    def transfer(self, name: str, queue: int, dest: Any, src: Any, *, blocking: bool,
                 wait_for: Sequence[cl.Event] = (), **kwargs: Any) -> cl.Event:
        """A host-device copy (``src_offset`` or ``dst_offset`` in ``kwargs``) on queue
        ``queue``, blocking or not; recorded as ``name``."""
        event = cl.enqueue_copy(self[queue], dest, src, is_blocking=blocking,
                                wait_for=list(wait_for) or None, **kwargs)
        self.record(name, queue, event, complete=blocking)
        return event

    def fill(self, name: str, queue: int, buffer: cl.Buffer, pattern: Any, offset: int,
             size: int, wait_for: Sequence[cl.Event] = ()) -> cl.Event:
        """``clEnqueueFillBuffer`` on queue ``queue``; recorded as ``name``."""
        event = cl.enqueue_fill_buffer(self[queue], buffer, pattern, offset, size,
                                       wait_for=list(wait_for) or None)
        self.record(name, queue, event)
        return event

    # -- the timeline -------------------------------------------------------------------------

    def record(self, name: str, queue: int, event: cl.Event, complete: bool = False) -> None:
        """Add ``event`` to the timeline as ``name`` on ``queue`` (``complete``: it has
        finished, so its times are read now and the event is dropped)."""
        self.recorded += 1
        slot = _Slot(name, queue, event)
        self._entries.append(slot)
        if complete:
            slot.resolve()
            return
        self._pending.append(slot)
        if len(self._pending) >= self.RESOLVE_EVERY:
            done = cl.command_execution_status.COMPLETE
            still = []
            for s in self._pending:
                if s.event is not None and s.event.command_execution_status == done:
                    s.resolve()
                elif s.event is not None:
                    still.append(s)
            self._pending = still

    def finish(self) -> None:
        """Wait for every queue, then resolve the timeline."""
        for q in self._queues:
            q.finish()
        for slot in self._pending:
            slot.resolve()
        self._pending = []

    def timeline(self) -> list[TimelineEntry]:
        """Every recorded command (at most ``max_entries``, oldest first); waits for all."""
        self.finish()
        return [slot.entry for slot in self._entries if slot.entry is not None]

    def profile(self) -> dict[str, ProfileStat]:
        """Device time (end - start, ns) and count per command name; waits for all."""
        totals: dict[str, ProfileStat] = {}
        for e in self.timeline():
            count, total = totals.get(e.name, ProfileStat(0, 0))
            totals[e.name] = ProfileStat(count + 1, total + e.duration_ns)
        return totals

    def clear(self) -> None:
        """Wait for all queues and forget the timeline."""
        self.finish()
        self._entries.clear()

    def __len__(self) -> int:
        """Entries currently in the timeline (cheap; does not wait)."""
        return len(self._entries)

    def close(self) -> None:
        """Finish and drop the queues."""
        self.finish()
        self._entries.clear()
        self._queues.clear()

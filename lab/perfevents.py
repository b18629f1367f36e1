"""Kernel event counters (perf_event_open(2)) from Python, through cffi: software events
always, hardware events where the machine exposes them.

Contract: ``Counters(events, pid=0)`` opens one counter per event name of :data:`EVENTS` for
this process (``pid=0``, inherited by threads and children started later) or for an existing
process ``pid``; ``with counters:`` (or ``start()``/``stop()``) counts, and ``read()``
returns a :class:`Reading` per event.  An event the kernel or the machine does not support
(``ENOENT``, ``EOPNOTSUPP``, ``ENODEV``, ``EINVAL``) reads ``status="not supported"`` with
``value=None``, one that is forbidden (``EACCES``/``EPERM``, see
/proc/sys/kernel/perf_event_paranoid) ``status="not permitted"``: never a zero.  When the
kernel multiplexed a counter (it ran for part of the time enabled), the value is scaled by
enabled/running and ``multiplexed`` is True.  :func:`count` counts around one call.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

_CDEF = """
struct perf_event_attr {
    uint32_t type; uint32_t size; uint64_t config; uint64_t sample_period;
    uint64_t sample_type; uint64_t read_format; uint64_t flags; uint32_t wakeup_events;
    uint32_t bp_type; uint64_t config1; uint64_t config2; uint64_t branch_sample_type;
    uint64_t sample_regs_user; uint32_t sample_stack_user; int32_t clockid;
    uint64_t sample_regs_intr; uint32_t aux_watermark; uint16_t sample_max_stack;
    uint16_t reserved_2;
};
long syscall(long number, ...);
int ioctl(int fd, unsigned long request, ...);
"""
_SYS_PERF_EVENT_OPEN = {"x86_64": 298, "aarch64": 241}
_TYPE_HARDWARE, _TYPE_SOFTWARE = 0, 1
_FLAG_DISABLED, _FLAG_INHERIT, _FLAG_EXCLUDE_HV = 1 << 0, 1 << 1, 1 << 6
_FORMAT_ENABLED_RUNNING = 1 | 2          # TOTAL_TIME_ENABLED | TOTAL_TIME_RUNNING
_IOC_ENABLE, _IOC_DISABLE, _IOC_RESET = 0x2400, 0x2401, 0x2403
_ATTR_SIZE = 112                         # PERF_ATTR_SIZE_VER5

EVENTS: dict[str, tuple[int, int, str]] = {
    "task_clock": (_TYPE_SOFTWARE, 1, "ns"),
    "context_switches": (_TYPE_SOFTWARE, 3, "count"),
    "page_faults": (_TYPE_SOFTWARE, 2, "count"),
    "cpu_migrations": (_TYPE_SOFTWARE, 4, "count"),
    "cycles": (_TYPE_HARDWARE, 0, "count"),
    "instructions": (_TYPE_HARDWARE, 1, "count"),
    "cache_references": (_TYPE_HARDWARE, 2, "count"),
    "cache_misses": (_TYPE_HARDWARE, 3, "count"),
    "branch_misses": (_TYPE_HARDWARE, 5, "count"),
}
"""Event name -> (perf type, config, unit)."""
SOFTWARE = ("task_clock", "context_switches", "page_faults", "cpu_migrations")
HARDWARE = ("cycles", "instructions", "cache_references", "cache_misses", "branch_misses")
_UNSUPPORTED = {errno.ENOENT, errno.EOPNOTSUPP, errno.ENODEV, errno.EINVAL}
_FORBIDDEN = {errno.EACCES, errno.EPERM}

_api: Any = None


def _ffi() -> tuple[Any, Any]:
    global _api
    if _api is None:
        import cffi

        ffi = cffi.FFI()
        ffi.cdef(_CDEF)
        _api = (ffi, ffi.dlopen(None))
    return _api


@dataclass(frozen=True)
class Reading:
    """One event's count: ``value`` (scaled when multiplexed) or None with the reason in
    ``status`` ("ok", "not supported", "not permitted")."""

    event: str
    value: float | None
    status: str
    unit: str
    multiplexed: bool = False

    def __str__(self) -> str:
        if self.value is None:
            return f"{self.event}: {self.status}"
        flag = " (multiplexed, scaled)" if self.multiplexed else ""
        return f"{self.event}: {self.value:,.0f} {self.unit}{flag}"


class Counters:
    """Counters of ``events`` for ``pid`` (0: this process); see the module docstring."""

    def __init__(self, events: Sequence[str] = SOFTWARE, pid: int = 0) -> None:
        self._fds: dict[str, int] = {}
        self._status: dict[str, str] = {}
        unknown = [e for e in events if e not in EVENTS]
        if unknown:
            raise ValueError(f"unknown event {unknown[0]!r}; valid: {', '.join(EVENTS)}")
        arch = os.uname().machine
        if arch not in _SYS_PERF_EVENT_OPEN:
            raise OSError(f"perf_event_open: no syscall number known for {arch}")
        self.events, self.pid = tuple(events), pid
        try:
            for name in self.events:
                self._open(name, _SYS_PERF_EVENT_OPEN[arch])
        except BaseException:
            self.close()
            raise

    def _open(self, name: str, nr: int) -> None:
        ffi, lib = _ffi()
        kind, config, _ = EVENTS[name]
        attr = ffi.new("struct perf_event_attr *")
        attr.type, attr.size, attr.config = kind, _ATTR_SIZE, config
        attr.read_format = _FORMAT_ENABLED_RUNNING
        attr.flags = _FLAG_DISABLED | _FLAG_EXCLUDE_HV | (_FLAG_INHERIT if self.pid == 0 else 0)
        fd = lib.syscall(ffi.cast("long", nr), attr, ffi.cast("int", self.pid),
                         ffi.cast("int", -1), ffi.cast("int", -1), ffi.cast("unsigned long", 0))
        if fd >= 0:
            self._fds[name] = int(fd)
            self._status[name] = "ok"
            return
        err = ffi.errno
        if err in _FORBIDDEN:
            self._status[name] = "not permitted"
        elif err in _UNSUPPORTED:
            self._status[name] = "not supported"
        elif err == errno.ESRCH:
            raise ProcessLookupError(f"perf_event_open: no process {self.pid}")
        else:
            raise OSError(err, f"perf_event_open({name}): {os.strerror(err)}")

    def _ioctl(self, request: int) -> None:
        ffi, lib = _ffi()
        for fd in self._fds.values():
            lib.ioctl(ffi.cast("int", fd), ffi.cast("unsigned long", request),
                      ffi.cast("int", 0))

    def start(self) -> None:
        self._ioctl(_IOC_RESET)
        self._ioctl(_IOC_ENABLE)

    def stop(self) -> None:
        self._ioctl(_IOC_DISABLE)

    def __enter__(self) -> Counters:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def read(self) -> dict[str, Reading]:
        out = {}
        for name in self.events:
            unit = EVENTS[name][2]
            if name not in self._fds:
                out[name] = Reading(name, None, self._status[name], unit)
                continue
            raw = os.read(self._fds[name], 24)
            value, enabled, running = (int.from_bytes(raw[i:i + 8], "little")
                                       for i in (0, 8, 16))
            if running == 0:
                out[name] = Reading(name, None if enabled else 0.0,
                                    "not counted" if enabled else "ok", unit, bool(enabled))
                continue
            scaled = value * enabled / running if running < enabled else float(value)
            out[name] = Reading(name, scaled, "ok", unit, running < enabled)
        return out

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def __del__(self) -> None:
        self.close()


def count(fn: Callable[[], Any], events: Sequence[str] = SOFTWARE) -> tuple[Any, dict]:
    """Run ``fn()`` with ``events`` counted for this process; (its result, the readings)."""
    counters = Counters(events)
    try:
        with counters:
            result = fn()
        return result, counters.read()
    finally:
        counters.close()

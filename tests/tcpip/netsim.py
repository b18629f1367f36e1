"""An in-process network for the tcpip stack's tests: hosts are `struct ts_stack`s from the
cffi build (``tcpip-lib``), each with the built-in memory link and a manual clock, all on
one Ethernet segment that this module carries frames across.

Contract:

- ``Net(mod)`` holds the shared clock (``net.now_us``, starting at 1 s) and the hosts;
  ``net.host(name, "10.0.0.1/24", gw=None, mac=None, **config)`` adds one (``config``: any
  ``struct ts_config`` field such as ``mtu``, ``mem_limit``, ``reasm_limit``, ``tcp_sndbuf``,
  ``tcp_rcvbuf``; ``seed`` defaults to a per-host value so runs are repeatable).
- ``net.pump()`` moves every frame waiting on a host's link to all other hosts (a hub: each
  stack filters by MAC itself) until no frame is left, at most ``max_rounds`` rounds.
  ``net.filter(src, frame)`` decides what is delivered: the default returns ``[frame]``;
  replace it to drop (``[]``), duplicate (``[f, f]``), corrupt or hold back frames (return
  held frames later to reorder).  Every frame sent is appended to ``net.trace`` as
  ``(now_us, src_name, frame)`` before the filter runs.
- ``net.advance(ms)`` moves the clock forward by ``ms`` milliseconds, stopping at every
  timer deadline on the way (``ts_next_timeout``) to run ``ts_poll`` and pump, so timers
  fire at their exact times; ``net.run_until(pred, ms)`` does the same until ``pred()`` holds
  and says whether it did.
- With ``check=True`` (default), ``ts_check`` runs on every host after every delivery round
  and a violation raises AssertionError naming the host and the invariant.
- ``net.close()`` frees every stack (the ``net`` fixture does it).

Addresses are dotted strings at this interface; ``ip(s)``/``dotted(n)`` convert.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

MAX_FRAME = 65535 + 14


def ip(text: str) -> int:
    """``"10.0.0.1"`` -> the host-order integer the C API takes."""
    return int(ipaddress.IPv4Address(text))


def dotted(value: int) -> str:
    return str(ipaddress.IPv4Address(value))


class Host:
    """One stack on the segment: ``.s`` is the ``struct ts_stack *``, ``.lib``/``.ffi`` the
    module's halves."""

    def __init__(self, net: Net, name: str, stack: Any, mac: bytes) -> None:
        self.net, self.name, self.s, self.mac = net, name, stack, mac
        self.lib, self.ffi = net.lib, net.ffi

    @property
    def ip(self) -> str:
        return dotted(self.lib.ts_get_addr(self.s))

    def stat(self, name: str) -> int:
        value = self.lib.ts_stat(self.s, name.encode())
        assert value != 2**64 - 1, f"no counter named {name!r}"
        return value

    def stats(self) -> dict[str, int]:
        lib = self.lib
        return {self.ffi.string(lib.ts_stat_name(i)).decode(): lib.ts_stat_value(self.s, i)
                for i in range(lib.ts_stats_count())}

    def check(self) -> None:
        err = self.ffi.new("char[]", 512)
        if self.lib.ts_check(self.s, err, 512) != 0:
            raise AssertionError(f"{self.name}: {self.ffi.string(err).decode()}")

    def send(self, frame: bytes) -> None:
        """Inject one frame into this host as if it came off the wire."""
        self.lib.ts_input(self.s, frame, len(frame))

    def pop_all(self) -> list[bytes]:
        out, buf = [], self.net.buf
        while (n := self.lib.ts_link_pop(self.s, buf, MAX_FRAME)) > 0:
            out.append(bytes(self.net.ffi.buffer(buf, n)))
        return out


class Net:
    """The segment, its clock and its hosts (see the module docstring)."""

    def __init__(self, mod: Any, check: bool = True, max_rounds: int = 10_000) -> None:
        self.ffi, self.lib = mod.ffi, mod.lib
        self.hosts: list[Host] = []
        self.now_us = 1_000_000
        self.check = check
        self.max_rounds = max_rounds
        self.trace: list[tuple[int, str, bytes]] = []
        self.filter: Callable[[Host, bytes], list[bytes]] = lambda src, frame: [frame]
        self.buf = self.ffi.new("uint8_t[]", MAX_FRAME)

    def host(self, name: str, addr: str | None = "10.0.0.1/24", gw: str | None = None,
             mac: bytes | None = None, **config: int) -> Host:
        cfg = self.ffi.new("struct ts_config *")
        index = len(self.hosts) + 1
        mac = mac or bytes([0x02, 0, 0, 0, 0, index])
        cfg.mac = list(mac)
        if addr:
            iface = ipaddress.IPv4Interface(addr)
            cfg.ip, cfg.netmask = int(iface.ip), int(iface.netmask)
        cfg.gateway = ip(gw) if gw else 0
        cfg.seed = config.pop("seed", index * 7919)
        for key, value in config.items():
            setattr(cfg, key, value)
        stack = self.lib.ts_stack_new(cfg)
        assert stack != self.ffi.NULL, f"ts_stack_new refused the configuration of {name}"
        self.lib.ts_clock_set(stack, self.now_us)
        host = Host(self, name, stack, mac)
        self.hosts.append(host)
        return host

    def _check(self) -> None:
        if self.check:
            for h in self.hosts:
                h.check()

    def pump(self) -> int:
        """Deliver until the links are empty; returns the number of frames delivered."""
        delivered = 0
        for _ in range(self.max_rounds):
            moved = False
            for src in self.hosts:
                for frame in src.pop_all():
                    moved = True
                    self.trace.append((self.now_us, src.name, frame))
                    for out in self.filter(src, frame):
                        for dst in self.hosts:
                            if dst is not src:
                                dst.send(out)
                                delivered += 1
            self._check()
            if not moved:
                return delivered
        raise AssertionError(f"frames still flowing after {self.max_rounds} rounds")

    def _set_clock(self, now_us: int) -> None:
        self.now_us = now_us
        for h in self.hosts:
            self.lib.ts_clock_set(h.s, now_us)

    def _next_deadline(self) -> int | None:
        waits = [self.lib.ts_next_timeout(h.s) for h in self.hosts]
        waits = [w for w in waits if w >= 0]
        return self.now_us + min(waits) if waits else None

    def step(self, until_us: int) -> None:
        """Poll and pump at the current time, then move the clock to the next deadline (or
        ``until_us`` when that comes first)."""
        for h in self.hosts:
            self.lib.ts_poll(h.s)
        self.pump()
        deadline = self._next_deadline()
        target = until_us if deadline is None else min(max(deadline, self.now_us + 1), until_us)
        self._set_clock(max(target, self.now_us))

    def advance(self, ms: float) -> None:
        end = self.now_us + int(ms * 1000)
        for _ in range(1_000_000):
            self.step(end)
            if self.now_us >= end:
                for h in self.hosts:
                    self.lib.ts_poll(h.s)
                self.pump()
                return
        raise AssertionError("advance: too many timer events")

    def run_until(self, pred: Callable[[], bool], ms: float = 10_000) -> bool:
        end = self.now_us + int(ms * 1000)
        self.pump()
        for _ in range(1_000_000):
            if pred():
                return True
            if self.now_us >= end:
                return False
            self.step(end)
        raise AssertionError("run_until: too many timer events")

    def close(self) -> None:
        for h in self.hosts:
            self.lib.ts_stack_free(h.s)
        self.hosts.clear()

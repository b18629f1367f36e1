"""What a stateful system hands to ``lab chaos``: its scenarios and how to run a cluster.

A system that offers ``chaos`` sets ``System.chaos`` to a :class:`ChaosSuite`:

* ``open(impl, settings, placement)`` returns a :class:`Cluster` (not yet started) of the
  implementation ``impl`` configured by a scenario's ``settings`` (e.g. ``{"persistence":
  "always"}``), its nodes placed as ``placement`` says (data directories, extra environment
  for fault-injection preloads, a namespace to run in);
* ``impls`` names the implementations compared (the system's own first, then the references);
  ``test_impls`` are deliberately broken builds that prove the checkers work (run when named);
* ``scenarios`` are the named combinations of workload, faults and checkers.

The lab drives everything else: it starts the nodes, runs the clients the cluster hands out,
applies the fault schedule through the registered nemeses (:mod:`lab.chaos.nemesis`), heals,
reads the final state and runs the checkers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

WORKLOADS = ("set", "register")
"""``set``: clients add unique elements to a set and read it (durability, set-full checker);
``register``: clients write and read a few keys (linearizability checker)."""


class Node(Protocol):
    """One process of the system under test, which the nemeses kill, pause and restart.

    ``data_dir`` holds its durable state (and nothing the lab must keep: logs live elsewhere);
    ``env`` is added to its environment at every start (nemeses add preloads there before the
    first start). ``start`` returns once the node serves requests, or raises ``RuntimeError``
    saying why it did not (with the tail of its log). ``kill`` sends SIGKILL and reaps it;
    ``stop`` stops it gracefully; both are no-ops on a stopped node.
    """

    name: str
    data_dir: Path
    env: dict[str, str]

    def start(self) -> None: ...
    def kill(self) -> None: ...
    def stop(self) -> None: ...
    def alive(self) -> bool: ...
    def pids(self) -> list[int]: ...
    def exit_status(self) -> int | None: ...


class Client(Protocol):
    """One client connection. ``invoke(f, key, value)`` performs one operation and returns
    ``(type, result)`` with ``type`` one of ``ok``, ``fail`` (certainly not applied) or
    ``info`` (unknown: timed out, connection lost). It never raises for the system's own
    errors; ``timeout`` bounds each operation. ``close`` drops the connection."""

    def invoke(self, f: str, key: str | None, value: Any) -> tuple[str, Any]: ...
    def close(self) -> None: ...


class Cluster(Protocol):
    """The nodes of one implementation and a way to talk to them. ``close`` stops every node
    and copies their logs into ``logs_dir``."""

    nodes: list[Node]

    def client(self, process: int, timeout: float) -> Client: ...
    def close(self, logs_dir: Path) -> None: ...


@dataclass(frozen=True)
class Placement:
    """Where the lab puts a cluster's nodes: ``workdir`` (the case's scratch folder),
    ``data_root`` (where data directories go: a small tmpfs when the scenario fills the disk),
    ``logs_dir`` (process logs), and ``host`` (the address nodes bind and clients reach)."""

    workdir: Path
    data_root: Path
    logs_dir: Path
    host: str = "127.0.0.1"


@dataclass(frozen=True)
class Scenario:
    """A named chaos test.

    ``workload`` is one of :data:`WORKLOADS`; ``nemeses`` the faults its schedule draws from
    (names of registered nemeses, with optional weights ``{"kill": 3, "pause": 1}``);
    ``settings`` what the cluster is configured with; ``faults`` how many faults the schedule
    holds (None: as many as fit in the time); ``time`` the default seconds of load;
    ``clients`` concurrent clients; ``disk_mb`` a tmpfs of that size for the data (disk-full
    scenarios); ``required`` the outcome it demands (``{"lost": 0}``) rather than merely
    reports; ``impls`` restricts it to some implementations (empty: all of the suite's);
    ``quick_time`` the seconds of a ``--quick`` run; ``tolerate`` the checkers whose
    invalid verdict is the expected, reported outcome (``set-full`` under ``everysec``: losing
    the last second is the documented trade-off) rather than a failure of the case;
    ``quiet`` the range of seconds between faults (default `lab.chaos.schedule.QUIET`).
    """

    name: str
    description: str
    workload: str
    nemeses: Mapping[str, float]
    settings: Mapping[str, Any] = field(default_factory=dict)
    faults: int | None = None
    time: float = 10.0
    clients: int = 4
    disk_mb: int | None = None
    required: Mapping[str, Any] = field(default_factory=dict)
    impls: tuple[str, ...] = ()
    quick_time: float | None = None
    tolerate: tuple[str, ...] = ()
    quiet: tuple[float, float] | None = None


@dataclass(frozen=True)
class ChaosSuite:
    """A system's chaos declaration (see the module docstring)."""

    open: Callable[[str, Mapping[str, Any], Placement, str], Cluster]
    impls: tuple[str, ...]
    scenarios: tuple[Scenario, ...]
    test_impls: tuple[str, ...] = ()

    def scenario(self, name: str) -> Scenario:
        return next(s for s in self.scenarios if s.name == name)


def validate_suite(suite: Any, nemeses: set[str] | None = None) -> list[str]:
    """Problems with a declared suite, as sentences (``nemeses`` None: not checked)."""
    if not isinstance(suite, ChaosSuite):
        return [f"chaos must be a lab.ChaosSuite, got {type(suite).__name__}"]
    every = list(suite.impls) + list(suite.test_impls)
    problems = [f"duplicate chaos implementation {n!r}" for n in sorted(set(every))
                if every.count(n) > 1]
    if not suite.impls:
        problems.append("chaos declares no implementations")
    names = [s.name for s in suite.scenarios]
    problems += [f"duplicate chaos scenario {n!r}" for n in sorted(set(names))
                 if names.count(n) > 1]
    for s in suite.scenarios:
        where = f"chaos scenario {s.name!r}"
        if s.workload not in WORKLOADS:
            problems.append(f"{where}: workload {s.workload!r} is not one of "
                            f"{', '.join(WORKLOADS)}")
        if nemeses is not None:
            problems += [f"{where}: unknown nemesis {n!r} (registered: "
                         f"{', '.join(sorted(nemeses))})" for n in s.nemeses if n not in nemeses]
        if any(w <= 0 for w in s.nemeses.values()):
            problems.append(f"{where}: nemesis weights must be positive")
        if s.time <= 0 or s.clients < 1:
            problems.append(f"{where}: time must be positive and clients at least 1")
        problems += [f"{where}: implementation {i!r} is not in the suite"
                     for i in s.impls if i not in every]
    return problems

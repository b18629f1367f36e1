"""Client workloads of chaos cases: the operations, drawn from a seed, and the threads that
run them against a cluster while recording the history.

Operation ``i`` of a case is a pure function of ``(workload, seed, i)`` (:func:`operation`), so
a replay or a shrinking step can run exactly the same operations, or a subset of them
(``indices``). Workloads (see :data:`lab.chaos.model.WORKLOADS`):

* ``set``: ``add`` of the unique element ``i`` to the set ``"s"``, with one ``read`` of the
  whole set in every :data:`READ_EVERY` operations;
* ``register``: ``write`` of the unique value ``i`` or ``read`` (even odds) on one of
  :data:`REGISTERS` keys.

:class:`Driver` runs ``clients`` threads, each with its own connection, pulling the next
operation index from a shared sequence until it is exhausted, the deadline passes or
:meth:`Driver.stop` is called. After an ``info`` completion the thread continues as a new
process (Jepsen's rule: the indeterminate operation may still be in flight). ``final_reads``
runs one read per client once the faults are healed, retrying (bounded) while the cluster
is still recovering.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

from lab.chaos.history import FAIL, OK, Recorder
from lab.chaos.model import Cluster

READ_EVERY = 256
"""One read of the whole set per this many operations (each read's result, the whole set, is
recorded: more reads make the history grow quadratically)."""
REGISTERS = 5
SET_KEY = "s"


def operation(workload: str, seed: int, i: int) -> tuple[str, str, Any]:
    """Operation ``i``: ``(f, key, value)``."""
    if workload == "set":
        if i % READ_EVERY == READ_EVERY - 1:
            return "read", SET_KEY, None
        return "add", SET_KEY, i
    if workload == "register":
        rng = random.Random(seed * 1_000_003 + i)
        key = f"r{rng.randrange(REGISTERS)}"
        return ("write", key, i) if rng.random() < 0.5 else ("read", key, None)
    raise ValueError(f"unknown workload {workload!r} (valid: set, register)")


def final_keys(workload: str) -> list[str]:
    """The keys the final reads read."""
    return [SET_KEY] if workload == "set" else [f"r{k}" for k in range(REGISTERS)]


class Driver:
    """Client threads running a workload against ``cluster`` (see the module docstring)."""

    def __init__(self, cluster: Cluster, recorder: Recorder, workload: str, seed: int,
                 clients: int, *, timeout: float = 1.0,
                 indices: Iterable[int] | None = None, max_ops: int = 1_000_000) -> None:
        self.cluster, self.recorder = cluster, recorder
        self.workload, self.seed, self.clients, self.timeout = workload, seed, clients, timeout
        self._indices: Iterator[int] = iter(indices) if indices is not None else iter(
            range(max_ops))
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._deadline = float("inf")
        self._next_process = clients
        self.taken = 0
        self.errors: list[str] = []
        self._threads: list[threading.Thread] = []

    def start(self, deadline: float) -> None:
        self._deadline = deadline
        for n in range(self.clients):
            t = threading.Thread(target=self._run, args=(n,), name=f"chaos-client-{n}",
                                 daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float) -> None:
        """Wait for the threads (each finishes its operation in flight, bounded by the
        client timeout)."""
        end = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, end - time.monotonic()))

    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def _take(self) -> int | None:
        with self._lock:
            if self._stop.is_set() or time.monotonic() >= self._deadline:
                return None
            i = next(self._indices, None)
            if i is not None:
                self.taken = max(self.taken, i + 1)
            return i

    def _new_process(self) -> int:
        with self._lock:
            self._next_process += 1
            return self._next_process - 1

    def _run(self, n: int) -> None:
        process, client = n, None
        try:
            while (i := self._take()) is not None:
                if client is None:
                    client = self.cluster.client(process, self.timeout)
                f, key, value = operation(self.workload, self.seed, i)
                invoked = self.recorder.invoke(process, f, key, value)
                kind, result = client.invoke(f, key, value)
                self.recorder.complete(invoked, kind, result if kind == OK else
                                       (None if f == "read" else value))
                if kind not in (OK, FAIL):
                    client.close()
                    client, process = None, self._new_process()
                elif kind == FAIL:
                    time.sleep(0.02)  # the node is down or refusing: do not spin
        except Exception as e:  # noqa: BLE001 - a client bug is reported, the case goes on
            self.errors.append(f"client {n}: {type(e).__name__}: {e}")
        finally:
            if client is not None:
                client.close()

    def final_reads(self, deadline: float) -> list[tuple[str, str, Any]]:
        """One read of every final key per client, retried until it succeeds or ``deadline``;
        returns each read's ``(key, type, result)`` in order."""
        out = []
        for _, key in itertools.product(range(self.clients), final_keys(self.workload)):
            process = self._new_process()
            while True:
                client = self.cluster.client(process, max(self.timeout, 2.0))
                try:
                    invoked = self.recorder.invoke(process, "read", key, None)
                    kind, result = client.invoke("read", key, None)
                    self.recorder.complete(invoked, kind, result if kind == OK else None)
                finally:
                    client.close()
                if kind == OK or time.monotonic() >= deadline:
                    out.append((key, kind, result))
                    break
                if kind != FAIL:
                    process = self._new_process()
                time.sleep(0.1)
        return out

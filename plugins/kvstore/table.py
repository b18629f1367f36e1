"""The ``table`` workload: our hash table against a Python dict, in process, same keys.

Both sides get the same ``keys`` distinct keys of ``key_size`` bytes (``key:`` + a zero-padded
decimal index, as the server workloads use, padded with ``-`` up to the size).  One repetition
times, with ``time.perf_counter_ns`` around one call each:

* insert: every key into an empty table, the value being the key's index;
* lookup: every key again (all hits), from key objects other than the inserted ones.

``kvstore`` (ours) does all of it in C: ``kv_lib_table_fill`` and ``kv_lib_table_lookup`` walk
one packed buffer (little-endian uint32 length + bytes per key, built before timing) through a
table of the server's kind (``dict.c``: SipHash, chained buckets, incremental rehashing); the
table is cleared (``kv_lib_table_clear``) before each fill.  The library is the ``kvlib``
recipe's release build (like the load generator, whatever flavor the run uses for the server).

``python-dict`` is the idiomatic fastest CPython: ``dict(zip(keys, range(n)))`` to insert and
``sum(map(d.__contains__, other_keys))`` to look up, both iterating in C.  The key lists are
made before timing from fresh ``bytes`` objects, so every insert and every lookup hashes its
key (a ``bytes`` caches its hash once computed) and compares bytes on a hit (``other_keys``
are equal to, not identical with, the inserted keys), as the C side must.

``heap_per_key`` is the memory the filled table holds divided by ``keys``: for ours the
allocator's accounting (``kv_used_memory``: usable size of every live block, after minus
before the fill), for the dict what ``tracemalloc`` sees allocated for the key objects, the
value integers and the dict (requested sizes, so it slightly favours the dict).  It is
measured once per parameter set in a separate untimed pass and repeated in every repetition.

redis-server's table cannot run in process, so this workload skips ``redis``; its memory per
key for the same key counts is the ``memory`` workload's (resident memory of the server).
"""

from __future__ import annotations

import ctypes
import struct
import time
import tracemalloc
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import lab

RECIPE = "kvlib"
PYTHON_DICT = "python-dict"
FLAVOR = "release"


def make_keys(n: int, size: int) -> list[bytes]:
    """``n`` distinct keys of exactly ``size`` bytes (fresh objects on every call)."""
    return [(b"key:%012d" % i).ljust(size, b"-") for i in range(n)]


def pack(keys: list[bytes]) -> bytes:
    """Keys as ``kv_lib_table_fill`` reads them: little-endian uint32 length, then the bytes."""
    head = struct.Struct("<I")
    return b"".join(head.pack(len(k)) + k for k in keys)


@dataclass(frozen=True)
class TableInput:
    """One parameter set's input: the key count and size, and the packed keys."""

    n: int
    size: int
    packed: bytes


def prepare(params: Mapping[str, Any]) -> TableInput:
    n, size = params["keys"], params["key_size"]
    return TableInput(n, size, pack(make_keys(n, size)))


class PythonDictTable:
    """What the ``python-dict`` implementation loads: the dict side of the workload."""

    name = PYTHON_DICT

    def run(self, state: TableInput) -> tuple[int, int]:
        """(insert ns, lookup ns) of one repetition; checks the hit count."""
        keys = make_keys(state.n, state.size)
        values = range(state.n)
        t0 = time.perf_counter_ns()
        table = dict(zip(keys, values, strict=True))
        t1 = time.perf_counter_ns()
        probes = make_keys(state.n, state.size)
        t2 = time.perf_counter_ns()
        hits = sum(map(table.__contains__, probes))
        t3 = time.perf_counter_ns()
        if len(table) != state.n or hits != state.n:
            raise RuntimeError(f"dict holds {len(table)} keys, found {hits}, of {state.n}")
        return t1 - t0, t3 - t2

    def memory(self, state: TableInput) -> float:
        """tracemalloc's bytes for key objects, value integers and the dict, per key."""
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            keys = make_keys(state.n, state.size)
            table = dict(zip(keys, range(state.n), strict=True))
            held = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        held -= keys.__sizeof__()  # the list of keys is scaffolding, not table memory
        del table
        return held / state.n


def load_python_dict(ctx: lab.LoadContext) -> PythonDictTable:
    return PythonDictTable()


class KvlibTable:
    """Our table through the ``kvlib`` library (release build, loaded once per process)."""

    name = "kvstore"

    def __init__(self) -> None:
        from lab import native
        from lab.host import get_host

        mod = native.load(get_host().systems()["kvstore"], RECIPE, FLAVOR)
        self.ffi, self.lib = mod.ffi, mod.lib
        self._used = _used_memory(mod)

    def _fill(self, state: TableInput) -> int:
        return self.lib.kv_lib_table_fill(state.packed, len(state.packed), state.n)

    def run(self, state: TableInput) -> tuple[int, int]:
        lib = self.lib
        lib.kv_lib_table_clear()
        t0 = time.perf_counter_ns()
        added = self._fill(state)
        t1 = time.perf_counter_ns()
        hits = lib.kv_lib_table_lookup(state.packed, len(state.packed), state.n)
        t2 = time.perf_counter_ns()
        if added != state.n or hits != state.n or lib.kv_lib_table_size() != state.n:
            raise RuntimeError(f"kvlib table added {added}, found {hits}, holds "
                               f"{lib.kv_lib_table_size()}, of {state.n} keys")
        return t1 - t0, t2 - t1

    def memory(self, state: TableInput) -> float:
        """Allocator-accounted bytes held by the filled table, per key."""
        self.lib.kv_lib_table_clear()
        before = self._used()
        self._fill(state)
        held = self._used() - before
        self.lib.kv_lib_table_clear()
        return held / state.n


def _used_memory(mod: Any) -> Any:
    """``kv_used_memory`` of the loaded library: through the API when it exports it
    (``kv_lib_used_memory``), else the C function of ``mem.h`` found in the module's shared
    object (the same process-wide counter)."""
    exported = getattr(mod.lib, "kv_lib_used_memory", None)
    if exported is not None:
        return exported
    so = ctypes.CDLL(mod.__file__)
    fn = so.kv_used_memory
    fn.restype, fn.argtypes = ctypes.c_size_t, []
    return fn


@cache
def _kvlib_table() -> KvlibTable:
    return KvlibTable()


_MEMORY: dict[tuple[str, int, int], float] = {}


def measure(obj: Any, state: TableInput, params: Mapping[str, Any]) -> dict[str, float]:
    """insert and lookup ns per key of one repetition; bytes per key (measured once)."""
    side = obj if isinstance(obj, PythonDictTable) else _kvlib_table()
    insert_ns, lookup_ns = side.run(state)
    memo = (side.name, state.n, state.size)
    if memo not in _MEMORY:
        _MEMORY[memo] = side.memory(state)
    return {"insert_ns": insert_ns / state.n, "lookup_ns": lookup_ns / state.n,
            "heap_per_key": _MEMORY[memo]}


def supports(impl: str, params: Mapping[str, Any]) -> str | None:
    if impl == "redis":
        return ("redis-server's hash table cannot run in process; see the `memory` workload "
                "for its bytes per key at the same key counts")
    return None


TABLE = lab.Workload(
    name="table",
    description="in-process hash table: insert and lookup ns per key and heap bytes per key, our "
                "table (kvlib, all in C) against a Python dict of the same keys",
    params={"keys": (10_000, 100_000, 1_000_000, 10_000_000), "key_size": (16, 64)},
    prepare=prepare, measure=measure,
    measured=(lab.Metric("insert_ns", "ns/key", "lower"),
              lab.Metric("lookup_ns", "ns/key", "lower"),
              lab.Metric("heap_per_key", "B", "lower")),
    default={"keys": (1_000_000,), "key_size": (16,)},
    quick={"keys": (100_000,), "key_size": (16,)},
    supports=supports, measure_every_rep=True, baseline=PYTHON_DICT, in_process=True,
)

PYTHON_DICT_IMPL = lab.Impl(
    PYTHON_DICT, "CPython dict built and probed at C speed (the `table` workload only)",
    load=load_python_dict)


def only_table(impl: str, params: Mapping[str, Any]) -> str | None:
    """``supports`` part every other kvstore workload gets: they drive servers."""
    if impl == PYTHON_DICT:
        return "a Python dict is no server: only the in-process `table` workload compares it"
    return None


def without_python_dict(workloads: tuple[lab.Workload, ...]) -> tuple[lab.Workload, ...]:
    """``workloads`` with ``only_table`` combined into their ``supports`` (a workload's own
    reason, if any, still applies)."""
    from dataclasses import replace

    def combined(own: Any) -> Any:
        def supports(impl: str, params: Mapping[str, Any]) -> str | None:
            return only_table(impl, params) or (own(impl, params) if own else None)
        return supports

    return tuple(replace(w, supports=combined(w.supports)) for w in workloads)

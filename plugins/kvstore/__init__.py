"""The kvstore system: a Redis-protocol (RESP2) key-value server in C (``targets/kvstore``),
benchmarked side by side with redis-server through the same client.

Table of contents: two executable recipes (``kvstore-server`` and the load generator
``kvstore-loadgen``); two implementations the lab starts and stops (``kvstore``, ours, and
``redis``, the baseline), each a `servers.Launcher` that runs its server on a free loopback port
with its own data directory in the persistence mode a workload asks for (``persistence``:
none, or the append-only log with appendfsync no/everysec/always, the same flags for both).
Workloads: ``mix`` (kvstore-loadgen: a true GET/SET mix, ops/s and p50/p99/p99.9 latency over
connections and pipeline depth), ``persist`` (the same with the log on), ``saturation`` (server
and generator CPU during the mix), ``get`` and ``set`` (redis-benchmark), ``memory`` (resident
memory per key), ``recovery`` (start-up time per GB of log), ``rewrite`` (BGREWRITEAOF
time) and ``table`` (in process: our hash table against a Python dict, the third
implementation ``python-dict``, which only that workload runs). Servers are pinned to one CPU
and the load generators to the others (recorded in the run with the filesystem of the data
directories). The ``kvlib`` cffi recipe (the core without its network layer) serves the
``table`` workload and the fuzz targets ``resp``, ``aof_load`` and ``commands``
(`plugins.kvstore.fuzzing`). ``lab chaos kvstore`` runs the scenarios of `plugins.kvstore.chaos`
against both servers, plus the test build ``kvstore-server-nofsync`` (``-DKV_TEST_SKIP_FSYNC``:
it acknowledges writes without syncing the log) that the durability checker must catch.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from typing import Any

import lab
from plugins.kvstore import chaos, load, persist, servers
from plugins.kvstore import table as table_workload
from plugins.kvstore.fuzzing import FUZZ_TARGETS
from plugins.kvstore.fuzzing import RECIPE as KVLIB

RECIPE = "kvstore-server"
LOADGEN = "kvstore-loadgen"
KVLIB_SOURCES = ("[!nes]*.c", "ev[!e]*.c", "s[!e]*.c")
"""kvlib: every core file but server.c (main), net.c and event.c (the network layer)."""


def _load_ours(ctx: lab.LoadContext) -> servers.Launcher:
    from lab import native

    exe = ctx.build(RECIPE)
    env = native.flavors_runtime_env(ctx.flavor)
    return servers.Launcher("kvstore", lambda extra: servers.ours(exe, env, extra))


def _load_redis(ctx: lab.LoadContext) -> servers.Launcher:
    return servers.Launcher("redis", servers.redis)


def _redis_version() -> str:
    out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True,
                         timeout=10).stdout
    return out.split("v=", 1)[1].split()[0] if "v=" in out else out.strip()


def _prepare(params: Mapping[str, Any]) -> Mapping[str, Any]:
    return params


def _bench(test: str):  # noqa: ANN202
    def measure(launcher: servers.Launcher, state: Any, params: Mapping[str, Any]) -> dict:
        server = launcher.server(params["persistence"])
        if test == "get":
            load.populate(server, params["keys"], params["size"])
        else:
            server.populated.clear()  # SETs change the keyspace; GET runs populate again
        return load.redis_benchmark(server, test, clients=params["clients"],
                                    pipeline=params["pipeline"], size=params["size"],
                                    keys=params["keys"])
    return measure


def _loadgen(launcher: servers.Launcher, params: Mapping[str, Any]) -> dict[str, float]:
    from lab import native
    from lab.host import get_host

    exe = native.build(get_host().systems()["kvstore"], LOADGEN, "release")
    server = launcher.server(params["persistence"])
    load.populate(server, params["keys"], params["size"])
    return load.loadgen(str(exe.path / LOADGEN), server, get_ratio=params["get_ratio"],
                        clients=params["clients"], pipeline=params["pipeline"],
                        size=params["size"], keys=params["keys"])


def _only(names: tuple[str, ...]):  # noqa: ANN202
    def measure(launcher: servers.Launcher, state: Any, params: Mapping[str, Any]) -> dict:
        figures = _loadgen(launcher, params)
        return {n: figures[n] for n in names}
    return measure


def _memory(launcher: servers.Launcher, state: Any, params: Mapping[str, Any]) -> dict:
    """Resident bytes per key: RSS after loading the keyspace minus RSS when empty."""
    server = launcher.server("none")
    load.populate(server, 0, params["size"])
    before = server.rss_bytes()
    load.populate(server, params["keys"], params["size"])
    if load.dbsize(server) != params["keys"]:
        raise RuntimeError(f"{server.name} holds {load.dbsize(server)} keys, expected "
                           f"{params['keys']}")
    return {"bytes_per_key": (server.rss_bytes() - before) / params["keys"]}


def _recovery(launcher: servers.Launcher, state: Any, params: Mapping[str, Any]) -> dict:
    return persist.recovery(launcher, params["keys"], params["size"])


def _rewrite(launcher: servers.Launcher, state: Any, params: Mapping[str, Any]) -> dict:
    return persist.rewrite(launcher, params["keys"], params["size"])


OPS = lab.Metric("ops", "ops/s", "higher")
P50 = lab.Metric("p50", "ms", "lower")
P99 = lab.Metric("p99", "ms", "lower")
P999 = lab.Metric("p999", "ms", "lower")
PERCENTILES = {"p50": 50, "p99": 99, "p999": 99.9}
SCALING = ("clients", "pipeline")
KEYS = (1000, 100_000, 1_000_000, 10_000_000)
LOAD_PARAMS = {"clients": (1, 50, 256), "pipeline": (1, 16, 64), "size": (16, 1024, 65536),
               "keys": KEYS, "persistence": servers.PERSISTENCE}
LOAD_DEFAULT = {"clients": (1, 50), "pipeline": (1, 16), "size": (16,), "keys": (100_000,),
                "persistence": ("none",)}
LOAD_QUICK = {"clients": (50,), "pipeline": (16,), "size": (16,), "keys": (1000,),
              "persistence": ("none",)}
MIX_PARAMS = {"get_ratio": (1.0, 0.9, 0.5), **LOAD_PARAMS}
MIX_QUICK = {"get_ratio": (0.5,), **LOAD_QUICK}


def _load_workload(test: str) -> lab.Workload:
    return lab.Workload(
        name=test, description=f"redis-benchmark -t {test}: ops/s, p50/p99 latency",
        params=LOAD_PARAMS, prepare=_prepare, measure=_bench(test), measured=(OPS, P50, P99),
        default=LOAD_DEFAULT, quick=LOAD_QUICK, measure_every_rep=True, scaling=SCALING,
        percentiles={"p50": 50, "p99": 99})


MIX = lab.Workload(
    name="mix", description="GET/SET mix from kvstore-loadgen, no persistence: ops/s, "
    "p50/p99/p99.9 latency over connections and pipeline depth",
    params=MIX_PARAMS, prepare=_prepare, measure=_only(("ops", "p50", "p99", "p999")),
    measured=(OPS, P50, P99, P999),
    default={"get_ratio": (0.9, 0.5), "clients": (1, 50, 256), "pipeline": (1, 16, 64),
             "size": (16,), "keys": (100_000,), "persistence": ("none",)},
    quick=MIX_QUICK, measure_every_rep=True, scaling=SCALING, percentiles=PERCENTILES)

PERSIST = lab.Workload(
    name="persist", description="the GET/SET mix with the append-only log on both servers "
    "(appendfsync everysec or always; `no` leaves flushing to the OS)",
    params=MIX_PARAMS, prepare=_prepare, measure=_only(("ops", "p50", "p99", "p999")),
    measured=(OPS, P50, P99, P999),
    default={"get_ratio": (0.5,), "clients": (50,), "pipeline": (1, 16), "size": (16,),
             "keys": (100_000,), "persistence": ("everysec", "always")},
    quick={**MIX_QUICK, "persistence": ("always",)}, measure_every_rep=True,
    scaling=SCALING, percentiles=PERCENTILES)

SATURATION = lab.Workload(
    name="saturation", description="who is the bottleneck: CPU used by the server (% of its "
    "one CPU) and by kvstore-loadgen (% of one CPU, on the other CPUs) during the GET/SET mix. "
    "A server near 100% while the generator has room left means the generator is not what "
    "limits the throughput",
    params=MIX_PARAMS, prepare=_prepare, measure=_only(("ops", "server_cpu", "client_cpu")),
    measured=(OPS, lab.Metric("server_cpu", "%", "higher"),
              lab.Metric("client_cpu", "%", "lower")),
    default={"get_ratio": (0.5,), "clients": (1, 50, 256), "pipeline": (16,), "size": (16,),
             "keys": (100_000,), "persistence": ("none",)},
    quick=MIX_QUICK, measure_every_rep=True)

MEMORY = lab.Workload(
    name="memory", description="resident memory per key after loading the keyspace",
    params={"keys": (100_000, 1_000_000, 10_000_000), "size": (16, 256)}, prepare=_prepare,
    measure=_memory, measured=(lab.Metric("bytes_per_key", "B", "lower"),),
    default={"keys": (1_000_000,), "size": (16,)}, quick={"keys": (100_000,), "size": (16,)})

LOG_PARAMS = {"keys": (100_000, 1_000_000, 10_000_000), "size": (16, 256)}
LOG_MB = lab.Metric("log_mb", "MB", "lower")
RECOVERY = lab.Workload(
    name="recovery", description="start-up from the append-only log: seconds until the "
    "first PONG, and seconds per GB of log on disk", params=LOG_PARAMS, prepare=_prepare,
    measure=_recovery, measured=(lab.Metric("recovery_s", "s", "lower"),
                                 lab.Metric("s_per_gb", "s/GB", "lower"), LOG_MB),
    default={"keys": (1_000_000,), "size": (16,)}, quick={"keys": (100_000,), "size": (16,)},
    measure_every_rep=True)

REWRITE = lab.Workload(
    name="rewrite", description="BGREWRITEAOF: seconds until the rewrite is over (as INFO "
    "shows it), and the log size after it", params=LOG_PARAMS, prepare=_prepare,
    measure=_rewrite, measured=(lab.Metric("rewrite_s", "s", "lower"), LOG_MB),
    default={"keys": (1_000_000,), "size": (16,)}, quick={"keys": (100_000,), "size": (16,)},
    measure_every_rep=True)

SYSTEM = lab.System(
    name="kvstore", shape="server",
    description="Redis-protocol (RESP2) key-value server in C vs redis-server",
    impls=(
        lab.Impl("kvstore", "ours: epoll RESP2 server (targets/kvstore)", load=_load_ours,
                 recipes=(RECIPE,)),
        lab.Impl("redis", "redis-server (Debian), configured like ours", load=_load_redis,
                 requires=(lab.Command("redis-server", apt="redis-server"),
                           lab.Command("redis-benchmark", apt="redis-tools")),
                 version=_redis_version),
        table_workload.PYTHON_DICT_IMPL,
    ),
    workloads=table_workload.without_python_dict(
        (MIX, PERSIST, SATURATION, _load_workload("get"), _load_workload("set"), MEMORY,
         RECOVERY, REWRITE)) + (table_workload.TABLE,),
    baseline="redis",
    recipes=(lab.Executable(RECIPE, sources=("*.c",), libraries=("pthread",)),
             lab.Executable(chaos.NOFSYNC_RECIPE, sources=("*.c",),
                            cflags=("-DKV_TEST_SKIP_FSYNC",), libraries=("pthread",)),
             lab.Executable(LOADGEN, sources=("loadgen/*.c",), libraries=("pthread", "m")),
             lab.CffiLib(KVLIB, sources=KVLIB_SOURCES, header="kvlib.h", libraries=("pthread",))),
    requires=(lab.Command("cc", apt="gcc"), lab.Command("redis-benchmark", apt="redis-tools"),
              lab.PythonModule("redis", pip="redis")),
    offers=("bench", "fuzz", "profile", "chaos"),
    fuzz_targets=FUZZ_TARGETS,
    chaos=chaos.SUITE,
)


@lab.hookimpl
def lab_register_systems() -> list[lab.System]:
    return [SYSTEM]


@lab.hookimpl
def lab_register_nemeses() -> list[lab.Nemesis]:
    return list(chaos.NEMESES)


@lab.hookimpl
def lab_fingerprint_extra(system: lab.System | None) -> dict[str, Any] | None:
    if system is None or system.name != "kvstore":
        return None
    try:
        redis = _redis_version()
    except OSError:
        redis = "not installed"
    return {"kvstore": {"pinning": servers.pinning(), "redis_server": redis,
                        "data_filesystem": servers.data_filesystem()}}

"""The kvstore system: a Redis-protocol (RESP2) key-value server in C (``targets/kvstore``),
benchmarked side by side with redis-server through the same client.

Table of contents: one executable recipe (``kvstore-server``); two implementations the lab
starts and stops (``kvstore``, ours, and ``redis``, the baseline), each on a free loopback port
with its own data directory and no persistence; workloads ``get`` and ``set`` (redis-benchmark:
ops/s, p50 and p99 latency, over connections, pipeline depth, value size and keyspace, one
sample per repetition) and ``memory`` (resident memory per key after loading a keyspace).
Servers are pinned to one CPU and the load generator to the others (recorded in the run).
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from typing import Any

import lab
from plugins.kvstore import load, servers

RECIPE = "kvstore-server"
LOADGEN = "kvstore-loadgen"


def _load_ours(ctx: lab.LoadContext) -> servers.Server:
    from lab import native

    exe = ctx.build(RECIPE)
    return servers.start_ours(exe, env=native.flavors_runtime_env(ctx.flavor))


def _load_redis(ctx: lab.LoadContext) -> servers.Server:
    return servers.start_redis()


def _redis_version() -> str:
    out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True,
                         timeout=10).stdout
    return out.split("v=", 1)[1].split()[0] if "v=" in out else out.strip()


def _prepare(params: Mapping[str, Any]) -> Mapping[str, Any]:
    return params


def _bench(test: str):  # noqa: ANN202
    def measure(server: servers.Server, state: Any, params: Mapping[str, Any]) -> dict:
        if test == "get":
            load.populate(server, params["keys"], params["size"])
        else:
            server.populated.clear()  # SETs change the keyspace; GET runs populate again
        return load.redis_benchmark(server, test, clients=params["clients"],
                                    pipeline=params["pipeline"], size=params["size"],
                                    keys=params["keys"])
    return measure


def _mix(server: servers.Server, state: Any, params: Mapping[str, Any]) -> dict:
    """A true GET/SET mix from the lab's own load generator (built once, release flavor)."""
    from lab import native
    from lab.host import get_host

    exe = native.build(get_host().systems()["kvstore"], LOADGEN, "release")
    load.populate(server, params["keys"], params["size"])
    return load.loadgen(str(exe.path / LOADGEN), server, get_ratio=params["get_ratio"],
                        clients=params["clients"], pipeline=params["pipeline"],
                        size=params["size"], keys=params["keys"])


def _memory(server: servers.Server, state: Any, params: Mapping[str, Any]) -> dict:
    """Resident bytes per key: RSS after loading the keyspace minus RSS when empty."""
    load.populate(server, 0, params["size"])
    before = server.rss_bytes()
    load.populate(server, params["keys"], params["size"])
    if load.dbsize(server) != params["keys"]:
        raise RuntimeError(f"{server.name} holds {load.dbsize(server)} keys, expected "
                           f"{params['keys']}")
    return {"bytes_per_key": (server.rss_bytes() - before) / params["keys"]}


OPS = lab.Metric("ops", "ops/s", "higher")
P50 = lab.Metric("p50", "ms", "lower")
P99 = lab.Metric("p99", "ms", "lower")
LOAD_PARAMS = {"clients": (1, 50, 256), "pipeline": (1, 16, 64),
               "size": (16, 1024, 65536), "keys": (1000, 100_000, 1_000_000)}
LOAD_DEFAULT = {"clients": (1, 50), "pipeline": (1, 16), "size": (16,), "keys": (100_000,)}
LOAD_QUICK = {"clients": (50,), "pipeline": (16,), "size": (16,), "keys": (1000,)}


def _load_workload(test: str) -> lab.Workload:
    return lab.Workload(
        name=test, description=f"redis-benchmark -t {test}: ops/s, p50/p99 latency",
        params=LOAD_PARAMS, prepare=_prepare, measure=_bench(test), measured=(OPS, P50, P99),
        default=LOAD_DEFAULT, quick=LOAD_QUICK, measure_every_rep=True)


P999 = lab.Metric("p999", "ms", "lower")
MIX = lab.Workload(
    name="mix", description="GET/SET mix from kvstore-loadgen: ops/s, p50/p99/p99.9 latency",
    params={"get_ratio": (1.0, 0.9, 0.5), **LOAD_PARAMS}, prepare=_prepare, measure=_mix,
    measured=(OPS, P50, P99, P999),
    default={"get_ratio": (0.9, 0.5), "clients": (50,), "pipeline": (1, 16), "size": (16,),
             "keys": (100_000,)},
    quick={"get_ratio": (0.5,), "clients": (50,), "pipeline": (16,), "size": (16,),
           "keys": (1000,)},
    measure_every_rep=True)

MEMORY = lab.Workload(
    name="memory", description="resident memory per key after loading the keyspace",
    params={"keys": (100_000, 1_000_000), "size": (16, 256)}, prepare=_prepare,
    measure=_memory, measured=(lab.Metric("bytes_per_key", "B", "lower"),),
    default={"keys": (1_000_000,), "size": (16,)}, quick={"keys": (100_000,), "size": (16,)})

SYSTEM = lab.System(
    name="kvstore", shape="server",
    description="Redis-protocol (RESP2) key-value server in C vs redis-server",
    impls=(
        lab.Impl("kvstore", "ours: epoll RESP2 server (targets/kvstore)", load=_load_ours,
                 recipes=(RECIPE,)),
        lab.Impl("redis", "redis-server (Debian), no persistence", load=_load_redis,
                 requires=(lab.Command("redis-server", apt="redis-server"),
                           lab.Command("redis-benchmark", apt="redis-tools")),
                 version=_redis_version),
    ),
    workloads=(MIX, _load_workload("get"), _load_workload("set"), MEMORY),
    baseline="redis",
    recipes=(lab.Executable(RECIPE, sources=("*.c",), libraries=("pthread",)),
             lab.Executable(LOADGEN, sources=("loadgen/*.c",), libraries=("pthread", "m"))),
    requires=(lab.Command("cc", apt="gcc"), lab.Command("redis-benchmark", apt="redis-tools"),
              lab.PythonModule("redis", pip="redis")),
)


@lab.hookimpl
def lab_register_systems() -> list[lab.System]:
    return [SYSTEM]


@lab.hookimpl
def lab_fingerprint_extra(system: lab.System | None) -> dict[str, Any] | None:
    if system is None or system.name != "kvstore":
        return None
    try:
        redis = _redis_version()
    except OSError:
        redis = "not installed"
    return {"kvstore": {"pinning": servers.pinning(), "redis_server": redis}}

"""The tcpip system: a user-space TCP/IP stack in C (``targets/tcpip``) whose clock and link
are injected, so the same code runs against the Linux kernel over a TAP device and
deterministically in process.

Recipes: ``tcpip-lib`` (the stack through cffi: in-process tests, fuzz targets, the
memory-link benchmark), ``tcpip-node`` (the daemon that attaches the stack to a TAP device:
DHCP, ping, an HTTP/1.1 server and client, bulk and echo apps), ``tcpip-peer`` (the same
apps on kernel sockets: the kernel-side endpoint and the kernel-to-kernel reference) and
``tcpip-impair`` (a user-space netem: delay and loss between two links, for kernels without
sch_netem).

Implementations: ``tcpip`` (ours, a :class:`~plugins.tcpip.bench.Ours`) and ``linux`` (the
baseline, kernel to kernel: :class:`~plugins.tcpip.bench.Linux`). Workloads: ``bulk`` (one
connection's MB/s, both directions, each congestion control, per MTU), ``impaired`` (the
same through tcpip-impair with delay and loss), ``rr`` (request/response latency) and
``memlink`` (ours only, in process: the stack's own cost). Fuzz targets: ``frame``,
``tcp_session``, ``ip_reassembly``, ``dhcp`` (:mod:`plugins.tcpip.fuzzing`). Everything that
touches the kernel runs in namespaces the lab makes and removes (:mod:`lab.netns`,
:mod:`plugins.tcpip.kernel`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lab
from plugins.tcpip import bench
from plugins.tcpip.fuzzing import FUZZ_TARGETS

LIB = "tcpip-lib"
NODE = "tcpip-node"
PEER = "tcpip-peer"
IMPAIR = "tcpip-impair"


def _tool(name: str) -> Path:
    """One of the kernel-side tools (tcpip-peer, tcpip-impair), release build."""
    from lab import native
    from lab.host import get_host

    return native.build(get_host().systems()["tcpip"], name, "release").path / name


def _load_ours(ctx: lab.LoadContext) -> bench.Ours:
    from lab import native

    exe = ctx.build(NODE)
    return bench.Ours(exe, _tool(PEER),
                      {**os.environ, **native.flavors_runtime_env(ctx.flavor)},
                      lib=ctx.build(LIB), impair=_tool(IMPAIR))


def _load_linux(ctx: lab.LoadContext) -> bench.Linux:
    return bench.Linux(_tool(PEER), _tool(IMPAIR))


def _prepare(params: Mapping[str, Any]) -> Mapping[str, Any]:
    return params


def _measure(method: str):  # noqa: ANN202
    """The workload's ``measure``: the runner's method of that name, on the parameters."""
    def measure(runner: bench.Ours | bench.Linux, state: Any, params: Mapping[str, Any]) -> dict:
        return getattr(runner, method)(params)
    return measure


BULK = lab.Workload(
    name="bulk", description="one TCP connection carrying `mb` MB between our stack and the "
    "kernel over TAP, vs kernel to kernel over veth: MB/s measured by the kernel-side "
    "tcpip-peer (direction send: we send; cc: the sender's congestion control)",
    params={"direction": ("send", "recv"), "cc": ("cubic", "newreno"),
            "mtu": (1500, 9000, 65521),
            "mb": (16, 64, 256)},
    prepare=_prepare, measure=_measure("bulk"),
    measured=(lab.Metric("throughput", "MB/s", "higher"),),
    default={"direction": ("send", "recv"), "cc": ("cubic", "newreno"), "mtu": (1500,),
             "mb": (64,)},
    quick={"direction": ("send",), "cc": ("cubic",), "mtu": (1500,), "mb": (16,)},
    measure_every_rep=True)


IMPAIRED = lab.Workload(
    name="impaired", description="the send bulk transfer through tcpip-impair (the lab's "
    "user-space netem: this kernel has no sch_netem) with delay and loss on the data's way, "
    "ours over its unix link vs a sending kernel over TAP, both through the same bridge",
    params={"impairment": tuple(bench.IMPAIRMENTS), "cc": ("cubic", "newreno"),
            "mb": (16, 64)},
    prepare=_prepare, measure=_measure("impaired"),
    measured=(lab.Metric("throughput", "MB/s", "higher"),),
    default={"impairment": ("delay10-loss1", "delay10"), "cc": ("cubic", "newreno"),
             "mb": (16,)},
    quick={"impairment": ("delay10-loss1",), "cc": ("cubic",), "mb": (16,)},
    measure_every_rep=True)


def _ours_only(impl: str, params: Mapping[str, Any]) -> str | None:
    return None if impl == "tcpip" else "in process: only our stack has a memory link"


MEMLINK = lab.Workload(
    name="memlink", description="in process: two of our stacks joined by memory links, one "
    "TCP connection carrying `mb` MB (the stack's own cost, without TAP system calls)",
    params={"cc": ("cubic", "newreno"), "mtu": (1500, 9000), "mb": (64, 256)},
    prepare=_prepare, measure=_measure("memlink"),
    measured=(lab.Metric("throughput", "MB/s", "higher"),
              lab.Metric("frames", "frames", "lower")),
    default={"cc": ("cubic",), "mtu": (1500, 9000), "mb": (256,)},
    quick={"cc": ("cubic",), "mtu": (1500,), "mb": (64,)}, supports=_ours_only,
    measure_every_rep=True, baseline="tcpip", in_process=True)

RR = lab.Workload(
    name="rr", description="request/response: tcpip-peer sends `size` bytes and waits for "
    "them back from an echo server (ours on TAP, or the kernel's over veth), `count` times",
    params={"size": (64, 1024, 16384), "count": (2000, 5000, 20000)}, prepare=_prepare,
    measure=_measure("rr"),
    measured=(lab.Metric("p50", "us", "lower"), lab.Metric("p99", "us", "lower"),
              lab.Metric("rate", "rr/s", "higher")),
    default={"size": (64, 1024), "count": (5000,)}, quick={"size": (64,), "count": (2000,)},
    measure_every_rep=True, percentiles={"p50": 50, "p99": 99})


SYSTEM = lab.System(
    name="tcpip", shape="server",
    description="user-space TCP/IP stack in C on a TAP device vs the Linux kernel's",
    impls=(
        lab.Impl("tcpip", "ours: user-space stack on a TAP device (targets/tcpip)",
                 load=_load_ours, recipes=(NODE, LIB)),
        lab.Impl("linux", "the Linux kernel's stack, kernel to kernel over veth",
                 load=_load_linux, recipes=(PEER,)),
    ),
    workloads=(BULK, IMPAIRED, RR, MEMLINK),
    baseline="linux",
    recipes=(lab.CffiLib(LIB, sources=("*.c",), header="tcpip.h", libraries=("m",)),
             lab.Executable(NODE, sources=("*.c", "node/*.c"), libraries=("m",)),
             lab.Executable(PEER, sources=("peer/*.c",), libraries=("m",)),
             lab.Executable(IMPAIR, sources=("impair/*.c",))),
    requires=(lab.Command("cc", apt="gcc"), lab.Command("ip", apt="iproute2"),
              lab.Command("ping", apt="iputils-ping"),
              lab.Command("curl", apt="curl"), lab.Command("dnsmasq", apt="dnsmasq-base"),
              lab.Command("tshark", apt="tshark")),
    offers=("bench", "fuzz", "profile"),
    fuzz_targets=FUZZ_TARGETS,
)


@lab.hookimpl
def lab_register_systems() -> list[lab.System]:
    return [SYSTEM]

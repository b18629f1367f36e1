"""What ``lab bench tcpip`` measures and how, for both implementations.

Contract: ``Ours`` (our stack in ``tcpip-node`` on a TAP device, the kernel on the other end:
:class:`~plugins.tcpip.kernel.TapLab`) and ``Linux`` (kernel to kernel over a veth pair
between two namespaces: :class:`~plugins.tcpip.kernel.VethLab`) both offer ``bulk(params)``
and ``rr(params)``, each building its namespaces, running one measurement and removing them.
The kernel-side endpoint is ``tcpip-peer`` in both, so the same program measures:

- ``bulk``: one connection carrying ``mb`` MB; ``direction`` ``send`` means our stack (or
  the reference's first namespace) sends and ``tcpip-peer sink`` measures from accept to EOF;
  ``recv`` means ``tcpip-peer source`` sends to it and measures from connect to EOF.  ``cc``
  is the sender's congestion control (ours: ``--cc``; the kernel's: TCP_CONGESTION, where
  ``newreno`` is the kernel's ``reno``).
- ``memlink`` (ours only): two of our stacks in the benchmark process joined by memory
  links (``ts_bench_memlink``): the stack's own cost, without TAP system calls.
- ``impaired``: the ``send`` bulk transfer through ``tcpip-impair`` (the lab's user-space
  netem, :class:`~plugins.tcpip.kernel.BridgeLab`) with ``impairment`` delay and loss on
  the data's way, for each congestion control; ours reaches the bridge over its unix link,
  the reference's sending kernel over a TAP device, so both cross one bridge process.
- ``rr``: ``tcpip-peer rr`` sends ``size`` bytes and waits for them back from an echo server
  (ours: ``tcpip-node --echo``; the reference's: ``tcpip-peer echo``), ``count`` times:
  p50/p99 latency in microseconds and exchanges per second.

The process that stands for our side runs on CPU 0 and the kernel-side tool on CPU 1
(``taskset``) when the machine has two CPUs or more.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from plugins.tcpip.kernel import KERNEL_IP, OUR_IP, BridgeLab, TapLab, VethLab

PORT = 5001
ECHO_PORT = 7
KERNEL_CC = {"newreno": "reno", "cubic": "cubic"}
CC = {"newreno": 0, "cubic": 1}
IMPAIRMENTS = {"delay10-loss1": (10.0, 1.0), "delay10": (10.0, 0.0), "none": (0.0, 0.0)}
"""``impairment`` values: (delay in ms, loss in %) from the sender towards the kernel's end."""
"""``enum ts_cc``."""
RUN_TIMEOUT = 300


def _cpu(n: int) -> list[str]:
    return ["taskset", "-c", str(n)] if (os.cpu_count() or 1) >= 2 else []


def _json_line(text: str, what: str) -> dict[str, Any]:
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"{what} printed no JSON result: {text[-500:]!r}")


def _wait_ok(proc: subprocess.Popen, what: str, timeout: float = RUN_TIMEOUT) -> str:
    out, err = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} exited {proc.returncode}: {(err or '')[-800:]}")
    return out


class Ours:
    """Our stack on a TAP device, measured by tcpip-peer on the kernel's side."""

    def __init__(self, node: Path, peer: Path, env: Mapping[str, str] | None = None,
                 lib: Any = None, impair: Path | None = None) -> None:
        self.node, self.peer, self.env, self.lib = node, peer, dict(env or os.environ), lib
        self.impair = impair

    def process_names(self) -> list[str]:
        """Our stack runs in ``tcpip-node`` processes started for each measurement: a
        profiler keeps the samples of processes of that name (``lab profile``)."""
        return [self.node.name[:15]]

    def impaired(self, params: Mapping[str, Any]) -> dict[str, float]:
        delay, loss = IMPAIRMENTS[params["impairment"]]
        assert self.impair is not None
        with BridgeLab(self.impair, delay, loss, node_exe=self.node, env=self.env) as lab:
            sink = lab.bg(lab.k, [*_cpu(1), str(self.peer), "sink", str(PORT), "--count", "1"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            _wait_ready(sink)
            node = lab.node("--cc", params["cc"], "--source", f"{KERNEL_IP}:{PORT}", "--bytes",
                            str(params["mb"] * 1_000_000), "--timeout", str(RUN_TIMEOUT),
                            ready=False, prefix=_cpu(0))
            if node.wait(RUN_TIMEOUT) != 0:
                raise RuntimeError(f"tcpip-node --source failed: {node.stderr_tail()}")
            result = _json_line(_wait_ok(sink, "tcpip-peer sink"), "tcpip-peer sink")
        return {"throughput": result["MBps"]}

    def memlink(self, params: Mapping[str, Any]) -> dict[str, float]:
        """Two of our stacks in this process (``ts_bench_memlink``)."""
        frames = self.lib.ffi.new("uint64_t *")
        nbytes = params["mb"] * 1_000_000
        seconds = self.lib.lib.ts_bench_memlink(nbytes, CC[params["cc"]], params["mtu"], frames)
        if seconds <= 0:
            raise RuntimeError(f"ts_bench_memlink failed: errno {-int(seconds)}")
        return {"throughput": nbytes / seconds / 1e6, "frames": float(frames[0])}

    def bulk(self, params: Mapping[str, Any]) -> dict[str, float]:
        nbytes = str(params["mb"] * 1_000_000)
        with TapLab(self.node, mtu=params["mtu"], env=self.env) as lab:
            if params["direction"] == "send":
                sink = lab.kernel_bg([*_cpu(1), str(self.peer), "sink", str(PORT),
                                      "--count", "1"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
                _wait_ready(sink)
                node = lab.node("--cc", params["cc"], "--source", f"{KERNEL_IP}:{PORT}",
                                "--bytes", nbytes, "--timeout", str(RUN_TIMEOUT), ready=False,
                                prefix=_cpu(0))
                if node.wait(RUN_TIMEOUT) != 0:
                    raise RuntimeError(f"tcpip-node --source failed: {node.stderr_tail()}")
                result = _json_line(_wait_ok(sink, "tcpip-peer sink"), "tcpip-peer sink")
            else:
                lab.node("--sink", str(PORT), prefix=_cpu(0))
                src = lab.kernel(*_cpu(1), str(self.peer), "source", OUR_IP, str(PORT), nbytes,
                                 "--cc", KERNEL_CC[params["cc"]], timeout=RUN_TIMEOUT)
                if src.returncode != 0:
                    raise RuntimeError(f"tcpip-peer source failed: {src.stderr[-800:]}")
                result = _json_line(src.stdout, "tcpip-peer source")
        return {"throughput": result["MBps"]}

    def rr(self, params: Mapping[str, Any]) -> dict[str, float]:
        with TapLab(self.node, env=self.env) as lab:
            lab.node("--echo", str(ECHO_PORT), "--nodelay", prefix=_cpu(0))
            out = lab.kernel(*_cpu(1), str(self.peer), "rr", OUR_IP, str(ECHO_PORT), "--size",
                             str(params["size"]), "--count", str(params["count"]),
                             timeout=RUN_TIMEOUT)
            if out.returncode != 0:
                raise RuntimeError(f"tcpip-peer rr failed: {out.stderr[-800:]}")
        return _rr_figures(_json_line(out.stdout, "tcpip-peer rr"))


def _wait_ready(proc: subprocess.Popen) -> None:
    """Wait for tcpip-peer's ``ready port=`` line on stderr."""
    assert proc.stderr is not None
    line = proc.stderr.readline()
    if not line.startswith("ready"):
        raise RuntimeError(f"tcpip-peer did not start listening: {line.strip()!r}")


def _rr_figures(result: Mapping[str, Any]) -> dict[str, float]:
    return {"p50": result["p50_us"], "p99": result["p99_us"], "rate": result["rate"]}


class Linux:
    """Kernel to kernel over veth, both ends tcpip-peer."""

    def __init__(self, peer: Path, impair: Path | None = None) -> None:
        self.peer, self.impair = peer, impair

    def impaired(self, params: Mapping[str, Any]) -> dict[str, float]:
        delay, loss = IMPAIRMENTS[params["impairment"]]
        assert self.impair is not None
        with BridgeLab(self.impair, delay, loss) as lab:
            sink = lab.bg(lab.k, [*_cpu(1), str(self.peer), "sink", str(PORT), "--count", "1"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            _wait_ready(sink)
            src = lab.run(lab.a, *_cpu(0), str(self.peer), "source", KERNEL_IP, str(PORT),
                          str(params["mb"] * 1_000_000), "--cc", KERNEL_CC[params["cc"]],
                          timeout=RUN_TIMEOUT)
            if src.returncode != 0:
                raise RuntimeError(f"tcpip-peer source failed: {src.stderr[-800:]}")
            result = _json_line(_wait_ok(sink, "tcpip-peer sink"), "tcpip-peer sink")
        return {"throughput": result["MBps"]}

    def bulk(self, params: Mapping[str, Any]) -> dict[str, float]:
        nbytes = str(params["mb"] * 1_000_000)
        cc = KERNEL_CC[params["cc"]]
        with VethLab(mtu=params["mtu"]) as lab:
            sink = lab.bg(lab.b, [*_cpu(1), str(self.peer), "sink", str(PORT), "--count", "1"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            _wait_ready(sink)
            src = lab.run(lab.a, *_cpu(0), str(self.peer), "source", KERNEL_IP, str(PORT),
                          nbytes, "--cc", cc, timeout=RUN_TIMEOUT)
            if src.returncode != 0:
                raise RuntimeError(f"tcpip-peer source failed: {src.stderr[-800:]}")
            sunk = _json_line(_wait_ok(sink, "tcpip-peer sink"), "tcpip-peer sink")
            sent = _json_line(src.stdout, "tcpip-peer source")
        return {"throughput": (sunk if params["direction"] == "send" else sent)["MBps"]}

    def rr(self, params: Mapping[str, Any]) -> dict[str, float]:
        with VethLab() as lab:
            echo = lab.bg(lab.b, [*_cpu(1), str(self.peer), "echo", str(ECHO_PORT)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            _wait_ready(echo)
            out = lab.run(lab.a, *_cpu(0), str(self.peer), "rr", KERNEL_IP, str(ECHO_PORT),
                          "--size", str(params["size"]), "--count", str(params["count"]),
                          timeout=RUN_TIMEOUT)
            if out.returncode != 0:
                raise RuntimeError(f"tcpip-peer rr failed: {out.stderr[-800:]}")
        return _rr_figures(_json_line(out.stdout, "tcpip-peer rr"))


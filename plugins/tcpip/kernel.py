"""The stack facing the Linux kernel: namespace layouts for conformance tests and benchmarks.

Contract: every layout is a context manager that builds its namespaces on entry and removes
them (with their links and every process started in them) when the block ends, even when
building or the block fails (:class:`lab.netns.Netns`); ``run(ns, *cmd)`` runs a command in
one of its namespaces and ``bg(ns, cmd)`` starts one there in the background.

- ``TapLab(node_exe)``: one namespace (``lab.ns``) holding a TAP device ``tap0``, the
  kernel's end (``KERNEL_IP``/24, ``KERNEL_MAC``); ``lab.node(*args)`` starts ``tcpip-node``
  on it (``--ip OUR_IP/24`` unless the arguments say ``--dhcp``; ``--mac OUR_MAC``) and waits
  for its ``ready ip=...`` line; ``lab.kernel(*cmd)``/``lab.kernel_bg(cmd)`` run the kernel
  side (ping, curl, dnsmasq, tcpip-peer) in the namespace.
- ``VethLab()``: the reference, two namespaces ``lab.a`` (``OUR_IP``) and ``lab.b``
  (``KERNEL_IP``) joined by a veth pair, the kernel on both ends.
- ``BridgeLab(impair_exe, delay_ms, loss_pct[, node_exe])``: the impaired layout, through
  ``tcpip-impair`` (see its docstring).

The addresses are fixed so that frames captured in conformance tests can seed the fuzz
targets, whose fixture uses the same addresses (``targets/tcpip/fuzz_fx.c``).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from lab.netns import Lines, Netns

KERNEL_IP = "10.77.0.1"
OUR_IP = "10.77.0.2"
KERNEL_MAC = "02:00:00:00:00:01"
OUR_MAC = "02:00:00:00:00:02"
PREFIX = 24
READY_TIMEOUT = 30.0


class Node:
    """A running ``tcpip-node``: its process, its stdout lines, the address it reported."""

    def __init__(self, proc: subprocess.Popen, lines: Lines, ip: str) -> None:
        self.proc, self.lines, self.ip = proc, lines, ip

    def stop(self, timeout: float = 10) -> int:
        """SIGTERM, then wait; returns the exit status (the daemon writes its stats)."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
            return -9

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout=timeout)

    def stderr_tail(self, n: int = 2000) -> str:
        """The end of what it wrote on stderr (once it has exited)."""
        if self.proc.poll() is None or self.proc.stderr is None:
            return ""
        return self.proc.stderr.read()[-n:]


class _Layout:
    """Namespaces made by ``_build`` on entry and removed on exit, whatever happens."""

    tag = "tcpip"

    def __init__(self) -> None:
        self.nets = Netns(self.tag)

    def _build(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> _Layout:
        self.nets.__enter__()
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        self.nets.close()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, ns: str, *cmd: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", ns, *cmd], capture_output=True,
                              text=True, timeout=timeout)

    def bg(self, ns: str, cmd: Sequence[str], **kw: object) -> subprocess.Popen:
        return self.nets.popen(ns, list(cmd), **kw)

    def _tap(self, ns: str, addr: str, mac: str, mtu: int | None = None) -> None:
        self.nets.ip(ns, "tuntap", "add", "dev", "tap0", "mode", "tap")
        self.nets.ip(ns, "link", "set", "tap0", "address", mac)
        self.nets.up(ns, "tap0", f"{addr}/{PREFIX}", mtu)

    def _node(self, ns: str, argv: list[str], env: dict[str, str] | None, ready: bool,
              timeout: float) -> Node:
        proc = self.nets.popen(ns, argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env)
        lines = Lines(proc)
        ip = ""
        if ready:
            ip = lines.wait("ready ip=", timeout).split("ip=", 1)[1].split()[0]
        return Node(proc, lines, ip)


class TapLab(_Layout):
    """One namespace with a TAP device: our stack on one end, the kernel on the other."""

    def __init__(self, node_exe: Path, mtu: int | None = None,
                 env: dict[str, str] | None = None) -> None:
        super().__init__()
        self.node_exe, self.mtu, self.env = node_exe, mtu, env

    def _build(self) -> None:
        self.ns = self.nets.add("peer")
        self._tap(self.ns, KERNEL_IP, KERNEL_MAC, self.mtu)

    def node(self, *args: str, ready: bool = True, timeout: float = READY_TIMEOUT,
             prefix: Sequence[str] = ()) -> Node:
        """Start tcpip-node with ``args`` (``prefix``: a command it runs under, e.g.
        taskset); with ``ready``, wait for its ``ready ip=`` line."""
        argv = [*prefix, str(self.node_exe), "--tap", "tap0", "--mac", OUR_MAC, *args]
        if "--dhcp" not in args and "--ip" not in args:
            argv += ["--ip", f"{OUR_IP}/{PREFIX}"]
        if self.mtu and "--mtu" not in args:
            argv += ["--mtu", str(self.mtu)]
        return self._node(self.ns, argv, self.env, ready, timeout)

    def kernel(self, *cmd: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return self.run(self.ns, *cmd, timeout=timeout)

    def kernel_bg(self, cmd: Sequence[str], **kw: object) -> subprocess.Popen:
        return self.bg(self.ns, cmd, **kw)


class VethLab(_Layout):
    """Two namespaces joined by veth: the kernel-to-kernel reference layout."""

    tag = "tcpipref"

    def __init__(self, mtu: int | None = None) -> None:
        super().__init__()
        self.mtu = mtu

    def _build(self) -> None:
        self.a = self.nets.add("a")
        self.b = self.nets.add("b")
        self.nets.veth(self.a, "veth0", self.b, "veth1", f"{OUR_IP}/{PREFIX}",
                       f"{KERNEL_IP}/{PREFIX}", self.mtu)


class BridgeLab(_Layout):
    """The impaired layout: one side and the kernel's namespace joined through
    ``tcpip-impair`` (the lab's user-space netem; this machine's kernel may lack sch_netem).

    The kernel's end is ``tap0`` in namespace ``k`` (``KERNEL_IP``).  With ``node_exe`` the
    other end is our stack (``lab.node(...)``: tcpip-node on the bridge's unix socket);
    without, it is a second kernel, ``tap0`` in namespace ``a`` (``OUR_IP``).  ``delay_ms``
    and ``loss_pct`` apply from that side towards the kernel's (the data of a ``send`` bulk
    transfer), like ``tc netem`` on the sender's interface; the way back is not impaired.
    Either way every frame crosses the same bridge process.
    """

    tag = "tcpipimp"

    def __init__(self, impair_exe: Path, delay_ms: float, loss_pct: float,
                 node_exe: Path | None = None, env: dict[str, str] | None = None,
                 seed: int = 1) -> None:
        super().__init__()
        self.impair_exe, self.node_exe, self.env = impair_exe, node_exe, env
        self.delay_ms, self.loss_pct, self.seed = delay_ms, loss_pct, seed
        self.tmp: str | None = None

    def _build(self) -> None:
        self.k = self.nets.add("k")
        self._tap(self.k, KERNEL_IP, KERNEL_MAC)
        self.tmp = tempfile.mkdtemp(prefix="lab-impair-")
        if self.node_exe is not None:
            self.sock = str(Path(self.tmp) / "link.sock")
            port_a = f"unix:{self.sock}"
        else:
            self.a = self.nets.add("a")
            self._tap(self.a, OUR_IP, OUR_MAC)
            port_a = f"tap:{self.a}:tap0"
        bridge = self.nets.popen(self.k, [
            str(self.impair_exe), "--a", port_a, "--b", f"tap:{self.k}:tap0",
            "--delay-ab", str(self.delay_ms), "--loss-ab", str(self.loss_pct),
            "--delay-ba", "0", "--loss-ba", "0", "--seed", str(self.seed)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        Lines(bridge).wait("ready", READY_TIMEOUT)

    def close(self) -> None:
        super().close()
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def node(self, *args: str, ready: bool = True, prefix: Sequence[str] = ()) -> Node:
        """Start tcpip-node (our end) on the bridge's unix socket."""
        assert self.node_exe is not None
        argv = [*prefix, str(self.node_exe), "--link", f"unix:{self.sock}", "--mac", OUR_MAC,
                "--ip", f"{OUR_IP}/{PREFIX}", *args]
        return self._node(self.k, argv, self.env, ready, READY_TIMEOUT)

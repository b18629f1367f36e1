"""The stack facing the Linux kernel: namespace layouts for conformance tests and benchmarks.

Contract: ``with TapLab(node_exe) as lab:`` makes one network namespace holding a TAP device
``tap0`` (the kernel's end, ``KERNEL_IP``/24 with ``KERNEL_MAC``); ``lab.node(*args)`` starts
``tcpip-node`` attached to that TAP device inside the namespace (``--ip OUR_IP/24`` unless
the arguments say ``--dhcp``; ``--mac OUR_MAC``) and waits for its ``ready ip=...`` line;
``lab.kernel(*cmd)`` runs a command in the namespace (the kernel side: ping, curl, dnsmasq,
tcpip-peer) and ``lab.kernel_bg(*cmd)`` starts one in the background.  ``with VethLab() as
lab:`` makes the reference layout: two namespaces joined by a veth pair, the kernel on both
ends (``lab.a``/``lab.b``, ``KERNEL_IP`` on ``b``'s side, ``OUR_IP`` on ``a``'s).  Both
remove everything when the block ends, even on failure (:class:`lab.netns.Netns`).

The addresses are fixed so that frames captured in conformance tests can seed the fuzz
targets, whose fixture uses the same addresses (``targets/tcpip/fuzz_fx.c``).
"""

from __future__ import annotations

import subprocess
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


class TapLab:
    """One namespace with a TAP device: our stack on one end, the kernel on the other."""

    def __init__(self, node_exe: Path, mtu: int | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.node_exe, self.mtu, self.env = node_exe, mtu, env
        self.nets = Netns("tcpip")

    def __enter__(self) -> TapLab:
        self.nets.__enter__()
        try:
            self.ns = self.nets.add("peer")
            self.nets.ip(self.ns, "tuntap", "add", "dev", "tap0", "mode", "tap")
            self.nets.ip(self.ns, "link", "set", "tap0", "address", KERNEL_MAC)
            self.nets._up(self.ns, "tap0", f"{KERNEL_IP}/{PREFIX}", self.mtu)
        except BaseException:
            self.nets.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.nets.close()

    def node(self, *args: str, ready: bool = True, timeout: float = READY_TIMEOUT,
             prefix: Sequence[str] = ()) -> Node:
        """Start tcpip-node with ``args`` (``prefix``: a command it runs under, e.g.
        taskset); with ``ready``, wait for its ``ready ip=`` line."""
        argv = [*prefix, str(self.node_exe), "--tap", "tap0", "--mac", OUR_MAC, *args]
        if "--dhcp" not in args and "--ip" not in args:
            argv += ["--ip", f"{OUR_IP}/{PREFIX}"]
        if self.mtu and "--mtu" not in args:
            argv += ["--mtu", str(self.mtu)]
        proc = self.nets.popen(self.ns, argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=self.env)
        lines = Lines(proc)
        ip = ""
        if ready:
            ip = lines.wait("ready ip=", timeout).split("ip=", 1)[1].split()[0]
        return Node(proc, lines, ip)

    def kernel(self, *cmd: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", self.ns, *cmd], capture_output=True,
                              text=True, timeout=timeout)

    def kernel_bg(self, cmd: Sequence[str], **kw: object) -> subprocess.Popen:
        return self.nets.popen(self.ns, list(cmd), **kw)

    def netem(self, delay_ms: float = 0, loss_pct: float = 0) -> None:
        """Delay and loss on the kernel's egress towards our stack."""
        self.nets.netem(self.ns, "tap0", delay_ms, loss_pct)


class VethLab:
    """Two namespaces joined by veth: the kernel-to-kernel reference layout."""

    def __init__(self, mtu: int | None = None) -> None:
        self.mtu = mtu
        self.nets = Netns("tcpipref")

    def __enter__(self) -> VethLab:
        self.nets.__enter__()
        try:
            self.a = self.nets.add("a")
            self.b = self.nets.add("b")
            self.nets.veth(self.a, "veth0", self.b, "veth1", f"{OUR_IP}/{PREFIX}",
                           f"{KERNEL_IP}/{PREFIX}", self.mtu)
        except BaseException:
            self.nets.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.nets.close()

    def run(self, ns: str, *cmd: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", ns, *cmd], capture_output=True,
                              text=True, timeout=timeout)

    def bg(self, ns: str, cmd: Sequence[str], **kw: object) -> subprocess.Popen:
        return self.nets.popen(ns, list(cmd), **kw)

    def netem(self, delay_ms: float = 0, loss_pct: float = 0) -> None:
        """Delay and loss on both directions' egress (veth0 in a, veth1 in b)."""
        self.nets.netem(self.a, "veth0", delay_ms, loss_pct)


class BridgeLab:
    """The impaired layout: one side and the kernel's namespace joined through
    ``tcpip-impair`` (the lab's user-space netem; this machine's kernel may lack sch_netem).

    The kernel's end is ``tap0`` in namespace ``k`` (``KERNEL_IP``).  With ``node_exe`` the
    other end is our stack (``lab.node(...)``: tcpip-node on the bridge's unix socket);
    without, it is a second kernel, ``tap0`` in namespace ``a`` (``OUR_IP``).  ``delay_ms``
    and ``loss_pct`` apply from that side towards the kernel's (the data of a ``send`` bulk
    transfer), like ``tc netem`` on the sender's interface; the way back is not impaired.
    Either way every frame crosses the same bridge process.
    """

    def __init__(self, impair_exe: Path, delay_ms: float, loss_pct: float,
                 node_exe: Path | None = None, env: dict[str, str] | None = None,
                 seed: int = 1) -> None:
        self.impair_exe, self.node_exe, self.env = impair_exe, node_exe, env
        self.delay_ms, self.loss_pct, self.seed = delay_ms, loss_pct, seed
        self.nets = Netns("tcpipimp")

    def _tap(self, ns: str, addr: str, mac: str) -> None:
        self.nets.ip(ns, "tuntap", "add", "dev", "tap0", "mode", "tap")
        self.nets.ip(ns, "link", "set", "tap0", "address", mac)
        self.nets._up(ns, "tap0", f"{addr}/{PREFIX}", None)

    def __enter__(self) -> BridgeLab:
        import tempfile

        self.nets.__enter__()
        try:
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
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        import shutil

        self.nets.close()
        if getattr(self, "tmp", None):
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __exit__(self, *exc: object) -> None:
        self.close()

    def node(self, *args: str, ready: bool = True, prefix: Sequence[str] = ()) -> Node:
        """Start tcpip-node (our end) on the bridge's unix socket."""
        assert self.node_exe is not None
        argv = [*prefix, str(self.node_exe), "--link", f"unix:{self.sock}", "--mac", OUR_MAC,
                "--ip", f"{OUR_IP}/{PREFIX}", *args]
        proc = self.nets.popen(self.k, argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=self.env)
        lines = Lines(proc)
        if ready:
            lines.wait("ready ip=", READY_TIMEOUT)
        return Node(proc, lines, OUR_IP)

    def run(self, ns: str, *cmd: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", ns, *cmd], capture_output=True,
                              text=True, timeout=timeout)

    def bg(self, ns: str, cmd: Sequence[str], **kw: object) -> subprocess.Popen:
        return self.nets.popen(ns, list(cmd), **kw)

"""Network faults for chaos tests, on a small network of namespaces the lab makes itself.

Contract: ``with Network("kv", ["n1", "n2", "n3"]) as net:`` builds, for the length of the
block only:

* a *switch* namespace holding a bridge ``br0``;
* one veth in the host's namespace (``lc<pid>h<k>``, at most 15 characters, unique per lab
  process and Network) attached to that bridge, with address ``<subnet>.1/24`` (``host_address``);
* per node a namespace with ``lo`` up and an ``eth0`` attached to the bridge, with address
  ``<subnet>.<10+i>/24`` (``address(node)``).

``<subnet>`` is a /24 in 10.0.0.0/8 picked from the lab's pid and a counter so that it overlaps
no route of the host (``ip -4 route show table all``), hence no other live Network either (its
host veth routes its /24); the choice and the address assignment happen under a file lock so two
lab processes never pick the same one.  The lab's client code runs in the host namespace and
reaches nodes by address; nodes reach each other through the bridge.  Processes started with
:meth:`Network.popen` run inside a node's namespace.

Faults (all removed by :meth:`Network.heal`, which is idempotent):

* :meth:`Network.drop` ``(src, dst)`` -- IPv4 packets from ``src`` to ``dst`` are dropped, one way.
  ``src``/``dst`` are node names or ``"host"``.  The rule lives in a node's namespace, never in
  the host's own firewall: when ``src`` is a node, ``ip daddr <dst> drop`` in ``src``'s output
  hook (a datagram socket in ``src`` then sees EPERM on send); when ``src`` is the host, ``ip saddr
  <host> drop`` in ``dst``'s input hook.  ARP is untouched, so only IP traffic is cut.  Rules
  apply to established connections too (there is no conntrack exception).
* :meth:`Network.partition` ``(groups)`` -- traffic between members of *different* groups is
  dropped both ways (a :meth:`drop` per ordered pair).  Members that are in no group are not
  affected: they still reach everyone.  A member may appear in one group only.  Faults add up:
  a second ``partition`` keeps the first one's rules; call :meth:`heal` first to replace it.
* :meth:`Network.netem` -- ``tc qdisc replace dev eth0 root netem ...`` inside the node's
  namespace, so it shapes what the node *sends* (a delay there shows in every round trip with
  the node).  All-zero arguments remove the node's netem qdisc.  Raises :class:`Unsupported`
  (with :func:`netem_missing`'s reason) where the kernel has no sch_netem.

Drop rules use an nftables table ``ip lab_chaos`` (chains ``input``/``output``) in each node
namespace, or, when ``nft`` is absent, the iptables chains ``LAB_CHAOS_IN``/``LAB_CHAOS_OUT``
jumped to from ``INPUT``/``OUTPUT`` in that namespace.

Cleanup: on exit of the block -- normal, exception or KeyboardInterrupt -- the host veth is
deleted, every process started through ``popen`` is stopped and any other process in the
namespaces killed, and the namespaces are deleted (which takes their veths, the bridge and the
rule tables with them); this is :class:`lab.netns.Netns`'s cleanup.  Leftovers of lab processes
that died without cleaning up (namespaces ``lab-*-<pid>-*`` and host veths ``lc<pid>h<k>`` whose
pid no longer runs) are reaped by the next Network made.

Every command has a time bound (``CMD_TIMEOUT``); a failing one raises :class:`NetFaultError`
whose one-line message names the command and its stderr.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import itertools
import math
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path

from lab import netns
from lab.errors import LabError

CMD_TIMEOUT = 20
HOST = "host"
TABLE = "lab_chaos"
IPT_CHAINS = {"input": ("INPUT", "LAB_CHAOS_IN"), "output": ("OUTPUT", "LAB_CHAOS_OUT")}
NODE_DEV = "eth0"
HOST_DEV_RE = re.compile(r"^lc(\d+)h(\d+)$")
_NODE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,15}$")
_TAG_RE = re.compile(r"^[a-z0-9]{1,12}$")
_ROUTE_TYPES = {"unicast", "local", "broadcast", "multicast", "blackhole", "unreachable",
                "prohibit", "throw", "nat", "anycast"}
_SERIAL = itertools.count(1)
_SYS_NET = Path("/sys/class/net")


class NetFaultError(LabError):
    """A command that sets up the network or a fault failed (one line: the command, its stderr)."""


class Unsupported(NetFaultError):
    """The fault cannot run on this machine; ``reason`` says why in one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _one_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines()]
    return " | ".join(ln for ln in lines if ln and set(ln) != {"^"})


@contextlib.contextmanager
def _as_fault() -> Iterator[None]:
    """Turn the namespace manager's NetnsError into a one-line NetFaultError."""
    try:
        yield
    except netns.NetnsError as exc:
        raise NetFaultError(_one_line(str(exc))) from exc


def _run(args: Sequence[str]) -> str:
    with _as_fault():
        return netns._run(args, timeout=CMD_TIMEOUT)


def missing() -> str | None:
    """One line naming what this machine lacks to build a Network and cut links, or None."""
    lacks = []
    if not netns._has_net_admin():
        lacks.append("root or CAP_NET_ADMIN")
    if shutil.which("ip") is None:
        lacks.append("`ip` (Debian package iproute2)")
    if shutil.which("nft") is None and shutil.which("iptables") is None:
        lacks.append("`nft` or `iptables` (Debian package nftables or iptables)")
    if not lacks:
        return None
    return "network faults need " + ", ".join(lacks)


_netem_probe: list[str | None] = []


def netem_missing() -> str | None:
    """None when a netem qdisc can be added here, else why not in one line (probed once per
    process, in a throwaway namespace on a veth)."""
    if not _netem_probe:
        _netem_probe.append(_probe_netem())
    return _netem_probe[0]


def _probe_netem() -> str | None:
    why = missing()
    if why:
        return f"netem cannot be probed: {why}"
    if shutil.which("tc") is None:
        return "netem needs `tc` (Debian package iproute2)"
    try:
        with netns.Netns("probe") as nets:
            ns = nets.add("netem")
            nets.ip(ns, "link", "add", "vprobe0", "type", "veth", "peer", "name", "vprobe1")
            nets.up(ns, "vprobe0")
            proc = subprocess.run(["ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev",
                                   "vprobe0", "root", "netem", "delay", "1ms"],
                                  capture_output=True, text=True, timeout=CMD_TIMEOUT)
    except (netns.NetnsError, OSError, subprocess.TimeoutExpired) as exc:
        return f"netem probe failed: {_one_line(str(exc))}"
    if proc.returncode == 0:
        return None
    err = _one_line(proc.stderr)
    if "unknown" in err.lower():
        return f"kernel lacks sch_netem (CONFIG_NET_SCH_NETEM): tc says {err!r}"
    return f"netem qdisc cannot be added: tc says {err!r}"


def reap_stale() -> list[str]:
    """Delete host veths and namespaces left by lab processes that are gone; returns them."""
    reaped = []
    names = sorted(os.listdir(_SYS_NET)) if _SYS_NET.is_dir() else []
    for name in names:
        m = HOST_DEV_RE.match(name)
        if m and not netns._pid_alive(int(m.group(1))):
            # it may vanish by itself meanwhile, with its peer's namespace: no error then
            subprocess.run(["ip", "link", "del", name], capture_output=True,
                           timeout=CMD_TIMEOUT)
            reaped.append(name)
    return reaped + netns.reap_stale()


def _routes() -> list[ipaddress.IPv4Network]:
    nets = []
    for line in _run(["ip", "-4", "route", "show", "table", "all"]).splitlines():
        words = line.split()
        if words and words[0] in _ROUTE_TYPES:
            words = words[1:]
        if not words or words[0] == "default":
            continue
        with contextlib.suppress(ValueError):
            nets.append(ipaddress.IPv4Network(words[0], strict=False))
    return nets


def _pick_subnet(pid: int, serial: int) -> ipaddress.IPv4Network:
    """A free 10.x.y.0/24: the first, from a start derived from pid and serial, that overlaps
    no route of the host."""
    taken = _routes()
    start = (pid * 2654435761 + serial * 40503) % 65536
    for k in range(65536):
        i = (start + k * 193) % 65536          # 193 is odd: the walk visits every /24
        subnet = ipaddress.IPv4Network((0x0A000000 | (i << 8), 24))
        if not any(subnet.overlaps(r) for r in taken):
            return subnet
    raise NetFaultError("no free /24 in 10.0.0.0/8: every one overlaps a route of the host")


@contextlib.contextmanager
def _subnet_lock() -> Iterator[None]:
    folder = Path("/run/lock") if Path("/run/lock").is_dir() else Path(tempfile.gettempdir())
    with open(folder / "lab-netfaults.lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _pct(name: str, value: float) -> float:
    value = float(value)
    if not (math.isfinite(value) and 0.0 <= value <= 100.0):
        raise ValueError(f"{name}={value!r}: a percentage must be in [0, 100]")
    return value


def _ms(name: str, value: float) -> float:
    value = float(value)
    if not (math.isfinite(value) and value >= 0.0):
        raise ValueError(f"{name}={value!r}: a time in ms must be finite and >= 0")
    return value


def _num(value: float) -> str:
    return f"{value:g}"


class Network:
    """A bridge, a host veth and one namespace per node; see the module docstring."""

    def __init__(self, tag: str, nodes: Sequence[str], *, firewall: str | None = None) -> None:
        if not _TAG_RE.fullmatch(tag):
            raise ValueError(f"network tag {tag!r}: use 1-12 lowercase letters or digits")
        nodes = list(nodes)
        if not nodes:
            raise ValueError("a Network needs at least one node")
        if len(nodes) > 200:
            raise ValueError(f"{len(nodes)} nodes: at most 200 fit in a /24")
        for node in nodes:
            if not isinstance(node, str) or not _NODE_RE.fullmatch(node) or node == HOST:
                raise ValueError(f"node name {node!r}: use 1-16 lowercase letters, digits or "
                                 f"'-', not starting with '-', and not {HOST!r}")
        if len(set(nodes)) != len(nodes):
            raise ValueError(f"node names repeat: {nodes}")
        if firewall not in (None, "nft", "iptables"):
            raise ValueError(f"firewall={firewall!r}: use 'nft', 'iptables' or None (auto)")
        self.tag = tag
        self.nodes = nodes
        self.firewall = firewall
        self.subnet: ipaddress.IPv4Network | None = None
        self.host_address = ""
        self.host_dev = ""
        self._nets: netns.Netns | None = None
        self._ns: dict[str, str] = {}
        self._addr: dict[str, str] = {}
        self._switch = ""
        self._drops: list[tuple[str, str]] = []
        self._tables: set[str] = set()          # node namespaces holding our rule table
        self._netem: dict[str, str] = {}        # node -> netem arguments in force

    # -- setup and teardown ----------------------------------------------------------------

    def __enter__(self) -> Network:
        why = missing()
        if why:
            raise NetFaultError(why)
        if self.firewall is None:
            self.firewall = "nft" if shutil.which("nft") else "iptables"
        elif shutil.which(self.firewall) is None:
            raise NetFaultError(f"firewall {self.firewall!r} asked for but `{self.firewall}` "
                                "is not installed")
        reap_stale()
        self._nets = netns.Netns(self.tag)
        try:
            with _as_fault():
                self._build(self._nets)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _build(self, nets: netns.Netns) -> None:
        pid, serial = os.getpid(), next(_SERIAL)
        self._switch = nets.add("sw")
        nets.ip(self._switch, "link", "add", "name", "br0", "type", "bridge")
        nets.up(self._switch, "br0")
        with _subnet_lock():
            self.subnet = _pick_subnet(pid, serial)
            base = self.subnet.network_address
            self.host_dev = f"lc{pid}h{serial}"
            if len(self.host_dev) > 15:
                raise NetFaultError(f"host veth name {self.host_dev!r} is over 15 characters")
            _run(["ip", "link", "add", "name", self.host_dev, "type", "veth", "peer", "name",
                  "vhost", "netns", self._switch])
            self.host_address = str(base + 1)
            _run(["ip", "addr", "add", f"{self.host_address}/24", "dev", self.host_dev])
        _run(["ip", "link", "set", self.host_dev, "up"])
        nets.ip(self._switch, "link", "set", "vhost", "master", "br0")
        nets.up(self._switch, "vhost")
        for i, node in enumerate(self.nodes):
            ns = nets.add(node)
            self._ns[node] = ns
            self._addr[node] = str(base + 10 + i)
            port = f"veth{i}"
            nets.veth(self._switch, port, ns, NODE_DEV, None, f"{self._addr[node]}/24")
            nets.ip(self._switch, "link", "set", port, "master", "br0")

    def close(self) -> None:
        """Remove everything (also what ``__exit__`` does); safe to call twice."""
        try:
            if self.host_dev and (_SYS_NET / self.host_dev).exists():
                subprocess.run(["ip", "link", "del", self.host_dev], capture_output=True,
                               timeout=CMD_TIMEOUT)
        finally:
            if self._nets is not None:
                self._nets.close()
            self._drops.clear()
            self._tables.clear()
            self._netem.clear()
            self._ns.clear()

    # -- addressing and processes ----------------------------------------------------------

    def _check(self, member: str, host_ok: bool = False) -> str:
        if host_ok and member == HOST:
            return member
        if member not in self.nodes:
            valid = ", ".join(self.nodes + ([HOST] if host_ok else []))
            raise ValueError(f"unknown node {member!r}; valid: {valid}")
        if member not in self._ns:
            raise NetFaultError("the Network is not set up: use it in a `with` block")
        return member

    def _ip_of(self, member: str) -> str:
        return self.host_address if member == HOST else self._addr[member]

    def address(self, node: str) -> str:
        """The node's IPv4 address."""
        return self._addr[self._check(node)]

    def namespace(self, node: str) -> str:
        """The kernel name of the node's namespace."""
        return self._ns[self._check(node)]

    def popen(self, node: str, argv: Sequence[str], **kw: object) -> subprocess.Popen:
        """Start ``argv`` in the node's namespace; it is stopped when the block ends."""
        ns = self.namespace(node)
        assert self._nets is not None
        return self._nets.popen(ns, argv, **kw)

    def _exec(self, node: str, *cmd: str) -> str:
        return _run(["ip", "netns", "exec", self._ns[node], *cmd])

    # -- drops -----------------------------------------------------------------------------

    def partition(self, groups: Sequence[Collection[str]]) -> None:
        """Cut traffic both ways between members (nodes or "host") of different groups;
        members of no group are unaffected."""
        seen: dict[str, int] = {}
        for g, group in enumerate(groups):
            if isinstance(group, str):
                raise ValueError(f"group {group!r}: each group is a collection of names, "
                                 "not a string")
            for member in group:
                self._check(member, host_ok=True)
                if member in seen and seen[member] != g:
                    raise ValueError(f"{member!r} is in two groups ({seen[member]} and {g})")
                seen[member] = g
        for a, b in itertools.permutations(seen, 2):
            if seen[a] != seen[b] and (a != HOST or b != HOST):
                self.drop(a, b)

    def drop(self, src: str, dst: str) -> None:
        """Drop IPv4 packets from ``src`` to ``dst`` (one way)."""
        self._check(src, host_ok=True)
        self._check(dst, host_ok=True)
        if src == dst:
            raise ValueError(f"drop({src!r}, {dst!r}): source and destination are the same")
        if (src, dst) in self._drops:
            return
        if src != HOST:
            self._add_rule(src, "output", "daddr", self._ip_of(dst))
        else:
            self._add_rule(dst, "input", "saddr", self.host_address)
        self._drops.append((src, dst))

    def _add_rule(self, node: str, hook: str, field: str, addr: str) -> None:
        ns = self._ns[node]
        if self.firewall == "nft":
            chains = "".join(f"add chain ip {TABLE} {h} {{ type filter hook {h} priority -10; "
                             "policy accept; }; " for h in IPT_CHAINS)
            self._exec(node, "nft", f"add table ip {TABLE}; {chains}"
                       f"add rule ip {TABLE} {hook} ip {field} {addr} drop")
        else:
            if ns not in self._tables:
                for builtin, chain in IPT_CHAINS.values():
                    self._exec(node, "iptables", "-w", "5", "-N", chain)
                    self._exec(node, "iptables", "-w", "5", "-I", builtin, "-j", chain)
            flag = "-s" if field == "saddr" else "-d"
            self._exec(node, "iptables", "-w", "5", "-A", IPT_CHAINS[hook][1], flag, addr,
                       "-j", "DROP")
        self._tables.add(ns)

    # -- netem -----------------------------------------------------------------------------

    def netem(self, node: str, *, delay_ms: float = 0.0, jitter_ms: float = 0.0,
              loss_pct: float = 0.0, duplicate_pct: float = 0.0, reorder_pct: float = 0.0,
              corrupt_pct: float = 0.0) -> None:
        """Shape what ``node`` sends with netem (all zeros: remove it)."""
        delay, jitter = _ms("delay_ms", delay_ms), _ms("jitter_ms", jitter_ms)
        loss, dup = _pct("loss_pct", loss_pct), _pct("duplicate_pct", duplicate_pct)
        reorder, corrupt = _pct("reorder_pct", reorder_pct), _pct("corrupt_pct", corrupt_pct)
        if reorder and not delay:
            raise ValueError(f"reorder_pct={reorder_pct!r} needs delay_ms > 0 (netem reorders "
                             "by sending some packets without the delay)")
        if jitter and not delay:
            raise ValueError(f"jitter_ms={jitter_ms!r} needs delay_ms > 0")
        self._check(node)
        why = netem_missing()
        if why:
            raise Unsupported(why)
        args: list[str] = []
        if delay:
            args += ["delay", f"{_num(delay)}ms"] + ([f"{_num(jitter)}ms"] if jitter else [])
        for word, value in (("loss", loss), ("duplicate", dup), ("reorder", reorder),
                            ("corrupt", corrupt)):
            if value:
                args += [word, f"{_num(value)}%"]
        if not args:
            if node in self._netem:
                self._exec(node, "tc", "qdisc", "del", "dev", NODE_DEV, "root")
                del self._netem[node]
            return
        self._exec(node, "tc", "qdisc", "replace", "dev", NODE_DEV, "root", "netem", *args)
        self._netem[node] = " ".join(args)

    # -- heal and report -------------------------------------------------------------------

    def heal(self) -> None:
        """Remove every drop rule and qdisc this Network added; idempotent."""
        for node in list(self._netem):
            self._exec(node, "tc", "qdisc", "del", "dev", NODE_DEV, "root")
            del self._netem[node]
        for node, ns in self._ns.items():
            if ns not in self._tables:
                continue
            if self.firewall == "nft":
                self._exec(node, "nft", f"delete table ip {TABLE}")
            else:
                for builtin, chain in IPT_CHAINS.values():
                    self._exec(node, "iptables", "-w", "5", "-D", builtin, "-j", chain)
                    self._exec(node, "iptables", "-w", "5", "-F", chain)
                    self._exec(node, "iptables", "-w", "5", "-X", chain)
            self._tables.discard(ns)
        self._drops.clear()

    def active(self) -> list[str]:
        """One line per fault in force, e.g. ``drop n1 -> host (10.1.2.10 -> 10.1.2.1)``."""
        lines = [f"drop {s} -> {d} ({self._ip_of(s)} -> {self._ip_of(d)}, {self.firewall})"
                 for s, d in self._drops]
        lines += [f"netem {node} ({self._addr[node]}): {args}"
                  for node, args in self._netem.items()]
        return lines

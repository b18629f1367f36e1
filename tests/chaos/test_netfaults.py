"""Network faults (:mod:`lab.chaos.netfaults`) on real namespaces: a TCP echo server in a node
is reached from the host and from another node; a partition cuts exactly the links between
its groups and ``heal`` restores them; a one-way drop cuts one direction only (a SYN that gets
in leaves a half-open connection behind, a datagram the other way still arrives); netem either
delays round trips by its delay or, on a kernel without sch_netem, raises Unsupported saying
so; bad arguments are ValueErrors naming the valid range or nodes; and nothing is left behind
-- namespaces, host veth, server processes -- after a normal exit, an exception, or a lab
process SIGKILLed mid-run (the next Network reaps its leftovers).  Every wait is bounded:
connects time out after 1 s at most, retries are counted."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.chaos import netfaults
from lab.chaos.netfaults import NetFaultError, Network, Unsupported
from lab.netns import Lines
from labtest import ROOT

pytestmark = pytest.mark.skipif(netfaults.missing() is not None,
                                reason=str(netfaults.missing()))

PORT = 7000
FAIL_TIMEOUT = 0.5          # how long a connect that must fail is given
SERVER = r"""
import socket, sys, threading
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", int(sys.argv[1])))
srv.listen(16)
def serve(conn):
    with conn:
        while data := conn.recv(4096):
            conn.sendall(data)
print("ready", flush=True)
while True:
    conn, _ = srv.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
"""
CLIENT = r"""
import socket, sys
mode, addr, port, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
try:
    if mode == "tcp":
        with socket.create_connection((addr, port), timeout=timeout) as s:
            s.sendall(b"ping")
            sys.exit(0 if s.recv(16) == b"ping" else 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"dgram", (addr, port))
except OSError as exc:
    print(exc, flush=True)
    sys.exit(1)
"""


def echo(addr: str, port: int = PORT, timeout: float = FAIL_TIMEOUT) -> bool:
    """True when a TCP connect from the host gets an echo within ``timeout`` (<= 1 s)."""
    try:
        with socket.create_connection((addr, port), timeout=timeout) as s:
            s.sendall(b"ping")
            return s.recv(16) == b"ping"
    except OSError:
        return False


def serve(net: Network, node: str, port: int = PORT) -> subprocess.Popen:
    """An echo server in ``node``, reachable from the host (bounded retries while it starts)."""
    proc = net.popen(node, [sys.executable, "-c", SERVER, str(port)], stdout=subprocess.PIPE,
                     text=True)
    Lines(proc).wait("ready", timeout=15)
    for _ in range(20):
        if echo(net.address(node), port, timeout=1.0):
            return proc
        time.sleep(0.1)
    raise AssertionError(f"echo server in {node} unreachable at {net.address(node)}:{port}")


def from_node(net: Network, node: str, mode: str, addr: str, port: int = PORT) -> bool:
    """Run the client in ``node``: a TCP echo (``tcp``) or one datagram (``udp``); True when
    it succeeded."""
    proc = net.popen(node, [sys.executable, "-c", CLIENT, mode, addr, str(port),
                            str(FAIL_TIMEOUT)], stdout=subprocess.PIPE, text=True)
    proc.communicate(timeout=15)
    return proc.returncode == 0


def syn_recv_from(net: Network, node: str, src: str, port: int) -> bool:
    """Whether ``node`` holds a half-open connection (SYN-RECV) from ``src`` to ``port``."""
    out = subprocess.run(["ip", "netns", "exec", net.namespace(node), "ss", "-Htn", "state",
                          "syn-recv", f"sport = :{port}"], capture_output=True, text=True,
                         timeout=10, check=True).stdout
    return src in out


def lab_namespaces(tag: str, pid: int) -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10,
                         check=True).stdout
    return [ln.split()[0] for ln in out.splitlines() if ln.startswith(f"lab-{tag}-{pid}-")]


def link_exists(dev: str) -> bool:
    return Path("/sys/class/net", dev).exists()


def gone(pid: int, timeout: float = 3.0) -> bool:
    """True once ``pid`` has exited (a zombie counts as exited), within ``timeout``."""
    end = time.monotonic() + timeout
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        if time.monotonic() > end:
            return False
        time.sleep(0.05)


@pytest.fixture(scope="module")
def net() -> Iterator[Network]:
    with Network("netf", ["n1", "n2"]) as network:
        serve(network, "n1")
        serve(network, "n2")
        yield network


@pytest.fixture(autouse=True)
def healed(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "net" in request.fixturenames:
        network = request.getfixturevalue("net")
        network.heal()
        assert network.active() == []


# ---- layout -----------------------------------------------------------------------------


def test_layout_and_reachability(net: Network) -> None:
    a1, a2, host = net.address("n1"), net.address("n2"), net.host_address
    prefix = host.rsplit(".", 1)[0]
    assert (host, a1, a2) == (f"{prefix}.1", f"{prefix}.10", f"{prefix}.11")
    assert prefix.startswith("10.") and len(net.host_dev) <= 15 and link_exists(net.host_dev)
    assert net.namespace("n1").startswith(f"lab-netf-{os.getpid()}-")
    assert echo(a1, timeout=1.0) and echo(a2, timeout=1.0)
    assert from_node(net, "n1", "tcp", a2) and from_node(net, "n2", "tcp", a1)
    assert net.active() == []


# ---- partitions -------------------------------------------------------------------------


def test_partition_host_from_node_and_heal(net: Network) -> None:
    net.partition([["host"], ["n1"]])
    assert not echo(net.address("n1"))
    assert echo(net.address("n2"), timeout=1.0)           # n2 is in no group: unaffected
    assert from_node(net, "n1", "tcp", net.address("n2"))
    assert net.active() == [
        f"drop host -> n1 ({net.host_address} -> {net.address('n1')}, nft)",
        f"drop n1 -> host ({net.address('n1')} -> {net.host_address}, nft)"]
    net.heal()
    assert net.active() == []
    assert echo(net.address("n1"), timeout=1.0)
    net.heal()                                             # idempotent
    assert echo(net.address("n1"), timeout=1.0)


def test_partition_between_nodes_keeps_host_with_its_group(net: Network) -> None:
    a1, a2 = net.address("n1"), net.address("n2")
    net.partition([["n1"], ["n2", "host"]])
    assert not from_node(net, "n1", "tcp", a2)
    assert not from_node(net, "n2", "tcp", a1)
    assert echo(a2, timeout=1.0)                           # same group as the host
    assert not echo(a1)
    net.heal()
    assert from_node(net, "n1", "tcp", a2) and echo(a1, timeout=1.0)


def test_partition_of_nodes_only_leaves_host_alone(net: Network) -> None:
    net.partition([{"n1"}, {"n2"}])
    assert not from_node(net, "n2", "tcp", net.address("n1"))
    assert echo(net.address("n1"), timeout=1.0) and echo(net.address("n2"), timeout=1.0)
    assert len(net.active()) == 2


# ---- one-way drops ----------------------------------------------------------------------


def test_drop_is_one_way(net: Network) -> None:
    port = PORT + 1
    serve(net, "n1", port)
    a1 = net.address("n1")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind((net.host_address, 0))
        udp.settimeout(1.0)
        udp_port = udp.getsockname()[1]

        # host -> n1 cut: the SYN never gets in, but n1's datagrams reach the host
        net.drop("host", "n1")
        assert not echo(a1, port)
        assert not syn_recv_from(net, "n1", net.host_address, port)
        assert from_node(net, "n1", "udp", net.host_address, udp_port)
        data, peer = udp.recvfrom(64)
        assert (data, peer[0]) == (b"dgram", a1)
        net.heal()

        # n1 -> host cut: the SYN gets in (a half-open connection in n1), the reply is
        # dropped, and n1's datagrams to the host do not leave n1
        net.drop("n1", "host")
        assert net.active() == [f"drop n1 -> host ({a1} -> {net.host_address}, nft)"]
        assert not echo(a1, port)
        assert syn_recv_from(net, "n1", net.host_address, port)
        assert not from_node(net, "n1", "udp", net.host_address, udp_port)
        with pytest.raises(TimeoutError):
            udp.recvfrom(64)
        assert echo(net.address("n2"), timeout=1.0)       # other nodes unaffected
        net.heal()
    assert echo(a1, port, timeout=1.0)


def test_drop_between_nodes_and_repeats(net: Network) -> None:
    net.drop("n1", "n2")
    net.drop("n1", "n2")                                   # once in force, a no-op
    assert len(net.active()) == 1
    assert not from_node(net, "n1", "tcp", net.address("n2"))
    assert not from_node(net, "n2", "tcp", net.address("n1"))   # n1's SYN-ACK never leaves
    net.heal()
    assert from_node(net, "n2", "tcp", net.address("n1"))


def test_iptables_backend() -> None:
    with Network("netfi", ["n1"], firewall="iptables") as net:
        serve(net, "n1")
        net.partition([["host"], ["n1"]])
        assert not echo(net.address("n1"))
        assert all(line.endswith(", iptables)") for line in net.active())
        net.heal()
        net.heal()
        assert echo(net.address("n1"), timeout=1.0)


# ---- netem ------------------------------------------------------------------------------


def _rtt(addr: str, n: int = 3) -> float:
    best = float("inf")
    for _ in range(n):
        with socket.create_connection((addr, PORT), timeout=1.0) as s:
            t0 = time.monotonic()
            s.sendall(b"ping")
            assert s.recv(16) == b"ping"
            best = min(best, time.monotonic() - t0)
    return best


def test_netem_delay_or_unsupported(net: Network) -> None:
    why = netfaults.netem_missing()
    assert netfaults.netem_missing() == why               # cached: one probe per process
    if why is None:
        before = _rtt(net.address("n1"))
        net.netem("n1", delay_ms=100)
        assert net.active() == [f"netem n1 ({net.address('n1')}): delay 100ms"]
        after = _rtt(net.address("n1"))
        assert after - before >= 0.09, (before, after)
        net.heal()
        assert _rtt(net.address("n1")) < 0.09
    else:
        assert "netem" in why and "\n" not in why
        with pytest.raises(Unsupported) as info:
            net.netem("n1", delay_ms=100, loss_pct=5)
        assert info.value.reason == why and str(info.value) == why
        assert isinstance(info.value, NetFaultError)
        assert net.active() == []
        assert echo(net.address("n1"), timeout=1.0)


# ---- bad arguments ----------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"loss_pct": 101}, "[0, 100]"),
    ({"corrupt_pct": -1}, "[0, 100]"),
    ({"duplicate_pct": float("nan")}, "[0, 100]"),
    ({"delay_ms": -5}, ">= 0"),
    ({"jitter_ms": float("inf"), "delay_ms": 1}, ">= 0"),
    ({"reorder_pct": 10}, "delay_ms > 0"),
    ({"jitter_ms": 3}, "delay_ms > 0"),
])
def test_netem_bad_arguments(net: Network, kwargs: dict, words: str) -> None:
    with pytest.raises(ValueError, match=r".*") as info:
        net.netem("n1", **kwargs)
    assert words in str(info.value) and next(iter(kwargs)) in str(info.value)


def test_unknown_nodes_and_bad_calls(net: Network) -> None:
    for call in (lambda: net.address("n9"), lambda: net.namespace("host"),
                 lambda: net.netem("zz", delay_ms=1), lambda: net.drop("n1", "n9"),
                 lambda: net.partition([["n1"], ["n9"]]),
                 lambda: net.popen("n9", ["true"])):
        with pytest.raises(ValueError, match="valid: n1, n2"):
            call()
    with pytest.raises(ValueError, match="same"):
        net.drop("n1", "n1")
    with pytest.raises(ValueError, match="two groups"):
        net.partition([["n1"], ["n1", "n2"]])
    with pytest.raises(ValueError, match="not a string"):
        net.partition(["n1", "n2"])
    assert net.active() == []
    for bad in (["host"], ["n1", "n1"], ["Bad"], []):
        with pytest.raises(ValueError):
            Network("netf", bad)
    with pytest.raises(ValueError, match="tag"):
        Network("Bad-Tag", ["n1"])
    with pytest.raises(NetFaultError, match="with"):
        Network("netf", ["n1"]).address("n1")


def test_missing_names_what_lacks(monkeypatch: pytest.MonkeyPatch) -> None:
    assert netfaults.missing() is None
    monkeypatch.setattr(netfaults.netns, "_has_net_admin", lambda: False)
    monkeypatch.setattr(netfaults.shutil, "which",
                        lambda c: None if c in ("nft", "iptables") else "/usr/sbin/" + c)
    why = netfaults.missing()
    assert why is not None and "\n" not in why
    assert "CAP_NET_ADMIN" in why and "`nft` or `iptables`" in why and "`ip`" not in why


# ---- cleanup ----------------------------------------------------------------------------


def _check_gone(tag: str, pid: int, host_dev: str, server_pid: int) -> None:
    assert lab_namespaces(tag, pid) == []
    assert not link_exists(host_dev)
    assert gone(server_pid)


def test_cleanup_on_normal_exit() -> None:
    with Network("netfc", ["a", "b"]) as net:
        server = serve(net, "a")
        dev, names = net.host_dev, lab_namespaces("netfc", os.getpid())
        assert len(names) == 3 and net.namespace("a") in names
        net.partition([["a"], ["b"]])
    assert server.poll() is not None
    _check_gone("netfc", os.getpid(), dev, server.pid)
    assert net.active() == []


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_cleanup_on_exception(exc: type[BaseException]) -> None:
    with pytest.raises(exc, match="boom"), Network("netfe", ["a"]) as net:
        server = serve(net, "a")
        dev = net.host_dev
        net.drop("host", "a")
        raise exc("boom")
    _check_gone("netfe", os.getpid(), dev, server.pid)


CHILD = r"""
import sys, time
from lab.chaos.netfaults import Network
with Network("netfk", ["a", "b"]) as net:
    p = net.popen("a", [sys.executable, "-c", "import time; time.sleep(60)"])
    net.partition([["a"], ["b", "host"]])
    print("up", net.host_dev, p.pid, flush=True)
    time.sleep(60)
"""


def test_leftovers_of_a_killed_lab_process_are_reaped() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True,
                             cwd=ROOT, env=env)
    try:
        _, dev, sleeper = Lines(child).wait("up ", timeout=20).split()
        assert len(lab_namespaces("netfk", child.pid)) == 3 and link_exists(dev)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    assert link_exists(dev)                                # nobody cleaned up
    with Network("netfr", ["x"]) as net:
        assert net.host_dev != dev
        _check_gone("netfk", child.pid, dev, int(sleeper))


def test_failed_setup_leaves_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_subnet(pid: int, serial: int) -> None:
        raise NetFaultError("no free /24 (test)")

    monkeypatch.setattr(netfaults, "_pick_subnet", no_subnet)
    with pytest.raises(NetFaultError, match="test"), Network("netfh", ["a", "b"]):
        pass
    assert lab_namespaces("netfh", os.getpid()) == []


def test_command_errors_are_one_line() -> None:
    with pytest.raises(NetFaultError) as info:
        netfaults._run(["nft", "add rule ip nosuchtable input ip saddr 1.2.3 drop"])
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith("`nft add rule ip nosuchtable") and "Error" in msg

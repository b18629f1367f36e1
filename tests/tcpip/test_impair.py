"""The lab's user-space netem, ``tcpip-impair`` (``targets/tcpip/impair``), and the unix link
of ``tcpip-node`` (``--link unix:PATH``) that plugs our stack into it.  Both are the
ASan+UBSan ``debug`` builds.  Two namespaces ``a`` and ``b`` each get a TAP device ``t0``
(IPv6 off and static neighbours, so that only the pings cross the bridge); the bridge joins
them and the kernel pings across: the RTT through a 10 ms bridge is 20 ms and more (never
less), a seeded 30 % loss loses some pings but not all, the same way on every run, and the
counters it prints at exit account for every frame.  Then our stack, over the unix link,
answers pings through the bridge; and bad command lines exit 2 with one line.  The
namespaces go away with each test, failed or not (:class:`lab.netns.Netns`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab import netns
from lab.netns import Lines, Netns

IP_A, IP_B = "10.88.0.1", "10.88.0.2"
MAC_A, MAC_B, MAC_NODE = "02:00:00:00:88:01", "02:00:00:00:88:02", "02:00:00:00:88:12"
READY_TIMEOUT = 30.0


def _missing() -> str | None:
    return netns.missing(("ip", "ping"), tun=True)


needs_netns = pytest.mark.skipif(_missing() is not None, reason=str(_missing()))


@dataclass
class Exes:
    impair: Path
    node: Path
    env: dict[str, str]


@pytest.fixture(scope="module")
def exes() -> Exes:
    from lab import native
    from lab.host import get_host

    system = get_host().systems()["tcpip"]
    impair = native.build(system, "tcpip-impair", "debug").path / "tcpip-impair"
    node = native.build(system, "tcpip-node", "debug").path / "tcpip-node"
    return Exes(impair, node, {**os.environ, **native.flavors_runtime_env("debug")})


@pytest.fixture
def sockdir() -> Iterator[Path]:
    """A short directory for unix socket paths (at most 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="imp", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


# ---- the layout -------------------------------------------------------------------------


def _quiet(nets: Netns, ns: str) -> None:
    """No IPv6 on the devices made next in ``ns`` (no ND, MLD or RS frames in the counts)."""
    nets.exec(ns, "sh", "-c", "f=/proc/sys/net/ipv6/conf/default/disable_ipv6; "
              "[ ! -e $f ] || echo 1 > $f")


def _tap(nets: Netns, ns: str, mac: str, addr: str) -> None:
    _quiet(nets, ns)
    nets.ip(ns, "tuntap", "add", "dev", "t0", "mode", "tap")
    nets.ip(ns, "link", "set", "t0", "address", mac)
    nets.ip(ns, "addr", "add", f"{addr}/24", "dev", "t0")
    nets.ip(ns, "link", "set", "t0", "up")


def _pair(nets: Netns) -> tuple[str, str]:
    """Namespaces a and b with t0 each and static neighbours: no ARP crosses the bridge."""
    a, b = nets.add("a"), nets.add("b")
    _tap(nets, a, MAC_A, IP_A)
    _tap(nets, b, MAC_B, IP_B)
    nets.ip(a, "neigh", "replace", IP_B, "lladdr", MAC_B, "dev", "t0", "nud", "permanent")
    nets.ip(b, "neigh", "replace", IP_A, "lladdr", MAC_A, "dev", "t0", "nud", "permanent")
    return a, b


class Bridge:
    """A running tcpip-impair (started in ``ns``; its ports name their own namespaces)."""

    def __init__(self, nets: Netns, ns: str, exes: Exes, *args: str) -> None:
        self.proc = nets.popen(ns, [str(exes.impair), *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=exes.env)
        self.lines = Lines(self.proc)
        self.lines.wait("ready", READY_TIMEOUT)

    def stop(self) -> dict[str, dict[str, int]]:
        """SIGTERM; it must exit 0 with one JSON line per direction: {"ab": ..., "ba": ...}."""
        self.proc.terminate()
        rc = self.proc.wait(timeout=10)
        err = self.proc.stderr.read() if self.proc.stderr else ""
        assert rc == 0, f"tcpip-impair exited {rc}: {err[-2000:]}"
        assert "Sanitizer" not in err and "runtime error" not in err, err[-3000:]
        self.lines.wait("{", 5)
        out = [json.loads(ln) for ln in self.lines.lines if ln.startswith("{")]
        counters = {c.pop("dir"): c for c in out}
        assert sorted(counters) == ["ab", "ba"], self.lines.lines
        for c in counters.values():           # every frame read is accounted for
            assert c["received"] == (c["frames"] + c["dropped_loss"] + c["dropped_limit"] +
                                     c["dropped_link"] + c["dropped_oversize"] + c["queued"])
        return counters


def _ping(nets: Netns, ns: str, ip: str, count: int, interval: float) -> tuple[int, list[float]]:
    """Ping from ``ns``: (replies, the RTTs in ms)."""
    proc = subprocess.run(["ip", "netns", "exec", ns, "ping", "-n", "-c", str(count), "-i",
                           str(interval), "-W", "2", ip], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    got = re.search(r"(\d+) received", proc.stdout)
    assert got, proc.stdout
    rtts = [float(x) for x in re.findall(r"time=([\d.]+) ms", proc.stdout)]
    return int(got.group(1)), rtts


# ---- tests ------------------------------------------------------------------------------


@needs_netns
def test_ping_through_a_10ms_bridge_takes_20ms_and_more(exes: Exes) -> None:
    with Netns("imp") as nets:
        a, b = _pair(nets)
        bridge = Bridge(nets, a, exes, "--a", f"tap:{a}:t0", "--b", f"tap:{b}:t0",
                        "--delay-ms", "10")
        replies, rtts = _ping(nets, a, IP_B, 20, 0.05)
        counters = bridge.stop()
    assert replies == 20 and len(rtts) == 20
    assert min(rtts) >= 20.0, rtts                 # 10 ms each way, never less
    assert max(rtts) < 60.0, rtts
    assert counters["ab"]["frames"] == counters["ba"]["frames"] == 20, counters
    assert counters["ab"]["dropped_loss"] == counters["ba"]["dropped_loss"] == 0


def _lossy_run(nets: Netns, a: str, b: str, exes: Exes) -> tuple[int, dict]:
    bridge = Bridge(nets, a, exes, "--a", f"tap:{a}:t0", "--b", f"tap:{b}:t0",
                    "--delay-ms", "1", "--loss", "30", "--seed", "7")
    replies, _ = _ping(nets, a, IP_B, 50, 0.02)
    return replies, bridge.stop()


@needs_netns
def test_seeded_loss_loses_some_pings_and_counts_them(exes: Exes) -> None:
    with Netns("imp") as nets:
        a, b = _pair(nets)
        replies, c = _lossy_run(nets, a, b, exes)
        again, c2 = _lossy_run(nets, a, b, exes)
    assert 0 < replies < 50, replies
    ab, ba = c["ab"], c["ba"]
    assert ab["received"] == 50, c                              # the echo requests
    assert ab["frames"] + ab["dropped_loss"] == 50, c
    assert 0 < ab["dropped_loss"] < 50, c
    assert ba["received"] == ab["frames"], c                    # each one arrived is answered
    assert ba["frames"] + ba["dropped_loss"] == ba["received"], c
    assert ba["frames"] == replies, (replies, c)                # each reply forwarded arrived
    assert ab["dropped_limit"] == ba["dropped_limit"] == 0, c
    assert (again, c2) == (replies, c)                          # same seed, same losses


@needs_netns
def test_our_stack_over_the_unix_link_answers_ping_through_the_bridge(
        exes: Exes, tmp_path: Path, sockdir: Path) -> None:
    sock = sockdir / "b.sock"
    stats = tmp_path / "stats.json"
    with Netns("imp") as nets:
        a = nets.add("a")
        _tap(nets, a, MAC_A, IP_A)
        bridge = Bridge(nets, a, exes, "--a", f"tap:{a}:t0", "--b", f"unix:{sock}",
                        "--delay-ms", "10")
        node = nets.popen(a, [str(exes.node), "--link", f"unix:{sock}", "--ip",
                              f"{IP_B}/24", "--mac", MAC_NODE, "--stats", str(stats)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=exes.env)
        Lines(node).wait(f"ready ip={IP_B}", READY_TIMEOUT)
        replies, rtts = _ping(nets, a, IP_B, 10, 0.05)
        node.terminate()
        rc = node.wait(timeout=10)
        err = node.stderr.read() if node.stderr else ""
        counters = bridge.stop()
    assert rc == 0, f"tcpip-node exited {rc}: {err[-2000:]}"
    assert "Sanitizer" not in err and "runtime error" not in err, err[-3000:]
    assert replies == 10, rtts
    assert min(rtts) >= 20.0, rtts
    node_stats = json.loads(stats.read_text())
    assert node_stats["icmp.tx_echo_reply"] >= 10, node_stats
    assert node_stats["arp.tx_reply"] + node_stats["arp.tx_request"] >= 1, node_stats
    assert counters["ba"]["frames"] >= 11, counters           # the replies and ARP
    assert counters["ab"]["frames"] >= 11, counters


BAD_IMPAIR = [
    ([], "--a"),
    (["--a", "tap:x:t0"], "--b"),
    (["--a", "tap:x", "--b", "unix:/tmp/x"], "--a"),
    (["--a", "udp:1.2.3.4", "--b", "unix:/tmp/x"], "--a"),
    (["--a", "unix:/tmp/x", "--b", "tap:x:0123456789abcdef"], "--b"),
    (["--a", "unix:/tmp/x", "--b", "unix:/tmp/y", "--loss", "150"], "--loss"),
    (["--a", "unix:/tmp/x", "--b", "unix:/tmp/y", "--loss-ba", "-1"], "--loss-ba"),
    (["--a", "unix:/tmp/x", "--b", "unix:/tmp/y", "--delay-ms", "ten"], "--delay-ms"),
    (["--a", "unix:/tmp/x", "--b", "unix:/tmp/y", "--limit", "0"], "--limit"),
    (["--a", "unix:/tmp/x", "--b", "unix:/tmp/y", "--seed"], "--seed"),
    (["--a", "unix:/tmp/x", "--b", "unix:/tmp/y", "--frobnicate"], "--frobnicate"),
    (["--a", "unix:/tmp/x", "--b", "unix:/tmp/y", "extra"], "extra"),
]


@pytest.mark.parametrize(("args", "named"), BAD_IMPAIR)
def test_impair_bad_command_line_exits_2_with_one_line(exes: Exes, args: list[str],
                                                       named: str) -> None:
    proc = subprocess.run([str(exes.impair), *args], capture_output=True, text=True,
                          timeout=30, env=exes.env)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert named in lines[0] and "tcpip-impair:" in lines[0], lines[0]


def test_impair_missing_namespace_exits_1_with_one_line(exes: Exes, sockdir: Path) -> None:
    proc = subprocess.run([str(exes.impair), "--a", "tap:lab-no-such-ns:t0", "--b",
                           f"unix:{sockdir / 'x.sock'}"], capture_output=True, text=True,
                          timeout=30, env=exes.env)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1 and "lab-no-such-ns" in proc.stderr


@pytest.mark.parametrize(("args", "named"), [
    (["--ip", "10.0.0.2/24"], "--link"),
    (["--tap", "t0", "--link", "unix:/tmp/x", "--ip", "10.0.0.2/24"], "--link"),
    (["--link", "tcp:1.2.3.4:5", "--ip", "10.0.0.2/24"], "--link"),
    (["--link", "unix:", "--ip", "10.0.0.2/24"], "--link"),
])
def test_node_link_bad_command_line_exits_2_with_one_line(exes: Exes, args: list[str],
                                                          named: str) -> None:
    proc = subprocess.run([str(exes.node), *args], capture_output=True, text=True,
                          timeout=30, env=exes.env)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and named in lines[0], proc.stderr

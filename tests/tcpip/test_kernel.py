"""Conformance against the Linux kernel: our stack (``tcpip-node``, the ASan+UBSan build) on
one end of a TAP device in a namespace the test makes, the kernel on the other.  The kernel
pings us (small and fragmented), curl fetches a file from our HTTP server, our TCP client
fetches a file from a kernel-side HTTP server and posts one to it (sha256 equal both ways),
ARP resolves both ways, and our DHCP client gets a lease from dnsmasq.  Every test keeps the
node's pcap (under ``$LAB_TCPIP_PCAPS`` when set, for the seed corpora) and tshark must find
no malformed packet and no bad checksum in it.  Nothing is left in the host's network
configuration: the namespaces go away with the test, failed or not.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab import netns
from plugins.tcpip import capture
from plugins.tcpip.kernel import KERNEL_IP, KERNEL_MAC, OUR_IP, OUR_MAC, TapLab

HERE = Path(__file__).resolve().parent
TOOLS = ("ip", "ping", "curl", "tshark", "dnsmasq")
SIZE = 3 << 20


def _missing() -> str | None:
    return netns.missing(TOOLS, tun=True)


pytestmark = pytest.mark.skipif(_missing() is not None, reason=str(_missing()))


@pytest.fixture(scope="module")
def node_exe() -> Path:
    from lab import native
    from lab.host import get_host

    art = native.build(get_host().systems()["tcpip"], "tcpip-node", "debug")
    return art.path / "tcpip-node"


@pytest.fixture
def pcaps(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    """Where this test's captures go; after it, each must satisfy tshark, and they are
    copied to $LAB_TCPIP_PCAPS/<test>/ when that is set."""
    out = tmp_path / "pcaps"
    out.mkdir()
    yield out
    files = sorted(out.glob("*.pcap"))
    assert files, "the test wrote no capture"
    for pcap in files:
        assert capture.tshark_count(pcap) > 0, f"{pcap.name}: tshark reads no frame"
        problems = capture.tshark_problems(pcap)
        assert problems == [], f"{pcap.name}: tshark found problems:\n" + "\n".join(problems)
    keep = os.environ.get("LAB_TCPIP_PCAPS")
    if keep:
        dest = Path(keep) / request.node.name
        dest.mkdir(parents=True, exist_ok=True)
        for pcap in files:
            shutil.copy(pcap, dest / pcap.name)


@pytest.fixture
def tap(node_exe: Path, pcaps: Path) -> Iterator[TapLab]:
    """The namespace; it goes (its processes stopped) before ``pcaps`` checks the captures."""
    from lab import native

    with TapLab(node_exe, env={**os.environ, **native.flavors_runtime_env("debug")}) as lab:
        yield lab


def _stats(path: Path) -> dict[str, int]:
    return json.loads(path.read_text())


def _stop_clean(node, stats: Path) -> dict[str, int]:  # noqa: ANN001
    rc = node.stop()
    err = node.proc.stderr.read() if node.proc.stderr else ""
    assert rc == 0, f"tcpip-node exited {rc}: {err[-2000:]}"
    assert "Sanitizer" not in err and "runtime error" not in err, err[-3000:]
    return _stats(stats)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _payload(path: Path, size: int = SIZE) -> Path:
    path.write_bytes(os.urandom(size))
    return path


def test_kernel_pings_our_stack_small_and_fragmented(tap: TapLab, pcaps: Path,
                                                     tmp_path: Path) -> None:
    stats = tmp_path / "stats.json"
    node = tap.node("--pcap", str(pcaps / "ping.pcap"), "--stats", str(stats))
    small = tap.kernel("ping", "-c", "3", "-i", "0.2", "-W", "2", OUR_IP, timeout=30)
    assert small.returncode == 0, small.stdout + small.stderr
    assert " 0% packet loss" in small.stdout
    big = tap.kernel("ping", "-c", "2", "-i", "0.2", "-W", "2", "-s", "4000", OUR_IP,
                     timeout=30)
    assert big.returncode == 0, big.stdout + big.stderr
    assert "4008 bytes from" in big.stdout               # reassembled, answered, fragmented
    neigh = tap.kernel("ip", "neigh", "show", OUR_IP).stdout
    assert OUR_MAC in neigh.lower(), neigh                # the kernel resolved us
    counters = _stop_clean(node, stats)
    assert counters["icmp.tx_echo_reply"] >= 5
    assert counters["ip.reasm_ok"] >= 2


@pytest.mark.parametrize("offload", [True, False], ids=["offload", "plain"])
def test_curl_fetches_a_file_from_our_http_server(tap: TapLab, pcaps: Path, tmp_path: Path,
                                                  offload: bool) -> None:
    """With offloads (the default) our stack sends TCP packets of up to 64 KiB that the kernel
    cuts at the MSS; with --no-offload every frame fits the 1500-byte MTU."""
    root = tmp_path / "www"
    root.mkdir()
    src = _payload(root / "big.bin")
    stats = tmp_path / "stats.json"
    pcap = pcaps / ("http-server.pcap" if offload else "http-server-plain.pcap")
    node = tap.node("--pcap", str(pcap), "--stats", str(stats), "--http-root", str(root),
                    *(() if offload else ("--no-offload",)))
    out = tmp_path / "got.bin"
    curl = tap.kernel("curl", "-sS", "--max-time", "60", "-o", str(out), "-w", "%{http_code}",
                      f"http://{OUR_IP}/big.bin", timeout=90)
    assert curl.returncode == 0 and curl.stdout == "200", curl.stdout + curl.stderr
    assert _sha(out) == _sha(src)
    missing = tap.kernel("curl", "-sS", "--max-time", "10", "-o", "/dev/null", "-w",
                         "%{http_code}", f"http://{OUR_IP}/nope", timeout=30)
    assert missing.stdout == "404"
    head = tap.kernel("curl", "-sS", "--max-time", "10", "-I", f"http://{OUR_IP}/big.bin",
                      timeout=30)
    assert f"Content-Length: {SIZE}" in head.stdout
    counters = _stop_clean(node, stats)
    assert counters["tcp.drop_checksum"] == 0
    sizes = [int(x[0]) for x in capture.tshark_fields(pcap, "tcp.srcport == 80", "frame.len")]
    if offload:
        assert max(sizes) > 1514          # multi-MSS packets, cut by the kernel
    else:
        assert max(sizes) <= 1514


@pytest.fixture
def kernel_http(tap: TapLab, tmp_path: Path) -> Path:
    """A kernel-side HTTP server on KERNEL_IP:8080 serving (and returning) its folder."""
    from lab.netns import Lines

    root = tmp_path / "kernel-www"
    root.mkdir()
    proc = tap.kernel_bg([sys.executable, str(HERE / "kernel_http.py"), KERNEL_IP, "8080",
                          str(root)], stdout=subprocess.PIPE, text=True)
    Lines(proc).wait("listening", 20)
    return root


def test_our_client_fetches_and_posts_to_a_kernel_http_server(
        tap: TapLab, pcaps: Path, tmp_path: Path, kernel_http: Path) -> None:
    src = _payload(kernel_http / "big.bin")
    out = tmp_path / "fetched.bin"
    tap.kernel("ip", "neigh", "flush", "dev", "tap0")
    fetch = tap.node("--pcap", str(pcaps / "fetch.pcap"), "--fetch",
                     f"http://{KERNEL_IP}:8080/big.bin", "--out", str(out), ready=False)
    assert fetch.wait(120) == 0, fetch.proc.stderr.read()[-2000:]
    assert _sha(out) == _sha(src)
    arp = capture.tshark_fields(pcaps / "fetch.pcap", "arp", "arp.opcode", "eth.src")
    assert ["1", OUR_MAC] in arp and ["2", KERNEL_MAC] in arp, arp   # we resolved it

    up = _payload(tmp_path / "upload.bin", SIZE // 2)
    post = tap.node("--pcap", str(pcaps / "post.pcap"), "--post", str(up),
                    f"http://{KERNEL_IP}:8080/upload", ready=False)
    assert post.wait(120) == 0, post.proc.stderr.read()[-2000:]
    said = "\n".join(post.lines.lines)
    assert f"{SIZE // 2} {_sha(up)}" in said, said


def test_our_dhcp_client_gets_a_lease_from_dnsmasq(tap: TapLab, pcaps: Path,
                                                   tmp_path: Path) -> None:
    leases = tmp_path / "leases"
    tap.kernel_bg(["dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0",
                   "--interface=tap0", "--bind-interfaces", "--except-interface=lo",
                   "--dhcp-range=10.77.0.100,10.77.0.150,255.255.255.0,2m",
                   f"--dhcp-leasefile={leases}", f"--pid-file={tmp_path / 'dnsmasq.pid'}",
                   "--dhcp-option=3," + KERNEL_IP, "--log-dhcp"],
                  stdout=subprocess.DEVNULL,
                  stderr=subprocess.DEVNULL)
    for _ in range(50):                 # up to 5 s for dnsmasq to bind port 67
        if ":67 " in tap.kernel("ss", "-uln").stdout:
            break
        time.sleep(0.1)
    stats = tmp_path / "stats.json"
    node = tap.node("--dhcp", "--pcap", str(pcaps / "dhcp.pcap"), "--stats", str(stats),
                    timeout=60)
    first, last = (int(x) for x in ("100", "150"))
    host = int(node.ip.rsplit(".", 1)[1])
    assert node.ip.startswith("10.77.0.") and first <= host <= last, node.ip
    ping = tap.kernel("ping", "-c", "2", "-i", "0.2", "-W", "2", node.ip, timeout=30)
    assert ping.returncode == 0, ping.stdout
    assert OUR_MAC in leases.read_text().lower()
    counters = _stop_clean(node, stats)
    assert counters["dhcp.rx_ack"] >= 1
    kinds = [k[0] for k in capture.tshark_fields(pcaps / "dhcp.pcap", "dhcp",
                                                 "dhcp.option.dhcp")]
    seen = iter(kinds)          # DISCOVER, OFFER, REQUEST, ACK in this order (retries between)
    assert all(kind in seen for kind in ("1", "2", "3", "5")), kinds

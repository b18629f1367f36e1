"""lab.netns: the namespaces, links and processes of a block are gone after it, failed or not;
namespaces a dead lab process left behind are reaped; bad tags are refused."""

from __future__ import annotations

import subprocess
import time

import pytest

from lab import netns

pytestmark = pytest.mark.skipif(netns.missing(tun=True) is not None,
                                reason=str(netns.missing(tun=True)))


def _exists(name: str) -> bool:
    return (netns.NETNS_DIR / name).exists()


def test_everything_goes_away_even_when_the_block_fails() -> None:
    with pytest.raises(RuntimeError, match="boom"), netns.Netns("t1") as nets:
        a, b = nets.add("a"), nets.add("b")
        nets.veth(a, "v0", b, "v1", "10.99.0.1/24", "10.99.0.2/24")
        nets.tap(a, "tap0", "10.98.0.1/24")
        ping = nets.exec(a, "ping", "-c", "1", "-W", "2", "10.99.0.2", timeout=10)
        assert "1 received" in ping
        sleeper = nets.popen(b, ["sleep", "60"])
        names = [a, b]
        raise RuntimeError("boom")
    assert not any(_exists(n) for n in names)
    assert sleeper.poll() is not None                      # stopped with the block
    links = subprocess.run(["ip", "link"], capture_output=True, text=True).stdout
    assert "v0" not in links and "tap0" not in links     # nothing in the host's namespace


def test_sigterm_first_then_sigkill() -> None:
    with netns.Netns("t2") as nets:
        ns = nets.add("a")
        polite = nets.popen(ns, ["sleep", "60"])
        stubborn = nets.popen(ns, ["sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"])
        time.sleep(0.3)
        start = time.monotonic()
    assert polite.returncode == -15
    assert stubborn.returncode == -9 and time.monotonic() - start >= netns.TERM_GRACE - 0.5


def test_stale_namespaces_of_dead_processes_are_reaped() -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = f"lab-t3-{dead.pid}-1a"
    subprocess.run(["ip", "netns", "add", stale], check=True)
    try:
        with netns.Netns("t3") as nets:
            assert not _exists(stale)
            mine = nets.add("a")
            assert _exists(mine) and str(nets.names[0]).startswith("lab-t3-")
    finally:
        subprocess.run(["ip", "netns", "del", stale], capture_output=True)


def test_bad_tag_and_failing_commands_say_what_was_wrong() -> None:
    with pytest.raises(ValueError, match="1-12 lowercase letters or digits"):
        netns.Netns("Bad Tag")
    with netns.Netns("t4") as nets, pytest.raises(netns.NetnsError, match="failed"):
        nets.ip("lab-t4-no-such-namespace", "link")

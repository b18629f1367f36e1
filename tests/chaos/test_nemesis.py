"""The built-in nemeses on real processes (a small Python server standing in for a node), the
registry plugins extend, and the reasons a fault is skipped."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.chaos import cleanup, nemesis
from lab.chaos.nemesis import BUILTIN, FaultContext, Nemesis, registry, skip_reason

SLEEPER = """
import pathlib, sys, time
pathlib.Path(sys.argv[1]).write_text("ready")
while True:
    time.sleep(0.02)
"""


class SleeperNode:
    """A real process: started, killed, paused like a server; ``data_dir`` holds a file."""

    def __init__(self, root: Path) -> None:
        self.name = "n1"
        self.data_dir = root / "data"
        self.data_dir.mkdir(parents=True)
        self.env: dict[str, str] = {}
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        ready = self.data_dir.parent / "ready"
        ready.unlink(missing_ok=True)
        self.proc = subprocess.Popen([sys.executable, "-c", SLEEPER, str(ready)])
        self.starts += 1
        deadline = time.monotonic() + 20
        while not ready.exists():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("sleeper did not start")
            time.sleep(0.01)

    def kill(self) -> None:
        if self.alive():
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.alive():
            self.proc.terminate()
            self.proc.wait(10)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def pids(self) -> list[int]:
        return [self.proc.pid] if self.alive() else []

    def exit_status(self) -> int | None:
        return None if self.proc is None else self.proc.poll()


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Restarts record their processes for the reaper: keep those records in tmp_path."""
    monkeypatch.setenv("LAB_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def node(tmp_path: Path):
    n = SleeperNode(tmp_path)
    n.start()
    yield n
    if n.proc is not None and n.proc.poll() is None:
        n.proc.send_signal(signal.SIGCONT)
        n.proc.kill()
        n.proc.wait()


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def _nemesis(name: str) -> Nemesis:
    return registry()[name]


def _ctx(node: SleeperNode, **kw) -> FaultContext:
    return FaultContext(node=node, rng=random.Random(1), args=kw.pop("args", {}), **kw)


def test_kill_then_restart(node: SleeperNode) -> None:
    kill = _nemesis("kill")
    ctx = _ctx(node)
    old = node.pids()[0]
    effect = kill.begin(ctx)
    assert not node.alive() and f"SIGKILL {old}" in effect
    assert node.exit_status() == -signal.SIGKILL
    healed = kill.end(ctx)
    assert node.alive() and node.pids()[0] != old
    assert healed.startswith("restarted in")
    assert ctx.stats["restarts"] == 1 and ctx.stats["recovery_s"] > 0
    owner = json.loads((cleanup.owners_dir() / f"{os.getpid()}.json").read_text())
    assert node.pids()[0] in [pid for pid, _ in owner["pids"]]  # reaped if the lab dies


def test_pause_stops_and_resume_continues(node: SleeperNode) -> None:
    pause = _nemesis("pause")
    pid = node.pids()[0]
    pause.begin(_ctx(node))
    deadline = time.monotonic() + 5
    while _state(pid) != "T" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _state(pid) == "T"
    pause.end(_ctx(node))
    deadline = time.monotonic() + 5
    while _state(pid) == "T" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _state(pid) in ("S", "R")


def test_graceful_restart(node: SleeperNode) -> None:
    old = node.pids()[0]
    effect = _nemesis("restart").begin(_ctx(node))
    assert node.alive() and node.pids()[0] != old
    assert effect.startswith("stopped; restarted")


def test_bitflip_flips_exactly_the_bits_asked_for(node: SleeperNode) -> None:
    original = bytes(range(256)) * 16
    path = node.data_dir / "log.aof"
    path.write_bytes(original)
    effect = _nemesis("bitflip").begin(_ctx(node, args={"bits": 3}))
    changed = path.read_bytes()
    diff = sum(bin(a ^ b).count("1") for a, b in zip(original, changed, strict=True))
    assert 1 <= diff <= 3 and diff % 2 == 1  # three flips; two may cancel on one bit
    assert "flipped log.aof byte" in effect
    assert node.alive() and node.starts == 2


def test_a_node_that_will_not_restart_is_reported(node: SleeperNode, tmp_path) -> None:
    node.kill()

    def refuse() -> None:
        raise RuntimeError("server exited with status 1 at start: Bad file format")

    node.start = refuse
    ctx = _ctx(node)
    effect = nemesis.restart(ctx)
    assert effect.startswith("did not restart: server exited with status 1")
    assert ctx.stats["failed_restarts"] == 1


def test_faults_needing_machinery_the_case_lacks_are_skipped(node: SleeperNode) -> None:
    for name, need in (("crash", "fs"), ("fsync-fail", "fs"), ("disk-full", "disk"),
                       ("clock-jump", "clock"), ("partition", "network")):
        reason = skip_reason(_nemesis(name), _ctx(node))
        assert reason == f"{name} needs the {need} machinery, which this case lacks"
    assert skip_reason(_nemesis("kill"), _ctx(node)) is None


def test_unavailable_machinery_gives_its_reason(node: SleeperNode) -> None:
    class NoDisk:
        unavailable = "disk-full needs root to mount a small tmpfs"

    assert skip_reason(_nemesis("disk-full"), _ctx(node, disk=NoDisk())) == NoDisk.unavailable


def test_registry_takes_plugin_nemeses_and_refuses_bad_ones() -> None:
    mine = Nemesis("kill", "a plugin's own kill", lambda ctx: "boom")
    extra = Nemesis("brownout", "slow the disk", lambda ctx: "slow", needs=("disk",))
    found = registry([mine, extra])
    assert found["kill"] is mine and found["brownout"] is extra
    assert set(found) == {n.name for n in BUILTIN} | {"brownout"}
    with pytest.raises(ValueError, match="must return lab.chaos.nemesis.Nemesis objects, got"):
        registry(["kill"])
    with pytest.raises(ValueError, match=r"needs unknown machinery \['gpu'\]"):
        registry([Nemesis("x", "y", lambda ctx: "", needs=("gpu",))])


def test_every_builtin_has_a_description_and_sane_durations() -> None:
    for n in BUILTIN:
        assert n.description and 0 <= n.durations[0] <= n.durations[1] <= 5
        assert all(need in nemesis.NEEDS for need in n.needs)

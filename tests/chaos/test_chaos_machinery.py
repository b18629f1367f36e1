"""The disk (a tmpfs filled to the last byte), the clock (libfaketime driven through its file)
and the leftovers registry that removes what a killed lab process left behind."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.chaos import cleanup
from lab.chaos.machinery import Clock, Disk, faketime_library


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LAB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_disk_fills_to_enospc_and_frees(tmp_path: Path, cache: Path) -> None:
    disk = Disk(tmp_path / "disk", 8)
    if disk.unavailable:
        pytest.skip(disk.unavailable)
    try:
        assert cleanup.is_mount(disk.where)
        owner = json.loads((cleanup.owners_dir() / f"{os.getpid()}.json").read_text())
        assert str(disk.where) in owner["mounts"]
        effect = disk.fill()
        assert "MiB" in effect and "full" in effect
        with pytest.raises(OSError) as info, open(disk.where / "more", "wb") as f:
            f.write(b"x" * 65536)
            f.flush()
            os.fsync(f.fileno())
        assert info.value.errno == errno.ENOSPC
        assert "freed" in disk.release()
        (disk.where / "more").write_bytes(b"x" * 65536)
    finally:
        disk.close()
    assert not cleanup.is_mount(disk.where)
    assert not (cleanup.owners_dir() / f"{os.getpid()}.json").exists()
    disk.close()  # twice is fine


def test_clock_jumps_and_returns(tmp_path: Path) -> None:
    clock = Clock(tmp_path / "stamp")
    if clock.unavailable:
        pytest.skip(clock.unavailable)
    code = ("import time, sys\n"
            "for line in sys.stdin:\n"
            "    print(time.time(), time.monotonic(), flush=True)\n")
    env = clock.env(dict(os.environ))
    assert env["LD_PRELOAD"].endswith(str(faketime_library()))
    with subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True, env=env) as child:
        def ask() -> tuple[float, float]:
            child.stdin.write("\n")
            child.stdin.flush()
            wall, mono = child.stdout.readline().split()
            return float(wall) - time.time(), float(mono) - time.monotonic()

        try:
            before, _ = ask()
            assert abs(before) < 5
            assert clock.set(offset=3600) == "clock +3600.000s"
            jumped, mono = ask()
            assert 3590 < jumped < 3610
            assert abs(mono) < 5  # the monotonic clock is left alone
            assert clock.set() == "clock back to real time"
            back, _ = ask()
            assert abs(back) < 5
        finally:
            child.stdin.close()
            child.wait(10)


def _orphan(cache: Path, code: str) -> dict:
    """Run ``code`` in a lab process that records what it made and exits without cleaning;
    return what it printed (JSON)."""
    env = dict(os.environ, LAB_CACHE=str(cache))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=60, check=True)
    return json.loads(out.stdout)


def test_reap_kills_processes_of_dead_lab_processes(cache: Path) -> None:
    made = _orphan(cache, (
        "import json, subprocess, sys\n"
        "from lab.chaos import cleanup\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'],\n"
        "                     start_new_session=True, stdout=subprocess.DEVNULL,\n"
        "                     stderr=subprocess.DEVNULL)\n"
        "cleanup.track_pid(p.pid)\n"
        "print(json.dumps({'pid': p.pid}))\n"))
    pid = made["pid"]
    assert cleanup.start_time(pid) is not None
    lines = cleanup.reap()
    assert any(f"killed process {pid}" in line for line in lines)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        state = cleanup.start_time(pid)
        if state is None or Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] == "Z":
            break
        time.sleep(0.02)
    assert not list(cleanup.owners_dir().glob("*.json"))


def test_reap_spares_a_recycled_pid(cache: Path) -> None:
    owners = cleanup.owners_dir()
    me = os.getpid()
    wrong_start = (cleanup.start_time(me) or 0) + 12345
    (owners / "999999999.json").write_text(json.dumps({"pids": [[me, wrong_start]],
                                                       "mounts": []}))
    assert cleanup.reap() == []
    assert not (owners / "999999999.json").exists()


def test_reap_unmounts_a_dead_process_tmpfs(tmp_path: Path, cache: Path) -> None:
    where = tmp_path / "left"
    made = _orphan(cache, (
        "import json, pathlib\n"
        "from lab.chaos.machinery import Disk\n"
        f"d = Disk(pathlib.Path({str(where)!r}), 4)\n"
        "print(json.dumps({'unavailable': d.unavailable}))\n"))
    if made["unavailable"]:
        pytest.skip(made["unavailable"])
    assert cleanup.is_mount(where)
    lines = cleanup.reap()
    assert f"unmounted {where}" in " ".join(lines)
    assert not cleanup.is_mount(where)

"""What a chaos run leaves on the machine, recorded so that it is removed however the run ends.

Every process and mount a chaos case creates is written to an owner file,
``cache_dir()/chaos/owners/<lab pid>.json``, as it is created, and taken out when it is
removed. A run that ends normally, by an exception or by Ctrl-C removes everything itself
(the runner's ``finally`` blocks). A lab process killed outright (SIGKILL, OOM) cannot; the
next chaos run calls :func:`reap`, which finds owner files of lab processes that are gone and
kills their processes (checking each one's start time, so a recycled pid is never hit) and
unmounts their mounts. Network namespaces are reaped the same way by :mod:`lab.netns`.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

from lab.paths import cache_dir

_lock = threading.Lock()


def owners_dir() -> Path:
    path = cache_dir() / "chaos" / "owners"
    path.mkdir(parents=True, exist_ok=True)
    return path


def start_time(pid: int) -> int | None:
    """The process' start time in clock ticks since boot (field 22 of /proc/PID/stat), or
    None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[19])


def _path(owner: int) -> Path:
    return owners_dir() / f"{owner}.json"


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {"pids": [], "mounts": []}
    return {"pids": list(data.get("pids", [])), "mounts": list(data.get("mounts", []))}


def _save(path: Path, data: dict[str, Any]) -> None:
    if not data["pids"] and not data["mounts"]:
        path.unlink(missing_ok=True)
        return
    tmp = path.with_suffix(f".tmp{threading.get_ident()}")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


def _update(kind: str, item: Any, add: bool) -> None:
    with _lock:
        path = _path(os.getpid())
        data = _load(path)
        if add and item not in data[kind]:
            data[kind].append(item)
        elif not add and item in data[kind]:
            data[kind].remove(item)
        _save(path, data)


def track_pid(pid: int) -> None:
    """Record a process this lab process started (with its start time)."""
    _update("pids", [pid, start_time(pid)], True)


def untrack_pid(pid: int) -> None:
    with _lock:
        path = _path(os.getpid())
        data = _load(path)
        data["pids"] = [p for p in data["pids"] if p[0] != pid]
        _save(path, data)


_TRACKED: set[tuple[int, int | None]] = set()
"""Processes (pid, start time) this lab process recorded through :func:`track_node`."""


def track_node(node: Any) -> None:
    """Record the node's current processes (each once), so that they are reaped if the lab
    process dies."""
    for pid in node.pids():
        key = (pid, start_time(pid))
        if key not in _TRACKED:
            track_pid(pid)
            _TRACKED.add(key)


def start_tracked(node: Any, poll: float = 0.005) -> None:
    """``node.start()``, recording its processes while it starts (a start can take seconds
    while the server loads its log: a lab killed meanwhile must not leave it behind).
    Exceptions of ``start`` propagate."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            node.start()
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
            failure.append(e)

    starter = threading.Thread(target=run, name="chaos-start", daemon=True)
    starter.start()
    while starter.is_alive():
        track_node(node)
        starter.join(poll)
    track_node(node)
    if failure:
        raise failure[0]


def forget_stopped() -> None:
    """Drop the records of tracked processes that have ended."""
    for key in [k for k in _TRACKED if start_time(k[0]) != k[1] or _zombie(k[0])]:
        untrack_pid(key[0])
        _TRACKED.discard(key)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def track_mount(where: Path) -> None:
    _update("mounts", str(where), True)


def untrack_mount(where: Path) -> None:
    _update("mounts", str(where), False)


def unmount(where: str | Path) -> bool:
    """Unmount ``where`` (lazily when busy); True when it is no longer a mount point."""
    for argv in (["umount", str(where)], ["umount", "-l", str(where)]):
        subprocess.run(argv, capture_output=True, timeout=20)
        if not is_mount(where):
            return True
    return False


def _unescape(field: str) -> str:
    """A /proc/mounts field with its octal escapes (``\\040`` for a space) decoded."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def is_mount(where: str | Path) -> bool:
    target = os.path.realpath(where)
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return False
    return any(_unescape(line.split()[1]) == target for line in mounts if len(line.split()) > 1)


def _alive(pid: int) -> bool:
    return start_time(pid) is not None


def reap() -> list[str]:
    """Remove what dead lab processes left behind; one line per thing removed."""
    done: list[str] = []
    for path in sorted(owners_dir().glob("*.json")):
        try:
            owner = int(path.stem)
        except ValueError:
            continue
        if owner == os.getpid() or _alive(owner):
            continue
        data = _load(path)
        for pid, started in data["pids"]:
            if started is not None and start_time(pid) == started:
                try:
                    os.kill(pid, signal.SIGCONT)
                    os.kill(pid, signal.SIGKILL)
                    done.append(f"killed process {pid} left by lab process {owner}")
                except ProcessLookupError:
                    pass
        stuck = []
        for where in data["mounts"]:
            if not is_mount(where):
                continue
            if unmount(where):
                done.append(f"unmounted {where} left by lab process {owner}")
            else:
                stuck.append(where)
        _save(path, {"pids": [], "mounts": stuck})  # a mount that would not go is kept
    done += _reap_networks()
    return done


def _reap_networks() -> list[str]:
    """Namespaces and host links of dead lab processes (see :mod:`lab.chaos.netfaults`)."""
    try:
        from lab.chaos import netfaults

        if netfaults.missing() is not None:
            return []
        removed = netfaults.reap_stale()
    except Exception as e:  # noqa: BLE001 - reaping is best effort; say why it failed
        return [f"could not reap network namespaces: {e}"]
    return [f"removed {item} left by a dead lab process" for item in removed or []]

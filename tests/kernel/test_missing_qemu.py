"""Without QEMU the kernel's rows are skipped with the command that installs it."""

from __future__ import annotations

import os
from pathlib import Path


def _path_without_qemu(tmp_path: Path) -> str:
    """A PATH with every program of the current one except qemu-system-*."""
    farm = tmp_path / "bin"
    farm.mkdir()
    for folder in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(folder):
            continue
        for entry in os.scandir(folder):
            target = farm / entry.name
            if entry.name.startswith("qemu-system") or target.exists():
                continue
            target.symlink_to(entry.path)
    return str(farm)


def test_rows_are_skipped_with_the_install_command(run_lab, tmp_path: Path) -> None:  # noqa: ANN001
    res = run_lab("bench", "kernel", "--quick", "--reps", "1", "-w", "syscall", "--json",
                  env={"PATH": _path_without_qemu(tmp_path)}, timeout=300)
    assert res.code == 0, res.err
    rows = res.json()["results"]
    assert rows and all(r["status"] == "skipped" for r in rows)
    assert all("apt-get install -y qemu-system-x86" in (r["note"] or "") for r in rows), rows

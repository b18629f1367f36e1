"""The Linux reference of the kernel system: kbench builds clean, the initramfs holds what
/init needs, and Debian's kernel boots with it under QEMU (lab.qemu) and prints sane figures.

Three boots, shared by the tests (about 15 s on a 2-core host): the bzImage under plain TCG
(with a VGA screenshot), and the PVH vmlinux twice under ``-icount shift=0``, whose figures
must be identical.
"""

from __future__ import annotations

import gzip
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from lab.native.image_builder import ImageContext
from lab.qemu import QemuConfig, QemuResult, QemuSession, boot
from plugins.kernel import ktest, linux_ref

ROOT = Path(__file__).resolve().parents[2]
TARGETS = ROOT / "targets" / "kernel"
LOOPS = ("syscall", "ctxswitch", "pagefault", "spawn")
ITERS = 200


def _kernel_or_skip() -> Path:
    try:
        return linux_ref.linux_kernel()
    except linux_ref.LinuxMissingError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[ImageContext, dict[str, Any]]:
    if shutil.which("busybox") is None:
        pytest.skip(f"busybox not installed ({linux_ref.INSTALL_BUSYBOX})")
    out = tmp_path_factory.mktemp("linux-initramfs")
    ctx = ImageContext(system="kernel", targets=TARGETS, out=out, flavor="release",
                       arch="x86_64", cc="gcc", cflags=(), ld="ld", ldflags=())
    return ctx, linux_ref.build_linux(ctx)


def _boot(kernel: Path, initrd: Path, icount: bool, shot: Path | None = None) -> QemuResult:
    def screenshot(session: QemuSession, line: str) -> None:
        if shot is not None:
            session.screendump(shot)
        session.write_serial(b"\n")

    if shutil.which("qemu-system-x86_64") is None:
        pytest.skip("qemu-system-x86_64 not installed (apt-get install qemu-system-x86)")
    append = linux_ref.linux_append("bench", ",".join(LOOPS), ITERS)
    return boot(QemuConfig(kernel=kernel, initrd=initrd, append=append,
                           icount_shift=0 if icount else None, timeout=90),
                actions={"LAB SCREENSHOT": screenshot})


@pytest.fixture(scope="module")
def boots(built: tuple[ImageContext, dict[str, Any]],
          tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    ctx, _ = built
    bzimage = _kernel_or_skip()
    initrd = ctx.out / "initramfs.cpio.gz"
    shot = tmp_path_factory.mktemp("linux-shot") / "vga.png"
    pvh = linux_ref.linux_boot_kernel(ctx.out)
    return {"tcg": _boot(bzimage, initrd, icount=False, shot=shot), "shot": shot,
            "icount": [_boot(pvh, initrd, icount=True) for _ in range(2)], "pvh": pvh}


def test_kbench_and_true_build_without_warnings(built: tuple[ImageContext, dict]) -> None:
    ctx, facts = built
    assert ctx.warnings == []
    log = (ctx.out / "build.log").read_text()
    assert "-Wall" in log and "-Wextra" in log and "warning" not in log
    for name in ("kbench", "true"):
        path = ctx.out / name
        assert facts[name] == name and path.stat().st_mode & 0o111
        assert linux_ref._is_static_elf(path), f"{name} is not a static x86-64 executable"
    # On the host kbench runs too (noexit=1 returns instead of ending the machine).
    proc = subprocess.run([ctx.out / "kbench", "noexit=1", "bench=syscall,pagefault",
                           "iters=50"], capture_output=True, text=True, timeout=30)
    report = ktest.parse(proc.stdout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert report.ready_tsc and report.bench_done and not report.malformed
    assert report.bench["pagefault"]["faults"] == "50"
    assert subprocess.run([ctx.out / "true"], timeout=10).returncode == 0


def test_initramfs_holds_init_kbench_true_and_busybox(built: tuple[ImageContext, dict]) -> None:
    ctx, facts = built
    entries = {e.name: e for e in linux_ref.read_cpio((ctx.out / "initramfs.cpio.gz")
                                                       .read_bytes())}
    assert facts["members"] == list(entries)
    for name in ("init", "kbench", "bin/true", "bin/busybox"):
        assert stat.S_ISREG(entries[name].mode) and entries[name].mode & 0o111, name
    assert entries["kbench"].data == (ctx.out / "kbench").read_bytes()
    assert entries["init"].data.startswith(b"#!/bin/sh\n")
    assert b"LAB PANIC" in entries["init"].data and b"/kbench" in entries["init"].data
    assert entries["bin/sh"].data == b"busybox" and stat.S_ISLNK(entries["bin/sh"].mode)
    console = entries["dev/console"]
    assert stat.S_ISCHR(console.mode) and console.rdev == (5, 1)
    for folder in ("proc", "sys", "dev", "bin"):
        assert stat.S_ISDIR(entries[folder].mode)
    # busybox's own cpio reads the archive the same way.
    listing = subprocess.run(["busybox", "cpio", "-t"], capture_output=True, timeout=30,
                             input=gzip.decompress((ctx.out / "initramfs.cpio.gz").read_bytes()))
    assert listing.stdout.decode().split() == list(entries)
    # Same inputs, same bytes (mtimes 0, root-owned).
    again = linux_ref.write_cpio(linux_ref.initramfs_entries(
        entries["kbench"].data, entries["bin/true"].data, entries["bin/busybox"].data))
    assert linux_ref.read_cpio(again) == list(entries.values())


def test_cpio_reader_round_trips_and_rejects_garbage() -> None:
    entries = [linux_ref.CpioEntry("a", stat.S_IFREG | 0o644, b"xyz"),
               linux_ref.CpioEntry("d", stat.S_IFDIR | 0o755)]
    assert linux_ref.read_cpio(linux_ref.write_cpio(entries)) == entries
    with pytest.raises(ValueError):
        linux_ref.read_cpio(b"garbage")


def test_append_and_kernel_lookup(tmp_path: Path) -> None:
    append = linux_ref.linux_append("bench", "syscall,spawn", 10)
    assert append.split()[0] == "console=ttyS0" and "panic=-1" in append
    assert append.endswith("lab.mode=bench lab.bench=syscall,spawn lab.iters=10")
    assert linux_ref.linux_append("boot").endswith("lab.mode=boot")
    with pytest.raises(ValueError):
        linux_ref.linux_append("test")
    with pytest.raises(ValueError):
        linux_ref.linux_append("bench", "syscall spawn")
    with pytest.raises(linux_ref.LinuxMissingError, match="apt-get install linux-image-amd64"):
        linux_ref.linux_kernel(tmp_path)
    for version in ("6.1.0-9-amd64", "6.1.0-56-amd64", "5.10.0-30-amd64"):
        (tmp_path / f"vmlinuz-{version}").write_bytes(b"")
    assert linux_ref.linux_kernel(tmp_path).name == "vmlinuz-6.1.0-56-amd64"


def _figures(result: QemuResult) -> dict[str, dict[str, str]]:
    tail = "\n".join(result.serial.splitlines()[-20:])
    report = ktest.parse(result.serial)
    assert report.panic is None, tail
    assert (result.outcome, result.exit_value) == ("exit", 0), f"{result.error}\n{tail}"
    assert report.ready_tsc is not None and report.bench_done and not report.malformed, tail
    assert result.ready_s is not None and result.ready_s < result.wall_s
    assert set(report.bench) == set(LOOPS), tail
    return report.bench


def test_linux_boots_and_runs_every_workload(boots: dict[str, Any]) -> None:
    from PIL import Image

    bench = _figures(boots["tcg"])
    for name in LOOPS:
        rec = bench[name]
        n = int(rec["iters"])
        assert n == (2 * ITERS if name == "ctxswitch" else ITERS)
        tsc, ns = int(rec["tsc"]) / n, int(rec["ns"]) / n
        # Per operation, under TCG on any host: more than a few cycles, less than 0.1 s.
        assert 10 < tsc < 1e9 and 5 < ns < 1e8, (name, rec)
    assert bench["pagefault"]["faults"] == str(ITERS)
    assert bench["ctxswitch"]["method"] in ("yield", "pipe")
    # Each spawn (fork, exec, exit, wait) costs more than a getpid.
    assert int(bench["spawn"]["tsc"]) > 10 * int(bench["syscall"]["tsc"])
    with Image.open(boots["shot"]) as img:  # the records on the VGA text console
        assert len(img.convert("L").getcolors(1 << 16)) > 1


def test_linux_under_icount_is_deterministic(boots: dict[str, Any]) -> None:
    first, second = (_figures(r) for r in boots["icount"])
    assert first == second
    readies = [ktest.parse(r.serial).ready_tsc for r in boots["icount"]]
    assert readies[0] == readies[1]
    # shift=0: the TSC and CLOCK_MONOTONIC both count guest instructions (1 ns each).
    syscall = first["syscall"]
    assert abs(int(syscall["tsc"]) - int(syscall["ns"])) < int(syscall["tsc"]) // 10

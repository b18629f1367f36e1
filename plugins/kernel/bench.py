"""What ``lab bench kernel`` measures, the same way on both kernels.

Each measurement boots the kernel under QEMU (:mod:`lab.qemu`) with the workload on its
command line and reads the ``KBENCH`` / ``LAB READY`` records from the serial console
(:mod:`plugins.kernel.ktest`). Our kernel runs ``/bin/kbench`` from its LABFS disk; Linux
(Debian's ``linux-image-amd64``) runs ``kbench`` from an initramfs the lab builds with
``busybox-static`` (:mod:`plugins.kernel.linux_ref`). Both programs time the same loops with
``rdtsc`` from user mode:

- ``syscall``: ``getpid`` round trips; ``ctxswitch``: two processes yielding to each other
  (the figure is per switch); ``pagefault``: first touches of lazily mapped pages; ``spawn``:
  start ``/bin/true`` and wait for it;
- ``boot``: from QEMU's start to ``LAB READY``.

Every loop is measured twice per repetition: under ``-icount shift=0,sleep=off``, where the
guest's TSC advances one tick per guest instruction, so ``insns`` is a deterministic count
of guest instructions per operation; and with plain TCG, where ``guest_ns`` is guest time
per operation from the guest's own clock. ``accel=kvm`` runs under KVM instead (only when
asked for and ``/dev/kvm`` is usable; no instruction counts there).

The first boot of each workload leaves a VGA screenshot (QMP ``screendump``; our kernel
draws its benchmark table there) and each workload's last serial log in
``$LAB_RUN_DIR/attachments`` for the report.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.qemu import QemuConfig, QemuResult, QemuSession, boot
from plugins.kernel import ktest

LOOPS = ("syscall", "ctxswitch", "pagefault", "spawn")
BOOT_TIMEOUT = 120.0
ICOUNT = "icount"


class GuestError(RuntimeError):
    """A boot that did not give its figures (panic, timeout, reset, missing record)."""


@dataclass(frozen=True)
class Kernel:
    """How to boot one kernel: its files and how its command line asks for work."""

    name: str
    kernel: Path
    append: Callable[[str, int], str]
    initrd: Path | None = None
    disks: tuple[Path, ...] = ()
    memory_mb: int = 128
    screenshot: bool = True


def _attachments() -> Path | None:
    run_dir = os.environ.get("LAB_RUN_DIR")
    if not run_dir:
        return None
    out = Path(run_dir) / "attachments"
    out.mkdir(parents=True, exist_ok=True)
    return out


class Guest:
    """One kernel under comparison; ``measure(workload, params)`` boots it once per mode."""

    def __init__(self, kernel: Kernel, timeout: float = BOOT_TIMEOUT) -> None:
        self.kernel = kernel
        self.timeout = timeout
        self.attachments = _attachments()
        self._screens: set[str] = set()

    def _actions(self, workload: str) -> dict[str, Callable[[QemuSession, str], None]]:
        def screenshot(session: QemuSession, line: str) -> None:
            if (self.attachments is not None and self.kernel.screenshot
                    and workload not in self._screens):
                session.screendump(self.attachments / f"{self.kernel.name}-{workload}-vga.png")
                self._screens.add(workload)
            session.write_serial(b"\n")

        return {"LAB SCREENSHOT": screenshot}

    def boot(self, workload: str, iters: int, mode: str) -> tuple[QemuResult,
                                                                   ktest.SerialReport]:
        """Boot with ``workload`` (``""`` for a boot only) in ``mode`` (``icount``, ``tcg`` or
        ``kvm``); the result and its parsed records, or :class:`GuestError`."""
        k = self.kernel
        config = QemuConfig(kernel=k.kernel, append=k.append(workload, iters), initrd=k.initrd,
                            disks=k.disks, memory_mb=k.memory_mb,
                            icount_shift=0 if mode == ICOUNT else None, kvm=mode == "kvm",
                            timeout=self.timeout)
        log = (self.attachments / f"{k.name}-{workload or 'boot'}-serial.log"
               if self.attachments is not None else None)
        result = boot(config, actions=self._actions(workload or "boot"), serial_log=log)
        report = ktest.parse(result.serial)
        where = f"{k.name} ({mode}, {workload or 'boot'})"
        if report.panic:
            raise GuestError(f"{where}: kernel panic: {report.panic}")
        if result.outcome != "exit" or result.exit_value != 0:
            tail = " | ".join(result.serial.splitlines()[-5:])
            raise GuestError(f"{where}: boot ended with {result.outcome} "
                             f"(exit value {result.exit_value}) {result.error}; serial: {tail}")
        if report.ready_tsc is None:
            raise GuestError(f"{where}: no 'LAB READY' line on the serial console")
        if workload and workload not in report.bench:
            raise GuestError(f"{where}: no KBENCH record for {workload!r}")
        return result, report

    def measure(self, workload: str, params: Mapping[str, Any]) -> dict[str, float]:
        """The workload's figures, per operation (``insns``, ``guest_ns``) or for the boot
        (``ready_ms``, ``ready_insns``)."""
        accel = params.get("accel", "tcg")
        modes = ("kvm",) if accel == "kvm" else (ICOUNT, "tcg")
        out: dict[str, float] = {}
        for mode in modes:
            if workload == "boot":
                result, report = self.boot("", 0, mode)
                if mode == ICOUNT:
                    out["ready_insns"] = float(report.ready_tsc or 0)
                else:
                    out["ready_ms"] = 1000.0 * (result.ready_s or result.wall_s)
                continue
            result, report = self.boot(workload, int(params["iters"]), mode)
            rec = report.bench[workload]
            ops = max(1, int(rec["iters"]))
            if mode == ICOUNT:
                out["insns"] = int(rec["tsc"]) / ops
            else:
                out["guest_ns"] = int(rec["ns"]) / ops
        return out

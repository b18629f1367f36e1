"""The kernel system: a bare-metal i386 kernel (``targets/kernel``) built by the lab with the
host's gcc and binutils and booted under ``qemu-system-x86_64``, against Debian's Linux
kernel booted by the same QEMU.

Recipes: ``kernel-image`` (the kernel ELF, its user programs and the LABFS disk holding them:
:mod:`plugins.kernel.build`), ``linux-initramfs`` (busybox-static and the Linux-side
benchmark program ``targets/kernel/linux``: :mod:`plugins.kernel.linux_ref`) and
``kernel-host`` (the kernel's hardware-free subsystems through cffi, for tests and fuzzing:
frames, heap, run queues, ELF checks, LABFS, user-pointer checks).

Implementations: ``kernel`` (ours) and ``linux`` (the baseline). Workloads (:mod:`
plugins.kernel.bench`): ``boot``, ``syscall``, ``ctxswitch``, ``pagefault``, ``spawn``, in
guest instructions under ``-icount`` and in guest time. The in-guest test suite runs with
``mode=test`` and reports ``KTEST`` lines (:mod:`plugins.kernel.ktest`); ``make test``
collects each one as a test. Fuzz targets: the host-built subsystems
(:mod:`plugins.kernel.fuzzing`) and ``syscalls``, random system call programs run by
``/bin/sysfuzz`` in a booted kernel (:mod:`plugins.kernel.sysfuzz`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import lab
from plugins.kernel import sysfuzz
from plugins.kernel.fuzzing import FUZZ_TARGETS

IMAGE = "kernel-image"
LINUX = "linux-initramfs"
HOST = "kernel-host"
QEMU = lab.Command("qemu-system-x86_64", apt="qemu-system-x86")


def _build_ours(ctx: Any) -> Mapping[str, Any]:
    from plugins.kernel.build import build_ours

    return build_ours(ctx)


def _build_linux(ctx: Any) -> Mapping[str, Any]:
    from plugins.kernel.linux_ref import build_linux

    return build_linux(ctx)


def ours_append(workload: str, iters: int) -> str:
    """Our kernel's command line for a benchmark boot (a plain boot when no workload)."""
    return f"mode=bench bench={workload} iters={iters}" if workload else "mode=exec prog=/bin/true"


def _load_ours(ctx: lab.LoadContext) -> Any:
    from plugins.kernel.bench import Guest, Kernel

    art = ctx.build(IMAGE)
    return Guest(Kernel("kernel", art / "kernel.elf", ours_append, disks=(art / "disk.img",)))


def _load_linux(ctx: lab.LoadContext) -> Any:
    from plugins.kernel import linux_ref
    from plugins.kernel.bench import Guest, Kernel

    art = ctx.build(LINUX)

    def append(workload: str, iters: int) -> str:
        return linux_ref.linux_append("bench", workload, iters)

    # The PVH entry of the decompressed kernel: the same kernel without its XZ decompressor
    # (most of a TCG boot), as QEMU loads ours; it has no VGA console, so no screenshot.
    return Guest(Kernel("linux", linux_ref.linux_boot_kernel(art), append,
                        initrd=art / "initramfs.cpio.gz", screenshot=False))


def kvm_usable() -> bool:
    """Whether ``/dev/kvm`` exists and this process may open it."""
    return os.access("/dev/kvm", os.R_OK | os.W_OK)


def _supports(impl: str, params: Mapping[str, Any]) -> str | None:
    if params.get("accel") == "kvm" and not kvm_usable():
        return "accel=kvm needs a usable /dev/kvm (this machine has none); use accel=tcg"
    return None


def _measure(workload: str):  # noqa: ANN202
    def measure(guest: Any, state: Any, params: Mapping[str, Any]) -> dict[str, float]:
        return guest.measure(workload, params)
    return measure


ACCEL = ("tcg", "kvm")
PER_OP = (lab.Metric("insns", "insn/op", "lower"), lab.Metric("guest_ns", "ns/op", "lower"))


def _loop(name: str, description: str, iters: tuple[int, ...], default: int,
          quick: int) -> lab.Workload:
    return lab.Workload(
        name=name, description=f"{description} (insns: guest instructions per operation "
        "under -icount, deterministic; guest_ns: the guest's clock under plain TCG)",
        params={"iters": iters, "accel": ACCEL},
        prepare=dict, measure=_measure(name), measured=PER_OP,
        default={"iters": (default,), "accel": ("tcg",)},
        quick={"iters": (quick,), "accel": ("tcg",)}, supports=_supports,
        measure_every_rep=True, in_process=False)


BOOT = lab.Workload(
    name="boot", description="from QEMU's start to the kernel's 'LAB READY' (the first "
    "program about to run): host ms under plain TCG, and guest instructions since reset "
    "(firmware included) under -icount",
    params={"accel": ACCEL}, prepare=dict, measure=_measure("boot"),
    measured=(lab.Metric("ready_ms", "ms", "lower"), lab.Metric("ready_insns", "insn", "lower")),
    default={"accel": ("tcg",)}, quick={"accel": ("tcg",)}, supports=_supports,
    measure_every_rep=True, in_process=False)

WORKLOADS = (
    BOOT,
    _loop("syscall", "getpid round trip from user mode, `iters` times",
          (1000, 10000, 100000), 10000, 1000),
    _loop("ctxswitch", "two processes yielding to each other: cost per switch",
          (1000, 10000, 100000), 10000, 1000),
    _loop("pagefault", "first touch of `iters` lazily mapped pages: cost per fault",
          (200, 1000, 10000), 1000, 200),
    _loop("spawn", "start /bin/true and wait for it, `iters` times: cost per process",
          (20, 100, 1000), 100, 20),
)

SYSTEM = lab.System(
    name="kernel", shape="image",
    description="bare-metal i386 kernel under QEMU vs Debian's Linux in the same QEMU",
    impls=(
        lab.Impl("kernel", "ours: multiboot i386 kernel with user mode and LABFS "
                 "(targets/kernel)", load=_load_ours, recipes=(IMAGE,)),
        lab.Impl("linux", "Debian's linux-image-amd64 with a busybox-static initramfs, in the "
                 "same QEMU", load=_load_linux, recipes=(LINUX,),
                 requires=(lab.AptPackage("linux-image-amd64"),
                           lab.Command("busybox", apt="busybox-static"))),
    ),
    workloads=WORKLOADS,
    baseline="linux",
    recipes=(
        lab.Image(IMAGE, build=_build_ours, sources=("**/*.c", "**/*.h", "**/*.S", "*.ld"),
                  arch="i386"),
        lab.Image(LINUX, build=_build_linux, sources=("linux/*",),
                  inputs=("/boot/vmlinuz-*",), tools=("busybox",)),
        lab.CffiLib(HOST, sources=("mm/frame.c", "mm/heap.c", "proc/runq.c", "proc/elf.c",
                                   "fs/labfs.c", "sys/uaccess.c", "host/*.c"),
                    header="host/khost.h", cflags=("-DKERNEL_HOST",)),
    ),
    requires=(lab.Command("gcc"), lab.Command("ld", apt="binutils"), QEMU),
    offers=("bench", "fuzz"),
    fuzz_targets=(*FUZZ_TARGETS, sysfuzz.TARGET),
)


@lab.hookimpl
def lab_register_systems() -> list[lab.System]:
    return [SYSTEM]

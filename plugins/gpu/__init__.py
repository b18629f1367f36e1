"""The gpu system: a compute driver layer over OpenCL (PyOpenCL) with reduction, prefix scan,
histogram, transpose and tiled SGEMM kernels, the same operations in AVX2 C on the CPU, and
the references a user would otherwise pick: NumPy, PyOpenCL's own kernels and CLBlast.

Table of contents: the OpenCL driver (``plugins/gpu/cl``, kernels in ``targets/gpu/cl``), the
AVX2 core (one cffi recipe, ``targets/gpu/avx2``, wrapped by ``avx2.py``), the references
(``references.py``), the workloads (``workloads.py``: copy, reduce, scan, histogram,
transpose, gemm), the contract they all keep (``api.py``) and the fuzz targets
(``fuzzing.py``). The OpenCL device is the one ``$LAB_GPU_DEVICE`` names (``pocl``,
``nvidia``, ``gpu``, ``cpu``...), else the first GPU, else any device; every OpenCL
implementation runs on that same device, and every memory-bound figure is also shown as a
fraction of the same implementation's copy on it. Without an OpenCL platform the OpenCL rows
are skipped with the install command.
"""

from __future__ import annotations

import os
from typing import Any

import lab
from plugins.gpu.api import GpuError
from plugins.gpu.fuzztargets import FUZZ_TARGETS
from plugins.gpu.requirements import CpuFeatures, OpenCLDevice
from plugins.gpu.workloads import WORKLOADS

DEVICE = "OpenCL device"
OPENCL = (lab.PythonModule("pyopencl", pip="pyopencl"),
          OpenCLDevice("OpenCL device", apt="pocl-opencl-icd"))


def device() -> Any:
    """The OpenCL device every OpenCL implementation of a run uses."""
    from plugins.gpu.cl import select_device

    return select_device()


def _ours_opencl(ctx: lab.LoadContext) -> Any:
    from plugins.gpu.cl import Driver

    return Driver()


def threads() -> int:
    """The AVX2 core's thread count: ``$LAB_THREADS`` (the instruction channel sets 1, so
    its counts do not depend on how the workers were scheduled), else 0 (every online CPU).
    Raises ``GpuError`` in one line for a value that is not a count."""
    raw = os.environ.get("LAB_THREADS", "").strip() or "0"
    try:
        return int(raw)
    except ValueError:
        raise GpuError(f"LAB_THREADS must be a thread count (0: every online CPU), "
                       f"got {raw!r}") from None


def _ours_avx2(ctx: lab.LoadContext) -> Any:
    from plugins.gpu.avx2 import Avx2

    module = ctx.build("avx2")
    return Avx2(module.ffi, module.lib, threads=threads())


def _numpy(ctx: lab.LoadContext) -> Any:
    from plugins.gpu.references import Numpy

    return Numpy()


def _pyopencl(ctx: lab.LoadContext) -> Any:
    from plugins.gpu.references import PyOpenCL

    return PyOpenCL(device())


def _clblast(ctx: lab.LoadContext) -> Any:
    from plugins.gpu.references import CLBlast

    return CLBlast(device())


def _version(module: str) -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version(module)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


IMPLS = (
    lab.Impl("opencl", "this project's OpenCL driver and kernels (plugins/gpu/cl, "
             "targets/gpu/cl) through PyOpenCL", load=_ours_opencl, requires=OPENCL,
             version=lambda: _version("pyopencl"), device=DEVICE),
    lab.Impl("avx2", "this project's AVX2+FMA C kernels (targets/gpu/avx2), all cores",
             load=_ours_avx2, recipes=("avx2",), requires=(CpuFeatures("avx2 fma"),)),
    lab.Impl("numpy", "NumPy (its BLAS for GEMM) on the CPU", load=_numpy,
             version=lambda: _version("numpy")),
    lab.Impl("pyopencl", "PyOpenCL's ReductionKernel and scan kernels on the same device",
             load=_pyopencl,
             requires=(*OPENCL, lab.PythonModule("mako", pip="mako")),
             version=lambda: _version("pyopencl"), device=DEVICE),
    lab.Impl("clblast", "CLBlast (Debian libclblast1) GEMM, omatcopy, sum and copy on the "
             "same device", load=_clblast,
             requires=(*OPENCL, lab.SharedLibrary("clblast", apt="libclblast1")), device=DEVICE),
)

SYSTEM = lab.System(
    name="gpu",
    shape="opencl",
    description="OpenCL compute driver (buffer pool, queues, reduction, scan, histogram, "
                "transpose, SGEMM) and AVX2 kernels vs NumPy, PyOpenCL and CLBlast",
    impls=IMPLS,
    workloads=WORKLOADS,
    baseline="numpy",
    recipes=(lab.CffiLib("avx2", sources=("avx2/*.c",), header="avx2/gpu_avx2.h",
                         cflags=("-mavx2", "-mfma"), libraries=("pthread",)),),
    requires=(lab.Command("cc", apt="gcc"), lab.AptPackage("python3-dev")),
    offers=("bench", "fuzz"),
    fuzz_targets=FUZZ_TARGETS,
)


@lab.hookimpl
def lab_register_systems() -> list[lab.System]:
    return [SYSTEM]


@lab.hookimpl
def lab_fingerprint_extra(system: lab.System | None) -> dict[str, Any] | None:
    """The OpenCL device and the library versions: figures from another device or driver
    are not comparable."""
    if system is None or system.name != "gpu":
        return None
    from plugins.gpu.requirements import opencl_problem

    info: dict[str, Any] = {"versions": {i.name: i.version() for i in IMPLS
                                         if i.version is not None}}
    if opencl_problem() is None:
        try:
            from plugins.gpu.cl import describe, select_device

            info["device"] = describe(select_device())
        except Exception as exc:  # noqa: BLE001 - a bad $LAB_GPU_DEVICE: say so, don't fail
            info["device"] = f"unavailable: {str(exc).splitlines()[0]}"
    return {"gpu": info}

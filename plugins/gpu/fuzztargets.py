"""The gpu fuzz targets as the plugin registers them: declarations only.

Registering the plugin happens in every ``lab`` command and every bench process (under
callgrind too), so this module imports nothing heavy; a target's programs, model and runners
(:mod:`plugins.gpu.fuzzing`, with NumPy) are imported when the target is loaded.
"""

from __future__ import annotations

from collections.abc import Callable

import lab
from lab.fuzz.programs import Outcome, no_violation


def _load_opencl(ctx: lab.LoadContext) -> Callable[[bytes], Outcome]:
    from plugins.gpu.fuzzing import load_opencl

    return load_opencl(ctx)


def _load_avx2(ctx: lab.LoadContext) -> Callable[[bytes], Outcome]:
    from plugins.gpu.fuzzing import load_avx2

    return load_avx2(ctx)


FUZZ_TARGETS = (
    lab.FuzzTarget("opencl", "our OpenCL driver: programs of calls with hostile sizes, "
                   "types, shapes and bin counts against the contract and NumPy",
                   load=_load_opencl, invariants=(no_violation,), max_len=512, native=False,
                   python_coverage=("plugins.gpu.cl", "plugins.gpu.fuzzing")),
    lab.FuzzTarget("avx2", "our AVX2 core: programs of calls with hostile sizes, types, "
                   "shapes and bin counts against the contract and NumPy",
                   load=_load_avx2, invariants=(no_violation,), max_len=512, recipe="avx2"),
)

"""`lab fuzz gpu` on the committed seeds: the OpenCL driver target (guided by the Python
coverage of the driver) and the AVX2 target (native coverage) run clean."""

from __future__ import annotations

from labtest import assert_fuzz_runs_clean


def test_lab_fuzz_gpu_runs_both_targets_clean(run_lab) -> None:  # noqa: ANN001
    assert_fuzz_runs_clean(run_lab, "gpu", {"opencl", "avx2"})

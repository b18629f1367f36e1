"""The AVX2 kernels' tests again, on the ASan+UBSan build (``lab exec --flavor debug``): any
out-of-bounds access, misaligned access or undefined behaviour aborts the run and fails this
test; assertions are on in that build too."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.mark.skipif(os.environ.get("LAB_FLAVOR") == "debug", reason="already sanitized")
def test_avx2_suite_passes_under_asan_and_ubsan(lab_env: dict) -> None:
    files = [str(p) for p in sorted(HERE.glob("test_avx2_*.py")) if p.name != Path(__file__).name]
    env = {**os.environ, **lab_env}
    proc = subprocess.run(
        [sys.executable, "-m", "lab.cli", "exec", "--flavor", "debug", "--", sys.executable,
         "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *files],
        capture_output=True, text=True, env=env, timeout=600, cwd=HERE.parents[2])
    tail = (proc.stdout + proc.stderr)[-3000:]
    assert proc.returncode == 0, tail
    assert "ERROR: AddressSanitizer" not in tail and "runtime error:" not in tail
    assert " passed" in proc.stdout and " skipped" not in proc.stdout, tail

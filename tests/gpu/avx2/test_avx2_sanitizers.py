"""The AVX2 kernels' tests again, on the ASan+UBSan build (``lab exec --flavor debug``): any
out-of-bounds access, misaligned access or undefined behaviour aborts the run and fails this
test; assertions are on in that build too."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from labtest import assert_passes_under_sanitizers

HERE = Path(__file__).resolve().parent


@pytest.mark.skipif(os.environ.get("LAB_FLAVOR") == "debug", reason="already sanitized")
def test_avx2_suite_passes_under_asan_and_ubsan(lab_env: dict) -> None:
    assert_passes_under_sanitizers(
        (p for p in sorted(HERE.glob("test_avx2_*.py")) if p.name != Path(__file__).name),
        lab_env, timeout=600, skips=False)
